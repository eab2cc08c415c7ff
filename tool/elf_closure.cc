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
  const std::string& sysroot = options.sysroot == "/" ? std::string() : options.sysroot;
  std::deque<Object> objects(1);  // a deque: references stay valid while it grows
  objects[0].label = "<executable>";
  objects[0].path = executable;
  if (!ReadElfInfo(executable, &objects[0].info, err)) {
    return false;
  }
  const ElfInfo target = objects[0].info;
  std::string real_exe;
  if (!RealPath(executable, &real_exe, err)) {
    return false;
  }
  objects[0].origin =
      Dirname(real_exe);  // ld.so takes the main program's origin from /proc/self/exe
  std::vector<SharedLibrary> libs;
  std::map<std::string, int> by_name;  // DT_NEEDED names and DT_SONAMEs of loaded objects
  std::map<std::string, int> by_real_path;
  std::deque<int> queue = {0};

  auto add_object = [&](Object obj, const std::string& real_path, bool is_interpreter,
                        const std::string& needed_by) {
    SharedLibrary lib;
    lib.soname = obj.label;
    lib.path = obj.path;
    lib.real_path = real_path;
    lib.is_interpreter = is_interpreter;
    lib.needed_by.push_back(needed_by);
    obj.library = static_cast<int>(libs.size());
    libs.push_back(lib);
    int index = static_cast<int>(objects.size());
    by_name.emplace(obj.label, index);
    if (!obj.info.soname.empty()) {
      by_name.emplace(obj.info.soname, index);
    }
    by_real_path.emplace(real_path, index);
    objects.push_back(std::move(obj));
    queue.push_back(index);
  };

  if (!target.interpreter.empty()) {
    Object interp;
    interp.label = Basename(target.interpreter);
    interp.path = sysroot + target.interpreter;
    interp.origin = Dirname(interp.path);
    interp.loader = 0;
    std::string real_path;
    if (!FileExists(interp.path) || !RealPath(interp.path, &real_path, err)) {
      *err = "interpreter " + target.interpreter + " not found";
      return false;
    }
    if (!ReadElfInfo(interp.path, &interp.info, err)) {
      return false;
    }
    add_object(std::move(interp), real_path, true, "<executable>");
  }

  std::vector<std::string> conf_dirs;
  ParseLdSoConf(sysroot, "/etc/ld.so.conf", 0, &conf_dirs);
  std::vector<std::string> default_dirs;
  std::string triplet = MultiarchTriplet(target);
  if (!triplet.empty()) {
    default_dirs = {"/lib/" + triplet, "/usr/lib/" + triplet};
  }
  for (const char* dir : {"/lib64", "/usr/lib64", "/lib", "/usr/lib"}) {
    default_dirs.push_back(dir);
  }
  for (std::string& dir : default_dirs) {
    dir = sysroot + dir;
  }

  // Tries `path`; true when it is an existing ELF object loadable next to the executable.
  auto try_candidate = [&](const std::string& path, ElfInfo* info) {
    std::string ignored;
    return ReadElfInfo(path, info, &ignored) && Compatible(*info, target);
  };
  // Relative directories (after expansion) are taken relative to the executable's directory:
  // ld.so would use the process's working directory, which the closure must not depend on.
  auto absolute = [&](const std::string& dir) {
    return dir.empty() || dir[0] == '/' ? dir : objects[0].origin + "/" + dir;
  };

  while (!queue.empty()) {
    int current = queue.front();
    queue.pop_front();
    for (const std::string& name : objects[current].info.needed) {
      const Object& obj = objects[current];
      auto known = by_name.find(name);
      if (known != by_name.end()) {
        AddNeededBy(obj.label, &libs[objects[known->second].library]);
        continue;
      }
      Object found;
      found.label = name;
      found.loader = current;
      std::vector<std::string> user_dirs;  // for the error message
      if (name.find('/') != std::string::npos) {
        // A DT_NEEDED path: ld.so opens it as is, relative to its working directory; we take a
        // relative one relative to the executable's directory instead.
        std::string path = absolute(name);
        user_dirs.push_back(Dirname(path));
        if (try_candidate(path, &found.info)) {
          found.path = path;
        }
      } else {
        std::vector<std::string> dirs;
        if (obj.info.runpath.empty()) {
          for (int l = current; l >= 0; l = objects[l].loader) {
            if (objects[l].info.runpath.empty()) {
              for (const std::string& d : objects[l].info.rpath) {
                dirs.push_back(absolute(ExpandTokens(d, objects[l].origin, target)));
              }
            }
          }
        }
        for (const std::string& d : options.library_path) {
          dirs.push_back(absolute(ExpandTokens(d, objects[0].origin, target)));
        }
        for (const std::string& d : obj.info.runpath) {
          dirs.push_back(absolute(ExpandTokens(d, obj.origin, target)));
        }
        user_dirs = dirs;
        dirs.insert(dirs.end(), conf_dirs.begin(), conf_dirs.end());
        dirs.insert(dirs.end(), default_dirs.begin(), default_dirs.end());
        std::set<std::string> seen;
        for (const std::string& dir : dirs) {
          if (dir.empty() || !seen.insert(dir).second) {
            continue;
          }
          std::string path = dir.back() == '/' ? dir + name : dir + "/" + name;
          if (try_candidate(path, &found.info)) {
            found.path = path;
            break;
          }
        }
      }
      std::string needer = current == 0 ? Basename(executable) : obj.label;
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
        *err = name + " needed by " + needer +
               " not found (searched: " + searched.substr(0, searched.size() - 2) + ")";
        return false;
      }
      std::string real_path;
      if (!RealPath(found.path, &real_path, err)) {
        return false;
      }
      auto same_file = by_real_path.find(real_path);
      if (same_file != by_real_path.end()) {  // another name for an object already loaded
        by_name.emplace(name, same_file->second);
        AddNeededBy(obj.label, &libs[objects[same_file->second].library]);
        continue;
      }
      found.origin = Dirname(found.path);
      add_object(std::move(found), real_path, false, obj.label);
    }
  }
  std::sort(libs.begin(), libs.end(),
            [](const SharedLibrary& a, const SharedLibrary& b) { return a.soname < b.soname; });
  *out = std::move(libs);
  return true;
}

}  // namespace wandb_job
