#include "content_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "file_util.h"
#include "hash.h"
#include "log.h"

namespace wandb_job {
namespace {

constexpr char kStatCacheMagic[8] = {'W', 'J', 'S', 'C', '0', '0', '0', '1'};
constexpr size_t kHeaderBytes = 16;   // magic, start time
constexpr size_t kRecordBytes = 56;   // dev, ino, size, mtime, ctime, md5
constexpr size_t kTrailerBytes = 16;  // md5 of everything before it
// Entries other runs wrote are dropped beyond this; the cache only ever saves work.
constexpr size_t kMaxEntries = 1u << 22;

int64_t Nanos(const struct timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

std::string Errno(const char* what, const std::string& path) {
  return std::string(what) + " " + path + ": " + strerror(errno);
}

}  // namespace

std::string TempSuffix() {
  std::random_device rd;
  return std::to_string(getpid()) + "." + std::to_string(rd()) + std::to_string(rd());
}

bool TempWriterAlive(const std::string& suffix) {
  std::string pid_text = suffix.substr(0, suffix.find('.'));
  char* end = nullptr;
  long pid = std::strtol(pid_text.c_str(), &end, 10);
  // Linux pids stay below 2^22; anything else is an older helper's random name.
  return !pid_text.empty() && *end == '\0' && pid > 0 && pid < (1L << 22) &&
         (kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH);
}

ContentCache::ContentCache(std::string dir) : dir_(std::move(dir)) {}

std::string ContentCache::ObjectPath(const std::string& md5) const {
  std::string hex = HexEncode(md5);
  return dir_ + "/objects/" + hex.substr(0, 2) + "/" + hex;
}

bool ContentCache::Open(std::string* err) {
  std::string tmp = JoinPath(dir_, "tmp");
  if (!MakeDirs(JoinPath(dir_, "objects"), err) || !MakeDirs(tmp, err)) {
    *err = "creating the content cache: " + *err;
    return false;
  }
  // Files an interrupted run left half-written; never linked into objects/.
  std::string ignored;
  WalkDirectory(
      tmp,
      [&](const DirEntry& e) {
        if (!TempWriterAlive(e.relpath)) {
          unlink(JoinPath(tmp, e.relpath).c_str());
        }
        return false;
      },
      &ignored);
  // The start time by the file system's own clock, which may lag the system clock.
  std::string stamp = JoinPath(tmp, TempSuffix());
  int fd = open(stamp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    *err = Errno("creating", stamp);
    if (fd >= 0) {
      close(fd);
    }
    return false;
  }
  close(fd);
  unlink(stamp.c_str());
  start_ns_ = Nanos(st.st_mtim);
  ReadStatCache(&entries_, false);
  return true;
}

// A damaged or foreign cache file reads as empty: it only ever saves work.
bool ContentCache::ReadStatCache(Map* into, bool fresh) {
  std::string text, ignored;
  std::string path = JoinPath(dir_, "stat-cache");
  if (!ReadFile(path, &text, &ignored) || text.size() < kHeaderBytes + kTrailerBytes ||
      (text.size() - kHeaderBytes - kTrailerBytes) % kRecordBytes != 0 ||
      memcmp(text.data(), kStatCacheMagic, 8) != 0) {
    return false;
  }
  size_t body = text.size() - kTrailerBytes;
  Hasher md5(HashAlgorithm::kMd5);
  md5.Update(text.data(), body);
  if (md5.Finish() != text.substr(body)) {
    return false;
  }
  int64_t written_start;
  memcpy(&written_start, text.data() + 8, 8);
  for (size_t off = kHeaderBytes; off < body; off += kRecordBytes) {
    const char* r = text.data() + off;
    Key key;
    Entry e;
    memcpy(&key.dev, r, 8);
    memcpy(&key.ino, r + 8, 8);
    memcpy(&e.size, r + 16, 8);
    memcpy(&e.mtime_ns, r + 24, 8);
    memcpy(&e.ctime_ns, r + 32, 8);
    memcpy(e.md5, r + 40, 16);
    e.fresh = fresh;
    // Racy git: a file changed again within its mtime's tick would look unchanged.
    if (e.mtime_ns < written_start && e.ctime_ns < written_start) {
      into->emplace(key, e);
    }
  }
  return true;
}

bool ContentCache::LinkObject(const std::string& object, const std::string& dest,
                              std::string* err) {
  if (link(object.c_str(), dest.c_str()) == 0) {
    return true;
  }
  if (errno == EXDEV || errno == EPERM || errno == EMLINK || errno == ENOTSUP ||
      errno == EOPNOTSUPP) {
    // No links here (another file system, or too many): a copy (a reflink where possible).
    return CopyFile(object, dest, 0444, err);
  }
  *err = Errno("linking", dest);
  return false;
}

bool ContentCache::HashIntoObject(int in, const std::string& source, PlacedFile* out,
                                  std::string* err) {
  std::string tmp = dir_ + "/tmp/" + TempSuffix();
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0) {
    *err = Errno("writing", tmp);
    return false;
  }
  Hasher md5(HashAlgorithm::kMd5);
  std::vector<char> buf(1 << 18);
  uint64_t size = 0;
  bool ok = true;
  for (;;) {
    ssize_t n = read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      *err = Errno("reading", source);
      ok = false;
      break;
    }
    if (n == 0) {
      break;
    }
    md5.Update(buf.data(), static_cast<size_t>(n));
    if (!WriteAllFd(fd, std::string_view(buf.data(), static_cast<size_t>(n)))) {
      *err = Errno("writing", tmp);
      ok = false;
      break;
    }
    size += static_cast<uint64_t>(n);
  }
  if (close(fd) != 0 && ok) {
    *err = Errno("writing", tmp);
    ok = false;
  }
  if (ok) {
    out->md5 = md5.Finish();
    out->size = size;
    std::string object = ObjectPath(out->md5);
    std::string parent = object.substr(0, object.rfind('/'));
    // The object appears whole or not at all, and an existing one is never replaced: a
    // concurrent run may be linking it, and link() fails with ENOENT on an inode whose last
    // name a rename has just taken. Its bytes are ours (same digest).
    int stored = mkdir(parent.c_str(), 0755) == 0 || errno == EEXIST ? 0 : -1;
    if (stored == 0) {
      stored = renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, object.c_str(), RENAME_NOREPLACE);
      if (stored != 0 && errno == EINVAL) {  // a file system without RENAME_NOREPLACE
        stored = link(tmp.c_str(), object.c_str());
        if (stored == 0 || errno == EEXIST) {
          unlink(tmp.c_str());
          stored = 0;
        }
      } else if (stored != 0 && errno == EEXIST) {
        unlink(tmp.c_str());
        stored = 0;
      }
    }
    if (stored != 0) {
      *err = Errno("storing", object);
      ok = false;
    }
  }
  if (!ok) {
    unlink(tmp.c_str());
  }
  return ok;
}

bool ContentCache::Place(const std::string& source, const std::string& dest, PlacedFile* out,
                         std::string* err) {
  struct stat st;
  if (stat(source.c_str(), &st) != 0) {
    *err = Errno("reading", source);
    return false;
  }
  if (S_ISREG(st.st_mode)) {
    auto found =
        entries_.find(Key{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)});
    if (found != entries_.end()) {
      Entry& e = found->second;
      if (e.size == static_cast<uint64_t>(st.st_size) && e.mtime_ns == Nanos(st.st_mtim) &&
          e.ctime_ns == Nanos(st.st_ctim)) {
        out->md5.assign(reinterpret_cast<const char*>(e.md5), 16);
        out->size = e.size;
        out->hashed = false;
        std::string object = ObjectPath(out->md5);
        struct stat ost;
        // The object may have been removed (a cleaned cache): then the file is read again.
        if (stat(object.c_str(), &ost) == 0 && static_cast<uint64_t>(ost.st_size) == e.size) {
          e.fresh = true;
          return LinkObject(object, dest, err);
        }
      }
      entries_.erase(found);
    }
  }
  // O_NONBLOCK: a FIFO put in the file's place must fail here, not block the open forever.
  int in = open(source.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (in < 0) {
    *err = Errno("reading", source);
    return false;
  }
  if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
    *err = "copying " + source + ": not a regular file";
    close(in);
    return false;
  }
  bool ok = HashIntoObject(in, source, out, err);
  close(in);
  if (!ok) {
    return false;
  }
  out->hashed = true;
  Entry e;
  e.size = static_cast<uint64_t>(st.st_size);
  e.mtime_ns = Nanos(st.st_mtim);
  e.ctime_ns = Nanos(st.st_ctim);
  memcpy(e.md5, out->md5.data(), 16);
  e.fresh = true;
  // A file changed while it was read has another size or times next time; one changed within
  // this run's first tick might not, so it is not remembered.
  if (e.size == out->size && e.mtime_ns < start_ns_ && e.ctime_ns < start_ns_) {
    entries_[Key{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)}] = e;
    dirty_ = true;
  }
  return LinkObject(ObjectPath(out->md5), dest, err);
}

bool ContentCache::Save(std::string* err) {
  if (!dirty_) {
    return true;
  }
  // What concurrent runs wrote since Open(), for files this run did not see.
  Map disk;
  ReadStatCache(&disk, false);
  std::string data(kStatCacheMagic, 8);
  data.append(reinterpret_cast<const char*>(&start_ns_), 8);
  size_t count = 0;
  auto append = [&](const Key& k, const Entry& e) {
    char r[kRecordBytes];
    memcpy(r, &k.dev, 8);
    memcpy(r + 8, &k.ino, 8);
    memcpy(r + 16, &e.size, 8);
    memcpy(r + 24, &e.mtime_ns, 8);
    memcpy(r + 32, &e.ctime_ns, 8);
    memcpy(r + 40, e.md5, 16);
    data.append(r, kRecordBytes);
    ++count;
  };
  for (const auto& [k, e] : entries_) {
    if (e.fresh) {
      append(k, e);
    }
  }
  // Entries of files this run did not see, as the file on disk has them now.
  for (const auto& [k, e] : disk) {
    auto ours = entries_.find(k);
    if (count < kMaxEntries && (ours == entries_.end() || !ours->second.fresh)) {
      append(k, e);
    }
  }
  Hasher md5(HashAlgorithm::kMd5);
  md5.Update(data);
  data += md5.Finish();
  std::string tmp = dir_ + "/tmp/" + TempSuffix();
  std::string path = JoinPath(dir_, "stat-cache");
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && WriteAllFd(fd, data);
  if (fd >= 0 && close(fd) != 0) {
    ok = false;
  }
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    *err = Errno("writing", path);
    unlink(tmp.c_str());
    return false;
  }
  dirty_ = false;
  return true;
}

}  // namespace wandb_job
