#include "code_artifact.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

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

// A tree with everything a capture must not take: links out of it, links to what is not taken,
// a FIFO (whose reader blocks), a socket. Links to taken files inside are taken.
void MakeHostileEntries(const std::string& root, const std::string& outside) {
  WriteTestFile(outside, "id_rsa.pub", "ssh-rsa AAAA outside");
  ASSERT_EQ(symlink((outside + "/id_rsa.pub").c_str(), (root + "/notes.txt").c_str()), 0);
  ASSERT_EQ(symlink("../outside/id_rsa.pub", (root + "/relative.txt").c_str()), 0);
  ASSERT_EQ(symlink("main.cc", (root + "/alias.cc").c_str()), 0);
  ASSERT_EQ(symlink(".env", (root + "/env.txt").c_str()), 0);
  ASSERT_EQ(symlink("nowhere", (root + "/dangling.txt").c_str()), 0);
  ASSERT_EQ(symlink("sub", (root + "/subdir-link").c_str()), 0);
  ASSERT_EQ(mkfifo((root + "/pipe").c_str(), 0644), 0);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string sock = root + "/sock";
  ASSERT_LT(sock.size(), sizeof(addr.sun_path));
  memcpy(addr.sun_path, sock.c_str(), sock.size() + 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
}

std::vector<std::string> LeftOutPaths(const CodeSelection& out) {
  std::vector<std::string> paths;
  for (const LeftOutFile& f : out.left_out) {
    paths.push_back(f.path);
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

TEST(CodeArtifactTest, TakesNothingFromOutsideAndNoSpecialFiles) {
  for (bool in_git : {false, true}) {
    SCOPED_TRACE(in_git ? "in git" : "outside git");
    ScopedTempDir dir;
    std::string root = dir.Join("src");
    WriteTestFile(root, "main.cc", "int main() {}");
    WriteTestFile(root, "sub/a.cc", "a");
    WriteTestFile(root, ".env", "SECRET=1");
    if (in_git) {
      MakeTestRepo(root, {{"main.cc", "int main() {}"}});
    }
    MakeHostileEntries(root, dir.Join("outside"));
    CodeSelectionInput in;
    in.code_dir = root;
    in.git_root = in_git ? root : "";
    in.binary_dir = dir.Join("build");
    CodeSelection out;
    std::string err;
    ASSERT_TRUE(SelectCodeFiles(in, &out, &err)) << err;
    EXPECT_EQ(out.files, (std::vector<std::string>{"alias.cc", "main.cc", "sub/a.cc"}));
    std::vector<std::string> left_out = {"dangling.txt", "env.txt",  "notes.txt",
                                         "relative.txt", "subdir-link"};
    if (!in_git) {
      // git lists neither FIFOs nor sockets; a plain directory walk sees them.
      left_out = {"dangling.txt", "env.txt", "notes.txt", "pipe", "relative.txt", "sock",
                  "subdir-link"};
    }
    EXPECT_EQ(LeftOutPaths(out), left_out);
    for (const LeftOutFile& f : out.left_out) {
      if (f.path == "notes.txt" || f.path == "relative.txt") {
        EXPECT_EQ(f.reason, "a symlink out of the code directory");
      } else if (f.path == "pipe") {
        EXPECT_EQ(f.reason, "a FIFO");
      } else if (f.path == "sock") {
        EXPECT_EQ(f.reason, "a socket");
      } else if (f.path == "env.txt") {
        EXPECT_EQ(f.reason, "a symlink to .env, which is not taken itself");
      }
    }
  }
}

TEST(CodeArtifactTest, IgnoreFileThatIsAFifoOrLinkOutsideIsNotRead) {
  ScopedTempDir dir;
  std::string root = dir.Join("src");
  WriteTestFile(root, "main.cc", "x");
  WriteTestFile(root, "a.log", "x");
  ASSERT_EQ(mkfifo((root + "/.wandbignore").c_str(), 0644), 0);
  WriteTestFile(dir.path(), "outside/rules", "*.cc\n");
  WriteTestFile(root, "sub/x.cc", "x");
  ASSERT_EQ(symlink(dir.Join("outside/rules").c_str(), (root + "/sub/.wandbignore").c_str()), 0);
  CodeSelectionInput in;
  in.code_dir = root;
  in.binary_dir = dir.Join("build");
  CodeSelection out;
  std::string err;
  ASSERT_TRUE(SelectCodeFiles(in, &out, &err)) << err;
  EXPECT_TRUE(out.ignore_files.empty());
  EXPECT_EQ(out.files, (std::vector<std::string>{"a.log", "main.cc", "sub/x.cc"}));
}

TEST(CodeArtifactTest, FileOverTheSizeLimitIsAnErrorUnlessExcluded) {
  ScopedTempDir dir;
  std::string root = dir.Join("src");
  WriteTestFile(root, "main.cc", "x");
  WriteTestFile(root, "data/big.bin", "");
  // Sparse: 3 GiB of size and no blocks.
  ASSERT_EQ(truncate((root + "/data/big.bin").c_str(), 3LL << 30), 0);
  ASSERT_EQ(symlink("data/big.bin", (root + "/big-link").c_str()), 0);
  CodeSelectionInput in;
  in.code_dir = root;
  in.binary_dir = dir.Join("build");
  in.max_file_bytes = 100 << 20;
  CodeSelection out;
  std::string err;
  EXPECT_FALSE(SelectCodeFiles(in, &out, &err));
  EXPECT_EQ(err,
            "data/big.bin is 3221225472 bytes, over the limit of 104857600 bytes per code file; "
            "leave it out (EXCLUDE or .wandbignore) or raise MAX_FILE_SIZE");
  in.exclude = {"data/"};
  ASSERT_TRUE(SelectCodeFiles(in, &out, &err)) << err;
  EXPECT_EQ(out.files, (std::vector<std::string>{"main.cc"}));
  EXPECT_EQ(LeftOutPaths(out), (std::vector<std::string>{"big-link"}));  // its target is not taken
  in.exclude.clear();
  in.max_file_bytes = 0;  // no limit
  ASSERT_TRUE(SelectCodeFiles(in, &out, &err)) << err;
  EXPECT_EQ(out.files, (std::vector<std::string>{"big-link", "data/big.bin", "main.cc"}));
}

}  // namespace
}  // namespace wandb_job
