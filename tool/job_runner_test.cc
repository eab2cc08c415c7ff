#include "job_runner.h"

#include <gtest/gtest.h>

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

/// A local store holding job `name` whose wandb-job.json is `job_json`.
class StoredJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    ASSERT_TRUE(JobStore::Open(tmp_.Join("store"), &store_, &err)) << err;
  }
  PublishedArtifact Publish(const std::string& type, const std::string& name,
                            const std::vector<std::pair<std::string, std::string>>& files) {
    ArtifactUpload upload;
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
  RunJobStatus Run(const std::string& ref, std::vector<std::string> set, std::string* err) {
    RunJobOptions options;
    options.job_ref = ref;
    options.set = std::move(set);
    options.store_root = store_->root();
    int exit_code = 0;
    return RunJob(options, &exit_code, err);
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
  EXPECT_EQ(Run("job-img", {}, &err), RunJobStatus::kError);
  EXPECT_EQ(err, "image jobs cannot be run locally yet (x:1); run the image with the launch agent");
  EXPECT_EQ(Run("job-none", {}, &err), RunJobStatus::kError);
  EXPECT_EQ(err, "unknown job 'job-none'; `wandb-job ls` lists the jobs");
  EXPECT_EQ(Run("job-img:nope", {}, &err), RunJobStatus::kError);
  EXPECT_EQ(err.rfind("job 'job-img' has no version or alias 'nope'", 0), 0u) << err;
  EXPECT_EQ(Run("a/b/c/d", {}, &err), RunJobStatus::kUsageError);
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
