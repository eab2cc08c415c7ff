// Regression metrics and a seeded synthetic test set for the evaluator example. Built as a shared
// library (libmetrics.so) so that the evaluator job's runtime closure holds a library of the
// project itself; it knows nothing about configs, files or W&B.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "metrics_export.h"

namespace metrics {

/// Targets and a model's predictions for them, index by index.
struct TestSet {
  std::vector<double> targets;
  std::vector<double> predictions;
};

/// The metric names Compute() knows: "mse", "mae", "max_error", "r2".
METRICS_EXPORT const std::vector<std::string>& Names();

/// Whether a larger value of the metric is better (r2) or worse (the errors).
METRICS_EXPORT bool HigherIsBetter(const std::string& name);

/// Computes the metric `name` over `set`. Fails on an unknown name, on an empty set or one whose
/// two vectors differ in length, and for r2 on constant targets.
METRICS_EXPORT bool Compute(const std::string& name, const TestSet& set, double* value,
                            std::string* err);

/// `size` targets y = sin(2 x0) + 0.5 x1 x2 - 0.3 x3 with x uniform in [-1, 1]^4, and the
/// predictions of a model that is off by `bias` plus uniform noise in [-noise, noise]. The same
/// `seed` gives the same set on every platform.
METRICS_EXPORT TestSet MakeSyntheticTestSet(uint64_t seed, size_t size, double noise, double bias);

}  // namespace metrics
