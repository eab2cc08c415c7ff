// The runtime shared-library closure of an ELF executable, resolved the way the dynamic loader
// (ld.so) would resolve it, by reading ELF headers only: nothing is executed (unlike ldd).
#pragma once

#include <string>
#include <vector>

namespace wandb_job {

struct ElfInfo {
  bool is_64bit = false;
  bool little_endian = true;
  unsigned machine = 0;            // e_machine
  std::string interpreter;         // PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2; empty if static
  std::string soname;              // DT_SONAME
  std::vector<std::string> needed; // DT_NEEDED, in order
  std::vector<std::string> rpath;  // DT_RPATH entries, unexpanded
  std::vector<std::string> runpath;// DT_RUNPATH entries, unexpanded
};

/// Reads the headers of one ELF file. A non-ELF file is an error naming the file.
bool ReadElfInfo(const std::string& path, ElfInfo* out, std::string* err);

struct SharedLibrary {
  std::string soname;      // the DT_NEEDED name it satisfies (or the interpreter's path basename)
  std::string path;        // resolved absolute path, symlinks kept (as ld.so opens it)
  std::string real_path;   // after resolving symlinks
  bool is_interpreter = false;
  std::vector<std::string> needed_by;  // sonames (or "<executable>") that pulled it in
};

struct ClosureOptions {
  /// Directories searched after RUNPATH/RPATH and before the defaults, like LD_LIBRARY_PATH.
  /// Empty by default: the closure must not depend on the caller's environment.
  std::vector<std::string> library_path;
  /// Root for system paths (ld.so.conf, default dirs); "" is "/". Tests point it at a fake tree.
  std::string sysroot;
};

/// Breadth-first closure of `executable`: DT_NEEDED resolved per ld.so(8) (RPATH of the object and
/// its loaders when it has no RUNPATH, library_path, RUNPATH of the object, /etc/ld.so.conf and its
/// includes, then the default directories), $ORIGIN/$LIB/$PLATFORM expanded, libraries of another
/// ELF class or machine skipped, the interpreter included. Sorted by soname. A library that
/// can't be found is an error naming it and what needed it. A static executable has an empty
/// closure.
/// Unlike ld.so, relative DT_NEEDED paths and relative RPATH/RUNPATH entries are taken relative
/// to the executable's directory, not the working directory. `sysroot` prefixes ld.so.conf, the
/// default directories and the interpreter, not RPATH/RUNPATH. $LIB is "lib64" or "lib".
bool ResolveRuntimeClosure(const std::string& executable, const ClosureOptions& options,
                           std::vector<SharedLibrary>* out, std::string* err);

}  // namespace wandb_job
