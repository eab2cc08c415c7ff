// Test helpers: a temporary directory per test, and real git repositories built through the
// git command line (tests never mock libgit2).
#pragma once

#include <string>
#include <vector>

namespace wandb_job {

/// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class ScopedTempDir {
 public:
  ScopedTempDir();
  ~ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Join(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

/// Writes `contents` to `root/rel`, creating parent directories; aborts the test on failure.
void WriteTestFile(const std::string& root, const std::string& rel, const std::string& contents);
/// Runs a shell command in `dir` with a fixed git identity and dates; returns its stdout.
/// Fails the current test (ADD_FAILURE) when it exits non-zero.
std::string RunShell(const std::string& dir, const std::string& command);
/// `git init` + one commit of `files` (path, contents) on branch "main" in `dir`.
void MakeTestRepo(const std::string& dir,
                  const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace wandb_job
