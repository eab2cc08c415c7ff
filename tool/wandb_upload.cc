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

namespace {

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

}  // namespace

UploadProgress::UploadProgress(ProgressMode mode, std::string name, int files, uint64_t bytes)
    : name_(std::move(name)), files_(files), bytes_(bytes) {
  if (mode == ProgressMode::kAuto) {
    mode = isatty(STDERR_FILENO) ? ProgressMode::kTerminal : ProgressMode::kPlain;
  }
  mode_ = GetVerbosity() == Verbosity::kQuiet ? ProgressMode::kNone : mode;
  start_ = std::chrono::steady_clock::now();
  if (mode_ == ProgressMode::kPlain) {
    Info("%s: uploading %d file(s), %s", name_.c_str(), files_, HumanBytes(bytes_).c_str());
  }
  Draw(true);
}

void UploadProgress::FileDone(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  ++done_files_;
  done_bytes_ += size;
  Verbose("%s: uploaded %s (%s)", name_.c_str(), path.c_str(), HumanBytes(size).c_str());
  Draw(done_files_ == files_);
}

void UploadProgress::Finish(bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  if (mode_ == ProgressMode::kTerminal) {
    fprintf(stderr, "\n");
  }
  if (ok && mode_ == ProgressMode::kPlain) {
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    Info("%s: uploaded %d file(s), %s in %.1f s", name_.c_str(), done_files_,
         HumanBytes(done_bytes_).c_str(), s);
  }
}

void UploadProgress::Draw(bool force) {
  if (mode_ != ProgressMode::kTerminal) {
    return;
  }
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) {
    return;
  }
  last_draw_ = now;
  fprintf(stderr, "\r\033[Kwandb-job: %s: %d/%d files, %s/%s", name_.c_str(), done_files_, files_,
          HumanBytes(done_bytes_).c_str(), HumanBytes(bytes_).c_str());
  fflush(stderr);
}
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
bool RunUploads(WandbClient* client, const std::vector<UploadTask>& tasks, UploadProgress* progress,
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
