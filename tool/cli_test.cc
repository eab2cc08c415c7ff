#include "cli.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "file_util.h"
#include "log.h"
#include "progress.h"
#include "test_util.h"

namespace wandb_job {
namespace {

TEST(RunGuardedTest, PassesTheExitCodeThrough) {
  EXPECT_EQ(RunGuarded("show", [] { return 0; }), 0);
  EXPECT_EQ(RunGuarded("show", [] { return 2; }), 2);
}

TEST(RunGuardedTest, AnEscapedJsonTypeErrorIsOneLineAndExitOne) {
  testing::internal::CaptureStderr();
  int rc = RunGuarded("publish", [] {
    nlohmann::json j = nlohmann::json::parse(R"({"entity": null})");
    return j["entity"].get<std::string>().empty() ? 0 : 3;
  });
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(err.rfind("wandb-job: error: publish: unexpected failure: ", 0), 0u) << err;
  EXPECT_NE(err.find("must be string"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), err.size() - 1) << err;
}

TEST(RunGuardedTest, AnyExceptionIsCaught) {
  testing::internal::CaptureStderr();
  EXPECT_EQ(RunGuarded("ls", []() -> int { throw std::runtime_error("line one\nline two"); }), 1);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("line one line two"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), err.size() - 1) << err;
  testing::internal::CaptureStderr();
  EXPECT_EQ(RunGuarded("ls", []() -> int { throw 42; }), 1);
  err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("unknown exception"), std::string::npos) << err;
}

int RunCliArgs(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  return RunCli(static_cast<int>(argv.size()), argv.data());
}

// `store verify --store DIR`, as the README writes it, and `store --store DIR verify` both read
// DIR (not $WANDB_JOB_STORE).
TEST(CliTest, StoreVerifyTakesTheStoreAfterTheSubcommand) {
  ScopedTempDir dir;
  const std::string store = dir.Join("store");
  for (std::vector<std::string> args :
       {std::vector<std::string>{"store", "verify", "--store", store},
        std::vector<std::string>{"store", "--store", store, "verify"}}) {
    args.insert(args.begin(), "wandb-job");
    testing::internal::CaptureStdout();
    testing::internal::CaptureStderr();
    int rc = RunCliArgs(args);
    std::string out = testing::internal::GetCapturedStdout();
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(rc, 0) << args[2] << " " << args[3] << ": " << err;
    EXPECT_EQ(out, "store " + store + ": ok\n") << err;
  }
}

TEST(DockerfileCommandTest, UsageAndErrors) {
  testing::internal::CaptureStderr();
  EXPECT_EQ(RunCliArgs({"wandb-job", "dockerfile", "--bundle", "b"}), 2);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("dockerfile: --out-dir is required"), std::string::npos) << err;

  testing::internal::CaptureStderr();
  EXPECT_EQ(RunCliArgs({"wandb-job", "dockerfile", "--bundle", "/nonexistent/bundle",
                        "--out-dir", "."}),
            1);
  err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err.rfind("wandb-job: error: bundle /nonexistent/bundle does not exist", 0), 0u)
      << err;
  EXPECT_EQ(err.find('\n'), err.size() - 1) << err;
}

struct CliOutput {
  int rc;
  std::string out, err;
};

CliOutput Capture(std::vector<std::string> args) {
  args.insert(args.begin(), "wandb-job");
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  int rc = RunCliArgs(args);
  CliOutput o{rc, testing::internal::GetCapturedStdout(), testing::internal::GetCapturedStderr()};
  SetVerbosity(Verbosity::kNormal);
  SetDefaultProgressMode(ProgressMode::kAuto);
  return o;
}

// Global options go before or after the command, as in git and cargo, but never take an
// argument of the program after exec's "--".
TEST(CliTest, GlobalOptionsAnywhere) {
  ScopedTempDir dir;
  const std::string store = dir.Join("store");
  for (std::vector<std::string> args :
       {std::vector<std::string>{"-v", "ls", "--store", store},
        std::vector<std::string>{"ls", "-v", "--store", store},
        std::vector<std::string>{"ls", "--store", store, "--verbose"}}) {
    args.insert(args.begin(), "wandb-job");
    testing::internal::CaptureStdout();
    EXPECT_EQ(RunCliArgs(args), 0) << args[1] << " " << args[2];
    testing::internal::GetCapturedStdout();
    EXPECT_EQ(GetVerbosity(), Verbosity::kVerbose) << args[1] << " " << args[2];
    SetVerbosity(Verbosity::kNormal);
  }
  for (const char* mode : {"--progress=plain", "--progress=tty", "--progress=none"}) {
    CliOutput o = Capture({"ls", mode, "--store", store, "-q"});
    EXPECT_EQ(o.rc, 0) << mode << ": " << o.err;
    EXPECT_EQ(o.err, "") << mode;
  }
  CliOutput o = Capture({"ls", "--progress", "fancy"});
  EXPECT_EQ(o.rc, 2);
  EXPECT_EQ(o.err,
            "wandb-job: error: --progress fancy: expected tty, plain or none (see 'wandb-job "
            "--help')\n");
  o = Capture({"ls", "--progress"});
  EXPECT_EQ(o.rc, 2);
  EXPECT_NE(o.err.find("--progress needs a value"), std::string::npos) << o.err;

  // After "--", -v and --quiet are the program's.
  setenv("WANDB_MODE", "disabled", 1);
  o = Capture(
      {"exec", "-q", "--", "/bin/sh", "-c", "test \"$1$2\" = -v--quiet", "sh", "-v", "--quiet"});
  unsetenv("WANDB_MODE");
  EXPECT_EQ(o.rc, 0) << o.err;

  // After launch, -q is the queue (`wandb launch -q QUEUE`), not --quiet.
  setenv("WANDB_MODE", "offline", 1);
  o = Capture({"launch", "team/p/job", "-q", "gpu"});
  unsetenv("WANDB_MODE");
  EXPECT_NE(o.rc, 0);
  EXPECT_EQ(o.err.find("--queue"), std::string::npos) << o.err;
  EXPECT_NE(GetVerbosity(), Verbosity::kQuiet);
  SetVerbosity(Verbosity::kNormal);
}

TEST(CliTest, SuggestsOnlyCloseCommands) {
  for (const auto& [typo, meant] :
       std::vector<std::pair<std::string, std::string>>{{"lss", "ls"},
                                                        {"pubilsh", "publish"},
                                                        {"shwo", "show"},
                                                        {"stor", "store"},
                                                        {"bundel", "bundle"},
                                                        {"publsh", "publish"}}) {
    CliOutput o = Capture({typo});
    EXPECT_EQ(o.rc, 2);
    EXPECT_NE(o.err.find("did you mean '" + meant + "'?"), std::string::npos) << o.err;
  }
  for (const char* far : {"foo", "x", "list-all", "sh0wme"}) {
    CliOutput o = Capture({far});
    EXPECT_EQ(o.rc, 2);
    EXPECT_EQ(o.err, std::string("wandb-job: error: unknown command '") + far +
                         "' (see 'wandb-job --help')\n");
  }
}

TEST(CliTest, HelpHasExamplesEnvironmentAndExitCodes) {
  CliOutput o = Capture({"--help"});
  EXPECT_EQ(o.rc, 0);
  for (const char* words :
       {"Global options", "--progress=MODE", "Examples:", "Environment:", "WANDB_API_KEY",
        "WANDB_JOB_STORE", "Exit codes: 0 success, 1 failure, 2 usage error"}) {
    EXPECT_NE(o.out.find(words), std::string::npos) << words << "\n" << o.out;
  }
  for (const char* command : {"publish", "ls", "show", "run", "exec"}) {
    o = Capture({command, "--help"});
    EXPECT_EQ(o.rc, 0) << command;
    EXPECT_NE(o.out.find("Examples:"), std::string::npos) << command << "\n" << o.out;
    EXPECT_NE(o.out.find("wandb-job " + std::string(command) + " "), std::string::npos)
        << command << "\n"
        << o.out;
  }
}

// An image job's entrypoint is a shim inside the container, under the shim of `wandb-job run`,
// which records the run: the inner one records nothing and warns of no job missing from a store.
TEST(CliTest, ANestedShimDoesNotReport) {
  ScopedTempDir dir;
  setenv("WANDB_JOB_METRICS_FILE", dir.Join("metrics.jsonl").c_str(), 1);
  setenv("WANDB_MODE", "offline", 1);
  CliOutput o = Capture({"exec", "--store", dir.Join("store"), "--job", "local/proj/job-img",
                         "--run-id", "nested01", "--", "/bin/true"});
  unsetenv("WANDB_JOB_METRICS_FILE");
  EXPECT_EQ(o.rc, 0) << o.err;
  EXPECT_EQ(o.err.find("warning"), std::string::npos) << o.err;
  EXPECT_FALSE(FileExists(dir.Join("store"))) << "the nested shim recorded the run";
  // Not nested: the run is recorded, and the unknown job is worth a warning.
  o = Capture({"exec", "--store", dir.Join("store"), "--job", "local/proj/job-img", "--run-id",
               "outer001", "--", "/bin/true"});
  unsetenv("WANDB_MODE");
  EXPECT_EQ(o.rc, 0) << o.err;
  EXPECT_NE(o.err.find("not in the local store"), std::string::npos) << o.err;
}

}  // namespace
}  // namespace wandb_job
