#include "atomic_file.h"

#include <gtest/gtest.h>

#include "file_util.h"
#include "test_util.h"

namespace wandb_job {
namespace {

TEST(AtomicFileTest, CommitReplaces) {
  ScopedTempDir dir;
  std::string err, contents;
  WriteTestFile(dir.path(), "f", "old");
  {
    AtomicFile file(dir.Join("f"));
    ASSERT_TRUE(file.Write("new", &err)) << err;
    ASSERT_TRUE(ReadFile(dir.Join("f"), &contents, &err));
    EXPECT_EQ(contents, "old");  // Not visible before Commit().
    ASSERT_TRUE(file.Commit(&err)) << err;
  }
  ASSERT_TRUE(ReadFile(dir.Join("f"), &contents, &err));
  EXPECT_EQ(contents, "new");
}

TEST(AtomicFileTest, AbandonedLeavesNothing) {
  ScopedTempDir dir;
  std::string err;
  {
    AtomicFile file(dir.Join("g"));
    ASSERT_TRUE(file.Write("data", &err)) << err;
  }
  std::vector<std::string> names;
  WalkDirectory(dir.path(), [&](const DirEntry& e) { names.push_back(e.relpath); return true; },
                &err);
  EXPECT_TRUE(names.empty());
}

TEST(AtomicFileTest, EmptyFileAndErrors) {
  ScopedTempDir dir;
  std::string err;
  ASSERT_TRUE(WriteFileAtomic(dir.Join("empty"), "", &err)) << err;
  EXPECT_TRUE(FileExists(dir.Join("empty")));
  EXPECT_FALSE(WriteFileAtomic(dir.Join("no/such/dir/f"), "x", &err));
  EXPECT_NE(err.find("creating"), std::string::npos);
}

}  // namespace
}  // namespace wandb_job
