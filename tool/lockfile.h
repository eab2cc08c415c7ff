// The job's dependency lockfile: the ecosystem lockfiles found in (or given to) the project, and
// the native lock the helper writes (toolchain, FetchContent sources, runtime closure).
// Not a file lock.
#pragma once

#include <string>
#include <vector>

#include "elf_closure.h"

namespace wandb_job {

/// A lockfile that goes into the job artifact under "lockfiles/<relpath>".
struct FoundLockfile {
  std::string path;     // absolute, on this machine (never written to the bundle)
  std::string relpath;  // relative to the code dir (or its basename when outside it)
  std::string kind;     // "vcpkg", "vcpkg-configuration", "conan", "cpm", "pip", "user"
};

/// Looks for vcpkg.json, vcpkg-configuration.json, conan.lock, package-lock.cmake (CPM) and
/// requirements.txt in each of `dirs` (not recursively), then adds `given` (kind "user"; a missing
/// given file is an error; a relative one is relative to `code_dir`). No duplicates (the same
/// file found twice is listed once; two files with the same relpath are an error); sorted by
/// relpath.
bool FindLockfiles(const std::vector<std::string>& dirs, const std::vector<std::string>& given,
                   const std::string& code_dir, std::vector<FoundLockfile>* out, std::string* err);

/// A dependency that CMake's FetchContent populated in this build.
struct FetchContentSource {
  std::string name;
  std::string method;     // "git", "url" or "local"
  std::string url;        // GIT_REPOSITORY / URL, credentials removed; empty for "local"
  std::string reference;  // git commit checked out, or URL_HASH ("SHA256=..."), or ""
};

/// Scans FETCHCONTENT_BASE_DIR (`deps_dir`, usually <build>/_deps): each <name>-src directory, with
/// the git commit and remote of a git checkout, or URL and URL_HASH from its <name>-subbuild.
/// A missing deps_dir gives an empty list. Sorted by name. Also reads CMake >= 3.30's direct
/// population (<name>-stamp/*-urlinfo.txt, the checkout's .git/config); a <name>-build without
/// download details is "local" (SOURCE_DIR or FETCHCONTENT_SOURCE_DIR_<NAME>).
bool ScanFetchContent(const std::string& deps_dir, std::vector<FetchContentSource>* out,
                      std::string* err);

struct ClosureLibrary {
  std::string soname;
  std::string path;    // system path, or "<build>/rel/path" for a library built by this project
  std::string sha256;  // hex; empty for libraries built by this project (their identity is the
                       // commit, and their bytes carry build paths)
};

struct NativeLock {
  std::string tool_version;
  std::string compiler_id;       // CMAKE_CXX_COMPILER_ID
  std::string compiler_version;
  std::string cmake_version;
  std::string generator;
  std::string build_type;
  std::string cxx_standard;
  std::string target;
  std::string system;            // CMAKE_SYSTEM_NAME-CMAKE_SYSTEM_PROCESSOR
  std::vector<FetchContentSource> fetchcontent;
  std::vector<ClosureLibrary> runtime;  // sorted by soname
  std::vector<std::pair<std::string, std::string>> lockfiles;  // relpath, sha256 hex
};

/// Canonical JSON: sorted keys, 2-space indent, trailing newline; same lock, same bytes.
std::string NativeLockToJson(const NativeLock& lock);
bool NativeLockFromJson(const std::string& text, NativeLock* out, std::string* err);

/// Turns a resolved closure into lock entries: libraries under `build_dir` become "<build>/..."
/// without a hash; others are hashed with SHA-256.
bool LockRuntimeClosure(const std::vector<SharedLibrary>& closure, const std::string& build_dir,
                        std::vector<ClosureLibrary>* out, std::string* err);

}  // namespace wandb_job
