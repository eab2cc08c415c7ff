#include "bundle.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>

#include "atomic_file.h"
#include "ci_env.h"
#include "code_artifact.h"
#include "elf_closure.h"
#include "file_util.h"
#include "git_state.h"
#include "hash.h"
#include "image_builder.h"
#include "job_args.h"
#include "job_spec.h"
#include "lockfile.h"
#include "log.h"
#include "remote_url.h"
#include "version.h"
#include "wandb_types.h"

namespace wandb_job {
namespace {

using ordered_json = nlohmann::ordered_json;

constexpr char kBundleFormat[] = "wandb-job-bundle/1";
constexpr char kGeneratedDockerfile[] = "Dockerfile.wandb";
// The job artifact's record of the image it runs (image jobs): the image layout's manifest
// digest, so that a new image makes a new job version.
constexpr char kImageLockFile[] = "wandb-job.image.json";
constexpr char kDefaultAptPackages[] =
    "ca-certificates cmake g++ git make ninja-build nlohmann-json3-dev pkg-config";

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
  CodeSelection code;
  std::vector<FoundLockfile> lockfiles;
  NativeLock native_lock;
  std::vector<SharedLibrary> closure;
  std::set<std::string> inputs;  // depfile
  // Directories whose listing decides the code: adding a file changes their mtime.
  std::set<std::string> input_dirs;
};

std::string RandomSuffix() {
  std::random_device rd;
  return std::to_string(rd()) + std::to_string(rd());
}

bool ReadJsonObject(const std::string& path, const char* what, std::string* json,
                    std::string* err) {
  std::string text;
  if (!ReadFile(path, &text, err)) {
    return false;
  }
  ordered_json j = ordered_json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    *err = std::string(what) + " " + path + " is not a JSON object";
    return false;
  }
  *json = j.dump();
  return true;
}

// W&B's image rule (§1.3.1): the text after the last ':' is a tag when it matches
// [A-Za-z0-9_.-]+; the name is the reference with ":<tag>" removed.
std::string ImageNameWithoutTag(const std::string& image, std::string* tag) {
  size_t colon = image.rfind(':');
  tag->clear();
  if (colon == std::string::npos) {
    return image;
  }
  std::string candidate = image.substr(colon + 1);
  static const std::regex kTag("[A-Za-z0-9_.\\-]+");
  if (!std::regex_match(candidate, kTag)) {
    return image;
  }
  *tag = candidate;
  std::string name = image;
  std::string needle = ":" + candidate;
  for (size_t pos; (pos = name.find(needle)) != std::string::npos;) {
    name.erase(pos, needle.size());  // Python's str.replace removes every occurrence.
  }
  return name;
}

bool IsMultiConfig(const std::string& generator) {
  return generator.find("Multi-Config") != std::string::npos ||
         generator.rfind("Visual Studio", 0) == 0 || generator == "Xcode";
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

// libgit2 reports the work tree with symlinks resolved; so must every path compared with it.
bool ResolveSpecPaths(JobInputSpec* s, std::string* err) {
  for (std::string* path : {&s->source_dir, &s->binary_dir, &s->target_source_dir, &s->code_dir,
                            &s->config_file, &s->dockerfile, &s->build_context}) {
    if (!path->empty() && FileExists(*path) && !RealPath(*path, path, err)) {
      return false;
    }
  }
  for (std::vector<std::string>* list : {&s->lockfiles, &s->extra_files}) {
    for (std::string& path : *list) {
      if (FileExists(path) && !RealPath(path, &path, err)) {
        return false;
      }
    }
  }
  return true;
}

bool ResolvePaths(Capture* c, std::string* err) {
  if (!ResolveSpecPaths(&c->spec, err)) {
    return false;
  }
  const JobInputSpec& s = c->spec;
  GitOptions git_options;
  CiEnvironment ci = ReadCiEnvironment(ProcessEnv());
  git_options.pushed_commit = ci.commit;
  GitStatus status = ReadGitState(s.target_source_dir, git_options, &c->git, err);
  if (status == GitStatus::kError) {
    *err = "reading git state of " + s.target_source_dir + ": " + *err;
    return false;
  }
  c->in_git = status == GitStatus::kOk;
  if (c->in_git) {
    c->inputs.insert(c->git.inputs.begin(), c->git.inputs.end());
  }
  if (c->in_git && c->git.remote_url.empty()) {
    // A CI checkout without a remote: the CI's variables name the repository (docs/ci.md). They
    // are not depfile inputs; they apply only under GITHUB_ACTIONS/GITLAB_CI, whose builds are
    // fresh, and name the same repository on every build.
    if (!ci.remote_url.empty()) {
      c->git.remote_name =
          ci.provider == CiProvider::kGitHub ? "GITHUB_REPOSITORY" : "CI_PROJECT_URL";
      c->git.remote_url = ci.remote_url;
      Info("%s: no git remote; the repository is %s (from the %s variables)", s.target.c_str(),
           ci.remote_url.c_str(), CiProviderName(ci.provider));
    }
  }
  c->code_dir = !s.code_dir.empty() ? s.code_dir : c->in_git ? c->git.root : s.source_dir;
  c->code_dir = NormalizePath(c->code_dir);
  if (!IsDirectory(c->code_dir)) {
    *err = "CODE_DIR " + c->code_dir + " is not a directory";
    return false;
  }
  std::string root = c->in_git ? c->git.root : c->code_dir;
  std::string rel = RelativePath(s.target_source_dir, root);
  if (rel.rfind("..", 0) == 0) {
    rel = ".";  // The target lives outside the code root: name it by the target alone.
  }
  c->code_path = rel == "." ? s.target : rel + "/" + s.target;
  c->naming_project = !s.project.empty() ? s.project : s.project_name;
  return true;
}

bool DecideSource(Capture* c, std::string* err) {
  const JobInputSpec& s = c->spec;
  bool remote_ok = c->in_git && !c->git.remote_url.empty() && AgentCanClone(c->git.remote_url);
  bool has_commit = c->in_git && !c->git.commit.empty();
  if (!s.source.empty()) {
    c->source_type = s.source;
  } else if (!s.image.empty()) {
    c->source_type = "image";
  } else if (remote_ok && has_commit) {
    c->source_type = "repo";
  } else {
    c->source_type = "artifact";
    if (c->in_git && !c->git.remote_url.empty() && !remote_ok) {
      Warning("%s: remote '%s' can't be cloned by W&B's agent (it takes https, ssh and scp-like "
              "URLs); the job packages the code as an artifact instead",
              s.target.c_str(), c->git.remote_name.c_str());
    }
  }
  if (c->source_type == "repo") {
    if (!c->in_git) {
      *err = "SOURCE repo needs a git repository, but " + s.target_source_dir +
             " is not in one; use SOURCE artifact";
      return false;
    }
    if (!has_commit) {
      *err = "SOURCE repo needs a commit, but HEAD of " + c->git.root +
             " has none yet; commit first or use SOURCE artifact";
      return false;
    }
    if (c->git.remote_url.empty()) {
      *err = "SOURCE repo needs a git remote, but " + c->git.root +
             " has none; add one (git remote add origin URL) or use SOURCE artifact";
      return false;
    }
    if (!remote_ok) {
      *err = "SOURCE repo needs a remote W&B's agent can clone (https, ssh or scp-like), but '" +
             c->git.remote_name + "' is not one; use SOURCE artifact";
      return false;
    }
    if (s.dockerfile.empty() && s.base_image.empty()) {
      Warning("%s: repo job without DOCKERFILE or BASE_IMAGE: W&B's agent can only build Python "
              "jobs by itself; commit a Dockerfile (templates/Dockerfile.in is a start) and pass "
              "DOCKERFILE",
              s.target.c_str());
    }
  }
  if (c->source_type == "image" && s.image.empty()) {
    *err = "SOURCE image needs IMAGE";
    return false;
  }
  return true;
}

bool BuildConfig(Capture* c, std::string* err) {
  const JobInputSpec& s = c->spec;
  std::string base = "{}";
  if (!s.config_file.empty()) {
    if (!ReadJsonObject(s.config_file, "CONFIG_FILE", &base, err)) {
      return false;
    }
    c->inputs.insert(s.config_file);
  }
  std::string pairs;
  if (!ConfigPairsToJson(s.config_pairs, &pairs, err) ||
      !MergeJsonObjects(base, pairs, &c->config, err)) {
    return false;
  }
  if (!RenderArgs(s.args, c->config, &c->rendered_args, err)) {
    *err = "ARGS of " + s.target + ": " + *err;
    return false;
  }
  return InputTypesFromConfig(c->config, &c->job.input_types, err);
}

// Paths the job records are relative to the repository (repo jobs) or the code artifact's root.
bool RelativeToRoot(const std::string& path, const std::string& root, const char* what,
                    std::string* out, std::string* err) {
  if (path.empty()) {
    out->clear();
    return true;
  }
  if (!IsWithin(path, root)) {
    *err = std::string(what) + " " + path + " lies outside " + root;
    return false;
  }
  *out = RelativePath(path, root);
  return true;
}

bool BuildJobDefinition(Capture* c, const BundleOptions& options, std::string* err) {
  const JobInputSpec& s = c->spec;
  JobDefinition& job = c->job;
  job.source_type = c->source_type;
  c->program = options.target_file.substr(options.target_file.rfind('/') + 1);
  std::string rel = RelativePath(options.target_file, s.binary_dir);
  if (IsMultiConfig(s.generator) && !options.build_type.empty() &&
      rel.rfind(options.build_type + "/", 0) == 0) {
    rel = rel.substr(options.build_type.size() + 1);  // The image build is single-config.
  }
  c->target_relpath = rel;

  std::string root = c->source_type == "repo" ? c->git.root : c->code_dir;
  std::string context_abs = s.build_context.empty() ? root : s.build_context;
  if (!RelativeToRoot(s.build_context, root, "BUILD_CONTEXT", &job.build_context, err) ||
      !RelativeToRoot(s.dockerfile, context_abs, "DOCKERFILE", &job.dockerfile, err)) {
    return false;
  }
  if (c->source_type != "image") {
    job.base_image = s.base_image;  // An image job's BASE_IMAGE is the base of the image built.
  }
  std::string build_type = options.build_type.empty() ? "Release" : options.build_type;

  if (c->source_type == "image") {
    job.image = s.image;
  } else if (!s.base_image.empty() && s.dockerfile.empty()) {
    // No image build: the agent mounts the code at its working directory and runs the entrypoint
    // in BASE_IMAGE, so the entrypoint builds the target first, then becomes it.
    std::string subdir = RelativePath(s.source_dir, root);
    std::string script = "cmake -S " + ShellQuote(subdir) +
                         " -B /tmp/wandb-job-build -DCMAKE_BUILD_TYPE=" + build_type +
                         " && cmake --build /tmp/wandb-job-build --target " +
                         ShellQuote(s.target) + " && exec /tmp/wandb-job-build/" +
                         c->target_relpath + " \"$@\"";
    job.entrypoint = {"sh", "-c", script, s.target};
  } else {
    job.entrypoint = {"/usr/local/bin/" + c->program};
  }
  if (c->source_type != "image") {
    job.entrypoint.insert(job.entrypoint.end(), c->rendered_args.begin(), c->rendered_args.end());
  }
  if (c->source_type == "repo") {
    job.git_remote = c->git.remote_url;
    job.git_commit = c->git.commit;
  } else if (c->source_type == "artifact") {
    job.artifact = std::string("wandb-artifact://_id/") + kCodeArtifactIdPlaceholder;
    if (s.dockerfile.empty() && s.base_image.empty()) {
      c->generate_dockerfile = true;
      job.dockerfile = kGeneratedDockerfile;
    }
  }
  job.runtime = "";  // W&B reads runtime as a Python version; a C++ job has none.
  return true;
}

bool BuildNames(Capture* c, std::string* err) {
  const JobInputSpec& s = c->spec;
  c->code_name = MakeArtifactNameSafe("source-" + c->naming_project + "-" + c->code_path);
  std::string tag;
  if (c->source_type == "image") {
    std::string name = ImageNameWithoutTag(s.image, &tag);
    c->job_name = MakeArtifactNameSafe("job-" + name);
  } else if (c->source_type == "repo") {
    c->job_name = MakeArtifactNameSafe("job-" + c->git.remote_url + "_" + c->code_path);
  } else {
    c->job_name = MakeArtifactNameSafe("job-" + c->code_name);
  }
  if (!s.name.empty()) {
    c->job_name = s.name;
  }
  if (!ValidateArtifactName(c->job_name, err)) {
    *err = "job name '" + c->job_name + "': " + *err;
    return false;
  }
  std::vector<std::string> aliases = s.aliases;
  if (!tag.empty()) {
    aliases.push_back(tag);
  }
  aliases.push_back("latest");
  for (const std::string& a : aliases) {
    if (std::find(c->aliases.begin(), c->aliases.end(), a) != c->aliases.end()) {
      continue;
    }
    if (!ValidateAlias(a, err)) {
      *err = "alias '" + a + "': " + *err;
      return false;
    }
    c->aliases.push_back(a);
  }
  return true;
}

bool SelectCode(Capture* c, std::string* err) {
  const JobInputSpec& s = c->spec;
  CodeSelectionInput in;
  // Repo jobs package nothing, but their diff.patch covers the whole work tree, so its files are
  // inputs of the step all the same.
  in.code_dir = c->source_type == "repo" ? c->git.root : c->code_dir;
  in.git_root = c->in_git ? c->git.root : "";
  in.binary_dir = s.binary_dir;
  in.exclude = s.exclude;
  in.extra_files = s.extra_files;
  if (!SelectCodeFiles(in, &c->code, err)) {
    return false;
  }
  for (const std::string& f : c->code.files) {
    std::string path = JoinPath(in.code_dir, f);
    c->inputs.insert(path);
    for (size_t slash = path.rfind('/'); slash != std::string::npos && slash > 0;
         slash = path.rfind('/', slash - 1)) {
      std::string dir = path.substr(0, slash);
      if (!IsWithin(dir, in.code_dir) || !c->input_dirs.insert(dir).second) {
        break;
      }
    }
  }
  c->inputs.insert(c->code.ignore_files.begin(), c->code.ignore_files.end());
  if (c->source_type == "artifact") {
    if (!c->code.secrets_skipped.empty()) {
      std::string names;
      for (const std::string& f : c->code.secrets_skipped) {
        names += (names.empty() ? "" : ", ") + f;
      }
      Warning("%s: left out of the code artifact because they look like secrets: %s",
              s.target.c_str(), names.c_str());
    }
    if (c->generate_dockerfile && !IsWithin(s.source_dir, c->code_dir)) {
      // The code may still be right for a Dockerfile the agent gets elsewhere (a queue override).
      Warning("%s: the generated Dockerfile can't build the CMake project, which lies outside "
              "CODE_DIR %s; let CODE_DIR contain the project or pass DOCKERFILE",
              s.target.c_str(), c->code_dir.c_str());
    }
    if (c->generate_dockerfile &&
        std::binary_search(c->code.files.begin(), c->code.files.end(), kGeneratedDockerfile)) {
      *err = std::string(kGeneratedDockerfile) + " already exists in " + c->code_dir +
             "; pass DOCKERFILE " + kGeneratedDockerfile + " to use it, or rename it";
      return false;
    }
  }
  return true;
}

// IMAGE_FILES are inputs of the step: every file below a directory source, and the directories
// themselves (a new file changes their mtime).
bool AddImageFileInputs(Capture* c, std::string* err) {
  if (c->source_type != "image") {
    return true;
  }
  for (const auto& [source, dest] : c->spec.image_files) {
    if (!FileExists(source)) {
      *err = "IMAGE_FILES source " + source + " does not exist";
      return false;
    }
    if (!IsDirectory(source)) {
      c->inputs.insert(source);
      continue;
    }
    c->input_dirs.insert(source);
    bool ok = WalkDirectory(
        source,
        [&](const DirEntry& e) {
          (e.is_dir ? c->input_dirs : c->inputs).insert(JoinPath(source, e.relpath));
          return true;
        },
        err);
    if (!ok) {
      *err = "reading IMAGE_FILES directory " + source + ": " + *err;
      return false;
    }
  }
  return true;
}

bool BuildLocks(Capture* c, const BundleOptions& options, std::string* err) {
  const JobInputSpec& s = c->spec;
  std::vector<std::string> dirs = {c->code_dir, s.source_dir, s.target_source_dir};
  std::sort(dirs.begin(), dirs.end());
  dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());
  if (!FindLockfiles(dirs, s.lockfiles, c->code_dir, &c->lockfiles, err)) {
    return false;
  }
  NativeLock& lock = c->native_lock;
  lock.tool_version = WANDB_JOB_VERSION;
  lock.compiler_id = s.cxx_compiler_id;
  lock.compiler_version = s.cxx_compiler_version;
  lock.cmake_version = s.cmake_version;
  lock.generator = s.generator;
  lock.build_type = options.build_type;
  lock.cxx_standard = options.cxx_standard;
  lock.target = s.target;
  lock.system = s.system_name + "-" + s.system_processor;
  if (!ScanFetchContent(s.fetchcontent_base_dir, &lock.fetchcontent, err)) {
    *err = "reading FetchContent sources: " + *err;
    return false;
  }
  std::vector<SharedLibrary>& closure = c->closure;
  std::string closure_err;
  if (!ResolveRuntimeClosure(options.target_file, ClosureOptions{}, &closure, &closure_err)) {
    if (c->source_type == "image") {
      *err = "resolving the shared libraries of " + options.target_file + ": " + closure_err;
      return false;
    }
    Warning("%s: runtime closure incomplete: %s", s.target.c_str(), closure_err.c_str());
  }
  if (!LockRuntimeClosure(closure, s.binary_dir, &lock.runtime, err)) {
    return false;
  }
  for (const SharedLibrary& lib : closure) {
    c->inputs.insert(lib.path);
  }
  for (const FoundLockfile& f : c->lockfiles) {
    c->inputs.insert(f.path);
  }
  return true;
}

// Fills templates/Dockerfile.in: @NAME@ placeholders only, so the template stays plain text.
bool RenderDockerfile(const Capture& c, const BundleOptions& options, std::string* out,
                      std::string* err) {
  std::string path = JoinPath(c.spec.templates_dir, "Dockerfile.in");
  std::string text;
  if (!ReadFile(path, &text, err)) {
    *err = "reading the Dockerfile template: " + *err;
    return false;
  }
  std::string subdir = RelativePath(c.spec.source_dir, c.code_dir);
  const std::vector<std::pair<std::string, std::string>> vars = {
      {"@TARGET@", c.spec.target},
      {"@PROGRAM@", c.program},
      {"@TARGET_RELPATH@", c.target_relpath},
      {"@SOURCE_SUBDIR@", subdir == "." ? "" : subdir},
      {"@BUILD_TYPE@", options.build_type.empty() ? "Release" : options.build_type},
      {"@BUILDER_IMAGE@", "debian:12"},
      {"@APT_PACKAGES@", kDefaultAptPackages},
  };
  for (const auto& [key, value] : vars) {
    for (size_t pos; (pos = text.find(key)) != std::string::npos;) {
      text.replace(pos, key.size(), value);
    }
  }
  *out = std::move(text);
  return true;
}

bool AddFileToManifest(const std::string& dir, const std::string& rel, ArtifactManifest* manifest,
                       std::string* err) {
  FileHashes hashes;
  if (!HashFile(JoinPath(dir, rel), &hashes, err)) {
    return false;
  }
  manifest->Add(ManifestEntry{rel, Base64Encode(hashes.md5), hashes.size, ""});
  return true;
}

bool WriteInDir(const std::string& dir, const std::string& rel, const std::string& data,
                std::string* err) {
  std::string path = JoinPath(dir, rel);
  if (!MakeDirs(path.substr(0, path.rfind('/')), err)) {
    return false;
  }
  return WriteFileAtomic(path, data, err);
}

ordered_json ArtifactJson(const BundleArtifact& a, const char* files, const char* manifest) {
  ordered_json j;
  j["name"] = a.name;
  j["type"] = a.type;
  j["description"] = a.description;
  j["metadata"] = a.metadata.empty() ? ordered_json(nullptr) : ordered_json::parse(a.metadata);
  j["aliases"] = a.aliases;
  j["files"] = files;
  j["manifest"] = manifest;
  return j;
}

// The run shim of an image job: this helper (`wandb-job exec`) with its runtime closure, unless
// the job says IMAGE_SHIM OFF ("image_shim": false in its spec) or the helper can't run where the
// program runs (another ELF class or machine: a cross build), which is a warning.
bool ResolveImageShim(const JobInputSpec& spec, const std::string& target_file,
                      BundleImageInput* image, std::string* err) {
  if (!spec.image_shim) {
    return true;
  }
  std::string self;
  if (!RealPath("/proc/self/exe", &self, err)) {
    *err = "finding the wandb-job helper for the image's run shim: " + *err;
    return false;
  }
  ElfInfo shim_elf, target_elf;
  if (!ReadElfInfo(self, &shim_elf, err) || !ReadElfInfo(target_file, &target_elf, err)) {
    return false;
  }
  if (shim_elf.machine != target_elf.machine || shim_elf.is_64bit != target_elf.is_64bit ||
      shim_elf.little_endian != target_elf.little_endian) {
    Warning("%s is built for another machine than this wandb-job helper: its image runs it "
            "without the run shim (wandb-job exec)",
            target_file.c_str());
    return true;
  }
  if (!ResolveRuntimeClosure(self, ClosureOptions{}, &image->shim_closure, err)) {
    *err = "resolving the run shim's libraries: " + *err;
    return false;
  }
  image->shim_file = self;
  return true;
}

// Builds the OCI image layout into <dir>/image and records its digest in the job's files.
bool WriteImage(const Capture& c, const BundleOptions& options, const std::string& dir,
                std::string* err) {
  const JobInputSpec& s = c.spec;
  BundleImageInput image;
  image.args_template = s.args;
  if (!ResolveImageShim(s, options.target_file, &image, err)) {
    return false;
  }
  image.target = s.target;
  image.target_file = options.target_file;
  image.closure = c.closure;
  image.binary_dir = s.binary_dir;
  image.args = c.rendered_args;
  image.config = c.config;
  image.image = s.image;
  image.base_image = s.base_image;
  image.created = c.git.commit_time;
  image.source_url = c.git.remote_url;
  image.revision = c.git.commit;
  image.files = s.image_files;
  image.env = s.image_env;
  image.working_dir = s.image_working_dir;
  image.user = s.image_user;
  image.layer_cache_dir = JoinPath(s.binary_dir, "wandb-jobs/.layers");
  std::string layout = JoinPath(dir, "image");
  if (!BuildBundleImage(image, layout, err)) {
    *err = "building the image: " + *err;
    return false;
  }
  std::string index_text;
  if (!ReadFile(JoinPath(layout, "index.json"), &index_text, err)) {
    return false;
  }
  nlohmann::json index = nlohmann::json::parse(index_text, nullptr, false);
  std::string digest;
  if (index.is_object() && index.contains("manifests") && index["manifests"].is_array() &&
      !index["manifests"].empty() && index["manifests"][0].is_object()) {
    digest = index["manifests"][0].value("digest", "");
  }
  if (digest.empty()) {
    *err = "the image layout's index.json names no manifest";
    return false;
  }
  ordered_json lock;  // Sorted keys by construction: same image, same bytes.
  lock["base_image"] = s.base_image;
  lock["image"] = s.image;
  lock["layout_manifest_digest"] = digest;
  return WriteInDir(JoinPath(dir, "job"), kImageLockFile, lock.dump(2) + "\n", err);
}

bool WriteTree(const Capture& c, const BundleOptions& options, const std::string& dir,
               std::string* err) {
  const JobInputSpec& s = c.spec;
  std::string job_dir = JoinPath(dir, "job");
  if (c.source_type == "image" && !WriteImage(c, options, dir, err)) {
    return false;
  }
  ArtifactManifest job_manifest;
  std::string requirements;
  for (const FoundLockfile& f : c.lockfiles) {
    std::string rel = "lockfiles/" + f.relpath;
    std::string text;
    if (!ReadFile(f.path, &text, err) || !WriteInDir(job_dir, rel, text, err)) {
      return false;
    }
    if (f.kind == "pip" && requirements.empty()) {
      requirements = text;  // W&B's code jobs freeze the user's requirements.txt as given.
    }
  }
  NativeLock lock = c.native_lock;
  for (const FoundLockfile& f : c.lockfiles) {
    FileHashes h;
    if (!HashFile(f.path, &h, err)) {
      return false;
    }
    lock.lockfiles.emplace_back(f.relpath, HexEncode(h.sha256));
  }
  if (!WriteInDir(job_dir, "wandb-job.json", c.job.ToJson(), err) ||
      !WriteInDir(job_dir, "requirements.frozen.txt", requirements, err) ||
      !WriteInDir(job_dir, "wandb-job.lock.json", NativeLockToJson(lock), err)) {
    return false;
  }
  if (c.source_type == "repo" && !c.git.patch.empty() &&
      !WriteInDir(job_dir, "diff.patch", c.git.patch, err)) {
    return false;
  }
  std::vector<std::string> job_files;
  if (!WalkDirectory(job_dir,
                     [&](const DirEntry& e) {
                       if (!e.is_dir) {
                         job_files.push_back(e.relpath);
                       }
                       return true;
                     },
                     err)) {
    return false;
  }
  for (const std::string& rel : job_files) {
    if (!AddFileToManifest(job_dir, rel, &job_manifest, err)) {
      return false;
    }
  }

  BundleArtifact job;
  job.type = "job";
  job.name = c.job_name;
  job.description = s.description;
  job.aliases = c.aliases;
  ordered_json bundle;
  bundle["format"] = kBundleFormat;
  bundle["source_type"] = c.source_type;
  bundle["entity"] = s.entity;
  bundle["project"] = s.project;
  bundle["cmake_project"] = s.project_name;
  bundle["job"] = ArtifactJson(job, "job", "job.manifest.json");

  if (c.source_type == "artifact") {
    std::string code_dir = JoinPath(dir, "code");
    ArtifactManifest code_manifest;
    for (const std::string& rel : c.code.files) {
      std::string from = JoinPath(c.code_dir, rel);
      if (!IsDirectory(from) && FileExists(from)) {
        std::string to = JoinPath(code_dir, rel);
        if (!MakeDirs(to.substr(0, to.rfind('/')), err) || !CopyFile(from, to, 0644, err) ||
            !AddFileToManifest(code_dir, rel, &code_manifest, err)) {
          return false;
        }
      } else {
        Warning("%s: %s is not a regular file (a dangling or directory symlink?); left out",
                s.target.c_str(), rel.c_str());
      }
    }
    if (c.generate_dockerfile) {
      std::string dockerfile;
      if (!RenderDockerfile(c, options, &dockerfile, err) ||
          !WriteInDir(code_dir, kGeneratedDockerfile, dockerfile, err) ||
          !AddFileToManifest(code_dir, kGeneratedDockerfile, &code_manifest, err)) {
        return false;
      }
    }
    if (!WriteInDir(dir, "code.manifest.json", code_manifest.ToJson(), err)) {
      return false;
    }
    BundleArtifact code;
    code.type = "code";
    code.name = c.code_name;
    code.description = "Code artifact for job " + c.job_name;
    code.aliases = {"latest"};
    bundle["code"] = ArtifactJson(code, "code", "code.manifest.json");
  }
  bundle["config"] = ordered_json::parse(c.config);
  bundle["args"] = s.args;
  bundle["entrypoint"] = c.job.entrypoint;
  bundle["git"] = {{"remote", c.git.remote_url},
                   {"commit", c.git.commit},
                   {"branch", c.git.branch},
                   {"dirty", c.git.dirty}};
  bundle["image"] = s.image;
  return WriteInDir(dir, "job.manifest.json", job_manifest.ToJson(), err) &&
         WriteInDir(dir, "bundle.json", bundle.dump(2) + "\n", err);
}

std::string EscapeDepfilePath(const std::string& path) {
  std::string out;
  for (char ch : path) {
    if (ch == ' ' || ch == '#' || ch == '\\') {
      out += '\\';
    } else if (ch == '$') {
      out += '$';
    }
    out += ch;
  }
  return out;
}

bool WriteDepfile(const Capture& c, const BundleOptions& options, std::string* err) {
  std::string target = options.depfile_target.empty() ? JoinPath(options.out_dir, "bundle.json")
                                                      : options.depfile_target;
  std::string text = EscapeDepfilePath(target) + ":";
  for (const std::string& input : c.inputs) {
    // ninja treats a missing input as always dirty; list only what exists.
    if (!input.empty() && FileExists(input) && !IsDirectory(input)) {
      text += " \\\n  " + EscapeDepfilePath(input);
    }
  }
  for (const std::string& dir : c.input_dirs) {
    if (IsDirectory(dir)) {
      text += " \\\n  " + EscapeDepfilePath(dir);
    }
  }
  text += "\n";
  return WriteFileAtomic(options.depfile, text, err);
}

// Replaces `dir` by `fresh` in one step, so a reader sees the old bundle or the new one.
bool SwapInDirectory(const std::string& fresh, const std::string& dir, std::string* err) {
  if (!FileExists(dir)) {
    if (rename(fresh.c_str(), dir.c_str()) != 0) {
      *err = "renaming " + fresh + " to " + dir + ": " + strerror(errno);
      return false;
    }
    return true;
  }
  if (renameat2(AT_FDCWD, fresh.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) != 0) {
    *err = "replacing " + dir + ": " + strerror(errno);
    return false;
  }
  return RemoveTree(fresh, err);  // Now holds the previous bundle.
}

}  // namespace

std::string Bundle::ResolveProject() const {
  if (!project.empty()) {
    return project;
  }
  std::string env = GetEnv("WANDB_PROJECT");
  return env.empty() ? cmake_project : env;
}

bool WriteBundle(const BundleOptions& options, std::string* err) {
  Capture c;
  std::string text;
  if (!ReadFile(options.spec_path, &text, err)) {
    return false;
  }
  if (!JobInputSpec::FromJson(text, &c.spec, err)) {
    *err = "reading job spec " + options.spec_path + ": " + *err;
    return false;
  }
  if (!FileExists(options.target_file)) {
    *err = "target file " + options.target_file + " does not exist; build the target first";
    return false;
  }
  c.inputs.insert(options.target_file);
  if (c.spec.templates_dir.empty() == false) {
    c.inputs.insert(JoinPath(c.spec.templates_dir, "Dockerfile.in"));
  }
  const std::string& t = c.spec.target;
  if (!ResolvePaths(&c, err) || !DecideSource(&c, err) || !BuildConfig(&c, err) ||
      !BuildJobDefinition(&c, options, err) || !BuildNames(&c, err) || !SelectCode(&c, err) ||
      !BuildLocks(&c, options, err) || !AddImageFileInputs(&c, err)) {
    *err = "capturing job for target " + t + ": " + *err;
    return false;
  }
  std::string out_dir = NormalizePath(options.out_dir);
  std::string parent = out_dir.substr(0, out_dir.rfind('/'));
  if (!MakeDirs(parent, err)) {
    return false;
  }
  std::string fresh = out_dir + ".tmp." + RandomSuffix();
  if (!MakeDirs(fresh, err) || !WriteTree(c, options, fresh, err) ||
      !SwapInDirectory(fresh, out_dir, err)) {
    std::string ignored;
    RemoveTree(fresh, &ignored);
    *err = "writing bundle " + out_dir + ": " + *err;
    return false;
  }
  if (!options.depfile.empty() && !WriteDepfile(c, options, err)) {
    return false;
  }
  Verbose("bundle for %s written to %s (%s job %s)", t.c_str(), out_dir.c_str(),
          c.source_type.c_str(), c.job_name.c_str());
  return true;
}

namespace {

bool LoadArtifact(const nlohmann::json& j, const std::string& dir, BundleArtifact* out,
                  std::string* err) {
  if (!j.is_object() || !j.contains("name") || !j.contains("files") || !j.contains("manifest")) {
    *err = "artifact entry lacks name, files or manifest";
    return false;
  }
  out->name = j.value("name", "");
  out->type = j.value("type", "");
  out->description = j.value("description", "");
  out->metadata = j.contains("metadata") && !j["metadata"].is_null() ? j["metadata"].dump() : "";
  out->aliases = j.value("aliases", std::vector<std::string>{});
  out->files_dir = JoinPath(dir, j.value("files", ""));
  std::string manifest_path = JoinPath(dir, j.value("manifest", ""));
  std::string text;
  if (!ReadFile(manifest_path, &text, err) ||
      !ArtifactManifest::FromJson(text, &out->manifest, err)) {
    return false;
  }
  for (const ManifestEntry& e : out->manifest.entries) {
    std::string path = JoinPath(out->files_dir, e.path);
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
      *err = "file " + e.path + " of artifact " + out->name + " is missing";
      return false;
    }
    if (static_cast<uint64_t>(st.st_size) != e.size) {
      *err = "file " + e.path + " of artifact " + out->name + " has " +
             std::to_string(st.st_size) + " bytes, its manifest says " + std::to_string(e.size);
      return false;
    }
  }
  return true;
}

}  // namespace

bool LoadBundle(const std::string& dir, Bundle* out, std::string* err) {
  std::string text;
  std::string path = JoinPath(dir, "bundle.json");
  if (!IsDirectory(dir)) {
    *err = "bundle " + dir + " does not exist; build it first (cmake --build <dir> --target "
           "<target>-wandb-job)";
    return false;
  }
  if (!ReadFile(path, &text, err)) {
    *err = "bundle " + dir + " is incomplete (no bundle.json); rebuild it";
    return false;
  }
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || j.value("format", "") != kBundleFormat) {
    *err = "bundle " + dir + " is damaged or of another version (bad bundle.json); rebuild it";
    return false;
  }
  Bundle b;
  b.dir = dir;
  b.source_type = j.value("source_type", "");
  b.entity = j.value("entity", "");
  b.project = j.value("project", "");
  b.cmake_project = j.value("cmake_project", "");
  if (!LoadArtifact(j.value("job", nlohmann::json()), dir, &b.job, err)) {
    *err = "bundle " + dir + " is damaged: " + *err + "; rebuild it";
    return false;
  }
  if (j.contains("code")) {
    b.has_code = true;
    if (!LoadArtifact(j["code"], dir, &b.code, err)) {
      *err = "bundle " + dir + " is damaged: " + *err + "; rebuild it";
      return false;
    }
  }
  b.config = j.contains("config") ? j["config"].dump() : "{}";
  b.args = j.value("args", std::vector<std::string>{});
  b.entrypoint = j.value("entrypoint", std::vector<std::string>{});
  if (j.contains("git") && j["git"].is_object()) {
    b.git_remote = j["git"].value("remote", "");
    b.git_commit = j["git"].value("commit", "");
    b.git_branch = j["git"].value("branch", "");
    b.git_dirty = j["git"].value("dirty", false);
  }
  b.image = j.value("image", "");
  *out = std::move(b);
  return true;
}

}  // namespace wandb_job
