#include "progress.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <regex>
#include <string>
#include <thread>

#include "log.h"

namespace wandb_job {
namespace {

constexpr std::chrono::hours kNoTicks(24);  // no ticker line within a test

TEST(ProgressTest, ParsesTheModes) {
  ProgressMode mode = ProgressMode::kAuto;
  EXPECT_TRUE(ParseProgressMode("tty", &mode));
  EXPECT_EQ(mode, ProgressMode::kTerminal);
  EXPECT_TRUE(ParseProgressMode("plain", &mode));
  EXPECT_EQ(mode, ProgressMode::kPlain);
  EXPECT_TRUE(ParseProgressMode("none", &mode));
  EXPECT_EQ(mode, ProgressMode::kNone);
  EXPECT_FALSE(ParseProgressMode("bar", &mode));
  EXPECT_FALSE(ParseProgressMode("", &mode));
}

TEST(ProgressTest, HumanBytes) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(3u << 20), "3.0 MiB");
  EXPECT_EQ(HumanBytes(5ull << 30), "5.00 GiB");
}

// Plain lines carry the figures: files, bytes, then rate and ETA, or the time at the end.
TEST(ProgressTest, PlainLinesAtStartAndEnd) {
  testing::internal::CaptureStderr();
  {
    Progress p(ProgressMode::kPlain, "uploading x", 2, 3072, kNoTicks);
    p.FileDone("a", 1024);
    p.FileDone("b", 2048);
    p.Finish(true);
  }
  std::string err = testing::internal::GetCapturedStderr();
  std::regex form(
      "wandb-job: uploading x: 0/2 files, 0 B/3\\.0 KiB, rate -, ETA -\n"
      "wandb-job: uploading x: 2/2 files, 3\\.0 KiB/3\\.0 KiB, done in \\d+\\.\\d s\n");
  EXPECT_TRUE(std::regex_match(err, form)) << err;
}

TEST(ProgressTest, AFailureEndsWithoutADoneLine) {
  testing::internal::CaptureStderr();
  {
    Progress p(ProgressMode::kPlain, "pushing r", 3, 30, kNoTicks);
    p.FileDone("a", 10);
  }  // destroyed without Finish(true): a failure
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "wandb-job: pushing r: 0/3 files, 0 B/30 B, rate -, ETA -\n");
}

TEST(ProgressTest, TheTickerRepeatsTheFigures) {
  testing::internal::CaptureStderr();
  {
    Progress p(ProgressMode::kPlain, "x", 1, 10, std::chrono::milliseconds(1));
    p.FileDone("a", 5);
    // Lines come every millisecond until Finish; how many is up to the scheduler.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    p.Finish(true);
  }
  std::string err = testing::internal::GetCapturedStderr();
  std::regex line(
      "wandb-job: x: [01]/1 files, (0|5|10) B/10 B, "
      "(rate -, ETA -|\\d+(\\.\\d)? (B|KiB|MiB|GiB)/s, ETA \\d+ s|done in \\d+\\.\\d s)");
  size_t start = 0, lines = 0;
  while (start < err.size()) {
    size_t end = err.find('\n', start);
    ASSERT_NE(end, std::string::npos) << err;
    std::string one = err.substr(start, end - start);
    EXPECT_TRUE(std::regex_match(one, line)) << one;
    start = end + 1;
    ++lines;
  }
  EXPECT_GE(lines, 2u) << err;
}

TEST(ProgressTest, NoneAndQuietPrintNothing) {
  testing::internal::CaptureStderr();
  {
    Progress p(ProgressMode::kNone, "x", 1, 1, kNoTicks);
    p.FileDone("a", 1);
    p.Finish(true);
  }
  SetVerbosity(Verbosity::kQuiet);
  for (ProgressMode mode : {ProgressMode::kPlain, ProgressMode::kTerminal}) {
    Progress p(mode, "x", 1, 1, kNoTicks);
    EXPECT_EQ(p.mode(), ProgressMode::kNone);
    p.FileDone("a", 1);
    p.Finish(true);
  }
  SetVerbosity(Verbosity::kNormal);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

// kAuto follows --progress (SetDefaultProgressMode), else the terminal test.
TEST(ProgressTest, AutoFollowsTheDefault) {
  SetDefaultProgressMode(ProgressMode::kNone);
  {
    Progress p(ProgressMode::kAuto, "x", 1, 1, kNoTicks);
    EXPECT_EQ(p.mode(), ProgressMode::kNone);
  }
  SetDefaultProgressMode(ProgressMode::kPlain);
  testing::internal::CaptureStderr();
  {
    Progress p(ProgressMode::kAuto, "x", 1, 1, kNoTicks);
    EXPECT_EQ(p.mode(), ProgressMode::kPlain);
  }
  testing::internal::GetCapturedStderr();
  SetDefaultProgressMode(ProgressMode::kAuto);
}

TEST(ProgressTest, TerminalRedrawsOneLine) {
  testing::internal::CaptureStderr();
  {
    Progress p(ProgressMode::kTerminal, "x", 2, 2048, kNoTicks);
    p.FileDone("a", 1024);
    p.FileDone("b", 1024);
    p.Finish(true);
  }
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err.rfind("\r\033[Kwandb-job: [....................] x: 0/2 files", 0), 0u) << err;
  EXPECT_NE(err.find("\r\033[Kwandb-job: [####################] x: 2/2 files, 2.0 KiB/2.0 KiB"),
            std::string::npos)
      << err;
  EXPECT_EQ(err.back(), '\n');
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1);
}

// A step that is over before the interval (most captures) prints nothing in any mode.
TEST(ProgressTest, OnlyIfSlowIsSilentWhenFast) {
  testing::internal::CaptureStderr();
  for (ProgressMode mode : {ProgressMode::kPlain, ProgressMode::kTerminal}) {
    Progress p(mode, "train: capturing the code", 3, 300, kNoTicks, /*only_if_slow=*/true);
    for (const char* f : {"a", "b", "c"}) {
      p.FileDone(f, 100);
    }
    p.Finish(true);
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace wandb_job
