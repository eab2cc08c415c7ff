#include "lockfile.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "file_util.h"
#include "hash.h"
#include "remote_url.h"

namespace wandb_job {
namespace {

using json = nlohmann::json;

constexpr std::pair<const char*, const char*> kLockfileKinds[] = {
    {"vcpkg.json", "vcpkg"},     {"vcpkg-configuration.json", "vcpkg-configuration"},
    {"conan.lock", "conan"},     {"package-lock.cmake", "cpm"},
    {"requirements.txt", "pip"},
};

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string Absolute(const std::string& path) {
  return NormalizePath(JoinPath(CurrentDirectory(), path));
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) {
    return "";
  }
  return s.substr(b, s.find_last_not_of(" \t\r\n") + 1 - b);
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// ---- FetchContent sub-builds ----

// The arguments of the first ExternalProject_Add(...) call in a CMake file, unquoted: quoted
// arguments (with backslash escapes), bracket arguments and unquoted words. Comments are skipped.
std::vector<std::string> ExternalProjectArgs(const std::string& text) {
  std::vector<std::string> args;
  const std::string command = "ExternalProject_Add(";
  size_t pos = 0;
  for (;;) {  // the command starts a line; comments mention it too
    pos = text.find(command, pos);
    if (pos == std::string::npos) {
      return args;
    }
    size_t line_start = text.rfind('\n', pos);
    line_start = line_start == std::string::npos ? 0 : line_start + 1;
    if (text.find_first_not_of(" \t", line_start) == pos) {
      break;
    }
    pos += command.size();
  }
  pos += command.size();
  while (pos < text.size()) {
    char c = text[pos];
    if (c == ')') {
      break;
    }
    if (isspace(static_cast<unsigned char>(c))) {
      ++pos;
    } else if (c == '#') {
      pos = std::min(text.find('\n', pos), text.size());
    } else if (c == '"') {
      std::string arg;
      for (++pos; pos < text.size() && text[pos] != '"'; ++pos) {
        if (text[pos] == '\\' && pos + 1 < text.size()) {
          char e = text[++pos];
          arg += e == 'n' ? '\n' : e == 't' ? '\t' : e;
        } else {
          arg += text[pos];
        }
      }
      args.push_back(arg);
      ++pos;
    } else if (c == '[' && text.find_first_not_of('=', pos + 1) != std::string::npos &&
               text[text.find_first_not_of('=', pos + 1)] == '[') {
      size_t open_end = text.find_first_not_of('=', pos + 1);
      std::string close = "]" + std::string(open_end - pos - 1, '=') + "]";
      size_t end = std::min(text.find(close, open_end + 1), text.size());
      args.push_back(text.substr(open_end + 1, end - open_end - 1));
      pos = end + close.size();
    } else {
      size_t end = text.find_first_of(" \t\r\n()#\"", pos);
      end = std::min(end, text.size());
      args.push_back(text.substr(pos, end - pos));
      pos = end;
    }
  }
  return args;
}

// Keyword -> first value (URL may have several values; the first is the one fetched first).
std::map<std::string, std::string> SubbuildDetails(const std::string& cmakelists) {
  std::map<std::string, std::string> details;
  std::vector<std::string> args = ExternalProjectArgs(cmakelists);
  for (size_t i = 1; i + 1 < args.size(); ++i) {
    const std::string& key = args[i];
    if (key == "GIT_REPOSITORY" || key == "GIT_TAG" || key == "URL" || key == "URL_HASH" ||
        key == "URL_MD5" || key == "SOURCE_DIR") {
      std::string value = args[i + 1];
      details.emplace(key, value.substr(0, value.find(';')));
      ++i;
    }
  }
  return details;
}

// Direct population (CMake >= 3.30) writes no sub-build; ExternalProject's "<x>-urlinfo.txt" or
// "<x>-gitinfo.txt" in the stamp directory still records what was fetched (key=value lines).
std::map<std::string, std::string> StampDetails(const std::string& stamp_dir) {
  std::map<std::string, std::string> details;
  DIR* dir = opendir(stamp_dir.c_str());
  if (dir == nullptr) {
    return details;
  }
  std::string info_file;
  while (dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (EndsWith(name, "-urlinfo.txt") || EndsWith(name, "-gitinfo.txt")) {
      info_file = stamp_dir + "/" + name;
    }
  }
  closedir(dir);
  std::string text;
  std::string err;
  if (info_file.empty() || !ReadFile(info_file, &text, &err)) {
    return details;
  }
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = std::min(text.find('\n', pos), text.size());
    std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    size_t eq = line.find('=');
    if (eq == std::string::npos || line[0] == '#') {
      continue;
    }
    std::string key = line.substr(0, eq);
    std::string value = line.substr(eq + 1);
    value = value.substr(0, value.find(';'));
    if (key == "repository") {
      details["GIT_REPOSITORY"] = value;
    } else if (key == "url(s)") {
      details["URL"] = value;
    } else if (key == "hash" && !value.empty()) {
      details["URL_HASH"] = value;
    }
  }
  return details;
}

// ---- Reading a git checkout's HEAD without libgit2 (only git_state.cc includes it) ----

bool ReadTrimmed(const std::string& path, std::string* out) {
  std::string err;
  if (!ReadFile(path, out, &err)) {
    return false;
  }
  *out = Trim(*out);
  return true;
}

bool IsHexId(const std::string& s) {
  return (s.size() == 40 || s.size() == 64) &&
         s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The git directory and common directory of a work tree (".git" may be a "gitdir: " file).
bool GitDirs(const std::string& worktree, std::string* git_dir, std::string* common_dir) {
  std::string dot_git = worktree + "/.git";
  if (IsDirectory(dot_git)) {
    *git_dir = dot_git;
  } else {
    std::string link;
    if (!ReadTrimmed(dot_git, &link) || link.compare(0, 8, "gitdir: ") != 0) {
      return false;
    }
    *git_dir = NormalizePath(JoinPath(worktree, Trim(link.substr(8))));
  }
  std::string common;
  *common_dir = ReadTrimmed(*git_dir + "/commondir", &common)
                    ? NormalizePath(JoinPath(*git_dir, common))
                    : *git_dir;
  return FileExists(*git_dir + "/HEAD");
}

// HEAD's commit: detached, or through a loose or packed ref. "" when it can't be read (unborn).
std::string ReadHeadCommit(const std::string& worktree) {
  std::string git_dir;
  std::string common_dir;
  std::string value;
  if (!GitDirs(worktree, &git_dir, &common_dir) || !ReadTrimmed(git_dir + "/HEAD", &value)) {
    return "";
  }
  for (int depth = 0; depth < 5; ++depth) {
    if (IsHexId(value)) {
      return value;
    }
    if (value.compare(0, 5, "ref: ") != 0) {
      return "";
    }
    std::string ref = Trim(value.substr(5));
    if (ReadTrimmed(git_dir + "/" + ref, &value) || ReadTrimmed(common_dir + "/" + ref, &value)) {
      continue;
    }
    std::string packed;
    if (!ReadTrimmed(common_dir + "/packed-refs", &packed)) {
      return "";
    }
    value.clear();
    size_t pos = 0;
    while (pos < packed.size()) {
      size_t eol = std::min(packed.find('\n', pos), packed.size());
      std::string line = Trim(packed.substr(pos, eol - pos));
      pos = eol + 1;
      size_t space = line.find(' ');
      if (space != std::string::npos && line.substr(space + 1) == ref) {
        value = line.substr(0, space);
        break;
      }
    }
    return IsHexId(value) ? value : "";
  }
  return "";
}

// remote.origin.url from the checkout's config; "" when absent.
std::string ReadOriginUrl(const std::string& worktree) {
  std::string git_dir;
  std::string common_dir;
  std::string config;
  std::string err;
  if (!GitDirs(worktree, &git_dir, &common_dir) ||
      !ReadFile(common_dir + "/config", &config, &err)) {
    return "";
  }
  bool in_origin = false;
  size_t pos = 0;
  while (pos < config.size()) {
    size_t eol = std::min(config.find('\n', pos), config.size());
    std::string line = Trim(config.substr(pos, eol - pos));
    pos = eol + 1;
    if (!line.empty() && line[0] == '[') {
      in_origin = line == "[remote \"origin\"]";
    } else if (in_origin && line.compare(0, 3, "url") == 0) {
      size_t eq = line.find('=');
      if (eq != std::string::npos && Trim(line.substr(3, eq - 3)).empty()) {
        std::string url = Trim(line.substr(eq + 1));
        if (url.size() >= 2 && url.front() == '"' && url.back() == '"') {
          url = url.substr(1, url.size() - 2);
        }
        return url;
      }
    }
  }
  return "";
}

// ---- JSON ----

bool GetString(const json& obj, const char* key, std::string* out, std::string* err) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    out->clear();
    return true;
  }
  if (!it->is_string()) {
    *err = std::string("\"") + key + "\" is not a string";
    return false;
  }
  *out = it->get<std::string>();
  return true;
}

bool GetArray(const json& obj, const char* key, const json** out, std::string* err) {
  static const json kEmpty = json::array();
  auto it = obj.find(key);
  if (it == obj.end()) {
    *out = &kEmpty;
    return true;
  }
  if (!it->is_array()) {
    *err = std::string("\"") + key + "\" is not an array";
    return false;
  }
  for (const json& item : *it) {
    if (!item.is_object()) {
      *err = std::string("\"") + key + "\" holds a non-object";
      return false;
    }
  }
  *out = &*it;
  return true;
}

}  // namespace

bool FindLockfiles(const std::vector<std::string>& dirs, const std::vector<std::string>& given,
                   const std::string& code_dir, std::vector<FoundLockfile>* out, std::string* err) {
  const std::string code = Absolute(code_dir);
  std::vector<FoundLockfile> found;
  std::map<std::string, std::string> by_relpath;  // relpath -> path
  std::set<std::string> seen;                     // real paths
  auto add = [&](const std::string& path, const std::string& kind) {
    std::string real_path;
    if (!RealPath(path, &real_path, err)) {
      return false;
    }
    if (!seen.insert(real_path).second) {
      return true;  // found twice: through two directories, or also given
    }
    FoundLockfile lock;
    lock.path = path;
    lock.relpath = IsWithin(path, code) ? RelativePath(path, code) : Basename(path);
    lock.kind = kind;
    auto [it, inserted] = by_relpath.emplace(lock.relpath, path);
    if (!inserted) {
      *err = "lockfiles " + it->second + " and " + path + " would both be stored as lockfiles/" +
             lock.relpath;
      return false;
    }
    found.push_back(lock);
    return true;
  };
  for (const std::string& dir : dirs) {
    for (const auto& [name, kind] : kLockfileKinds) {
      std::string path = JoinPath(Absolute(dir), name);
      if (FileExists(path) && !IsDirectory(path) && !add(path, kind)) {
        return false;
      }
    }
  }
  for (const std::string& file : given) {
    std::string path = NormalizePath(JoinPath(code, file));
    if (!FileExists(path) || IsDirectory(path)) {
      *err = "lockfile " + file + " not found";
      return false;
    }
    if (!add(path, "user")) {
      return false;
    }
  }
  std::sort(found.begin(), found.end(),
            [](const FoundLockfile& a, const FoundLockfile& b) { return a.relpath < b.relpath; });
  *out = std::move(found);
  return true;
}

bool ScanFetchContent(const std::string& deps_dir, std::vector<FetchContentSource>* out,
                      std::string* err) {
  out->clear();
  if (!FileExists(deps_dir)) {
    return true;
  }
  DIR* dir = opendir(deps_dir.c_str());
  if (dir == nullptr) {
    *err = "reading " + deps_dir + ": " + strerror(errno);
    return false;
  }
  std::set<std::string> names;
  while (dirent* e = readdir(dir)) {
    std::string entry = e->d_name;
    for (const char* suffix : {"-src", "-subbuild", "-build"}) {
      if (EndsWith(entry, suffix) && entry.size() > strlen(suffix) &&
          IsDirectory(deps_dir + "/" + entry)) {
        names.insert(entry.substr(0, entry.size() - strlen(suffix)));
      }
    }
  }
  closedir(dir);
  for (const std::string& name : names) {
    std::string base = deps_dir + "/" + name;
    std::string cmakelists;
    std::string ignored;
    bool has_subbuild = ReadFile(base + "-subbuild/CMakeLists.txt", &cmakelists, &ignored);
    std::map<std::string, std::string> details =
        has_subbuild ? SubbuildDetails(cmakelists) : StampDetails(base + "-stamp");
    auto get = [&](const char* key) {
      auto it = details.find(key);
      return it == details.end() ? std::string() : it->second;
    };
    std::string source_dir = get("SOURCE_DIR").empty() ? base + "-src" : get("SOURCE_DIR");
    FetchContentSource source;
    source.name = name;
    std::string commit;
    if (!get("GIT_REPOSITORY").empty() ||
        (get("URL").empty() && IsDirectory(base + "-src") && FileExists(base + "-src/.git"))) {
      source.method = "git";
      std::string url = get("GIT_REPOSITORY");
      source.url = StripUrlCredentials(url.empty() ? ReadOriginUrl(source_dir) : url);
      commit = ReadHeadCommit(source_dir);
      source.reference = commit.empty() ? get("GIT_TAG") : commit;
    } else if (!get("URL").empty()) {
      source.method = "url";
      source.url = StripUrlCredentials(get("URL"));
      source.reference = !get("URL_HASH").empty()  ? get("URL_HASH")
                         : !get("URL_MD5").empty() ? "MD5=" + get("URL_MD5")
                                                   : "";
    } else if (!IsDirectory(base + "-src") || source_dir != base + "-src") {
      // Declared with SOURCE_DIR only, or overridden by FETCHCONTENT_SOURCE_DIR_<NAME>.
      source.method = "local";
    } else {
      continue;  // a source directory we know nothing about
    }
    out->push_back(source);
  }
  return true;
}

std::string NativeLockToJson(const NativeLock& lock) {
  json fetchcontent = json::array();
  for (const FetchContentSource& s : lock.fetchcontent) {
    fetchcontent.push_back(
        {{"name", s.name}, {"method", s.method}, {"url", s.url}, {"reference", s.reference}});
  }
  json runtime = json::array();
  for (const ClosureLibrary& lib : lock.runtime) {
    runtime.push_back({{"soname", lib.soname}, {"path", lib.path}, {"sha256", lib.sha256}});
  }
  json lockfiles = json::array();
  for (const auto& [path, sha256] : lock.lockfiles) {
    lockfiles.push_back({{"path", path}, {"sha256", sha256}});
  }
  json j = {
      {"tool_version", lock.tool_version},
      {"toolchain",
       {{"compiler_id", lock.compiler_id},
        {"compiler_version", lock.compiler_version},
        {"cmake_version", lock.cmake_version},
        {"generator", lock.generator},
        {"build_type", lock.build_type},
        {"cxx_standard", lock.cxx_standard},
        {"system", lock.system}}},
      {"target", lock.target},
      {"fetchcontent", fetchcontent},
      {"runtime", runtime},
      {"lockfiles", lockfiles},
  };
  // nlohmann::json keeps object keys in a std::map, so they come out sorted.
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

bool NativeLockFromJson(const std::string& text, NativeLock* out, std::string* err) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    *err = "native lock: invalid JSON";
    return false;
  }
  if (!j.is_object()) {
    *err = "native lock: not a JSON object";
    return false;
  }
  NativeLock lock;
  std::string e;
  json toolchain = j.value("toolchain", json::object());
  if (!toolchain.is_object()) {
    *err = "native lock: \"toolchain\" is not an object";
    return false;
  }
  const json* fetchcontent = nullptr;
  const json* runtime = nullptr;
  const json* lockfiles = nullptr;
  bool ok = GetString(j, "tool_version", &lock.tool_version, &e) &&
            GetString(j, "target", &lock.target, &e) &&
            GetString(toolchain, "compiler_id", &lock.compiler_id, &e) &&
            GetString(toolchain, "compiler_version", &lock.compiler_version, &e) &&
            GetString(toolchain, "cmake_version", &lock.cmake_version, &e) &&
            GetString(toolchain, "generator", &lock.generator, &e) &&
            GetString(toolchain, "build_type", &lock.build_type, &e) &&
            GetString(toolchain, "cxx_standard", &lock.cxx_standard, &e) &&
            GetString(toolchain, "system", &lock.system, &e) &&
            GetArray(j, "fetchcontent", &fetchcontent, &e) &&
            GetArray(j, "runtime", &runtime, &e) && GetArray(j, "lockfiles", &lockfiles, &e);
  for (size_t i = 0; ok && i < fetchcontent->size(); ++i) {
    const json& item = (*fetchcontent)[i];
    FetchContentSource s;
    ok = GetString(item, "name", &s.name, &e) && GetString(item, "method", &s.method, &e) &&
         GetString(item, "url", &s.url, &e) && GetString(item, "reference", &s.reference, &e);
    lock.fetchcontent.push_back(s);
  }
  for (size_t i = 0; ok && i < runtime->size(); ++i) {
    const json& item = (*runtime)[i];
    ClosureLibrary lib;
    ok = GetString(item, "soname", &lib.soname, &e) && GetString(item, "path", &lib.path, &e) &&
         GetString(item, "sha256", &lib.sha256, &e);
    lock.runtime.push_back(lib);
  }
  for (size_t i = 0; ok && i < lockfiles->size(); ++i) {
    const json& item = (*lockfiles)[i];
    std::pair<std::string, std::string> entry;
    ok = GetString(item, "path", &entry.first, &e) && GetString(item, "sha256", &entry.second, &e);
    lock.lockfiles.push_back(entry);
  }
  if (!ok) {
    *err = "native lock: " + e;
    return false;
  }
  *out = std::move(lock);
  return true;
}

bool LockRuntimeClosure(const std::vector<SharedLibrary>& closure, const std::string& build_dir,
                        std::vector<ClosureLibrary>* out, std::string* err) {
  const std::string build = Absolute(build_dir);
  std::string real_build;
  std::string ignored;
  if (!RealPath(build, &real_build, &ignored)) {
    real_build = build;  // a build directory that is gone: only lexical matches
  }
  std::vector<ClosureLibrary> libs;
  for (const SharedLibrary& lib : closure) {
    ClosureLibrary entry;
    entry.soname = lib.soname;
    std::string path = NormalizePath(lib.path);
    if (IsWithin(path, build)) {
      entry.path = "<build>/" + RelativePath(path, build);
    } else if (IsWithin(lib.real_path, real_build)) {
      entry.path = "<build>/" + RelativePath(lib.real_path, real_build);
    } else {
      entry.path = path;
      FileHashes hashes;
      if (!HashFile(lib.path, &hashes, err)) {
        return false;
      }
      entry.sha256 = HexEncode(hashes.sha256);
    }
    libs.push_back(entry);
  }
  std::sort(libs.begin(), libs.end(),
            [](const ClosureLibrary& a, const ClosureLibrary& b) { return a.soname < b.soname; });
  *out = std::move(libs);
  return true;
}

}  // namespace wandb_job
