#include "registry_client.h"

#include <gtest/gtest.h>

namespace wandb_job {
namespace {

// Answers every request with a canned response and records what was asked.
class CannedTransport : public HttpTransport {
 public:
  std::vector<HttpResponse> replies;
  std::vector<HttpRequest> requests;
  bool Send(const HttpRequest& request, HttpResponse* response, std::string* err) override {
    requests.push_back(request);
    if (replies.empty()) {
      *err = "no reply";
      return false;
    }
    *response = replies.front();
    replies.erase(replies.begin());
    return true;
  }
};

HttpResponse Reply(long status, HttpHeaders headers = {}, std::string body = "") {
  HttpResponse r;
  r.status = status;
  r.headers = std::move(headers);
  r.body = std::move(body);
  return r;
}

TEST(RegistryClient, PlainHttpOnlyForLocalhost) {
  EXPECT_TRUE(UsesPlainHttp("localhost:5000", PlainHttp::kLocalhostOnly));
  EXPECT_TRUE(UsesPlainHttp("127.0.0.1:1", PlainHttp::kLocalhostOnly));
  EXPECT_FALSE(UsesPlainHttp("ghcr.io", PlainHttp::kLocalhostOnly));
  EXPECT_TRUE(UsesPlainHttp("ghcr.io", PlainHttp::kAllowed));
  ImageReference ref;
  std::string err;
  ASSERT_TRUE(ParseImageReference("ghcr.io/o/r:v1", &ref, &err));
  CannedTransport t;
  RegistryClient c(ref, &t, PlainHttp::kLocalhostOnly);
  EXPECT_EQ(c.BaseUrl(), "https://ghcr.io/v2/o/r");
}

TEST(RegistryClient, BearerTokenFlow) {
  ImageReference ref;
  std::string err;
  ASSERT_TRUE(ParseImageReference("reg.io/team/app", &ref, &err));
  CannedTransport t;
  RegistryClient c(ref, &t, PlainHttp::kLocalhostOnly);
  c.set_credentials(RegistryCredentials{"u", "p", ""});
  c.set_mount_sources({"base/img"});
  t.replies = {Reply(401, {{"WWW-Authenticate",
                            "Bearer realm=\"https://auth.io/token\",service=\"reg.io\""}}),
               Reply(200, {}, "{\"token\":\"T\"}"), Reply(404)};
  Descriptor blob{kOciLayerGzipMediaType, "sha256:" + std::string(64, 'a'), 1, {}, "", "", ""};
  bool exists = true;
  ASSERT_TRUE(c.BlobExists(blob, &exists, &err)) << err;
  EXPECT_FALSE(exists);
  ASSERT_EQ(t.requests.size(), 3u);
  EXPECT_EQ(t.requests[1].url,
            "https://auth.io/token?service=reg.io&scope=repository%3Ateam%2Fapp%3Apull%2Cpush"
            "&scope=repository%3Abase%2Fimg%3Apull");
  EXPECT_EQ(t.requests[1].headers[0].second, "Basic dTpw");
  EXPECT_EQ(t.requests[2].headers.back(),
            (std::pair<std::string, std::string>{"Authorization", "Bearer T"}));
}

TEST(RegistryClient, TokenAnswerOfWrongTypesIsNamed) {
  ImageReference ref;
  std::string err;
  ASSERT_TRUE(ParseImageReference("reg.io/team/app", &ref, &err));
  Descriptor blob{kOciLayerGzipMediaType, "sha256:" + std::string(64, 'a'), 1, {}, "", "", ""};
  for (const auto& [body, message] : std::vector<std::pair<std::string, std::string>>{
           {R"({"token": 5})", "the token server's answer: field token must be a string"},
           {R"({"token": null, "access_token": ["T"]})",
            "the token server's answer: field access_token must be a string"},
           {R"(["T"])", "the token server's answer: the document must be a JSON object"},
           {"not json", "the token server's answer is not JSON"}}) {
    CannedTransport t;
    RegistryClient c(ref, &t, PlainHttp::kLocalhostOnly);
    t.replies = {Reply(401, {{"WWW-Authenticate",
                              "Bearer realm=\"https://auth.io/token\",service=\"reg.io\""}}),
                 Reply(200, {}, body)};
    bool exists = true;
    EXPECT_FALSE(c.BlobExists(blob, &exists, &err)) << body;
    EXPECT_NE(err.find(message), std::string::npos) << err;
  }
}

TEST(RegistryClient, Errors) {
  ImageReference ref;
  std::string err;
  ASSERT_TRUE(ParseImageReference("reg.io/app", &ref, &err));
  CannedTransport t;
  RegistryClient c(ref, &t, PlainHttp::kLocalhostOnly);
  c.set_credentials(RegistryCredentials());
  Descriptor blob{kOciLayerGzipMediaType, "sha256:" + std::string(64, 'a'), 1, {}, "", "", ""};
  bool exists;
  t.replies = {Reply(401, {{"WWW-Authenticate", "Basic realm=x"}})};
  EXPECT_FALSE(c.BlobExists(blob, &exists, &err));
  EXPECT_EQ(err, "authentication required: no credentials for reg.io (docker login reg.io)");
  t.replies = {Reply(500, {}, "{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"boom\"}]}")};
  EXPECT_FALSE(c.BlobExists(blob, &exists, &err));
  EXPECT_EQ(err, "HEAD blob " + blob.digest + ": http 500: unknown (boom)");
  t.replies = {Reply(201, {{"Docker-Content-Digest", "sha256:other"}})};
  EXPECT_FALSE(c.PutManifest("v1", kOciManifestMediaType, "{}", "sha256:mine", &err));
  EXPECT_EQ(err, "putting manifest v1: the registry stored sha256:other, not sha256:mine");
  t.replies = {Reply(202)};
  EXPECT_FALSE(c.UploadBlobBytes(blob, "x", &err));
  EXPECT_EQ(err, "starting upload: HTTP 202 without Location");
  PushOptions options;
  options.layout_dir = "/nonexistent";
  options.reference = "reg.io/app@sha256:" + std::string(64, 'b');
  PushResult result;
  EXPECT_FALSE(PushImage(options, &result, &err));
  EXPECT_EQ(err, "can't push to a digest reference (" + options.reference + "); name a tag");
}

}  // namespace
}  // namespace wandb_job
