#include "job_runner.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "file_util.h"
#include "hash.h"
#include "job_store.h"
#include "job_views.h"
#include "test_util.h"

namespace wandb_job {
namespace {

using nlohmann::json;

constexpr char kTypes[] = R"({"wb_type": "typedDict", "params": {"type_map": {
  "lr": {"wb_type": "number"},
  "optimizer": {"wb_type": "string"},
  "model": {"wb_type": "typedDict", "params": {"type_map": {"hidden": {"wb_type": "number"}}}}
}}})";

TEST(JobRunnerTest, OverridesAreTypedByTheJobsInputs) {
  std::string overrides, err;
  ASSERT_EQ(OverridesFromPairs({"lr=0.2", "optimizer=1", "model.hidden=8"}, "job-x", kTypes,
                               &overrides, &err),
            RunJobStatus::kRan)
      << err;
  EXPECT_EQ(json::parse(overrides),
            json::parse(R"({"lr": 0.2, "optimizer": "1", "model": {"hidden": 8}})"));
  // A whole object for a parent key; a JSON string for a string input stays as it is.
  ASSERT_EQ(OverridesFromPairs({R"(model={"hidden": 2})", R"(optimizer="adam")"}, "job-x",
                               kTypes, &overrides, &err),
            RunJobStatus::kRan)
      << err;
  EXPECT_EQ(json::parse(overrides),
            json::parse(R"({"model": {"hidden": 2}, "optimizer": "adam"})"));
  ASSERT_EQ(OverridesFromPairs({}, "job-x", kTypes, &overrides, &err), RunJobStatus::kRan);
  EXPECT_EQ(overrides, "{}");
}

TEST(JobRunnerTest, UnknownKeysAreUsageErrors) {
  std::string overrides, err;
  EXPECT_EQ(OverridesFromPairs({"lr=1", "epochs=3"}, "job-x", kTypes, &overrides, &err),
            RunJobStatus::kUsageError);
  EXPECT_EQ(err,
            "unknown config key 'epochs' for job job-x (known: lr, optimizer, model.hidden)");
  EXPECT_EQ(OverridesFromPairs({"model.depth=3"}, "job-x", kTypes, &overrides, &err),
            RunJobStatus::kUsageError);
  EXPECT_EQ(OverridesFromPairs({"lr"}, "job-x", kTypes, &overrides, &err),
            RunJobStatus::kUsageError);
  EXPECT_EQ(err, "-c 'lr': expected key=value");
  EXPECT_EQ(OverridesFromPairs({"a=1"}, "job-y",
                               R"({"wb_type": "typedDict", "params": {"type_map": {}}})",
                               &overrides, &err),
            RunJobStatus::kUsageError);
  EXPECT_EQ(err, "unknown config key 'a' for job job-y (known: none)");
  EXPECT_EQ(OverridesFromPairs({"lr=1"}, "job-x", "not json", &overrides, &err),
            RunJobStatus::kError);
}

constexpr char kAllTypes[] = R"({"wb_type": "typedDict", "params": {"type_map": {
  "epochs": {"wb_type": "number"},
  "shuffle": {"wb_type": "boolean"},
  "name": {"wb_type": "string"},
  "layers": {"wb_type": "list", "params": {"element_type": {"wb_type": "number"}}},
  "either": {"wb_type": "union", "params": {"allowed_types": [{"wb_type": "number"},
                                                               {"wb_type": "boolean"}]}},
  "opt": {"wb_type": "typedDict", "params": {"type_map": {"lr": {"wb_type": "number"}}}}
}}})";

TEST(JobRunnerTest, ValuesMustFitTheInputTypes) {
  std::string overrides, err;
  ASSERT_EQ(OverridesFromPairs({"epochs=3", "shuffle=false", "name=abc", "layers=[1, 2]",
                                "either=true", "opt.lr=0.5"},
                               "job-x", kAllTypes, &overrides, &err),
            RunJobStatus::kRan)
      << err;
  ASSERT_EQ(OverridesFromPairs({R"(opt={"lr": 1})"}, "job-x", kAllTypes, &overrides, &err),
            RunJobStatus::kRan)
      << err;
  struct Bad {
    const char* pair;
    const char* words;
  };
  for (const Bad& bad :
       {Bad{"epochs=abc", "epochs is a number input of job job-x, and 'abc'"},
        Bad{"shuffle=yes", "true or false"}, Bad{"layers=3", "a JSON list"},
        Bad{R"(layers=[1, "a"])", "list<number>"}, Bad{R"(either="x")", "union<number, boolean>"},
        Bad{"opt.lr=fast", "opt.lr is a number input"}, Bad{"opt=3", "a JSON object"}}) {
    err.clear();
    EXPECT_EQ(OverridesFromPairs({bad.pair}, "job-x", kAllTypes, &overrides, &err),
              RunJobStatus::kUsageError)
        << bad.pair;
    EXPECT_NE(err.find(bad.words), std::string::npos) << bad.pair << ": " << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
}

/// A local store holding job `name` whose wandb-job.json is `job_json`.
class StoredJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    ASSERT_TRUE(JobStore::Open(tmp_.Join("store"), &store_, &err)) << err;
  }
  PublishedArtifact Publish(const std::string& type, const std::string& name,
                            const std::vector<std::pair<std::string, std::string>>& files,
                            const std::string& metadata = "") {
    ArtifactUpload upload;
    upload.metadata = metadata;
    upload.entity = "local";
    upload.project = "proj";
    upload.type = type;
    upload.name = name;
    upload.aliases = {"latest"};
    upload.files_dir = tmp_.Join("files/" + name);
    for (const auto& [path, contents] : files) {
      WriteTestFile(upload.files_dir, path, contents);
      upload.manifest.Add({path, Md5Base64(contents), contents.size(), ""});
    }
    PublishedArtifact out;
    std::string err;
    EXPECT_TRUE(store_->Publish(upload, &out, &err)) << err;
    return out;
  }
  RunJobStatus Run(const std::string& ref, std::vector<std::string> set, std::string* err,
                   int* exit_code = nullptr, const std::string& run_id = "") {
    RunJobOptions options;
    options.job_ref = ref;
    options.set = std::move(set);
    options.store_root = store_->root();
    options.run_id = run_id;
    int ignored = 0;
    return RunJob(options, exit_code != nullptr ? exit_code : &ignored, err);
  }
  ScopedTempDir tmp_;
  std::unique_ptr<JobStore> store_;
};

TEST_F(StoredJobTest, FindsArtifactsById) {
  PublishedArtifact code = Publish("code", "source-x", {{"main.cc", "int main() {}"}});
  StoredCollection found;
  int index = -1;
  std::string err;
  ASSERT_TRUE(store_->FindArtifactById(code.id, &found, &index, &err)) << err;
  EXPECT_EQ(found.type, "code");
  EXPECT_EQ(found.name, "source-x");
  EXPECT_EQ(index, 0);
  EXPECT_FALSE(store_->FindArtifactById("QXJ0aWZhY3Q6MQ==", &found, &index, &err));
  EXPECT_EQ(err, "no artifact with ID 'QXJ0aWZhY3Q6MQ==' in the local store " + store_->root());
}

TEST_F(StoredJobTest, RefusesUnknownKeysBeforeBuilding) {
  Publish("job", "job-x",
          {{"wandb-job.json", std::string(R"({"source_type": "artifact", "source": {
               "entrypoint": ["/usr/local/bin/x"], "artifact": "wandb-artifact://_id/QQ=="},
               "input_types": )") + kTypes + "}"}});
  std::string err;
  EXPECT_EQ(Run("job-x", {"bogus=1"}, &err), RunJobStatus::kUsageError);
  EXPECT_EQ(err,
            "unknown config key 'bogus' for job job-x (known: lr, optimizer, model.hidden)");
  // Known keys pass; the job has no lock naming its target.
  EXPECT_EQ(Run("job-x:latest", {"lr=1"}, &err), RunJobStatus::kError);
  EXPECT_EQ(err, "the job names no CMake target (wandb-job.lock.json has no \"target\")");
}

TEST_F(StoredJobTest, Errors) {
  Publish("job", "job-img",
          {{"wandb-job.json", R"({"source_type": "image", "source": {"image": "x:1"}})"}});
  std::string err;
  EXPECT_EQ(Run("job-none", {}, &err), RunJobStatus::kError);
  EXPECT_EQ(err, "unknown job 'job-none'; `wandb-job ls` lists the jobs");
  EXPECT_EQ(Run("job-img:nope", {}, &err), RunJobStatus::kError);
  EXPECT_EQ(err.rfind("job 'job-img' has no version or alias 'nope'", 0), 0u) << err;
  EXPECT_EQ(Run("a/b/c/d", {}, &err), RunJobStatus::kUsageError);
}

// A failed build names the build directory CMake's messages point into and says whether it
// stays: removed unless --keep, which the error suggests.
TEST_F(StoredJobTest, AFailedBuildSuggestsKeep) {
  PublishedArtifact code =
      Publish("code", "source-bad", {{"CMakeLists.txt", "this is not( CMake\n"}});
  Publish("job", "job-bad",
          {{"wandb-job.json", R"({"source_type": "artifact", "source": {
               "entrypoint": ["/usr/local/bin/x"], "artifact": "wandb-artifact://_id/)" +
                                  code.id + R"("}, "input_types": {"wb_type": "typedDict",
               "params": {"type_map": {}}}})"},
           {"wandb-job.lock.json", R"({"target": "x"})"}});
  std::string err;
  ASSERT_EQ(Run("job-bad", {}, &err), RunJobStatus::kError);
  EXPECT_NE(err.find("run again with --keep to inspect it"), std::string::npos) << err;
  size_t start = err.find("the build directory ");
  ASSERT_NE(start, std::string::npos) << err;
  start += strlen("the build directory ");
  std::string dir = err.substr(start, err.find(' ', start) - start);
  EXPECT_FALSE(FileExists(dir)) << dir;

  RunJobOptions options;
  options.job_ref = "job-bad";
  options.store_root = store_->root();
  options.keep = true;
  int exit_code = 0;
  ASSERT_EQ(RunJob(options, &exit_code, &err), RunJobStatus::kError);
  EXPECT_EQ(err.find("--keep"), std::string::npos) << err;
  start = err.find("the build directory is kept: ");
  ASSERT_NE(start, std::string::npos) << err;
  dir = err.substr(start + strlen("the build directory is kept: "));
  EXPECT_TRUE(FileExists(dir)) << dir;
  std::string ignored;
  RemoveTree(dir.substr(0, dir.rfind('/')), &ignored);
}

/// Replaces PATH for one test; fake tools go into bin().
class ImageJobTest : public StoredJobTest {
 protected:
  void SetUp() override {
    StoredJobTest::SetUp();
    const char* path = getenv("PATH");
    saved_path_ = path ? path : "";
    const char* insecure = getenv("WANDB_JOB_INSECURE_REGISTRIES");
    saved_insecure_ = insecure ? insecure : "";
    had_insecure_ = insecure != nullptr;
    unsetenv("WANDB_JOB_INSECURE_REGISTRIES");
    unsetenv("WANDB_MODE");
    std::string err;
    ASSERT_TRUE(MakeDirs(bin(), &err)) << err;
    setenv("PATH", (bin() + ":/usr/bin:/bin").c_str(), 1);
  }
  void TearDown() override {
    setenv("PATH", saved_path_.c_str(), 1);
    if (had_insecure_) {
      setenv("WANDB_JOB_INSECURE_REGISTRIES", saved_insecure_.c_str(), 1);
    } else {
      unsetenv("WANDB_JOB_INSECURE_REGISTRIES");
    }
  }
  std::string bin() const { return tmp_.Join("bin"); }
  void Tool(const std::string& name, const std::string& script) {
    std::string path = bin() + "/" + name;
    WriteTestFile(bin(), name, "#!/bin/sh\n" + script);
    ASSERT_EQ(chmod(path.c_str(), 0755), 0);
  }
  /// skopeo and umoci that record their arguments; umoci writes a runtime config as umoci does.
  void FakeFetch() {
    Tool("skopeo", "echo \"$@\" > '" + tmp_.Join("skopeo.args") + "'\n");
    Tool("umoci", "echo \"$@\" > '" + tmp_.Join("umoci.args") +
                      "'\nfor a; do last=$a; done\nmkdir -p \"$last\"\n"
                      "printf '{\"ociVersion\":\"1.0.2\",\"process\":{\"terminal\":true,"
                      "\"args\":[\"/usr/local/bin/prog\",\"--lr\",\"0.1\"],"
                      "\"env\":[\"PATH=/bin\",\"WANDB_CONFIG=stale\",\"GREETING=hi\"],"
                      "\"cwd\":\"/\"},\"root\":{\"path\":\"rootfs\"},\"mounts\":[]}' "
                      "> \"$last/config.json\"\n");
  }
  void PublishImageJob(const std::string& image) {
    Publish("job", "job-img",
            {{"wandb-job.json", std::string(R"({"source_type": "image", "source": {
                 "image": "127.0.0.1:5000/acme/prog:1.0"}, "input_types": )") + kTypes + "}"}},
            json({{"image", image}}).dump());
  }
  std::string ReadArgs(const std::string& tool) {
    std::string text, err;
    EXPECT_TRUE(ReadFile(tmp_.Join(tool + ".args"), &text, &err)) << err;
    return text;
  }

  std::string saved_path_, saved_insecure_;
  bool had_insecure_ = false;
};

TEST_F(ImageJobTest, MissingToolsAreOneLine) {
  PublishImageJob("127.0.0.1:5000/acme/prog@sha256:ab");
  setenv("PATH", bin().c_str(), 1);
  std::string err;
  EXPECT_EQ(Run("job-img", {}, &err), RunJobStatus::kError);
  EXPECT_EQ(err, "running image jobs needs skopeo, umoci and runc; not found on PATH: skopeo, "
                 "umoci, runc");
  Tool("skopeo", "exit 0\n");
  Tool("umoci", "exit 0\n");
  EXPECT_EQ(Run("job-img", {}, &err), RunJobStatus::kError);
  EXPECT_EQ(err, "running image jobs needs skopeo, umoci and runc; not found on PATH: runc");
}

TEST_F(ImageJobTest, RunsThePinnedImageInRuncUnderTheShim) {
  PublishImageJob("127.0.0.1:5000/acme/prog@sha256:ab");
  FakeFetch();
  // runc: prints the runtime config it was given, then exits 7.
  Tool("runc", "for a; do [ \"$prev\" = --bundle ] && b=$a; prev=$a; done\n"
               "cat \"$b/config.json\"\nexit 7\n");
  std::string err;
  int exit_code = 0;
  ASSERT_EQ(Run("job-img", {"lr=0.5"}, &err, &exit_code, "imgrun01"), RunJobStatus::kRan) << err;
  EXPECT_EQ(exit_code, 7);
  std::string skopeo = ReadArgs("skopeo");
  EXPECT_EQ(skopeo.rfind("copy --quiet --src-tls-verify=false "
                         "docker://127.0.0.1:5000/acme/prog@sha256:ab oci:", 0),
            0u)
      << skopeo;
  std::string umoci = ReadArgs("umoci");
  EXPECT_EQ(umoci.rfind(geteuid() == 0 ? "unpack --image " : "unpack --rootless --image ", 0),
            0u)
      << umoci;

  std::string output, run_json;
  std::string dir = store_->root() + "/entities/local/projects/proj/runs/imgrun01";
  ASSERT_TRUE(ReadFile(dir + "/output.log", &output, &err)) << err;
  ASSERT_TRUE(ReadFile(dir + "/run.json", &run_json, &err)) << err;
  EXPECT_EQ(json::parse(run_json)["exit_code"], 7);
  json config = json::parse(output);
  EXPECT_EQ(config["process"]["terminal"], false);
  EXPECT_EQ(config["process"]["args"], json({"/usr/local/bin/prog", "--lr", "0.1"}));
  std::vector<std::string> env = config["process"]["env"];
  auto has = [&env](const std::string& entry) {
    return std::find(env.begin(), env.end(), entry) != env.end();
  };
  EXPECT_TRUE(has("GREETING=hi"));
  EXPECT_TRUE(has("WANDB_CONFIG={\"lr\":0.5}"));
  EXPECT_FALSE(has("WANDB_CONFIG=stale"));
  EXPECT_TRUE(has("WANDB_RUN_ID=imgrun01"));
  EXPECT_TRUE(has("WANDB_PROJECT=proj"));
  EXPECT_TRUE(has("WANDB_ENTITY=local"));
  EXPECT_TRUE(has("WANDB_LAUNCH=True"));
  EXPECT_TRUE(has("WANDB_ARTIFACTS={\"_wandb_job\":\"local/proj/job-img:latest\"}"));
  EXPECT_TRUE(has("WANDB_DOCKER=127.0.0.1:5000/acme/prog@sha256:ab"));
  EXPECT_TRUE(has("WANDB_JOB_METRICS_FILE=/run/wandb-job/metrics.jsonl"));
  ASSERT_EQ(config["mounts"].size(), 1u);
  EXPECT_EQ(config["mounts"][0]["destination"], "/run/wandb-job/metrics.jsonl");
  EXPECT_EQ(config["mounts"][0]["type"], "bind");
}

TEST_F(ImageJobTest, TlsIsVerifiedUnlessTheRegistryIsListedAsInsecure) {
  PublishImageJob("registry.internal:5000/acme/prog@sha256:ab");
  FakeFetch();
  Tool("runc", "exit 0\n");
  std::string err;
  ASSERT_EQ(Run("job-img", {}, &err), RunJobStatus::kRan) << err;
  EXPECT_EQ(ReadArgs("skopeo").rfind(
                "copy --quiet docker://registry.internal:5000/acme/prog@sha256:ab oci:", 0),
            0u)
      << ReadArgs("skopeo");
  setenv("WANDB_JOB_INSECURE_REGISTRIES", "registry.internal", 1);
  ASSERT_EQ(Run("job-img", {}, &err), RunJobStatus::kRan) << err;
  EXPECT_NE(ReadArgs("skopeo").find("--src-tls-verify=false"), std::string::npos);
}

TEST_F(ImageJobTest, FetchFailuresNameTheImage) {
  PublishImageJob("127.0.0.1:5000/acme/prog@sha256:ab");
  Tool("skopeo", "echo 'manifest unknown' >&2\nexit 1\n");
  Tool("umoci", "exit 0\n");
  Tool("runc", "exit 0\n");
  std::string err;
  EXPECT_EQ(Run("job-img", {}, &err), RunJobStatus::kError);
  EXPECT_EQ(err.rfind("fetching image 127.0.0.1:5000/acme/prog@sha256:ab: 'skopeo copy ", 0), 0u)
      << err;
  EXPECT_NE(err.find("failed (exit code 1)"), std::string::npos) << err;
  FakeFetch();
  Tool("umoci", "exit 2\n");
  EXPECT_EQ(Run("job-img", {}, &err), RunJobStatus::kError);
  EXPECT_EQ(err.rfind("unpacking image 127.0.0.1:5000/acme/prog@sha256:ab: ", 0), 0u) << err;
  // Without pinned metadata the job's own reference is used; unknown keys stay usage errors.
  Publish("job", "job-bare",
          {{"wandb-job.json", R"({"source_type": "image", "source": {"image": "x:1"}})"}});
  EXPECT_EQ(Run("job-bare", {}, &err), RunJobStatus::kError);
  EXPECT_EQ(err.rfind("unpacking image x:1: ", 0), 0u) << err;
  EXPECT_EQ(Run("job-img", {"nope=1"}, &err), RunJobStatus::kUsageError);
}

TEST_F(StoredJobTest, ShowListsRecordedRuns) {
  Publish("job", "job-x", {{"wandb-job.json", R"({"source_type": "artifact", "source": {}})"}});
  RunRecord run;
  run.id = "abcd1234";
  run.name = "abcd1234";
  run.state = "failed";
  run.created_at = "2024-02-01T00:00:00Z";
  run.version_index = 0;
  run.entity = "local";
  run.project = "proj";
  run.job = "job-x";
  run.config = R"({"lr":0.2})";
  run.summary = R"({"loss":0.5})";
  run.has_exit_code = true;
  run.exit_code = 3;
  std::string err;
  ASSERT_TRUE(store_->WriteRun(run, &err)) << err;
  StoredCollection job;
  ASSERT_TRUE(store_->Get("local", "proj", "job", "job-x", &job, &err)) << err;
  ASSERT_EQ(job.runs.size(), 1u);
  EXPECT_EQ(job.runs[0].exit_code, 3);
  auto reader = [this](const StoredVersion& v, const std::string& path, std::string* contents,
                       std::string* e) { return store_->ReadFile(v, path, contents, e); };
  std::string out;
  ASSERT_TRUE(RenderJobShow(job, "", reader, ViewFormat::kJson, &out, &err)) << err;
  json j = json::parse(out)["runs"][0];
  EXPECT_EQ(j["state"], "failed");
  EXPECT_EQ(j["exit_code"], 3);
  EXPECT_EQ(j["version"], "v0");
  EXPECT_EQ(j["config"], json::parse(R"({"lr": 0.2})"));
  EXPECT_EQ(j["summary"], json::parse(R"({"loss": 0.5})"));
  ASSERT_TRUE(RenderJobShow(job, "", reader, ViewFormat::kText, &out, &err)) << err;
  EXPECT_NE(out.find("  abcd1234  abcd1234  failed  v0  exit 3  2024-02-01T00:00:00Z\n"
                     "    config:  {\"lr\":0.2}\n    summary: {\"loss\":0.5}\n"),
            std::string::npos)
      << out;
  // Runs live outside the collections: verification does not see them.
  std::vector<std::string> problems;
  ASSERT_TRUE(store_->Verify(&problems, &err)) << err;
  EXPECT_TRUE(problems.empty());
  // A damaged run record is skipped with a warning, not an error.
  WriteTestFile(store_->root(), "entities/local/projects/proj/runs/bad/run.json", "{");
  ASSERT_TRUE(store_->Get("local", "proj", "job", "job-x", &job, &err)) << err;
  EXPECT_EQ(job.runs.size(), 1u);
}

}  // namespace
}  // namespace wandb_job
