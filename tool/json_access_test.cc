#include "json_access.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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

}  // namespace
}  // namespace wandb_job
