// Parallel PUTs of artifact files to presigned storage URLs, with upload progress on stderr.
// Knows nothing of GraphQL: the sink asks W&B for the URLs and headers.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "http.h"
#include "wandb_client.h"

namespace wandb_job {

/// Upload counters, for the summary and for tests.
struct UploadStats {
  int files_uploaded = 0;
  int files_skipped = 0;  // the server already had the content (null uploadUrl)
  uint64_t bytes_uploaded = 0;
};

/// Upload progress: a live line on a terminal, a line per artifact otherwise.
class UploadProgress {
 public:
  UploadProgress(ProgressMode mode, std::string name, int files, uint64_t bytes);

  void FileDone(const std::string& path, uint64_t size);
  void Finish(bool ok);

 private:
  void Draw(bool force);

  std::mutex mu_;
  ProgressMode mode_ = ProgressMode::kNone;
  std::string name_;
  int files_;
  uint64_t bytes_;
  int done_files_ = 0;
  uint64_t done_bytes_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

/// One file to PUT: from `inline_body` when set, else from `file`.
struct UploadTask {
  std::string path;  // artifact path, for messages
  std::string url;
  HttpHeaders headers;
  const std::string* inline_body = nullptr;
  std::string file;
  uint64_t size = 0;
};

/// The PUT request of one task.
HttpRequest UploadRequest(const UploadTask& t);

/// PUTs every task, `threads` at a time, each thread with its own transport. Stops at the first
/// failure (the others finish their current file).
bool RunUploads(WandbClient* client, const std::vector<UploadTask>& tasks, UploadProgress* progress,
                UploadStats* stats, std::string* err);

}  // namespace wandb_job
