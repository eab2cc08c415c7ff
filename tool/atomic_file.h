// AtomicFile: every file the helper writes goes through a temporary file in the same directory
// and a rename on Commit(), so a reader (or a killed process) never sees a half-written file.
#pragma once

#include <string>
#include <string_view>

namespace wandb_job {

class AtomicFile {
 public:
  /// Prepares to replace `path`; nothing is created until the first Write().
  explicit AtomicFile(std::string path);
  ~AtomicFile();  // Removes the temporary file unless committed.
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  bool Write(std::string_view data, std::string* err);
  /// fsyncs, sets `mode`, and renames the temporary file over `path`.
  bool Commit(std::string* err, unsigned mode = 0644);

  const std::string& path() const { return path_; }

 private:
  bool Open(std::string* err);

  std::string path_;
  std::string tmp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

/// Writes `data` to `path` atomically.
bool WriteFileAtomic(const std::string& path, std::string_view data, std::string* err,
                     unsigned mode = 0644);

}  // namespace wandb_job
