// The build directory's content-addressed file cache, shared by every bundle of the build: each
// code file is stored once as objects/<md5 hex>, read-only, and bundles hold hard links to it.
// A stat cache keyed like git's index (device, inode, size, mtime, ctime) remembers each source
// file's MD5, so an unchanged file is never read again. docs/bundle.md describes the layout.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <unordered_map>

namespace wandb_job {

/// "<pid>.<random>": names a temporary file or directory so that a later run can tell whether
/// its writer is still alive.
std::string TempSuffix();
/// Whether the writer of a name made by TempSuffix() (the text from the pid on) may still be
/// running: false only when its process is gone.
bool TempWriterAlive(const std::string& suffix);

/// What Place() learnt of a file.
struct PlacedFile {
  std::string md5;  // raw bytes
  uint64_t size = 0;
  bool hashed = false;  // false: the stat cache knew the file
};

class ContentCache {
 public:
  /// `dir` is created on Open(); several processes may use it at once.
  explicit ContentCache(std::string dir);
  ContentCache(const ContentCache&) = delete;
  ContentCache& operator=(const ContentCache&) = delete;
  ~ContentCache() = default;

  /// Creates the directory, reads the stat cache and notes the start time (racy-git rule: a file
  /// whose mtime is not older than the start of the run that hashed it is hashed again).
  bool Open(std::string* err);

  /// Makes `dest` (a new path, its directory existing) a read-only file with the content of the
  /// regular file `source`: a hard link to the cached object, or a copy where links fail (another
  /// file system). Reads `source` only when the stat cache does not know it.
  bool Place(const std::string& source, const std::string& dest, PlacedFile* out, std::string* err);

  /// Writes the stat cache back, merged with what concurrent runs wrote; atomic.
  bool Save(std::string* err);

  const std::string& dir() const { return dir_; }

 private:
  struct Key {
    uint64_t dev, ino;
    bool operator==(const Key& o) const { return dev == o.dev && ino == o.ino; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return k.ino * 0x9E3779B97F4A7C15ull ^ k.dev; }
  };
  struct Entry {
    uint64_t size;
    int64_t mtime_ns, ctime_ns;
    unsigned char md5[16];
    bool fresh;  // seen or hashed by this run
  };
  using Map = std::unordered_map<Key, Entry, KeyHash>;

  std::string ObjectPath(const std::string& md5) const;
  bool ReadStatCache(Map* into, bool fresh);
  bool HashIntoObject(int in, const std::string& source, PlacedFile* out, std::string* err);
  bool LinkObject(const std::string& object, const std::string& dest, std::string* err);

  std::string dir_;
  int64_t start_ns_ = 0;  // the file system's clock when Open() ran
  Map entries_;
  bool dirty_ = false;
};

}  // namespace wandb_job
