#include "oci_layout.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "file_util.h"
#include "hash.h"
#include "test_util.h"

namespace wandb_job {
namespace {

std::string Pseudorandom(size_t n) {
  std::string s(n, '\0');
  uint32_t x = 12345;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245 + 12345;
    s[i] = static_cast<char>((x >> 16) % 7 + 'a');  // Compressible, not trivially.
  }
  return s;
}

TEST(OciLayout, ParallelGzipIsGzipAndIndependentOfThreads) {
  ScopedTempDir dir;
  std::string data = Pseudorandom(5 * 100000 + 17);
  std::string one, many, err;
  ASSERT_TRUE(ParallelGzip(data, 6, 100000, 1, &one, &err)) << err;
  ASSERT_TRUE(ParallelGzip(data, 6, 100000, 4, &many, &err)) << err;
  EXPECT_EQ(one, many);
  WriteTestFile(dir.path(), "x.gz", many);
  // Six members; gzip (and every registry client) reads the concatenation as one stream.
  EXPECT_EQ(RunShell(dir.path(), "gzip -dc x.gz | sha256sum | cut -c1-64"),
            Sha256Hex(data) + "\n");
  std::string empty;
  ASSERT_TRUE(ParallelGzip("", 6, 100000, 2, &empty, &err));
  WriteTestFile(dir.path(), "e.gz", empty);
  EXPECT_EQ(RunShell(dir.path(), "gzip -dc e.gz | wc -c"), "0\n");
}

TEST(OciLayout, LayersAreReproducibleAndCached) {
  ScopedTempDir dir;
  WriteTestFile(dir.path(), "big", Pseudorandom(3 << 20));
  std::vector<TarEntry> entries = {
      TarEntry{"data/big", TarEntryType::kFile, 0644, dir.Join("big"), "", ""}};
  std::string err;
  ASSERT_TRUE(InitLayout(dir.Join("a"), &err)) << err;
  ASSERT_TRUE(InitLayout(dir.Join("b"), &err)) << err;
  LayerOptions options;
  options.mtime = 1700000000;
  options.cache_dir = dir.Join("cache");
  Layer a, b;
  ASSERT_TRUE(WriteTarLayer(dir.Join("a"), entries, options, &a, &err)) << err;
  options.threads = 1;
  ASSERT_TRUE(WriteTarLayer(dir.Join("b"), entries, options, &b, &err)) << err;
  EXPECT_EQ(a.blob.digest, b.blob.digest);
  EXPECT_EQ(a.diff_id, b.diff_id);
  struct stat sa, sc;
  ASSERT_EQ(stat(BlobPath(dir.Join("b"), b.blob.digest).c_str(), &sa), 0);
  ASSERT_EQ(stat(BlobPath(dir.Join("cache"), b.blob.digest).c_str(), &sc), 0);
  EXPECT_EQ(sa.st_ino, sc.st_ino);  // Linked from the cache, not compressed again.
  // The blob is what its digest says, and its tar is what the diff ID says.
  EXPECT_EQ(RunShell(dir.Join("a"), "sha256sum blobs/sha256/" + a.blob.digest.substr(7) +
                                        " | cut -c1-64"),
            a.blob.digest.substr(7) + "\n");
  EXPECT_EQ(RunShell(dir.Join("a"), "gzip -dc blobs/sha256/" + a.blob.digest.substr(7) +
                                        " | sha256sum | cut -c1-64"),
            a.diff_id.substr(7) + "\n");
  std::string data;
  ASSERT_TRUE(ReadBlob(dir.Join("a"), a.blob.digest, &data, &err)) << err;
  EXPECT_EQ(static_cast<int64_t>(data.size()), a.blob.size);
}

TEST(OciLayout, Errors) {
  ScopedTempDir dir;
  std::string err;
  ASSERT_TRUE(InitLayout(dir.path(), &err));
  Descriptor d;
  ASSERT_TRUE(WriteBlob(dir.path(), "abc", "x", &d, &err));
  std::string data;
  ASSERT_EQ(chmod(BlobPath(dir.path(), d.digest).c_str(), 0644), 0);
  WriteTestFile(dir.path(), "blobs/sha256/" + d.digest.substr(7), "abd");
  EXPECT_FALSE(ReadBlob(dir.path(), d.digest, &data, &err));
  EXPECT_EQ(err, "blob " + d.digest + " in " + dir.path() +
                     " is corrupt (its content has another digest)");
  EXPECT_FALSE(ReadBlob(dir.path(), "md5:x", &data, &err));
  EXPECT_EQ(err, "unsupported digest 'md5:x'");
  Descriptor md;
  Manifest m;
  ASSERT_TRUE(WriteIndex(dir.path(), ImageIndex(), &err));
  EXPECT_FALSE(ReadImageManifest(dir.path(), &md, &m, &err));
  EXPECT_EQ(err, "image layout " + dir.path() + " holds 0 manifests, expected 1");
  EXPECT_FALSE(ReadImageManifest(dir.Join("missing"), &md, &m, &err));
  Layer layer;
  EXPECT_FALSE(WriteTarLayer(dir.path(),
                             {TarEntry{"f", TarEntryType::kFile, 0644, dir.Join("nope"), "", ""}},
                             LayerOptions(), &layer, &err));
  EXPECT_NE(err.find("nope"), std::string::npos);
  EXPECT_FALSE(WriteDockerArchive(dir.Join("missing"), {}, dir.Join("x.tar"), &err));
}

}  // namespace
}  // namespace wandb_job
