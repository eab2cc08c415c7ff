#include "publish.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "elf_closure.h"
#include "file_util.h"
#include "hash.h"
#include "image_builder.h"
#include "test_util.h"

namespace wandb_job {
namespace {

// Records what would be published.
class RecordingSink : public ArtifactSink {
 public:
  std::vector<ArtifactUpload> uploads;
  std::string Destination() const override { return "recording sink"; }
  bool DefaultEntity(std::string* entity, std::string* err) override {
    *entity = "me";
    return true;
  }
  bool Publish(const ArtifactUpload& upload, PublishedArtifact* out, std::string* err) override {
    uploads.push_back(upload);
    out->id = "id-" + upload.name;
    out->version_index = 0;
    out->created = true;
    out->aliases = upload.aliases;
    return true;
  }
};

// A registry in memory behind a FakeTransport: blobs by digest, manifests by tag.
struct FakeRegistry {
  std::set<std::string> blobs;
  std::map<std::string, std::string> manifests;
  bool require_auth = false;
  int uploads = 0;

  bool Handle(const HttpRequest& req, HttpResponse* resp) {
    if (require_auth) {
      resp->status = 401;
      resp->headers = {{"WWW-Authenticate", "Basic realm=\"test\""}};
      resp->body = R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})";
      return true;
    }
    std::string path = req.url.substr(req.url.find("/v2/"));
    std::string query;
    if (size_t q = path.find('?'); q != std::string::npos) {
      query = path.substr(q + 1);
      path = path.substr(0, q);
    }
    if (req.method == "HEAD" && path.find("/blobs/") != std::string::npos) {
      resp->status = blobs.count(path.substr(path.rfind('/') + 1)) != 0 ? 200 : 404;
    } else if (req.method == "POST") {
      resp->status = 202;
      resp->headers = {{"Location", path + "u" + std::to_string(++uploads)}};
    } else if (req.method == "PUT" && path.find("/blobs/uploads/") != std::string::npos) {
      std::string digest = query.substr(query.find("digest=") + 7);
      for (size_t p; (p = digest.find("%3A")) != std::string::npos;) {
        digest.replace(p, 3, ":");
      }
      blobs.insert(digest);
      resp->status = 201;
    } else if (req.method == "PUT" && path.find("/manifests/") != std::string::npos) {
      manifests[path.substr(path.rfind('/') + 1)] = req.body;
      resp->status = 201;
      resp->headers = {{"Docker-Content-Digest", "sha256:" + Sha256Hex(req.body)}};
    } else {
      resp->status = 404;
    }
    return true;
  }
};

class PublishImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("WANDB_JOB_INSECURE_REGISTRIES");
    bundle_.dir = dir_.Join("bundle");
    bundle_.source_type = "image";
    bundle_.entity = "team";
    bundle_.project = "proj";
    bundle_.image = "localhost:5000/acme/train:1.0";
    bundle_.job.type = "job";
    bundle_.job.name = "job-localhost_5000_acme_train";
    bundle_.job.aliases = {"stable", "1.0", "-bad", "latest"};
    bundle_.job.files_dir = dir_.Join("bundle/job");
    BundleImageInput in;
    in.target = "true";
    in.target_file = "/bin/true";
    in.image = bundle_.image;
    in.created = 1700000000;
    std::string err;
    ASSERT_TRUE(ResolveRuntimeClosure("/bin/true", ClosureOptions{}, &in.closure, &err)) << err;
    ASSERT_TRUE(BuildBundleImage(in, dir_.Join("bundle/image"), &err)) << err;
    transport_ = std::make_shared<FakeTransport>(
        [this](const HttpRequest& req, HttpResponse* resp, std::string*) {
          return registry_.Handle(req, resp);
        });
    options_.registry_transport = [t = transport_] { return t->Share(); };
    options_.docker_config_dir = dir_.Join("docker");  // no config.json: no credentials
  }
  void TearDown() override { unsetenv("WANDB_JOB_INSECURE_REGISTRIES"); }

  ScopedTempDir dir_;
  Bundle bundle_;
  FakeRegistry registry_;
  std::shared_ptr<FakeTransport> transport_;
  PublishOptions options_;
  RecordingSink sink_;
};

TEST_F(PublishImageTest, PushesBeforeTheJobAndPinsItInTheMetadata) {
  JobPublishResult r;
  std::string err;
  ASSERT_TRUE(PublishBundle(bundle_, &sink_, options_, &r, &err)) << err;
  // Every valid alias is a tag; "-bad" is not a valid OCI tag.
  std::set<std::string> tags;
  for (const auto& [tag, body] : registry_.manifests) {
    tags.insert(tag);
  }
  EXPECT_EQ(tags, (std::set<std::string>{"stable", "1.0", "latest"}));
  std::string digest = "sha256:" + Sha256Hex(registry_.manifests["1.0"]);
  ASSERT_TRUE(r.has_image);
  EXPECT_EQ(r.image.digest, digest);
  EXPECT_EQ(r.image.pinned, "localhost:5000/acme/train@" + digest);
  for (const HttpRequest& req : transport_->requests()) {
    EXPECT_EQ(req.url.rfind("http://localhost:5000/v2/acme/train/", 0), 0u) << req.url;
  }
  ASSERT_EQ(sink_.uploads.size(), 1u);
  nlohmann::json meta = nlohmann::json::parse(sink_.uploads[0].metadata);
  EXPECT_EQ(meta["image"], r.image.pinned);
  EXPECT_EQ(meta["image_digest"], digest);
  EXPECT_EQ(meta["image_tags"], (std::vector<std::string>{"stable", "1.0", "latest"}));
  EXPECT_FALSE(meta.contains("base_image_digest"));

  // Existing metadata is kept; a second push uploads nothing.
  bundle_.job.metadata = R"({"owner":"ml"})";
  size_t before = transport_->requests().size();
  ASSERT_TRUE(PublishBundle(bundle_, &sink_, options_, &r, &err)) << err;
  EXPECT_EQ(r.image.blobs_uploaded, 0);
  meta = nlohmann::json::parse(sink_.uploads[1].metadata);
  EXPECT_EQ(meta["owner"], "ml");
  EXPECT_EQ(meta["image_digest"], digest);
  for (size_t i = before; i < transport_->requests().size(); ++i) {
    EXPECT_NE(transport_->requests()[i].method, "POST");
  }
}

TEST_F(PublishImageTest, TheJobCarriesItsInputSchema) {
  bundle_.config = R"({"lr":0.01,"epochs":3,"model":{"name":"resnet"}})";
  JobPublishResult r;
  std::string err;
  ASSERT_TRUE(PublishBundle(bundle_, &sink_, options_, &r, &err)) << err;
  ASSERT_EQ(sink_.uploads.size(), 1u);
  nlohmann::json meta = nlohmann::json::parse(sink_.uploads[0].metadata);
  EXPECT_EQ(meta["input_schemas"], nlohmann::json::parse(R"({"@wandb.config": {
      "type": "object", "properties": {
        "lr": {"type": "number", "default": 0.01},
        "epochs": {"type": "integer", "default": 3},
        "model": {"type": "object", "properties": {
          "name": {"type": "string", "default": "resnet"}}}}}})"));
  EXPECT_TRUE(meta.contains("image_digest"));  // beside the image's pin
  EXPECT_FALSE(meta.contains("_partial"));

  // Metadata that has input_schemas already keeps them; no config, no schema.
  bundle_.job.metadata = R"({"input_schemas":{"@wandb.config":{"type":"object"}}})";
  ASSERT_TRUE(PublishBundle(bundle_, &sink_, options_, &r, &err)) << err;
  meta = nlohmann::json::parse(sink_.uploads[1].metadata);
  EXPECT_EQ(meta["input_schemas"], nlohmann::json::parse(R"({"@wandb.config":{"type":"object"}})"));
  bundle_.job.metadata.clear();
  bundle_.config = "{}";
  ASSERT_TRUE(PublishBundle(bundle_, &sink_, options_, &r, &err)) << err;
  EXPECT_FALSE(nlohmann::json::parse(sink_.uploads[2].metadata).contains("input_schemas"));
}

TEST_F(PublishImageTest, DryRunPushesNothing) {
  options_.dry_run = true;
  JobPublishResult r;
  std::string err;
  ASSERT_TRUE(PublishBundle(bundle_, &sink_, options_, &r, &err)) << err;
  EXPECT_TRUE(transport_->requests().empty());
  EXPECT_TRUE(sink_.uploads.empty());
  EXPECT_EQ(r.image.reference, "localhost:5000/acme/train:1.0");
  EXPECT_EQ(r.image.tags, (std::vector<std::string>{"stable", "1.0", "latest"}));
  EXPECT_EQ(r.image.pinned, "");
}

TEST_F(PublishImageTest, AuthFailureStopsThePublishWithAHint) {
  registry_.require_auth = true;
  JobPublishResult r;
  std::string err;
  EXPECT_FALSE(PublishBundle(bundle_, &sink_, options_, &r, &err));
  EXPECT_TRUE(sink_.uploads.empty());
  EXPECT_EQ(err.rfind("pushing image localhost:5000/acme/train:1.0 to registry localhost:5000: ",
                      0),
            0u)
      << err;
  EXPECT_NE(err.find("docker login localhost:5000"), std::string::npos) << err;
  EXPECT_NE(err.find("~/.docker/config.json"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
}

TEST_F(PublishImageTest, PlainHttpOnlyForListedRegistries) {
  bundle_.image = "registry.internal:5000/acme/train:1.0";
  JobPublishResult r;
  std::string err;
  ASSERT_TRUE(PublishBundle(bundle_, &sink_, options_, &r, &err)) << err;
  EXPECT_EQ(transport_->requests()[0].url.rfind("https://registry.internal:5000/", 0), 0u);
  setenv("WANDB_JOB_INSECURE_REGISTRIES", "other.io, registry.internal", 1);
  size_t before = transport_->requests().size();
  ASSERT_TRUE(PublishBundle(bundle_, &sink_, options_, &r, &err)) << err;
  EXPECT_EQ(transport_->requests()[before].url.rfind("http://registry.internal:5000/", 0), 0u);
}

TEST_F(PublishImageTest, DamagedBundle) {
  std::string err;
  ASSERT_TRUE(RemoveTree(dir_.Join("bundle/image"), &err)) << err;
  JobPublishResult r;
  EXPECT_FALSE(PublishBundle(bundle_, &sink_, options_, &r, &err));
  EXPECT_NE(err.find("without its image/ layout"), std::string::npos) << err;
  EXPECT_TRUE(sink_.uploads.empty());
}

// A bundle.json edited after the build: every artifact is checked before the image, the code
// artifact or the job goes anywhere.
TEST_F(PublishImageTest, BadNameAliasPathOrDigestPublishesNothing) {
  BundleArtifact code;
  code.type = "code";
  code.name = "code-train";
  code.aliases = {"latest"};
  code.files_dir = dir_.Join("bundle/code");
  code.manifest.Add(ManifestEntry{"main.cc", Md5Base64("int main() {}\n"), 14, ""});
  struct Case {
    const char* what;
    std::function<void(Bundle*)> damage;
    const char* message;
  };
  const Case cases[] = {
      {"job name ..", [](Bundle* b) { b->job.name = ".."; }, "invalid artifact name '..'"},
      {"job name with /", [](Bundle* b) { b->job.name = "a/b"; }, "may only contain"},
      {"version alias", [](Bundle* b) { b->job.aliases.push_back("v3"); }, "version index"},
      {"alias with :", [](Bundle* b) { b->job.aliases.push_back("a:b"); }, "'/' or ':'"},
      {"empty alias", [](Bundle* b) { b->code.aliases.push_back(""); }, "alias is empty"},
      {"code name", [](Bundle* b) { b->code.name = "."; }, "invalid artifact name '.'"},
      {"code digest", [](Bundle* b) { b->code.manifest.entries[0].digest = "not-a-digest"; },
       "malformed digest 'not-a-digest'"},
      {"short digest", [](Bundle* b) { b->code.manifest.entries[0].digest = "AAAA"; },
       "malformed digest 'AAAA'"},
      {"code path", [](Bundle* b) { b->code.manifest.entries[0].path = "../../etc/passwd"; },
       "unsafe file path '../../etc/passwd'"},
  };
  for (const Case& c : cases) {
    Bundle bundle = bundle_;
    bundle.has_code = true;
    bundle.code = code;
    c.damage(&bundle);
    JobPublishResult r;
    std::string err;
    EXPECT_FALSE(PublishBundle(bundle, &sink_, options_, &r, &err)) << c.what;
    EXPECT_EQ(err.rfind("bundle " + bundle_.dir + " is damaged: ", 0), 0u) << c.what << ": " << err;
    EXPECT_NE(err.find(c.message), std::string::npos) << c.what << ": " << err;
    EXPECT_TRUE(transport_->requests().empty()) << c.what << ": the image was pushed";
    EXPECT_TRUE(sink_.uploads.empty()) << c.what << ": an artifact was published";
  }
}

TEST_F(PublishImageTest, DockerArchive) {
  std::string err;
  std::string out = dir_.Join("image.tar");
  ASSERT_TRUE(WriteBundleImageArchive(bundle_, {}, out, &err)) << err;
  std::string tar;
  ASSERT_TRUE(ReadFile(out, &tar, &err)) << err;
  EXPECT_NE(tar.find("manifest.json"), std::string::npos);
  EXPECT_NE(tar.find("\"RepoTags\":[\"localhost:5000/acme/train:1.0\"]"), std::string::npos);
  ASSERT_TRUE(WriteBundleImageArchive(bundle_, {"x/y:2"}, out, &err)) << err;
  ASSERT_TRUE(ReadFile(out, &tar, &err)) << err;
  EXPECT_NE(tar.find("\"RepoTags\":[\"x/y:2\"]"), std::string::npos);

  bundle_.source_type = "artifact";
  EXPECT_FALSE(WriteBundleImageArchive(bundle_, {}, out, &err));
  EXPECT_NE(err.find("only image jobs"), std::string::npos) << err;

  bundle_.source_type = "image";
  BundleImageInput in;
  in.target = "true";
  in.target_file = "/bin/true";
  in.image = bundle_.image;
  in.base_image = "debian:12";
  ASSERT_TRUE(ResolveRuntimeClosure("/bin/true", ClosureOptions{}, &in.closure, &err)) << err;
  ASSERT_TRUE(BuildBundleImage(in, dir_.Join("bundle/image"), &err)) << err;
  EXPECT_FALSE(WriteBundleImageArchive(bundle_, {}, out, &err));
  EXPECT_NE(err.find("based on debian:12"), std::string::npos) << err;
}

TEST(PublishTest, ImageTags) {
  EXPECT_TRUE(IsValidImageTag("latest"));
  EXPECT_TRUE(IsValidImageTag("V1.2-rc_3"));
  EXPECT_TRUE(IsValidImageTag("_x"));
  EXPECT_TRUE(IsValidImageTag(std::string(128, 'a')));
  EXPECT_FALSE(IsValidImageTag(std::string(129, 'a')));
  EXPECT_FALSE(IsValidImageTag(""));
  EXPECT_FALSE(IsValidImageTag(".x"));
  EXPECT_FALSE(IsValidImageTag("-x"));
  EXPECT_FALSE(IsValidImageTag("a+b"));
  EXPECT_FALSE(IsValidImageTag("über"));
}

TEST(PublishTest, InsecureRegistries) {
  EXPECT_TRUE(IsInsecureRegistry("reg.io:5000", "reg.io:5000"));
  EXPECT_TRUE(IsInsecureRegistry("reg.io:5000", " x.io ,reg.io"));
  EXPECT_TRUE(IsInsecureRegistry("reg.io", "reg.io"));
  EXPECT_FALSE(IsInsecureRegistry("reg.io:5000", "reg.io:5001"));
  EXPECT_FALSE(IsInsecureRegistry("reg.io", "reg.io:5000"));
  EXPECT_FALSE(IsInsecureRegistry("reg.io", ""));
  EXPECT_FALSE(IsInsecureRegistry("reg.io", ",,"));
  EXPECT_TRUE(IsInsecureRegistry("[::1]:5000", "[::1]"));
}

}  // namespace
}  // namespace wandb_job
