// Tests of include/wandb/job.h: merging defaults, options and WANDB_CONFIG, typed access, errors.
#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "wandb/job.h"

namespace {

using nlohmann::json;

/// A mutable argv[] (argv[0] = "prog"), as main() receives it.
class Argv {
 public:
  Argv(std::initializer_list<const char*> args) {
    strings_.emplace_back("prog");
    strings_.insert(strings_.end(), args.begin(), args.end());
    for (std::string& s : strings_) {
      pointers_.push_back(s.data());
    }
    pointers_.push_back(nullptr);
  }
  int argc() const { return static_cast<int>(strings_.size()); }
  char** argv() { return pointers_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> pointers_;
};

::testing::AssertionResult StartsWith(const std::string& text, const std::string& prefix) {
  if (text.compare(0, prefix.size(), prefix) == 0) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "'" << text << "' does not start with '" << prefix << "'";
}

json Defaults() {
  return {{"lr", 0.01},
          {"epochs", 10},
          {"batch_size", 32},
          {"optimizer", "sgd"},
          {"amp", false},
          {"layers", {64, 128}},
          {"model", {{"hidden", 16}, {"activation", "tanh"}}}};
}

/// Each test starts and ends without any WANDB_CONFIG* variable.
class JobApiTest : public ::testing::Test {
 protected:
  void SetUp() override { ClearLaunchConfig(); }
  void TearDown() override { ClearLaunchConfig(); }

  static void ClearLaunchConfig() {
    unsetenv("WANDB_CONFIG");
    for (int i = 0; i < 16; ++i) {
      unsetenv(("WANDB_CONFIG_" + std::to_string(i)).c_str());
    }
  }

  /// The ConfigError message of `f()`, or "" when it does not throw.
  template <typename F>
  static std::string ErrorOf(F f) {
    try {
      f();
    } catch (const wandb::ConfigError& e) {
      return e.what();
    }
    return "";
  }
};

TEST_F(JobApiTest, DefaultsOnly) {
  Argv args({});
  wandb::Config config = wandb::Config::FromEnvironment(args.argc(), args.argv(), Defaults());
  EXPECT_DOUBLE_EQ(config.get<double>("lr", 0.5), 0.01);
  EXPECT_EQ(config.get<int>("epochs", 1), 10);
  EXPECT_EQ(config.get<std::string>("optimizer", "adam"), "sgd");
  EXPECT_EQ(config.get("optimizer", "adam"), "sgd");
  EXPECT_FALSE(config.get<bool>("amp", true));
  EXPECT_EQ(config.get<std::vector<int>>("layers", {}), (std::vector<int>{64, 128}));
  EXPECT_EQ(config.get<int>("model.hidden"), 16);
  EXPECT_EQ(config.json(), Defaults());
  EXPECT_TRUE(config.unused_args().empty());
}

TEST_F(JobApiTest, MissingKeysTakeTheGivenDefault) {
  wandb::Config config =
      wandb::Config::FromEnvironment(0, nullptr, R"({"a": {"b": 1}, "n": null})");
  EXPECT_EQ(config.get<int>("missing", 5), 5);
  EXPECT_EQ(config.get<int>("a.missing", 6), 6);
  EXPECT_EQ(config.get<int>("a.b.c", 7), 7);  // through a non-object
  EXPECT_EQ(config.get<int>("n", 8), 8);      // null counts as not set
  EXPECT_EQ(config.get("name", "x"), "x");
  EXPECT_TRUE(config.contains("a.b"));
  EXPECT_FALSE(config.contains("n"));
  EXPECT_FALSE(config.contains("a.c"));
  EXPECT_EQ(ErrorOf([&] { config.get<int>("missing"); }), "config key 'missing': not set");
  EXPECT_EQ(ErrorOf([&] { config.get<int>("n"); }), "config key 'n': not set");
}

TEST_F(JobApiTest, DefaultsAsJsonText) {
  const std::string text = R"({"lr": 0.1, "model": {"hidden": 4}})";
  wandb::Config from_string = wandb::Config::FromEnvironment(0, nullptr, text);
  wandb::Config from_literal = wandb::Config::FromEnvironment(0, nullptr, text.c_str());
  EXPECT_EQ(from_string.json(), json::parse(text));
  EXPECT_EQ(from_literal.json(), json::parse(text));
  EXPECT_TRUE(StartsWith(ErrorOf([] { wandb::Config::FromEnvironment(0, nullptr, "{lr: 1}"); }),
                         "defaults: invalid JSON: parse error at line 1, column 2"));
  EXPECT_EQ(ErrorOf([] { wandb::Config::FromEnvironment(0, nullptr, "[1]"); }),
            "defaults: expected a JSON object, got array [1]");
  EXPECT_EQ(ErrorOf([] { wandb::Config::FromEnvironment(0, nullptr, json(3)); }),
            "defaults: expected a JSON object, got number 3");
  EXPECT_EQ(wandb::Config::FromEnvironment(0, nullptr, json()).json(), json::object());
  // Initializer lists are JSON; `{}` and nullptr mean no defaults.
  wandb::Config one_pair = wandb::Config::FromEnvironment(0, nullptr, {{"lr", 0.5}});
  EXPECT_EQ(one_pair.json(), json::parse(R"({"lr": 0.5})"));
  wandb::Config empty = wandb::Config::FromEnvironment(0, nullptr, {});
  EXPECT_EQ(empty.json(), json::object());
  EXPECT_EQ(wandb::Config::FromEnvironment(0, nullptr, nullptr).json(), json::object());
}

TEST_F(JobApiTest, ArgvOverridesDefaultsTypedByTheDefault) {
  Argv args({"--lr", "1", "--epochs=5", "--optimizer", "momentum", "--model.hidden", "32", "--amp",
             "--layers", "1,2,3", "--batch-size", "8"});
  wandb::Config config = wandb::Config::FromEnvironment(args.argc(), args.argv(), Defaults());
  EXPECT_TRUE(config.json()["lr"].is_number_float());
  EXPECT_DOUBLE_EQ(config.get<double>("lr"), 1.0);
  EXPECT_TRUE(config.json()["epochs"].is_number_integer());
  EXPECT_EQ(config.get<int>("epochs"), 5);
  EXPECT_EQ(config.get<std::string>("optimizer"), "momentum");
  EXPECT_EQ(config.get<int>("model.hidden"), 32);
  EXPECT_EQ(config.get<std::string>("model.activation"), "tanh");  // sibling kept
  EXPECT_TRUE(config.get<bool>("amp"));
  EXPECT_EQ(config.get<std::vector<int>>("layers"), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(config.get<int>("batch_size"), 8);  // `-` for `_`
}

TEST_F(JobApiTest, UnknownArgumentsAreLeftForTheProgram) {
  Argv args({"data.csv", "--out", "result.json", "--lr", "0.5", "-v", "--", "--epochs", "3"});
  wandb::Config config = wandb::Config::FromEnvironment(args.argc(), args.argv(), Defaults());
  EXPECT_DOUBLE_EQ(config.get<double>("lr"), 0.5);
  EXPECT_EQ(config.get<int>("epochs"), 10);  // after `--`
  EXPECT_EQ(config.unused_args(), (std::vector<std::string>{"data.csv", "--out", "result.json",
                                                            "-v", "--", "--epochs", "3"}));
}

TEST_F(JobApiTest, BooleanOptions) {
  auto amp = [](std::initializer_list<const char*> list) {
    Argv args(list);
    return wandb::Config::FromEnvironment(args.argc(), args.argv(), Defaults()).get<bool>("amp");
  };
  EXPECT_TRUE(amp({"--amp"}));
  EXPECT_TRUE(amp({"--amp", "--lr", "1"}));
  EXPECT_FALSE(amp({"--amp", "false"}));
  EXPECT_FALSE(amp({"--amp=0"}));
  EXPECT_TRUE(amp({"--amp=YES"}));
  EXPECT_FALSE(amp({"--amp", "off"}));
  Argv args({"--amp", "data.csv"});  // not a boolean: left alone
  wandb::Config config = wandb::Config::FromEnvironment(args.argc(), args.argv(), Defaults());
  EXPECT_TRUE(config.get<bool>("amp"));
  EXPECT_EQ(config.unused_args(), std::vector<std::string>{"data.csv"});
}

TEST_F(JobApiTest, NumberOptionsAreParsedLikePeopleTypeThem) {
  auto lr = [](const char* text) {
    Argv args({"--lr", text});
    return wandb::Config::FromEnvironment(args.argc(), args.argv(), Defaults()).get<double>("lr");
  };
  EXPECT_DOUBLE_EQ(lr(".5"), 0.5);
  EXPECT_DOUBLE_EQ(lr("-.5"), -0.5);
  EXPECT_DOUBLE_EQ(lr("+1e-3"), 0.001);
  EXPECT_DOUBLE_EQ(lr("2."), 2.0);
  Argv args({"--epochs", "1e3", "--batch_size", "-4"});
  wandb::Config config = wandb::Config::FromEnvironment(args.argc(), args.argv(), Defaults());
  EXPECT_EQ(config.get<int>("epochs"), 1000);
  EXPECT_EQ(config.get<int>("batch_size"), -4);
}

TEST_F(JobApiTest, ObjectAndListOptionsTakeJson) {
  Argv args({"--model", R"({"hidden": 8, "dropout": 0.5})", "--layers=[3, 4]"});
  wandb::Config config = wandb::Config::FromEnvironment(args.argc(), args.argv(), Defaults());
  EXPECT_EQ(config.json()["model"],
            json::parse(R"({"hidden": 8, "dropout": 0.5, "activation": "tanh"})"));
  EXPECT_EQ(config.get<std::vector<int>>("layers"), (std::vector<int>{3, 4}));
  Argv empty({"--layers="});
  EXPECT_EQ(wandb::Config::FromEnvironment(empty.argc(), empty.argv(), Defaults()).json()["layers"],
            json::array());
}

TEST_F(JobApiTest, BadOptionValuesNameTheOption) {
  auto error = [&](std::initializer_list<const char*> list) {
    Argv args(list);
    return ErrorOf([&] { wandb::Config::FromEnvironment(args.argc(), args.argv(), Defaults()); });
  };
  EXPECT_EQ(error({"--epochs", "abc"}), "option --epochs: expected an integer, got 'abc'");
  EXPECT_EQ(error({"--epochs", "2.5"}), "option --epochs: expected an integer, got '2.5'");
  EXPECT_EQ(error({"--lr", "fast"}), "option --lr: expected a number, got 'fast'");
  EXPECT_EQ(error({"--lr", "nan"}), "option --lr: expected a number, got 'nan'");
  EXPECT_EQ(error({"--amp=maybe"}), "option --amp: expected a boolean (true/false), got 'maybe'");
  EXPECT_EQ(error({"--layers", "1,x"}), "option --layers[1]: expected an integer, got 'x'");
  EXPECT_EQ(error({"--model", "[1]"}), "option --model: expected a JSON object, got '[1]'");
  EXPECT_EQ(error({"--lr"}), "option --lr: missing value");
  EXPECT_EQ(error({"--model.hidden"}), "option --model.hidden: missing value");
}

TEST_F(JobApiTest, WandbConfigBeatsArgvAndDeepMerges) {
  setenv("WANDB_CONFIG",
         R"({"lr": 0.5, "model": {"dropout": 0.1}, "layers": [7], "extra": {"a": 1}})", 1);
  Argv args({"--lr", "0.1", "--model.hidden", "32", "--epochs", "3"});
  wandb::Config config = wandb::Config::FromEnvironment(args.argc(), args.argv(), Defaults());
  EXPECT_DOUBLE_EQ(config.get<double>("lr"), 0.5);  // launch override wins
  EXPECT_EQ(config.get<int>("epochs"), 3);          // argv still applies elsewhere
  EXPECT_EQ(config.get<int>("model.hidden"), 32);   // objects merge
  EXPECT_DOUBLE_EQ(config.get<double>("model.dropout"), 0.1);
  EXPECT_EQ(config.get<std::string>("model.activation"), "tanh");
  EXPECT_EQ(config.get<std::vector<int>>("layers"), std::vector<int>{7});  // lists replace
  EXPECT_EQ(config.get<int>("extra.a"), 1);                                // new keys are added
}

TEST_F(JobApiTest, WandbConfigReplacesNonObjectsWholesale) {
  setenv("WANDB_CONFIG", R"({"optimizer": {"name": "adam"}, "model": 3})", 1);
  wandb::Config config = wandb::Config::FromEnvironment(0, nullptr, Defaults());
  EXPECT_EQ(config.get<std::string>("optimizer.name"), "adam");
  EXPECT_EQ(config.get<int>("model"), 3);
  EXPECT_FALSE(config.contains("model.hidden"));
}

TEST_F(JobApiTest, EmptyWandbConfigMeansNoOverrides) {
  setenv("WANDB_CONFIG", "  ", 1);
  EXPECT_EQ(wandb::Config::FromEnvironment(0, nullptr, Defaults()).json(), Defaults());
  setenv("WANDB_CONFIG", "{}", 1);
  EXPECT_EQ(wandb::Config::FromEnvironment(0, nullptr, Defaults()).json(), Defaults());
}

TEST_F(JobApiTest, WandbConfigChunksAreConcatenatedInOrder) {
  // Larger than the agent's 32 670-character limit, so it arrives in three chunks.
  json overrides = {{"lr", 0.25}, {"model", {{"hidden", 64}}}};
  for (int i = 0; i < 1300; ++i) {
    overrides["notes"].push_back("entry " + std::to_string(i) + " " + std::string(40, 'x'));
  }
  std::string text = overrides.dump();
  ASSERT_GT(text.size(), 2u * 32670);
  ASSERT_LE(text.size(), 3u * 32670);
  for (size_t i = 0; i < 3; ++i) {
    setenv(("WANDB_CONFIG_" + std::to_string(i)).c_str(), text.substr(i * 32670, 32670).c_str(), 1);
  }
  setenv("WANDB_CONFIG_4", "garbage after a gap is not read", 1);
  std::string source;
  EXPECT_EQ(wandb::ReadChunkedEnv("WANDB_CONFIG", &source), text);
  EXPECT_EQ(source, "WANDB_CONFIG_0..WANDB_CONFIG_2");

  Argv args({"--lr", "0.1"});
  wandb::Config config = wandb::Config::FromEnvironment(args.argc(), args.argv(), Defaults());
  EXPECT_DOUBLE_EQ(config.get<double>("lr"), 0.25);
  EXPECT_EQ(config.get<int>("model.hidden"), 64);
  EXPECT_EQ(config.get<std::string>("model.activation"), "tanh");
  EXPECT_EQ(config.get<std::vector<std::string>>("notes").size(), 1300u);
  EXPECT_EQ(config.get<std::vector<std::string>>("notes")[1299],
            "entry 1299 " + std::string(40, 'x'));
}

TEST_F(JobApiTest, WholeWandbConfigWinsOverChunks) {
  setenv("WANDB_CONFIG", R"({"lr": 1})", 1);
  setenv("WANDB_CONFIG_0", R"({"lr": 2})", 1);
  std::string source;
  EXPECT_EQ(wandb::ReadChunkedEnv("WANDB_CONFIG", &source), R"({"lr": 1})");
  EXPECT_EQ(source, "WANDB_CONFIG");
  EXPECT_DOUBLE_EQ(wandb::Config::FromEnvironment(0, nullptr, Defaults()).get<double>("lr"), 1);
}

TEST_F(JobApiTest, ReadChunkedEnvSingleChunkAndNone) {
  std::string source = "unchanged";
  EXPECT_EQ(wandb::ReadChunkedEnv("WANDB_CONFIG", &source), std::nullopt);
  EXPECT_EQ(source, "unchanged");
  setenv("WANDB_CONFIG_0", "{}", 1);
  EXPECT_EQ(wandb::ReadChunkedEnv("WANDB_CONFIG", &source), "{}");
  EXPECT_EQ(source, "WANDB_CONFIG_0");
  EXPECT_EQ(wandb::ReadChunkedEnv("WANDB_CONFIG"), "{}");
}

TEST_F(JobApiTest, BadWandbConfigNamesTheVariable) {
  auto error = [&] {
    return ErrorOf([] { wandb::Config::FromEnvironment(0, nullptr, Defaults()); });
  };
  setenv("WANDB_CONFIG", R"({"lr": 0.1,})", 1);
  EXPECT_TRUE(StartsWith(error(), "WANDB_CONFIG: invalid JSON: parse error at line 1"));
  setenv("WANDB_CONFIG", "[1, 2]", 1);
  EXPECT_EQ(error(), "WANDB_CONFIG: expected a JSON object, got array [1,2]");
  unsetenv("WANDB_CONFIG");
  setenv("WANDB_CONFIG_0", R"({"lr": )", 1);
  setenv("WANDB_CONFIG_1", R"(0.1)", 1);  // the closing brace chunk is missing
  EXPECT_TRUE(StartsWith(error(), "WANDB_CONFIG_0..WANDB_CONFIG_1: invalid JSON: "));
}

TEST_F(JobApiTest, TypeErrorsNameTheKeyAndWhereTheValueCameFrom) {
  setenv("WANDB_CONFIG", R"({"lr": "fast", "model": {"hidden": "big"}})", 1);
  Argv args({"--layers", R"(["a"])", "--epochs", "7"});
  wandb::Config config = wandb::Config::FromEnvironment(args.argc(), args.argv(), Defaults());
  EXPECT_EQ(ErrorOf([&] { config.get<double>("lr", 0.1); }),
            R"(config key 'lr' (from WANDB_CONFIG): expected a number, got string "fast")");
  EXPECT_EQ(
      ErrorOf([&] { config.get<int>("model.hidden"); }),
      R"(config key 'model.hidden' (from WANDB_CONFIG): expected an integer, got string "big")");
  EXPECT_EQ(
      ErrorOf([&] { config.get<std::vector<int>>("layers"); }),
      R"(config key 'layers' (from --layers): element 0: expected an integer, got string "a")");
  EXPECT_EQ(ErrorOf([&] { config.get<bool>("epochs"); }),
            "config key 'epochs' (from --epochs): expected a boolean, got number 7");
  EXPECT_EQ(ErrorOf([&] { config.get<std::string>("batch_size"); }),
            "config key 'batch_size': expected a string, got number 32");
  EXPECT_EQ(ErrorOf([&] { config.get<int>("optimizer", 0); }),
            R"(config key 'optimizer': expected an integer, got string "sgd")");
  EXPECT_EQ(ErrorOf([&] { config.get<std::vector<int>>("epochs"); }),
            "config key 'epochs' (from --epochs): expected a list, got number 7");
}

TEST_F(JobApiTest, OriginFollowsTheLastWriter) {
  // argv sets model.hidden, then WANDB_CONFIG replaces the whole `model` value.
  setenv("WANDB_CONFIG", R"({"model": "small"})", 1);
  Argv args({"--model.hidden", "4"});
  wandb::Config config = wandb::Config::FromEnvironment(args.argc(), args.argv(), Defaults());
  EXPECT_EQ(ErrorOf([&] { config.get<int>("model"); }),
            R"(config key 'model' (from WANDB_CONFIG): expected an integer, got string "small")");
}

TEST_F(JobApiTest, IntegerConversions) {
  wandb::Config config(
      json::parse(R"({"whole": 32.0, "half": 0.5, "big": 3000000000, "neg": -1, "huge": 1e300})"));
  EXPECT_EQ(config.get<int>("whole"), 32);
  EXPECT_EQ(config.get<int64_t>("big"), 3000000000);
  EXPECT_EQ(config.get<uint32_t>("big"), 3000000000u);
  EXPECT_EQ(config.get<int>("neg"), -1);
  EXPECT_EQ(ErrorOf([&] { config.get<int>("half"); }),
            "config key 'half': expected an integer, got number 0.5");
  EXPECT_EQ(ErrorOf([&] { config.get<int>("big"); }),
            "config key 'big': expected an integer in [-2147483648, 2147483647], got number "
            "3000000000");
  EXPECT_EQ(ErrorOf([&] { config.get<unsigned>("neg"); }),
            "config key 'neg': expected an integer in [0, 4294967295], got number -1");
  EXPECT_EQ(ErrorOf([&] { config.get<int64_t>("huge"); }),
            "config key 'huge': expected an integer, got number 1e+300");
  EXPECT_DOUBLE_EQ(config.get<double>("big"), 3e9);
  EXPECT_FLOAT_EQ(config.get<float>("half"), 0.5f);
}

TEST_F(JobApiTest, NestedDottedKeysAndEscapedDots) {
  wandb::Config config(json::parse(R"({"a": {"b": {"c": [1.5, 2.5]}}, "x.y": 3})"));
  EXPECT_EQ(config.get<std::vector<double>>("a.b.c"), (std::vector<double>{1.5, 2.5}));
  EXPECT_EQ(config.get<int>("x\\.y"), 3);
  EXPECT_FALSE(config.contains("x.y"));
  Argv args({"--x\\.y", "4"});
  wandb::Config parsed = wandb::Config::FromEnvironment(args.argc(), args.argv(), config.json());
  EXPECT_EQ(parsed.get<int>("x\\.y"), 4);
}

TEST_F(JobApiTest, OtherTypesGoThroughNlohmann) {
  wandb::Config config = wandb::Config::FromEnvironment(0, nullptr, Defaults());
  auto model = config.get<std::map<std::string, json>>("model");
  EXPECT_EQ(model.at("hidden"), 16);
  EXPECT_EQ(config.get<json>("model"), Defaults()["model"]);
  EXPECT_TRUE(StartsWith(ErrorOf([&] { config.get<std::map<std::string, int>>("layers"); }),
                         "config key 'layers': cannot convert array [64,128]: "));
}

TEST_F(JobApiTest, JsonAndDump) {
  Argv args({"--epochs", "2"});
  wandb::Config config =
      wandb::Config::FromEnvironment(args.argc(), args.argv(), {{"lr", 0.5}, {"epochs", 10}});
  EXPECT_EQ(config.json(), json::parse(R"({"lr": 0.5, "epochs": 2})"));
  EXPECT_EQ(config.dump(), R"({"epochs":2,"lr":0.5})");
  EXPECT_EQ(config.dump(1), "{\n \"epochs\": 2,\n \"lr\": 0.5\n}");
  wandb::Config bad(json{{"s", "\xff"}});
  EXPECT_EQ(bad.dump(), "{\"s\":\"\xEF\xBF\xBD\"}");  // U+FFFD, no exception
}

TEST_F(JobApiTest, ConstructorRequiresAnObject) {
  EXPECT_EQ(wandb::Config().json(), json::object());
  EXPECT_EQ(wandb::Config(json()).json(), json::object());
  EXPECT_EQ(ErrorOf([] { wandb::Config{json::array()}; }),
            "config: expected a JSON object, got array []");
}

// --- wandb::Run ------------------------------------------------------------------------------

/// A metrics file in a fresh temporary directory, named by WANDB_JOB_METRICS_FILE while alive.
class MetricsFile {
 public:
  MetricsFile() {
    char dir[] = "/tmp/wandb-job-api-test.XXXXXX";
    dir_ = mkdtemp(dir);
    path_ = dir_ + "/metrics.jsonl";
    FILE* f = fopen(path_.c_str(), "w");
    fclose(f);
    setenv("WANDB_JOB_METRICS_FILE", path_.c_str(), 1);
    setenv("WANDB_RUN_ID", "ab12cd34", 1);
  }
  ~MetricsFile() {
    unsetenv("WANDB_JOB_METRICS_FILE");
    unsetenv("WANDB_RUN_ID");
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  std::vector<json> Lines() const {
    std::vector<json> lines;
    FILE* f = fopen(path_.c_str(), "r");
    char buf[4096];
    while (fgets(buf, sizeof(buf), f) != nullptr) {
      lines.push_back(json::parse(buf));
    }
    fclose(f);
    return lines;
  }

 private:
  std::string dir_, path_;
};

TEST(RunTest, WithoutTheShimRecordsNothing) {
  unsetenv("WANDB_JOB_METRICS_FILE");
  wandb::Run run = wandb::Run::FromEnvironment();
  EXPECT_FALSE(run.active());
  run.log({{"loss", 0.1}});  // a no-op, not an error
  run.summary({{"acc", 0.9}});
  EXPECT_FALSE(wandb::Run().active());
}

TEST(RunTest, AppendsHistoryAndSummaryLines) {
  MetricsFile file;
  wandb::Run run = wandb::Run::FromEnvironment();
  ASSERT_TRUE(run.active());
  EXPECT_EQ(run.id(), "ab12cd34");
  run.log({{"loss", 0.5}});
  wandb::Run copy = run;  // copies share the step counter and the file
  copy.log({{"loss", 0.25}, {"epoch", 2}});
  run.log({{"loss", 0.1}}, 10);
  run.log({{"loss", 0.05}});
  run.summary({{"acc", 0.9}});
  std::vector<json> lines = file.Lines();
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], json::parse(R"({"history": {"loss": 0.5, "_step": 0}})"));
  EXPECT_EQ(lines[1], json::parse(R"({"history": {"loss": 0.25, "epoch": 2, "_step": 1}})"));
  EXPECT_EQ(lines[2]["history"]["_step"], 10);
  EXPECT_EQ(lines[3]["history"]["_step"], 11);
  EXPECT_EQ(lines[4], json::parse(R"({"summary": {"acc": 0.9}})"));
}

TEST(RunTest, RejectsNonObjects) {
  MetricsFile file;
  wandb::Run run = wandb::Run::FromEnvironment();
  EXPECT_THROW(run.log(json::array({1, 2})), wandb::ConfigError);
  EXPECT_THROW(run.summary(json(3)), wandb::ConfigError);
  EXPECT_TRUE(file.Lines().empty());
}

TEST(RunTest, UnopenableFileRecordsNothing) {
  setenv("WANDB_JOB_METRICS_FILE", "/nonexistent/dir/metrics.jsonl", 1);
  wandb::Run run = wandb::Run::FromEnvironment();
  EXPECT_FALSE(run.active());
  run.log({{"loss", 1}});
  unsetenv("WANDB_JOB_METRICS_FILE");
}

}  // namespace
