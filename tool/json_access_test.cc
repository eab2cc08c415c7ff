#include "json_access.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "test_util.h"

namespace wandb_job {
namespace {

using nlohmann::json;

TEST(JsonAccessTest, ReadsTypedMembers) {
  json j = json::parse(R"({"s": "x", "a": ["p", "q"], "b": true, "i": 42, "o": {"k": "v"}})");
  JsonFields<json> f(j);
  std::string s, k, err;
  std::vector<std::string> a;
  bool b = false;
  int i = 0;
  JsonFields<json> o(j);
  ASSERT_TRUE(f.String("s", &s, &err)) << err;
  ASSERT_TRUE(f.Strings("a", &a, &err)) << err;
  ASSERT_TRUE(f.Bool("b", &b, &err)) << err;
  ASSERT_TRUE(f.Int("i", &i, &err)) << err;
  ASSERT_TRUE(f.Object("o", &o, &err)) << err;
  ASSERT_TRUE(o.String("k", &k, &err)) << err;
  EXPECT_EQ(s, "x");
  EXPECT_EQ(a, (std::vector<std::string>{"p", "q"}));
  EXPECT_TRUE(b);
  EXPECT_EQ(i, 42);
  EXPECT_EQ(k, "v");
}

TEST(JsonAccessTest, WrongTypesNameTheFieldPath) {
  json j = json::parse(
      R"({"entity": null, "n": "1", "a": ["x", 2], "git": {"commit": 7}, "big": 99999999999})");
  JsonFields<json> f(j);
  std::string s, err;
  std::vector<std::string> a;
  int i = 0;
  EXPECT_FALSE(f.String("entity", &s, &err));
  EXPECT_EQ(err, "field entity must be a string");
  EXPECT_FALSE(f.Int("n", &i, &err));
  EXPECT_EQ(err, "field n must be an integer");
  EXPECT_FALSE(f.Strings("a", &a, &err));
  EXPECT_EQ(err, "field a[1] must be a string");
  JsonFields<json> git(j);
  ASSERT_TRUE(f.Object("git", &git, &err)) << err;
  EXPECT_FALSE(git.String("commit", &s, &err));
  EXPECT_EQ(err, "field git.commit must be a string");
  EXPECT_FALSE(f.Int("big", &i, &err));
  EXPECT_EQ(err, "field big is out of range (99999999999)");
  EXPECT_FALSE(f.Object("n", &git, &err));
  EXPECT_EQ(err, "field n must be an object");
}

TEST(JsonAccessTest, MissingAndOptionalMembers) {
  json j = json::parse(R"({"nul": null})");
  JsonFields<json> f(j);
  std::string s = "kept", err;
  EXPECT_FALSE(f.String("absent", &s, &err));
  EXPECT_EQ(err, "field absent is missing");
  EXPECT_TRUE(f.String("absent", &s, &err, Field::kOptional));
  EXPECT_TRUE(f.String("nul", &s, &err, Field::kOptional));
  EXPECT_EQ(s, "kept");
  JsonFields<json> o(j);
  ASSERT_TRUE(f.Object("absent", &o, &err, Field::kOptional));
  EXPECT_TRUE(o.value().is_object());
  const json* arr = nullptr;
  ASSERT_TRUE(f.Array("absent", &arr, &err, Field::kOptional));
  EXPECT_TRUE(arr->empty());
}

TEST(JsonAccessTest, NotAnObject) {
  for (const char* text : {"null", "[1]", "\"s\"", "3"}) {
    json j = json::parse(text);
    JsonFields<json> f(j);
    std::string s, err;
    EXPECT_FALSE(f.String("x", &s, &err, Field::kOptional)) << text;
    EXPECT_EQ(err, "the document must be a JSON object");
    JsonFields<json> sub(j, "upsertBucket");
    EXPECT_FALSE(sub.IsObject(&err));
    EXPECT_EQ(err, "field upsertBucket must be an object");
  }
}

TEST(JsonAccessTest, OrderedJson) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(R"({"inserted": null})");
  JsonFields<nlohmann::ordered_json> f(j, "upsertBucket");
  bool inserted = false;
  std::string err;
  EXPECT_FALSE(f.Bool("inserted", &inserted, &err));
  EXPECT_EQ(err, "field upsertBucket.inserted must be true or false");
}

// `levels` objects nested in one another, the innermost holding "lr": 0.1.
std::string Nested(int levels) {
  std::string text = "{\"lr\": 0.1}";
  for (int i = 1; i < levels; ++i) {
    text = "{\"a\": " + text + "}";
  }
  return text;
}

TEST(JsonAccessTest, ConfigFileLimits) {
  ScopedTempDir dir;
  nlohmann::ordered_json out;
  std::string err;
  WriteTestFile(dir.path(), "ok.json", Nested(kMaxConfigFileDepth));
  ASSERT_TRUE(ReadJsonObjectFile(dir.Join("ok.json"), "CONFIG_FILE", &out, &err)) << err;
  EXPECT_TRUE(out.is_object());

  WriteTestFile(dir.path(), "deep.json", Nested(kMaxConfigFileDepth + 1));
  EXPECT_FALSE(ReadJsonObjectFile(dir.Join("deep.json"), "CONFIG_FILE", &out, &err));
  EXPECT_EQ(err, "CONFIG_FILE " + dir.Join("deep.json") +
                     " nests over 64 levels; a CONFIG_FILE holds at most 1 MiB and 64 levels of "
                     "nesting");
  WriteTestFile(dir.path(), "deeper.json", std::string(5000, '[') + std::string(5000, ']'));
  EXPECT_FALSE(ReadJsonObjectFile(dir.Join("deeper.json"), "CONFIG_FILE", &out, &err));
  EXPECT_NE(err.find("nests over 64 levels"), std::string::npos) << err;

  WriteTestFile(dir.path(), "big.json",
                "{\"x\": \"" + std::string(kMaxConfigFileBytes, 'x') + "\"}");
  EXPECT_FALSE(ReadJsonObjectFile(dir.Join("big.json"), "CONFIG_FILE", &out, &err));
  EXPECT_EQ(err, "CONFIG_FILE " + dir.Join("big.json") + " is " +
                     std::to_string(kMaxConfigFileBytes + 9) +
                     " bytes; a CONFIG_FILE holds at most 1 MiB and 64 levels of nesting");

  WriteTestFile(dir.path(), "list.json", "[1]");
  EXPECT_FALSE(ReadJsonObjectFile(dir.Join("list.json"), "CONFIG_FILE", &out, &err));
  EXPECT_EQ(err, "CONFIG_FILE " + dir.Join("list.json") + " is not a JSON object");
  EXPECT_FALSE(ReadJsonObjectFile(dir.Join("missing.json"), "CONFIG_FILE", &out, &err));
}

}  // namespace
}  // namespace wandb_job
