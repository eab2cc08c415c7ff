#include "content_cache.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "file_util.h"
#include "hash.h"
#include "test_util.h"

namespace wandb_job {
namespace {

class ContentCacheTest : public ::testing::Test {
 protected:
  std::string Src(const std::string& rel) { return dir_.Join("src/" + rel); }
  std::string Cache() { return dir_.Join("cache"); }

  // Writes a source file and lets the file system's clock move past it, so that a run opened
  // afterwards may remember it (racy-git rule).
  void WriteOld(const std::string& rel, const std::string& data) {
    WriteTestFile(dir_.path(), "src/" + rel, data);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }

  // One run of the cache: places `rel` at out/<n>, returns what Place() said.
  PlacedFile Run(const std::string& rel) {
    ContentCache cache(Cache());
    std::string err;
    EXPECT_TRUE(cache.Open(&err)) << err;
    std::string dest = dir_.Join("out/" + std::to_string(runs_++));
    EXPECT_TRUE(MakeDirs(dir_.Join("out"), &err)) << err;
    PlacedFile placed;
    EXPECT_TRUE(cache.Place(Src(rel), dest, &placed, &err)) << err;
    EXPECT_TRUE(cache.Save(&err)) << err;
    std::string text;
    EXPECT_TRUE(ReadFile(dest, &text, &err)) << err;
    std::string want;
    EXPECT_TRUE(ReadFile(Src(rel), &want, &err)) << err;
    EXPECT_EQ(text, want);
    EXPECT_EQ(HexEncode(placed.md5), Md5Hex(want));
    EXPECT_EQ(placed.size, want.size());
    return placed;
  }

  ScopedTempDir dir_;
  int runs_ = 0;
};

TEST_F(ContentCacheTest, LinksOneReadOnlyCopy) {
  WriteOld("a.txt", "alpha\n");
  PlacedFile first = Run("a.txt");
  EXPECT_TRUE(first.hashed);
  PlacedFile second = Run("a.txt");
  EXPECT_FALSE(second.hashed) << "an unchanged file was read again";
  struct stat a, b;
  ASSERT_EQ(stat(dir_.Join("out/0").c_str(), &a), 0);
  ASSERT_EQ(stat(dir_.Join("out/1").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino) << "the two bundles hold two copies";
  EXPECT_EQ(a.st_mode & 0777, 0444u) << "a shared file must be read-only";
  EXPECT_EQ(a.st_nlink, 3u);  // the object and two bundles
}

TEST_F(ContentCacheTest, ChangedFileIsHashedAgain) {
  WriteOld("a.txt", "alpha\n");
  Run("a.txt");
  WriteOld("a.txt", "omega\n");  // same size
  PlacedFile again = Run("a.txt");
  EXPECT_TRUE(again.hashed);
  EXPECT_FALSE(Run("a.txt").hashed);
}

TEST_F(ContentCacheTest, RacyFileIsNotRemembered) {
  ContentCache cache(Cache());
  std::string err;
  ASSERT_TRUE(cache.Open(&err)) << err;
  // Written after the run started: a change within the same clock tick would go unseen.
  WriteTestFile(dir_.path(), "src/a.txt", "alpha\n");
  ASSERT_TRUE(MakeDirs(dir_.Join("out"), &err));
  PlacedFile placed;
  ASSERT_TRUE(cache.Place(Src("a.txt"), dir_.Join("out/racy"), &placed, &err)) << err;
  ASSERT_TRUE(cache.Save(&err)) << err;
  EXPECT_TRUE(Run("a.txt").hashed);
}

TEST_F(ContentCacheTest, DamagedStatCacheIsIgnored) {
  WriteOld("a.txt", "alpha\n");
  Run("a.txt");
  std::string path = JoinPath(Cache(), "stat-cache");
  std::string text, err;
  ASSERT_TRUE(ReadFile(path, &text, &err)) << err;
  text[text.size() / 2] ^= 1;
  WriteTestFile(Cache(), "stat-cache", text);
  EXPECT_TRUE(Run("a.txt").hashed);
  EXPECT_FALSE(Run("a.txt").hashed);
}

TEST_F(ContentCacheTest, RemovedObjectIsStoredAgain) {
  WriteOld("a.txt", "alpha\n");
  PlacedFile first = Run("a.txt");
  std::string hex = HexEncode(first.md5);
  std::string object = Cache() + "/objects/" + hex.substr(0, 2) + "/" + hex;
  ASSERT_EQ(unlink(object.c_str()), 0);
  EXPECT_TRUE(Run("a.txt").hashed);
  EXPECT_TRUE(FileExists(object));
}

TEST_F(ContentCacheTest, InterruptedRunLeavesNothingBehind) {
  // A dead writer's temporary file (a pid above Linux's limit is never alive) is removed.
  WriteTestFile(Cache(), "tmp/999999999.123", "half");
  WriteOld("a.txt", "alpha\n");
  Run("a.txt");
  EXPECT_FALSE(FileExists(Cache() + "/tmp/999999999.123"));
}

// Two captures of one tree at once (ninja -j): each places every file; neither may see an object
// vanish under it (a rename over an object another run is linking used to fail with ENOENT).
TEST_F(ContentCacheTest, ConcurrentRunsOfOneTree) {
  const int kFiles = 400;
  for (int i = 0; i < kFiles; ++i) {
    WriteTestFile(dir_.path(), "src/f" + std::to_string(i), "content " + std::to_string(i));
  }
  for (int round = 0; round < 5; ++round) {
    std::string cache_dir = dir_.Join("cache" + std::to_string(round));
    auto capture = [&](int run, std::string* failure) {
      ContentCache cache(cache_dir);
      std::string err;
      std::string out = dir_.Join("out" + std::to_string(round) + "-" + std::to_string(run));
      if (!cache.Open(&err) || !MakeDirs(out, &err)) {
        *failure = err;
        return;
      }
      for (int i = 0; i < kFiles && failure->empty(); ++i) {
        PlacedFile placed;
        std::string name = "f" + std::to_string(i);
        if (!cache.Place(Src(name), out + "/" + name, &placed, &err)) {
          *failure = err;
        }
      }
      if (failure->empty() && !cache.Save(&err)) {
        *failure = err;
      }
    };
    std::string failure_a, failure_b;
    std::thread a(capture, 0, &failure_a);
    std::thread b(capture, 1, &failure_b);
    a.join();
    b.join();
    EXPECT_EQ(failure_a, "") << "round " << round;
    EXPECT_EQ(failure_b, "") << "round " << round;
  }
}

TEST_F(ContentCacheTest, Errors) {
  ContentCache cache(Cache());
  std::string err;
  ASSERT_TRUE(cache.Open(&err)) << err;
  PlacedFile placed;
  EXPECT_FALSE(cache.Place(Src("missing"), dir_.Join("x"), &placed, &err));
  EXPECT_NE(err.find("reading " + Src("missing")), std::string::npos) << err;
  ASSERT_TRUE(MakeDirs(dir_.Join("src"), &err));
  ASSERT_EQ(mkfifo(Src("fifo").c_str(), 0644), 0);
  EXPECT_FALSE(cache.Place(Src("fifo"), dir_.Join("y"), &placed, &err));  // must not block
  EXPECT_NE(err.find("not a regular file"), std::string::npos) << err;
  EXPECT_FALSE(FileExists(dir_.Join("y")));
}

}  // namespace
}  // namespace wandb_job
