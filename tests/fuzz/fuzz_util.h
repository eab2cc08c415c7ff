// Shared by the fuzz targets: a scratch directory for the parsers that read files, and the
// splitting of one input into parts.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>

namespace wandb_job_fuzz {

/// A directory of this process, created on first use and removed at exit.
inline const std::string& ScratchDir() {
  static const std::string dir = [] {
    const char* tmp = getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                          "/wandb-job-fuzz.XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      abort();
    }
    static std::string removed;
    removed = pattern;
    atexit([] { (void)!system(("rm -rf '" + removed + "'").c_str()); });
    return pattern;
  }();
  return dir;
}

/// Writes `data` to `name` in the scratch directory and returns the file's path.
inline std::string WriteScratchFile(const std::string& name, std::string_view data) {
  std::string path = ScratchDir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out) {
    abort();
  }
  return path;
}

/// The text before the first `sep` (all of it when there is none); `*rest` gets what follows.
inline std::string_view SplitFirst(std::string_view data, char sep, std::string_view* rest) {
  size_t at = data.find(sep);
  if (at == std::string_view::npos) {
    *rest = {};
    return data;
  }
  *rest = data.substr(at + 1);
  return data.substr(0, at);
}

inline std::string_view AsView(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace wandb_job_fuzz
