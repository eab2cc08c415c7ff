// Deterministic tar streams for image layers (the Jib rules): entries sorted by path, missing
// parent directories added, uid/gid 0, no user names, one fixed mtime, modes as given.
// Writes through libarchive (pax restricted); compression and hashing are the caller's.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace wandb_job {

enum class TarEntryType { kFile, kDirectory, kSymlink };

struct TarEntry {
  std::string path;  // inside the archive, "/"-separated; a leading "/" is dropped
  TarEntryType type = TarEntryType::kFile;
  unsigned mode = 0644;      // permission bits only (symlinks are always 0777)
  std::string source_file;   // kFile: read from here...
  std::string contents;      // ...or, when source_file is "", these bytes
  std::string link_target;   // kSymlink
};

/// Receives the archive bytes in order; false (with `*err` set) stops writing.
using TarSink = std::function<bool(const char* data, size_t size, std::string* err)>;

/// Writes `entries` as one tar stream into `sink`. Duplicate paths are an error unless both are
/// directories with the same mode. Files are read streaming; a file that changes size while
/// being read is an error.
bool WriteTar(std::vector<TarEntry> entries, int64_t mtime, const TarSink& sink,
              std::string* err);

}  // namespace wandb_job
