#include "file_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pwd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace wandb_job {
namespace {

std::string ErrnoMessage(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + strerror(errno);
}

// The entries of a directory except "." and "..", unsorted.
bool ListDirNames(const std::string& path, const char* what, std::vector<std::string>* names,
                  std::string* err) {
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) {
    *err = ErrnoMessage(what, path);
    return false;
  }
  names->clear();
  while (struct dirent* e = readdir(dir)) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      names->emplace_back(e->d_name);
    }
  }
  closedir(dir);
  return true;
}

}  // namespace

bool WriteAllFd(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool ReadFile(const std::string& path, std::string* contents, std::string* err) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *err = ErrnoMessage("reading", path);
    return false;
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      *err = ErrnoMessage("reading", path);
      close(fd);
      return false;
    }
    if (n == 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  *contents = std::move(out);
  return true;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool MakeDirs(const std::string& path, std::string* err) {
  if (path.empty() || IsDirectory(path)) {
    return true;
  }
  size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0 && !MakeDirs(path.substr(0, slash), err)) {
    return false;
  }
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    *err = ErrnoMessage("creating directory", path);
    return false;
  }
  if (!IsDirectory(path)) {
    *err = "creating directory " + path + ": a file is in the way";
    return false;
  }
  return true;
}

bool RemoveTree(const std::string& path, std::string* err) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? true : (*err = ErrnoMessage("removing", path), false);
  }
  if (S_ISDIR(st.st_mode)) {
    std::vector<std::string> names;
    if (!ListDirNames(path, "removing", &names, err)) {
      return false;
    }
    for (const std::string& name : names) {
      if (!RemoveTree(path + "/" + name, err)) {
        return false;
      }
    }
    if (rmdir(path.c_str()) != 0) {
      *err = ErrnoMessage("removing", path);
      return false;
    }
    return true;
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    *err = ErrnoMessage("removing", path);
    return false;
  }
  return true;
}

std::string SpecialKind(mode_t mode) {
  if (S_ISFIFO(mode)) {
    return "a FIFO";
  }
  if (S_ISSOCK(mode)) {
    return "a socket";
  }
  if (S_ISCHR(mode) || S_ISBLK(mode)) {
    return "a device";
  }
  return S_ISDIR(mode) ? "a directory" : "not a regular file";
}

std::string SpecialFileKind(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
    return "";
  }
  return SpecialKind(st.st_mode);
}

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool CopyFile(const std::string& from, const std::string& to, unsigned mode, std::string* err) {
  // O_NONBLOCK: a FIFO put in the file's place must fail here, not block the open forever.
  int in = open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (in < 0) {
    *err = ErrnoMessage("reading", from);
    return false;
  }
  struct stat st;
  if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
    *err = "copying " + from + ": not a regular file";
    close(in);
    return false;
  }
  int out = open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (out < 0) {
    *err = ErrnoMessage("writing", to);
    close(in);
    return false;
  }
  bool ok = true;
  // A reflink shares blocks on filesystems that can (btrfs, xfs); otherwise copy_file_range keeps
  // the copy in the kernel, and read/write is the last resort.
  if (ioctl(out, FICLONE, in) != 0) {
    for (;;) {
      ssize_t n = copy_file_range(in, nullptr, out, nullptr, 1 << 30, 0);
      if (n > 0) {
        continue;
      }
      if (n == 0) {
        break;
      }
      if (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP) {
        char buf[1 << 16];
        ssize_t r;
        while ((r = read(in, buf, sizeof(buf))) > 0) {
          if (!WriteAllFd(out, std::string_view(buf, static_cast<size_t>(r)))) {
            ok = false;
            break;
          }
        }
        ok = ok && r == 0;
      } else {
        ok = false;
      }
      break;
    }
  }
  if (!ok) {
    *err = ErrnoMessage("copying to", to);
  }
  if (fchmod(out, mode) != 0 && ok) {
    *err = ErrnoMessage("setting mode of", to);
    ok = false;
  }
  close(in);
  if (close(out) != 0 && ok) {
    *err = ErrnoMessage("writing", to);
    ok = false;
  }
  return ok;
}

std::string NormalizePath(std::string_view path) {
  bool absolute = !path.empty() && path[0] == '/';
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) {
      j = path.size();
    }
    std::string_view part = path.substr(i, j - i);
    if (part.empty() || part == ".") {
      // skip
    } else if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!absolute) {
        parts.push_back(part);
      }
    } else {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string out = absolute ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k > 0) {
      out += '/';
    }
    out += parts[k];
  }
  return out.empty() ? "." : out;
}

std::string JoinPath(std::string_view a, std::string_view b) {
  if (a.empty() || (!b.empty() && b[0] == '/')) {
    return std::string(b);
  }
  if (b.empty()) {
    return std::string(a);
  }
  std::string out(a);
  if (out.back() != '/') {
    out += '/';
  }
  out += b;
  return out;
}

std::string RelativePath(std::string_view path, std::string_view base) {
  std::string p = NormalizePath(path);
  std::string b = NormalizePath(base);
  auto split = [](const std::string& s) {
    std::vector<std::string> parts;
    size_t i = 0;
    while (i < s.size()) {
      size_t j = s.find('/', i);
      if (j == std::string::npos) {
        j = s.size();
      }
      if (j > i) {
        parts.push_back(s.substr(i, j - i));
      }
      i = j + 1;
    }
    return parts;
  };
  std::vector<std::string> pp = split(p), bp = split(b);
  size_t common = 0;
  while (common < pp.size() && common < bp.size() && pp[common] == bp[common]) {
    ++common;
  }
  std::string out;
  for (size_t k = common; k < bp.size(); ++k) {
    out += out.empty() ? ".." : "/..";
  }
  for (size_t k = common; k < pp.size(); ++k) {
    if (!out.empty()) {
      out += '/';
    }
    out += pp[k];
  }
  return out.empty() ? "." : out;
}

bool IsWithin(std::string_view path, std::string_view dir) {
  std::string p = NormalizePath(path);
  std::string d = NormalizePath(dir);
  if (d == "/") {
    return !p.empty() && p[0] == '/';
  }
  return p == d || (p.size() > d.size() && p.compare(0, d.size(), d) == 0 && p[d.size()] == '/');
}

bool RealPath(const std::string& path, std::string* out, std::string* err) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) == nullptr) {
    *err = ErrnoMessage("resolving", path);
    return false;
  }
  *out = buf;
  return true;
}

std::string CurrentDirectory() {
  char buf[PATH_MAX];
  return getcwd(buf, sizeof(buf)) != nullptr ? std::string(buf) : std::string(".");
}

namespace {

bool Walk(const std::string& root, const std::string& rel,
          const std::function<bool(const DirEntry&)>& visit, std::string* err) {
  std::string dir_path = rel.empty() ? root : root + "/" + rel;
  std::vector<std::string> names;
  if (!ListDirNames(dir_path, "listing", &names, err)) {
    return false;
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    DirEntry entry;
    entry.relpath = rel.empty() ? name : rel + "/" + name;
    struct stat st;
    std::string full = root + "/" + entry.relpath;
    if (lstat(full.c_str(), &st) != 0) {
      continue;  // Vanished while walking.
    }
    entry.is_symlink = S_ISLNK(st.st_mode);
    entry.is_dir = S_ISDIR(st.st_mode);
    if (!visit(entry)) {
      continue;
    }
    if (entry.is_dir && !Walk(root, entry.relpath, visit, err)) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool WalkDirectory(const std::string& root, const std::function<bool(const DirEntry&)>& visit,
                   std::string* err) {
  return Walk(root, "", visit, err);
}

std::string HomeDirectory() {
  std::string home = GetEnv("HOME");
  if (!home.empty()) {
    return home;
  }
  struct passwd* pw = getpwuid(getuid());
  return pw != nullptr && pw->pw_dir != nullptr ? pw->pw_dir : "/";
}

std::string GetEnv(const char* name) {
  const char* value = getenv(name);
  return value != nullptr ? value : "";
}

}  // namespace wandb_job
