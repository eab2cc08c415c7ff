#include "bundle.h"
#include "launch_files.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "file_util.h"
#include "log.h"
#include "test_util.h"

namespace wandb_job {
namespace {

// A project tree, a fake built target and the spec wandb_add_job() would have written.
class BundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The capture reads CI variables; the project's own CI must not change these tests.
    unsetenv("GITHUB_ACTIONS");
    unsetenv("GITLAB_CI");
    src_ = dir_.Join("src");
    build_ = dir_.Join("build");
    WriteTestFile(src_, "CMakeLists.txt", "project(demo)\n");
    WriteTestFile(src_, "train.cc", "int main() {}\n");
    WriteTestFile(dir_.path(), "templates/Dockerfile.in",
                  "FROM @BASE_IMAGE@\n@PACKAGES_STEP@\nRUN @CONFIGURE@ && @BUILD@\n"
                  "RUN install @TARGET_FILE@ /usr/local/bin/@PROGRAM@\nENTRYPOINT @ENTRYPOINT@\n");
    // The helper's sources, which artifact jobs carry: tests stay out.
    tool_src_ = dir_.Join("wandb-job");
    for (const char* f : {"CMakeLists.txt", "cmake/WandbJob.cmake", "include/wandb/job.h",
                          "tool/CMakeLists.txt", "tool/main.cc", "tool/main_test.cc"}) {
      WriteTestFile(tool_src_, f, std::string("// ") + f + "\n");
    }
    WriteTestFile(build_, "train", "not an ELF file");
    spec_ = {{"format", 1},
             {"target", "train"},
             {"name", ""},
             {"entity", ""},
             {"project", "demo"},
             {"source", ""},
             {"description", "a demo"},
             {"aliases", nlohmann::json::array()},
             {"args", {"--lr", "{lr}"}},
             {"config", {"lr=0.01", "model.depth=3"}},
             {"config_file", ""},
             {"lockfiles", nlohmann::json::array()},
             {"code_dir", ""},
             {"exclude", nlohmann::json::array()},
             {"dockerfile", ""},
             {"build_context", ""},
             {"base_image", ""},
             {"image", ""},
             {"extra_files", ""},
             {"cmake",
              {{"source_dir", src_},
               {"binary_dir", build_},
               {"target_source_dir", src_},
               {"project_name", "demo"},
               {"version", "3.25.1"},
               {"generator", "Ninja"},
               {"cxx_compiler_id", "GNU"},
               {"cxx_compiler_version", "12.2.0"},
               {"system_name", "Linux"},
               {"system_processor", "x86_64"},
               {"fetchcontent_base_dir", build_ + "/_deps"},
               {"templates_dir", dir_.Join("templates")},
               {"module_file", tool_src_ + "/cmake/WandbJob.cmake"},
               {"tool_source_dir", tool_src_}}}};
  }

  bool Capture(const std::string& out, std::string* err) {
    WriteTestFile(build_, "spec.json", spec_.dump());
    BundleOptions o;
    o.spec_path = build_ + "/spec.json";
    o.out_dir = out;
    o.depfile = out + ".d";
    o.target_file = build_ + "/train";
    o.build_type = "Release";
    o.cxx_standard = "17";
    return WriteBundle(o, err);
  }

  std::string Read(const std::string& path) {
    std::string contents, err;
    EXPECT_TRUE(ReadFile(path, &contents, &err)) << err;
    return contents;
  }

  ScopedTempDir dir_;
  std::string src_, build_, tool_src_;
  nlohmann::json spec_;
};

TEST_F(BundleTest, ArtifactJobOutsideGit) {
  std::string err;
  std::string out = build_ + "/wandb-jobs/train/bundle";
  ASSERT_TRUE(Capture(out, &err)) << err;
  Bundle b;
  ASSERT_TRUE(LoadBundle(out, &b, &err)) << err;
  EXPECT_EQ(b.source_type, "artifact");
  EXPECT_EQ(b.job.name, "job-source-demo-train");
  EXPECT_EQ(b.code.name, "source-demo-train");
  EXPECT_EQ(b.job.aliases, std::vector<std::string>{"latest"});
  ASSERT_TRUE(b.has_code);
  EXPECT_NE(b.code.manifest.Find("train.cc"), nullptr);
  EXPECT_NE(b.code.manifest.Find("Dockerfile.wandb"), nullptr);
  EXPECT_NE(b.job.manifest.Find("requirements.frozen.txt"), nullptr);
  EXPECT_NE(b.job.manifest.Find("wandb-job.lock.json"), nullptr);
  EXPECT_EQ(b.job.manifest.Find("diff.patch"), nullptr);
  // The run shim renders ARGS at run time from the job spec the code carries.
  EXPECT_EQ(b.entrypoint,
            (std::vector<std::string>{"/usr/local/bin/wandb-job", "exec", "--job-spec",
                                      "/src/.wandb-job/job.json", "--", "/usr/local/bin/train"}));
  for (const char* f : {".wandb-job/job.json", ".wandb-job/configure.json",
                        ".wandb-job/cmake/WandbJobConfig.cmake",
                        ".wandb-job/cmake/WandbJobConfigVersion.cmake",
                        ".wandb-job/cmake/WandbJob.cmake", ".wandb-job/include/wandb/job.h",
                        ".wandb-job/wandb-job-src.tar"}) {
    EXPECT_NE(b.code.manifest.Find(f), nullptr) << f;
  }
  nlohmann::json shim_spec = nlohmann::json::parse(Read(out + "/code/.wandb-job/job.json"));
  EXPECT_EQ(shim_spec["args"], nlohmann::json({"--lr", "{lr}"}));
  EXPECT_EQ(shim_spec["config"]["lr"], 0.01);
  ConfigureRecord record;
  ASSERT_TRUE(ConfigureRecord::FromJson(Read(out + "/code/.wandb-job/configure.json"), &record,
                                        &err))
      << err;
  EXPECT_EQ(record.target, "train");
  EXPECT_EQ(record.build_type, "Release");
  EXPECT_EQ(record.source_subdir, "");
  EXPECT_EQ(record.target_relpath, "train");
  std::string tar = Read(out + "/code/.wandb-job/wandb-job-src.tar");
  EXPECT_NE(tar.find("tool/main.cc"), std::string::npos);
  EXPECT_EQ(tar.find("main_test.cc"), std::string::npos);

  nlohmann::ordered_json job = nlohmann::ordered_json::parse(Read(out + "/job/wandb-job.json"));
  EXPECT_EQ(job["_version"], "0.17.0");  // dockerfile is set
  EXPECT_EQ(job["source"]["artifact"], "wandb-artifact://_id/@WANDB_JOB_CODE_ARTIFACT_ID@");
  EXPECT_EQ(job["source"]["dockerfile"], "Dockerfile.wandb");
  EXPECT_EQ(job["input_types"]["params"]["type_map"]["model"]["params"]["type_map"]["depth"]
                ["wb_type"],
            "number");
  EXPECT_FALSE(job["source"].contains("base_image"));
  std::string dockerfile = Read(out + "/code/Dockerfile.wandb");
  EXPECT_EQ(dockerfile.rfind("FROM debian:12\n\nRUN cmake -S /src -B /build -G Ninja ", 0), 0u)
      << dockerfile;
  EXPECT_NE(dockerfile.find("-DWandbJob_DIR=/src/.wandb-job/cmake"), std::string::npos);
  EXPECT_NE(dockerfile.find("&& cmake --build /build --target train\n"), std::string::npos);
  EXPECT_NE(dockerfile.find("RUN install /build/train /usr/local/bin/train\n"),
            std::string::npos);
  EXPECT_NE(dockerfile.find("ENTRYPOINT [\"/usr/local/bin/wandb-job\",\"exec\",\"--job-spec\","
                            "\"/src/.wandb-job/job.json\",\"--\",\"/usr/local/bin/train\"]"),
            std::string::npos)
      << dockerfile;

  std::string depfile = Read(out + ".d");
  EXPECT_NE(depfile.find(src_ + "/train.cc"), std::string::npos) << depfile;
  EXPECT_NE(depfile.find(build_ + "/train"), std::string::npos) << depfile;
  EXPECT_NE(depfile.find(tool_src_ + "/tool/main.cc"), std::string::npos) << depfile;
}

// BASE_IMAGE, PACKAGES, CMAKE_ARGS and a toolchain file in the code shape the generated
// Dockerfile; the configure record keeps them for `wandb-job run`.
TEST_F(BundleTest, ArtifactJobBuildSettings) {
  WriteTestFile(src_, "cmake/cross.cmake", "set(X 1)\n");
  spec_["base_image"] = "ubuntu:24.04";
  spec_["packages"] = {"libeigen3-dev"};
  spec_["cmake_args"] = {"-DBUILD_EXAMPLES=ON", "-DGREETING:STRING=a b"};
  spec_["cmake"]["toolchain_file"] = src_ + "/cmake/cross.cmake";
  std::string err;
  std::string out = dir_.Join("bundle");
  ASSERT_TRUE(Capture(out, &err)) << err;
  nlohmann::json job = nlohmann::json::parse(Read(out + "/job/wandb-job.json"));
  EXPECT_FALSE(job["source"].contains("base_image"));  // or the agent would skip the build
  std::string dockerfile = Read(out + "/code/Dockerfile.wandb");
  EXPECT_EQ(dockerfile.rfind("FROM ubuntu:24.04\n", 0), 0u) << dockerfile;
  EXPECT_NE(dockerfile.find("--no-install-recommends \\\n      libeigen3-dev \\\n"),
            std::string::npos)
      << dockerfile;
  EXPECT_NE(dockerfile.find(" -DCMAKE_TOOLCHAIN_FILE=/src/cmake/cross.cmake "), std::string::npos)
      << dockerfile;
  EXPECT_NE(dockerfile.find(" -DBUILD_EXAMPLES=ON '-DGREETING:STRING=a b' && "),
            std::string::npos)
      << dockerfile;
  ConfigureRecord record;
  ASSERT_TRUE(ConfigureRecord::FromJson(Read(out + "/code/.wandb-job/configure.json"), &record,
                                        &err))
      << err;
  EXPECT_EQ(record.toolchain_file, "cmake/cross.cmake");
  EXPECT_EQ(record.cmake_args,
            (std::vector<std::string>{"-DBUILD_EXAMPLES=ON", "-DGREETING:STRING=a b"}));

  // A toolchain file outside the code is left out, with a note.
  WriteTestFile(dir_.path(), "elsewhere.cmake", "\n");
  spec_["cmake"]["toolchain_file"] = dir_.Join("elsewhere.cmake");
  ASSERT_TRUE(Capture(out, &err)) << err;
  ASSERT_TRUE(ConfigureRecord::FromJson(Read(out + "/code/.wandb-job/configure.json"), &record,
                                        &err))
      << err;
  EXPECT_EQ(record.toolchain_file, "");
}

// Names the depfile's readers (CMake's transform, ninja, make) cannot spell are listed through
// links that lead to the very files; every other entry is spelled with safe characters only.
TEST_F(BundleTest, DepfileNamesOddFileNamesThroughLinks) {
  const std::vector<std::string> odd = {"new\nline.cc", "quo'te.cc", "dq\"uote.cc",
                                        "back\\slash.cc", "ha#sh.cc", "dol$lar.cc", "sp ace.cc",
                                        "co:lon.cc"};
  for (const std::string& name : odd) {
    WriteTestFile(src_, name, "// " + name);
  }
  std::string err;
  std::string out = build_ + "/wandb-jobs/train/bundle";
  ASSERT_TRUE(Capture(out, &err)) << err;
  for (const std::string& name : odd) {
    EXPECT_TRUE(FileExists(out + "/code/" + name)) << name;
  }
  std::string depfile = Read(out + ".d");
  std::set<std::string> reached;
  size_t start = depfile.find(": \\\n  ");
  ASSERT_NE(start, std::string::npos) << depfile;
  std::string rest = depfile.substr(start + 6);
  for (size_t pos = 0; pos < rest.size();) {
    size_t end = rest.find(" \\\n  ", pos);
    std::string entry = rest.substr(pos, end == std::string::npos ? rest.size() - pos - 1
                                                                   : end - pos);
    pos = end == std::string::npos ? rest.size() : end + 5;
    std::string path;
    for (size_t i = 0; i < entry.size(); ++i) {
      ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(entry[i])) ||
                  std::strchr("/._+,@~=-\\ ", entry[i]) != nullptr)
          << entry;
      if (entry[i] == '\\') {
        ASSERT_EQ(entry[i + 1], ' ') << entry;  // only an escaped space
        continue;
      }
      path += entry[i];
    }
    std::string real;
    ASSERT_TRUE(RealPath(path, &real, &err)) << err;
    reached.insert(real);
  }
  for (const std::string& name : odd) {
    std::string real;
    ASSERT_TRUE(RealPath(src_ + "/" + name, &real, &err)) << err;
    EXPECT_EQ(reached.count(real), 1u) << name << "\n" << depfile;
  }
  EXPECT_EQ(reached.count(src_ + "/train.cc"), 1u) << depfile;
}

// An interrupted capture's temporary directory is gone after the next run, unless its writer
// still runs.
TEST_F(BundleTest, NextRunRemovesStaleTemporaryDirectories) {
  std::string out = build_ + "/wandb-jobs/train/bundle";
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    _exit(0);
  }
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  std::string dead = out + ".tmp." + std::to_string(child) + ".123";
  std::string legacy = out + ".tmp.38974502313141592653";
  std::string live = out + ".tmp." + std::to_string(getpid()) + ".456";
  for (const std::string& d : {dead, legacy, live}) {
    WriteTestFile(d, "job/wandb-job.json", "{}");
  }
  WriteTestFile(build_ + "/wandb-jobs/train", "other.tmp.1", "not ours");
  std::string err;
  ASSERT_TRUE(Capture(out, &err)) << err;
  EXPECT_FALSE(FileExists(dead));
  EXPECT_FALSE(FileExists(legacy));
  EXPECT_TRUE(FileExists(live));
  EXPECT_TRUE(FileExists(build_ + "/wandb-jobs/train/other.tmp.1"));
}

// A FIFO and a link out of the tree in the code: capture finishes,
// takes neither, and the link's target never reaches the bundle.
TEST_F(BundleTest, FifoAndLinkOutOfTheTreeAreLeftOut) {
  WriteTestFile(dir_.path(), "home/.ssh/id_rsa", "PRIVATE KEY MATERIAL");
  ASSERT_EQ(symlink(dir_.Join("home/.ssh/id_rsa").c_str(), (src_ + "/notes.txt").c_str()), 0);
  ASSERT_EQ(mkfifo((src_ + "/pipe").c_str(), 0644), 0);
  std::string err;
  std::string out = build_ + "/wandb-jobs/train/bundle";
  ASSERT_TRUE(Capture(out, &err)) << err;
  Bundle b;
  ASSERT_TRUE(LoadBundle(out, &b, &err)) << err;
  EXPECT_EQ(b.code.manifest.Find("notes.txt"), nullptr);
  EXPECT_EQ(b.code.manifest.Find("pipe"), nullptr);
  EXPECT_NE(b.code.manifest.Find("train.cc"), nullptr);
  EXPECT_FALSE(FileExists(out + "/code/notes.txt"));
}

TEST_F(BundleTest, MaxFileSizeFromTheSpec) {
  WriteTestFile(src_, "weights.bin", std::string(2048, 'w'));
  spec_["max_file_size"] = 1024;
  std::string err;
  std::string out = build_ + "/wandb-jobs/train/bundle";
  EXPECT_FALSE(Capture(out, &err));
  EXPECT_EQ(err,
            "capturing job for target train: weights.bin is 2048 bytes, over the limit of 1024 "
            "bytes per code file; leave it out (EXCLUDE or .wandbignore) or raise MAX_FILE_SIZE");
  EXPECT_FALSE(FileExists(out));
  spec_["max_file_size"] = -1;
  EXPECT_FALSE(Capture(out, &err));
  EXPECT_NE(err.find("max_file_size"), std::string::npos) << err;
  spec_["max_file_size"] = 0;
  ASSERT_TRUE(Capture(out, &err)) << err;
}

TEST_F(BundleTest, SameInputsSameBytesInAnotherBuildDirectory) {
  std::string err;
  ASSERT_TRUE(Capture(dir_.Join("one/bundle"), &err)) << err;
  ASSERT_TRUE(Capture(dir_.Join("two/bundle"), &err)) << err;
  for (const char* f : {"bundle.json", "job.manifest.json", "code.manifest.json",
                        "job/wandb-job.json", "job/wandb-job.lock.json"}) {
    EXPECT_EQ(Read(dir_.Join(std::string("one/bundle/") + f)),
              Read(dir_.Join(std::string("two/bundle/") + f)))
        << f;
  }
  std::string all = Read(dir_.Join("one/bundle/bundle.json")) +
                    Read(dir_.Join("one/bundle/job/wandb-job.lock.json"));
  EXPECT_EQ(all.find(dir_.path()), std::string::npos) << all;
}

TEST_F(BundleTest, RepoJobFromGitRemote) {
  MakeTestRepo(src_, {});
  RunShell(src_, "git remote add origin https://user:s3cret@github.com/acme/demo.git");
  std::string err;
  std::string out = dir_.Join("bundle");
  ASSERT_TRUE(Capture(out, &err)) << err;
  Bundle b;
  ASSERT_TRUE(LoadBundle(out, &b, &err)) << err;
  EXPECT_EQ(b.source_type, "repo");
  EXPECT_EQ(b.job.name, "job-https___github.com_acme_demo.git_train");
  EXPECT_FALSE(b.has_code);
  std::string job = Read(out + "/job/wandb-job.json");
  EXPECT_EQ(job.find("s3cret"), std::string::npos);
  EXPECT_NE(job.find("\"remote\": \"https://github.com/acme/demo.git\""), std::string::npos)
      << job;
  EXPECT_EQ(job.rfind("{\n    \"_version\": \"v0\",\n    \"source_type\": \"repo\",", 0), 0u)
      << job;
  // The entrypoint runs the program under the shim, ARGS rendered by the shim, not baked in.
  EXPECT_EQ(b.entrypoint,
            (std::vector<std::string>{"/usr/local/bin/wandb-job", "exec", "--job-spec",
                                      "/src/.wandb-job/job.json", "--", "/usr/local/bin/train"}));
  EXPECT_EQ(job.find("0.01"), std::string::npos) << job;
  // What the repository must hold for the agent's build: in launch/, not in an artifact.
  EXPECT_EQ(Read(out + "/launch/.wandb-job/job.json"),
            "{\n  \"config\": {\n    \"lr\": 0.01,\n    \"model\": {\n      \"depth\": 3\n"
            "    }\n  },\n  \"args\": [\n    \"--lr\",\n    \"{lr}\"\n  ]\n}\n");
  std::string dockerfile = Read(out + "/launch/Dockerfile.wandb");
  EXPECT_NE(dockerfile.find("ENTRYPOINT [\"/usr/local/bin/wandb-job\",\"exec\",\"--job-spec\","
                            "\"/src/.wandb-job/job.json\",\"--\",\"/usr/local/bin/train\"]"),
            std::string::npos)
      << dockerfile;
  EXPECT_NE(dockerfile.find("-DWandbJob_DIR=/src/.wandb-job/cmake"), std::string::npos)
      << dockerfile;
  for (const char* f : {"configure.json", "cmake/WandbJobConfig.cmake", "wandb-job-src.tar"}) {
    EXPECT_TRUE(FileExists(out + "/launch/.wandb-job/" + f)) << f;
  }
  EXPECT_EQ(b.job.manifest.Find("launch/Dockerfile.wandb"), nullptr);
}

// Warnings a capture issued while running `capture`.
template <typename F>
std::vector<std::string> WarningsOf(F capture) {
  size_t before = WarningsIssued().size();
  capture();
  return {WarningsIssued().begin() + before, WarningsIssued().end()};
}

bool AnyContains(const std::vector<std::string>& lines, const std::string& what) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(what) != std::string::npos; });
}

TEST_F(BundleTest, DockerfileCommandWritesWhatARepoJobCommits) {
  // Like templates/Dockerfile.in, the Dockerfile begins with the header that marks it as ours.
  WriteTestFile(dir_.path(), "templates/Dockerfile.in",
                "# Generated by wandb-job for @TARGET@\nFROM @BASE_IMAGE@\nRUN @CONFIGURE@\n"
                "RUN install @TARGET_FILE@ /usr/local/bin/@PROGRAM@\nENTRYPOINT @ENTRYPOINT@\n");
  MakeTestRepo(src_, {});
  RunShell(src_, "git remote add origin https://github.com/acme/demo.git");
  std::string err;
  std::string out = dir_.Join("bundle");
  ASSERT_TRUE(Capture(out, &err)) << err;
  std::vector<std::string> written;
  ASSERT_TRUE(WriteRepoLaunchFiles(out, src_, &written, &err)) << err;
  EXPECT_EQ(written.front(), ".wandb-job/cmake/WandbJob.cmake");
  EXPECT_NE(std::find(written.begin(), written.end(), "Dockerfile.wandb"), written.end());
  EXPECT_EQ(Read(src_ + "/Dockerfile.wandb"), Read(out + "/launch/Dockerfile.wandb"));
  EXPECT_EQ(Read(src_ + "/.wandb-job/job.json"), Read(out + "/launch/.wandb-job/job.json"));
  // Written again (after a change of CONFIG): the files of the first call are overwritten.
  ASSERT_TRUE(WriteRepoLaunchFiles(out, src_, &written, &err)) << err;

  // With the written files as DOCKERFILE, the capture has nothing to warn about the image.
  spec_["dockerfile"] = src_ + "/Dockerfile.wandb";
  std::vector<std::string> warned = WarningsOf([&] { EXPECT_TRUE(Capture(out, &err)) << err; });
  EXPECT_FALSE(AnyContains(warned, "DOCKERFILE")) << testing::PrintToString(warned);
  EXPECT_FALSE(AnyContains(warned, ".wandb-job/job.json")) << testing::PrintToString(warned);
  Bundle b;
  ASSERT_TRUE(LoadBundle(out, &b, &err)) << err;
  EXPECT_EQ(b.entrypoint[0], "/usr/local/bin/wandb-job");
  EXPECT_NE(Read(out + "/job/wandb-job.json").find("\"dockerfile\": \"Dockerfile.wandb\""),
            std::string::npos);

  // A changed CONFIG makes the committed job spec stale.
  spec_["config"] = {"lr=0.02"};
  warned = WarningsOf([&] { EXPECT_TRUE(Capture(out, &err)) << err; });
  EXPECT_TRUE(AnyContains(warned, ".wandb-job/job.json differs from this job's CONFIG and ARGS"))
      << testing::PrintToString(warned);

  // Without the committed job spec, and with a Dockerfile that builds no shim.
  std::remove((src_ + "/.wandb-job/job.json").c_str());
  WriteTestFile(src_, "Dockerfile.wandb", "FROM debian:12\nRUN install train /usr/local/bin/\n");
  warned = WarningsOf([&] { EXPECT_TRUE(Capture(out, &err)) << err; });
  EXPECT_TRUE(AnyContains(warned, ".wandb-job/job.json is not in the repository"))
      << testing::PrintToString(warned);
  EXPECT_TRUE(AnyContains(warned, "never names wandb-job or /src"))
      << testing::PrintToString(warned);
}

TEST_F(BundleTest, DockerfileCommandErrors) {
  std::string err;
  std::vector<std::string> written;
  // An artifact job's bundle: its code carries its own Dockerfile.
  ASSERT_TRUE(Capture(dir_.Join("art"), &err)) << err;
  EXPECT_FALSE(WriteRepoLaunchFiles(dir_.Join("art"), src_, &written, &err));
  EXPECT_NE(err.find("is of an artifact job; only repo jobs need a committed Dockerfile"),
            std::string::npos)
      << err;
  EXPECT_FALSE(WriteRepoLaunchFiles(dir_.Join("nothing"), src_, &written, &err));

  MakeTestRepo(src_, {});
  RunShell(src_, "git remote add origin https://github.com/acme/demo.git");
  std::string out = dir_.Join("bundle");
  ASSERT_TRUE(Capture(out, &err)) << err;
  EXPECT_FALSE(WriteRepoLaunchFiles(out, dir_.Join("missing"), &written, &err));
  EXPECT_NE(err.find("--out-dir " + dir_.Join("missing") + " is not a directory"),
            std::string::npos)
      << err;

  // A Dockerfile.wandb of the user's is never overwritten.
  WriteTestFile(dir_.Join("user"), "Dockerfile.wandb", "FROM mine\n");
  EXPECT_FALSE(WriteRepoLaunchFiles(out, dir_.Join("user"), &written, &err));
  EXPECT_NE(err.find("Dockerfile.wandb exists and was not written by wandb-job"),
            std::string::npos)
      << err;
  EXPECT_EQ(Read(dir_.Join("user/Dockerfile.wandb")), "FROM mine\n");
  EXPECT_FALSE(FileExists(dir_.Join("user/.wandb-job")));

  // A Dockerfile.wandb that `wandb-job dockerfile` wrote is overwritten.
  WriteTestFile(dir_.Join("ours"), "Dockerfile.wandb", "# Generated by wandb-job for train\n");
  EXPECT_TRUE(WriteRepoLaunchFiles(out, dir_.Join("ours"), &written, &err)) << err;
  EXPECT_EQ(Read(dir_.Join("ours/Dockerfile.wandb")), Read(out + "/launch/Dockerfile.wandb"));

  // A bundle of an older wandb-job, without launch/.
  RunShell(out, "rm -rf launch");
  EXPECT_FALSE(WriteRepoLaunchFiles(out, src_, &written, &err));
  EXPECT_NE(err.find("has no launch/ directory; rebuild the job's bundle"), std::string::npos)
      << err;
}

TEST_F(BundleTest, RepoJobWithBaseImageNeedsDockerfile) {
  MakeTestRepo(src_, {});
  RunShell(src_, "git remote add origin https://github.com/acme/demo.git");
  spec_["base_image"] = "ubuntu:24.04";
  std::string err;
  // The default source: an artifact job, whose generated Dockerfile builds FROM BASE_IMAGE.
  ASSERT_TRUE(Capture(dir_.Join("auto"), &err)) << err;
  Bundle b;
  ASSERT_TRUE(LoadBundle(dir_.Join("auto"), &b, &err)) << err;
  EXPECT_EQ(b.source_type, "artifact");
  EXPECT_EQ(Read(dir_.Join("auto/code/Dockerfile.wandb")).rfind("FROM ubuntu:24.04\n", 0), 0u);
  // SOURCE repo: one line naming the ways out.
  spec_["source"] = "repo";
  EXPECT_FALSE(Capture(dir_.Join("repo"), &err));
  EXPECT_NE(err.find("SOURCE repo with BASE_IMAGE needs DOCKERFILE"), std::string::npos) << err;
  EXPECT_NE(err.find("or use SOURCE artifact"), std::string::npos) << err;
  EXPECT_FALSE(FileExists(dir_.Join("repo")));
}

TEST_F(BundleTest, Errors) {
  std::string err;
  spec_["args"] = {"--x", "{missing}"};
  EXPECT_FALSE(Capture(dir_.Join("b1"), &err));
  EXPECT_NE(err.find("{missing}"), std::string::npos) << err;
  EXPECT_FALSE(FileExists(dir_.Join("b1")));

  spec_["args"] = nlohmann::json::array();
  spec_["source"] = "repo";
  EXPECT_FALSE(Capture(dir_.Join("b2"), &err));
  EXPECT_NE(err.find("SOURCE repo needs a git repository"), std::string::npos) << err;

  spec_["source"] = "";
  WriteTestFile(src_, "Dockerfile.wandb", "FROM x\n");
  EXPECT_FALSE(Capture(dir_.Join("b3"), &err));
  EXPECT_NE(err.find("Dockerfile.wandb already exists"), std::string::npos) << err;

  std::remove((src_ + "/Dockerfile.wandb").c_str());
  WriteTestFile(src_, ".wandb-job/job.json", "{}");
  EXPECT_FALSE(Capture(dir_.Join("b3b"), &err));
  EXPECT_NE(err.find(".wandb-job/ already exists"), std::string::npos) << err;
  std::remove((src_ + "/.wandb-job/job.json").c_str());
  std::remove((src_ + "/.wandb-job").c_str());

  spec_["cmake"]["tool_source_dir"] = dir_.Join("nowhere");
  EXPECT_FALSE(Capture(dir_.Join("b3c"), &err));
  EXPECT_NE(err.find("the wandb-job sources are not at " + dir_.Join("nowhere")),
            std::string::npos)
      << err;
  spec_["cmake"]["tool_source_dir"] = tool_src_;

  WriteTestFile(src_, "sub/part.cc", "x");
  spec_["code_dir"] = src_ + "/sub";
  size_t warnings = WarningsIssued().size();
  EXPECT_TRUE(Capture(dir_.Join("b5"), &err)) << err;
  bool warned = false;
  for (size_t i = warnings; i < WarningsIssued().size(); ++i) {
    warned = warned || WarningsIssued()[i].find("lies outside CODE_DIR") != std::string::npos;
  }
  EXPECT_TRUE(warned);
  spec_["code_dir"] = "";

  // A DOCKERFILE that never installs to /usr/local/bin, where the entrypoint runs the program.
  WriteTestFile(src_, "docker/Dockerfile", "FROM debian:12\nRUN make\n");
  spec_["dockerfile"] = src_ + "/docker/Dockerfile";
  warnings = WarningsIssued().size();
  EXPECT_TRUE(Capture(dir_.Join("b5b"), &err)) << err;
  warned = false;
  for (size_t i = warnings; i < WarningsIssued().size(); ++i) {
    warned = warned || WarningsIssued()[i].find("never names /usr/local/bin; the job's entrypoint "
                                                "runs /usr/local/bin/train") != std::string::npos;
  }
  EXPECT_TRUE(warned);
  WriteTestFile(src_, "docker/Dockerfile",
                "FROM debian:12\nRUN make && install train /usr/local/bin/\n");
  warnings = WarningsIssued().size();
  EXPECT_TRUE(Capture(dir_.Join("b5c"), &err)) << err;
  for (size_t i = warnings; i < WarningsIssued().size(); ++i) {
    EXPECT_EQ(WarningsIssued()[i].find("never names"), std::string::npos) << WarningsIssued()[i];
  }
  spec_["dockerfile"] = "";
  std::remove((src_ + "/docker/Dockerfile").c_str());

  WriteTestFile(src_, "config.json", "[1, 2]");
  spec_["config_file"] = src_ + "/config.json";
  EXPECT_FALSE(Capture(dir_.Join("b4"), &err));
  EXPECT_NE(err.find("is not a JSON object"), std::string::npos) << err;
}

// An image job from a real executable: names, aliases, the image settings in the layout, the
// job's record of the image digest, and the image files as depfile inputs.
TEST_F(BundleTest, ImageJob) {
  std::string err;
  ASSERT_TRUE(CopyFile("/bin/true", build_ + "/train", 0755, &err)) << err;
  WriteTestFile(src_, "data/vocab.txt", "a b c\n");
  WriteTestFile(src_, "data/sub/more.txt", "more\n");
  WriteTestFile(src_, "motd", "hi\n");
  spec_["image"] = "127.0.0.1:5000/acme/train:1.0";
  spec_["aliases"] = {"stable"};
  using nlohmann::json;  // {{a, b}, ...} would make an object of the pairs.
  spec_["image_files"] = json::array({json::array({src_ + "/motd", "/etc/motd"}),
                                      json::array({src_ + "/data", "/opt/data"})});
  spec_["image_env"] = {"OMP_NUM_THREADS=4"};
  spec_["image_working_dir"] = "/work";
  spec_["image_user"] = "1000:1000";
  std::string out = build_ + "/wandb-jobs/train/bundle";
  ASSERT_TRUE(Capture(out, &err)) << err;
  Bundle b;
  ASSERT_TRUE(LoadBundle(out, &b, &err)) << err;
  EXPECT_EQ(b.source_type, "image");
  EXPECT_EQ(b.job.name, "job-127.0.0.1_5000_acme_train");
  EXPECT_EQ(b.job.aliases, (std::vector<std::string>{"stable", "1.0", "latest"}));
  EXPECT_EQ(b.image, "127.0.0.1:5000/acme/train:1.0");
  EXPECT_NE(b.job.manifest.Find("wandb-job.image.json"), nullptr);

  nlohmann::json index = nlohmann::json::parse(Read(out + "/image/index.json"));
  std::string digest = index["manifests"][0]["digest"];
  nlohmann::json lock = nlohmann::json::parse(Read(out + "/job/wandb-job.image.json"));
  EXPECT_EQ(lock["layout_manifest_digest"], digest);
  EXPECT_EQ(lock["image"], "127.0.0.1:5000/acme/train:1.0");
  nlohmann::json manifest =
      nlohmann::json::parse(Read(out + "/image/blobs/sha256/" + digest.substr(7)));
  std::string config_digest = manifest["config"]["digest"];
  nlohmann::json config =
      nlohmann::json::parse(Read(out + "/image/blobs/sha256/" + config_digest.substr(7)));
  EXPECT_EQ(config["config"]["WorkingDir"], "/work");
  EXPECT_EQ(config["config"]["User"], "1000:1000");
  EXPECT_EQ(config["config"]["Env"].back(), "OMP_NUM_THREADS=4");
  // The run shim (this helper) is the entrypoint and renders ARGS from the image's job.json.
  EXPECT_EQ(config["config"]["Entrypoint"][0], "/usr/local/bin/wandb-job");
  EXPECT_FALSE(config["config"].contains("Cmd"));
  EXPECT_TRUE(IsDirectory(build_ + "/wandb-jobs/.layers")) << "layer cache";
  spec_["image_shim"] = false;  // IMAGE_SHIM OFF: the program with ARGS rendered as Cmd.
  ASSERT_TRUE(Capture(dir_.Join("noshim"), &err)) << err;
  nlohmann::json noshim_index = nlohmann::json::parse(Read(dir_.Join("noshim/image/index.json")));
  std::string noshim_digest = noshim_index["manifests"][0]["digest"];
  manifest = nlohmann::json::parse(
      Read(dir_.Join("noshim/image/blobs/sha256/") + noshim_digest.substr(7)));
  config_digest = manifest["config"]["digest"];
  config = nlohmann::json::parse(
      Read(dir_.Join("noshim/image/blobs/sha256/") + config_digest.substr(7)));
  EXPECT_EQ(config["config"]["Entrypoint"], (std::vector<std::string>{"/usr/local/bin/train"}));
  EXPECT_EQ(config["config"]["Cmd"], (std::vector<std::string>{"--lr", "0.01"}));
  spec_.erase("image_shim");

  nlohmann::json job = nlohmann::json::parse(Read(out + "/job/wandb-job.json"));
  EXPECT_EQ(job["source"]["image"], "127.0.0.1:5000/acme/train:1.0");
  EXPECT_FALSE(job["source"].contains("base_image"));

  std::string depfile = Read(out + ".d");
  for (const std::string& f : {src_ + "/motd", src_ + "/data/vocab.txt",
                               src_ + "/data/sub/more.txt", src_ + "/data/sub"}) {
    EXPECT_NE(depfile.find(f), std::string::npos) << f << "\n" << depfile;
  }

  // Same inputs, same digest; a changed image file, another digest and job record.
  ASSERT_TRUE(Capture(out, &err)) << err;
  EXPECT_EQ(nlohmann::json::parse(Read(out + "/image/index.json")), index);
  WriteTestFile(src_, "motd", "changed\n");
  ASSERT_TRUE(Capture(out, &err)) << err;
  EXPECT_NE(nlohmann::json::parse(Read(out + "/job/wandb-job.image.json"))
                ["layout_manifest_digest"],
            digest);

  // A BASE_IMAGE is the image's base, recorded for the push; the job names no base_image.
  spec_["base_image"] = "debian:12-slim";
  ASSERT_TRUE(Capture(out, &err)) << err;
  job = nlohmann::json::parse(Read(out + "/job/wandb-job.json"));
  EXPECT_FALSE(job["source"].contains("base_image"));
  index = nlohmann::json::parse(Read(out + "/image/index.json"));
  digest = index["manifests"][0]["digest"];
  manifest = nlohmann::json::parse(Read(out + "/image/blobs/sha256/" + digest.substr(7)));
  EXPECT_EQ(manifest["annotations"]["org.opencontainers.image.base.name"], "debian:12-slim");
  EXPECT_EQ(nlohmann::json::parse(Read(out + "/job/wandb-job.image.json"))["base_image"],
            "debian:12-slim");

  // A missing image file fails the capture and leaves the bundle as it was.
  spec_["image_files"] = json::array({json::array({src_ + "/gone.txt", "/gone.txt"})});
  EXPECT_FALSE(Capture(out, &err));
  EXPECT_NE(err.find("IMAGE_FILES source " + src_ + "/gone.txt does not exist"),
            std::string::npos)
      << err;
  // A FIFO (a reader blocks) is refused with a line that names it.
  ASSERT_EQ(mkfifo((src_ + "/image-pipe").c_str(), 0644), 0);
  spec_["image_files"] = json::array({json::array({src_ + "/image-pipe", "/pipe"})});
  EXPECT_FALSE(Capture(out, &err));
  EXPECT_NE(err.find("IMAGE_FILES source " + src_ +
                     "/image-pipe is a FIFO; list regular files and directories only"),
            std::string::npos)
      << err;
  spec_["image_files"] = json::array({json::array({src_ + "/motd", "etc/motd"})});
  EXPECT_FALSE(Capture(out, &err));
  EXPECT_NE(err.find("not an absolute path"), std::string::npos) << err;
  EXPECT_TRUE(LoadBundle(out, &b, &err)) << err;
}

TEST_F(BundleTest, LoadRejectsDamage) {
  std::string err;
  std::string out = dir_.Join("bundle");
  Bundle b;
  EXPECT_FALSE(LoadBundle(out, &b, &err));
  EXPECT_NE(err.find("does not exist"), std::string::npos) << err;
  ASSERT_TRUE(Capture(out, &err)) << err;
  WriteTestFile(out, "code/train.cc", "changed size");
  EXPECT_FALSE(LoadBundle(out, &b, &err));
  EXPECT_NE(err.find("manifest says"), std::string::npos) << err;
  WriteTestFile(out, "bundle.json", "{\"format\": \"other\"}");
  EXPECT_FALSE(LoadBundle(out, &b, &err));
  EXPECT_NE(err.find("damaged"), std::string::npos) << err;
  // A format that is no string threw type_error.
  for (const char* text : {"{\"format\": 1}", "{\"format\": null}", "[\"format\"]", "7"}) {
    WriteTestFile(out, "bundle.json", text);
    EXPECT_FALSE(LoadBundle(out, &b, &err)) << text;
    EXPECT_EQ(err, "bundle " + out + " is damaged or of another version (bad bundle.json); "
                   "rebuild it") << text;
  }
}

// Every field of bundle.json is read with a checked type: a damaged one is one line, not a throw.
TEST_F(BundleTest, LoadNamesTheDamagedField) {
  using nlohmann::json;
  std::string err;
  std::string out = dir_.Join("bundle");
  ASSERT_TRUE(Capture(out, &err)) << err;
  const json good = json::parse(Read(out + "/bundle.json"));
  struct Case {
    const char* pointer;
    json value;
    const char* message;
  };
  const Case cases[] = {
      {"/entity", nullptr, "field entity must be a string"},
      {"/project", 7, "field project must be a string"},
      {"/source_type", json::array(), "field source_type must be a string"},
      {"/job", "x", "field job must be an object"},
      {"/job/name", nullptr, "field job.name must be a string"},
      {"/job/aliases", "latest", "field job.aliases must be an array of strings"},
      {"/job/aliases", json::array({"latest", 1}), "field job.aliases[1] must be a string"},
      {"/job/metadata", "m", "field job.metadata must be an object or null"},
      {"/job/files", "../..", "field job.files must be a path inside the bundle"},
      {"/job/manifest", "/etc/passwd", "field job.manifest must be a path inside the bundle"},
      {"/args", json::array({1}), "field args[0] must be a string"},
      {"/entrypoint", "prog", "field entrypoint must be an array of strings"},
      {"/git", 1, "field git must be an object"},
      {"/git/dirty", "yes", "field git.dirty must be true or false"},
      {"/git/commit", 1, "field git.commit must be a string"},
      {"/config", "{}", "field config must be an object"},
      {"/image", false, "field image must be a string"},
  };
  for (const Case& c : cases) {
    json damaged = good;
    damaged[json::json_pointer(c.pointer)] = c.value;
    WriteTestFile(out, "bundle.json", damaged.dump());
    Bundle b;
    EXPECT_FALSE(LoadBundle(out, &b, &err)) << c.pointer;
    EXPECT_EQ(err, "bundle " + out + " is damaged: " + c.message + "; rebuild it") << c.pointer;
  }
  json missing = good;
  missing.erase("entity");
  WriteTestFile(out, "bundle.json", missing.dump());
  Bundle b;
  EXPECT_FALSE(LoadBundle(out, &b, &err));
  EXPECT_EQ(err, "bundle " + out + " is damaged: field entity is missing; rebuild it");
  WriteTestFile(out, "bundle.json", good.dump());
  EXPECT_TRUE(LoadBundle(out, &b, &err)) << err;
}

}  // namespace
}  // namespace wandb_job
