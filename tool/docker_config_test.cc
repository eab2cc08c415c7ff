#include "docker_config.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>

#include "file_util.h"
#include "hash.h"
#include "test_util.h"

namespace wandb_job {
namespace {

TEST(DockerConfig, AuthsAndHubKey) {
  ScopedTempDir dir;
  WriteTestFile(dir.path(), "config.json",
                "{\"auths\":{\"http://localhost:5000\":{\"auth\":\"" +
                    Base64Encode("alice:pa:ss") +
                    "\"},\"https://index.docker.io/v1/\":{\"auth\":\"" + Base64Encode("bob:x") +
                    "\"}}}");
  RegistryCredentials c;
  std::string err;
  ASSERT_TRUE(LookUpRegistryCredentials("localhost:5000", dir.path(), &c, &err)) << err;
  EXPECT_EQ(c.username, "alice");
  EXPECT_EQ(c.password, "pa:ss");
  ASSERT_TRUE(LookUpRegistryCredentials("registry-1.docker.io", dir.path(), &c, &err));
  EXPECT_EQ(c.username, "bob");
  ASSERT_TRUE(LookUpRegistryCredentials("ghcr.io", dir.path(), &c, &err));
  EXPECT_TRUE(c.empty());
  ASSERT_TRUE(LookUpRegistryCredentials("ghcr.io", dir.Join("none"), &c, &err));
  EXPECT_TRUE(c.empty());
}

TEST(DockerConfig, CredentialHelpers) {
  ScopedTempDir dir;
  WriteTestFile(dir.path(), "bin/docker-credential-t",
                "#!/bin/sh\nread s\nif [ \"$s\" = reg.io ]; then echo "
                "'{\"Username\":\"<token>\",\"Secret\":\"refresh\"}'; else echo 'credentials not "
                "found in native keychain'; exit 1; fi\n");
  RunShell(dir.path(), "chmod +x bin/docker-credential-t");
  std::string old_path = GetEnv("PATH");
  setenv("PATH", (dir.Join("bin") + ":" + old_path).c_str(), 1);
  WriteTestFile(dir.path(), "config.json",
                "{\"credHelpers\":{\"reg.io\":\"t\",\"broken.io\":\"missing\"},\"credsStore\":\"t\"}");
  RegistryCredentials c;
  std::string err;
  EXPECT_TRUE(LookUpRegistryCredentials("reg.io", dir.path(), &c, &err)) << err;
  EXPECT_EQ(c.identity_token, "refresh");
  EXPECT_TRUE(LookUpRegistryCredentials("other.io", dir.path(), &c, &err)) << err;
  EXPECT_TRUE(c.empty());  // credsStore: "not found" is no credentials, not an error
  EXPECT_FALSE(LookUpRegistryCredentials("broken.io", dir.path(), &c, &err));
  EXPECT_EQ(err, dir.Join("config.json") +
                     ": credential helper docker-credential-missing not found in PATH");
  setenv("PATH", old_path.c_str(), 1);
}

TEST(DockerConfig, Errors) {
  ScopedTempDir dir;
  RegistryCredentials c;
  std::string err;
  WriteTestFile(dir.path(), "config.json", "{");
  EXPECT_FALSE(LookUpRegistryCredentials("r.io", dir.path(), &c, &err));
  EXPECT_EQ(err, dir.Join("config.json") + ": invalid JSON");
  WriteTestFile(dir.path(), "config.json", "{\"auths\":{\"r.io\":{\"auth\":\"bm9jb2xvbg==\"}}}");
  EXPECT_FALSE(LookUpRegistryCredentials("r.io", dir.path(), &c, &err));
  EXPECT_EQ(err, dir.Join("config.json") +
                     ": the \"auth\" entry for r.io is not base64 of user:password");
  // Wrong types are named, not thrown.
  WriteTestFile(dir.path(), "config.json", "{\"auths\":{\"r.io\":{\"username\":null,"
                                           "\"password\":5}}}");
  EXPECT_FALSE(LookUpRegistryCredentials("r.io", dir.path(), &c, &err));
  EXPECT_EQ(err, dir.Join("config.json") + ": field auths.r.io.password must be a string");
  WriteTestFile(dir.path(), "config.json", "{\"auths\":{\"r.io\":{\"auth\":[]}}}");
  EXPECT_FALSE(LookUpRegistryCredentials("r.io", dir.path(), &c, &err));
  EXPECT_EQ(err, dir.Join("config.json") + ": field auths.r.io.auth must be a string");
}

TEST(DockerConfig, HelperAnswerOfWrongTypes) {
  ScopedTempDir dir;
  WriteTestFile(dir.path(), "bin/docker-credential-t",
                "#!/bin/sh\nread s\necho '{\"Username\":\"u\",\"Secret\":{\"a\":1}}'\n");
  RunShell(dir.path(), "chmod +x bin/docker-credential-t");
  std::string old_path = GetEnv("PATH");
  setenv("PATH", (dir.Join("bin") + ":" + old_path).c_str(), 1);
  WriteTestFile(dir.path(), "config.json", "{\"credsStore\":\"t\"}");
  RegistryCredentials c;
  std::string err;
  EXPECT_FALSE(LookUpRegistryCredentials("reg.io", dir.path(), &c, &err));
  EXPECT_EQ(err, dir.Join("config.json") +
                     ": credential helper docker-credential-t: field Secret must be a string");
  setenv("PATH", old_path.c_str(), 1);
}

TEST(DockerConfig, WrongTypesAreErrorsNotCrashes) {
  ScopedTempDir dir;
  RegistryCredentials c;
  std::string err;
  WriteTestFile(dir.path(), "config.json", "{\"auths\":{\"r.io\":{\"username\":5}}}");
  EXPECT_FALSE(LookUpRegistryCredentials("r.io", dir.path(), &c, &err));
  EXPECT_EQ(err, dir.Join("config.json") + ": field auths.r.io.username must be a string");
  WriteTestFile(dir.path(), "config.json", "{\"auths\":{\"r.io\":{\"identitytoken\":[]}}}");
  EXPECT_FALSE(LookUpRegistryCredentials("r.io", dir.path(), &c, &err));
  EXPECT_EQ(err, dir.Join("config.json") + ": field auths.r.io.identitytoken must be a string");
}

// Puts `script` in PATH as docker-credential-t and names it in config.json as the store.
class HelperTest : public ::testing::Test {
 protected:
  void UseHelper(const std::string& script) {
    WriteTestFile(dir_.path(), "bin/docker-credential-t", "#!/bin/sh\n" + script);
    RunShell(dir_.path(), "chmod +x bin/docker-credential-t");
    WriteTestFile(dir_.path(), "config.json", "{\"credsStore\":\"t\"}");
  }
  void SetUp() override {
    old_path_ = GetEnv("PATH");
    setenv("PATH", (dir_.Join("bin") + ":" + old_path_).c_str(), 1);
  }
  void TearDown() override { setenv("PATH", old_path_.c_str(), 1); }
  ScopedTempDir dir_;
  std::string old_path_;
};

TEST_F(HelperTest, HelperAnswersThatAreNotCredentials) {
  RegistryCredentials c;
  std::string err;
  for (const char* answer : {"5", "{\"Username\":1,\"Secret\":\"s3cret\"}", "not json s3cret"}) {
    UseHelper(std::string("echo '") + answer + "'\n");
    EXPECT_FALSE(LookUpRegistryCredentials("r.io", dir_.path(), &c, &err)) << answer;
    // One line naming the helper and what is wrong; the answer may hold the secret: not shown.
    EXPECT_EQ(err.rfind(dir_.Join("config.json") + ": credential helper docker-credential-t", 0),
              0u)
        << err;
    EXPECT_EQ(err.find("s3cret"), std::string::npos) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
}

// The process's SIGPIPE disposition is its own: looking credentials up does not change it, and
// a helper that exits without reading its stdin does not kill the caller.
TEST_F(HelperTest, SigpipeIsLeftAlone) {
  struct sigaction before, after;
  ASSERT_EQ(sigaction(SIGPIPE, nullptr, &before), 0);
  ASSERT_EQ(before.sa_handler, SIG_DFL);
  UseHelper("exec 0<&-\necho '{\"Username\":\"u\",\"Secret\":\"p\"}'\n");
  RegistryCredentials c;
  std::string err;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(LookUpRegistryCredentials("r.io", dir_.path(), &c, &err)) << err;
    EXPECT_EQ(c.password, "p");
  }
  ASSERT_EQ(sigaction(SIGPIPE, nullptr, &after), 0);
  EXPECT_EQ(after.sa_handler, SIG_DFL);
}

int OpenFdCount() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (d != nullptr && readdir(d) != nullptr) {
    ++n;
  }
  if (d != nullptr) {
    closedir(d);
  }
  return n;
}

// A helper that can't be started (missing, not executable) leaves no descriptor open.
TEST_F(HelperTest, FailedStartLeaksNoDescriptor) {
  UseHelper("echo '{}'\n");
  RunShell(dir_.path(), "chmod -x bin/docker-credential-t");
  RegistryCredentials c;
  std::string err;
  int before = OpenFdCount();
  for (int i = 0; i < 10; ++i) {
    EXPECT_FALSE(LookUpRegistryCredentials("r.io", dir_.path(), &c, &err));
  }
  EXPECT_NE(err.find("docker-credential-t"), std::string::npos) << err;
  WriteTestFile(dir_.path(), "config.json", "{\"credsStore\":\"missing\"}");
  for (int i = 0; i < 10; ++i) {
    EXPECT_FALSE(LookUpRegistryCredentials("r.io", dir_.path(), &c, &err));
  }
  EXPECT_EQ(err, dir_.Join("config.json") +
                     ": credential helper docker-credential-missing not found in PATH");
  EXPECT_EQ(OpenFdCount(), before);
}

}  // namespace
}  // namespace wandb_job
