#include "capture.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>

#include "ci_env.h"
#include "file_util.h"
#include "job_args.h"
#include "json_access.h"
#include "log.h"
#include "remote_url.h"
#include "version.h"
#include "wandb_types.h"

namespace wandb_job {
namespace {

using ordered_json = nlohmann::ordered_json;

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
    c->input_dirs.insert(c->git.input_dirs.begin(), c->git.input_dirs.end());
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
  } else if (remote_ok && has_commit && !s.base_image.empty() && s.dockerfile.empty()) {
    // A repo job without a Dockerfile would run in the bare BASE_IMAGE, where nothing is built.
    c->source_type = "artifact";
    Info("%s: BASE_IMAGE without DOCKERFILE: the job packages the code as an artifact, whose "
         "generated Dockerfile builds FROM BASE_IMAGE (for a repo job, commit the files "
         "'wandb-job dockerfile' writes and pass DOCKERFILE)",
         s.target.c_str());
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
  if (c->source_type == "repo" && c->in_git) {
    WarnIfUnpushed(c->git);
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
    if (s.dockerfile.empty() && !s.base_image.empty()) {
      *err = "SOURCE repo with BASE_IMAGE needs DOCKERFILE: W&B's agent can't build the target in "
             "a bare base image; commit the files 'wandb-job dockerfile' writes and pass "
             "DOCKERFILE, or use SOURCE artifact";
      return false;
    }
    if (s.dockerfile.empty()) {
      Warning("%s: repo job without DOCKERFILE: W&B's agent can only build Python jobs by "
              "itself; run 'wandb-job dockerfile --bundle <this job's bundle> --out-dir <repo "
              "root>', commit what it writes and pass DOCKERFILE Dockerfile.wandb",
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
    ordered_json file;
    if (!ReadJsonObjectFile(s.config_file, "CONFIG_FILE", &file, err)) {
      return false;
    }
    base = file.dump();
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

// What the generated Dockerfile and `wandb-job run` configure with (.wandb-job/configure.json),
// and the helper's sources the image builds the shim from.
bool RecordConfigure(Capture* c, const BundleOptions& options, std::string* err) {
  const JobInputSpec& s = c->spec;
  ConfigureRecord& r = c->configure;
  r.target = s.target;
  r.program = c->program;
  r.target_relpath = c->target_relpath;
  // The image build's context: the code artifact, or a repo job's clone.
  const std::string& root = c->source_type == "repo" ? c->git.root : c->code_dir;
  std::string subdir = RelativePath(s.source_dir, root);
  r.source_subdir = subdir == "." || subdir.rfind("..", 0) == 0 ? "" : subdir;
  r.build_type = options.build_type.empty() ? "Release" : options.build_type;
  r.generator = s.generator;
  r.cmake_args = s.cmake_args;
  if (!s.toolchain_file.empty()) {
    std::string toolchain = s.toolchain_file[0] == '/' ? s.toolchain_file
                                                       : JoinPath(s.binary_dir, s.toolchain_file);
    toolchain = NormalizePath(toolchain);
    if (FileExists(toolchain) && !RealPath(toolchain, &toolchain, err)) {
      return false;
    }
    if (IsWithin(toolchain, root)) {
      r.toolchain_file = RelativePath(toolchain, root);
      c->inputs.insert(toolchain);
    } else {
      Info("%s: the toolchain file %s lies outside the code; the job's image builds without it",
           s.target.c_str(), toolchain.c_str());
    }
  }
  if (s.tool_source_dir.empty() || !ToolSourceFiles(s.tool_source_dir, &c->tool_sources, err)) {
    if (s.tool_source_dir.empty()) {
      *err = "the job spec names no wandb-job source tree; re-run cmake with this version of "
             "WandbJob.cmake";
    }
    return false;
  }
  for (const std::string& rel : c->tool_sources) {
    c->inputs.insert(JoinPath(s.tool_source_dir, rel));
  }
  if (!s.module_file.empty()) {
    c->inputs.insert(s.module_file);
  }
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
  // Artifact and repo jobs never name a source.base_image: W&B's agent then skips the build and
  // runs the entrypoint in the bare image (on Kubernetes with the code fetched by an init
  // container, without diff.patch), where the program was never compiled. BASE_IMAGE is the FROM
  // of the Dockerfile that builds them; an image job's BASE_IMAGE is the base of its image.
  bool generated = c->source_type == "artifact" && s.dockerfile.empty();
  if (c->source_type == "image") {
    job.image = s.image;
  } else if (generated || c->source_type == "repo") {
    if (!CheckEntrypointWord(c->program, err)) {
      *err = "program name: " + *err + " (set the target's OUTPUT_NAME)";
      return false;
    }
    job.entrypoint = ShimEntrypoint(c->program);
  } else {
    job.entrypoint = {"/usr/local/bin/" + c->program};
    job.entrypoint.insert(job.entrypoint.end(), c->rendered_args.begin(), c->rendered_args.end());
  }
  if (c->source_type == "repo") {
    job.git_remote = c->git.remote_url;
    job.git_commit = c->git.commit;
    c->repo_launch_files = true;
    if (!RecordConfigure(c, options, err)) {
      return false;
    }
  } else if (c->source_type == "artifact") {
    job.artifact = std::string("wandb-artifact://_id/") + kCodeArtifactIdPlaceholder;
    if (generated) {
      c->generate_dockerfile = true;
      job.dockerfile = kGeneratedDockerfile;
      if (!RecordConfigure(c, options, err)) {
        return false;
      }
    }
  }
  job.runtime = "";  // W&B reads runtime as a Python version; a C++ job has none.
  return true;
}

// A DOCKERFILE job's entrypoint runs /usr/local/bin/<program>, under the shim at
// /usr/local/bin/wandb-job with /src/.wandb-job/job.json for repo jobs: a Dockerfile that never
// names these most likely builds an image the agent can't run the job in.
bool CheckGivenDockerfile(Capture* c, std::string* err) {
  const JobInputSpec& s = c->spec;
  if (s.dockerfile.empty() || c->source_type == "image") {
    return true;
  }
  std::string text;
  if (!ReadFile(s.dockerfile, &text, err)) {
    *err = "reading DOCKERFILE: " + *err;
    return false;
  }
  std::string where = "/usr/local/bin/" + c->program;
  bool names_program = text.find(where) != std::string::npos;
  bool names_dir = text.find("/usr/local/bin") != std::string::npos;
  if (!names_program && !names_dir) {
    Warning("%s: DOCKERFILE %s never names /usr/local/bin; the job's entrypoint runs %s, so the "
            "image must install the program there",
            s.target.c_str(), s.dockerfile.c_str(), where.c_str());
  }
  if (c->source_type != "repo") {
    return true;
  }
  if (text.find("wandb-job") == std::string::npos || text.find(kImageCodeDir) == std::string::npos) {
    Warning("%s: DOCKERFILE %s never names wandb-job or %s; the job's entrypoint runs the shim "
            "%s with %s/%s, so the image must install the shim there and copy the repository to "
            "%s ('wandb-job dockerfile' writes such a Dockerfile)",
            s.target.c_str(), s.dockerfile.c_str(), kImageCodeDir, kImageShimPath, kImageCodeDir,
            kLaunchJobSpec, kImageCodeDir);
  }
  // The committed job spec holds the default config and ARGS: it must be this capture's.
  std::string spec_path = JoinPath(c->git.root, kLaunchJobSpec);
  std::string want, have;
  if (!ShimJobSpecJson(c->config, s.args, &want, err)) {
    return false;
  }
  std::string read_err;
  if (!FileExists(spec_path)) {
    Warning("%s: %s is not in the repository; the job's entrypoint reads it: run 'wandb-job "
            "dockerfile' and commit what it writes",
            s.target.c_str(), kLaunchJobSpec);
  } else if (c->inputs.insert(spec_path), !ReadFile(spec_path, &have, &read_err) ||
             have != want) {
    Warning("%s: %s differs from this job's CONFIG and ARGS; run 'wandb-job dockerfile' again "
            "and commit what it writes",
            s.target.c_str(), kLaunchJobSpec);
  }
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
  if (c->source_type == "artifact") {
    in.max_file_bytes = static_cast<uint64_t>(s.max_file_bytes);  // only copied files count
  }
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
    for (const LeftOutFile& f : c->code.left_out) {
      Warning("%s: %s is left out of the code artifact: %s", s.target.c_str(), f.path.c_str(),
              f.reason.c_str());
    }
    if (c->generate_dockerfile && !IsWithin(s.source_dir, c->code_dir)) {
      // The code may still be right for a Dockerfile the agent gets elsewhere (a queue override).
      Warning("%s: the generated Dockerfile can't build the CMake project, which lies outside "
              "CODE_DIR %s; let CODE_DIR contain the project or pass DOCKERFILE",
              s.target.c_str(), c->code_dir.c_str());
    }
    bool launch_dir_taken = std::any_of(c->code.files.begin(), c->code.files.end(),
                                        [](const std::string& f) {
                                          return f.rfind(std::string(kLaunchDir) + "/", 0) == 0;
                                        });
    if (c->generate_dockerfile && launch_dir_taken) {
      *err = std::string(kLaunchDir) + "/ already exists in " + c->code_dir +
             "; the generated Dockerfile's files go there: rename it, or EXCLUDE it and pass "
             "DOCKERFILE";
      return false;
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
    // Reading a FIFO blocks and a device never ends: the image takes files and directories.
    std::string kind = SpecialFileKind(source);
    if (!kind.empty()) {
      *err = "IMAGE_FILES source " + source + " is " + kind +
             "; list regular files and directories only";
      return false;
    }
    if (!IsDirectory(source)) {
      c->inputs.insert(source);
      continue;
    }
    c->input_dirs.insert(source);
    bool ok = WalkDirectory(
        source,
        [&, &source = source](const DirEntry& e) {
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

}  // namespace

bool CaptureJob(const BundleOptions& options, Capture* c, std::string* err) {
  std::string text;
  if (!ReadFile(options.spec_path, &text, err)) {
    return false;
  }
  if (!JobInputSpec::FromJson(text, &c->spec, err)) {
    *err = "reading job spec " + options.spec_path + ": " + *err;
    return false;
  }
  if (!FileExists(options.target_file)) {
    *err = "target file " + options.target_file + " does not exist; build the target first";
    return false;
  }
  c->inputs.insert(options.target_file);
  if (!c->spec.templates_dir.empty()) {
    c->inputs.insert(JoinPath(c->spec.templates_dir, "Dockerfile.in"));
  }
  const std::string& t = c->spec.target;
  if (!ResolvePaths(c, err) || !DecideSource(c, err) || !BuildConfig(c, err) ||
      !BuildJobDefinition(c, options, err) || !CheckGivenDockerfile(c, err) ||
      !BuildNames(c, err) || !SelectCode(c, err) ||
      !BuildLocks(c, options, err) || !AddImageFileInputs(c, err)) {
    *err = "capturing job for target " + t + ": " + *err;
    return false;
  }
  return true;
}

}  // namespace wandb_job
