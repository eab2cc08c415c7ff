#include "tar_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>

namespace wandb_job {
namespace {

struct SinkState {
  const TarSink* sink;
  std::string err;
};

la_ssize_t WriteCallback(struct archive*, void* client, const void* buffer, size_t length) {
  auto* s = static_cast<SinkState*>(client);
  if (!(*s->sink)(static_cast<const char*>(buffer), length, &s->err)) {
    return -1;
  }
  return static_cast<la_ssize_t>(length);
}

std::string CleanPath(const std::string& path) {
  std::string p = path;
  while (!p.empty() && p.front() == '/') {
    p.erase(0, 1);
  }
  while (!p.empty() && p.back() == '/') {
    p.pop_back();
  }
  return p;
}

bool ArchiveFailed(int rc, struct archive* a, const SinkState& state, const std::string& what,
                   std::string* err) {
  if (rc == ARCHIVE_OK) {
    return false;
  }
  if (!state.err.empty()) {
    *err = state.err;
  } else {
    const char* msg = archive_error_string(a);
    *err = what + ": " + (msg != nullptr ? msg : "libarchive error");
  }
  return true;
}

// Copies `path` into the archive in blocks; its size was announced in the header already.
bool CopyFileData(struct archive* a, const std::string& path, int fd, int64_t size,
                  const SinkState& state, std::string* err) {
  std::unique_ptr<char[]> buf(new char[1 << 20]);
  int64_t left = size;
  while (left > 0) {
    ssize_t n;
    do {
      n = read(fd, buf.get(), static_cast<size_t>(std::min<int64_t>(left, 1 << 20)));
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      *err = "reading " + path + ": " + strerror(errno);
      return false;
    }
    if (n == 0) {
      *err = "reading " + path + ": file shrank while being archived";
      return false;
    }
    la_ssize_t w = archive_write_data(a, buf.get(), static_cast<size_t>(n));
    if (w < 0 || w != n) {
      ArchiveFailed(ARCHIVE_FATAL, a, state, "writing " + path, err);
      return false;
    }
    left -= n;
  }
  char extra;
  if (read(fd, &extra, 1) > 0) {
    *err = "reading " + path + ": file grew while being archived";
    return false;
  }
  return true;
}

}  // namespace

bool WriteTar(std::vector<TarEntry> entries, int64_t mtime, const TarSink& sink,
              std::string* err) {
  // Normalise, add parents, reject conflicting duplicates.
  std::map<std::string, TarEntry> by_path;
  for (TarEntry& e : entries) {
    e.path = CleanPath(e.path);
    if (e.path.empty() || e.path == "." || e.path.find("/../") != std::string::npos ||
        e.path.rfind("../", 0) == 0 || e.path == "..") {
      *err = "invalid path '" + e.path + "' in layer";
      return false;
    }
    auto it = by_path.find(e.path);
    if (it != by_path.end()) {
      if (it->second.type == TarEntryType::kDirectory && e.type == TarEntryType::kDirectory &&
          it->second.mode == e.mode) {
        continue;
      }
      *err = "two entries for '" + e.path + "' in layer";
      return false;
    }
    by_path.emplace(e.path, std::move(e));
  }
  std::vector<TarEntry> parents;
  for (const auto& [path, e] : by_path) {
    for (size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      std::string parent = path.substr(0, slash);
      auto it = by_path.find(parent);
      if (it == by_path.end()) {
        TarEntry dir;
        dir.path = parent;
        dir.type = TarEntryType::kDirectory;
        dir.mode = 0755;
        parents.push_back(dir);
      } else if (it->second.type != TarEntryType::kDirectory) {
        *err = "'" + parent + "' is both a file and a directory in layer";
        return false;
      }
    }
  }
  for (TarEntry& p : parents) {
    by_path.emplace(p.path, std::move(p));
  }

  // Declared before the archive: freeing an archive that was not closed (an error path) still
  // flushes through WriteCallback, which must find the state alive.
  SinkState state{&sink, ""};
  std::unique_ptr<struct archive, decltype(&archive_write_free)> a(archive_write_new(),
                                                                    &archive_write_free);
  archive_write_set_format_pax_restricted(a.get());
  archive_write_add_filter_none(a.get());
  // No padding to a 10 KiB record: the stream ends after the two zero blocks.
  archive_write_set_bytes_per_block(a.get(), 0);
  if (ArchiveFailed(archive_write_open2(a.get(), &state, nullptr, WriteCallback, nullptr, nullptr),
                    a.get(), state, "starting tar stream", err)) {
    return false;
  }
  std::unique_ptr<struct archive_entry, decltype(&archive_entry_free)> entry(
      archive_entry_new(), &archive_entry_free);
  // std::map iterates in byte order of the path: parents come before their children.
  for (const auto& [path, e] : by_path) {
    archive_entry_clear(entry.get());
    archive_entry_set_uid(entry.get(), 0);
    archive_entry_set_gid(entry.get(), 0);
    archive_entry_set_mtime(entry.get(), mtime, 0);
    archive_entry_set_perm(entry.get(), e.mode & 07777);
    int fd = -1;
    int64_t size = 0;
    if (e.type == TarEntryType::kDirectory) {
      archive_entry_set_pathname(entry.get(), (path + "/").c_str());
      archive_entry_set_filetype(entry.get(), AE_IFDIR);
    } else if (e.type == TarEntryType::kSymlink) {
      archive_entry_set_pathname(entry.get(), path.c_str());
      archive_entry_set_filetype(entry.get(), AE_IFLNK);
      archive_entry_set_symlink(entry.get(), e.link_target.c_str());
      archive_entry_set_perm(entry.get(), 0777);  // As every Linux symlink: modes are ignored.
    } else {
      archive_entry_set_pathname(entry.get(), path.c_str());
      archive_entry_set_filetype(entry.get(), AE_IFREG);
      if (!e.source_file.empty()) {
        // O_NONBLOCK: a FIFO in a file's place fails the check below instead of blocking here.
        fd = open(e.source_file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
          *err = "opening " + e.source_file + ": " + strerror(errno);
          if (fd >= 0) {
            close(fd);
          }
          return false;
        }
        if (!S_ISREG(st.st_mode)) {
          close(fd);
          *err = e.source_file + " is not a regular file";
          return false;
        }
        size = st.st_size;
      } else {
        size = static_cast<int64_t>(e.contents.size());
      }
      archive_entry_set_size(entry.get(), size);
    }
    if (ArchiveFailed(archive_write_header(a.get(), entry.get()), a.get(), state,
                      "writing tar header of " + path, err)) {
      if (fd >= 0) {
        close(fd);
      }
      return false;
    }
    if (fd >= 0) {
      bool ok = CopyFileData(a.get(), e.source_file, fd, size, state, err);
      close(fd);
      if (!ok) {
        return false;
      }
    } else if (size > 0) {
      la_ssize_t w = archive_write_data(a.get(), e.contents.data(), e.contents.size());
      if (w != static_cast<la_ssize_t>(e.contents.size())) {
        ArchiveFailed(ARCHIVE_FATAL, a.get(), state, "writing " + path, err);
        return false;
      }
    }
  }
  return !ArchiveFailed(archive_write_close(a.get()), a.get(), state, "finishing tar stream", err);
}

}  // namespace wandb_job
