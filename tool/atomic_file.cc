#include "atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace wandb_job {
namespace {

std::string RandomSuffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  for (int i = 0; i < 10; ++i) {
    s += kChars[rng() % (sizeof(kChars) - 1)];
  }
  return s;
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    close(fd_);
  }
  if (!committed_ && !tmp_path_.empty()) {
    unlink(tmp_path_.c_str());
  }
}

bool AtomicFile::Open(std::string* err) {
  // The temporary name starts with ".tmp." so that store scans can recognise and skip it.
  size_t slash = path_.rfind('/');
  std::string dir = slash == std::string::npos ? "" : path_.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? path_ : path_.substr(slash + 1);
  // The pid keeps forked children, which inherit the generator's state, from colliding.
  tmp_path_ = dir + ".tmp." + base + "." + std::to_string(getpid()) + "." + RandomSuffix();
  fd_ = open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    *err = "creating " + tmp_path_ + ": " + strerror(errno);
    tmp_path_.clear();
    return false;
  }
  return true;
}

bool AtomicFile::Write(std::string_view data, std::string* err) {
  if (fd_ < 0 && !Open(err)) {
    return false;
  }
  while (!data.empty()) {
    ssize_t n = write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      *err = "writing " + tmp_path_ + ": " + strerror(errno);
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool AtomicFile::Commit(std::string* err, unsigned mode) {
  if (fd_ < 0 && !Open(err)) {  // An empty file is still a file.
    return false;
  }
  if (fchmod(fd_, mode) != 0 || fsync(fd_) != 0) {
    *err = "writing " + tmp_path_ + ": " + strerror(errno);
    return false;
  }
  close(fd_);
  fd_ = -1;
  if (rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    *err = "renaming " + tmp_path_ + " to " + path_ + ": " + strerror(errno);
    return false;
  }
  committed_ = true;
  return true;
}

bool WriteFileAtomic(const std::string& path, std::string_view data, std::string* err,
                     unsigned mode) {
  AtomicFile file(path);
  return file.Write(data, err) && file.Commit(err, mode);
}

}  // namespace wandb_job
