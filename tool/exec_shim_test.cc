#include "exec_shim.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "file_util.h"
#include "job_store.h"
#include "test_util.h"

namespace wandb_job {
namespace {

using nlohmann::json;

/// Sets environment variables for one test and restores them afterwards.
class ScopedEnv {
 public:
  ScopedEnv() {
    for (const char* name :
         {"WANDB_CONFIG", "WANDB_CONFIG_0", "WANDB_CONFIG_1", "WANDB_CONFIG_2", "WANDB_RUN_ID",
          "WANDB_ARTIFACTS", "WANDB_ENTITY", "WANDB_PROJECT", "WANDB_MODE", "WANDB_API_KEY"}) {
      Unset(name);
    }
  }
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) {
      if (value.first) {
        setenv(name.c_str(), value.second.c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
  }
  void Set(const std::string& name, const std::string& value) {
    Save(name);
    setenv(name.c_str(), value.c_str(), 1);
  }
  void Unset(const std::string& name) {
    Save(name);
    unsetenv(name.c_str());
  }

 private:
  void Save(const std::string& name) {
    if (saved_.count(name) == 0) {
      const char* v = getenv(name.c_str());
      saved_[name] = {v != nullptr, v ? v : ""};
    }
  }
  std::map<std::string, std::pair<bool, std::string>> saved_;
};

ExecOptions Options(std::vector<std::string> command, std::string defaults = "") {
  ExecOptions o;
  o.command = std::move(command);
  o.defaults = std::move(defaults);
  return o;
}

TEST(ExecShimTest, ConfigPrecedenceAndArgs) {
  ScopedEnv env;
  ScopedTempDir tmp;
  WriteTestFile(tmp.path(), "bundle.json",
                R"({"config": {"lr": 0.01, "m": {"h": 1, "k": 2}, "name": "a"},
                    "args": ["--lr", "{lr}", "--h", "{m.h}"]})");
  ExecOptions o = Options({"prog"}, R"({"m": {"h": 3}})");
  o.job_spec_path = tmp.Join("bundle.json");
  o.set = {"name=b"};
  env.Set("WANDB_CONFIG_0", R"({"lr": 0.)");
  env.Set("WANDB_CONFIG_1", R"(5, "extra": true})");
  ExecPlan plan;
  std::string err;
  ASSERT_TRUE(PlanExec(o, &plan, &err)) << err;
  EXPECT_EQ(json::parse(plan.config),
            json::parse(R"({"lr": 0.5, "m": {"h": 3, "k": 2}, "name": "b", "extra": true})"));
  // No ARGS after PROGRAM: the job spec's template.
  EXPECT_EQ(plan.argv, (std::vector<std::string>{"prog", "--lr", "0.5", "--h", "3"}));
  EXPECT_EQ(plan.run_id.size(), 8u);

  // ARGS given: they are the template; WANDB_CONFIG wins over the chunks.
  o.command = {"prog", "{name}", "{{literal}}"};
  env.Set("WANDB_CONFIG", R"({"name": "c"})");
  o.set.clear();
  ASSERT_TRUE(PlanExec(o, &plan, &err)) << err;
  EXPECT_EQ(plan.argv, (std::vector<std::string>{"prog", "c", "{literal}"}));
}

TEST(ExecShimTest, RunAndJobFromTheEnvironment) {
  ScopedEnv env;
  env.Set("WANDB_RUN_ID", "abcd1234");
  env.Set("WANDB_ENTITY", "acme");
  env.Set("WANDB_PROJECT", "mnist");
  env.Set("WANDB_ARTIFACTS", R"({"_wandb_job": "acme/mnist/job-train:prod", "data": "x"})");
  ExecPlan plan;
  std::string err;
  ASSERT_TRUE(PlanExec(Options({"prog"}), &plan, &err)) << err;
  EXPECT_EQ(plan.run_id, "abcd1234");
  EXPECT_EQ(plan.entity, "acme");
  EXPECT_EQ(plan.project, "mnist");
  EXPECT_EQ(plan.job, "acme/mnist/job-train:prod");
  EXPECT_EQ(plan.config, "{}");
  // Options win.
  ExecOptions o = Options({"prog"});
  o.run_id = "other";
  o.job = "job-x";
  ASSERT_TRUE(PlanExec(o, &plan, &err)) << err;
  EXPECT_EQ(plan.run_id, "other");
  EXPECT_EQ(plan.job, "job-x");
}

TEST(ExecShimTest, PlanErrors) {
  ScopedEnv env;
  ScopedTempDir tmp;
  ExecPlan plan;
  std::string err;
  EXPECT_FALSE(PlanExec(Options({}), &plan, &err));
  EXPECT_EQ(err, "no program given (wandb-job exec [options] -- PROGRAM ARGS...)");
  EXPECT_FALSE(PlanExec(Options({"p"}, "[1]"), &plan, &err));
  EXPECT_EQ(err, "--defaults is not a JSON object");
  EXPECT_FALSE(PlanExec(Options({"p", "{epochs}"}, R"({"lr": 1})"), &plan, &err));
  EXPECT_NE(err.find("names {epochs}, which is not a config key (known: lr)"), std::string::npos)
      << err;
  ExecOptions o = Options({"p"});
  o.set = {"novalue"};
  EXPECT_FALSE(PlanExec(o, &plan, &err));
  EXPECT_EQ(err.rfind("-c: ", 0), 0u) << err;
  o = Options({"p"});
  o.job_spec_path = tmp.Join("missing.json");
  EXPECT_FALSE(PlanExec(o, &plan, &err));
  WriteTestFile(tmp.path(), "bad.json", R"({"config": [1]})");
  o.job_spec_path = tmp.Join("bad.json");
  EXPECT_FALSE(PlanExec(o, &plan, &err));
  EXPECT_NE(err.find("\"config\" is not an object"), std::string::npos) << err;
  WriteTestFile(tmp.path(), "bad-args.json", R"({"args": [1]})");
  o.job_spec_path = tmp.Join("bad-args.json");
  EXPECT_FALSE(PlanExec(o, &plan, &err));
  EXPECT_NE(err.find("\"args\" is not a list of strings"), std::string::npos) << err;
  env.Set("WANDB_CONFIG", "{nope");
  EXPECT_FALSE(PlanExec(Options({"p"}), &plan, &err));
  EXPECT_EQ(err, "WANDB_CONFIG is not a JSON object");
  env.Unset("WANDB_CONFIG");
  env.Set("WANDB_ARTIFACTS", "[]");
  EXPECT_FALSE(PlanExec(Options({"p"}), &plan, &err));
  EXPECT_EQ(err, "WANDB_ARTIFACTS is not a JSON object");
}

TEST(ExecShimTest, LaunchArtifacts) {
  std::string job, err;
  ASSERT_TRUE(JobFromLaunchArtifacts("", &job, &err));
  EXPECT_EQ(job, "");
  ASSERT_TRUE(JobFromLaunchArtifacts(R"({"other": "x"})", &job, &err));
  EXPECT_EQ(job, "");
  ASSERT_TRUE(JobFromLaunchArtifacts(R"({"_wandb_job": "e/p/j:v1"})", &job, &err));
  EXPECT_EQ(job, "e/p/j:v1");
  EXPECT_FALSE(JobFromLaunchArtifacts(R"({"_wandb_job": 3})", &job, &err));
  EXPECT_EQ(err, "WANDB_ARTIFACTS: _wandb_job is not a string");
}

TEST(ExecShimTest, ChunksAndRunIds) {
  EXPECT_EQ(ChunkedEnv("C", "abc", 3), (std::vector<std::pair<std::string, std::string>>{
                                           {"C", "abc"}}));
  EXPECT_EQ(ChunkedEnv("C", "abcdefg", 3),
            (std::vector<std::pair<std::string, std::string>>{
                {"C_0", "abc"}, {"C_1", "def"}, {"C_2", "g"}}));
  std::string big(kMaxEnvValueLength * 2 + 1, 'x');
  EXPECT_EQ(ChunkedEnv("WANDB_CONFIG", big).size(), 3u);
  std::string id = NewRunId();
  ASSERT_EQ(id.size(), 8u);
  for (char c : id) {
    EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) << id;
  }
  EXPECT_NE(NewRunId(), NewRunId());
}

TEST(ExecShimTest, ReportMode) {
  ScopedEnv env;
  EXPECT_EQ(ReportModeFromEnvironment(), ReportMode::kOffline);
  env.Set("WANDB_API_KEY", "k");
  EXPECT_EQ(ReportModeFromEnvironment(), ReportMode::kOnline);
  env.Set("WANDB_MODE", "offline");
  EXPECT_EQ(ReportModeFromEnvironment(), ReportMode::kOffline);
  env.Set("WANDB_MODE", "disabled");
  EXPECT_EQ(ReportModeFromEnvironment(), ReportMode::kDisabled);
}

/// A store and a store reporter; runs go to local/proj.
class RunProgramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    ASSERT_TRUE(JobStore::Open(tmp_.Join("store"), &store_, &err)) << err;
  }
  ExecPlan Plan(const std::string& script, const std::string& id = "run00001") {
    ExecPlan plan;
    plan.argv = {"sh", "-c", script};
    plan.config = R"({"lr":0.5})";
    plan.run_id = id;
    plan.entity = "local";
    plan.project = "proj";
    return plan;
  }
  RunRecord Run(const std::string& id = "run00001") {
    RunRecord run;
    bool found = false;
    std::string err;
    EXPECT_TRUE(store_->ReadRun("local", "proj", id, &run, &found, &err)) << err;
    EXPECT_TRUE(found);
    return run;
  }
  std::string RunFile(const std::string& name, const std::string& id = "run00001") {
    std::string text, err;
    EXPECT_TRUE(ReadFile(tmp_.Join("store/entities/local/projects/proj/runs/" + id + "/" + name),
                         &text, &err))
        << err;
    return text;
  }
  ScopedEnv env_;
  ScopedTempDir tmp_;
  std::unique_ptr<JobStore> store_;
};

TEST_F(RunProgramTest, RecordsOutputMetricsAndExitCode) {
  auto reporter = MakeStoreReporter(store_.get());
  RunOutcome outcome;
  std::string err;
  ASSERT_TRUE(RunProgram(
      Plan("echo out; echo err >&2; echo \"$WANDB_CONFIG\"; cat \"$WANDB_JOB_CONFIG_FILE\"; "
           "echo '{\"history\": {\"loss\": 1}}' >> \"$WANDB_JOB_METRICS_FILE\"; "
           "echo '{\"history\": {\"loss\": 0.5, \"_step\": 7}}' >> \"$WANDB_JOB_METRICS_FILE\"; "
           "echo 'not json' >> \"$WANDB_JOB_METRICS_FILE\"; "
           "echo '{\"summary\": {\"acc\": 0.9}}' >> \"$WANDB_JOB_METRICS_FILE\"; exit 3"),
      reporter.get(), &outcome, &err))
      << err;
  EXPECT_EQ(outcome.exit_code, 3);
  EXPECT_EQ(outcome.state, "failed");
  RunRecord run = Run();
  EXPECT_EQ(run.state, "failed");
  EXPECT_TRUE(run.has_exit_code);
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_EQ(json::parse(run.config), json::parse(R"({"lr": 0.5})"));
  EXPECT_EQ(json::parse(run.summary), json::parse(R"({"acc": 0.9, "loss": 0.5})"));
  EXPECT_EQ(run.history_rows, 2);
  EXPECT_FALSE(run.finished_at.empty());
  std::string log = RunFile("output.log");
  EXPECT_NE(log.find("out\n"), std::string::npos) << log;
  EXPECT_NE(log.find("err\n"), std::string::npos) << log;
  EXPECT_NE(log.find("{\"lr\":0.5}\n"), std::string::npos) << log;
  EXPECT_NE(log.find("\"lr\": 0.5"), std::string::npos) << log;  // the config file
  EXPECT_EQ(RunFile("history.jsonl"),
            "{\"loss\":1,\"_step\":0}\n{\"loss\":0.5,\"_step\":7}\n");
}

TEST_F(RunProgramTest, AGivenMetricsFileIsCreatedWritableAndRead) {
  auto reporter = MakeStoreReporter(store_.get());
  ExecPlan plan = Plan("test \"$WANDB_JOB_METRICS_FILE\" = \"$1\" || exit 9; "
                       "stat -c %a \"$1\"; echo '{\"history\": {\"loss\": 2}}' >> \"$1\"");
  plan.metrics_file = tmp_.Join("metrics.jsonl");
  WriteTestFile(tmp_.path(), "metrics.jsonl", "{\"history\": {\"stale\": 1}}\n");
  plan.argv.push_back("sh");
  plan.argv.push_back(plan.metrics_file);
  RunOutcome outcome;
  std::string err;
  ASSERT_TRUE(RunProgram(plan, reporter.get(), &outcome, &err)) << err;
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_NE(RunFile("output.log").find("666\n"), std::string::npos) << RunFile("output.log");
  EXPECT_EQ(RunFile("history.jsonl"), "{\"loss\":2,\"_step\":0}\n");  // emptied first

  plan.metrics_file = tmp_.Join("no-such-dir/metrics.jsonl");
  EXPECT_FALSE(RunProgram(plan, reporter.get(), &outcome, &err));
  EXPECT_EQ(err.rfind("creating " + plan.metrics_file + ": ", 0), 0u) << err;
}

TEST_F(RunProgramTest, ResumingKeepsTheRecord) {
  std::string err;
  RunOutcome outcome;
  {
    auto reporter = MakeStoreReporter(store_.get());
    ASSERT_TRUE(RunProgram(Plan("echo first"), reporter.get(), &outcome, &err)) << err;
  }
  std::string created = Run().created_at;
  auto reporter = MakeStoreReporter(store_.get());
  ASSERT_TRUE(RunProgram(Plan("echo second"), reporter.get(), &outcome, &err)) << err;
  EXPECT_EQ(outcome.state, "finished");
  EXPECT_EQ(Run().created_at, created);
  EXPECT_EQ(RunFile("output.log"), "first\nsecond\n");
  std::vector<RunRecord> runs;
  ASSERT_TRUE(store_->ListRuns("local", "proj", "", &runs, &err)) << err;
  EXPECT_EQ(runs.size(), 1u);
}

TEST_F(RunProgramTest, KilledBySignal) {
  auto reporter = MakeStoreReporter(store_.get());
  RunOutcome outcome;
  std::string err;
  ASSERT_TRUE(RunProgram(Plan("kill -KILL $$"), reporter.get(), &outcome, &err)) << err;
  EXPECT_EQ(outcome.signal, SIGKILL);
  EXPECT_EQ(outcome.exit_code, 128 + SIGKILL);
  EXPECT_EQ(outcome.state, "killed");
  EXPECT_EQ(Run().state, "killed");
}

TEST_F(RunProgramTest, ForwardsSigterm) {
  auto reporter = MakeStoreReporter(store_.get());
  RunOutcome outcome;
  std::string err;
  std::thread sender([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    kill(getpid(), SIGTERM);
  });
  bool ok = RunProgram(Plan("sleep 30"), reporter.get(), &outcome, &err);
  sender.join();
  ASSERT_TRUE(ok) << err;
  EXPECT_EQ(outcome.forwarded_signal, SIGTERM);
  EXPECT_EQ(outcome.exit_code, 128 + SIGTERM);
  EXPECT_EQ(Run().state, "killed");
}

TEST_F(RunProgramTest, ProgramThatCannotStart) {
  auto reporter = MakeStoreReporter(store_.get());
  ExecPlan plan = Plan("");
  plan.argv = {tmp_.Join("missing")};
  RunOutcome outcome;
  std::string err;
  EXPECT_FALSE(RunProgram(plan, reporter.get(), &outcome, &err));
  EXPECT_EQ(err, "cannot run " + tmp_.Join("missing") + ": No such file or directory");
  RunRecord run = Run();
  EXPECT_EQ(run.state, "failed");
  EXPECT_EQ(run.exit_code, 127);
}

TEST_F(RunProgramTest, WithoutReporterOnlyRuns) {
  RunOutcome outcome;
  std::string err;
  ExecPlan plan = Plan("test -z \"$WANDB_JOB_METRICS_FILE\" && exit 4");
  ASSERT_TRUE(RunProgram(plan, nullptr, &outcome, &err)) << err;
  EXPECT_EQ(outcome.exit_code, 4);
  EXPECT_FALSE(FileExists(tmp_.Join("store/entities")));
}

TEST_F(RunProgramTest, LargeConfigIsChunked) {
  auto reporter = MakeStoreReporter(store_.get());
  ExecPlan plan = Plan("test -z \"$WANDB_CONFIG\" && test -n \"$WANDB_CONFIG_1\" && "
                       "test -z \"$WANDB_CONFIG_2\" && exit 0; exit 1");
  plan.config = json{{"note", std::string(kMaxEnvValueLength + 10, 'x')}}.dump();
  env_.Set("WANDB_CONFIG_5", "stale");
  RunOutcome outcome;
  std::string err;
  ASSERT_TRUE(RunProgram(plan, reporter.get(), &outcome, &err)) << err;
  EXPECT_EQ(outcome.exit_code, 0);
}

TEST_F(RunProgramTest, RunsRecordTheirJobVersion) {
  // The job is not in the store: the run still records the job name, version unknown.
  auto reporter = MakeStoreReporter(store_.get());
  ExecPlan plan = Plan("true");
  plan.job = "local/proj/job-train:latest";
  RunOutcome outcome;
  std::string err;
  ASSERT_TRUE(RunProgram(plan, reporter.get(), &outcome, &err)) << err;
  RunRecord run = Run();
  EXPECT_EQ(run.job, "job-train");
  EXPECT_EQ(run.version_index, -1);
  std::vector<RunRecord> runs;
  ASSERT_TRUE(store_->ListRuns("local", "proj", "job-train", &runs, &err)) << err;
  EXPECT_EQ(runs.size(), 1u);
  ASSERT_TRUE(store_->ListRuns("local", "proj", "job-other", &runs, &err)) << err;
  EXPECT_TRUE(runs.empty());
  // A malformed job reference is an error before the program runs.
  plan.job = "a/b/c/d";
  auto second = MakeStoreReporter(store_.get());
  EXPECT_FALSE(RunProgram(plan, second.get(), &outcome, &err));
  EXPECT_EQ(err.rfind("starting the run: job a/b/c/d: ", 0), 0u) << err;
}

TEST_F(RunProgramTest, InvalidRunIdIsRefused) {
  auto reporter = MakeStoreReporter(store_.get());
  RunOutcome outcome;
  std::string err;
  EXPECT_FALSE(RunProgram(Plan("true", "../x"), reporter.get(), &outcome, &err));
  EXPECT_NE(err.find("invalid run ID '../x'"), std::string::npos) << err;
}


/// Counts what a MetricsReader reports.
class CountingReporter : public RunReporter {
 public:
  bool Start(const RunStart&, std::string*) override { return true; }
  bool Output(OutputStream, std::string_view, std::string*) override { return true; }
  bool History(const std::string& row, std::string*) override {
    last_row = row;
    ++rows;
    return true;
  }
  bool Summary(const std::string&, std::string*) override {
    ++summaries;
    return true;
  }
  bool Finish(const RunOutcome&, std::string*) override { return true; }
  int rows = 0, summaries = 0;
  std::string last_row;
};

TEST(MetricsReaderTest, ManyLinesAtOnceMoveNoBytes) {
  // 1e5 rows in one read: erasing each line from the front of the buffer would move ~N^2/2
  // bytes (about 1.5e11 here); handled in place, nothing moves.
  ScopedTempDir tmp;
  const int kRows = 100000;
  std::string text;
  for (int i = 0; i < kRows; ++i) {
    text += "{\"history\": {\"loss\": " + std::to_string(i) + "}}\n";
  }
  text += "{\"summary\": {\"best\": 1}}\n";
  WriteTestFile(tmp.path(), "metrics.jsonl", text);
  CountingReporter reporter;
  MetricsReader reader(tmp.Join("metrics.jsonl"), &reporter);
  reader.Poll();
  EXPECT_EQ(reporter.rows, kRows);
  EXPECT_EQ(reporter.summaries, 1);
  EXPECT_EQ(json::parse(reporter.last_row), json::parse(R"({"loss": 99999, "_step": 99999})"));
  EXPECT_EQ(reader.bytes_moved(), 0u);
}

TEST(MetricsReaderTest, AnUnfinishedLineWaitsForTheNextPoll) {
  ScopedTempDir tmp;
  const std::string path = tmp.Join("metrics.jsonl");
  WriteTestFile(tmp.path(), "metrics.jsonl", "{\"history\": {\"a\": 1}}\n{\"history\": {\"a\"");
  CountingReporter reporter;
  MetricsReader reader(path, &reporter);
  reader.Poll();
  EXPECT_EQ(reporter.rows, 1);
  EXPECT_EQ(reader.bytes_moved(), std::string("{\"history\": {\"a\"").size());
  std::string err;
  std::string text;
  ASSERT_TRUE(ReadFile(path, &text, &err)) << err;
  WriteTestFile(tmp.path(), "metrics.jsonl", text + ": 2}}\n");
  reader.Poll();
  EXPECT_EQ(reporter.rows, 2);
  EXPECT_EQ(json::parse(reporter.last_row), json::parse(R"({"a": 2, "_step": 1})"));
  reader.Poll();  // nothing new
  EXPECT_EQ(reporter.rows, 2);
}

}  // namespace
}  // namespace wandb_job
