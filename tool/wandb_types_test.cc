#include "wandb_types.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_util.h"

namespace wandb_job {
namespace {

bool HavePython() { return system("command -v python3 >/dev/null 2>&1") == 0; }

TEST(WandbTypesNameTest, DocExamples) {
  EXPECT_EQ(MakeArtifactNameSafe("job-https://github.com/acme/trainer.git_src/train.py"),
            "job-https___github.com_acme_trainer.git_src_train.py");
  EXPECT_EQ(MakeArtifactNameSafe("job-git@github.com:acme/trainer.git_src/train.py"),
            "job-git_github.com_acme_trainer.git_src_train.py");
  EXPECT_EQ(MakeArtifactNameSafe("job-https://github.com/acme/trainer.git_"),
            "job-https___github.com_acme_trainer.git_");
  EXPECT_EQ(MakeArtifactNameSafe("job-ghcr.io/acme/trainer"), "job-ghcr.io_acme_trainer");
  EXPECT_EQ(MakeArtifactNameSafe("job-source-myproj-train.py"), "job-source-myproj-train.py");
  EXPECT_EQ(MakeArtifactNameSafe("job-img@sha256"), "job-img_sha256");
  EXPECT_EQ(MakeArtifactNameSafe(""), "");
}

TEST(WandbTypesNameTest, OneUnderscorePerCharacter) {
  EXPECT_EQ(MakeArtifactNameSafe("caf\xC3\xA9"), "caf_");             // é is one character
  EXPECT_EQ(MakeArtifactNameSafe("\xE6\x97\xA5\xE6\x9C\xAC"), "__");  // 日本
  EXPECT_EQ(MakeArtifactNameSafe("a\xF0\x9F\x98\x80z"), "a_z");       // U+1F600
  EXPECT_EQ(MakeArtifactNameSafe("a\xFF\xFEz"), "a__z");              // invalid bytes: one each
  EXPECT_EQ(MakeArtifactNameSafe("a b\tc\n"), "a_b_c_");
}

TEST(WandbTypesNameTest, Truncation) {
  std::string exact(128, 'x');
  EXPECT_EQ(MakeArtifactNameSafe(exact), exact);
  std::string long_name = std::string(63, 'a') + "MIDDLE/PART" + std::string(63, 'b');
  std::string safe = MakeArtifactNameSafe(long_name);
  EXPECT_EQ(safe, std::string(63, 'a') + ".." + std::string(63, 'b'));
  EXPECT_EQ(safe.size(), 128u);
  std::string just_over = std::string(64, 'a') + std::string(65, 'b');
  EXPECT_EQ(MakeArtifactNameSafe(just_over), std::string(63, 'a') + ".." + std::string(63, 'b'));
  // Counted in characters after replacement: 128 non-ASCII characters stay 128 underscores.
  std::string wide;
  for (int i = 0; i < 128; ++i) {
    wide += "\xC3\xA9";
  }
  EXPECT_EQ(MakeArtifactNameSafe(wide), std::string(128, '_'));
}

TEST(WandbTypesNameTest, MatchesPythonSanitiser) {
  if (!HavePython()) {
    GTEST_SKIP() << "python3 not found";
  }
  const std::vector<std::string> names = {
      "job-https://github.com/acme/trainer.git_src/train.py",
      "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC\xF0\x9F\x98\x80",
      std::string(70, 'a') + "://" + std::string(70, 'z'),
      std::string(200, '/'),
  };
  ScopedTempDir tmp;
  for (const std::string& name : names) {
    WriteTestFile(tmp.path(), "name.txt", name);
    // The rule of wandb-protocol.md §1.2, written out in Python.
    std::string py = RunShell(
        tmp.path(),
        "python3 -c 'import re,sys; n=open(\"name.txt\",encoding=\"utf-8\").read(); "
        "c=re.sub(r\"[^a-zA-Z0-9_\\-.]\", \"_\", n); "
        "print(c if len(c)<=128 else re.sub(r\"(^.{63}).*(.{63}$)\", r\"\\g<1>..\\g<2>\", c), "
        "end=\"\")'");
    EXPECT_EQ(MakeArtifactNameSafe(name), py) << name;
  }
}

TEST(WandbTypesNameTest, ValidateArtifactName) {
  std::string err;
  EXPECT_TRUE(ValidateArtifactName("job-https___github.com_acme_trainer.git_src_train.py", &err));
  EXPECT_TRUE(ValidateArtifactName(std::string(128, 'a'), &err));
  EXPECT_TRUE(err.empty());
  EXPECT_FALSE(ValidateArtifactName("", &err));
  EXPECT_EQ(err, "artifact name is empty");
  EXPECT_FALSE(ValidateArtifactName(std::string(129, 'a'), &err));
  EXPECT_NE(err.find("longer than 128 characters"), std::string::npos) << err;
  EXPECT_FALSE(ValidateArtifactName("a/b", &err));
  EXPECT_EQ(err, "artifact name 'a/b' may only contain letters, digits, '_', '-' and '.'");
  EXPECT_FALSE(ValidateArtifactName("a:b", &err));
  EXPECT_FALSE(ValidateArtifactName("a b", &err));
  EXPECT_FALSE(ValidateArtifactName("caf\xC3\xA9", &err));
}

TEST(WandbTypesNameTest, ValidateAlias) {
  std::string err;
  for (const char* ok : {"latest", "main", "1.4.2", "v", "va", "v1a", "V2", "feature-x", "vé"}) {
    EXPECT_TRUE(ValidateAlias(ok, &err)) << ok << ": " << err;
  }
  EXPECT_TRUE(ValidateAlias(std::string(128, 'a'), &err));
  EXPECT_FALSE(ValidateAlias("", &err));
  EXPECT_EQ(err, "alias is empty");
  EXPECT_FALSE(ValidateAlias(std::string(129, 'a'), &err));
  EXPECT_NE(err.find("longer than 128 characters"), std::string::npos) << err;
  EXPECT_FALSE(ValidateAlias("feature/x", &err));
  EXPECT_EQ(err, "alias 'feature/x' must not contain '/' or ':'");
  EXPECT_FALSE(ValidateAlias("a:b", &err));
  EXPECT_FALSE(ValidateAlias("v0", &err));
  EXPECT_EQ(err, "alias 'v0' looks like a version index (v<N>), which W&B assigns");
  EXPECT_FALSE(ValidateAlias("v123", &err));
}

TEST(WandbTypesNameTest, ValidateProjectName) {
  std::string err;
  EXPECT_TRUE(ValidateProjectName("mnist", &err));
  EXPECT_TRUE(ValidateProjectName("my project.v2", &err));
  EXPECT_TRUE(ValidateProjectName(std::string(128, 'p'), &err));
  EXPECT_FALSE(ValidateProjectName("", &err));
  EXPECT_EQ(err, "project name is empty");
  EXPECT_FALSE(ValidateProjectName(std::string(129, 'p'), &err));
  EXPECT_NE(err.find("longer than 128 characters"), std::string::npos) << err;
  for (const char* bad : {"a/b", "a\\b", "a#b", "a?b", "a%b", "a:b", "a\rb", "a\nb"}) {
    EXPECT_FALSE(ValidateProjectName(bad, &err)) << bad;
    EXPECT_NE(err.find("must not contain"), std::string::npos) << err;
  }
  EXPECT_FALSE(ValidateProjectName("a\nb", &err));
  EXPECT_EQ(err, "project name 'a\nb' must not contain '\\n'");
}

TEST(WandbTypesNameTest, SanitizeAlias) {
  std::string err;
  EXPECT_EQ(SanitizeAlias("main"), "main");
  EXPECT_EQ(SanitizeAlias("feature/new:thing"), "feature-new-thing");
  EXPECT_EQ(SanitizeAlias("a b\tc"), "a-b-c");
  EXPECT_EQ(SanitizeAlias("v2"), "v2-");
  EXPECT_EQ(SanitizeAlias("v2.1"), "v2.1");
  EXPECT_EQ(SanitizeAlias("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(SanitizeAlias(std::string(200, 'x')), std::string(128, 'x'));
  std::string long_version = "v" + std::string(200, '1');
  std::string s = SanitizeAlias(long_version);
  EXPECT_EQ(s.size(), 128u);
  EXPECT_TRUE(ValidateAlias(s, &err)) << err;
  for (const char* text : {"release/v3", "v3", "a:b/c", "x\x01y"}) {
    EXPECT_TRUE(ValidateAlias(SanitizeAlias(text), &err)) << text << ": " << err;
  }
}

TEST(WandbTypesTypeJsonTest, DocExample) {
  std::string types;
  std::string err;
  ASSERT_TRUE(InputTypesFromConfig(
      R"({"lr":0.001,"epochs":10,"model":{"name":"resnet","layers":[64,128]},"use_amp":true,)"
      R"("notes":null})",
      &types, &err))
      << err;
  EXPECT_EQ(types, R"({"wb_type":"typedDict","params":{"type_map":{)"
                   R"("lr":{"wb_type":"number"},)"
                   R"("epochs":{"wb_type":"number"},)"
                   R"("model":{"wb_type":"typedDict","params":{"type_map":{)"
                   R"("name":{"wb_type":"string"},)"
                   R"("layers":{"wb_type":"list","params":{"element_type":{"wb_type":"number"},)"
                   R"("length":2}}}}},)"
                   R"("use_amp":{"wb_type":"boolean"},)"
                   R"("notes":{"wb_type":"none"}}}})");
}

TEST(WandbTypesTypeJsonTest, EmptyAndSpecialCases) {
  std::string types;
  std::string err;
  ASSERT_TRUE(InputTypesFromConfig("{}", &types, &err)) << err;
  EXPECT_EQ(types, R"({"wb_type":"typedDict","params":{"type_map":{}}})");
  ASSERT_TRUE(
      InputTypesFromConfig(R"({"z":[],"_wandb":{"x":1},"m":{"_wandb":1,"k":-3}})", &types, &err))
      << err;
  EXPECT_EQ(types,
            R"({"wb_type":"typedDict","params":{"type_map":{)"
            R"("z":{"wb_type":"list","params":{"element_type":{"wb_type":"unknown"},"length":0}},)"
            R"("m":{"wb_type":"typedDict","params":{"type_map":{"k":{"wb_type":"number"}}}}}}})");
}

TEST(WandbTypesTypeJsonTest, MixedListsGiveUnionsInFirstSeenOrder) {
  std::string types;
  std::string err;
  ASSERT_TRUE(InputTypesFromConfig(R"({"x":["a",1,null,2.5,true,"b"]})", &types, &err)) << err;
  EXPECT_EQ(types,
            R"({"wb_type":"typedDict","params":{"type_map":{"x":{"wb_type":"list","params":{)"
            R"("element_type":{"wb_type":"union","params":{"allowed_types":[)"
            R"({"wb_type":"string"},{"wb_type":"number"},{"wb_type":"none"},)"
            R"({"wb_type":"boolean"}]}},"length":6}}}}})");
  // Same type name: the last element's type is kept (as wandb-core does).
  ASSERT_TRUE(InputTypesFromConfig(R"({"x":[[1],[1,2,3]]})", &types, &err)) << err;
  EXPECT_EQ(types,
            R"({"wb_type":"typedDict","params":{"type_map":{"x":{"wb_type":"list","params":{)"
            R"("element_type":{"wb_type":"list","params":{"element_type":{"wb_type":"number"},)"
            R"("length":3}},"length":2}}}}})");
}

TEST(WandbTypesTypeJsonTest, Errors) {
  std::string types = "unchanged";
  std::string err;
  EXPECT_FALSE(InputTypesFromConfig("[1]", &types, &err));
  EXPECT_EQ(err, "config must be a JSON object, not array");
  EXPECT_FALSE(InputTypesFromConfig("{", &types, &err));
  EXPECT_NE(err.find("parse error"), std::string::npos) << err;
  EXPECT_EQ(types, "unchanged");
}

TEST(WandbTypesPythonJsonTest, Strings) {
  EXPECT_EQ(PythonJsonString(""), "\"\"");
  EXPECT_EQ(PythonJsonString("a/b"), "\"a/b\"");
  EXPECT_EQ(PythonJsonString("\"\\\n\r\t\b\f"), "\"\\\"\\\\\\n\\r\\t\\b\\f\"");
  EXPECT_EQ(PythonJsonString(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(PythonJsonString(std::string("\0", 1)), "\"\\u0000\"");
  EXPECT_EQ(PythonJsonString("caf\xC3\xA9 \xE2\x82\xAC"), "\"caf\\u00e9 \\u20ac\"");
  EXPECT_EQ(PythonJsonString("\xF0\x9F\x98\x80"), "\"\\ud83d\\ude00\"");
  EXPECT_EQ(PythonJsonString("\xFF"), "\"\\ufffd\"");
  EXPECT_EQ(PythonJsonString("\xC3"), "\"\\ufffd\"");                        // truncated
  EXPECT_EQ(PythonJsonString("\xC0\xAF"), "\"\\ufffd\\ufffd\"");             // overlong
  EXPECT_EQ(PythonJsonString("\xED\xA0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // surrogate
}

TEST(WandbTypesPythonJsonTest, Indent4Layout) {
  std::string out;
  std::string err;
  ASSERT_TRUE(PythonIndent4(R"({"a":[],"b":{},"c":[1,{"d":null}],"e":"x"})", &out, &err)) << err;
  EXPECT_EQ(out,
            "{\n    \"a\": [],\n    \"b\": {},\n    \"c\": [\n        1,\n        {\n"
            "            \"d\": null\n        }\n    ],\n    \"e\": \"x\"\n}");
  ASSERT_TRUE(PythonIndent4(" 5 ", &out, &err)) << err;
  EXPECT_EQ(out, "5");
  ASSERT_TRUE(PythonIndent4("[]", &out, &err)) << err;
  EXPECT_EQ(out, "[]");
  // A repeated key keeps its first position and takes the last value, like a Python dict.
  ASSERT_TRUE(PythonIndent4(R"({"k":1,"j":2,"k":3})", &out, &err)) << err;
  EXPECT_EQ(out, "{\n    \"k\": 3,\n    \"j\": 2\n}");
}

TEST(WandbTypesPythonJsonTest, Numbers) {
  std::string out;
  std::string err;
  ASSERT_TRUE(PythonIndent4(
      "[0, -0, 12, -7, 18446744073709551615, -9223372036854775808, "
      "123456789012345678901234567890, -99999999999999999999, 0.1, 1.0, -0.0, 100.0, 1E2, 1e16, "
      "9999999999999998.0, 1e-5, 0.0001, 1.5e300, 5e-324, 1.7976931348623157e308, 0.5e-4, "
      "123456789.123, 1e22, 2.5e-7, 1e-400]",
      &out, &err))
      << err;
  EXPECT_EQ(out,
            "[\n    0,\n    0,\n    12,\n    -7,\n    18446744073709551615,\n"
            "    -9223372036854775808,\n    123456789012345678901234567890,\n"
            "    -99999999999999999999,\n    0.1,\n    1.0,\n    -0.0,\n    100.0,\n    100.0,\n"
            "    1e+16,\n    9999999999999998.0,\n    1e-05,\n    0.0001,\n    1.5e+300,\n"
            "    5e-324,\n    1.7976931348623157e+308,\n    5e-05,\n    123456789.123,\n"
            "    1e+22,\n    2.5e-07,\n    0.0\n]");
}

TEST(WandbTypesPythonJsonTest, Errors) {
  std::string out = "unchanged";
  std::string err;
  for (const char* bad : {"", "{", "[1,]", "{\"a\":1,}", "NaN", "Infinity", "1e400", "\"\\ud800\"",
                          "[1] x", "{'a':1}"}) {
    err.clear();
    EXPECT_FALSE(PythonIndent4(bad, &out, &err)) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
  EXPECT_EQ(out, "unchanged");
}

TEST(WandbTypesPythonJsonTest, MatchesPythonJsonDumps) {
  if (!HavePython()) {
    GTEST_SKIP() << "python3 not found";
  }
  const std::string doc =
      "{\"_version\": \"0.17.0\", \"empty_obj\": {}, \"empty_arr\": [], \"nested\": {\"a\": "
      "[{\"b\": []}, [[]], {}], \"c\": {\"d\": {\"e\": null}}}, \"nums\": [0, -0, 3, -3.25, "
      "1e16, 1E-7, 0.0001, 12345678901234567890123, 2.0, 1.7976931348623157e308, 4.9e-324, "
      "0.30000000000000004, 1e15, 123e-2], \"strs\": [\"caf\\u00e9\", "
      "\"\xE6\x97\xA5\xE6\x9C\xAC\", "
      "\"\xF0\x9F\x98\x80\", \"\\ud83d\\ude01\", \"a/b\\/c\", \"\\u007f\x7f\", \"\\u0000\\u001f\", "
      "\"tab\\there\\nnl\\r\\b\\f\", \"q\\\"b\\\\\"], \"dup\": 1, \"t\": true, \"f\": false, "
      "\"dup\": [1, 2], \"\xC3\xBC\": \"\xE2\x82\xAC\"}";
  ScopedTempDir tmp;
  WriteTestFile(tmp.path(), "doc.json", doc);
  std::string py = RunShell(tmp.path(),
                            "python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), "
                            "indent=4), end=\"\")' < doc.json");
  std::string out;
  std::string err;
  ASSERT_TRUE(PythonIndent4(doc, &out, &err)) << err;
  EXPECT_EQ(out, py);
  // Re-rendering is a fixed point.
  std::string again;
  ASSERT_TRUE(PythonIndent4(out, &again, &err)) << err;
  EXPECT_EQ(again, out);
}

TEST(WandbTypesConfigTest, ValueTyping) {
  std::string json;
  std::string err;
  ASSERT_TRUE(ConfigPairsToJson(
      {"lr=0.01", "batch_size=32", "amp=true", "off=false", "n=null", "l=[1,2]", "o={\"a\":1}",
       "q=\"quoted\"", "h=hello", "e=1e-3", "flag=--flag", "empty=", "lead=01", "eq=a=b", "sp=a b"},
      &json, &err))
      << err;
  EXPECT_EQ(json, R"({"lr":0.01,"batch_size":32,"amp":true,"off":false,"n":null,"l":[1,2],)"
                  R"("o":{"a":1},"q":"quoted","h":"hello","e":0.001,"flag":"--flag","empty":"",)"
                  R"("lead":"01","eq":"a=b","sp":"a b"})");
  ASSERT_TRUE(ConfigPairsToJson({}, &json, &err)) << err;
  EXPECT_EQ(json, "{}");
}

TEST(WandbTypesConfigTest, DottedKeysNestInFirstAppearanceOrder) {
  std::string json;
  std::string err;
  ASSERT_TRUE(ConfigPairsToJson(
      {"model.depth=3", "lr=0.1", "model.name=resnet", "model.opt.beta-1=0.9", "_x.y_2=1"}, &json,
      &err))
      << err;
  EXPECT_EQ(json, R"({"model":{"depth":3,"name":"resnet","opt":{"beta-1":0.9}},"lr":0.1,)"
                  R"("_x":{"y_2":1}})");
}

TEST(WandbTypesConfigTest, Errors) {
  struct Case {
    std::vector<std::string> pairs;
    const char* err;
  };
  const Case cases[] = {
      {{"lr"}, "bad CONFIG pair 'lr': expected key=value"},
      {{"=1"}, "bad CONFIG pair '=1': empty key"},
      {{"a..b=1"}, "bad CONFIG pair 'a..b=1': invalid key 'a..b'"},
      {{".a=1"}, "bad CONFIG pair '.a=1': invalid key '.a'"},
      {{"a.=1"}, "bad CONFIG pair 'a.=1': invalid key 'a.'"},
      {{"1a=1"}, "bad CONFIG pair '1a=1': invalid key '1a'"},
      {{"-a=1"}, "bad CONFIG pair '-a=1': invalid key '-a'"},
      {{"a b=1"}, "bad CONFIG pair 'a b=1': invalid key 'a b'"},
      {{"a=1", "a=2"}, "bad CONFIG pair 'a=2': duplicate key 'a'"},
      {{"a=1", "a.b=2"}, "bad CONFIG pair 'a.b=2': 'a' is already set to a value"},
      {{"a={\"b\":1}", "a.c=2"}, "bad CONFIG pair 'a.c=2': 'a' is already set to a value"},
      {{"a.b.c=1", "a.b=2"}, "bad CONFIG pair 'a.b=2': 'a.b' already has nested keys"},
      {{"x=\xFF"}, "bad CONFIG pair 'x=\xFF': value is not valid UTF-8"},
  };
  for (const Case& c : cases) {
    std::string json = "unchanged";
    std::string err;
    EXPECT_FALSE(ConfigPairsToJson(c.pairs, &json, &err)) << c.err;
    EXPECT_EQ(err.substr(0, std::string(c.err).size()), c.err);
    EXPECT_EQ(json, "unchanged");
  }
}

TEST(WandbTypesMergeTest, DeepMerge) {
  std::string out;
  std::string err;
  ASSERT_TRUE(MergeJsonObjects(R"({"lr":0.1,"model":{"depth":3,"name":"a"},"tags":[1],"k":1})",
                               R"({"model":{"name":"b","opt":{"m":1}},"tags":[2,3],"new":true,)"
                               R"("k":null,"lr":{"x":1}})",
                               &out, &err))
      << err;
  EXPECT_EQ(out, R"({"lr":{"x":1},"model":{"depth":3,"name":"b","opt":{"m":1}},"tags":[2,3],)"
                 R"("k":null,"new":true})");
  ASSERT_TRUE(MergeJsonObjects("{}", "{}", &out, &err)) << err;
  EXPECT_EQ(out, "{}");
}

TEST(WandbTypesMergeTest, Errors) {
  std::string out = "unchanged";
  std::string err;
  EXPECT_FALSE(MergeJsonObjects("{", "{}", &out, &err));
  EXPECT_EQ(err.substr(0, 6), "base: ");
  EXPECT_FALSE(MergeJsonObjects("[]", "{}", &out, &err));
  EXPECT_EQ(err, "base: expected a JSON object, not array");
  EXPECT_FALSE(MergeJsonObjects("{}", "x", &out, &err));
  EXPECT_EQ(err.substr(0, 9), "overlay: ");
  EXPECT_FALSE(MergeJsonObjects("{}", "1", &out, &err));
  EXPECT_EQ(err, "overlay: expected a JSON object, not number");
  EXPECT_EQ(out, "unchanged");
}

TEST(InputSchemaTest, TypesDefaultsAndNesting) {
  std::string schema, err;
  ASSERT_TRUE(InputSchemaFromConfig(
      R"({"lr":0.5,"epochs":10,"amp":true,"name":"x","notes":null,"_wandb":{"a":1},)"
      R"("layers":[64,128],"mixed":[1,"a"],"model":{"depth":2}})",
      "", &schema, &err))
      << err;
  EXPECT_EQ(nlohmann::json::parse(schema), nlohmann::json::parse(R"({"type":"object","properties":{
      "lr":{"type":"number","default":0.5},
      "epochs":{"type":"integer","default":10},
      "amp":{"type":"boolean","default":true},
      "name":{"type":"string","default":"x"},
      "layers":{"type":"array","items":{"type":"integer"},"default":[64,128]},
      "mixed":{"type":"array","default":[1,"a"]},
      "model":{"type":"object","properties":{"depth":{"type":"integer","default":2}}}}})"));
}

TEST(InputSchemaTest, DescriptionsAndEnums) {
  std::string schema, err;
  ASSERT_TRUE(InputSchemaFromConfig(
      R"({"opt":"adam","model":{"depth":2}})",
      R"({"opt":{"description":"optimizer","enum":["adam","sgd"]},)"
      R"("model.depth":{"description":"layers"}})",
      &schema, &err))
      << err;
  nlohmann::json j = nlohmann::json::parse(schema);
  EXPECT_EQ(j["properties"]["opt"], nlohmann::json::parse(
      R"({"type":"string","default":"adam","description":"optimizer","enum":["adam","sgd"]})"));
  EXPECT_EQ(j["properties"]["model"]["properties"]["depth"]["description"], "layers");
}

TEST(InputSchemaTest, BoundsAndEnumHoldTheDefault) {
  std::string schema, err;
  ASSERT_TRUE(InputSchemaFromConfig(R"({"lr":0.5,"epochs":3})",
                                    R"({"lr":{"minimum":0,"maximum":1,"enum":[0.1,0.5]},)"
                                    R"("epochs":{"minimum":3,"maximum":3}})",
                                    &schema, &err))
      << err;
  nlohmann::json j = nlohmann::json::parse(schema);
  EXPECT_EQ(j["properties"]["lr"],
            nlohmann::json::parse(
                R"({"type":"number","default":0.5,"minimum":0,"maximum":1,"enum":[0.1,0.5]})"));
  EXPECT_EQ(j["properties"]["epochs"]["minimum"], 3);

  EXPECT_FALSE(
      InputSchemaFromConfig(R"({"opt":"adam"})", R"({"opt":{"enum":["sgd"]}})", &schema, &err));
  EXPECT_EQ(err,
            "input documentation for 'opt': the default \"adam\" is not one of the enum "
            "[\"sgd\"]");
  EXPECT_FALSE(InputSchemaFromConfig(R"({"lr":2})", R"({"lr":{"maximum":1}})", &schema, &err));
  EXPECT_EQ(err, "input documentation for 'lr': the default 2 is above the maximum 1");
  EXPECT_FALSE(InputSchemaFromConfig(R"({"lr":-1})", R"({"lr":{"minimum":0}})", &schema, &err));
  EXPECT_EQ(err, "input documentation for 'lr': the default -1 is below the minimum 0");
  // Bounds only for numbers, of numbers.
  EXPECT_FALSE(InputSchemaFromConfig(R"({"n":"x"})", R"({"n":{"minimum":0}})", &schema, &err));
  EXPECT_NE(err.find("'minimum' is not"), std::string::npos) << err;
  EXPECT_FALSE(InputSchemaFromConfig(R"({"n":1})", R"({"n":{"maximum":"9"}})", &schema, &err));
  EXPECT_NE(err.find("'maximum' is not"), std::string::npos) << err;
}

TEST(InputSchemaTest, Errors) {
  std::string schema, err;
  EXPECT_FALSE(InputSchemaFromConfig("[1]", "", &schema, &err));
  EXPECT_EQ(err, "the config is not a JSON object");
  EXPECT_FALSE(InputSchemaFromConfig(R"({"a":1})", "[]", &schema, &err));
  EXPECT_EQ(err, "the input documentation is not a JSON object");
  EXPECT_FALSE(InputSchemaFromConfig(R"({"a":1})", R"({"b":{"description":"x"}})", &schema, &err));
  EXPECT_EQ(err, "input documentation for 'b': no such config value");
  EXPECT_FALSE(InputSchemaFromConfig(R"({"m":{"a":1}})", R"({"m":{"description":"x"}})", &schema,
                                     &err));
  EXPECT_EQ(err, "input documentation for 'm': no such config value");
  EXPECT_FALSE(InputSchemaFromConfig(R"({"a":1})", R"({"a":"text"})", &schema, &err));
  EXPECT_NE(err.find("expected {\"description\""), std::string::npos) << err;
  EXPECT_FALSE(InputSchemaFromConfig(R"({"a":1})", R"({"a":{"enum":[]}})", &schema, &err));
  EXPECT_EQ(err,
            "input documentation for 'a': 'enum' is not a description (text), an enum (a "
            "non-empty list) or a minimum or maximum (a number, of a number)");
}

}  // namespace
}  // namespace wandb_job
