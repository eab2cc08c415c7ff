#include "http.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <unistd.h>

namespace wandb_job {
namespace {

TEST(Http, ParseAuthChallenge) {
  std::string scheme;
  std::vector<std::pair<std::string, std::string>> params;
  ASSERT_TRUE(ParseAuthChallenge(
      "Bearer realm=\"https://auth.io/token\",service=\"reg\",scope=\"repository:a/b:pull,push\"",
      &scheme, &params));
  EXPECT_EQ(scheme, "bearer");
  ASSERT_EQ(params.size(), 3u);
  EXPECT_EQ(params[0], (std::pair<std::string, std::string>{"realm", "https://auth.io/token"}));
  EXPECT_EQ(params[2].second, "repository:a/b:pull,push");
  ASSERT_TRUE(ParseAuthChallenge("Basic realm=test", &scheme, &params));
  EXPECT_EQ(scheme, "basic");
  EXPECT_EQ(params[0].second, "test");
  EXPECT_FALSE(ParseAuthChallenge("Bearer realm=\"open", &scheme, &params));
  EXPECT_FALSE(ParseAuthChallenge("Bearer novalue", &scheme, &params));
  EXPECT_FALSE(ParseAuthChallenge("", &scheme, &params));
}

TEST(Http, Helpers) {
  EXPECT_EQ(UrlEncode("repository:a/b:pull,push"), "repository%3Aa%2Fb%3Apull%2Cpush");
  EXPECT_TRUE(HeaderNameEquals("www-authenticate", "WWW-Authenticate"));
  EXPECT_FALSE(HeaderNameEquals("Location", "Locations"));
  HttpResponse r;
  r.headers = {{"docker-content-digest", "sha256:x"}};
  EXPECT_EQ(r.Header("Docker-Content-Digest"), "sha256:x");
  EXPECT_EQ(r.Header("Location"), "");
}

TEST(Http, ConnectionRefusedIsAnError) {
  // A port that was just free: nothing listens there.
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&addr), len), 0);
  getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
  close(s);
  CurlTransport t;
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/v2/";
  HttpResponse resp;
  std::string err;
  EXPECT_FALSE(t.Send(req, &resp, &err));
  EXPECT_EQ(err.rfind("GET " + req.url + ": ", 0), 0u) << err;
  req.body_file = "/nonexistent/file";
  req.method = "PUT";
  EXPECT_FALSE(t.Send(req, &resp, &err));
  EXPECT_EQ(err, "opening /nonexistent/file: No such file or directory");
}

// A server that takes the connection (the kernel does) but never accepts it nor answers: the
// request ends after the timeouts of the environment, not never.
TEST(Http, ServerThatNeverAnswersTimesOut) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(listen(s, 0), 0);
  getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
  setenv("WANDB_JOB_CONNECT_TIMEOUT", "1", 1);
  setenv("WANDB_JOB_STALL_TIMEOUT", "1", 1);
  CurlTransport t;
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/graphql";
  HttpResponse resp;
  std::string err;
  EXPECT_FALSE(t.Send(req, &resp, &err));
  EXPECT_EQ(err.rfind("GET " + req.url + ": ", 0), 0u) << err;

  // A value that is no number of seconds is warned about once, and the default stays. The
  // listener's queue is full by now, so the connect timeout is what ends these.
  setenv("WANDB_JOB_STALL_TIMEOUT", "soon", 1);
  testing::internal::CaptureStderr();
  EXPECT_FALSE(t.Send(req, &resp, &err));
  EXPECT_FALSE(t.Send(req, &resp, &err));
  std::string warnings = testing::internal::GetCapturedStderr();
  EXPECT_EQ(warnings,
            "wandb-job: warning: WANDB_JOB_STALL_TIMEOUT 'soon' is not a whole number of "
            "seconds, 1 or more; using 120\n");
  unsetenv("WANDB_JOB_CONNECT_TIMEOUT");
  unsetenv("WANDB_JOB_STALL_TIMEOUT");
  close(s);
}

}  // namespace
}  // namespace wandb_job
