// A CUDA-free evaluator: scores regression predictions, either the holdout predictions in a result
// JSON written by the trainer (config key "result") or a synthetic test set made from a seed,
// with the metrics of libmetrics, and checks them against thresholds. Its defaults are the job's
// CONFIG_FILE, eval-config.json, compiled in; --key value options and WANDB_CONFIG override them.
//
//   ./evaluate --test_set.size 200 --metrics mse,r2
//   ./evaluate --result result.json --out eval.json
#include <wandb/job.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "eval_config.h"
#include "metrics.h"

namespace {

const char* const kUsage =
    "usage: evaluate [--out <eval.json>] [--<key> <value>]...\n"
    "config keys: --seed, --result <train result.json>, --test_set.size, --test_set.noise,\n"
    "--test_set.bias, --metrics mse,mae,max_error,r2, --thresholds '{\"mse\": 0.1}';\n"
    "WANDB_CONFIG (a JSON object) overrides them\n";

/// Bad config or usage: one line on stderr, exit code 2.
struct UsageError {
  std::string message;
};
/// Anything else that stops the evaluation: one line on stderr, exit code 1.
struct RuntimeError {
  std::string message;
};

std::string KnownMetrics() {
  std::string list;
  for (const std::string& name : metrics::Names()) {
    list += (list.empty() ? "" : ", ") + name;
  }
  return list;
}

bool IsKnownMetric(const std::string& name) {
  const std::vector<std::string>& names = metrics::Names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string ParseOutPath(const std::vector<std::string>& args) {
  std::string out = "eval.json";
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (arg == "--out" && i + 1 < args.size()) {
      out = args[++i];
    } else if (arg.rfind("--out=", 0) == 0) {
      out = arg.substr(6);
    } else {
      throw UsageError{"unknown argument '" + arg + "' (see --help)"};
    }
  }
  if (out.empty()) {
    throw UsageError{"--out: empty path"};
  }
  return out;
}

/// The holdout targets and predictions of a trainer result file.
metrics::TestSet LoadResult(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw RuntimeError{"reading " + path + ": " + std::strerror(errno)};
  }
  std::stringstream text;
  text << in.rdbuf();
  metrics::TestSet set;
  try {
    nlohmann::json result = nlohmann::json::parse(text.str());
    set.targets = result.at("holdout").at("targets").get<std::vector<double>>();
    set.predictions = result.at("holdout").at("predictions").get<std::vector<double>>();
  } catch (const nlohmann::json::exception& e) {
    throw RuntimeError{path + ": not a trainer result (need holdout.targets and " +
                       "holdout.predictions): " + e.what()};
  }
  return set;
}

metrics::TestSet MakeTestSet(const wandb::Config& config) {
  int64_t seed = config.get<int64_t>("seed");
  int size = config.get<int>("test_set.size");
  double noise = config.get<double>("test_set.noise", 0.0);
  double bias = config.get<double>("test_set.bias", 0.0);
  if (seed < 0) {
    throw UsageError{"config key 'seed': must be >= 0, got " + std::to_string(seed)};
  }
  if (size < 1 || size > 10000000) {
    throw UsageError{"config key 'test_set.size': must be in [1, 10000000], got " +
                     std::to_string(size)};
  }
  if (!(noise >= 0) || !std::isfinite(noise)) {
    throw UsageError{"config key 'test_set.noise': must be >= 0, got " +
                     config.json()["test_set"]["noise"].dump()};
  }
  return metrics::MakeSyntheticTestSet(static_cast<uint64_t>(seed), static_cast<size_t>(size),
                                       noise, bias);
}

int Evaluate(int argc, char** argv) {
  wandb::Config config = wandb::Config::FromEnvironment(argc, argv, kEvalConfigJson);
  std::string out_path = ParseOutPath(config.unused_args());
  std::printf("config: %s\n", config.dump().c_str());

  // Which metrics, and the thresholds they must meet; both name known metrics only.
  std::vector<std::string> names = config.get<std::vector<std::string>>("metrics");
  for (const std::string& name : names) {
    if (!IsKnownMetric(name)) {
      throw UsageError{"config key 'metrics': unknown metric '" + name +
                       "' (known: " + KnownMetrics() + ")"};
    }
  }
  nlohmann::json thresholds = config.get<nlohmann::json>("thresholds", nlohmann::json::object());
  if (!thresholds.is_object()) {
    throw UsageError{"config key 'thresholds': expected an object of metric: value, got " +
                     thresholds.dump()};
  }
  std::vector<std::pair<std::string, double>> limits;
  for (auto it = thresholds.begin(); it != thresholds.end(); ++it) {
    if (!IsKnownMetric(it.key())) {
      throw UsageError{"config key 'thresholds': unknown metric '" + it.key() +
                       "' (known: " + KnownMetrics() + ")"};
    }
    limits.emplace_back(it.key(), config.get<double>("thresholds." + it.key()));
    if (std::find(names.begin(), names.end(), it.key()) == names.end()) {
      names.push_back(it.key());
    }
  }

  std::string result_path = config.get<std::string>("result", "");
  metrics::TestSet set = result_path.empty() ? MakeTestSet(config) : LoadResult(result_path);
  std::printf("evaluating %zu predictions from %s\n", set.targets.size(),
              result_path.empty() ? "a synthetic test set" : result_path.c_str());

  nlohmann::json values = nlohmann::json::object();
  for (const std::string& name : names) {
    double value = 0;
    std::string err;
    if (!metrics::Compute(name, set, &value, &err)) {
      throw RuntimeError{"computing " + name + ": " + err};
    }
    values[name] = value;
    std::printf("%s=%.6f\n", name.c_str(), value);
  }

  std::string failures;
  for (const auto& [name, limit] : limits) {
    double value = values[name].get<double>();
    bool higher = metrics::HigherIsBetter(name);
    if (higher ? value < limit : value > limit) {
      char line[128];
      std::snprintf(line, sizeof(line), "%s%s=%.6f %s %g", failures.empty() ? "" : ", ",
                    name.c_str(), value, higher ? "<" : ">", limit);
      failures += line;
    }
  }

  nlohmann::json report = {{"source", result_path.empty() ? "synthetic" : "result"},
                           {"size", set.targets.size()},
                           {"metrics", values},
                           {"thresholds", thresholds},
                           {"passed", failures.empty()},
                           {"config", config.json()}};
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  out << report.dump(2) << '\n';
  out.close();
  if (!out) {
    throw RuntimeError{"writing " + out_path + ": " + std::strerror(errno)};
  }
  if (!failures.empty()) {
    std::printf("eval: FAIL (%s)\n", failures.c_str());
    return 1;
  }
  std::printf("eval: PASS\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Line-buffered, so that progress streams when the output is a pipe (the launch agent).
  std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);
  try {
    return Evaluate(argc, argv);
  } catch (const wandb::ConfigError& e) {
    std::fprintf(stderr, "evaluate: %s\n", e.what());
  } catch (const UsageError& e) {
    std::fprintf(stderr, "evaluate: %s\n", e.message.c_str());
  } catch (const RuntimeError& e) {
    std::fprintf(stderr, "evaluate: %s\n", e.message.c_str());
    return 1;
  }
  return 2;
}
