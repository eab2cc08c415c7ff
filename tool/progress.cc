#include "progress.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <utility>

#include "log.h"

namespace wandb_job {

namespace {
std::atomic<ProgressMode> g_default_mode{ProgressMode::kAuto};
}  // namespace

bool ParseProgressMode(const std::string& text, ProgressMode* out) {
  if (text == "tty") {
    *out = ProgressMode::kTerminal;
  } else if (text == "plain") {
    *out = ProgressMode::kPlain;
  } else if (text == "none") {
    *out = ProgressMode::kNone;
  } else if (text == "auto") {
    *out = ProgressMode::kAuto;
  } else {
    return false;
  }
  return true;
}

void SetDefaultProgressMode(ProgressMode mode) { g_default_mode = mode; }

ProgressMode DefaultProgressMode() { return g_default_mode; }

std::string HumanBytes(uint64_t n) {
  char buf[32];
  if (n < 1024) {
    snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(n));
  } else if (n < 1024 * 1024) {
    snprintf(buf, sizeof(buf), "%.1f KiB", n / 1024.0);
  } else if (n < 1024ull * 1024 * 1024) {
    snprintf(buf, sizeof(buf), "%.1f MiB", n / (1024.0 * 1024));
  } else {
    snprintf(buf, sizeof(buf), "%.2f GiB", n / (1024.0 * 1024 * 1024));
  }
  return buf;
}

Progress::Progress(ProgressMode mode, std::string name, int files, uint64_t bytes,
                   std::chrono::milliseconds interval, bool only_if_slow)
    : name_(std::move(name)),
      files_(files),
      bytes_(bytes),
      only_if_slow_(only_if_slow),
      interval_(interval) {
  if (mode == ProgressMode::kAuto) {
    mode = DefaultProgressMode();
  }
  if (mode == ProgressMode::kAuto) {
    mode = isatty(STDERR_FILENO) ? ProgressMode::kTerminal : ProgressMode::kPlain;
  }
  mode_ = GetVerbosity() == Verbosity::kQuiet ? ProgressMode::kNone : mode;
  start_ = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  if (!only_if_slow_) {
    Draw(true);
  }
  if (mode_ == ProgressMode::kPlain || (mode_ == ProgressMode::kTerminal && only_if_slow_)) {
    // A long file sends no FileDone for minutes: the ticker keeps CI logs alive (and shows a
    // slow step's bar at all).
    ticker_ = std::thread([this] { Tick(); });
  }
}

Progress::~Progress() { Finish(false); }

void Progress::FileDone(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  ++done_files_;
  done_bytes_ += size;
  Verbose("%s: done %s (%s)", name_.c_str(), path.c_str(), HumanBytes(size).c_str());
  if (mode_ == ProgressMode::kTerminal && (shown_ || !only_if_slow_)) {
    Draw(done_files_ == files_);
  }
}

void Progress::Finish(bool ok) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) {
      return;
    }
    finished_ = true;
    if (mode_ == ProgressMode::kTerminal && shown_) {
      Draw(true);
      fprintf(stderr, "\n");
    } else if (ok && mode_ == ProgressMode::kPlain && shown_) {
      Info("%s", Figures(true).c_str());
    }
  }
  wake_.notify_all();
  if (ticker_.joinable()) {
    ticker_.join();
  }
}

std::string Progress::Figures(bool final) {
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string out = name_ + ": " + std::to_string(done_files_) + "/" + std::to_string(files_) +
                    " files, " + HumanBytes(done_bytes_) + "/" + HumanBytes(bytes_);
  char buf[64];
  if (final) {
    snprintf(buf, sizeof(buf), ", done in %.1f s", s);
    return out + buf;
  }
  if (s <= 0 || done_bytes_ == 0) {
    return out + ", rate -, ETA -";
  }
  double rate = done_bytes_ / s;
  double eta = done_bytes_ >= bytes_ ? 0 : (bytes_ - done_bytes_) / rate;
  snprintf(buf, sizeof(buf), ", ETA %.0f s", eta);
  return out + ", " + HumanBytes(static_cast<uint64_t>(rate)) + "/s" + buf;
}

void Progress::Draw(bool force) {
  if (mode_ == ProgressMode::kPlain) {
    Info("%s", Figures(false).c_str());
    shown_ = true;
    return;
  }
  if (mode_ != ProgressMode::kTerminal) {
    return;
  }
  shown_ = true;
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) {
    return;
  }
  last_draw_ = now;
  constexpr int kWidth = 20;
  int filled = bytes_ == 0 ? kWidth : static_cast<int>(kWidth * done_bytes_ / bytes_);
  std::string bar = "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] ";
  fprintf(stderr, "\r\033[Kwandb-job: %s%s", bar.c_str(), Figures(false).c_str());
  fflush(stderr);
}

void Progress::Tick() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!finished_) {
    if (!wake_.wait_for(lock, interval_, [this] { return finished_; })) {
      Draw(true);
    }
  }
}

}  // namespace wandb_job
