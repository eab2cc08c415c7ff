#include "oci_image.h"

#include <gtest/gtest.h>

namespace wandb_job {
namespace {

TEST(OciImage, ParseImageReference) {
  ImageReference r;
  std::string err;
  ASSERT_TRUE(ParseImageReference("localhost:5000/team/app:v1", &r, &err)) << err;
  EXPECT_EQ(r.registry, "localhost:5000");
  EXPECT_EQ(r.repository, "team/app");
  EXPECT_EQ(r.tag, "v1");
  ASSERT_TRUE(ParseImageReference("debian", &r, &err));
  EXPECT_EQ(r.ToString(), "registry-1.docker.io/library/debian");
  EXPECT_EQ(r.Identifier(), "latest");
  std::string digest = "sha256:" + std::string(64, 'a');
  ASSERT_TRUE(ParseImageReference("ghcr.io/o/r:t@" + digest, &r, &err));
  EXPECT_EQ(r.tag, "t");
  EXPECT_EQ(r.Identifier(), digest);
  EXPECT_FALSE(ParseImageReference("ghcr.io/O/r", &r, &err));
  EXPECT_NE(err.find("lowercase"), std::string::npos);
  EXPECT_FALSE(ParseImageReference("a@sha256:12", &r, &err));
  EXPECT_FALSE(ParseImageReference("a:", &r, &err));
  EXPECT_EQ(err, "image reference 'a:': invalid tag");
}

TEST(OciImage, CanonicalJson) {
  ImageConfig c;
  c.created = FormatRfc3339(1700000000);
  EXPECT_EQ(c.created, "2023-11-14T22:13:20Z");
  c.entrypoint = {"/usr/local/bin/p"};
  c.cmd = {"--x", "1"};
  c.env = {"A=1"};
  c.diff_ids = {"sha256:" + std::string(64, 'b')};
  c.history = {"layer"};
  EXPECT_EQ(c.ToJson(),
            "{\"architecture\":\"amd64\",\"config\":{\"Cmd\":[\"--x\",\"1\"],\"Entrypoint\":[\"/"
            "usr/local/bin/p\"],\"Env\":[\"A=1\"]},\"created\":\"2023-11-14T22:13:20Z\","
            "\"history\":[{\"created\":\"2023-11-14T22:13:20Z\",\"created_by\":\"layer\"}],"
            "\"os\":\"linux\",\"rootfs\":{\"diff_ids\":[\"sha256:" +
                std::string(64, 'b') + "\"],\"type\":\"layers\"}}");
  ImageConfig back;
  std::string err;
  ASSERT_TRUE(ParseImageConfig(c.ToJson(), &back, &err)) << err;
  EXPECT_EQ(back.ToJson(), c.ToJson());
}

TEST(OciImage, ManifestRoundTripAndErrors) {
  Manifest m;
  m.config = {kOciConfigMediaType, "sha256:" + std::string(64, 'c'), 10, {}, "", "", ""};
  m.layers.push_back({kOciLayerGzipMediaType, "sha256:" + std::string(64, 'd'), 20, {}, "", "",
                      ""});
  m.annotations[kAnnotationTitle] = "t";
  Manifest back;
  std::string err;
  ASSERT_TRUE(ParseManifest(m.ToJson(), &back, &err)) << err;
  EXPECT_EQ(back.ToJson(), m.ToJson());
  EXPECT_EQ(MediaTypeOf(m.ToJson()), kOciManifestMediaType);
  EXPECT_FALSE(ParseManifest("{", &back, &err));
  EXPECT_FALSE(ParseManifest("{\"schemaVersion\":1}", &back, &err));
  EXPECT_EQ(err, "not a schema 2 image manifest");
  EXPECT_FALSE(ParseManifest(
      "{\"schemaVersion\":2,\"config\":{\"digest\":\"md5:x\",\"size\":1},\"layers\":[]}", &back,
      &err));
  EXPECT_EQ(err, "manifest config: unsupported digest 'md5:x'");
  ImageIndex index;
  EXPECT_FALSE(ParseIndex("{}", &index, &err));
  EXPECT_EQ(err, "not an image index");
}

TEST(OciImage, MergeBaseConfig) {
  std::string base =
      "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/bin\",\"LANG="
      "C\"],\"Cmd\":[\"bash\"],\"ExposedPorts\":{\"80/tcp\":{}},\"Labels\":{\"a\":\"1\"}},"
      "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:base\"]},\"history\":[{\"created_"
      "by\":\"base\"}],\"container_config\":{}}";
  ImageConfig ours;
  ours.created = "2023-11-14T22:13:20Z";
  ours.entrypoint = {"/p"};
  ours.env = {"PATH=/usr/local/bin"};
  ours.labels = {{"b", "2"}};
  ours.diff_ids = {"sha256:ours"};
  ours.history = {"ours"};
  std::string merged, err;
  ASSERT_TRUE(MergeBaseConfig(base, ours, &merged, &err)) << err;
  ImageConfig m;
  ASSERT_TRUE(ParseImageConfig(merged, &m, &err));
  EXPECT_EQ(m.env, (std::vector<std::string>{"LANG=C", "PATH=/usr/local/bin"}));
  EXPECT_TRUE(m.cmd.empty());  // A new entrypoint drops the base's Cmd.
  EXPECT_EQ(m.diff_ids, (std::vector<std::string>{"sha256:base", "sha256:ours"}));
  EXPECT_EQ(m.history, (std::vector<std::string>{"base", "ours"}));
  EXPECT_EQ(m.labels.size(), 2u);
  EXPECT_NE(merged.find("ExposedPorts"), std::string::npos);
  EXPECT_EQ(merged.find("container_config"), std::string::npos);
  EXPECT_FALSE(MergeBaseConfig("[", ours, &merged, &err));
  EXPECT_FALSE(MergeBaseConfig("[]", ours, &merged, &err));
  EXPECT_EQ(err, "base image config is not an object");
}

}  // namespace
}  // namespace wandb_job
