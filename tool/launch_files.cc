#include "launch_files.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "file_util.h"
#include "json_access.h"

namespace wandb_job {
namespace {

using ordered_json = nlohmann::ordered_json;

bool IsPlainChar(char c, const char* extra) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view(extra).find(c) != std::string_view::npos;
}

// Unit tests and their helpers stay out of the shim's sources: the image builds the tool only.
bool IsTestSource(const std::string& rel) {
  std::string name = rel.substr(rel.rfind('/') + 1);
  return (name.size() > 8 && name.compare(name.size() - 8, 8, "_test.cc") == 0) ||
         name.rfind("test_util.", 0) == 0 || name == "wandb_test_util.h";
}

}  // namespace

std::string ConfigureRecord::ToJson() const {
  ordered_json j;
  j["format"] = 1;
  j["target"] = target;
  j["program"] = program;
  j["target_relpath"] = target_relpath;
  j["source_subdir"] = source_subdir;
  j["build_type"] = build_type;
  j["generator"] = generator;
  j["toolchain_file"] = toolchain_file;
  j["cmake_args"] = cmake_args;
  return j.dump(2) + "\n";
}

bool ConfigureRecord::FromJson(const std::string& text, ConfigureRecord* out, std::string* err) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("format") || j["format"] != 1) {
    *err = "not a configure record of this wandb-job version (no \"format\": 1)";
    return false;
  }
  ConfigureRecord r;
  JsonFields<nlohmann::json> f(j);
  const Field opt = Field::kOptional;
  if (!f.String("target", &r.target, err) || !f.String("program", &r.program, err) ||
      !f.String("target_relpath", &r.target_relpath, err) ||
      !f.String("source_subdir", &r.source_subdir, err, opt) ||
      !f.String("build_type", &r.build_type, err, opt) ||
      !f.String("generator", &r.generator, err, opt) ||
      !f.String("toolchain_file", &r.toolchain_file, err, opt) ||
      !f.Strings("cmake_args", &r.cmake_args, err, opt)) {
    return false;
  }
  for (const std::string* rel : {&r.source_subdir, &r.toolchain_file, &r.target_relpath}) {
    if (!rel->empty() &&
        ((*rel)[0] == '/' || ("/" + *rel + "/").find("/../") != std::string::npos)) {
      *err = "path '" + *rel + "' is not inside the code";
      return false;
    }
  }
  if (r.target.empty() || r.program.empty() || r.target_relpath.empty()) {
    *err = "target, program and target_relpath must not be empty";
    return false;
  }
  *out = std::move(r);
  return true;
}

std::vector<std::string> ConfigureCommand(const ConfigureRecord& record,
                                          const std::string& code_root,
                                          const std::string& build_dir) {
  std::string source =
      record.source_subdir.empty() ? code_root : JoinPath(code_root, record.source_subdir);
  std::vector<std::string> argv = {
      "cmake", "-S", source, "-B", build_dir, "-G", "Ninja", "--no-warn-unused-cli",
      "-DCMAKE_BUILD_TYPE=" + (record.build_type.empty() ? "Release" : record.build_type)};
  if (!record.toolchain_file.empty()) {
    argv.push_back("-DCMAKE_TOOLCHAIN_FILE=" + JoinPath(code_root, record.toolchain_file));
  }
  // find_package(WandbJob) finds the carried package; with the capture off, wandb_add_job()
  // needs no helper, and a vendored wandb-job builds neither its tool nor its tests.
  argv.insert(argv.end(), {"-DWandbJob_DIR=" + JoinPath(code_root, kLaunchPackageDir),
                           "-DWANDB_JOB_CAPTURE=OFF", "-DWANDB_JOB_BUILD_TOOL=OFF",
                           "-DWANDB_JOB_BUILD_TESTS=OFF"});
  argv.insert(argv.end(), record.cmake_args.begin(), record.cmake_args.end());
  return argv;
}

std::vector<std::string> BuildCommand(const ConfigureRecord& record,
                                      const std::string& build_dir) {
  return {"cmake", "--build", build_dir, "--target", record.target};
}

std::vector<std::string> ShimEntrypoint(const std::string& program) {
  return {kImageShimPath, "exec",
          "--job-spec",   std::string(kImageCodeDir) + "/" + kLaunchJobSpec,
          "--",           "/usr/local/bin/" + program};
}

bool CheckEntrypointWord(const std::string& word, std::string* err) {
  bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return IsPlainChar(c, "_./+=:@-");
  });
  if (!plain) {
    *err = "'" + word + "' can't be part of a job's entrypoint: W&B's runners split or quote "
           "it; use only letters, digits and _./+=:@-";
    return false;
  }
  return true;
}

std::string ShellWord(const std::string& word) {
  bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return IsPlainChar(c, "_./+=:@,%-");
  });
  if (plain) {
    return word;
  }
  std::string out = "'";
  for (char c : word) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

bool ShimJobSpecJson(const std::string& config_json, const std::vector<std::string>& args,
                     std::string* out, std::string* err) {
  ordered_json config = config_json.empty() ? ordered_json::object()
                                            : ordered_json::parse(config_json, nullptr, false);
  if (!config.is_object()) {
    *err = "the default config is not a JSON object";
    return false;
  }
  ordered_json spec;
  spec["config"] = config;
  spec["args"] = args;
  *out = spec.dump(2) + "\n";
  return true;
}

bool ToolSourceFiles(const std::string& dir, std::vector<std::string>* out, std::string* err) {
  out->clear();
  for (const char* must : {"CMakeLists.txt", "tool/CMakeLists.txt", "cmake/WandbJob.cmake"}) {
    if (!FileExists(JoinPath(dir, must)) || IsDirectory(JoinPath(dir, must))) {
      *err = "the wandb-job sources are not at " + dir + " (no " + must +
             "); set WANDB_JOB_SOURCE_DIR to a wandb-job source tree";
      return false;
    }
  }
  out->push_back("CMakeLists.txt");
  for (const char* sub : {"cmake", "include", "templates", "tool"}) {
    std::string root = JoinPath(dir, sub);
    if (!IsDirectory(root)) {
      continue;
    }
    bool ok = WalkDirectory(
        root,
        [&](const DirEntry& e) {
          std::string rel = std::string(sub) + "/" + e.relpath;
          if (!e.is_dir && !e.is_symlink && !IsTestSource(rel)) {
            out->push_back(rel);
          }
          return true;
        },
        err);
    if (!ok) {
      *err = "reading the wandb-job sources at " + dir + ": " + *err;
      return false;
    }
  }
  std::sort(out->begin(), out->end());
  return true;
}

std::string CarriedPackageConfig() {
  return R"(# The WandbJob package a job's code carries (.wandb-job/cmake): wandb_add_job() and
# WandbJob::api, enough to configure the job's build with WANDB_JOB_CAPTURE=OFF.
include(CMakeFindDependencyMacro)
find_dependency(nlohmann_json 3.9)
if(NOT TARGET WandbJob::api)
  get_filename_component(_wandb_job_include "${CMAKE_CURRENT_LIST_DIR}/../include" ABSOLUTE)
  add_library(WandbJob::api INTERFACE IMPORTED)
  set_target_properties(WandbJob::api PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_wandb_job_include}"
    INTERFACE_LINK_LIBRARIES nlohmann_json::nlohmann_json
    INTERFACE_COMPILE_FEATURES cxx_std_17)
  unset(_wandb_job_include)
endif()
include("${CMAKE_CURRENT_LIST_DIR}/WandbJob.cmake")
)";
}

std::string CarriedPackageVersion(const std::string& version) {
  // Same rule as the installed package: same major and minor version, not older than asked.
  return "set(PACKAGE_VERSION \"" + version + "\")\n" + R"(set(PACKAGE_VERSION_COMPATIBLE FALSE)
if(NOT PACKAGE_FIND_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
elseif(PACKAGE_FIND_VERSION VERSION_LESS_EQUAL PACKAGE_VERSION)
  string(REGEX MATCH "^[0-9]+(\\.[0-9]+)?" _wandb_job_ours "${PACKAGE_VERSION}")
  if(PACKAGE_FIND_VERSION_COUNT LESS 2)
    string(REGEX MATCH "^[0-9]+" _wandb_job_ours "${PACKAGE_VERSION}")
    set(_wandb_job_asked "${PACKAGE_FIND_VERSION_MAJOR}")
  else()
    set(_wandb_job_asked "${PACKAGE_FIND_VERSION_MAJOR}.${PACKAGE_FIND_VERSION_MINOR}")
  endif()
  if(_wandb_job_asked VERSION_EQUAL _wandb_job_ours)
    set(PACKAGE_VERSION_COMPATIBLE TRUE)
  endif()
  unset(_wandb_job_ours)
  unset(_wandb_job_asked)
endif()
if(PACKAGE_FIND_VERSION VERSION_EQUAL PACKAGE_VERSION)
  set(PACKAGE_VERSION_EXACT TRUE)
endif()
)";
}

}  // namespace wandb_job
