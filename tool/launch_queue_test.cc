#include "launch_queue.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace wandb_job {
namespace {

TEST(LaunchQueue, SpecHasTheSdkKeysInItsOrder) {
  LaunchSpecInput in;
  in.job = "acme/vision/train:latest";
  in.entity = "acme";
  in.project = "runs";
  in.run_config = R"({"lr":0.5})";
  EXPECT_EQ(LaunchSpecJson(in),
            R"({"overrides":{"run_config":{"lr":0.5}},"job":"acme/vision/train:latest",)"
            R"("entity":"acme","project":"runs","docker":{},"resource":null,"git":{}})");
  in.run_config = "{}";
  EXPECT_EQ(LaunchSpecJson(in),
            R"({"job":"acme/vision/train:latest","entity":"acme","project":"runs",)"
            R"("docker":{},"resource":null,"git":{},"overrides":{}})");
}

TEST(LaunchQueue, PriorityAsWandbLaunchMapsIt) {
  int p = -1;
  std::string err;
  ASSERT_TRUE(ParseLaunchPriority("critical", &p, &err));
  EXPECT_EQ(p, 0);
  ASSERT_TRUE(ParseLaunchPriority("High", &p, &err));
  EXPECT_EQ(p, 1);
  ASSERT_TRUE(ParseLaunchPriority("low", &p, &err));
  EXPECT_EQ(p, 3);
  EXPECT_FALSE(ParseLaunchPriority("urgent", &p, &err));
  EXPECT_EQ(err, "--priority 'urgent': expected critical, high, medium or low");
}

TEST(LaunchQueue, ConfigFileThenPairs) {
  ScopedTempDir dir;
  std::string path = dir.Join("config.json");
  std::string err;
  WriteTestFile(dir.path(), "config.json", R"({"lr": 0.1, "model": {"depth": 3}, "note": "hi"})");
  std::vector<std::string> pairs;
  ASSERT_TRUE(LaunchConfigPairs(path, {"lr=0.5", "epochs=2"}, &pairs, &err)) << err;
  EXPECT_EQ(pairs,
            (std::vector<std::string>{"model.depth=3", "note=\"hi\"", "lr=0.5", "epochs=2"}));
  WriteTestFile(dir.path(), "config.json", "[1, 2]");
  EXPECT_FALSE(LaunchConfigPairs(path, {}, &pairs, &err));
  EXPECT_NE(err.find("not a JSON object of config values"), std::string::npos) << err;
  EXPECT_FALSE(LaunchConfigPairs(dir.Join("missing.json"), {}, &pairs, &err));
  EXPECT_EQ(err.rfind("--config ", 0), 0u) << err;
}

}  // namespace
}  // namespace wandb_job
