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

namespace wandb_job {
namespace {

using nlohmann::json;

const char kBase[] = "http://wandb.test:8080";
const std::string kKey(40, 'k');

HttpResponse Reply(long status, const std::string& body, HttpHeaders headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = body;
  r.headers = std::move(headers);
  return r;
}

bool HasHeader(const HttpRequest& r, const std::string& name, std::string* value = nullptr) {
  for (const auto& [k, v] : r.headers) {
    if (HeaderNameEquals(k, name)) {
      if (value != nullptr) {
        *value = v;
      }
      return true;
    }
  }
  return false;
}

struct Harness {
  explicit Harness(FakeTransport::Handler handler) : fake(std::move(handler)) {
    WandbClientOptions o;
    o.base_url = kBase;
    o.api_key = kKey;
    o.retry = RetryPolicy();
    o.progress = ProgressMode::kNone;
    o.make_transport = [this]() { return fake.Share(); };
    o.sleep = [this](double s) {
      std::lock_guard<std::mutex> lock(mu);
      sleeps.push_back(s);
    };
    client = std::make_unique<WandbClient>(std::move(o));
  }
  FakeTransport fake;
  std::mutex mu;
  std::vector<double> sleeps;
  std::unique_ptr<WandbClient> client;
};

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

// --- the publish flow against a scripted server -------------------------------------------------

// A tiny W&B: answers each GraphQL operation of the flow and records what it was sent.
struct ScriptedServer {
  std::mutex mu;
  std::string state = "PENDING";          // what createArtifact answers
  std::set<std::string> stored;           // md5s the server already has
  std::map<std::string, std::string> puts;  // url -> body
  std::vector<json> ops;                  // every GraphQL request body
  std::string uploaded_manifest;

  bool Handle(const HttpRequest& req, HttpResponse* r) {
    std::lock_guard<std::mutex> lock(mu);
    if (req.method == "PUT") {
      puts[req.url] = req.body;
      if (req.url.find("manifest") != std::string::npos) {
        uploaded_manifest = req.body;
      }
      *r = Reply(200, "");
      return true;
    }
    if (req.url.find("/file_stream") != std::string::npos) {
      ops.push_back({{"operationName", "file_stream"}, {"body", json::parse(req.body)}});
      *r = Reply(200, "{}");
      return true;
    }
    json body = json::parse(req.body);
    ops.push_back(body);
    std::string op = body["operationName"];
    const json& v = body["variables"];
    json data;
    if (op == "UpsertBucket") {
      data = {{"upsertBucket", {{"bucket", {{"id", "UnVuOjE="}, {"name", v["name"]}}}}}};
    } else if (op == "CreateArtifact") {
      data = {{"createArtifact",
               {{"artifact",
                 {{"id", "QXJ0aWZhY3Q6Nw=="},
                  {"state", state},
                  {"versionIndex", state == "COMMITTED" ? json(3) : json(nullptr)},
                  {"aliases", state == "COMMITTED"
                                  ? json::array({{{"alias", "latest"},
                                                  {"artifactCollectionName", "job-x"}}})
                                  : json::array()},
                  {"artifactSequence",
                   {{"id", "seq"}, {"latestArtifact", {{"id", "QmFzZQ=="}, {"versionIndex", 2}}}}}}}}}};
    } else if (op == "CreateArtifactManifest") {
      json file = {{"id", "f"}};
      if (v["includeUpload"].get<bool>()) {
        file["uploadUrl"] = "https://storage.example/manifest";
        file["uploadHeaders"] = {"Content-MD5:" + v["digest"].get<std::string>()};
      }
      data = {{"createArtifactManifest", {{"artifactManifest", {{"id", "M1"}, {"file", file}}}}}};
    } else if (op == "CreateArtifactFiles") {
      json edges = json::array();
      for (const json& spec : v["artifactFiles"]) {
        std::string md5 = spec["md5"];
        bool have = stored.count(md5) > 0;
        edges.push_back({{"node",
                          {{"name", spec["name"]},
                           {"uploadUrl", have ? json(nullptr)
                                              : json("https://storage.example/" +
                                                     spec["name"].get<std::string>())},
                           {"uploadHeaders", have ? json::array()
                                                  : json::array({"Content-MD5:" + md5,
                                                                 "X-Extra:  padded value "})},
                           {"artifact", {{"id", have ? "QmlydGg=" : "QXJ0aWZhY3Q6Nw=="}}}}}});
      }
      data = {{"createArtifactFiles", {{"files", {{"edges", edges}}}}}};
    } else if (op == "CommitArtifact") {
      data = {{"commitArtifact",
               {{"artifact",
                 {{"id", v["artifactID"]},
                  {"digest", "d"},
                  {"state", "COMMITTED"},
                  {"versionIndex", 3},
                  {"aliases", json::array({{{"alias", "latest"}, {"artifactCollectionName", "job-x"}},
                                           {{"alias", "nightly"}, {"artifactCollectionName", "job-x"}}})}}}}}};
    } else if (op == "AddAliases") {
      data = {{"addAliases", {{"success", true}}}};
    } else if (op == "DeleteRun") {
      data = {{"deleteRun", {{"clientMutationId", nullptr}}}};
    } else {
      *r = Reply(400, R"({"errors": [{"message": "unexpected operation"}]})");
      return true;
    }
    *r = Reply(200, json({{"data", data}}).dump());
    return true;
  }

  std::vector<json> Ops(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<json> out;
    for (const json& o : ops) {
      if (o["operationName"] == name) {
        out.push_back(o);
      }
    }
    return out;
  }
};

ArtifactUpload MakeUpload(const ScopedTempDir& dir, int files) {
  ArtifactUpload u;
  u.entity = "ent";
  u.project = "proj";
  u.type = "job";
  u.name = "job-x";
  u.description = "a job";
  u.metadata = R"({"_partial": true})";
  u.aliases = {"latest", "nightly"};
  u.files_dir = dir.path();
  for (int i = 0; i < files; ++i) {
    std::string path = "f" + std::to_string(i) + ".txt";
    std::string text = "content " + std::to_string(i);
    WriteTestFile(dir.path(), path, text);
    u.manifest.Add(ManifestEntry{path, Md5Base64(text), text.size(), ""});
  }
  std::string job = R"({"source_type": "repo"})";
  u.inline_files["wandb-job.json"] = job;
  u.manifest.Add(ManifestEntry{"wandb-job.json", Md5Base64(job), job.size(), ""});
  return u;
}

TEST(WandbSinkTest, PublishFlowAndRequestShapes) {
  ScriptedServer server;
  server.stored.insert(Md5Base64("content 1"));  // already on the server
  Harness h([&](const HttpRequest& req, HttpResponse* r, std::string*) {
    return server.Handle(req, r);
  });
  ScopedTempDir dir;
  ArtifactUpload u = MakeUpload(dir, 3);
  WandbSink sink(h.client.get());
  PublishedArtifact out;
  std::string err;
  ASSERT_TRUE(sink.Publish(u, &out, &err)) << err;
  EXPECT_TRUE(out.created);
  EXPECT_EQ(out.version_index, 3);
  EXPECT_EQ(out.id, "QXJ0aWZhY3Q6Nw==");
  EXPECT_EQ(out.digest, u.manifest.Digest());
  EXPECT_EQ(out.aliases, (std::vector<std::string>{"latest", "nightly"}));

  json bucket = server.Ops("UpsertBucket").at(0)["variables"];
  EXPECT_EQ(bucket["jobType"], "cli_create_job");
  EXPECT_EQ(bucket["entity"], "ent");
  EXPECT_EQ(bucket["project"], "proj");
  std::string run = bucket["name"];
  EXPECT_EQ(run.size(), 8u);

  json input = server.Ops("CreateArtifact").at(0)["variables"]["input"];
  EXPECT_EQ(input["entityName"], "ent");
  EXPECT_EQ(input["projectName"], "proj");
  EXPECT_EQ(input["artifactTypeName"], "job");
  EXPECT_EQ(input["artifactCollectionNames"], json::array({"job-x"}));
  EXPECT_EQ(input["runName"], run);
  EXPECT_EQ(input["digest"], u.manifest.Digest());
  EXPECT_EQ(input["digestAlgorithm"], "MANIFEST_MD5");
  EXPECT_EQ(input["enableDigestDeduplication"], true);
  EXPECT_EQ(input["description"], "a job");
  EXPECT_EQ(input["metadata"], R"({"_partial": true})");
  EXPECT_EQ(input["aliases"],
            json::parse(R"([{"artifactCollectionName": "job-x", "alias": "latest"},
                            {"artifactCollectionName": "job-x", "alias": "nightly"}])"));
  EXPECT_EQ(input["clientID"].get<std::string>().size(), 128u);
  EXPECT_EQ(input["sequenceClientID"].get<std::string>().size(), 128u);
  EXPECT_NE(input["clientID"], input["sequenceClientID"]);

  std::vector<json> manifests = server.Ops("CreateArtifactManifest");
  ASSERT_EQ(manifests.size(), 2u);
  EXPECT_EQ(manifests[0]["variables"]["digest"], "");
  EXPECT_EQ(manifests[0]["variables"]["includeUpload"], false);
  EXPECT_EQ(manifests[0]["variables"]["manifestType"], "FULL");
  EXPECT_EQ(manifests[0]["variables"]["baseArtifactID"], "QmFzZQ==");
  EXPECT_EQ(manifests[0]["variables"]["runName"], run);
  EXPECT_EQ(manifests[1]["variables"]["includeUpload"], true);
  EXPECT_EQ(manifests[1]["variables"]["digest"], Md5Base64(server.uploaded_manifest));

  json files = server.Ops("CreateArtifactFiles").at(0)["variables"];
  EXPECT_EQ(files["storageLayout"], "V2");
  ASSERT_EQ(files["artifactFiles"].size(), 4u);
  EXPECT_EQ(files["artifactFiles"][0],
            json({{"artifactID", "QXJ0aWZhY3Q6Nw=="}, {"artifactManifestID", "M1"},
                  {"name", "f0.txt"}, {"md5", Md5Base64("content 0")}}));

  // Uploaded: f0, f2 and the inline wandb-job.json, not f1 (stored); then the manifest.
  EXPECT_EQ(server.puts.size(), 4u);
  EXPECT_EQ(server.puts.count("https://storage.example/f1.txt"), 0u);
  EXPECT_EQ(server.puts["https://storage.example/f2.txt"], "content 2");
  EXPECT_EQ(server.puts["https://storage.example/wandb-job.json"], R"({"source_type": "repo"})");
  for (const HttpRequest& r : h.fake.requests()) {
    if (r.method == "PUT") {
      EXPECT_FALSE(HasHeader(r, "Authorization")) << r.url;
      std::string md5, extra;
      ASSERT_TRUE(HasHeader(r, "Content-MD5", &md5)) << r.url;
      EXPECT_EQ(md5, Md5Base64(r.body));
      if (r.url.find("manifest") == std::string::npos) {
        ASSERT_TRUE(HasHeader(r, "X-Extra", &extra));
        EXPECT_EQ(extra, "padded value");
      }
    }
  }
  ArtifactManifest m;
  ASSERT_TRUE(ArtifactManifest::FromJson(server.uploaded_manifest, &m, &err)) << err;
  EXPECT_EQ(m.Find("f1.txt")->birth_artifact_id, "QmlydGg=");
  EXPECT_EQ(m.Find("f0.txt")->birth_artifact_id, "QXJ0aWZhY3Q6Nw==");
  EXPECT_EQ(m.Digest(), u.manifest.Digest());
  EXPECT_EQ(server.Ops("CommitArtifact").size(), 1u);
  EXPECT_EQ(server.Ops("AddAliases").size(), 0u);
  EXPECT_EQ(sink.stats().files_uploaded, 3);
  EXPECT_EQ(sink.stats().files_skipped, 1);

  // A second artifact in the same project reuses the run; Finish completes and deletes it.
  ASSERT_TRUE(sink.Publish(u, &out, &err)) << err;
  EXPECT_EQ(server.Ops("UpsertBucket").size(), 1u);
  ASSERT_TRUE(sink.Finish(&err)) << err;
  std::vector<json> streams = server.Ops("file_stream");
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0]["body"], json::parse(R"({"complete": true, "exitcode": 0})"));
  EXPECT_EQ(server.Ops("DeleteRun").at(0)["variables"]["id"], "UnVuOjE=");
}

TEST(WandbSinkTest, CommittedMeansNothingUploadedAndAliasesAdded) {
  ScriptedServer server;
  server.state = "COMMITTED";
  Harness h([&](const HttpRequest& req, HttpResponse* r, std::string*) {
    return server.Handle(req, r);
  });
  ScopedTempDir dir;
  ArtifactUpload u = MakeUpload(dir, 2);
  WandbSink sink(h.client.get());
  PublishedArtifact out;
  std::string err;
  ASSERT_TRUE(sink.Publish(u, &out, &err)) << err;
  EXPECT_FALSE(out.created);
  EXPECT_EQ(out.version_index, 3);
  EXPECT_EQ(out.aliases, (std::vector<std::string>{"latest", "nightly"}));
  EXPECT_TRUE(server.puts.empty());
  EXPECT_TRUE(server.Ops("CreateArtifactFiles").empty());
  EXPECT_TRUE(server.Ops("CommitArtifact").empty());
  json added = server.Ops("AddAliases").at(0)["variables"]["aliases"];
  EXPECT_EQ(added, json::parse(R"([{"alias": "nightly", "artifactCollectionName": "job-x",
                                    "entityName": "ent", "projectName": "proj"}])"));
}

TEST(WandbSinkTest, ChangedBundleFileIsRefusedBeforeAnythingIsSent) {
  ScriptedServer server;
  Harness h([&](const HttpRequest& req, HttpResponse* r, std::string*) {
    return server.Handle(req, r);
  });
  ScopedTempDir dir;
  ArtifactUpload u = MakeUpload(dir, 2);
  WriteTestFile(dir.path(), "f1.txt", "tampered");
  WandbSink sink(h.client.get());
  PublishedArtifact out;
  std::string err;
  EXPECT_FALSE(sink.Publish(u, &out, &err));
  EXPECT_EQ(err, dir.Join("f1.txt") + " changed after the bundle was made; rebuild the bundle");
  EXPECT_TRUE(h.fake.requests().empty());
}

TEST(WandbSinkTest, ManyFilesUploadInParallelEachOnce) {
  ScriptedServer server;
  std::atomic<int> in_flight{0}, max_in_flight{0};
  Harness h([&](const HttpRequest& req, HttpResponse* r, std::string*) {
    if (req.method == "PUT") {
      int n = ++in_flight;
      int seen = max_in_flight;
      while (n > seen && !max_in_flight.compare_exchange_weak(seen, n)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      --in_flight;
    }
    return server.Handle(req, r);
  });
  ScopedTempDir dir;
  ArtifactUpload u = MakeUpload(dir, 40);
  WandbSink sink(h.client.get());
  PublishedArtifact out;
  std::string err;
  ASSERT_TRUE(sink.Publish(u, &out, &err)) << err;
  EXPECT_EQ(server.puts.size(), 42u);  // 40 files, wandb-job.json, the manifest
  EXPECT_GT(max_in_flight.load(), 1);
  EXPECT_LE(max_in_flight.load(), 8);
}

TEST(WandbSinkTest, UploadFailureStopsThePublish) {
  ScriptedServer server;
  Harness h([&](const HttpRequest& req, HttpResponse* r, std::string*) {
    if (req.method == "PUT" && req.url.find("f1.txt") != std::string::npos) {
      *r = Reply(403, "signature expired");
      return true;
    }
    return server.Handle(req, r);
  });
  ScopedTempDir dir;
  ArtifactUpload u = MakeUpload(dir, 3);
  WandbSink sink(h.client.get());
  PublishedArtifact out;
  std::string err;
  EXPECT_FALSE(sink.Publish(u, &out, &err));
  EXPECT_EQ(err, "uploading f1.txt: HTTP 403: signature expired");
  EXPECT_TRUE(server.Ops("CommitArtifact").empty());
}

TEST(WandbSinkTest, MismatchedFileEdgesAreAnError) {
  ScriptedServer server;
  Harness h([&](const HttpRequest& req, HttpResponse* r, std::string*) {
    bool ok = server.Handle(req, r);
    if (req.body.find("CreateArtifactFiles") != std::string::npos) {
      r->body = R"({"data": {"createArtifactFiles": {"files": {"edges": []}}}})";
    }
    return ok;
  });
  ScopedTempDir dir;
  ArtifactUpload u = MakeUpload(dir, 1);
  WandbSink sink(h.client.get());
  PublishedArtifact out;
  std::string err;
  EXPECT_FALSE(sink.Publish(u, &out, &err));
  EXPECT_EQ(err, "createArtifactFiles: the server answered 0 files for 2");
}

}  // namespace
}  // namespace wandb_job
