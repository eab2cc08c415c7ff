// Small filesystem helpers over POSIX calls: reading, copying, directory creation and walking,
// and lexical path arithmetic. No policy about which files matter lives here.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace wandb_job {

bool ReadFile(const std::string& path, std::string* contents, std::string* err);
bool FileExists(const std::string& path);
bool IsDirectory(const std::string& path);
/// A regular file, or a symlink to one.
bool IsRegularFile(const std::string& path);
/// What a non-regular entry is ("a FIFO", "a socket", "a device", ...), for the messages that
/// leave it out or refuse it.
std::string SpecialKind(mode_t mode);
/// SpecialKind of what `path` leads to; "" for a regular file, a directory or nothing at all.
std::string SpecialFileKind(const std::string& path);
/// mkdir -p.
bool MakeDirs(const std::string& path, std::string* err);
/// rm -rf; a missing path is not an error.
bool RemoveTree(const std::string& path, std::string* err);
/// write(2) until all of `data` is written, again after EINTR; false (errno set) otherwise.
bool WriteAllFd(int fd, std::string_view data);
/// Copies content (not owner or times); tries a reflink/copy_file_range first. `mode` is set.
/// `from` must be a regular file (or a symlink to one): anything else fails without blocking.
bool CopyFile(const std::string& from, const std::string& to, unsigned mode, std::string* err);

/// "a/b/../c/./d/" -> "a/c/d"; keeps a leading "/"; "" -> ".".
std::string NormalizePath(std::string_view path);
/// Joins with one "/"; an absolute `b` wins.
std::string JoinPath(std::string_view a, std::string_view b);
/// `path` relative to `base` (both absolute, normalised lexically); may start with "../".
std::string RelativePath(std::string_view path, std::string_view base);
/// True when `path` equals `dir` or lies below it (lexically).
bool IsWithin(std::string_view path, std::string_view dir);
/// The absolute, symlink-free path; false if it does not exist.
bool RealPath(const std::string& path, std::string* out, std::string* err);
std::string CurrentDirectory();

struct DirEntry {
  std::string relpath;  // relative to the walked root, "/"-separated
  bool is_dir = false;
  bool is_symlink = false;
};
/// Walks `root` depth-first in sorted order. `visit` returns false to skip a directory's contents.
bool WalkDirectory(const std::string& root, const std::function<bool(const DirEntry&)>& visit,
                   std::string* err);

/// Home directory ($HOME, else the passwd entry).
std::string HomeDirectory();
/// Value of an environment variable, or "" when unset.
std::string GetEnv(const char* name);

}  // namespace wandb_job
