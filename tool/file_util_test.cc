#include "file_util.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "test_util.h"

namespace wandb_job {
namespace {

TEST(FileUtilTest, NormalizePath) {
  EXPECT_EQ(NormalizePath("a/b/../c/./d/"), "a/c/d");
  EXPECT_EQ(NormalizePath("/a//b/"), "/a/b");
  EXPECT_EQ(NormalizePath("/../a"), "/a");
  EXPECT_EQ(NormalizePath("../a"), "../a");
  EXPECT_EQ(NormalizePath(""), ".");
  EXPECT_EQ(NormalizePath("a/.."), ".");
}

TEST(FileUtilTest, RelativeAndWithin) {
  EXPECT_EQ(RelativePath("/r/a/b", "/r"), "a/b");
  EXPECT_EQ(RelativePath("/r", "/r"), ".");
  EXPECT_EQ(RelativePath("/r/x", "/r/a/b"), "../../x");
  EXPECT_TRUE(IsWithin("/r/a", "/r"));
  EXPECT_TRUE(IsWithin("/r", "/r/"));
  EXPECT_FALSE(IsWithin("/rr/a", "/r"));
  EXPECT_TRUE(IsWithin("/x", "/"));
  EXPECT_EQ(JoinPath("a", "b"), "a/b");
  EXPECT_EQ(JoinPath("a/", "/b"), "/b");
}

TEST(FileUtilTest, ReadCopyWalkRemove) {
  ScopedTempDir dir;
  WriteTestFile(dir.path(), "src/b.txt", "bee");
  WriteTestFile(dir.path(), "src/a/z.txt", "zed");
  std::string err;
  ASSERT_TRUE(CopyFile(dir.Join("src/b.txt"), dir.Join("copy.txt"), 0755, &err)) << err;
  std::string contents;
  ASSERT_TRUE(ReadFile(dir.Join("copy.txt"), &contents, &err)) << err;
  EXPECT_EQ(contents, "bee");
  struct stat st;
  ASSERT_EQ(stat(dir.Join("copy.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);

  std::vector<std::string> seen;
  ASSERT_TRUE(WalkDirectory(dir.Join("src"),
                            [&](const DirEntry& e) {
                              seen.push_back(e.relpath + (e.is_dir ? "/" : ""));
                              return true;
                            },
                            &err))
      << err;
  EXPECT_EQ(seen, (std::vector<std::string>{"a/", "a/z.txt", "b.txt"}));

  ASSERT_TRUE(MakeDirs(dir.Join("x/y/z"), &err)) << err;
  EXPECT_TRUE(IsDirectory(dir.Join("x/y/z")));
  ASSERT_TRUE(RemoveTree(dir.Join("src"), &err)) << err;
  EXPECT_FALSE(FileExists(dir.Join("src")));
  EXPECT_TRUE(RemoveTree(dir.Join("missing"), &err));
}

TEST(FileUtilTest, Errors) {
  ScopedTempDir dir;
  std::string err, contents;
  EXPECT_FALSE(ReadFile(dir.Join("nope"), &contents, &err));
  EXPECT_NE(err.find("reading"), std::string::npos);
  WriteTestFile(dir.path(), "file", "x");
  EXPECT_FALSE(MakeDirs(dir.Join("file/sub"), &err));
  EXPECT_FALSE(CopyFile(dir.Join("nope"), dir.Join("out"), 0644, &err));
}

TEST(FileUtilTest, CopyOfAFifoFailsWithoutBlocking) {
  ScopedTempDir dir;
  ASSERT_EQ(mkfifo(dir.Join("pipe").c_str(), 0644), 0);
  std::string err;
  EXPECT_FALSE(IsRegularFile(dir.Join("pipe")));
  EXPECT_FALSE(CopyFile(dir.Join("pipe"), dir.Join("out"), 0644, &err));
  EXPECT_EQ(err, "copying " + dir.Join("pipe") + ": not a regular file");
  EXPECT_FALSE(CopyFile(dir.path(), dir.Join("out"), 0644, &err));
}

}  // namespace
}  // namespace wandb_job
