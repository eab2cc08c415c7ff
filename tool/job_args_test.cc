#include "job_args.h"

#include <gtest/gtest.h>

namespace wandb_job {
namespace {

TEST(JobArgsTest, RendersValuesByType) {
  std::vector<std::string> out;
  std::string err;
  ASSERT_TRUE(RenderArgs({"--lr", "{lr}", "--name={name}", "{model.layers}", "{on}", "{{x}}"},
                         R"({"lr":0.01,"name":"resnet","model":{"layers":[64,128]},"on":true})",
                         &out, &err))
      << err;
  EXPECT_EQ(out, (std::vector<std::string>{"--lr", "0.01", "--name=resnet", "[64,128]", "true",
                                           "{x}"}));
}

TEST(JobArgsTest, UnknownKeyListsKnownOnes) {
  std::vector<std::string> out;
  std::string err;
  EXPECT_FALSE(RenderArgs({"--x", "{nope}"}, R"({"lr":1,"model":{"depth":2}})", &out, &err));
  EXPECT_NE(err.find("{nope}"), std::string::npos) << err;
  EXPECT_NE(err.find("known: lr, model.depth"), std::string::npos) << err;
}

TEST(JobArgsTest, UnterminatedBrace) {
  std::vector<std::string> out;
  std::string err;
  EXPECT_FALSE(RenderArgs({"{lr"}, R"({"lr":1})", &out, &err));
  EXPECT_NE(err.find("unterminated"), std::string::npos);
}

}  // namespace
}  // namespace wandb_job
