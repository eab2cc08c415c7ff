// Progress of long transfers (W&B uploads, registry pushes) on stderr: a live bar on a terminal,
// a plain line every few seconds otherwise (CI logs), nothing with --quiet or --progress=none.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace wandb_job {

/// How progress shows: kAuto is kTerminal when stderr is a terminal, else kPlain.
enum class ProgressMode { kAuto, kTerminal, kPlain, kNone };

/// "tty", "plain" or "none" (the --progress values); "auto" too.
bool ParseProgressMode(const std::string& text, ProgressMode* out);
/// The mode of --progress, for every transfer of this process (default kAuto).
void SetDefaultProgressMode(ProgressMode mode);
ProgressMode DefaultProgressMode();

/// "512 B", "1.5 KiB", "3.2 MiB", "1.25 GiB".
std::string HumanBytes(uint64_t n);

/// One transfer of `files` files and `bytes` bytes, named `name` in every line. Every line has
/// the same figures: "wandb-job: NAME: 3/10 files, 1.0 MiB/4.0 MiB, 512.0 KiB/s, ETA 6 s".
/// Thread-safe. Plain lines: one at the start, one every `interval`, one at the end. With
/// `only_if_slow` (steps most builds finish at once, like a capture), nothing shows until
/// `interval` has passed: a fast run prints nothing, a slow one its figures from then on.
class Progress {
 public:
  Progress(ProgressMode mode, std::string name, int files, uint64_t bytes,
           std::chrono::milliseconds interval = std::chrono::seconds(5), bool only_if_slow = false);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void FileDone(const std::string& path, uint64_t size);
  /// The last line ("done in T s" when ok); later calls and the destructor do nothing more.
  void Finish(bool ok);
  /// The mode in effect (kAuto resolved, kNone when quiet).
  ProgressMode mode() const { return mode_; }

 private:
  std::string Figures(bool final);  // needs mu_
  void Draw(bool force);            // needs mu_
  void Tick();

  std::mutex mu_;
  std::condition_variable wake_;
  ProgressMode mode_ = ProgressMode::kNone;
  std::string name_;
  int files_;
  uint64_t bytes_;
  int done_files_ = 0;
  uint64_t done_bytes_ = 0;
  bool finished_ = false;
  bool only_if_slow_ = false;
  bool shown_ = false;  // a line or the bar was printed
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  std::thread ticker_;
};

}  // namespace wandb_job
