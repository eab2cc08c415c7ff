#include "image_builder.h"

#include <gtest/gtest.h>

#include "file_util.h"
#include "oci_layout.h"
#include "test_util.h"

namespace wandb_job {
namespace {

TEST(ImageBuilder, StripBuildPathsRemovesRunpathAndKeepsTheProgramRunning) {
  ScopedTempDir dir;
  WriteTestFile(dir.path(), "m.c", "int main(void) { return 7; }\n");
  std::string build = dir.Join("one-build-dir");
  RunShell(dir.path(), "mkdir -p " + build + " && cc -o p m.c -Wl,--enable-new-dtags,-rpath," +
                           build + " -Wl,--build-id");
  std::string out, err;
  bool changed = false;
  ASSERT_TRUE(StripBuildPaths(dir.Join("p"), &out, &changed, &err)) << err;
  EXPECT_TRUE(changed);
  EXPECT_TRUE(out.find(build) == std::string::npos) << "build path left";
  WriteTestFile(dir.path(), "q", out);
  EXPECT_EQ(RunShell(dir.path(), "chmod +x q; ./q; echo $?"), "7\n");
  EXPECT_EQ(RunShell(dir.path(), "readelf -d q | grep -c -E 'RUNPATH|RPATH' || true"), "0\n");
  // Same program, same bytes: the build ID no longer depends on the removed path.
  std::string build2 = dir.Join("two-build-dir");
  RunShell(dir.path(), "cc -o p2 m.c -Wl,--enable-new-dtags,-rpath," + build2 + " -Wl,--build-id");
  std::string out2;
  ASSERT_TRUE(StripBuildPaths(dir.Join("p2"), &out2, &changed, &err)) << err;
  EXPECT_TRUE(out == out2) << "stripped programs differ";
  // Nothing to strip: unchanged.
  RunShell(dir.path(), "cc -o plain m.c");
  ASSERT_TRUE(StripBuildPaths(dir.Join("plain"), &out, &changed, &err));
  EXPECT_FALSE(changed);
}

TEST(ImageBuilder, Errors) {
  ScopedTempDir dir;
  WriteTestFile(dir.path(), "script", "#!/bin/sh\n");
  std::string out, err;
  bool changed;
  EXPECT_FALSE(StripBuildPaths(dir.Join("script"), &out, &changed, &err));
  EXPECT_EQ(err, dir.Join("script") + " is not an ELF file");
  EXPECT_FALSE(StripBuildPaths(dir.Join("missing"), &out, &changed, &err));
  BundleImageInput in;
  in.target = "script";
  in.target_file = dir.Join("script");
  EXPECT_FALSE(BuildBundleImage(in, dir.Join("image"), &err));
  EXPECT_EQ(err, "preparing " + dir.Join("script") + " for the image: " + dir.Join("script") +
                     " is not an ELF file");
  RunShell(dir.path(), "cp /bin/true t");
  in.target_file = dir.Join("t");
  in.files = {{dir.Join("script"), "relative/path"}};
  EXPECT_FALSE(BuildBundleImage(in, dir.Join("image"), &err));
  EXPECT_EQ(err, "image file destination 'relative/path' is not an absolute path");
  in.files = {{dir.Join("gone"), "/x"}};
  EXPECT_FALSE(BuildBundleImage(in, dir.Join("image"), &err));
  EXPECT_EQ(err, "image file " + dir.Join("gone") + ": No such file or directory");
}

TEST(ImageBuilder, SameInputSameImage) {
  ScopedTempDir dir;
  RunShell(dir.path(), "cp /bin/true t");
  WriteTestFile(dir.path(), "data/a.txt", "a");
  BundleImageInput in;
  in.target = "t";
  in.target_file = dir.Join("t");
  in.args = {"--x", "1"};
  in.created = 1700000000;
  in.image = "localhost:5000/t:v3";
  in.files = {{dir.Join("data"), "/opt/data"}};
  std::string err;
  ASSERT_TRUE(ResolveRuntimeClosure(in.target_file, ClosureOptions{}, &in.closure, &err)) << err;
  ASSERT_TRUE(BuildBundleImage(in, dir.Join("a"), &err)) << err;
  ASSERT_TRUE(BuildBundleImage(in, dir.Join("b"), &err)) << err;
  std::string ia, ib;
  ASSERT_TRUE(ReadFile(dir.Join("a/index.json"), &ia, &err));
  ASSERT_TRUE(ReadFile(dir.Join("b/index.json"), &ib, &err));
  EXPECT_EQ(ia, ib);
  EXPECT_NE(ia.find("\"org.opencontainers.image.ref.name\":\"v3\""), std::string::npos);
  Descriptor md;
  Manifest m;
  ASSERT_TRUE(ReadImageManifest(dir.Join("a"), &md, &m, &err)) << err;
  ASSERT_EQ(m.layers.size(), 3u);  // libraries, files, program
  std::string config;
  ASSERT_TRUE(ReadBlob(dir.Join("a"), m.config.digest, &config, &err));
  ImageConfig c;
  ASSERT_TRUE(ParseImageConfig(config, &c, &err));
  EXPECT_EQ(c.entrypoint, std::vector<std::string>{"/usr/local/bin/t"});
  EXPECT_EQ(c.cmd, in.args);
  EXPECT_EQ(c.working_dir, "/");
  EXPECT_EQ(c.labels["org.opencontainers.image.title"], "t");
  EXPECT_EQ(RunShell(dir.path(), "gzip -dc a/blobs/sha256/" + m.layers[1].digest.substr(7) +
                                     " | tar -t"),
            "opt/\nopt/data/\nopt/data/a.txt\n");
  // With a base image, the loader runs the program and the base is left for push time.
  in.base_image = "debian:12";
  ASSERT_TRUE(BuildBundleImage(in, dir.Join("c"), &err)) << err;
  ASSERT_TRUE(ReadImageManifest(dir.Join("c"), &md, &m, &err)) << err;
  EXPECT_EQ(m.annotations[kAnnotationBaseName], "debian:12");
  ASSERT_TRUE(ReadBlob(dir.Join("c"), m.config.digest, &config, &err));
  ASSERT_TRUE(ParseImageConfig(config, &c, &err));
  ASSERT_EQ(c.entrypoint.size(), 2u);
  EXPECT_EQ(c.entrypoint[0].rfind("/opt/wandb-job/lib/ld-", 0), 0u) << c.entrypoint[0];
}

}  // namespace
}  // namespace wandb_job
