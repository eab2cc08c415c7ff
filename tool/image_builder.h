// Builds the OCI image of an image job into the bundle, without a daemon: the target, its
// runtime shared-library closure, the run shim and added files in reproducible layers, plus the
// image config.
// Building only: nothing here touches the network (a BASE_IMAGE is merged in at push time).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "elf_closure.h"

namespace wandb_job {

struct BundleImageInput {
  std::string target;                      // CMake target name (image title)
  std::string target_file;                 // absolute path of the built executable
  std::vector<SharedLibrary> closure;      // its resolved runtime closure (interpreter included)
  std::string binary_dir;                  // the CMake build directory (libraries built here)
  std::vector<std::string> args;           // ARGS rendered with the default config (Cmd, no shim)
  std::string config;                      // default config, JSON object text
  std::vector<std::string> args_template;  // ARGS with "{key}" kept (the shim's job spec)
  /// The run shim: an absolute path of a `wandb-job` executable that becomes the entrypoint
  /// (`wandb-job exec`); "" for none (the program is the entrypoint).
  std::string shim_file;
  std::vector<SharedLibrary> shim_closure;  // its resolved runtime closure
  std::string image;                        // IMAGE reference as given
  std::string base_image;                   // BASE_IMAGE reference; "" means scratch
  int64_t created = 0;     // commit time: SOURCE_DATE_EPOCH of the layers and config
  std::string source_url;  // org.opencontainers.image.source (clean remote URL)
  std::string revision;    // org.opencontainers.image.revision (commit)
  std::vector<std::pair<std::string, std::string>> files;  // extra files: absolute source, dest
  std::vector<std::string> env;  // extra "NAME=value" entries (after PATH, LD_LIBRARY_PATH)
  std::string working_dir;       // "" is "/"
  std::string user;              // "" is root
  /// Compressed layers kept between builds so an unchanged layer is not compressed again
  /// (e.g. <binary_dir>/wandb-jobs/.layers); "" for none.
  std::string layer_cache_dir;
};

// The filesystem of the image (docs/image.md):
//   /usr/local/bin/<program>          the target, RPATH/RUNPATH removed
//   /usr/local/bin/wandb-job          the shim, likewise (with shim_file)
//   /etc/wandb-job/job.json           {"config": defaults, "args": template} (with shim_file)
//   /usr/local/lib/<soname>           libraries built in the project (below binary_dir), likewise
//   <original absolute path>          every other library of the closure and the dynamic loader
//                                     (scratch images)
//   /opt/wandb-job/lib/<soname>       every library and the loader (with a BASE_IMAGE, so the
//                                     base's own /lib stays untouched; the entrypoint runs the
//                                     loader explicitly)
//   <dest>                            FILES
// Env LD_LIBRARY_PATH lists the library directories, project libraries first. Layers, bottom to
// top: the shim and its closure (mtime 0: the same for every job and commit), the target's other
// system libraries, project libraries, files, the program (and job.json); empty layers are left
// out. With the shim, Entrypoint is `wandb-job exec --job-spec /etc/wandb-job/job.json --
// <program>` and Cmd is empty (a BASE_IMAGE: the loader runs both, Cmd is the ARGS template).

/// Writes an OCI image layout into `layout_dir` (replaced). Same input, same bytes.
bool BuildBundleImage(const BundleImageInput& input, const std::string& layout_dir,
                      std::string* err);

/// The image's copy of an ELF file built in the project: DT_RPATH/DT_RUNPATH entries removed
/// (their strings zeroed unless shared) and the GNU build ID recomputed from the result, so the
/// build directory leaves no trace. `*changed` is false (and `*out` the file) without either.
bool StripBuildPaths(const std::string& path, std::string* out, bool* changed, std::string* err);

}  // namespace wandb_job
