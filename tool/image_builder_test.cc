#include "image_builder.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>

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

// A FIFO would block the tar writer's read forever: listed itself it is refused, below a listed
// directory it is left out (with a warning), and the build finishes.
TEST(ImageBuilder, SpecialFilesNeverBlock) {
  ScopedTempDir dir;
  RunShell(dir.path(), "cp /bin/true t");
  WriteTestFile(dir.path(), "data/a.txt", "a");
  ASSERT_EQ(mkfifo(dir.Join("data/pipe").c_str(), 0644), 0);
  ASSERT_EQ(mkfifo(dir.Join("pipe").c_str(), 0644), 0);
  BundleImageInput in;
  in.target = "t";
  in.target_file = dir.Join("t");
  in.created = 1700000000;
  std::string err;
  ASSERT_TRUE(ResolveRuntimeClosure(in.target_file, ClosureOptions{}, &in.closure, &err)) << err;
  in.files = {{dir.Join("pipe"), "/opt/pipe"}};
  EXPECT_FALSE(BuildBundleImage(in, dir.Join("a"), &err));
  EXPECT_EQ(err, "image file " + dir.Join("pipe") +
                     " is a FIFO; list regular files and directories only");
  in.files = {{dir.Join("data"), "/opt/data"}};
  ASSERT_TRUE(BuildBundleImage(in, dir.Join("b"), &err)) << err;
  Descriptor md;
  Manifest m;
  ASSERT_TRUE(ReadImageManifest(dir.Join("b"), &md, &m, &err)) << err;
  EXPECT_EQ(
      RunShell(dir.path(), "gzip -dc b/blobs/sha256/" + m.layers[1].digest.substr(7) + " | tar -t"),
      "opt/\nopt/data/\nopt/data/a.txt\n");
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
  EXPECT_EQ(
      RunShell(dir.path(), "gzip -dc a/blobs/sha256/" + m.layers[1].digest.substr(7) + " | tar -t"),
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

// The image of `in` in `dir`: its manifest and config.
void ReadImage(const std::string& dir, Manifest* m, ImageConfig* c) {
  std::string err, config;
  Descriptor md;
  ASSERT_TRUE(ReadImageManifest(dir, &md, m, &err)) << err;
  ASSERT_TRUE(ReadBlob(dir, m->config.digest, &config, &err)) << err;
  ASSERT_TRUE(ParseImageConfig(config, c, &err)) << err;
}

std::string LayerListing(const std::string& dir, const Descriptor& layer) {
  return RunShell(dir, "gzip -dc blobs/sha256/" + layer.digest.substr(7) +
                           " | TZ=UTC tar -tv | "
                           "awk '{print $1, $2, $4, $5, $6}'");
}

// A program, a "shim" (any dynamic executable: the builder does not run it) and their closures.
BundleImageInput ShimInput(const ScopedTempDir& dir) {
  RunShell(dir.path(), "cp /bin/true t; cp /bin/echo shim");
  BundleImageInput in;
  in.target = "t";
  in.target_file = dir.Join("t");
  in.config = R"({"lr":0.01,"opt":{"name":"sgd"}})";
  in.args_template = {"--lr", "{lr}", "--opt={opt.name}"};
  in.args = {"--lr", "0.01", "--opt=sgd"};
  in.created = 1700000000;
  in.shim_file = dir.Join("shim");
  std::string err;
  EXPECT_TRUE(ResolveRuntimeClosure(in.target_file, ClosureOptions{}, &in.closure, &err)) << err;
  EXPECT_TRUE(ResolveRuntimeClosure(in.shim_file, ClosureOptions{}, &in.shim_closure, &err)) << err;
  return in;
}

TEST(ImageBuilder, ShimIsTheEntrypoint) {
  ScopedTempDir dir;
  BundleImageInput in = ShimInput(dir);
  std::string err;
  ASSERT_TRUE(BuildBundleImage(in, dir.Join("a"), &err)) << err;
  Manifest m;
  ImageConfig c;
  ReadImage(dir.Join("a"), &m, &c);
  EXPECT_EQ(c.entrypoint,
            (std::vector<std::string>{"/usr/local/bin/wandb-job", "exec", "--job-spec",
                                      "/etc/wandb-job/job.json", "--", "/usr/local/bin/t"}));
  EXPECT_TRUE(c.cmd.empty());
  ASSERT_GE(c.env.size(), 3u);
  EXPECT_EQ(c.env[1].rfind("LD_LIBRARY_PATH=", 0), 0u);
  EXPECT_EQ(c.env[2], "WANDB_JOB_STORE=/tmp/wandb-job-store");
  // Layers: the shim with its closure at the bottom (the libraries both load once, there),
  // /tmp, the program with the job spec on top.
  EXPECT_EQ(c.history, (std::vector<std::string>{"wandb-job: run shim",
                                                 "wandb-job: shared libraries", "wandb-job: t"}));
  ASSERT_EQ(m.layers.size(), 3u);
  std::string shim = LayerListing(dir.Join("a"), m.layers[0]);
  EXPECT_NE(shim.find("-rwxr-xr-x 0/0 1970-01-01 00:00 usr/local/bin/wandb-job\n"),
            std::string::npos)
      << shim;
  EXPECT_NE(shim.find("libc.so.6"), std::string::npos) << shim;
  EXPECT_NE(shim.find("ld-linux"), std::string::npos) << shim;
  std::string libs = LayerListing(dir.Join("a"), m.layers[1]);
  EXPECT_EQ(libs, "drwxrwxrwt 0/0 2023-11-14 22:13 tmp/\n");  // libc and the loader are below
  std::string top = LayerListing(dir.Join("a"), m.layers[2]);
  EXPECT_NE(top.find("-rw-r--r-- 0/0 2023-11-14 22:13 etc/wandb-job/job.json\n"), std::string::npos)
      << top;
  EXPECT_EQ(RunShell(dir.Join("a"), "gzip -dc blobs/sha256/" + m.layers[2].digest.substr(7) +
                                        " | tar -xO etc/wandb-job/job.json"),
            "{\n  \"config\": {\n    \"lr\": 0.01,\n    \"opt\": {\n      \"name\": \"sgd\"\n"
            "    }\n  },\n  \"args\": [\n    \"--lr\",\n    \"{lr}\",\n    \"--opt={opt.name}\"\n"
            "  ]\n}\n");

  // IMAGE_ENV may choose the store; no default config is an empty one.
  in.env = {"WANDB_JOB_STORE=/data/runs"};
  in.config.clear();
  ASSERT_TRUE(BuildBundleImage(in, dir.Join("b"), &err)) << err;
  ReadImage(dir.Join("b"), &m, &c);
  EXPECT_EQ(std::count_if(c.env.begin(), c.env.end(),
                          [](const std::string& e) { return e.rfind("WANDB_JOB_STORE=", 0) == 0; }),
            1);
  EXPECT_EQ(c.env.back(), "WANDB_JOB_STORE=/data/runs");

  // Without a shim: the program and its rendered ARGS, no job spec, no store.
  in.shim_file.clear();
  ASSERT_TRUE(BuildBundleImage(in, dir.Join("c"), &err)) << err;
  ReadImage(dir.Join("c"), &m, &c);
  EXPECT_EQ(c.entrypoint, std::vector<std::string>{"/usr/local/bin/t"});
  EXPECT_EQ(c.cmd, in.args);
  EXPECT_EQ(c.history.front(), "wandb-job: shared libraries");
  EXPECT_EQ(RunShell(dir.Join("c"),
                     "cat blobs/sha256/* | gzip -dc 2>/dev/null | "
                     "tar -t 2>/dev/null | grep -c wandb-job || true"),
            "0\n");
}

TEST(ImageBuilder, ShimLayerIsSharedAcrossJobsAndCommits) {
  ScopedTempDir dir;
  BundleImageInput one = ShimInput(dir);
  BundleImageInput two = one;
  RunShell(dir.path(), "cp /bin/ls other");
  two.target = "other";
  two.target_file = dir.Join("other");
  two.created = 1800000000;
  two.config = R"({"epochs":3})";
  two.args_template = {"{epochs}"};
  std::string err;
  two.closure.clear();
  ASSERT_TRUE(ResolveRuntimeClosure(two.target_file, ClosureOptions{}, &two.closure, &err));
  ASSERT_TRUE(BuildBundleImage(one, dir.Join("one"), &err)) << err;
  ASSERT_TRUE(BuildBundleImage(two, dir.Join("two"), &err)) << err;
  Manifest m1, m2;
  ImageConfig c1, c2;
  ReadImage(dir.Join("one"), &m1, &c1);
  ReadImage(dir.Join("two"), &m2, &c2);
  ASSERT_FALSE(m1.layers.empty());
  ASSERT_FALSE(m2.layers.empty());
  EXPECT_EQ(m1.layers[0].digest, m2.layers[0].digest);
  EXPECT_EQ(c1.diff_ids[0], c2.diff_ids[0]);
  EXPECT_NE(m1.layers.back().digest, m2.layers.back().digest);
  EXPECT_EQ(c2.entrypoint.back(), "/usr/local/bin/other");
}

TEST(ImageBuilder, ShimWithBaseImageRunsThroughTheLoader) {
  ScopedTempDir dir;
  BundleImageInput in = ShimInput(dir);
  in.base_image = "debian:12";
  std::string err;
  ASSERT_TRUE(BuildBundleImage(in, dir.Join("a"), &err)) << err;
  Manifest m;
  ImageConfig c;
  ReadImage(dir.Join("a"), &m, &c);
  ASSERT_EQ(c.entrypoint.size(), 8u);
  const std::string& loader = c.entrypoint[0];
  EXPECT_EQ(loader.rfind("/opt/wandb-job/lib/ld-", 0), 0u) << loader;
  EXPECT_EQ(c.entrypoint, (std::vector<std::string>{loader, "/usr/local/bin/wandb-job", "exec",
                                                    "--job-spec", "/etc/wandb-job/job.json", "--",
                                                    loader, "/usr/local/bin/t"}));
  // ARGS after the program replace the job spec's: the template follows it.
  EXPECT_EQ(c.cmd, in.args_template);
  EXPECT_NE(std::find(c.env.begin(), c.env.end(), "LD_LIBRARY_PATH=/opt/wandb-job/lib"),
            c.env.end());
}

TEST(ImageBuilder, ShimErrors) {
  ScopedTempDir dir;
  BundleImageInput in = ShimInput(dir);
  std::string err;
  in.config = "[1]";
  EXPECT_FALSE(BuildBundleImage(in, dir.Join("a"), &err));
  EXPECT_EQ(err, "writing the run shim's job spec: the default config is not a JSON object");
  in.config = "{";
  EXPECT_FALSE(BuildBundleImage(in, dir.Join("a"), &err));
  EXPECT_EQ(err, "writing the run shim's job spec: the default config is not a JSON object");
  in.config = "{}";
  WriteTestFile(dir.path(), "script", "#!/bin/sh\n");
  in.shim_file = dir.Join("script");
  EXPECT_FALSE(BuildBundleImage(in, dir.Join("a"), &err));
  EXPECT_EQ(err, "preparing the run shim " + dir.Join("script") +
                     " for the image: " + dir.Join("script") + " is not an ELF file");
}

}  // namespace
}  // namespace wandb_job
