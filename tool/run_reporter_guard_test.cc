#include "run_reporter_guard.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace wandb_job {
namespace {

// Throws what a damaged reply would make nlohmann throw, from the calls named in `throwing`.
class ThrowingReporter : public RunReporter {
 public:
  explicit ThrowingReporter(std::string throwing, bool refuse_start = false)
      : throwing_(std::move(throwing)), refuse_start_(refuse_start) {}
  bool Start(const RunStart&, std::string* err) override {
    Maybe("start");
    if (refuse_start_) {
      *err = "invalid run ID";
      return false;
    }
    return true;
  }
  bool Output(OutputStream, std::string_view, std::string*) override { return Maybe("output"); }
  bool History(const std::string&, std::string*) override { return Maybe("history"); }
  bool Summary(const std::string&, std::string*) override { return Maybe("summary"); }
  bool Finish(const RunOutcome&, std::string*) override { return Maybe("finish"); }

 private:
  bool Maybe(const std::string& call) {
    if (throwing_.find(call) != std::string::npos) {
      nlohmann::json inserted = nullptr;
      return inserted.get<bool>();
    }
    return true;
  }
  std::string throwing_;
  bool refuse_start_;
};

TEST(GuardReporterTest, AThrowingStartDisablesReportingAndTheProgramRuns) {
  auto r = GuardReporter(std::make_unique<ThrowingReporter>("start output finish"));
  std::string err;
  testing::internal::CaptureStderr();
  EXPECT_TRUE(r->Start(RunStart{}, &err));
  std::string warning = testing::internal::GetCapturedStderr();
  EXPECT_NE(warning.find("running the program unreported"), std::string::npos) << warning;
  EXPECT_NE(warning.find("unexpected failure: "), std::string::npos) << warning;
  EXPECT_TRUE(r->Output(OutputStream::kStdout, "x", &err));
  EXPECT_TRUE(r->Finish(RunOutcome{}, &err));
}

TEST(GuardReporterTest, ALaterThrowIsAFailedCall) {
  auto r = GuardReporter(std::make_unique<ThrowingReporter>("history finish"));
  std::string err;
  ASSERT_TRUE(r->Start(RunStart{}, &err));
  EXPECT_TRUE(r->Output(OutputStream::kStdout, "x", &err));
  EXPECT_FALSE(r->History(R"({"_step": 0})", &err));
  EXPECT_EQ(err.rfind("unexpected failure: ", 0), 0u) << err;
  err.clear();
  EXPECT_FALSE(r->Finish(RunOutcome{}, &err));
  EXPECT_NE(err.find("type must be boolean"), std::string::npos) << err;
}

TEST(GuardReporterTest, AFailedStartIsAWarningAndTheProgramRuns) {
  auto r = GuardReporter(std::make_unique<ThrowingReporter>("", true));
  std::string err;
  testing::internal::CaptureStderr();
  EXPECT_TRUE(r->Start(RunStart{}, &err));
  std::string warning = testing::internal::GetCapturedStderr();
  EXPECT_NE(warning.find("not reporting the run: invalid run ID; running the program unreported"),
            std::string::npos)
      << warning;
  EXPECT_TRUE(r->History("{}", &err));
}

}  // namespace
}  // namespace wandb_job
