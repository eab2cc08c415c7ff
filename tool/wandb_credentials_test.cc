#include "wandb_credentials.h"

#include <gtest/gtest.h>

#include <map>

#include "hash.h"
#include "test_util.h"

namespace wandb_job {
namespace {

const std::string kKey = "0123456789abcdef0123456789abcdef01234567";  // 40 characters

EnvLookup MapEnv(const std::map<std::string, std::string>& vars) {
  return [vars](const char* name) {
    auto it = vars.find(name);
    return it == vars.end() ? std::string() : it->second;
  };
}

TEST(WandbCredentialsTest, Modes) {
  WandbMode m;
  std::string err;
  for (const char* online : {"", "online", "run", "ONLINE"}) {
    ASSERT_TRUE(ParseWandbMode(online, &m, &err)) << err;
    EXPECT_EQ(m, WandbMode::kOnline) << online;
  }
  for (const char* offline : {"offline", "dryrun"}) {
    ASSERT_TRUE(ParseWandbMode(offline, &m, &err)) << err;
    EXPECT_EQ(m, WandbMode::kOffline) << offline;
  }
  ASSERT_TRUE(ParseWandbMode("disabled", &m, &err)) << err;
  EXPECT_EQ(m, WandbMode::kDisabled);
  EXPECT_FALSE(ParseWandbMode("sometimes", &m, &err));
  EXPECT_EQ(err, "WANDB_MODE 'sometimes' is not one of online, offline, disabled");
}

TEST(WandbCredentialsTest, BaseUrl) {
  std::string url, err;
  ASSERT_TRUE(NormalizeBaseUrl("https://api.wandb.ai//", &url, &err)) << err;
  EXPECT_EQ(url, "https://api.wandb.ai");
  ASSERT_TRUE(NormalizeBaseUrl("http://127.0.0.1:8080/", &url, &err)) << err;
  EXPECT_EQ(url, "http://127.0.0.1:8080");
  ASSERT_TRUE(NormalizeBaseUrl("https://wandb.example.com/prefix", &url, &err)) << err;
  EXPECT_EQ(url, "https://wandb.example.com/prefix");
  EXPECT_FALSE(NormalizeBaseUrl("https://wandb.ai", &url, &err));
  EXPECT_NE(err.find("did you mean https://api.wandb.ai?"), std::string::npos) << err;
  EXPECT_FALSE(NormalizeBaseUrl("https://app.wandb.ai", &url, &err));
  EXPECT_FALSE(NormalizeBaseUrl("http://api.wandb.ai", &url, &err));
  EXPECT_EQ(err, "WANDB_BASE_URL 'http://api.wandb.ai' must use https for wandb.ai");
  EXPECT_FALSE(NormalizeBaseUrl("ftp://host", &url, &err));
  EXPECT_FALSE(NormalizeBaseUrl("http:///path", &url, &err));
  EXPECT_EQ(err, "WANDB_BASE_URL 'http:///path' has no host");
}

// A userinfo in WANDB_BASE_URL is never kept, so no message or log can print it.
TEST(WandbCredentialsTest, BaseUrlUserinfoIsDropped) {
  std::string url, err;
  ASSERT_TRUE(NormalizeBaseUrl("https://user:s3cret@wandb.example.com/prefix/", &url, &err));
  EXPECT_EQ(url, "https://wandb.example.com/prefix");
  ASSERT_TRUE(NormalizeBaseUrl("http://api:s3cr?t@127.0.0.1:8080", &url, &err)) << err;
  EXPECT_EQ(url, "http://127.0.0.1:8080");
  EXPECT_FALSE(NormalizeBaseUrl("https://api:s3cret@wandb.ai", &url, &err));
  EXPECT_EQ(err.find("s3cret"), std::string::npos) << err;
  EXPECT_FALSE(NormalizeBaseUrl("http://api:s3cret@api.wandb.ai", &url, &err));
  EXPECT_EQ(err, "WANDB_BASE_URL 'http://api.wandb.ai' must use https for wandb.ai");
  EXPECT_FALSE(NormalizeBaseUrl("ftp://api:s3cret@host", &url, &err));
  EXPECT_EQ(err, "WANDB_BASE_URL must start with http:// or https://");
  EXPECT_FALSE(NormalizeBaseUrl("api:s3cret@host", &url, &err));
  EXPECT_EQ(err.find("s3cret"), std::string::npos) << err;

  ScopedTempDir home;
  WandbCredentials creds;
  ASSERT_TRUE(LoadWandbCredentials(
      MapEnv({{"HOME", home.path()}, {"WANDB_BASE_URL", "https://me:s3cret@Wandb.Example.com"}}),
      &creds, &err))
      << err;
  EXPECT_EQ(creds.base_url, "https://wandb.example.com");
}

TEST(WandbCredentialsTest, NetrcMachine) {
  EXPECT_EQ(NetrcMachine("https://api.wandb.ai"), "api.wandb.ai");
  EXPECT_EQ(NetrcMachine("http://127.0.0.1:8080"), "127.0.0.1:8080");
  EXPECT_EQ(NetrcMachine("http://user@Host.Example:81/x"), "host.example:81");
}

TEST(WandbCredentialsTest, NetrcPassword) {
  std::string text =
      "# comment line\n"
      "machine other.example login a password wrong\n"
      "machine api.wandb.ai\n  login user\n  password \"" + kKey + "\"\n"
      "macdef init\nmachine api.wandb.ai password fromMacro\n\n"
      "machine localhost:8080 login user password local-pw\n"
      "default login anon password fallback\n";
  std::string pw, err;
  bool found = false;
  ASSERT_TRUE(NetrcPassword(text, "api.wandb.ai", &pw, &found, &err)) << err;
  EXPECT_TRUE(found);
  EXPECT_EQ(pw, kKey);
  ASSERT_TRUE(NetrcPassword(text, "LOCALHOST:8080", &pw, &found, &err)) << err;
  EXPECT_EQ(pw, "local-pw");
  ASSERT_TRUE(NetrcPassword(text, "unknown.example", &pw, &found, &err)) << err;
  EXPECT_TRUE(found);
  EXPECT_EQ(pw, "fallback");
  ASSERT_TRUE(NetrcPassword("machine a password b\n", "c", &pw, &found, &err)) << err;
  EXPECT_FALSE(found);
  EXPECT_FALSE(NetrcPassword("machine a password \"open", "a", &pw, &found, &err));
  EXPECT_EQ(err, "unterminated quote");
}

TEST(WandbCredentialsTest, ApiKeyFormat) {
  std::string err;
  EXPECT_TRUE(ValidateApiKey(kKey, &err)) << err;
  EXPECT_TRUE(ValidateApiKey("local-" + kKey, &err)) << err;
  EXPECT_TRUE(ValidateApiKey("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", &err)) << err;
  EXPECT_FALSE(ValidateApiKey(kKey.substr(1), &err));
  EXPECT_EQ(err, "is 39 characters long; W&B keys have at least 40");
  EXPECT_FALSE(ValidateApiKey(kKey + " x", &err));
  EXPECT_EQ(err.find(kKey), std::string::npos);
}

TEST(WandbCredentialsTest, Authorization) {
  std::string value = WandbAuthorization(kKey);
  ASSERT_EQ(value.rfind("Basic ", 0), 0u);
  std::string decoded;
  ASSERT_TRUE(Base64Decode(value.substr(6), &decoded));
  EXPECT_EQ(decoded, "api:" + kKey);
}

TEST(WandbCredentialsTest, KeyFromEnvironmentWins) {
  ScopedTempDir home;
  WriteTestFile(home.path(), ".netrc", "machine api.wandb.ai password netrc" + kKey + "\n");
  WandbCredentials c;
  std::string err;
  ASSERT_TRUE(LoadWandbCredentials(MapEnv({{"HOME", home.path()}, {"WANDB_API_KEY", kKey}}), &c,
                                   &err))
      << err;
  EXPECT_EQ(c.api_key, kKey);
  EXPECT_EQ(c.key_source, "WANDB_API_KEY");
  EXPECT_EQ(c.base_url, "https://api.wandb.ai");
  EXPECT_TRUE(c.UseWandb());
}

TEST(WandbCredentialsTest, KeyFromNetrcForTheBaseUrlHostAndPort) {
  ScopedTempDir home;
  WriteTestFile(home.path(), ".netrc",
                "machine api.wandb.ai password cloud" + kKey + "\n"
                "machine 127.0.0.1:9999 password local" + kKey + "\n");
  WandbCredentials c;
  std::string err;
  ASSERT_TRUE(LoadWandbCredentials(
      MapEnv({{"HOME", home.path()}, {"WANDB_BASE_URL", "http://127.0.0.1:9999/"}}), &c, &err))
      << err;
  EXPECT_EQ(c.base_url, "http://127.0.0.1:9999");
  EXPECT_EQ(c.api_key, "local" + kKey);
  EXPECT_EQ(c.key_source, home.Join(".netrc"));
  ASSERT_TRUE(LoadWandbCredentials(MapEnv({{"HOME", home.path()}}), &c, &err)) << err;
  EXPECT_EQ(c.api_key, "cloud" + kKey);
}

TEST(WandbCredentialsTest, NetrcVariableThenUnderscoreNetrc) {
  ScopedTempDir home;
  WriteTestFile(home.path(), "_netrc", "machine api.wandb.ai password under" + kKey + "\n");
  WriteTestFile(home.path(), "elsewhere", "machine api.wandb.ai password env" + kKey + "\n");
  WandbCredentials c;
  std::string err;
  ASSERT_TRUE(LoadWandbCredentials(MapEnv({{"HOME", home.path()}}), &c, &err)) << err;
  EXPECT_EQ(c.api_key, "under" + kKey);
  ASSERT_TRUE(LoadWandbCredentials(
      MapEnv({{"HOME", home.path()}, {"NETRC", home.Join("elsewhere")}}), &c, &err))
      << err;
  EXPECT_EQ(c.api_key, "env" + kKey);
}

TEST(WandbCredentialsTest, NoKeyIsNotAnError) {
  ScopedTempDir home;
  WandbCredentials c;
  std::string err;
  ASSERT_TRUE(LoadWandbCredentials(MapEnv({{"HOME", home.path()}}), &c, &err)) << err;
  EXPECT_TRUE(c.api_key.empty());
  EXPECT_FALSE(c.UseWandb());
}

TEST(WandbCredentialsTest, OfflineAndDisabledDoNotUseWandb) {
  ScopedTempDir home;
  WandbCredentials c;
  std::string err;
  ASSERT_TRUE(LoadWandbCredentials(
      MapEnv({{"HOME", home.path()}, {"WANDB_API_KEY", "bad"}, {"WANDB_MODE", "offline"}}), &c,
      &err))
      << err;  // The key is not checked when it is not used.
  EXPECT_FALSE(c.UseWandb());
  ASSERT_TRUE(LoadWandbCredentials(
      MapEnv({{"HOME", home.path()}, {"WANDB_API_KEY", kKey}, {"WANDB_MODE", "disabled"}}), &c,
      &err))
      << err;
  EXPECT_EQ(c.mode, WandbMode::kDisabled);
  EXPECT_FALSE(c.UseWandb());
}

TEST(WandbCredentialsTest, ErrorsNameTheSourceNotTheKey) {
  ScopedTempDir home;
  WandbCredentials c;
  std::string err;
  EXPECT_FALSE(LoadWandbCredentials(
      MapEnv({{"HOME", home.path()}, {"WANDB_API_KEY", "tooShortSecret"}}), &c, &err));
  EXPECT_EQ(err, "the W&B API key from WANDB_API_KEY is 14 characters long; W&B keys have at "
                 "least 40");
  WriteTestFile(home.path(), ".netrc", "machine api.wandb.ai password \"unterminated\n");
  EXPECT_FALSE(LoadWandbCredentials(MapEnv({{"HOME", home.path()}}), &c, &err));
  EXPECT_EQ(err, "reading netrc file " + home.Join(".netrc") + ": unterminated quote");
  EXPECT_FALSE(LoadWandbCredentials(
      MapEnv({{"HOME", home.path()}, {"WANDB_MODE", "x"}}), &c, &err));
  EXPECT_FALSE(LoadWandbCredentials(
      MapEnv({{"HOME", home.path()}, {"WANDB_BASE_URL", "api.wandb.ai"}}), &c, &err));
}

}  // namespace
}  // namespace wandb_job
