#include "lockfile.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "file_util.h"
#include "test_util.h"

namespace wandb_job {
namespace {

std::string Trimmed(const std::string& s) { return s.substr(0, s.find_last_not_of("\n") + 1); }

TEST(FindLockfilesTest, FindsKnownNamesAndGivenFiles) {
  ScopedTempDir tmp;
  std::string code = tmp.Join("code");
  WriteTestFile(code, "vcpkg.json", "{}");
  WriteTestFile(code, "vcpkg-configuration.json", "{}");
  WriteTestFile(code, "conan.lock", "{}");
  WriteTestFile(code, "sub/requirements.txt", "numpy==1.0\n");
  WriteTestFile(code, "sub/conan.lock/placeholder", "");  // a directory with a known name
  WriteTestFile(code, "extra/deps.lock", "x");
  WriteTestFile(tmp.path(), "outside/package-lock.cmake", "# cpm\n");
  WriteTestFile(tmp.path(), "elsewhere/pinned.txt", "y");

  std::vector<FoundLockfile> found;
  std::string err;
  ASSERT_TRUE(FindLockfiles({code, code + "/sub", code, tmp.Join("outside")},
                            {"extra/deps.lock", tmp.Join("elsewhere/pinned.txt"), "vcpkg.json"},
                            code, &found, &err))
      << err;
  std::vector<std::vector<std::string>> got;
  for (const FoundLockfile& f : found) {
    got.push_back({f.relpath, f.kind, f.path});
  }
  EXPECT_EQ(
      got,
      (std::vector<std::vector<std::string>>{
          {"conan.lock", "conan", code + "/conan.lock"},
          {"extra/deps.lock", "user", code + "/extra/deps.lock"},
          {"package-lock.cmake", "cpm", tmp.Join("outside/package-lock.cmake")},
          {"pinned.txt", "user", tmp.Join("elsewhere/pinned.txt")},
          {"sub/requirements.txt", "pip", code + "/sub/requirements.txt"},
          {"vcpkg-configuration.json", "vcpkg-configuration", code + "/vcpkg-configuration.json"},
          {"vcpkg.json", "vcpkg", code + "/vcpkg.json"},
      }));
}

TEST(FindLockfilesTest, Errors) {
  ScopedTempDir tmp;
  std::vector<FoundLockfile> found;
  std::string err;
  EXPECT_FALSE(FindLockfiles({}, {"nope.txt"}, tmp.path(), &found, &err));
  EXPECT_EQ(err, "lockfile nope.txt not found");
  WriteTestFile(tmp.path(), "a/requirements.txt", "a");
  WriteTestFile(tmp.path(), "b/requirements.txt", "b");
  EXPECT_FALSE(FindLockfiles({tmp.Join("a"), tmp.Join("b")}, {}, tmp.Join("code"), &found, &err));
  EXPECT_EQ(err, "lockfiles " + tmp.Join("a/requirements.txt") + " and " +
                     tmp.Join("b/requirements.txt") +
                     " would both be stored as lockfiles/requirements.txt");
  ASSERT_TRUE(FindLockfiles({tmp.Join("missing-dir")}, {}, tmp.path(), &found, &err)) << err;
  EXPECT_TRUE(found.empty());
}

// ---- FetchContent ----

TEST(ScanFetchContentTest, MissingDirectoryIsEmpty) {
  ScopedTempDir tmp;
  std::vector<FetchContentSource> sources = {FetchContentSource()};
  std::string err;
  ASSERT_TRUE(ScanFetchContent(tmp.Join("_deps"), &sources, &err)) << err;
  EXPECT_TRUE(sources.empty());
  WriteTestFile(tmp.path(), "file", "");
  EXPECT_FALSE(ScanFetchContent(tmp.Join("file"), &sources, &err));
  EXPECT_EQ(err, "reading " + tmp.Join("file") + ": Not a directory");
}

TEST(ScanFetchContentTest, ParsesSubbuildsStampsAndCheckouts) {
  ScopedTempDir tmp;
  std::string deps = tmp.Join("_deps");
  const std::string commit = "0123456789abcdef0123456789abcdef01234567";
  // A git dependency with credentials in its URL, bracket arguments and comments; its checkout
  // keeps .git in a separate directory and its branch in packed-refs.
  WriteTestFile(deps, "secret-subbuild/CMakeLists.txt",
                "# Name the project and target for the ExternalProject_Add() call\n"
                "project(secret-populate NONE)\n"
                "set(GIT_EXECUTABLE [==[/usr/bin/git]==])\n"
                "ExternalProject_Add(secret-populate # comment (with parens)\n"
                "  \"UPDATE_DISCONNECTED\" \"False\" \"GIT_REPOSITORY\" "
                "[=[https://user:tok@example.com/org/secret.git]=] GIT_TAG \"v\\\"2\"\n"
                "  SOURCE_DIR \"" +
                    deps +
                    "/secret-src\"\n"
                    "  CONFIGURE_COMMAND \"\")\n");
  WriteTestFile(deps, "secret-src/.git", "gitdir: ../secret-gitdir\n");
  WriteTestFile(deps, "secret-gitdir/HEAD", "ref: refs/heads/dev\n");
  WriteTestFile(deps, "secret-gitdir/packed-refs",
                "# pack-refs with: peeled\n" + commit + " refs/heads/dev\n");
  // Its tag is used when the checkout can't be read.
  WriteTestFile(deps, "tagonly-subbuild/CMakeLists.txt",
                "ExternalProject_Add(tagonly-populate GIT_REPOSITORY https://h/t.git "
                "GIT_TAG v1.2)\n");
  // URL with MD5, several URLs.
  WriteTestFile(deps, "md5-subbuild/CMakeLists.txt",
                "ExternalProject_Add(md5-populate \"URL\" \"https://a/x.zip\" "
                "\"https://b/x.zip\" \"URL_MD5\" \"abc\")\n");
  WriteTestFile(deps, "md5-src/x", "");
  // Direct population (no sub-build): the stamp directory's urlinfo.
  WriteTestFile(deps, "direct-src/x", "");
  WriteTestFile(deps, "direct-stamp/direct-urlinfo.txt",
                "# generated\nmethod=url\nurl(s)=https://u:p@d.example/d.tgz\n"
                "hash=SHA256=ff\n");
  // Direct population of a git checkout: the origin URL comes from .git/config.
  WriteTestFile(deps, "gitdirect-src/.git/HEAD", commit + "\n");
  WriteTestFile(deps, "gitdirect-src/.git/config",
                "[core]\n\tbare = false\n[remote \"origin\"]\n\turl = https://g.example/r.git\n"
                "\tfetch = +refs/heads/*:refs/remotes/origin/*\n");
  // FETCHCONTENT_SOURCE_DIR_<NAME>: only a build directory.
  WriteTestFile(deps, "override-build/CMakeCache.txt", "");
  // A source directory nobody describes, and unrelated entries.
  WriteTestFile(deps, "mystery-src/x", "");
  WriteTestFile(deps, "notes-src", "a file, not a directory");
  WriteTestFile(deps, "-src/x", "");

  std::vector<FetchContentSource> sources;
  std::string err;
  ASSERT_TRUE(ScanFetchContent(deps, &sources, &err)) << err;
  std::vector<std::vector<std::string>> got;
  for (const FetchContentSource& s : sources) {
    got.push_back({s.name, s.method, s.url, s.reference});
  }
  EXPECT_EQ(got, (std::vector<std::vector<std::string>>{
                     {"direct", "url", "https://d.example/d.tgz", "SHA256=ff"},
                     {"gitdirect", "git", "https://g.example/r.git", commit},
                     {"md5", "url", "https://a/x.zip", "MD5=abc"},
                     {"override", "local", "", ""},
                     {"secret", "git", "https://example.com/org/secret.git", commit},
                     {"tagonly", "git", "https://h/t.git", "v1.2"},
                 }));
}

TEST(ScanFetchContentTest, RealFetchContentProject) {
  if (system("command -v cmake >/dev/null 2>&1 && command -v git >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "cmake or git not on PATH";
  }
  ScopedTempDir tmp;
  const std::string t = tmp.path();
  WriteTestFile(t, "pkg/tarlib/CMakeLists.txt", "add_library(tarlib INTERFACE)\n");
  RunShell(t, "tar -C pkg -czf tarlib.tar.gz tarlib");
  std::string sha = Trimmed(RunShell(t, "sha256sum tarlib.tar.gz | cut -d' ' -f1"));
  // Two dependencies come from this repository: their targets are named after their directory.
  MakeTestRepo(t + "/gitdep", {{"CMakeLists.txt",
                                "get_filename_component(n ${CMAKE_CURRENT_SOURCE_DIR} NAME)\n"
                                "add_library(${n} INTERFACE)\n"}});
  RunShell(t + "/gitdep", "git tag v1 && git commit -q --allow-empty -m second");
  std::string v1 = Trimmed(RunShell(t + "/gitdep", "git rev-parse v1"));
  std::string main_commit = Trimmed(RunShell(t + "/gitdep", "git rev-parse main"));
  WriteTestFile(t, "localdep/CMakeLists.txt", "add_library(localdep INTERFACE)\n");
  WriteTestFile(t, "proj/CMakeLists.txt",
                "cmake_minimum_required(VERSION 3.24)\n"
                "project(p NONE)\n"
                "include(FetchContent)\n"
                "FetchContent_Declare(TarLib URL file://" +
                    t +
                    "/tarlib.tar.gz\n"
                    "  URL_HASH SHA256=" +
                    sha +
                    ")\n"
                    "FetchContent_Declare(gitdep GIT_REPOSITORY file://" +
                    t +
                    "/gitdep GIT_TAG v1)\n"
                    "FetchContent_Declare(gitbranch GIT_REPOSITORY file://" +
                    t +
                    "/gitdep\n"
                    "  GIT_TAG main)\n"
                    "FetchContent_Declare(localdep SOURCE_DIR " +
                    t +
                    "/localdep)\n"
                    "FetchContent_MakeAvailable(TarLib gitdep gitbranch localdep)\n");
  RunShell(t,
           "if command -v ninja >/dev/null; then g='-GNinja'; fi; "
           "cmake -S proj -B build $g >/dev/null");
  std::vector<FetchContentSource> sources;
  std::string err;
  ASSERT_TRUE(ScanFetchContent(t + "/build/_deps", &sources, &err)) << err;
  std::vector<std::vector<std::string>> got;
  for (const FetchContentSource& s : sources) {
    got.push_back({s.name, s.method, s.url, s.reference});
  }
  EXPECT_EQ(got, (std::vector<std::vector<std::string>>{
                     {"gitbranch", "git", "file://" + t + "/gitdep", main_commit},
                     {"gitdep", "git", "file://" + t + "/gitdep", v1},
                     {"localdep", "local", "", ""},
                     {"tarlib", "url", "file://" + t + "/tarlib.tar.gz", "SHA256=" + sha},
                 }));
}

// ---- Native lock ----

NativeLock SampleLock() {
  NativeLock lock;
  lock.tool_version = "0.1.0";
  lock.compiler_id = "GNU";
  lock.compiler_version = "12.2.0";
  lock.cmake_version = "3.25.1";
  lock.generator = "Ninja";
  lock.build_type = "Release";
  lock.cxx_standard = "17";
  lock.target = "train";
  lock.system = "Linux-x86_64";
  lock.fetchcontent = {{"fmt", "git", "https://github.com/fmtlib/fmt.git", "abc"}};
  lock.runtime = {{"libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6", "00ff"},
                  {"libfoo.so", "<build>/lib/libfoo.so", ""}};
  lock.lockfiles = {{"vcpkg.json", "11aa"}};
  return lock;
}

TEST(NativeLockTest, CanonicalJson) {
  EXPECT_EQ(NativeLockToJson(SampleLock()), R"({
  "fetchcontent": [
    {
      "method": "git",
      "name": "fmt",
      "reference": "abc",
      "url": "https://github.com/fmtlib/fmt.git"
    }
  ],
  "lockfiles": [
    {
      "path": "vcpkg.json",
      "sha256": "11aa"
    }
  ],
  "runtime": [
    {
      "path": "/lib/x86_64-linux-gnu/libc.so.6",
      "sha256": "00ff",
      "soname": "libc.so.6"
    },
    {
      "path": "<build>/lib/libfoo.so",
      "sha256": "",
      "soname": "libfoo.so"
    }
  ],
  "target": "train",
  "tool_version": "0.1.0",
  "toolchain": {
    "build_type": "Release",
    "cmake_version": "3.25.1",
    "compiler_id": "GNU",
    "compiler_version": "12.2.0",
    "cxx_standard": "17",
    "generator": "Ninja",
    "system": "Linux-x86_64"
  }
}
)");
  EXPECT_EQ(NativeLockToJson(NativeLock()).back(), '\n');
}

TEST(NativeLockTest, RoundTrip) {
  std::string text = NativeLockToJson(SampleLock());
  NativeLock back;
  std::string err;
  ASSERT_TRUE(NativeLockFromJson(text, &back, &err)) << err;
  EXPECT_EQ(NativeLockToJson(back), text);
  EXPECT_EQ(back.runtime[1].path, "<build>/lib/libfoo.so");
  EXPECT_EQ(back.fetchcontent[0].url, "https://github.com/fmtlib/fmt.git");
  ASSERT_TRUE(NativeLockFromJson("{}", &back, &err)) << err;
  EXPECT_EQ(NativeLockToJson(back), NativeLockToJson(NativeLock()));
}

TEST(NativeLockTest, FromJsonErrors) {
  const std::pair<const char*, const char*> cases[] = {
      {"{", "native lock: invalid JSON"},
      {"[]", "native lock: not a JSON object"},
      {R"({"tool_version": 1})", "native lock: \"tool_version\" is not a string"},
      {R"({"toolchain": []})", "native lock: \"toolchain\" is not an object"},
      {R"({"toolchain": {"generator": null}})", "native lock: \"generator\" is not a string"},
      {R"({"runtime": {}})", "native lock: \"runtime\" is not an array"},
      {R"({"lockfiles": ["x"]})", "native lock: \"lockfiles\" holds a non-object"},
      {R"({"fetchcontent": [{"name": false}]})", "native lock: \"name\" is not a string"},
      {R"({"runtime": [{"sha256": 3}]})", "native lock: \"sha256\" is not a string"},
      {R"({"lockfiles": [{"path": []}]})", "native lock: \"path\" is not a string"},
  };
  for (const auto& [text, message] : cases) {
    NativeLock lock;
    std::string err;
    EXPECT_FALSE(NativeLockFromJson(text, &lock, &err)) << text;
    EXPECT_EQ(err, message) << text;
  }
}

TEST(LockRuntimeClosureTest, HashesSystemLibrariesOnly) {
  ScopedTempDir tmp;
  WriteTestFile(tmp.path(), "build/lib/libfoo.so.1", "built");
  RunShell(tmp.path(), "ln -s libfoo.so.1 build/lib/libfoo.so && ln -s build alias");
  WriteTestFile(tmp.path(), "sys/libz.so.1", "system bytes");
  std::string sha = Trimmed(RunShell(tmp.path(), "sha256sum sys/libz.so.1 | cut -d' ' -f1"));
  std::string real_tmp;
  std::string err;
  ASSERT_TRUE(RealPath(tmp.path(), &real_tmp, &err)) << err;

  SharedLibrary z;
  z.soname = "libz.so.1";
  z.path = tmp.Join("sys/./libz.so.1");
  z.real_path = real_tmp + "/sys/libz.so.1";
  SharedLibrary foo;
  foo.soname = "libfoo.so";
  foo.path = tmp.Join("build/bin/../lib/libfoo.so");
  foo.real_path = real_tmp + "/build/lib/libfoo.so.1";
  SharedLibrary via_symlink;  // found through a path outside the build dir that leads into it
  via_symlink.soname = "libbar.so";
  via_symlink.path = tmp.Join("alias/lib/libfoo.so");
  via_symlink.real_path = real_tmp + "/build/lib/libfoo.so.1";

  std::vector<ClosureLibrary> locked;
  ASSERT_TRUE(LockRuntimeClosure({z, foo, via_symlink}, tmp.Join("build"), &locked, &err)) << err;
  ASSERT_EQ(locked.size(), 3u);
  EXPECT_EQ(locked[0].soname, "libbar.so");
  EXPECT_EQ(locked[0].path, "<build>/lib/libfoo.so.1");
  EXPECT_EQ(locked[0].sha256, "");
  EXPECT_EQ(locked[1].soname, "libfoo.so");
  EXPECT_EQ(locked[1].path, "<build>/lib/libfoo.so");
  EXPECT_EQ(locked[1].sha256, "");
  EXPECT_EQ(locked[2].soname, "libz.so.1");
  EXPECT_EQ(locked[2].path, tmp.Join("sys/libz.so.1"));
  EXPECT_EQ(locked[2].sha256, sha);

  z.path = tmp.Join("sys/missing.so");
  EXPECT_FALSE(LockRuntimeClosure({z}, tmp.Join("build"), &locked, &err));
  EXPECT_EQ(err, "reading " + tmp.Join("sys/missing.so") + ": No such file or directory");
}

}  // namespace
}  // namespace wandb_job
