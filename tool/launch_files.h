// The `.wandb-job/` directory of an artifact job's code: what the job's image build (and
// `wandb-job run`) needs besides the code itself. The code artifact alone then configures, builds
// and runs the target under the run shim:
//   .wandb-job/job.json           the shim's job spec: default config and ARGS template
//   .wandb-job/configure.json     how the build was configured (ConfigureRecord)
//   .wandb-job/cmake/             the WandbJob package (find_package with -DWandbJob_DIR)
//   .wandb-job/include/wandb/     the C++ API, WandbJob::api of that package
//   .wandb-job/wandb-job-src.tar  the helper's sources, so the image builds the shim
#pragma once

#include <string>
#include <vector>

namespace wandb_job {

inline constexpr char kLaunchDir[] = ".wandb-job";
inline constexpr char kLaunchJobSpec[] = ".wandb-job/job.json";
inline constexpr char kLaunchConfigure[] = ".wandb-job/configure.json";
inline constexpr char kLaunchPackageDir[] = ".wandb-job/cmake";
inline constexpr char kLaunchToolSource[] = ".wandb-job/wandb-job-src.tar";
/// Where the generated Dockerfile copies the code, and the image's working directory.
inline constexpr char kImageCodeDir[] = "/src";
inline constexpr char kImageShimPath[] = "/usr/local/bin/wandb-job";

/// How the job's target is configured and built from its code; written at capture, read by the
/// Dockerfile's steps and `wandb-job run`.
struct ConfigureRecord {
  std::string target;
  std::string program;         // the target file's name, installed as /usr/local/bin/<program>
  std::string target_relpath;  // the target file relative to a single-config build directory
  std::string source_subdir;   // the CMake project relative to the code root, "" for the root
  std::string build_type;      // CMAKE_BUILD_TYPE ($<CONFIG> of the capture)
  std::string generator;       // the generator of the capture's build (a record; builds use Ninja)
  std::string toolchain_file;  // relative to the code root, "" for none
  std::vector<std::string> cmake_args;  // CMAKE_ARGS of wandb_add_job

  std::string ToJson() const;
  static bool FromJson(const std::string& text, ConfigureRecord* out, std::string* err);
};

/// `cmake` configuring the code at `code_root` into `build_dir` as recorded: Ninja, the build
/// type, the toolchain file, the carried WandbJob package, capture off, then CMAKE_ARGS.
std::vector<std::string> ConfigureCommand(const ConfigureRecord& record,
                                          const std::string& code_root,
                                          const std::string& build_dir);
/// `cmake --build` of the record's target.
std::vector<std::string> BuildCommand(const ConfigureRecord& record, const std::string& build_dir);

/// The job's entrypoint: the run shim with the job spec in the image, then the program. No
/// arguments are baked in: the shim renders ARGS with the launch config over the defaults.
std::vector<std::string> ShimEntrypoint(const std::string& program);

/// Entrypoint words must survive W&B's runners, which may split or shell-quote them: only
/// [A-Za-z0-9_./+=:@-], not empty.
bool CheckEntrypointWord(const std::string& word, std::string* err);

/// `word` as one shell word: as is when it is plain, else single-quoted.
std::string ShellWord(const std::string& word);

/// The shim's job spec: {"config": <defaults>, "args": <ARGS template>}.
bool ShimJobSpecJson(const std::string& config_json, const std::vector<std::string>& args,
                     std::string* out, std::string* err);

/// The files of the helper's source tree at `dir` that build it (CMakeLists.txt, cmake/,
/// include/, templates/, tool/ without its tests), relative and sorted. An error when `dir` is
/// not such a tree.
bool ToolSourceFiles(const std::string& dir, std::vector<std::string>* out, std::string* err);

/// WandbJobConfig.cmake and WandbJobConfigVersion.cmake of the carried package.
std::string CarriedPackageConfig();
std::string CarriedPackageVersion(const std::string& version);

}  // namespace wandb_job
