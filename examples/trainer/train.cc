// A small, real trainer: fits a one-hidden-layer MLP (a linear model when model.hidden is 0) by
// minibatch SGD on a seeded synthetic regression task. Its config comes from wandb/job.h: the
// defaults below, then --key value options, then the launch agent's WANDB_CONFIG.
//
//   ./train --epochs 3 --optimizer momentum --out result.json
#include <wandb/job.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

constexpr int kFeatures = 4;
constexpr int kSamples = 512;
constexpr int kHoldout = 64;  // the last samples, never trained on
constexpr double kMomentum = 0.9;
constexpr double kDivergedLoss = 1e6;  // the targets are of order 1

// The job's default config; wandb_add_job(train ... CONFIG ...) in CMakeLists.txt declares the
// same.
const char* const kDefaults = R"({
  "lr": 0.05,
  "epochs": 20,
  "batch_size": 32,
  "seed": 7,
  "model": {"hidden": 16},
  "optimizer": "sgd"
})";

const char* const kUsage =
    "usage: train [--out <result.json>] [--<key> <value>]...\n"
    "config keys: --lr, --epochs, --batch_size, --seed, --model.hidden, --optimizer sgd|momentum;\n"
    "WANDB_CONFIG (a JSON object) overrides them\n";

/// Bad config: one line on stderr, exit code 2.
struct UsageError {
  std::string message;
};

struct Hyperparameters {
  double lr = 0;
  int epochs = 0;
  int batch_size = 0;
  uint32_t seed = 0;
  int hidden = 0;
  bool momentum = false;
};

Hyperparameters ReadHyperparameters(const wandb::Config& config) {
  Hyperparameters h;
  h.lr = config.get<double>("lr");
  h.epochs = config.get<int>("epochs");
  h.batch_size = config.get<int>("batch_size");
  h.seed = config.get<uint32_t>("seed");
  h.hidden = config.get<int>("model.hidden");
  std::string optimizer = config.get<std::string>("optimizer");
  if (!(h.lr > 0 && std::isfinite(h.lr))) {
    throw UsageError{"config key 'lr': must be > 0, got " + config.json()["lr"].dump()};
  }
  if (h.epochs < 1) {
    throw UsageError{"config key 'epochs': must be >= 1, got " + std::to_string(h.epochs)};
  }
  if (h.batch_size < 1) {
    throw UsageError{"config key 'batch_size': must be >= 1, got " + std::to_string(h.batch_size)};
  }
  if (h.hidden < 0 || h.hidden > 4096) {
    throw UsageError{"config key 'model.hidden': must be in [0, 4096], got " +
                     std::to_string(h.hidden)};
  }
  if (optimizer != "sgd" && optimizer != "momentum") {
    throw UsageError{"config key 'optimizer': must be \"sgd\" or \"momentum\", got \"" + optimizer +
                     "\""};
  }
  h.momentum = optimizer == "momentum";
  return h;
}

/// SplitMix64: the same numbers on every platform, which std:: distributions do not promise.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double Uniform(double low, double high) {
    return low + (high - low) * static_cast<double>(Next() >> 11) * 0x1.0p-53;
  }

 private:
  uint64_t state_;
};

struct Dataset {
  std::vector<double> x;  // kSamples x kFeatures, row-major
  std::vector<double> y;
};

/// y = sin(2 x0) + 0.5 x1 x2 - 0.3 x3 + noise, with x uniform in [-1, 1]^4.
Dataset MakeDataset(Rng* rng) {
  Dataset data;
  for (int i = 0; i < kSamples; ++i) {
    double f[kFeatures];
    for (double& v : f) {
      v = rng->Uniform(-1, 1);
      data.x.push_back(v);
    }
    data.y.push_back(std::sin(2 * f[0]) + 0.5 * f[1] * f[2] - 0.3 * f[3] +
                     0.05 * rng->Uniform(-1, 1));
  }
  return data;
}

/// Parameters in one flat vector so that the optimizers are one loop. With H hidden units:
/// w1 (H x F), b1 (H), w2 (H), b2; with none: w (F), b.
class Model {
 public:
  Model(int hidden, Rng* rng) : hidden_(hidden) {
    if (hidden_ == 0) {
      params_.assign(kFeatures + 1, 0.0);
      return;
    }
    double a1 = std::sqrt(6.0 / (kFeatures + hidden_));  // Glorot uniform
    double a2 = std::sqrt(6.0 / (hidden_ + 1));
    for (int i = 0; i < hidden_ * kFeatures; ++i) {
      params_.push_back(rng->Uniform(-a1, a1));
    }
    params_.insert(params_.end(), hidden_, 0.0);
    for (int i = 0; i < hidden_; ++i) {
      params_.push_back(rng->Uniform(-a2, a2));
    }
    params_.push_back(0.0);
  }

  std::vector<double>& params() { return params_; }

  double Predict(const double* x) const {
    if (hidden_ == 0) {
      double out = params_[kFeatures];
      for (int f = 0; f < kFeatures; ++f) {
        out += params_[f] * x[f];
      }
      return out;
    }
    double out = params_.back();
    for (int h = 0; h < hidden_; ++h) {
      out += W2()[h] * std::tanh(Preactivation(h, x));
    }
    return out;
  }

  /// Adds d(scale * (prediction - y)^2)/d(params) to `grad`.
  void AccumulateGradient(const double* x, double y, double scale,
                          std::vector<double>* grad) const {
    double d_out = 2 * scale * (Predict(x) - y);
    std::vector<double>& g = *grad;
    if (hidden_ == 0) {
      for (int f = 0; f < kFeatures; ++f) {
        g[f] += d_out * x[f];
      }
      g[kFeatures] += d_out;
      return;
    }
    const size_t b1 = static_cast<size_t>(hidden_) * kFeatures;
    const size_t w2 = b1 + hidden_;
    for (int h = 0; h < hidden_; ++h) {
      double a = std::tanh(Preactivation(h, x));
      g[w2 + h] += d_out * a;
      double d_pre = d_out * W2()[h] * (1 - a * a);
      for (int f = 0; f < kFeatures; ++f) {
        g[static_cast<size_t>(h) * kFeatures + f] += d_pre * x[f];
      }
      g[b1 + h] += d_pre;
    }
    g.back() += d_out;
  }

 private:
  const double* W2() const { return &params_[static_cast<size_t>(hidden_) * (kFeatures + 1)]; }
  double Preactivation(int h, const double* x) const {
    const double* w = &params_[static_cast<size_t>(h) * kFeatures];
    double z = params_[static_cast<size_t>(hidden_) * kFeatures + h];
    for (int f = 0; f < kFeatures; ++f) {
      z += w[f] * x[f];
    }
    return z;
  }

  int hidden_;
  std::vector<double> params_;
};

double MeanSquaredError(const Model& model, const Dataset& data, int begin, int end) {
  double sum = 0;
  for (int i = begin; i < end; ++i) {
    double e = model.Predict(&data.x[static_cast<size_t>(i) * kFeatures]) - data.y[i];
    sum += e * e;
  }
  return sum / (end - begin);
}

/// Parses the program's own options, which wandb::Config left alone.
std::string ParseOutPath(const std::vector<std::string>& args) {
  std::string out = "result.json";
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

int Train(int argc, char** argv) {
  wandb::Config config = wandb::Config::FromEnvironment(argc, argv, kDefaults);
  std::string out_path = ParseOutPath(config.unused_args());
  Hyperparameters h = ReadHyperparameters(config);
  std::printf("config: %s\n", config.dump().c_str());

  Rng rng(h.seed);
  Dataset data = MakeDataset(&rng);
  Model model(h.hidden, &rng);
  std::vector<double>& params = model.params();
  std::vector<double> grad(params.size()), velocity(params.size(), 0.0);
  const int train_size = kSamples - kHoldout;
  std::vector<int> order(train_size);
  for (int i = 0; i < train_size; ++i) {
    order[i] = i;
  }

  // Metrics reach the W&B run through the `wandb-job exec` shim; without it, log() does nothing.
  wandb::Run run = wandb::Run::FromEnvironment();
  std::vector<double> losses;
  for (int epoch = 1; epoch <= h.epochs; ++epoch) {
    for (int i = train_size - 1; i > 0; --i) {  // Fisher-Yates
      std::swap(order[i], order[rng.Next() % static_cast<uint64_t>(i + 1)]);
    }
    for (int start = 0; start < train_size; start += h.batch_size) {
      int end = std::min(start + h.batch_size, train_size);
      std::fill(grad.begin(), grad.end(), 0.0);
      for (int j = start; j < end; ++j) {
        size_t sample = static_cast<size_t>(order[j]);
        model.AccumulateGradient(&data.x[sample * kFeatures], data.y[sample], 1.0 / (end - start),
                                 &grad);
      }
      for (size_t p = 0; p < params.size(); ++p) {
        if (h.momentum) {
          velocity[p] = kMomentum * velocity[p] + grad[p];
          params[p] -= h.lr * velocity[p];
        } else {
          params[p] -= h.lr * grad[p];
        }
      }
    }
    double loss = MeanSquaredError(model, data, 0, train_size);
    if (!std::isfinite(loss) || loss > kDivergedLoss) {
      std::fprintf(stderr, "train: loss diverged at epoch %d (%g); lower lr (%g)\n", epoch, loss,
                   h.lr);
      return 1;
    }
    losses.push_back(loss);
    std::printf("epoch %d/%d loss=%.4f\n", epoch, h.epochs, loss);
    run.log({{"epoch", epoch}, {"loss", loss}});
  }

  nlohmann::json holdout = {{"targets", nlohmann::json::array()},
                            {"predictions", nlohmann::json::array()}};
  for (int i = train_size; i < kSamples; ++i) {
    holdout["targets"].push_back(data.y[i]);
    holdout["predictions"].push_back(model.Predict(&data.x[static_cast<size_t>(i) * kFeatures]));
  }
  double final_loss = losses.back();
  double val_loss = MeanSquaredError(model, data, train_size, kSamples);
  run.summary({{"final_loss", final_loss}, {"val_loss", val_loss}});
  nlohmann::json result = {{"final_loss", final_loss},
                           {"val_loss", val_loss},
                           {"losses", losses},
                           {"config", config.json()},
                           {"holdout", holdout}};
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  out << result.dump(2) << '\n';
  out.close();
  if (!out) {
    std::fprintf(stderr, "train: writing %s: %s\n", out_path.c_str(), std::strerror(errno));
    return 1;
  }
  std::printf("val_loss=%.6f\n", val_loss);
  std::printf("final_loss=%.6f\n", final_loss);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Line-buffered, so that progress streams when the output is a pipe (the launch agent).
  std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);
  try {
    return Train(argc, argv);
  } catch (const wandb::ConfigError& e) {
    std::fprintf(stderr, "train: %s\n", e.what());
  } catch (const UsageError& e) {
    std::fprintf(stderr, "train: %s\n", e.message.c_str());
  }
  return 2;
}
