#include "elf_closure.h"

#include <elf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "file_util.h"
#include "test_util.h"

namespace wandb_job {
namespace {

bool HaveCommand(const std::string& name) {
  return system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

std::string Real(const std::string& path) {
  std::string out;
  std::string err;
  EXPECT_TRUE(RealPath(path, &out, &err)) << err;
  return out;
}

// ---- Fabricated ELF files: any class, byte order and machine, without a cross toolchain. ----

struct FakeElf {
  bool is_64bit = true;
  bool little_endian = true;
  unsigned machine = EM_X86_64;
  std::string interpreter;
  std::vector<std::pair<int64_t, std::string>> strings;  // DT_NEEDED, DT_SONAME, ... and values
};

void Put(std::string* buf, size_t offset, size_t width, uint64_t value, bool little) {
  for (size_t i = 0; i < width; ++i) {
    size_t shift = 8 * (little ? i : width - 1 - i);
    (*buf)[offset + i] = static_cast<char>((value >> shift) & 0xff);
  }
}

#define WANDB_JOB_PUT(base, Struct, field, value) \
  Put(&buf, (base) + offsetof(Struct, field), sizeof(Struct::field), (value), f.little_endian)

template <typename Ehdr, typename Phdr, typename Dyn>
std::string BuildElf(const FakeElf& f) {
  const uint64_t vbase = 0x400000;
  std::string strtab(1, '\0');
  std::vector<std::pair<int64_t, uint64_t>> dyn;
  for (const auto& [tag, value] : f.strings) {
    dyn.emplace_back(tag, strtab.size());
    strtab += value + '\0';
  }
  size_t phnum = f.interpreter.empty() ? 2 : 3;
  size_t interp_off = sizeof(Ehdr) + phnum * sizeof(Phdr);
  size_t strtab_off = interp_off + f.interpreter.size() + 1;
  size_t dyn_off = (strtab_off + strtab.size() + 7) / 8 * 8;
  dyn.emplace_back(DT_STRTAB, vbase + strtab_off);
  dyn.emplace_back(DT_STRSZ, strtab.size());
  dyn.emplace_back(DT_NULL, 0);
  size_t total = dyn_off + dyn.size() * sizeof(Dyn);
  std::string buf(total, '\0');
  memcpy(buf.data(), ELFMAG, SELFMAG);
  buf[EI_CLASS] = f.is_64bit ? ELFCLASS64 : ELFCLASS32;
  buf[EI_DATA] = f.little_endian ? ELFDATA2LSB : ELFDATA2MSB;
  buf[EI_VERSION] = EV_CURRENT;
  WANDB_JOB_PUT(0, Ehdr, e_type, ET_DYN);
  WANDB_JOB_PUT(0, Ehdr, e_machine, f.machine);
  WANDB_JOB_PUT(0, Ehdr, e_version, EV_CURRENT);
  WANDB_JOB_PUT(0, Ehdr, e_phoff, sizeof(Ehdr));
  WANDB_JOB_PUT(0, Ehdr, e_ehsize, sizeof(Ehdr));
  WANDB_JOB_PUT(0, Ehdr, e_phentsize, sizeof(Phdr));
  WANDB_JOB_PUT(0, Ehdr, e_phnum, phnum);
  size_t ph = sizeof(Ehdr);
  WANDB_JOB_PUT(ph, Phdr, p_type, PT_LOAD);
  WANDB_JOB_PUT(ph, Phdr, p_vaddr, vbase);
  WANDB_JOB_PUT(ph, Phdr, p_filesz, total);
  WANDB_JOB_PUT(ph, Phdr, p_memsz, total);
  ph += sizeof(Phdr);
  if (!f.interpreter.empty()) {
    WANDB_JOB_PUT(ph, Phdr, p_type, PT_INTERP);
    WANDB_JOB_PUT(ph, Phdr, p_offset, interp_off);
    WANDB_JOB_PUT(ph, Phdr, p_filesz, f.interpreter.size() + 1);
    memcpy(buf.data() + interp_off, f.interpreter.data(), f.interpreter.size());
    ph += sizeof(Phdr);
  }
  WANDB_JOB_PUT(ph, Phdr, p_type, PT_DYNAMIC);
  WANDB_JOB_PUT(ph, Phdr, p_offset, dyn_off);
  WANDB_JOB_PUT(ph, Phdr, p_vaddr, vbase + dyn_off);
  WANDB_JOB_PUT(ph, Phdr, p_filesz, dyn.size() * sizeof(Dyn));
  memcpy(buf.data() + strtab_off, strtab.data(), strtab.size());
  for (size_t i = 0; i < dyn.size(); ++i) {
    WANDB_JOB_PUT(dyn_off + i * sizeof(Dyn), Dyn, d_tag, static_cast<uint64_t>(dyn[i].first));
    WANDB_JOB_PUT(dyn_off + i * sizeof(Dyn), Dyn, d_un, dyn[i].second);
  }
  return buf;
}

#undef WANDB_JOB_PUT

void WriteElf(const std::string& root, const std::string& rel, const FakeElf& f) {
  WriteTestFile(root, rel,
                f.is_64bit ? BuildElf<Elf64_Ehdr, Elf64_Phdr, Elf64_Dyn>(f)
                           : BuildElf<Elf32_Ehdr, Elf32_Phdr, Elf32_Dyn>(f));
}

FakeElf Lib(const std::string& soname, std::vector<std::string> needed = {}) {
  FakeElf f;
  f.strings.emplace_back(DT_SONAME, soname);
  for (const std::string& n : needed) {
    f.strings.emplace_back(DT_NEEDED, n);
  }
  return f;
}

// ---- Real programs, built with g++, and ldd's view of them. ----

// The real paths ldd reports (the interpreter included, the vDSO skipped); "not found" entries
// are returned as "<name>: not found".
std::set<std::string> LddRealPaths(const std::string& exe) {
  std::string out = RunShell("/", "env -u LD_LIBRARY_PATH -u LD_PRELOAD ldd '" + exe + "'");
  std::set<std::string> paths;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    line = line.substr(line.find_first_not_of(" \t"));
    size_t arrow = line.find(" => ");
    std::string path = arrow == std::string::npos ? line : line.substr(arrow + 4);
    if (path.compare(0, 9, "not found") == 0) {
      paths.insert(line.substr(0, arrow) + ": not found");
      continue;
    }
    path = path.substr(0, path.find(" ("));
    if (!path.empty() && path[0] == '/') {
      paths.insert(Real(path));
    }
  }
  return paths;
}

std::set<std::string> ClosureRealPaths(const std::vector<SharedLibrary>& libs) {
  std::set<std::string> paths;
  for (const SharedLibrary& lib : libs) {
    paths.insert(lib.real_path);
  }
  return paths;
}

const SharedLibrary* Find(const std::vector<SharedLibrary>& libs, const std::string& soname) {
  for (const SharedLibrary& lib : libs) {
    if (lib.soname == soname) {
      return &lib;
    }
  }
  return nullptr;
}

// <dir>/app/main -> libfoo.so (app/lib) -> libbar.so (app/lib), each with its own link flags.
void BuildProject(const std::string& dir, const std::string& foo_flags,
                  const std::string& main_flags) {
  WriteTestFile(dir, "src/bar.cc", "int bar() { return 1; }\n");
  WriteTestFile(dir, "src/foo.cc", "int bar();\nint foo() { return bar(); }\n");
  WriteTestFile(dir, "src/main.cc", "int foo();\nint main() { return foo(); }\n");
  RunShell(dir,
           "mkdir -p app/lib && "
           "g++ -shared -fPIC -Wl,-soname,libbar.so -o app/lib/libbar.so src/bar.cc && "
           "g++ -shared -fPIC -Wl,-soname,libfoo.so -o app/lib/libfoo.so src/foo.cc "
           "-Lapp/lib -lbar " +
               foo_flags +
               " && "
               "g++ -o app/main src/main.cc -Lapp/lib -Wl,-rpath-link,app/lib -lfoo " +
               main_flags);
}

class ElfClosureTest : public testing::Test {
 protected:
  void SetUp() override {
    if (!HaveCommand("g++") || !HaveCommand("ldd")) {
      GTEST_SKIP() << "g++ or ldd not on PATH";
    }
  }
  ScopedTempDir tmp_;
};

TEST(ElfInfoTest, ReadsSystemBinary) {
  ElfInfo info;
  std::string err;
  ASSERT_TRUE(ReadElfInfo("/bin/ls", &info, &err)) << err;
  EXPECT_EQ(info.is_64bit, sizeof(void*) == 8);
  EXPECT_EQ(info.little_endian, __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
  EXPECT_FALSE(info.interpreter.empty());
  EXPECT_NE(std::find(info.needed.begin(), info.needed.end(), "libc.so.6"), info.needed.end());
}

TEST(ElfInfoTest, ReadsEveryClassAndByteOrder) {
  ScopedTempDir tmp;
  for (bool is_64bit : {true, false}) {
    for (bool little : {true, false}) {
      FakeElf f;
      f.is_64bit = is_64bit;
      f.little_endian = little;
      f.machine = EM_PPC;
      f.interpreter = "/lib/ld.so.1";
      f.strings = {{DT_NEEDED, "liba.so.1"},
                   {DT_SONAME, "libself.so.2"},
                   {DT_NEEDED, "libb.so"},
                   {DT_RPATH, "/r1::$ORIGIN/r2"},
                   {DT_RUNPATH, "/u1"}};
      WriteElf(tmp.path(), "f", f);
      ElfInfo info;
      std::string err;
      ASSERT_TRUE(ReadElfInfo(tmp.Join("f"), &info, &err)) << err;
      EXPECT_EQ(info.is_64bit, is_64bit);
      EXPECT_EQ(info.little_endian, little);
      EXPECT_EQ(info.machine, unsigned{EM_PPC});
      EXPECT_EQ(info.interpreter, "/lib/ld.so.1");
      EXPECT_EQ(info.soname, "libself.so.2");
      EXPECT_EQ(info.needed, (std::vector<std::string>{"liba.so.1", "libb.so"}));
      EXPECT_EQ(info.rpath, (std::vector<std::string>{"/r1", "$ORIGIN/r2"}));
      EXPECT_EQ(info.runpath, (std::vector<std::string>{"/u1"}));
    }
  }
}

TEST(ElfInfoTest, RejectsNonElfAndMissingFiles) {
  ScopedTempDir tmp;
  WriteTestFile(tmp.path(), "script.sh", "#!/bin/sh\necho hi\n");
  WriteTestFile(tmp.path(), "weird", std::string(ELFMAG) + "\x07\x01" + std::string(64, '\0'));
  ElfInfo info;
  std::string err;
  EXPECT_FALSE(ReadElfInfo(tmp.Join("script.sh"), &info, &err));
  EXPECT_EQ(err, tmp.Join("script.sh") + ": not an ELF file");
  EXPECT_FALSE(ReadElfInfo(tmp.Join("weird"), &info, &err));
  EXPECT_EQ(err, tmp.Join("weird") + ": unsupported ELF class or data encoding");
  EXPECT_FALSE(ReadElfInfo(tmp.Join("missing"), &info, &err));
  EXPECT_EQ(err, tmp.Join("missing") + ": No such file or directory");
  EXPECT_FALSE(ReadElfInfo(tmp.path(), &info, &err));
  EXPECT_EQ(err, tmp.path() + ": not a regular file");
  std::vector<SharedLibrary> libs;
  EXPECT_FALSE(ResolveRuntimeClosure(tmp.Join("script.sh"), {}, &libs, &err));
  EXPECT_EQ(err, tmp.Join("script.sh") + ": not an ELF file");
}

TEST(ElfInfoTest, TruncatedAndCorruptedFilesNeverCrash) {
  ScopedTempDir tmp;
  std::string bytes;
  std::string err;
  ASSERT_TRUE(ReadFile("/bin/ls", &bytes, &err)) << err;
  // One copy, truncated step by step from the end (every length in the first 4 KiB): cheaper
  // than thousands of fresh files.
  const std::string cut = tmp.Join("cut");
  WriteTestFile(tmp.path(), "cut", bytes);
  int parsed = 0;
  for (size_t n = bytes.size(); n-- > 0;) {
    if (n >= 4096 && n % 997 != 0) {
      continue;
    }
    ASSERT_EQ(truncate(cut.c_str(), static_cast<off_t>(n)), 0);
    ElfInfo info;
    if (ReadElfInfo(cut, &info, &err)) {
      ++parsed;
    } else {
      EXPECT_EQ(err.find(cut + ": "), 0u) << err;
    }
  }
  EXPECT_GT(parsed, 0);  // once the dynamic section and strings are in, parsing succeeds
  // Random corruption of the headers, with a fixed seed, patched into one file and undone after
  // each round; resolving must not crash either.
  const std::string bad = tmp.Join("bad");
  const std::string head = bytes.substr(0, std::min<size_t>(bytes.size(), 1 << 16));
  WriteTestFile(tmp.path(), "bad", head);
  FILE* f = fopen(bad.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  std::mt19937 rng(42);
  for (int i = 0; i < 300; ++i) {
    std::vector<size_t> offsets;
    for (int j = 0; j < 8; ++j) {
      offsets.push_back(16 + rng() % 512);
      char c = static_cast<char>(rng());
      fseek(f, static_cast<long>(offsets.back()), SEEK_SET);
      fwrite(&c, 1, 1, f);
    }
    fflush(f);
    ElfInfo info;
    ReadElfInfo(bad, &info, &err);
    std::vector<SharedLibrary> libs;
    ResolveRuntimeClosure(bad, {}, &libs, &err);
    for (size_t offset : offsets) {
      fseek(f, static_cast<long>(offset), SEEK_SET);
      fwrite(&head[offset], 1, 1, f);
    }
    fflush(f);
  }
  fclose(f);
}

TEST_F(ElfClosureTest, SystemBinaryMatchesLdd) {
  std::vector<SharedLibrary> libs;
  std::string err;
  ASSERT_TRUE(ResolveRuntimeClosure("/bin/ls", {}, &libs, &err)) << err;
  EXPECT_EQ(ClosureRealPaths(libs), LddRealPaths("/bin/ls"));
  for (size_t i = 1; i < libs.size(); ++i) {
    EXPECT_LT(libs[i - 1].soname, libs[i].soname);
  }
  int interpreters = 0;
  for (const SharedLibrary& lib : libs) {
    if (lib.is_interpreter) {
      ++interpreters;
      EXPECT_EQ(lib.needed_by.front(), "<executable>");
    }
  }
  EXPECT_EQ(interpreters, 1);
  const SharedLibrary* libc = Find(libs, "libc.so.6");
  ASSERT_NE(libc, nullptr);
  EXPECT_NE(std::find(libc->needed_by.begin(), libc->needed_by.end(), "<executable>"),
            libc->needed_by.end());
}

TEST_F(ElfClosureTest, CompiledProgramMatchesLdd) {
  WriteTestFile(tmp_.path(), "hello.cc",
                "#include <cmath>\n#include <iostream>\n"
                "int main(int argc, char**) { std::cout << std::sqrt(argc) << std::endl; }\n");
  RunShell(tmp_.path(), "g++ -o hello hello.cc");
  std::vector<SharedLibrary> libs;
  std::string err;
  ASSERT_TRUE(ResolveRuntimeClosure(tmp_.Join("hello"), {}, &libs, &err)) << err;
  EXPECT_EQ(ClosureRealPaths(libs), LddRealPaths(tmp_.Join("hello")));
  EXPECT_NE(Find(libs, "libstdc++.so.6"), nullptr);
}

TEST_F(ElfClosureTest, OldRpathOfTheExecutableServesTransitiveDependencies) {
  BuildProject(tmp_.path(), "", "-Wl,--disable-new-dtags -Wl,-rpath,'$ORIGIN/lib'");
  ElfInfo info;
  std::string err;
  ASSERT_TRUE(ReadElfInfo(tmp_.Join("app/main"), &info, &err)) << err;
  EXPECT_EQ(info.rpath, std::vector<std::string>{"$ORIGIN/lib"});
  EXPECT_TRUE(info.runpath.empty());

  std::vector<SharedLibrary> libs;
  ASSERT_TRUE(ResolveRuntimeClosure(tmp_.Join("app/main"), {}, &libs, &err)) << err;
  EXPECT_EQ(ClosureRealPaths(libs), LddRealPaths(tmp_.Join("app/main")));
  const SharedLibrary* foo = Find(libs, "libfoo.so");
  const SharedLibrary* bar = Find(libs, "libbar.so");
  ASSERT_NE(foo, nullptr);
  ASSERT_NE(bar, nullptr);
  std::string app = Real(tmp_.Join("app"));
  EXPECT_EQ(foo->path, app + "/lib/libfoo.so");
  EXPECT_EQ(foo->needed_by, std::vector<std::string>{"<executable>"});
  EXPECT_EQ(bar->real_path, app + "/lib/libbar.so");
  EXPECT_EQ(bar->needed_by, std::vector<std::string>{"libfoo.so"});
  EXPECT_FALSE(bar->is_interpreter);
}

TEST_F(ElfClosureTest, RunpathServesOnlyDirectDependencies) {
  BuildProject(tmp_.path(), "", "-Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/lib'");
  ElfInfo info;
  std::string err;
  ASSERT_TRUE(ReadElfInfo(tmp_.Join("app/main"), &info, &err)) << err;
  EXPECT_EQ(info.runpath, std::vector<std::string>{"$ORIGIN/lib"});

  std::vector<SharedLibrary> libs;
  EXPECT_FALSE(ResolveRuntimeClosure(tmp_.Join("app/main"), {}, &libs, &err));
  EXPECT_EQ(err,
            "libbar.so needed by libfoo.so not found (searched: ld.so.conf, default directories)");
  EXPECT_EQ(LddRealPaths(tmp_.Join("app/main")).count("libbar.so: not found"), 1u);

  // With its own RUNPATH, libfoo finds libbar.
  BuildProject(tmp_.path(), "-Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN'",
               "-Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/lib'");
  ASSERT_TRUE(ResolveRuntimeClosure(tmp_.Join("app/main"), {}, &libs, &err)) << err;
  EXPECT_EQ(ClosureRealPaths(libs), LddRealPaths(tmp_.Join("app/main")));
  ASSERT_NE(Find(libs, "libbar.so"), nullptr);
}

TEST_F(ElfClosureTest, LibraryPathComesAfterRpathAndBeforeRunpath) {
  BuildProject(tmp_.path(), "", "-Wl,--disable-new-dtags -Wl,-rpath,'$ORIGIN/lib'");
  RunShell(tmp_.path(), "mkdir -p other && cp app/lib/libfoo.so app/lib/libbar.so other/");
  ClosureOptions options;
  options.library_path = {tmp_.Join("other")};
  std::vector<SharedLibrary> libs;
  std::string err;
  ASSERT_TRUE(ResolveRuntimeClosure(tmp_.Join("app/main"), options, &libs, &err)) << err;
  std::string real_tmp = Real(tmp_.path());
  EXPECT_EQ(Find(libs, "libfoo.so")->real_path, real_tmp + "/app/lib/libfoo.so");

  BuildProject(tmp_.path(), "", "-Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/lib'");
  ASSERT_TRUE(ResolveRuntimeClosure(tmp_.Join("app/main"), options, &libs, &err)) << err;
  EXPECT_EQ(Find(libs, "libfoo.so")->real_path, real_tmp + "/other/libfoo.so");
  EXPECT_EQ(Find(libs, "libbar.so")->real_path, real_tmp + "/other/libbar.so");
}

TEST_F(ElfClosureTest, MissingLibraryIsAnError) {
  BuildProject(tmp_.path(), "", "-Wl,--disable-new-dtags -Wl,-rpath,'$ORIGIN/lib'");
  std::string app = Real(tmp_.Join("app"));
  RunShell(tmp_.path(), "rm app/lib/libbar.so");
  std::vector<SharedLibrary> libs;
  std::string err;
  EXPECT_FALSE(ResolveRuntimeClosure(tmp_.Join("app/main"), {}, &libs, &err));
  EXPECT_EQ(err, "libbar.so needed by libfoo.so not found (searched: " + app +
                     "/lib, ld.so.conf, default directories)");
  RunShell(tmp_.path(), "rm app/lib/libfoo.so");
  EXPECT_FALSE(ResolveRuntimeClosure(tmp_.Join("app/main"), {}, &libs, &err));
  EXPECT_EQ(err, "libfoo.so needed by main not found (searched: " + app +
                     "/lib, ld.so.conf, default directories)");
}

TEST_F(ElfClosureTest, CandidatesOfAnotherMachineOrClassAreSkipped) {
  BuildProject(tmp_.path(), "-Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN'",
               "-Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/lib'");
  ElfInfo target;
  std::string err;
  ASSERT_TRUE(ReadElfInfo(tmp_.Join("app/main"), &target, &err)) << err;
  FakeElf other_machine = Lib("libfoo.so");
  other_machine.is_64bit = target.is_64bit;
  other_machine.machine = target.machine == EM_X86_64 ? EM_AARCH64 : EM_X86_64;
  WriteElf(tmp_.path(), "machine/libfoo.so", other_machine);
  FakeElf other_class = Lib("libfoo.so");
  other_class.is_64bit = !target.is_64bit;
  other_class.machine = target.machine;
  WriteElf(tmp_.path(), "class/libfoo.so", other_class);
  WriteTestFile(tmp_.path(), "text/libfoo.so", "INPUT(-lfoo)\n");  // a linker script

  ClosureOptions options;
  options.library_path = {tmp_.Join("machine"), tmp_.Join("class"), tmp_.Join("text")};
  std::vector<SharedLibrary> libs;
  ASSERT_TRUE(ResolveRuntimeClosure(tmp_.Join("app/main"), options, &libs, &err)) << err;
  EXPECT_EQ(Find(libs, "libfoo.so")->real_path, Real(tmp_.Join("app/lib/libfoo.so")));
}

TEST_F(ElfClosureTest, StaticExecutableHasEmptyClosure) {
  WriteTestFile(tmp_.path(), "s.cc", "int main() { return 0; }\n");
  RunShell(tmp_.path(), "g++ -static -o s s.cc 2>/dev/null || true");
  std::vector<SharedLibrary> libs = {SharedLibrary()};
  std::string err;
  if (FileExists(tmp_.Join("s"))) {
    ASSERT_TRUE(ResolveRuntimeClosure(tmp_.Join("s"), {}, &libs, &err)) << err;
    EXPECT_TRUE(libs.empty());
  }
  WriteElf(tmp_.path(), "fake-static", FakeElf());
  libs = {SharedLibrary()};
  ASSERT_TRUE(ResolveRuntimeClosure(tmp_.Join("fake-static"), {}, &libs, &err)) << err;
  EXPECT_TRUE(libs.empty());
}

TEST(ElfClosureFakeTest, ExpandsOriginLibAndPlatform) {
  ScopedTempDir tmp;
  FakeElf exe;  // x86_64, 64-bit, whatever the host
  exe.strings = {{DT_NEEDED, "liba.so"},
                 {DT_NEEDED, "libb.so"},
                 {DT_NEEDED, "sub/libq.so"},
                 {DT_RPATH, "${ORIGIN}/sub/$LIB:$ORIGIN/${PLATFORM}:rel"}};
  WriteElf(tmp.path(), "bin/exe", exe);
  WriteElf(tmp.path(), "bin/sub/lib64/liba.so", Lib("liba.so", {"libc.so"}));
  WriteElf(tmp.path(), "bin/x86_64/libb.so", Lib("libb.so"));
  WriteElf(tmp.path(), "bin/sub/libq.so", FakeElf());
  WriteElf(tmp.path(), "bin/rel/libc.so", Lib("libc.so"));
  std::vector<SharedLibrary> libs;
  std::string err;
  ClosureOptions options;
  options.sysroot = tmp.Join("empty-sysroot");
  ASSERT_TRUE(ResolveRuntimeClosure(tmp.Join("bin/exe"), options, &libs, &err)) << err;
  ASSERT_EQ(libs.size(), 4u);
  std::string bin = Real(tmp.Join("bin"));
  EXPECT_EQ(libs[0].soname, "liba.so");
  EXPECT_EQ(libs[0].path, bin + "/sub/lib64/liba.so");
  EXPECT_EQ(libs[1].soname, "libb.so");
  EXPECT_EQ(libs[1].path, bin + "/x86_64/libb.so");
  EXPECT_EQ(libs[2].soname, "libc.so");  // through the executable's RPATH, relative to its dir
  EXPECT_EQ(libs[2].path, bin + "/rel/libc.so");
  EXPECT_EQ(libs[2].needed_by, std::vector<std::string>{"liba.so"});
  EXPECT_EQ(libs[3].soname, "sub/libq.so");
  EXPECT_EQ(libs[3].path, bin + "/sub/libq.so");
}

TEST(ElfClosureFakeTest, SearchesLdSoConfAndDefaultDirsUnderSysroot) {
  ScopedTempDir tmp;
  std::string root = tmp.Join("root");
  WriteTestFile(root, "etc/ld.so.conf",
                "# comment\ninclude ld.so.conf.d/*.conf\nhwcap 1 nosegneg\n/opt/c/lib=libc5\n");
  WriteTestFile(root, "etc/ld.so.conf.d/b.conf", "/opt/b/lib\n");
  WriteTestFile(root, "etc/ld.so.conf.d/a.conf", "  /opt/a/lib/  # trailing\ninclude /etc/x/*\n");
  WriteTestFile(root, "etc/x/nested", "/opt/nested\n");
  FakeElf exe;
  exe.interpreter = "/lib64/ld-fake.so.2";
  exe.strings = {{DT_NEEDED, "libx.so"}, {DT_NEEDED, "libw.so"}, {DT_NEEDED, "libv.so"}};
  WriteElf(tmp.path(), "exe", exe);
  WriteElf(root, "lib64/ld-fake.so.2", Lib("ld-fake.so.2"));
  WriteElf(root, "opt/b/lib/libx.so", Lib("libx.so", {"liby.so", "libn.so", "libc5.so"}));
  WriteElf(root, "opt/b/lib/liby.so", Lib("liby.so"));
  WriteElf(root, "opt/a/lib/liby.so", Lib("liby.so", {"ld-fake.so.2"}));
  WriteElf(root, "opt/nested/libn.so", Lib("libn.so"));
  WriteElf(root, "opt/c/lib/libc5.so", Lib("libc5.so"));
  WriteElf(root, "usr/lib/x86_64-linux-gnu/libw.so", Lib("libw.so"));
  WriteElf(root, "usr/lib64/libw.so", Lib("libw.so"));
  WriteElf(root, "usr/lib/libv.so", Lib("libv.so"));
  ClosureOptions options;
  options.sysroot = root;
  std::vector<SharedLibrary> libs;
  std::string err;
  ASSERT_TRUE(ResolveRuntimeClosure(tmp.Join("exe"), options, &libs, &err)) << err;
  std::map<std::string, std::string> paths;
  for (const SharedLibrary& lib : libs) {
    paths[lib.soname] = lib.path;
  }
  EXPECT_EQ(paths, (std::map<std::string, std::string>{
                       {"ld-fake.so.2", root + "/lib64/ld-fake.so.2"},
                       {"libc5.so", root + "/opt/c/lib/libc5.so"},
                       {"libn.so", root + "/opt/nested/libn.so"},
                       {"libv.so", root + "/usr/lib/libv.so"},
                       {"libw.so", root + "/usr/lib/x86_64-linux-gnu/libw.so"},
                       {"libx.so", root + "/opt/b/lib/libx.so"},
                       {"liby.so", root + "/opt/a/lib/liby.so"},
                   }));
  const SharedLibrary* interp = Find(libs, "ld-fake.so.2");
  EXPECT_TRUE(interp->is_interpreter);
  EXPECT_EQ(interp->needed_by, (std::vector<std::string>{"<executable>", "liby.so"}));

  exe.interpreter = "/lib64/missing.so";
  WriteElf(tmp.path(), "exe", exe);
  EXPECT_FALSE(ResolveRuntimeClosure(tmp.Join("exe"), options, &libs, &err));
  EXPECT_EQ(err, "interpreter /lib64/missing.so not found");
}

TEST(ElfClosureFakeTest, OneObjectPerFileAndRunpathHidesRpath) {
  ScopedTempDir tmp;
  FakeElf exe;
  exe.strings = {{DT_NEEDED, "libm1.so"}, {DT_NEEDED, "libm2.so"}, {DT_RPATH, "$ORIGIN/r"}};
  WriteElf(tmp.path(), "exe", exe);
  FakeElf m1 = Lib("libm1.so", {"libdep.so"});
  m1.strings.emplace_back(DT_RUNPATH, "$ORIGIN/../u");
  m1.strings.emplace_back(DT_RPATH, "$ORIGIN/../hidden");
  WriteElf(tmp.path(), "r/libm1.so", m1);
  RunShell(tmp.path(), "ln -s libm1.so r/libm2.so");
  WriteElf(tmp.path(), "hidden/libdep.so", Lib("libdep.so"));
  WriteElf(tmp.path(), "u/libdep.so", Lib("libdep.so"));
  ClosureOptions options;
  options.sysroot = tmp.Join("no-sysroot");
  std::vector<SharedLibrary> libs;
  std::string err;
  ASSERT_TRUE(ResolveRuntimeClosure(tmp.Join("exe"), options, &libs, &err)) << err;
  ASSERT_EQ(libs.size(), 2u);
  EXPECT_EQ(libs[0].soname, "libdep.so");
  EXPECT_EQ(libs[0].real_path, Real(tmp.Join("u/libdep.so")));
  EXPECT_EQ(libs[1].soname, "libm1.so");
  EXPECT_EQ(libs[1].needed_by, std::vector<std::string>{"<executable>"});
}

}  // namespace
}  // namespace wandb_job
