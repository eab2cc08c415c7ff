// What a job is, decided from its input spec and what the build sees (git state, code files,
// lockfiles, the target's ELF closure): the reading half of `wandb-job bundle`. It writes nothing;
// bundle.cc turns a Capture into the bundle's files.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "bundle.h"
#include "code_artifact.h"
#include "elf_closure.h"
#include "git_state.h"
#include "job_spec.h"
#include "launch_files.h"
#include "lockfile.h"

namespace wandb_job {

/// The Dockerfile generated into artifact jobs' code, named in source.dockerfile.
inline constexpr char kGeneratedDockerfile[] = "Dockerfile.wandb";

/// Everything the capture decided, before anything is written.
struct Capture {
  JobInputSpec spec;
  bool in_git = false;
  GitState git;
  std::string code_dir;       // absolute
  std::string code_path;      // the target's path: source dir relative to the root, + target
  std::string naming_project;
  std::string source_type;
  std::string config = "{}";  // merged default config, compact JSON
  std::vector<std::string> rendered_args;
  JobDefinition job;
  std::string job_name, code_name;
  std::vector<std::string> aliases;
  std::string program;          // basename of the target file
  std::string target_relpath;   // target file relative to the build dir, config dir stripped
  bool generate_dockerfile = false;
  // With the generated Dockerfile: the code's .wandb-job/ (launch_files.h).
  ConfigureRecord configure;
  std::vector<std::string> tool_sources;  // relative to spec.tool_source_dir
  CodeSelection code;
  std::vector<FoundLockfile> lockfiles;
  NativeLock native_lock;
  std::vector<SharedLibrary> closure;
  std::set<std::string> inputs;  // depfile
  // Directories whose listing decides the code: adding a file changes their mtime.
  std::set<std::string> input_dirs;
};

/// Reads the job spec and decides everything above. Errors name the target.
bool CaptureJob(const BundleOptions& options, Capture* out, std::string* err);

}  // namespace wandb_job
