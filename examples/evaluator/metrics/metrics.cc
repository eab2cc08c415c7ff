// Regression metrics and the synthetic test set (see metrics.h).
#include "metrics.h"

#include <algorithm>
#include <cmath>

namespace metrics {
namespace {

/// SplitMix64: portable, unlike the std:: distributions.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  double Uniform(double low, double high) {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return low + (high - low) * static_cast<double>(z >> 11) * 0x1.0p-53;
  }

 private:
  uint64_t state_;
};

double Mean(const std::vector<double>& values) {
  double sum = 0;
  for (double v : values) {
    sum += v;
  }
  return sum / static_cast<double>(values.size());
}

}  // namespace

const std::vector<std::string>& Names() {
  static const std::vector<std::string> names = {"mse", "mae", "max_error", "r2"};
  return names;
}

bool HigherIsBetter(const std::string& name) { return name == "r2"; }

bool Compute(const std::string& name, const TestSet& set, double* value, std::string* err) {
  if (std::find(Names().begin(), Names().end(), name) == Names().end()) {
    *err = "unknown metric '" + name + "'";
    return false;
  }
  if (set.targets.empty() || set.targets.size() != set.predictions.size()) {
    *err = "need as many predictions as targets, and at least one (got " +
           std::to_string(set.targets.size()) + " targets, " +
           std::to_string(set.predictions.size()) + " predictions)";
    return false;
  }
  double squared = 0, absolute = 0, max_error = 0;
  for (size_t i = 0; i < set.targets.size(); ++i) {
    double e = set.predictions[i] - set.targets[i];
    squared += e * e;
    absolute += std::fabs(e);
    max_error = std::max(max_error, std::fabs(e));
  }
  const double n = static_cast<double>(set.targets.size());
  if (name == "mse") {
    *value = squared / n;
  } else if (name == "mae") {
    *value = absolute / n;
  } else if (name == "max_error") {
    *value = max_error;
  } else {
    double mean = Mean(set.targets), total = 0;
    for (double t : set.targets) {
      total += (t - mean) * (t - mean);
    }
    if (total == 0) {
      *err = "r2 is undefined for constant targets";
      return false;
    }
    *value = 1 - squared / total;
  }
  return true;
}

TestSet MakeSyntheticTestSet(uint64_t seed, size_t size, double noise, double bias) {
  Rng rng(seed);
  TestSet set;
  for (size_t i = 0; i < size; ++i) {
    double x[4];
    for (double& v : x) {
      v = rng.Uniform(-1, 1);
    }
    double y = std::sin(2 * x[0]) + 0.5 * x[1] * x[2] - 0.3 * x[3];
    set.targets.push_back(y);
    set.predictions.push_back(y + bias + rng.Uniform(-noise, noise));
  }
  return set;
}

}  // namespace metrics
