#include "wandb_upload.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <thread>
#include <utility>

#include "log.h"

namespace wandb_job {

HttpRequest UploadRequest(const UploadTask& t) {
  HttpRequest r;
  r.method = "PUT";
  r.url = t.url;
  r.headers = t.headers;
  if (t.inline_body != nullptr) {
    r.body = *t.inline_body;
  } else {
    r.body_file = t.file;
    r.body_length = static_cast<int64_t>(t.size);
  }
  return r;
}

// PUTs every task, `threads` at a time, each thread with its own transport. Stops at the first
// failure (the others finish their current file).
bool RunUploads(WandbClient* client, const std::vector<UploadTask>& tasks, Progress* progress,
                UploadStats* stats, std::string* err) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::string first_err;
  auto worker = [&](HttpTransport* transport) {
    while (!failed) {
      size_t i = next++;
      if (i >= tasks.size()) {
        return;
      }
      const UploadTask& t = tasks[i];
      HttpResponse response;
      std::string e;
      if (!client->Send(transport, UploadRequest(t), RequestKind::kUpload, "uploading " + t.path,
                        &response, &e)) {
        std::lock_guard<std::mutex> lock(mu);
        if (!failed.exchange(true)) {
          first_err = e;
        }
        return;
      }
      progress->FileDone(t.path, t.size);
      std::lock_guard<std::mutex> lock(mu);
      ++stats->files_uploaded;
      stats->bytes_uploaded += t.size;
    }
  };
  size_t n = std::min<size_t>(std::max(1, client->options().upload_threads), tasks.size());
  std::vector<std::unique_ptr<HttpTransport>> transports;
  for (size_t i = 0; i < n; ++i) {
    transports.push_back(client->options().make_transport
                             ? client->options().make_transport()
                             : std::make_unique<CurlTransport>());
  }
  if (n == 1) {
    worker(transports[0].get());
  } else {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < n; ++i) {
      threads.emplace_back(worker, transports[i].get());
    }
    for (std::thread& th : threads) {
      th.join();
    }
  }
  if (failed) {
    *err = first_err;
    return false;
  }
  return true;
}

}  // namespace wandb_job
