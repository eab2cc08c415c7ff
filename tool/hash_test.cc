#include "hash.h"

#include <gtest/gtest.h>

#include <vector>

#include "test_util.h"

namespace wandb_job {
namespace {

TEST(HashTest, KnownDigests) {
  EXPECT_EQ(Md5Base64(""), "1B2M2Y8AsgTpgAmY7PhCfg==");
  EXPECT_EQ(Md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(HashTest, StreamingEqualsOneShot) {
  Hasher h(HashAlgorithm::kMd5);
  h.Update("hello ");
  h.Update("world");
  EXPECT_EQ(HexEncode(h.Finish()), Md5Hex("hello world"));
}

TEST(HashTest, Base64RoundTrip) {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd",
                                                     std::string("\0\xff\x10", 3)}) {
    std::string back;
    ASSERT_TRUE(Base64Decode(Base64Encode(s), &back)) << s;
    EXPECT_EQ(back, s);
  }
  std::string junk;
  EXPECT_FALSE(Base64Decode("abc", &junk));
}

TEST(HashTest, HashFileMatchesSha256sum) {
  ScopedTempDir dir;
  std::string data(3 << 20, 'x');
  data += "tail";
  WriteTestFile(dir.path(), "f.bin", data);
  FileHashes hashes;
  std::string err;
  ASSERT_TRUE(HashFile(dir.Join("f.bin"), &hashes, &err)) << err;
  EXPECT_EQ(hashes.size, data.size());
  EXPECT_EQ(HexEncode(hashes.md5), Md5Hex(data));
  std::string sum = RunShell(dir.path(), "sha256sum f.bin");
  EXPECT_EQ(sum.substr(0, 64), HexEncode(hashes.sha256));
}

TEST(HashTest, HashFileMissing) {
  FileHashes hashes;
  std::string err;
  EXPECT_FALSE(HashFile("/nonexistent/x", &hashes, &err));
  EXPECT_NE(err.find("reading /nonexistent/x"), std::string::npos);
}

}  // namespace
}  // namespace wandb_job
