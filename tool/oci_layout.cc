#include "oci_layout.h"

#include <fcntl.h>
#include <libdeflate.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "file_util.h"
#include "hash.h"

namespace wandb_job {
namespace {

std::string Sha256Digest(std::string_view data) { return "sha256:" + Sha256Hex(data); }

std::string HexOf(const std::string& digest) { return digest.substr(digest.find(':') + 1); }

// A fixed pool of compressing threads, each with its own libdeflate compressor. Jobs finish in any
// order; callers keep the futures in submission order.
class GzipPool {
 public:
  GzipPool(int level, int threads) : level_(level) {
    for (int i = 0; i < threads; ++i) {
      workers_.emplace_back([this] { Run(); });
    }
  }
  ~GzipPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : workers_) {
      t.join();
    }
  }
  std::future<std::string> Submit(std::string chunk) {
    std::packaged_task<std::string(libdeflate_compressor*)> task(
        [chunk = std::move(chunk)](libdeflate_compressor* c) { return Compress(c, chunk); });
    std::future<std::string> f = task.get_future();
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(task));
    }
    cv_.notify_one();
    return f;
  }
  static std::string Compress(libdeflate_compressor* c, const std::string& in) {
    std::string out(libdeflate_gzip_compress_bound(c, in.size()), '\0');
    size_t n = libdeflate_gzip_compress(c, in.data(), in.size(), out.data(), out.size());
    out.resize(n);  // The bound guarantees n > 0.
    return out;
  }

 private:
  void Run() {
    std::unique_ptr<libdeflate_compressor, decltype(&libdeflate_free_compressor)> c(
        libdeflate_alloc_compressor(level_), &libdeflate_free_compressor);
    for (;;) {
      std::packaged_task<std::string(libdeflate_compressor*)> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return done_ || !jobs_.empty(); });
        if (jobs_.empty()) {
          return;
        }
        task = std::move(jobs_.front());
        jobs_.pop_front();
      }
      task(c.get());
    }
  }

  int level_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<std::string(libdeflate_compressor*)>> jobs_;
  std::vector<std::thread> workers_;
  bool done_ = false;
};

int ThreadCount(int requested) {
  if (requested > 0) {
    return requested;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(std::min(n, 16u));
}

// Streams uncompressed bytes in, compressed members out in order, `threads` chunks in flight.
class GzipStream {
 public:
  using Sink = std::function<bool(const std::string&, std::string*)>;
  GzipStream(int level, size_t chunk_size, int threads, Sink sink)
      : pool_(level, threads), chunk_size_(chunk_size), max_pending_(threads + 1),
        sink_(std::move(sink)) {}

  bool Write(const char* data, size_t size, std::string* err) {
    while (size > 0) {
      size_t n = std::min(size, chunk_size_ - buffer_.size());
      buffer_.append(data, n);
      data += n;
      size -= n;
      if (buffer_.size() == chunk_size_ && !Flush(err)) {
        return false;
      }
    }
    return true;
  }
  bool Finish(std::string* err) {
    if ((!buffer_.empty() || !wrote_any_) && !Flush(err)) {
      return false;
    }
    while (!pending_.empty()) {
      if (!Drain(err)) {
        return false;
      }
    }
    return true;
  }

 private:
  bool Flush(std::string* err) {
    wrote_any_ = true;
    pending_.push_back(pool_.Submit(std::move(buffer_)));
    buffer_.clear();
    buffer_.reserve(chunk_size_);
    return pending_.size() < max_pending_ || Drain(err);
  }
  bool Drain(std::string* err) {
    std::string out = pending_.front().get();
    pending_.pop_front();
    return sink_(out, err);
  }

  GzipPool pool_;
  size_t chunk_size_;
  size_t max_pending_;
  Sink sink_;
  std::string buffer_;
  std::deque<std::future<std::string>> pending_;
  bool wrote_any_ = false;
};

// A file descriptor closed on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) {
      close(fd);
    }
  }
};

bool WriteAll(int fd, std::string_view data, const std::string& path, std::string* err) {
  if (!WriteAllFd(fd, data)) {
    *err = "writing " + path + ": " + strerror(errno);
    return false;
  }
  return true;
}

// Hard link (same file system) or copy `from` to `to`; an existing `to` is kept.
bool LinkOrCopy(const std::string& from, const std::string& to, std::string* err) {
  if (FileExists(to)) {
    return true;
  }
  if (link(from.c_str(), to.c_str()) == 0 || errno == EEXIST) {
    return true;
  }
  std::string tmp = to + ".tmp." + std::to_string(getpid());
  if (!CopyFile(from, tmp, 0444, err)) {
    return false;
  }
  if (rename(tmp.c_str(), to.c_str()) != 0) {
    *err = "renaming " + tmp + ": " + strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  return true;
}

struct CachedLayer {
  std::string digest;
  int64_t size = 0;
};

bool LookUpCache(const std::string& cache_dir, const std::string& diff_id, CachedLayer* out) {
  std::string text, err;
  if (!ReadFile(JoinPath(cache_dir, "diffids/" + HexOf(diff_id)), &text, &err)) {
    return false;
  }
  size_t sp = text.find(' ');
  if (sp == std::string::npos) {
    return false;
  }
  out->digest = text.substr(0, sp);
  out->size = std::atoll(text.c_str() + sp + 1);
  struct stat st;
  std::string blob = BlobPath(cache_dir, out->digest);
  return IsSha256Digest(out->digest) && stat(blob.c_str(), &st) == 0 && st.st_size == out->size;
}

}  // namespace

bool InitLayout(const std::string& dir, std::string* err) {
  if (!MakeDirs(JoinPath(dir, "blobs/sha256"), err)) {
    return false;
  }
  std::string layout = std::string("{\"imageLayoutVersion\":\"") + kOciLayoutVersion + "\"}";
  return WriteFileAtomic(JoinPath(dir, "oci-layout"), layout, err);
}

std::string BlobPath(const std::string& layout_dir, const std::string& digest) {
  return JoinPath(layout_dir, "blobs/sha256/" + HexOf(digest));
}

bool WriteBlob(const std::string& layout_dir, const std::string& data,
               const std::string& media_type, Descriptor* out, std::string* err) {
  out->media_type = media_type;
  out->digest = Sha256Digest(data);
  out->size = static_cast<int64_t>(data.size());
  std::string path = BlobPath(layout_dir, out->digest);
  if (FileExists(path)) {
    return true;
  }
  return WriteFileAtomic(path, data, err, 0444);
}

bool ReadBlob(const std::string& layout_dir, const std::string& digest, std::string* data,
              std::string* err) {
  if (!IsSha256Digest(digest)) {
    *err = "unsupported digest '" + digest + "'";
    return false;
  }
  if (!ReadFile(BlobPath(layout_dir, digest), data, err)) {
    return false;
  }
  if (Sha256Digest(*data) != digest) {
    *err = "blob " + digest + " in " + layout_dir + " is corrupt (its content has another digest)";
    return false;
  }
  return true;
}

bool WriteIndex(const std::string& layout_dir, const ImageIndex& index, std::string* err) {
  return WriteFileAtomic(JoinPath(layout_dir, "index.json"), index.ToJson(), err);
}

bool ReadIndex(const std::string& layout_dir, ImageIndex* index, std::string* err) {
  std::string text;
  if (!ReadFile(JoinPath(layout_dir, "index.json"), &text, err)) {
    return false;
  }
  if (!ParseIndex(text, index, err)) {
    *err = JoinPath(layout_dir, "index.json") + ": " + *err;
    return false;
  }
  return true;
}

bool ReadImageManifest(const std::string& layout_dir, Descriptor* manifest_desc,
                       Manifest* manifest, std::string* err) {
  ImageIndex index;
  if (!ReadIndex(layout_dir, &index, err)) {
    return false;
  }
  if (index.manifests.size() != 1) {
    *err = "image layout " + layout_dir + " holds " + std::to_string(index.manifests.size()) +
           " manifests, expected 1";
    return false;
  }
  *manifest_desc = index.manifests[0];
  std::string text;
  if (!ReadBlob(layout_dir, manifest_desc->digest, &text, err) ||
      !ParseManifest(text, manifest, err)) {
    *err = "reading manifest of " + layout_dir + ": " + *err;
    return false;
  }
  return true;
}

bool ParallelGzip(const std::string& data, int level, size_t chunk_size, int threads,
                  std::string* out, std::string* err) {
  GzipStream gz(level, chunk_size, ThreadCount(threads), [out](const std::string& m, std::string*) {
    out->append(m);
    return true;
  });
  return gz.Write(data.data(), data.size(), err) && gz.Finish(err);
}

bool WriteTarLayer(const std::string& layout_dir, const std::vector<TarEntry>& entries,
                   const LayerOptions& options, Layer* out, std::string* err) {
  std::string first_diff_id;
  if (!options.cache_dir.empty()) {
    // Pass 1: the diff ID alone (reading and hashing is far cheaper than compressing).
    Hasher diff(HashAlgorithm::kSha256);
    if (!WriteTar(entries, options.mtime,
                  [&diff](const char* d, size_t n, std::string*) {
                    diff.Update(d, n);
                    return true;
                  },
                  err)) {
      return false;
    }
    first_diff_id = "sha256:" + HexEncode(diff.Finish());
    CachedLayer cached;
    if (LookUpCache(options.cache_dir, first_diff_id, &cached)) {
      out->diff_id = first_diff_id;
      out->blob.media_type = kOciLayerGzipMediaType;
      out->blob.digest = cached.digest;
      out->blob.size = cached.size;
      return LinkOrCopy(BlobPath(options.cache_dir, cached.digest),
                        BlobPath(layout_dir, cached.digest), err);
    }
  }

  // Pass 2: tar -> sha256 (diff ID) -> parallel gzip -> sha256 (digest) -> temporary blob file.
  // The blob's name is its digest, known only at the end: hence a temporary name and rename()
  // rather than AtomicFile.
  std::string dir = JoinPath(layout_dir, "blobs/sha256");
  std::string tmp = JoinPath(dir, ".layer-XXXXXX");
  Fd fd;
  fd.fd = mkstemp(tmp.data());
  if (fd.fd < 0) {
    *err = "creating a temporary file in " + dir + ": " + strerror(errno);
    return false;
  }
  Hasher diff(HashAlgorithm::kSha256);
  Hasher blob(HashAlgorithm::kSha256);
  int64_t size = 0;
  GzipStream gz(options.gzip_level, options.gzip_chunk_size, ThreadCount(options.threads),
                [&](const std::string& member, std::string* e) {
                  blob.Update(member);
                  size += static_cast<int64_t>(member.size());
                  return WriteAll(fd.fd, member, tmp, e);
                });
  bool ok = WriteTar(entries, options.mtime,
                     [&](const char* d, size_t n, std::string* e) {
                       diff.Update(d, n);
                       return gz.Write(d, n, e);
                     },
                     err) &&
            gz.Finish(err);
  if (ok && fsync(fd.fd) != 0) {
    *err = "syncing " + tmp + ": " + strerror(errno);
    ok = false;
  }
  if (!ok) {
    unlink(tmp.c_str());
    return false;
  }
  fchmod(fd.fd, 0444);
  out->diff_id = "sha256:" + HexEncode(diff.Finish());
  out->blob.media_type = kOciLayerGzipMediaType;
  out->blob.digest = "sha256:" + HexEncode(blob.Finish());
  out->blob.size = size;
  if (!first_diff_id.empty() && first_diff_id != out->diff_id) {
    unlink(tmp.c_str());
    *err = "layer files changed while the image was being built";
    return false;
  }
  std::string path = BlobPath(layout_dir, out->blob.digest);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    *err = "renaming " + tmp + ": " + strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  if (!options.cache_dir.empty()) {
    std::string cache_blobs = JoinPath(options.cache_dir, "blobs/sha256");
    if (!MakeDirs(cache_blobs, err) || !MakeDirs(JoinPath(options.cache_dir, "diffids"), err) ||
        !LinkOrCopy(path, BlobPath(options.cache_dir, out->blob.digest), err) ||
        !WriteFileAtomic(JoinPath(options.cache_dir, "diffids/" + HexOf(out->diff_id)),
                         out->blob.digest + " " + std::to_string(size) + "\n", err)) {
      *err = "updating the layer cache " + options.cache_dir + ": " + *err;
      return false;
    }
  }
  return true;
}

bool WriteDockerArchive(const std::string& layout_dir, const std::vector<std::string>& repo_tags,
                        const std::string& out_path, std::string* err) {
  Descriptor manifest_desc;
  Manifest manifest;
  if (!ReadImageManifest(layout_dir, &manifest_desc, &manifest, err)) {
    return false;
  }
  nlohmann::json entry;
  entry["Config"] = "blobs/sha256/" + HexOf(manifest.config.digest);
  entry["RepoTags"] = repo_tags;
  nlohmann::json layers = nlohmann::json::array();
  std::vector<TarEntry> entries;
  auto add_blob = [&](const std::string& digest) {
    TarEntry e;
    e.path = "blobs/sha256/" + HexOf(digest);
    e.source_file = BlobPath(layout_dir, digest);
    e.mode = 0644;
    entries.push_back(e);
  };
  for (const Descriptor& l : manifest.layers) {
    layers.push_back("blobs/sha256/" + HexOf(l.digest));
    add_blob(l.digest);
  }
  entry["Layers"] = layers;
  add_blob(manifest.config.digest);
  add_blob(manifest_desc.digest);
  ImageIndex index;
  index.manifests.push_back(manifest_desc);
  if (!repo_tags.empty()) {
    index.manifests[0].annotations["io.containerd.image.name"] = repo_tags[0];
  }
  TarEntry e;
  e.path = "manifest.json";
  e.contents = nlohmann::json::array({entry}).dump();
  entries.push_back(e);
  e.path = "index.json";
  e.contents = index.ToJson();
  entries.push_back(e);
  e.path = "oci-layout";
  e.contents = std::string("{\"imageLayoutVersion\":\"") + kOciLayoutVersion + "\"}";
  entries.push_back(e);

  AtomicFile file(out_path);
  return WriteTar(entries, 0,
                  [&file](const char* d, size_t n, std::string* e2) {
                    return file.Write(std::string_view(d, n), e2);
                  },
                  err) &&
         file.Commit(err, 0644);
}

}  // namespace wandb_job
