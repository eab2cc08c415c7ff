#include "tar_writer.h"

#include <gtest/gtest.h>

#include "file_util.h"
#include "hash.h"
#include "test_util.h"

namespace wandb_job {
namespace {

std::string TarOf(const std::vector<TarEntry>& entries, int64_t mtime) {
  std::string out, err;
  EXPECT_TRUE(WriteTar(entries, mtime,
                       [&out](const char* d, size_t n, std::string*) {
                         out.append(d, n);
                         return true;
                       },
                       &err))
      << err;
  return out;
}

std::vector<TarEntry> Sample(const ScopedTempDir& dir) {
  WriteTestFile(dir.path(), "prog", "#!/bin/sh\necho hi\n");
  TarEntry file;
  file.path = "/usr/local/bin/prog";
  file.source_file = dir.Join("prog");
  file.mode = 0755;
  TarEntry mem;
  mem.path = "etc/motd";
  mem.contents = "hello\n";
  TarEntry link;
  link.path = "usr/bin/prog";
  link.type = TarEntryType::kSymlink;
  link.link_target = "../local/bin/prog";
  return {file, mem, link};
}

TEST(TarWriter, SortedWithParentsOwnerZeroFixedTime) {
  ScopedTempDir dir;
  std::string tar = TarOf(Sample(dir), 1700000000);
  WriteTestFile(dir.path(), "layer.tar", tar);
  std::string listing = RunShell(dir.path(), "tar -tvf layer.tar --numeric-owner --full-time");
  EXPECT_EQ(listing,
            "drwxr-xr-x 0/0               0 2023-11-14 22:13:20 etc/\n"
            "-rw-r--r-- 0/0               6 2023-11-14 22:13:20 etc/motd\n"
            "drwxr-xr-x 0/0               0 2023-11-14 22:13:20 usr/\n"
            "drwxr-xr-x 0/0               0 2023-11-14 22:13:20 usr/bin/\n"
            "lrwxrwxrwx 0/0               0 2023-11-14 22:13:20 usr/bin/prog -> ../local/bin/prog\n"
            "drwxr-xr-x 0/0               0 2023-11-14 22:13:20 usr/local/\n"
            "drwxr-xr-x 0/0               0 2023-11-14 22:13:20 usr/local/bin/\n"
            "-rwxr-xr-x 0/0              18 2023-11-14 22:13:20 usr/local/bin/prog\n");
  EXPECT_EQ(RunShell(dir.path(), "tar -xOf layer.tar usr/local/bin/prog"), "#!/bin/sh\necho hi\n");
}

TEST(TarWriter, SameInputSameBytesWhateverTheOrder) {
  ScopedTempDir dir;
  std::vector<TarEntry> entries = Sample(dir);
  std::string a = TarOf(entries, 42);
  std::reverse(entries.begin(), entries.end());
  EXPECT_EQ(TarOf(entries, 42), a);
  EXPECT_NE(TarOf(entries, 43), a);
  // Pinned: a change to the layer format changes every image digest.
  EXPECT_EQ(a.size() % 512, 0u);
  EXPECT_EQ(Sha256Hex(TarOf({TarEntry{"a", TarEntryType::kFile, 0644, "", "x", ""}}, 0)),
            Sha256Hex(TarOf({TarEntry{"/a", TarEntryType::kFile, 0644, "", "x", ""}}, 0)));
}

TEST(TarWriter, LongPaths) {
  ScopedTempDir dir;
  TarEntry e;
  e.path = std::string(150, 'd') + "/" + std::string(120, 'f');
  e.contents = "x";
  WriteTestFile(dir.path(), "long.tar", TarOf({e}, 0));
  EXPECT_EQ(RunShell(dir.path(), "tar -tf long.tar | tail -1"), e.path + "\n");
}

TEST(TarWriter, Errors) {
  ScopedTempDir dir;
  std::string err;
  auto sink = [](const char*, size_t, std::string*) { return true; };
  TarEntry a{"x", TarEntryType::kFile, 0644, "", "1", ""};
  EXPECT_FALSE(WriteTar({a, a}, 0, sink, &err));
  EXPECT_EQ(err, "two entries for 'x' in layer");
  TarEntry up{"../etc/passwd", TarEntryType::kFile, 0644, "", "", ""};
  EXPECT_FALSE(WriteTar({up}, 0, sink, &err));
  EXPECT_EQ(err, "invalid path '../etc/passwd' in layer");
  TarEntry child{"x/y", TarEntryType::kFile, 0644, "", "", ""};
  EXPECT_FALSE(WriteTar({a, child}, 0, sink, &err));
  EXPECT_EQ(err, "'x' is both a file and a directory in layer");
  TarEntry missing{"m", TarEntryType::kFile, 0644, dir.Join("nope"), "", ""};
  EXPECT_FALSE(WriteTar({missing}, 0, sink, &err));
  EXPECT_NE(err.find("opening " + dir.Join("nope")), std::string::npos) << err;
  TarEntry dir_as_file{"d", TarEntryType::kFile, 0644, dir.path(), "", ""};
  EXPECT_FALSE(WriteTar({dir_as_file}, 0, sink, &err));
  EXPECT_EQ(err, dir.path() + " is not a regular file");
  EXPECT_FALSE(WriteTar({a}, 0,
                        [](const char*, size_t, std::string* e) {
                          *e = "disk full";
                          return false;
                        },
                        &err));
  EXPECT_EQ(err, "disk full");
}

}  // namespace
}  // namespace wandb_job
