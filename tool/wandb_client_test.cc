#include "wandb_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "hash.h"
#include "test_util.h"
#include "wandb_credentials.h"
#include "wandb_test_util.h"

namespace wandb_job {
namespace {

using nlohmann::json;

// --- policy ---------------------------------------------------------------------------------

TEST(WandbClientTest, RetryableStatuses) {
  for (long s : {400, 401, 403, 404, 409, 410, 413, 422, 501}) {
    EXPECT_FALSE(IsRetryableStatus(s, RequestKind::kGraphql)) << s;
  }
  for (long s : {0, 408, 429, 500, 502, 503, 504, 600}) {
    EXPECT_TRUE(IsRetryableStatus(s, RequestKind::kGraphql)) << s;
  }
  EXPECT_TRUE(IsRetryableStatus(409, RequestKind::kUpsertBucket));
  EXPECT_FALSE(IsRetryableStatus(400, RequestKind::kUpsertBucket));
  EXPECT_TRUE(IsRetryableStatus(429, RequestKind::kUpload));
  EXPECT_TRUE(IsRetryableStatus(503, RequestKind::kUpload));
  EXPECT_FALSE(IsRetryableStatus(501, RequestKind::kUpload));
  EXPECT_FALSE(IsRetryableStatus(408, RequestKind::kUpload));
  EXPECT_FALSE(IsRetryableStatus(403, RequestKind::kUpload));
}

TEST(WandbClientTest, Backoff) {
  RetryPolicy p;
  EXPECT_DOUBLE_EQ(BackoffSeconds(p, 0, 1.0), 2);
  EXPECT_DOUBLE_EQ(BackoffSeconds(p, 1, 1.0), 4);
  EXPECT_DOUBLE_EQ(BackoffSeconds(p, 4, 1.0), 32);
  EXPECT_DOUBLE_EQ(BackoffSeconds(p, 4, 1.25), 40);
  EXPECT_DOUBLE_EQ(BackoffSeconds(p, 5, 1.0), 60);
  EXPECT_DOUBLE_EQ(BackoffSeconds(p, 1000, 1.25), 60);
  p.base_seconds = 0.01;
  EXPECT_DOUBLE_EQ(BackoffSeconds(p, 2, 1.0), 0.04);
}

TEST(WandbClientTest, RetryAfter) {
  double s = 0;
  ASSERT_TRUE(ParseRetryAfter("7", 0, &s));
  EXPECT_DOUBLE_EQ(s, 7);
  ASSERT_TRUE(ParseRetryAfter("3600", 0, &s));  // not capped
  EXPECT_DOUBLE_EQ(s, 3600);
  // Sun, 06 Nov 1994 08:49:37 GMT is 784111777.
  ASSERT_TRUE(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", 784111770, &s));
  EXPECT_DOUBLE_EQ(s, 7);
  ASSERT_TRUE(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", 784111800, &s));
  EXPECT_DOUBLE_EQ(s, 0);
  EXPECT_FALSE(ParseRetryAfter("", 0, &s));
  EXPECT_FALSE(ParseRetryAfter("soon", 0, &s));
  EXPECT_FALSE(ParseRetryAfter("-1", 0, &s));
}

TEST(WandbClientTest, UnderBaseUrl) {
  EXPECT_TRUE(IsUnderBaseUrl("https://api.wandb.ai/graphql", "https://api.wandb.ai"));
  EXPECT_TRUE(IsUnderBaseUrl("https://API.wandb.ai", "https://api.wandb.ai"));
  EXPECT_TRUE(IsUnderBaseUrl("http://h:1/p/files?x", "http://h:1/p"));
  EXPECT_FALSE(IsUnderBaseUrl("http://h:1/px/files", "http://h:1/p"));
  EXPECT_FALSE(IsUnderBaseUrl("http://h:1/P/files", "http://h:1/p"));
  EXPECT_FALSE(IsUnderBaseUrl("https://api.wandb.ai.evil.example/graphql", "https://api.wandb.ai"));
  EXPECT_FALSE(IsUnderBaseUrl("https://api.wandb.ai:444/graphql", "https://api.wandb.ai"));
  EXPECT_FALSE(IsUnderBaseUrl("http://api.wandb.ai/graphql", "https://api.wandb.ai"));
  EXPECT_FALSE(IsUnderBaseUrl("https://storage.googleapis.com/x", "https://api.wandb.ai"));
}

TEST(WandbClientTest, RandomIds) {
  std::string a = RandomId(128, false);
  std::string b = RandomId(128, false);
  EXPECT_EQ(a.size(), 128u);
  EXPECT_NE(a, b);
  for (char c : a) {
    EXPECT_TRUE(isalnum(static_cast<unsigned char>(c))) << c;
  }
  for (char c : RandomId(64, true)) {
    EXPECT_TRUE(islower(static_cast<unsigned char>(c)) || isdigit(static_cast<unsigned char>(c)));
  }
}

// --- Send and GraphQL -------------------------------------------------------------------------

TEST(WandbClientTest, RetriesWithBackoffThenSucceeds) {
  std::atomic<int> calls{0};
  Harness h([&](const HttpRequest&, HttpResponse* r, std::string* err) {
    int n = calls++;
    if (n == 0) {
      *err = "connection reset by peer";
      return false;
    }
    *r = n == 1 ? Reply(503, "busy") : Reply(200, R"({"data": {"viewer": {"entity": "me"}}})");
    return true;
  });
  std::string entity, err;
  ASSERT_TRUE(h.client->ViewerEntity(&entity, &err)) << err;
  EXPECT_EQ(entity, "me");
  ASSERT_EQ(h.sleeps.size(), 2u);
  EXPECT_GE(h.sleeps[0], 2.0);
  EXPECT_LE(h.sleeps[0], 2.5);
  EXPECT_GE(h.sleeps[1], 4.0);
  EXPECT_LE(h.sleeps[1], 5.0);
}

TEST(WandbClientTest, RetryAfterIsObeyedExactly) {
  std::atomic<int> calls{0};
  Harness h([&](const HttpRequest&, HttpResponse* r, std::string*) {
    *r = calls++ == 0 ? Reply(429, "slow down", {{"retry-after", "7"}})
                      : Reply(200, R"({"data": {"viewer": {"entity": "me"}}})");
    return true;
  });
  std::string entity, err;
  ASSERT_TRUE(h.client->ViewerEntity(&entity, &err)) << err;
  EXPECT_EQ(h.sleeps, std::vector<double>{7});
}

TEST(WandbClientTest, GivesUpAfterMaxRetries) {
  Harness h([&](const HttpRequest&, HttpResponse* r, std::string*) {
    *r = Reply(500, "oops");
    return true;
  });
  std::string entity, err;
  EXPECT_FALSE(h.client->ViewerEntity(&entity, &err));
  EXPECT_EQ(h.fake.requests().size(), 21u);
  EXPECT_EQ(err, "Viewer: HTTP 500: oops (gave up after 21 attempts)");
  EXPECT_DOUBLE_EQ(h.sleeps.back(), 60);  // capped, even with jitter
}

TEST(WandbClientTest, NoRetryOnClientErrors) {
  for (long status : {400, 404, 409, 410, 413, 422, 501}) {
    Harness h([&](const HttpRequest&, HttpResponse* r, std::string*) {
      *r = Reply(status, R"({"errors": [{"message": "nope"}]})");
      return true;
    });
    std::string entity, err;
    EXPECT_FALSE(h.client->ViewerEntity(&entity, &err));
    EXPECT_EQ(h.fake.requests().size(), 1u) << status;
    EXPECT_EQ(err, "Viewer: HTTP " + std::to_string(status) + ": nope");
  }
}

TEST(WandbClientTest, RejectedKeyIsOneClearLine) {
  for (long status : {401, 403}) {
    Harness h([&](const HttpRequest&, HttpResponse* r, std::string*) {
      *r = Reply(status, "denied");
      return true;
    });
    std::string entity, err;
    EXPECT_FALSE(h.client->ViewerEntity(&entity, &err));
    EXPECT_EQ(err, "W&B rejected the API key (HTTP " + std::to_string(status) +
                       "); check WANDB_API_KEY or ~/.netrc");
    EXPECT_EQ(err.find(kKey), std::string::npos);
  }
}

TEST(WandbClientTest, GraphqlErrorsAreNotRetriedAndNameTheOperation) {
  Harness h([&](const HttpRequest&, HttpResponse* r, std::string*) {
    *r = Reply(200, R"({"data": null, "errors": [{"message": "a"}, {"message": "b"}]})");
    return true;
  });
  std::string data, err;
  EXPECT_FALSE(h.client->Graphql("CreateArtifact", "mutation CreateArtifact { x }", "{}", &data,
                                 &err));
  EXPECT_EQ(err, "CreateArtifact: a; b");
  EXPECT_EQ(h.fake.requests().size(), 1u);
}

TEST(WandbClientTest, GraphqlRequestShape) {
  Harness h([&](const HttpRequest&, HttpResponse* r, std::string*) {
    *r = Reply(200, R"({"data": {"ok": true}})");
    return true;
  });
  std::string data, err;
  ASSERT_TRUE(h.client->Graphql("Op", "query Op { ok }", R"({"a": 1})", &data, &err)) << err;
  EXPECT_EQ(json::parse(data), json::parse(R"({"ok": true})"));
  HttpRequest r = h.fake.requests().at(0);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, std::string(kBase) + "/graphql");
  std::string auth, type;
  ASSERT_TRUE(HasHeader(r, "Authorization", &auth));
  EXPECT_EQ(auth, WandbAuthorization(kKey));
  ASSERT_TRUE(HasHeader(r, "Content-Type", &type));
  EXPECT_EQ(type, "application/json");
  json body = json::parse(r.body);
  EXPECT_EQ(body["query"], "query Op { ok }");
  EXPECT_EQ(body["operationName"], "Op");
  EXPECT_EQ(body["variables"], json::parse(R"({"a": 1})"));
}

TEST(WandbClientTest, KeyOnlyForUrlsUnderTheBaseUrl) {
  Harness h([&](const HttpRequest&, HttpResponse* r, std::string*) {
    *r = Reply(200, "");
    return true;
  });
  HttpResponse resp;
  std::string err;
  HttpRequest r;
  r.url = "https://storage.example/blob";
  ASSERT_TRUE(h.client->Send(nullptr, r, RequestKind::kDownload, "get", &resp, &err)) << err;
  r.url = std::string(kBase) + "/storage/upload/1";  // presigned, even under the base URL
  r.method = "PUT";
  ASSERT_TRUE(h.client->Send(nullptr, r, RequestKind::kUpload, "put", &resp, &err)) << err;
  r.url = std::string(kBase) + "/files/e/p/r/file_stream";
  r.method = "POST";
  ASSERT_TRUE(h.client->Send(nullptr, r, RequestKind::kFileStream, "fs", &resp, &err)) << err;
  std::vector<HttpRequest> sent = h.fake.requests();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_FALSE(HasHeader(sent[0], "Authorization"));
  EXPECT_FALSE(HasHeader(sent[1], "Authorization"));
  EXPECT_TRUE(HasHeader(sent[2], "Authorization"));
}

TEST(WandbClientTest, TellsMutationsFromQueries) {
  EXPECT_FALSE(IsGraphqlMutation("query Op { a(x: \"mutation\") { b } }"));
  EXPECT_FALSE(IsGraphqlMutation("{ mutation }"));
  EXPECT_FALSE(IsGraphqlMutation("# mutation\nquery Q($a: [String]) { a } fragment F on T { b }"));
  EXPECT_TRUE(IsGraphqlMutation("mutation CreateArtifact { createArtifact { id } }"));
  EXPECT_TRUE(IsGraphqlMutation("  \n mutation{x}"));
  EXPECT_TRUE(IsGraphqlMutation("query A { a } mutation B { b }"));
  EXPECT_TRUE(IsGraphqlMutation("subscription S { s }"));
  EXPECT_TRUE(IsGraphqlMutation(""));           // nothing readable: not known to be a query
  EXPECT_TRUE(IsGraphqlMutation("query { a"));  // unbalanced
  EXPECT_TRUE(IsGraphqlMutation("} mutation M { m } {"));
}

// --dry-run's client: nothing that writes reaches the transport, whatever the caller asks.
TEST(WandbClientTest, ReadOnlyClientSendsNoWrite) {
  FakeTransport fake([](const HttpRequest&, HttpResponse* r, std::string*) {
    *r = Reply(200, R"({"data": {"ok": true}})");
    return true;
  });
  WandbClientOptions o;
  o.base_url = kBase;
  o.api_key = kKey;
  o.retry = RetryPolicy();
  o.progress = ProgressMode::kNone;
  o.make_transport = [&fake]() { return fake.Share(); };
  o.read_only = true;
  WandbClient client(std::move(o));
  std::string data, err;
  EXPECT_FALSE(client.Graphql("CreateArtifact", "mutation CreateArtifact { createArtifact { id } }",
                              "{}", &data, &err));
  EXPECT_EQ(err, "CreateArtifact: refused, nothing may be written to W&B in a dry run");
  EXPECT_FALSE(client.Graphql("UpsertBucket", "query UpsertBucket { ok }", "{}", &data, &err,
                              RequestKind::kUpsertBucket));
  HttpRequest put;
  put.method = "PUT";
  put.url = "https://storage.example/blob";
  HttpResponse resp;
  EXPECT_FALSE(client.Send(nullptr, put, RequestKind::kUpload, "uploading a", &resp, &err));
  EXPECT_EQ(err, "uploading a: refused, nothing may be written to W&B in a dry run");
  HttpRequest stream;
  stream.method = "POST";
  stream.url = std::string(kBase) + "/files/e/p/r/file_stream";
  EXPECT_FALSE(client.Send(nullptr, stream, RequestKind::kFileStream, "fs", &resp, &err));
  EXPECT_TRUE(fake.requests().empty());
  // Reading still works.
  ASSERT_TRUE(client.Graphql("Op", "query Op { ok }", "{}", &data, &err)) << err;
  HttpRequest get;
  get.url = "https://storage.example/blob";
  ASSERT_TRUE(client.Send(nullptr, get, RequestKind::kDownload, "get", &resp, &err)) << err;
  EXPECT_EQ(fake.requests().size(), 2u);
}

TEST(WandbClientTest, UploadsRetryOnlyThrottlingAndServerErrors) {
  std::atomic<int> calls{0};
  Harness h([&](const HttpRequest&, HttpResponse* r, std::string*) {
    *r = calls++ == 0 ? Reply(503, "") : Reply(400, "bad digest");
    return true;
  });
  HttpRequest r;
  r.method = "PUT";
  r.url = "https://storage.example/blob";
  HttpResponse resp;
  std::string err;
  EXPECT_FALSE(h.client->Send(nullptr, r, RequestKind::kUpload, "uploading a", &resp, &err));
  EXPECT_EQ(err, "uploading a: HTTP 400: bad digest");
  EXPECT_EQ(calls, 2);
}

TEST(WandbClientTest, PresignedQueryStringsStayOutOfMessages) {
  Harness h([&](const HttpRequest& req, HttpResponse*, std::string* err) {
    *err = "PUT " + req.url + ": connection refused";
    return false;
  });
  HttpRequest r;
  r.method = "PUT";
  r.url = "https://storage.example/blob?X-Amz-Signature=secret";
  HttpResponse resp;
  std::string err;
  EXPECT_FALSE(h.client->Send(nullptr, r, RequestKind::kUpload, "uploading a", &resp, &err));
  EXPECT_EQ(err, "uploading a: PUT https://storage.example/blob?...: connection refused "
                 "(gave up after 21 attempts)");
}

}  // namespace
}  // namespace wandb_job
