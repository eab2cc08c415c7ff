#include "artifact_manifest.h"

#include <gtest/gtest.h>

#include "hash.h"

namespace wandb_job {
namespace {

// The compact wandb-job.json of wandb-protocol.md §1.4 example D (227 bytes).
const char kImageJob[] =
    "{\"_version\":\"v0\",\"source_type\":\"image\",\"source\":{\"image\":\"ghcr.io/acme/"
    "trainer:1.4.2\"},\"input_types\":{\"wb_type\":\"typedDict\",\"params\":{\"type_map\":{}}},"
    "\"output_types\":{\"wb_type\":\"typedDict\",\"params\":{\"type_map\":{}}},\"runtime\":\"\"}";

// json.dump(to_manifest_json(), indent=4) of the §4.2 example, as the SDK writes it.
const char kExampleManifest[] = R"({
    "version": 1,
    "storagePolicy": "wandb-storage-policy-v1",
    "storagePolicyConfig": {
        "storageLayout": "V2"
    },
    "contents": {
        "requirements.frozen.txt": {
            "digest": "1B2M2Y8AsgTpgAmY7PhCfg==",
            "birthArtifactID": "QXJ0aWZhY3Q6MTAwMQ==",
            "size": 0
        },
        "wandb-job.json": {
            "digest": "r7wNwNiAonfpl2bAGjN93Q==",
            "birthArtifactID": "QXJ0aWZhY3Q6MTAwMQ==",
            "size": 227
        }
    }
})";

ArtifactManifest ExampleManifest(const std::string& birth) {
  ArtifactManifest m;
  // Added out of order on purpose.
  m.Add({"wandb-job.json", Md5Base64(kImageJob), sizeof(kImageJob) - 1, birth});
  m.Add({"requirements.frozen.txt", Md5Base64(""), 0, birth});
  return m;
}

TEST(ArtifactManifestTest, GoldenFileDigests) {
  EXPECT_EQ(Md5Base64(""), "1B2M2Y8AsgTpgAmY7PhCfg==");
  EXPECT_EQ(sizeof(kImageJob) - 1, 227u);
  EXPECT_EQ(Md5Base64(kImageJob), "r7wNwNiAonfpl2bAGjN93Q==");
}

TEST(ArtifactManifestTest, GoldenArtifactDigest) {
  ArtifactManifest m = ExampleManifest("");
  EXPECT_EQ(m.Digest(), "244c29bcfadec71eb43696d7be373291");
  // Only paths and digests count.
  ArtifactManifest other = ExampleManifest("QXJ0aWZhY3Q6MTAwMQ==");
  other.entries[0].size = 99;
  EXPECT_EQ(other.Digest(), m.Digest());
  // Entries filled directly, out of order, hash the same.
  ArtifactManifest raw;
  raw.entries = {m.entries[1], m.entries[0]};
  EXPECT_EQ(raw.Digest(), m.Digest());
  other.entries[0].digest = Md5Base64("x");
  EXPECT_NE(other.Digest(), m.Digest());
}

TEST(ArtifactManifestTest, EmptyManifest) {
  ArtifactManifest m;
  EXPECT_EQ(m.Digest(), Md5Hex("wandb-artifact-manifest-v1\n"));
  EXPECT_EQ(m.ToJson(),
            "{\n    \"version\": 1,\n    \"storagePolicy\": \"wandb-storage-policy-v1\",\n"
            "    \"storagePolicyConfig\": {\n        \"storageLayout\": \"V2\"\n    },\n"
            "    \"contents\": {}\n}");
  ArtifactManifest back;
  std::string err;
  ASSERT_TRUE(ArtifactManifest::FromJson(m.ToJson(), &back, &err)) << err;
  EXPECT_TRUE(back.entries.empty());
}

TEST(ArtifactManifestTest, GoldenToJson) {
  ArtifactManifest m = ExampleManifest("QXJ0aWZhY3Q6MTAwMQ==");
  std::string json = m.ToJson();
  EXPECT_EQ(json, kExampleManifest);
  EXPECT_EQ(json.size(), 501u);
  EXPECT_EQ(Md5Base64(json), "mlTD8sdxahWtCt8yvLsZJQ==");
}

TEST(ArtifactManifestTest, ToJsonOmitsEmptyBirthAndEscapes) {
  ArtifactManifest m;
  m.Add({"d\xC3\xA9j\xC3\xA0/\"q\".txt", "abc=", 5, ""});
  EXPECT_EQ(m.ToJson(),
            "{\n    \"version\": 1,\n    \"storagePolicy\": \"wandb-storage-policy-v1\",\n"
            "    \"storagePolicyConfig\": {\n        \"storageLayout\": \"V2\"\n    },\n"
            "    \"contents\": {\n        \"d\\u00e9j\\u00e0/\\\"q\\\".txt\": {\n"
            "            \"digest\": \"abc=\",\n            \"size\": 5\n        }\n    }\n}");
}

TEST(ArtifactManifestTest, AddReplacesAndFinds) {
  ArtifactManifest m;
  m.Add({"b", "1", 1, ""});
  m.Add({"a", "2", 2, ""});
  m.Add({"c", "3", 3, ""});
  m.Add({"b", "4", 4, ""});
  ASSERT_EQ(m.entries.size(), 3u);
  EXPECT_EQ(m.entries[0].path, "a");
  EXPECT_EQ(m.entries[1].path, "b");
  EXPECT_EQ(m.entries[2].path, "c");
  ASSERT_NE(m.Find("b"), nullptr);
  EXPECT_EQ(m.Find("b")->digest, "4");
  EXPECT_EQ(m.Find("bb"), nullptr);
  EXPECT_EQ(m.Find(""), nullptr);
  // Byte order: uppercase before lowercase, "a/b" before "a_b".
  m.Add({"B", "5", 0, ""});
  m.Add({"a/b", "6", 0, ""});
  m.Add({"a_b", "7", 0, ""});
  EXPECT_EQ(m.entries[0].path, "B");
  EXPECT_EQ(m.entries[2].path, "a/b");
  EXPECT_EQ(m.entries[3].path, "a_b");
}

TEST(ArtifactManifestTest, RoundTrip) {
  ArtifactManifest m = ExampleManifest("QXJ0aWZhY3Q6MTAwMQ==");
  ArtifactManifest back;
  std::string err;
  ASSERT_TRUE(ArtifactManifest::FromJson(m.ToJson(), &back, &err)) << err;
  ASSERT_EQ(back.entries.size(), 2u);
  EXPECT_EQ(back.entries[1].path, "wandb-job.json");
  EXPECT_EQ(back.entries[1].size, 227u);
  EXPECT_EQ(back.entries[1].birth_artifact_id, "QXJ0aWZhY3Q6MTAwMQ==");
  EXPECT_EQ(back.ToJson(), m.ToJson());
}

TEST(ArtifactManifestTest, FromJsonGoForm) {
  // wandb-core's compact form: size always, skip_cache, local_path, storageRegion, null birth.
  const char* go =
      R"({"version":1,"storagePolicy":"wandb-storage-policy-v1","storagePolicyConfig":)"
      R"({"storageLayout":"V2","storageRegion":"coreweave-us"},"contents":{)"
      R"("z.txt":{"digest":"abc=","size":3,"local_path":"/tmp/x/z.txt","skip_cache":false},)"
      R"("a.txt":{"digest":"def=","size":0,"skip_cache":false,"birthArtifactID":null,)"
      R"("extra":{"k":1}}}})";
  ArtifactManifest m;
  std::string err;
  ASSERT_TRUE(ArtifactManifest::FromJson(go, &m, &err)) << err;
  ASSERT_EQ(m.entries.size(), 2u);
  EXPECT_EQ(m.entries[0].path, "a.txt");
  EXPECT_EQ(m.entries[0].digest, "def=");
  EXPECT_EQ(m.entries[0].birth_artifact_id, "");
  EXPECT_EQ(m.entries[1].path, "z.txt");
  EXPECT_EQ(m.entries[1].size, 3u);
  // Python's form leaves size out when unknown.
  ASSERT_TRUE(ArtifactManifest::FromJson(
      R"({"version":1,"storagePolicy":"wandb-storage-policy-v1","contents":{"a":{"digest":"x"}}})",
      &m, &err))
      << err;
  EXPECT_EQ(m.entries[0].size, 0u);
}

TEST(ArtifactManifestTest, FromJsonErrors) {
  struct Case {
    const char* json;
    const char* err;
  };
  const Case cases[] = {
      {"{", "parse error"},
      {"[]", "manifest is not a JSON object"},
      {R"({"contents":{}})", "unsupported manifest version (want 1)"},
      {R"({"version":2,"contents":{}})", "unsupported manifest version (want 1)"},
      {R"({"version":"1","contents":{}})", "unsupported manifest version (want 1)"},
      {R"({"version":1,"storagePolicy":"other","contents":{}})", "unsupported storage policy"},
      {R"({"version":1})", "manifest has no contents object"},
      {R"({"version":1,"contents":[]})", "manifest has no contents object"},
      {R"({"version":1,"contents":{"a":1}})", "entry 'a' is not an object"},
      {R"({"version":1,"contents":{"a":{}}})", "entry 'a' has no digest"},
      {R"({"version":1,"contents":{"a":{"digest":""}}})", "entry 'a' has no digest"},
      {R"({"version":1,"contents":{"a":{"digest":5}}})", "entry 'a' has no digest"},
      {R"({"version":1,"contents":{"a":{"digest":"x","ref":"s3://b/k"}}})",
       "entry 'a' is a reference, which is not supported"},
      {R"({"version":1,"contents":{"a":{"digest":"x","size":-1}}})",
       "entry 'a' has a size that is not a non-negative integer"},
      {R"({"version":1,"contents":{"a":{"digest":"x","size":"1"}}})",
       "entry 'a' has a size that is not a non-negative integer"},
      {R"({"version":1,"contents":{"a":{"digest":"x","birthArtifactID":3}}})",
       "entry 'a' has a birthArtifactID that is not a string"},
  };
  for (const Case& c : cases) {
    ArtifactManifest m;
    m.Add({"keep", "k", 1, ""});
    std::string err;
    EXPECT_FALSE(ArtifactManifest::FromJson(c.json, &m, &err)) << c.json;
    EXPECT_NE(err.find(c.err), std::string::npos) << c.json << " -> " << err;
    ASSERT_EQ(m.entries.size(), 1u) << "output changed on failure";
  }
}

}  // namespace
}  // namespace wandb_job
