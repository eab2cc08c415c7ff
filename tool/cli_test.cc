#include "cli.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

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

}  // namespace
}  // namespace wandb_job
