#include "wandb_sink.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "hash.h"
#include "test_util.h"
#include "wandb_test_util.h"

namespace wandb_job {
namespace {

using nlohmann::json;

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

// Files of equal content (equal MD5) in one artifact: one PUT, every path in the manifest, with
// the same birth artifact.
TEST(WandbSinkTest, IdenticalContentIsUploadedOnce) {
  ScriptedServer server;
  Harness h(
      [&](const HttpRequest& req, HttpResponse* r, std::string*) { return server.Handle(req, r); });
  ScopedTempDir dir;
  ArtifactUpload u = MakeUpload(dir, 2);
  for (const char* path : {"copy-a.txt", "sub/copy-b.txt"}) {
    std::string text = "content 0";  // f0.txt's
    WriteTestFile(dir.path(), path, text);
    u.manifest.Add(ManifestEntry{path, Md5Base64(text), text.size(), ""});
  }
  WandbSink sink(h.client.get());
  PublishedArtifact out;
  std::string err;
  ASSERT_TRUE(sink.Publish(u, &out, &err)) << err;
  EXPECT_EQ(server.puts.size(), 4u);  // f0 (once for three paths), f1, wandb-job.json, manifest
  EXPECT_EQ(sink.stats().files_uploaded, 3);
  EXPECT_EQ(sink.stats().files_deduplicated, 2);
  json manifest = json::parse(server.uploaded_manifest);
  for (const char* path : {"f0.txt", "copy-a.txt", "sub/copy-b.txt"}) {
    ASSERT_TRUE(manifest["contents"].contains(path)) << path;
    EXPECT_EQ(manifest["contents"][path]["digest"], Md5Base64("content 0")) << path;
  }
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

TEST(WandbSinkTest, RepliesOfWrongTypesAreNamedNotThrown) {
  struct Damage {
    const char* op;
    std::function<void(json*)> damage;
    const char* message;
  };
  std::vector<Damage> cases = {
      {"UpsertBucket", [](json* d) { (*d)["upsertBucket"]["bucket"] = nullptr; },
       "creating the run that owns the artifacts: UpsertBucket: field upsertBucket.bucket must "
       "be an object"},
      {"UpsertBucket", [](json* d) { (*d)["upsertBucket"]["bucket"]["id"] = 7; },
       "creating the run that owns the artifacts: UpsertBucket: field upsertBucket.bucket.id "
       "must be a string"},
      {"CreateArtifact", [](json* d) { (*d)["createArtifact"]["artifact"]["state"] = true; },
       "CreateArtifact: field createArtifact.artifact.state must be a string"},
      {"CreateArtifact",
       [](json* d) { (*d)["createArtifact"]["artifact"]["artifactSequence"] = "s"; },
       "CreateArtifact: field createArtifact.artifact.artifactSequence must be an object"},
      {"CreateArtifactFiles",
       [](json* d) { (*d)["createArtifactFiles"]["files"]["edges"][0]["node"]["uploadUrl"] = 5; },
       "CreateArtifactFiles: field createArtifactFiles.files.edges[0].node.uploadUrl must be a "
       "string"},
      {"CreateArtifactFiles",
       [](json* d) { (*d)["createArtifactFiles"]["files"]["edges"][1] = nullptr; },
       "CreateArtifactFiles: field createArtifactFiles.files.edges[1] must be an object"},
      {"CommitArtifact", [](json* d) { (*d)["commitArtifact"]["artifact"]["versionIndex"] = "3"; },
       "CommitArtifact: field commitArtifact.artifact.versionIndex must be an integer"},
      {"CommitArtifact", [](json* d) { (*d)["commitArtifact"]["artifact"]["aliases"] = nullptr; },
       ""},  // null aliases: none
  };
  for (const Damage& c : cases) {
    ScriptedServer server;
    Harness h([&](const HttpRequest& req, HttpResponse* r, std::string*) {
      bool ok = server.Handle(req, r);
      if (req.method == "POST" && req.url.find("/graphql") != std::string::npos &&
          json::parse(req.body)["operationName"] == c.op) {
        json reply = json::parse(r->body);
        c.damage(&reply["data"]);
        r->body = reply.dump();
      }
      return ok;
    });
    ScopedTempDir dir;
    ArtifactUpload u = MakeUpload(dir, 1);
    WandbSink sink(h.client.get());
    PublishedArtifact out;
    std::string err;
    bool published = sink.Publish(u, &out, &err);
    if (*c.message == '\0') {
      EXPECT_TRUE(published) << err;
      continue;
    }
    EXPECT_FALSE(published) << c.message;
    EXPECT_EQ(err, c.message);
  }
}

}  // namespace
}  // namespace wandb_job
