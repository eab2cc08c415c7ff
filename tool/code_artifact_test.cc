#include "code_artifact.h"

#include <gtest/gtest.h>

#include "log.h"
#include "test_util.h"

namespace wandb_job {
namespace {

TEST(CodeArtifactTest, GitTreeWithIgnoresSecretsAndBuildDirs) {
  ScopedTempDir dir;
  std::string root = dir.Join("repo");
  MakeTestRepo(root, {{"CMakeLists.txt", "x"},
                      {"src/a.cc", "a"},
                      {".gitignore", "*.log\n"},
                      {".wandbignore", "docs/\n"},
                      {"docs/big.md", "d"}});
  WriteTestFile(root, "untracked.cc", "u");
  WriteTestFile(root, "ignored.log", "i");
  WriteTestFile(root, ".env", "SECRET=1");
  WriteTestFile(root, "keys/server.pem", "k");
  WriteTestFile(root, "build/CMakeCache.txt", "cache");
  WriteTestFile(root, "build/out.o", "o");
  WriteTestFile(root, "other-build/CMakeCache.txt", "cache");
  WriteTestFile(root, "other-build/gen.cc", "g");
  CodeSelectionInput in;
  in.code_dir = root;
  in.git_root = root;
  in.binary_dir = root + "/build";
  in.exclude = {"*.md"};
  CodeSelection out;
  std::string err;
  ASSERT_TRUE(SelectCodeFiles(in, &out, &err)) << err;
  EXPECT_EQ(out.files, (std::vector<std::string>{".gitignore", ".wandbignore", "CMakeLists.txt",
                                                 "src/a.cc", "untracked.cc"}));
  EXPECT_EQ(out.secrets_skipped, (std::vector<std::string>{".env", "keys/server.pem"}));
  ASSERT_EQ(out.ignore_files.size(), 1u);
}

TEST(CodeArtifactTest, SubdirectoryOfRepo) {
  ScopedTempDir dir;
  std::string root = dir.Join("repo");
  MakeTestRepo(root, {{"a/x.cc", "x"}, {"b/y.cc", "y"}});
  CodeSelectionInput in;
  in.code_dir = root + "/a";
  in.git_root = root;
  in.binary_dir = dir.Join("build");
  CodeSelection out;
  std::string err;
  ASSERT_TRUE(SelectCodeFiles(in, &out, &err)) << err;
  EXPECT_EQ(out.files, (std::vector<std::string>{"x.cc"}));
}

TEST(CodeArtifactTest, OutsideGit) {
  ScopedTempDir dir;
  WriteTestFile(dir.path(), "src/CMakeLists.txt", "x");
  WriteTestFile(dir.path(), "src/.git/config", "not really");
  WriteTestFile(dir.path(), "src/id_rsa", "key");
  CodeSelectionInput in;
  in.code_dir = dir.Join("src");
  in.binary_dir = dir.Join("build");
  in.extra_files = {dir.Join("src/CMakeLists.txt")};
  CodeSelection out;
  std::string err;
  ASSERT_TRUE(SelectCodeFiles(in, &out, &err)) << err;
  EXPECT_EQ(out.files, (std::vector<std::string>{"CMakeLists.txt"}));
  EXPECT_EQ(out.secrets_skipped, (std::vector<std::string>{"id_rsa"}));
}

TEST(CodeArtifactTest, ExtraFileOutsideCodeDirIsAnError) {
  ScopedTempDir dir;
  WriteTestFile(dir.path(), "src/main.cc", "x");
  WriteTestFile(dir.path(), "elsewhere.txt", "x");
  CodeSelectionInput in;
  in.code_dir = dir.Join("src");
  in.binary_dir = dir.Join("build");
  in.extra_files = {dir.Join("elsewhere.txt")};
  CodeSelection out;
  std::string err;
  EXPECT_FALSE(SelectCodeFiles(in, &out, &err));
  EXPECT_NE(err.find("outside the code directory"), std::string::npos) << err;
  in.extra_files = {dir.Join("src/missing.txt")};
  EXPECT_FALSE(SelectCodeFiles(in, &out, &err));
  EXPECT_NE(err.find("does not exist"), std::string::npos) << err;
}

TEST(CodeArtifactTest, OverlongIgnorePatternIsAnError) {
  ScopedTempDir dir;
  WriteTestFile(dir.path(), "src/main.cc", "x");
  WriteTestFile(dir.path(), "src/.wandbignore", std::string(5000, '*') + "\n");
  CodeSelectionInput in;
  in.code_dir = dir.Join("src");
  in.binary_dir = dir.Join("build");
  CodeSelection out;
  std::string err;
  EXPECT_FALSE(SelectCodeFiles(in, &out, &err));
  EXPECT_NE(err.find(".wandbignore has a pattern longer than 4096 bytes"), std::string::npos)
      << err;
  WriteTestFile(dir.path(), "src/.wandbignore", "");
  in.exclude = {std::string(5000, '?')};
  EXPECT_FALSE(SelectCodeFiles(in, &out, &err));
  EXPECT_NE(err.find("an EXCLUDE pattern is longer than 4096 bytes"), std::string::npos) << err;
}

}  // namespace
}  // namespace wandb_job
