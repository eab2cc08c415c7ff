// Two JSON models: the job input spec that cmake/WandbJob.cmake writes at configure time
// (spec.json), and wandb-job.json, the job description W&B's launcher reads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wandb_job {

/// A code artifact's file may be this large unless MAX_FILE_SIZE says otherwise: GitHub's limit
/// for a file in a repository, so a larger one is data rather than source.
inline constexpr int64_t kDefaultMaxFileBytes = 100 << 20;

/// What wandb_add_job() recorded; written by file(GENERATE), read at build time. Paths are
/// absolute on this machine and never copied into a bundle as they are.
struct JobInputSpec {
  std::string target;
  std::string name, entity, project, source, description;
  std::vector<std::string> aliases;
  std::vector<std::string> args;          // ARGS template, "{key}" placeholders kept
  std::vector<std::string> config_pairs;  // CONFIG key=value
  std::string config_file;                // CONFIG_FILE, absolute or empty
  std::vector<std::string> lockfiles;     // LOCKFILES, absolute
  std::string code_dir;                   // CODE_DIR, absolute or empty (default applies)
  std::vector<std::string> exclude;       // EXCLUDE globs (gitignore syntax)
  std::string dockerfile, build_context, base_image, image;
  std::vector<std::string> extra_files;   // WANDB_JOB_EXTRA_FILES target property, absolute
  int64_t max_file_bytes = kDefaultMaxFileBytes;  // MAX_FILE_SIZE of a code file; 0: no limit
  // Image jobs: IMAGE_FILES (absolute source, absolute destination in the image), IMAGE_ENV
  // ("NAME=value"), IMAGE_WORKING_DIR and IMAGE_USER.
  std::vector<std::pair<std::string, std::string>> image_files;
  std::vector<std::string> image_env;
  std::string image_working_dir, image_user;
  bool image_shim = true;  // IMAGE_SHIM: the image's entrypoint is `wandb-job exec`
  // Repo and artifact jobs: CMAKE_ARGS (-Dvar=value) and PACKAGES (Debian) of the job's build.
  std::vector<std::string> cmake_args, packages;
  // INPUT: JSON object of config key -> {description, enum, minimum, maximum}, or "" for none.
  std::string inputs;
  // From CMake.
  std::string source_dir;         // CMAKE_SOURCE_DIR
  std::string binary_dir;         // CMAKE_BINARY_DIR
  std::string target_source_dir;  // the target's SOURCE_DIR
  std::string project_name;       // CMAKE_PROJECT_NAME
  std::string cmake_version, generator, cxx_compiler_id, cxx_compiler_version;
  std::string system_name, system_processor;
  std::string fetchcontent_base_dir;
  std::string templates_dir;
  std::string toolchain_file;   // CMAKE_TOOLCHAIN_FILE, as given
  std::string module_file;      // the WandbJob.cmake that wrote the spec
  std::string tool_source_dir;  // the helper's source tree (WANDB_JOB_SOURCE_DIR)

  static bool FromJson(std::string_view text, JobInputSpec* out, std::string* err);
};

/// wandb-job.json. Rendered as W&B's `wandb job create` writes it (Python JobBuilder): indent 4,
/// keys _version, source_type, source, input_types, output_types, runtime; source keys in the
/// SDK's insertion order; _version "0.17.0" when dockerfile or build_context is set, else "v0".
struct JobDefinition {
  std::string source_type;  // "repo", "artifact" or "image"
  std::string git_remote, git_commit;  // repo
  std::string artifact;                // artifact: wandb-artifact://_id/<id>
  std::string image;                   // image
  std::vector<std::string> entrypoint;
  std::string build_context, dockerfile, base_image;  // optional, omitted when empty
  std::string input_types = R"({"wb_type":"typedDict","params":{"type_map":{}}})";
  std::string output_types = R"({"wb_type":"typedDict","params":{"type_map":{}}})";
  std::string runtime;

  std::string ToJson() const;
  static bool FromJson(std::string_view text, JobDefinition* out, std::string* err);
};

}  // namespace wandb_job
