// Parallel PUTs of artifact files to presigned storage URLs, with upload progress on stderr.
// Knows nothing of GraphQL: the sink asks W&B for the URLs and headers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "http.h"
#include "progress.h"
#include "wandb_client.h"

namespace wandb_job {

/// Upload counters, for the summary and for tests.
struct UploadStats {
  int files_uploaded = 0;
  int files_skipped = 0;  // the server already had the content (null uploadUrl)
  int files_deduplicated = 0;  // the same content as another file of the artifact
  uint64_t bytes_uploaded = 0;
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
bool RunUploads(WandbClient* client, const std::vector<UploadTask>& tasks, Progress* progress,
                UploadStats* stats, std::string* err);

}  // namespace wandb_job
