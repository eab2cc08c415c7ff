#include "docker_config.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace wandb_job
