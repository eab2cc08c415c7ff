#include "elf_closure.h"

#include <elf.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <type_traits>

#include "file_util.h"

namespace wandb_job {
namespace {

// Upper bounds for header tables, so that a garbage size can't make us allocate gigabytes.
constexpr uint64_t kMaxPhnum = 1 << 16;
constexpr uint64_t kMaxInterpSize = 4096;
constexpr uint64_t kMaxDynamicSize = 16 << 20;
constexpr uint64_t kMaxStrtabSize = 64 << 20;
constexpr int kMaxIncludeDepth = 16;

// A file read with bounds-checked pread: every read either lies inside the file or fails.
class FileReader {
 public:
  ~FileReader() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  bool Open(const std::string& path, std::string* err) {
    fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd_ < 0 || fstat(fd_, &st) != 0) {
      *err = path + ": " + strerror(errno);
      return false;
    }
    if (!S_ISREG(st.st_mode)) {
      *err = path + ": not a regular file";
      return false;
    }
    size_ = static_cast<uint64_t>(st.st_size);
    return true;
  }
  bool Read(uint64_t offset, uint64_t size, void* out) const {
    if (offset > size_ || size > size_ - offset) {
      return false;
    }
    char* dst = static_cast<char*>(out);
    while (size > 0) {
      ssize_t n = pread(fd_, dst, size, static_cast<off_t>(offset));
      if (n <= 0) {
        return false;
      }
      dst += n;
      offset += static_cast<uint64_t>(n);
      size -= static_cast<uint64_t>(n);
    }
    return true;
  }

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
};

template <typename T>
T Swap(T v, bool swap) {
  static_assert(std::is_integral_v<T>, "integral fields only");
  if (!swap || sizeof(T) == 1) {
    return v;
  }
  if constexpr (sizeof(T) == 2) {
    return static_cast<T>(__builtin_bswap16(static_cast<uint16_t>(v)));
  } else if constexpr (sizeof(T) == 4) {
    return static_cast<T>(__builtin_bswap32(static_cast<uint32_t>(v)));
  } else {
    return static_cast<T>(__builtin_bswap64(static_cast<uint64_t>(v)));
  }
}

struct Segment {
  uint32_t type = 0;
  uint64_t offset = 0;
  uint64_t vaddr = 0;
  uint64_t filesz = 0;
};

// Hand-written: a few fixed <elf.h> structs, no runtime dependency such as libelf needed.
template <typename Ehdr, typename Phdr, typename Shdr, typename Dyn>
bool ReadElfClass(const FileReader& file, const std::string& path, bool swap, ElfInfo* out,
                  std::string* err) {
  auto malformed = [&](const char* what) {
    *err = path + ": truncated or malformed ELF file (" + what + ")";
    return false;
  };
  Ehdr eh;
  if (!file.Read(0, sizeof(eh), &eh)) {
    return malformed("header");
  }
  out->machine = Swap(eh.e_machine, swap);
  uint64_t phoff = Swap(eh.e_phoff, swap);
  uint64_t phentsize = Swap(eh.e_phentsize, swap);
  uint64_t phnum = Swap(eh.e_phnum, swap);
  if (phnum == PN_XNUM) {  // the real count is in section header 0
    Shdr sh;
    if (!file.Read(Swap(eh.e_shoff, swap), sizeof(sh), &sh)) {
      return malformed("section header 0");
    }
    phnum = Swap(sh.sh_info, swap);
  }
  if (phnum == 0) {
    return true;  // a relocatable object: no segments, nothing to load
  }
  if (phentsize < sizeof(Phdr) || phnum > kMaxPhnum) {
    return malformed("program header size");
  }
  std::vector<Segment> segments;
  for (uint64_t i = 0; i < phnum; ++i) {
    Phdr ph;
    if (!file.Read(phoff + i * phentsize, sizeof(ph), &ph)) {
      return malformed("program headers");
    }
    segments.push_back({Swap(ph.p_type, swap), Swap(ph.p_offset, swap), Swap(ph.p_vaddr, swap),
                        Swap(ph.p_filesz, swap)});
  }
  std::vector<Dyn> dynamic;
  for (const Segment& seg : segments) {
    if (seg.type == PT_INTERP) {
      if (seg.filesz == 0 || seg.filesz > kMaxInterpSize) {
        return malformed("PT_INTERP size");
      }
      std::string interp(seg.filesz, '\0');
      if (!file.Read(seg.offset, seg.filesz, interp.data())) {
        return malformed("PT_INTERP");
      }
      out->interpreter = interp.substr(0, interp.find('\0'));
    } else if (seg.type == PT_DYNAMIC && dynamic.empty()) {
      if (seg.filesz > kMaxDynamicSize) {
        return malformed("PT_DYNAMIC size");
      }
      dynamic.resize(seg.filesz / sizeof(Dyn));
      if (!file.Read(seg.offset, dynamic.size() * sizeof(Dyn), dynamic.data())) {
        return malformed("PT_DYNAMIC");
      }
    }
  }
  uint64_t strtab_addr = 0;
  uint64_t strtab_size = 0;
  bool has_strtab = false;
  std::vector<std::pair<int64_t, uint64_t>> strings;  // tag, offset into the string table
  for (const Dyn& d : dynamic) {
    int64_t tag = Swap(d.d_tag, swap);
    uint64_t val = Swap(d.d_un.d_val, swap);
    if (tag == DT_NULL) {
      break;
    }
    if (tag == DT_STRTAB) {
      strtab_addr = val;
      has_strtab = true;
    } else if (tag == DT_STRSZ) {
      strtab_size = val;
    } else if (tag == DT_NEEDED || tag == DT_SONAME || tag == DT_RPATH || tag == DT_RUNPATH) {
      strings.emplace_back(tag, val);
    }
  }
  if (strings.empty()) {
    return true;
  }
  if (!has_strtab) {
    return malformed("no DT_STRTAB");
  }
  // The dynamic section holds virtual addresses: find the PT_LOAD segment holding the table.
  const Segment* load = nullptr;
  for (const Segment& seg : segments) {
    if (seg.type == PT_LOAD && seg.vaddr <= strtab_addr && strtab_addr - seg.vaddr < seg.filesz) {
      load = &seg;
      break;
    }
  }
  if (load == nullptr) {
    return malformed("DT_STRTAB outside PT_LOAD");
  }
  uint64_t in_segment = load->filesz - (strtab_addr - load->vaddr);
  uint64_t size = std::min(strtab_size == 0 ? in_segment : strtab_size, in_segment);
  if (size > kMaxStrtabSize) {
    return malformed("DT_STRSZ");
  }
  std::string strtab(size, '\0');
  if (!file.Read(load->offset + (strtab_addr - load->vaddr), size, strtab.data())) {
    return malformed("string table");
  }
  for (const auto& [tag, offset] : strings) {
    size_t end = offset < strtab.size() ? strtab.find('\0', offset) : std::string::npos;
    if (end == std::string::npos) {
      return malformed("string offset");
    }
    std::string value = strtab.substr(offset, end - offset);
    if (tag == DT_NEEDED) {
      out->needed.push_back(value);
    } else if (tag == DT_SONAME) {
      out->soname = value;
    } else {
      std::vector<std::string>& list = tag == DT_RPATH ? out->rpath : out->runpath;
      size_t start = 0;
      while (start <= value.size()) {
        size_t colon = std::min(value.find(':', start), value.size());
        if (colon > start) {  // empty entries are dropped
          list.push_back(value.substr(start, colon - start));
        }
        start = colon + 1;
      }
    }
  }
  return true;
}

std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Debian's multiarch triplet for an ELF class and machine; "" when unknown.
std::string MultiarchTriplet(const ElfInfo& info) {
  switch (info.machine) {
    case EM_X86_64:
      return info.is_64bit ? "x86_64-linux-gnu" : "x86_64-linux-gnux32";
    case EM_386:
      return "i386-linux-gnu";
    case EM_AARCH64:
      return info.little_endian ? "aarch64-linux-gnu" : "aarch64_be-linux-gnu";
    case EM_ARM:
      return "arm-linux-gnueabihf";
    case EM_PPC64:
      return info.little_endian ? "powerpc64le-linux-gnu" : "powerpc64-linux-gnu";
    case EM_S390:
      return info.is_64bit ? "s390x-linux-gnu" : "";
    case EM_RISCV:
      return info.is_64bit ? "riscv64-linux-gnu" : "";
    default:
      return "";
  }
}

// The value of $PLATFORM (AT_PLATFORM) for an ELF machine.
std::string Platform(const ElfInfo& info) {
  switch (info.machine) {
    case EM_X86_64:
      return "x86_64";
    case EM_386:
      return "i686";
    case EM_AARCH64:
      return "aarch64";
    case EM_PPC64:
      return info.little_endian ? "ppc64le" : "ppc64";
    case EM_S390:
      return "s390x";
    case EM_RISCV:
      return "riscv64";
    default:
      return "";
  }
}

// Replaces $ORIGIN, $LIB and $PLATFORM (with or without braces).
std::string ExpandTokens(const std::string& in, const std::string& origin, const ElfInfo& target) {
  const std::pair<const char*, std::string> tokens[] = {
      {"ORIGIN", origin},
      {"LIB", target.is_64bit ? "lib64" : "lib"},
      {"PLATFORM", Platform(target)},
  };
  std::string out;
  for (size_t i = 0; i < in.size();) {
    bool replaced = false;
    if (in[i] == '$') {
      for (const auto& [name, value] : tokens) {
        std::string plain = std::string("$") + name;
        std::string braced = std::string("${") + name + "}";
        size_t len = 0;
        if (in.compare(i, braced.size(), braced) == 0) {
          len = braced.size();
        } else if (in.compare(i, plain.size(), plain) == 0 &&
                   (i + plain.size() == in.size() ||
                    !(isalnum(static_cast<unsigned char>(in[i + plain.size()])) ||
                      in[i + plain.size()] == '_'))) {
          len = plain.size();
        }
        if (len > 0) {
          out += value;
          i += len;
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) {
      out += in[i++];
    }
  }
  return out;
}

void ParseLdSoConf(const std::string& sysroot, const std::string& file, int depth,
                   std::vector<std::string>* dirs) {
  std::string text;
  std::string err;
  if (depth > kMaxIncludeDepth || !ReadFile(sysroot + file, &text, &err)) {
    return;  // like ldconfig, a missing configuration file is no error
  }
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = std::min(text.find('\n', pos), text.size());
    std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    line = line.substr(0, line.find('#'));
    size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) {
      continue;
    }
    line = line.substr(b, line.find_last_not_of(" \t\r") + 1 - b);
    if (line.compare(0, 8, "include ") == 0 || line.compare(0, 8, "include\t") == 0) {
      std::string rest = line.substr(8) + " ";
      size_t start = rest.find_first_not_of(" \t");
      while (start != std::string::npos) {
        size_t end = rest.find_first_of(" \t", start);
        std::string pattern = rest.substr(start, end - start);
        if (pattern[0] != '/') {
          pattern = "/etc/" + pattern;
        }
        glob_t g;
        if (glob((sysroot + pattern).c_str(), 0, nullptr, &g) == 0) {
          for (size_t i = 0; i < g.gl_pathc; ++i) {
            ParseLdSoConf(sysroot, std::string(g.gl_pathv[i]).substr(sysroot.size()), depth + 1,
                          dirs);
          }
        }
        globfree(&g);
        start = rest.find_first_not_of(" \t", end);
      }
    } else if (line.compare(0, 6, "hwcap ") == 0 || line.compare(0, 6, "hwcap\t") == 0) {
      continue;
    } else {
      line = line.substr(0, line.find('='));  // the obsolete "dir=libtype" form
      while (line.size() > 1 && line.back() == '/') {
        line.pop_back();
      }
      dirs->push_back(sysroot + line);
    }
  }
}

struct Object {
  std::string label;   // "<executable>" or the DT_NEEDED name it was loaded as
  std::string path;    // as opened
  std::string origin;  // $ORIGIN
  ElfInfo info;
  int loader = -1;   // index of the object that first needed it
  int library = -1;  // index into the result, -1 for the executable
};

void AddNeededBy(const std::string& label, SharedLibrary* lib) {
  if (std::find(lib->needed_by.begin(), lib->needed_by.end(), label) == lib->needed_by.end()) {
    lib->needed_by.push_back(label);
  }
}

bool Compatible(const ElfInfo& a, const ElfInfo& b) {
  return a.is_64bit == b.is_64bit && a.little_endian == b.little_endian && a.machine == b.machine;
}

// One breadth-first walk over DT_NEEDED, loading each object once as ld.so does.
class ClosureResolver {
 public:
  explicit ClosureResolver(const ClosureOptions& options)
      : options_(options), sysroot_(options.sysroot == "/" ? "" : options.sysroot) {}

  bool Run(const std::string& executable, std::vector<SharedLibrary>* out, std::string* err);

 private:
  bool LoadInterpreter(std::string* err);
  bool Resolve(int current, const std::string& name, std::string* err);
  std::vector<std::string> UserDirs(int current) const;
  void Add(Object obj, const std::string& real_path, bool is_interpreter,
           const std::string& needed_by);
  // Relative directories (after expansion) are taken relative to the executable's directory:
  // ld.so would use the process's working directory, which the closure must not depend on.
  std::string Absolute(const std::string& dir) const {
    return dir.empty() || dir[0] == '/' ? dir : objects_[0].origin + "/" + dir;
  }
  // True when `path` is an ELF object that can be loaded next to the executable.
  bool Loadable(const std::string& path, ElfInfo* info) const {
    std::string ignored;
    return ReadElfInfo(path, info, &ignored) && Compatible(*info, objects_[0].info);
  }

  const ClosureOptions& options_;
  const std::string sysroot_;
  std::string executable_name_;
  std::deque<Object> objects_;  // a deque: references stay valid while it grows
  std::deque<int> queue_;
  std::vector<SharedLibrary> libs_;
  std::map<std::string, int> by_name_;  // DT_NEEDED names and DT_SONAMEs of loaded objects
  std::map<std::string, int> by_real_path_;
  std::vector<std::string> system_dirs_;  // ld.so.conf, then the default directories
};

bool ClosureResolver::Run(const std::string& executable, std::vector<SharedLibrary>* out,
                          std::string* err) {
  Object exe;
  exe.label = "<executable>";
  exe.path = executable;
  std::string real_exe;
  if (!ReadElfInfo(executable, &exe.info, err) || !RealPath(executable, &real_exe, err)) {
    return false;
  }
  exe.origin = Dirname(real_exe);  // ld.so takes the main program's origin from /proc/self/exe
  executable_name_ = Basename(executable);
  objects_.push_back(std::move(exe));
  queue_.push_back(0);
  if (!LoadInterpreter(err)) {
    return false;
  }
  ParseLdSoConf(sysroot_, "/etc/ld.so.conf", 0, &system_dirs_);
  std::string triplet = MultiarchTriplet(objects_[0].info);
  if (!triplet.empty()) {
    system_dirs_.push_back(sysroot_ + "/lib/" + triplet);
    system_dirs_.push_back(sysroot_ + "/usr/lib/" + triplet);
  }
  for (const char* dir : {"/lib64", "/usr/lib64", "/lib", "/usr/lib"}) {
    system_dirs_.push_back(sysroot_ + dir);
  }
  while (!queue_.empty()) {
    int current = queue_.front();
    queue_.pop_front();
    for (const std::string& name : objects_[current].info.needed) {
      if (!Resolve(current, name, err)) {
        return false;
      }
    }
  }
  std::sort(libs_.begin(), libs_.end(),
            [](const SharedLibrary& a, const SharedLibrary& b) { return a.soname < b.soname; });
  *out = std::move(libs_);
  return true;
}

bool ClosureResolver::LoadInterpreter(std::string* err) {
  const std::string& interp_path = objects_[0].info.interpreter;
  if (interp_path.empty()) {
    return true;  // static, or a shared library given as the executable
  }
  Object interp;
  interp.label = Basename(interp_path);
  interp.path = sysroot_ + interp_path;
  interp.origin = Dirname(interp.path);
  interp.loader = 0;
  std::string real_path;
  if (!FileExists(interp.path) || !RealPath(interp.path, &real_path, err)) {
    *err = "interpreter " + interp_path + " not found";
    return false;
  }
  if (!ReadElfInfo(interp.path, &interp.info, err)) {
    return false;
  }
  Add(std::move(interp), real_path, true, "<executable>");
  return true;
}

// DT_RPATH of the object and its loaders (unless the object has DT_RUNPATH), the library path,
// then the object's DT_RUNPATH. An object's DT_RPATH counts only when it has no DT_RUNPATH.
std::vector<std::string> ClosureResolver::UserDirs(int current) const {
  const Object& obj = objects_[current];
  const ElfInfo& target = objects_[0].info;
  std::vector<std::string> dirs;
  if (obj.info.runpath.empty()) {
    for (int l = current; l >= 0; l = objects_[l].loader) {
      if (objects_[l].info.runpath.empty()) {
        for (const std::string& d : objects_[l].info.rpath) {
          dirs.push_back(Absolute(ExpandTokens(d, objects_[l].origin, target)));
        }
      }
    }
  }
  for (const std::string& d : options_.library_path) {
    dirs.push_back(Absolute(ExpandTokens(d, objects_[0].origin, target)));
  }
  for (const std::string& d : obj.info.runpath) {
    dirs.push_back(Absolute(ExpandTokens(d, obj.origin, target)));
  }
  return dirs;
}

bool ClosureResolver::Resolve(int current, const std::string& name, std::string* err) {
  const Object& obj = objects_[current];
  auto known = by_name_.find(name);
  if (known != by_name_.end()) {
    AddNeededBy(obj.label, &libs_[objects_[known->second].library]);
    return true;
  }
  Object found;
  found.label = name;
  found.loader = current;
  std::vector<std::string> user_dirs;
  if (name.find('/') != std::string::npos) {
    // A DT_NEEDED path: ld.so opens it as is, a relative one from its working directory; we
    // take a relative one from the executable's directory instead.
    std::string path = Absolute(name);
    user_dirs.push_back(Dirname(path));
    if (Loadable(path, &found.info)) {
      found.path = path;
    }
  } else {
    user_dirs = UserDirs(current);
    std::vector<std::string> dirs = user_dirs;
    dirs.insert(dirs.end(), system_dirs_.begin(), system_dirs_.end());
    std::set<std::string> seen;
    for (const std::string& dir : dirs) {
      if (dir.empty() || !seen.insert(dir).second) {
        continue;
      }
      std::string path = dir.back() == '/' ? dir + name : dir + "/" + name;
      if (Loadable(path, &found.info)) {
        found.path = path;
        break;
      }
    }
  }
  if (found.path.empty()) {
    std::string searched;
    std::set<std::string> listed;
    for (const std::string& d : user_dirs) {
      if (listed.insert(d).second) {
        searched += d + ", ";
      }
    }
    if (name.find('/') == std::string::npos) {
      searched += "ld.so.conf, default directories, ";
    }
    *err = name + " needed by " + (current == 0 ? executable_name_ : obj.label) +
           " not found (searched: " + searched.substr(0, searched.size() - 2) + ")";
    return false;
  }
  std::string real_path;
  if (!RealPath(found.path, &real_path, err)) {
    return false;
  }
  auto same_file = by_real_path_.find(real_path);
  if (same_file != by_real_path_.end()) {  // another name for an object already loaded
    by_name_.emplace(name, same_file->second);
    AddNeededBy(obj.label, &libs_[objects_[same_file->second].library]);
    return true;
  }
  found.origin = Dirname(found.path);
  Add(std::move(found), real_path, false, obj.label);
  return true;
}

void ClosureResolver::Add(Object obj, const std::string& real_path, bool is_interpreter,
                          const std::string& needed_by) {
  SharedLibrary lib;
  lib.soname = obj.label;
  lib.path = obj.path;
  lib.real_path = real_path;
  lib.is_interpreter = is_interpreter;
  lib.needed_by.push_back(needed_by);
  obj.library = static_cast<int>(libs_.size());
  libs_.push_back(std::move(lib));
  int index = static_cast<int>(objects_.size());
  by_name_.emplace(obj.label, index);
  if (!obj.info.soname.empty()) {
    by_name_.emplace(obj.info.soname, index);
  }
  by_real_path_.emplace(real_path, index);
  objects_.push_back(std::move(obj));
  queue_.push_back(index);
}

}  // namespace

bool ReadElfInfo(const std::string& path, ElfInfo* out, std::string* err) {
  FileReader file;
  if (!file.Open(path, err)) {
    return false;
  }
  unsigned char ident[EI_NIDENT];
  if (!file.Read(0, sizeof(ident), ident) || memcmp(ident, ELFMAG, SELFMAG) != 0) {
    *err = path + ": not an ELF file";
    return false;
  }
  ElfInfo info;
  if ((ident[EI_CLASS] != ELFCLASS32 && ident[EI_CLASS] != ELFCLASS64) ||
      (ident[EI_DATA] != ELFDATA2LSB && ident[EI_DATA] != ELFDATA2MSB)) {
    *err = path + ": unsupported ELF class or data encoding";
    return false;
  }
  info.is_64bit = ident[EI_CLASS] == ELFCLASS64;
  info.little_endian = ident[EI_DATA] == ELFDATA2LSB;
  const bool host_little = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
  const bool swap = info.little_endian != host_little;
  bool ok = info.is_64bit ? ReadElfClass<Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr, Elf64_Dyn>(
                                file, path, swap, &info, err)
                          : ReadElfClass<Elf32_Ehdr, Elf32_Phdr, Elf32_Shdr, Elf32_Dyn>(
                                file, path, swap, &info, err);
  if (ok) {
    *out = std::move(info);
  }
  return ok;
}

bool ResolveRuntimeClosure(const std::string& executable, const ClosureOptions& options,
                           std::vector<SharedLibrary>* out, std::string* err) {
  return ClosureResolver(options).Run(executable, out, err);
}

}  // namespace wandb_job
