// Builds the OCI image of an image job into the bundle, without a daemon: the target, its
// runtime shared-library closure and added files in reproducible layers, plus the image config.
// Building only: nothing here touches the network.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "elf_closure.h"

namespace wandb_job {

struct BundleImageInput {
  std::string target;                  // CMake target name (image title)
  std::string target_file;             // absolute path of the built executable
  std::vector<SharedLibrary> closure;  // its resolved runtime closure (interpreter included)
  std::string binary_dir;              // the CMake build directory (libraries built here)
  std::vector<std::string> args;       // ARGS rendered with the default config (image Cmd)
  std::string config;                  // default config, JSON object text
  std::string image;                   // IMAGE reference as given
  std::string base_image;              // BASE_IMAGE reference; "" means scratch
  int64_t created = 0;                 // commit time: SOURCE_DATE_EPOCH of the layers and config
  std::string source_url;              // org.opencontainers.image.source (clean remote URL)
  std::string revision;                // org.opencontainers.image.revision (commit)
  std::vector<std::pair<std::string, std::string>> files;  // extra files: absolute source, dest
};

/// Writes an OCI image layout into `layout_dir` (created). Same input, same bytes.
bool BuildBundleImage(const BundleImageInput& input, const std::string& layout_dir,
                      std::string* err);

}  // namespace wandb_job
