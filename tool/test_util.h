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

// --- FakeTransport: the HTTP seam for unit tests ------------------------------------------------

#include <functional>
#include <memory>
#include <mutex>

#include "http.h"

namespace wandb_job {

/// An HttpTransport that records every request and answers through a handler (false from the
/// handler: no response, like a connection reset). Thread-safe; Share() gives transports for
/// other threads that record into and answer from this one.
class FakeTransport : public HttpTransport {
 public:
  using Handler =
      std::function<bool(const HttpRequest& request, HttpResponse* response, std::string* err)>;
  explicit FakeTransport(Handler handler) : state_(std::make_shared<State>()) {
    state_->handler = std::move(handler);
  }

  /// Records the request (a body_file is read into the recorded request's `body`), then answers.
  bool Send(const HttpRequest& request, HttpResponse* response, std::string* err) override;

  /// Every request so far, in order of arrival.
  std::vector<HttpRequest> requests() const;
  /// A transport sharing this one's handler and record.
  std::unique_ptr<HttpTransport> Share() const;

 private:
  struct State {
    std::mutex mu;
    Handler handler;
    std::vector<HttpRequest> requests;
  };
  explicit FakeTransport(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace wandb_job
