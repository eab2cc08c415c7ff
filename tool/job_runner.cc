#include "job_runner.h"

#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "exec_shim.h"
#include "file_util.h"
#include "job_spec.h"
#include "job_store.h"
#include "job_views.h"
#include "json_access.h"
#include "launch_files.h"
#include "log.h"
#include "publish.h"
#include "registry_client.h"
#include "wandb_run_reporter.h"
#include "wandb_types.h"

extern char** environ;

namespace wandb_job {
namespace {

using ordered_json = nlohmann::ordered_json;

constexpr char kArtifactPrefix[] = "wandb-artifact://_id/";

std::string Quote(const std::string& s) { return "'" + s + "'"; }

std::string Join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const std::string& s : items) {
    out += (out.empty() ? "" : sep) + s;
  }
  return out;
}

/// Runs a command in `dir` with its stdout sent to our stderr (ours stays the program's).
bool RunCommand(const std::vector<std::string>& argv, const std::string& dir, std::string* err) {
  Verbose("running %s", Join(argv, " ").c_str());
  std::vector<char*> cargv;
  for (const std::string& a : argv) {
    cargv.push_back(const_cast<char*>(a.c_str()));
  }
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  if (!dir.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
  }
  pid_t pid;
  int rc = posix_spawnp(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    *err = "cannot run " + argv[0] + ": " + strerror(rc);
    return false;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *err = "'" + Join(argv, " ") + "' failed (" +
           (WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                              : "signal " + std::to_string(WTERMSIG(status))) +
           ")";
    return false;
  }
  return true;
}

/// Writes every file of a stored version below `dir`.
bool MaterialiseVersion(const JobStore& store, const StoredVersion& version,
                        const std::string& dir, std::string* err) {
  for (const ManifestEntry& entry : version.manifest.entries) {
    std::string contents;
    if (!store.ReadFile(version, entry.path, &contents, err)) {
      return false;
    }
    std::string path = JoinPath(dir, entry.path);
    if (!MakeDirs(path.substr(0, path.rfind('/')), err) ||
        !WriteFileAtomic(path, contents, err)) {
      return false;
    }
  }
  return true;
}

bool MaterialiseArtifact(const JobStore& store, const JobDefinition& job, const std::string& src,
                         std::string* err) {
  if (job.artifact.rfind(kArtifactPrefix, 0) != 0) {
    *err = "source.artifact " + Quote(job.artifact) + " is not " + kArtifactPrefix + "<id>";
    return false;
  }
  std::string id = job.artifact.substr(strlen(kArtifactPrefix));
  StoredCollection code;
  int index = -1;
  if (!store.FindArtifactById(id, &code, &index, err)) {
    *err = "the job's code artifact: " + *err;
    return false;
  }
  for (const StoredVersion& v : code.versions) {
    if (v.index == index) {
      Info("code: %s/%s/%s:v%d", code.entity.c_str(), code.project.c_str(), code.name.c_str(),
           index);
      return MaterialiseVersion(store, v, src, err);
    }
  }
  *err = "code artifact " + id + " vanished";
  return false;
}

bool MaterialiseRepo(const JobStore& store, const StoredVersion& version,
                     const JobDefinition& job, const std::string& tmp, const std::string& src,
                     std::string* err) {
  if (job.git_remote.empty() || job.git_commit.empty()) {
    *err = "the job has no git remote or commit";
    return false;
  }
  Info("code: %s at %s", job.git_remote.c_str(), job.git_commit.c_str());
  // As the agent does: init, fetch, check out the commit, submodules, then diff.patch.
  if (!MakeDirs(src, err) || !RunCommand({"git", "init", "-q", src}, "", err) ||
      !RunCommand({"git", "remote", "add", "origin", "--", job.git_remote}, src, err) ||
      !RunCommand({"git", "fetch", "-q", "origin"}, src, err) ||
      !RunCommand({"git", "-c", "advice.detachedHead=false", "checkout", "-q", "-B",
                   job.git_commit, job.git_commit},
                  src, err) ||
      !RunCommand({"git", "-c", "protocol.ext.allow=never", "submodule", "update", "--init",
                   "--recursive", "-q"},
                  src, err)) {
    *err = "checking out " + job.git_remote + " at " + job.git_commit + ": " + *err;
    return false;
  }
  if (version.manifest.Find("diff.patch") != nullptr) {
    std::string patch;
    std::string patch_path = JoinPath(tmp, "diff.patch");
    if (!store.ReadFile(version, "diff.patch", &patch, err) ||
        !WriteFileAtomic(patch_path, patch, err) ||
        !RunCommand({"patch", "-s", "--directory=" + src, "-p1", "-i", patch_path}, "", err)) {
      *err = "applying diff.patch: " + *err;
      return false;
    }
  }
  return true;
}

bool ReadJson(const std::string& path, ordered_json* out, std::string* err) {
  std::string text;
  if (!ReadFile(path, &text, err)) {
    return false;
  }
  *out = ordered_json::parse(text, nullptr, false);
  if (out->is_discarded()) {
    *err = "parsing " + path + ": invalid JSON";
    return false;
  }
  return true;
}

/// The target's executable, from the CMake file API's codemodel reply.
bool FindTargetArtifact(const std::string& build, const std::string& target, std::string* out,
                        std::string* err) {
  std::string reply = build + "/.cmake/api/v1/reply";
  std::vector<std::string> indexes;
  if (!WalkDirectory(reply,
                     [&](const DirEntry& e) {
                       if (!e.is_dir && e.relpath.rfind("index-", 0) == 0) {
                         indexes.push_back(e.relpath);
                       }
                       return false;
                     },
                     err)) {
    return false;
  }
  if (indexes.empty()) {
    *err = "CMake wrote no file API reply in " + reply;
    return false;
  }
  std::sort(indexes.begin(), indexes.end());
  ordered_json index, codemodel, target_json;
  if (!ReadJson(reply + "/" + indexes.back(), &index, err)) {
    return false;
  }
  std::string codemodel_file;
  for (const auto& object : index.value("objects", ordered_json::array())) {
    if (object.value("kind", "") == "codemodel") {
      codemodel_file = object.value("jsonFile", "");
    }
  }
  if (codemodel_file.empty() || !ReadJson(reply + "/" + codemodel_file, &codemodel, err)) {
    *err = codemodel_file.empty() ? "no codemodel in the CMake file API reply" : *err;
    return false;
  }
  for (const auto& config : codemodel.value("configurations", ordered_json::array())) {
    for (const auto& t : config.value("targets", ordered_json::array())) {
      if (t.value("name", "") != target) {
        continue;
      }
      if (!ReadJson(reply + "/" + t.value("jsonFile", ""), &target_json, err)) {
        return false;
      }
      auto artifacts = target_json.value("artifacts", ordered_json::array());
      if (artifacts.empty()) {
        *err = "target " + Quote(target) + " builds no executable";
        return false;
      }
      *out = JoinPath(build, artifacts[0].value("path", ""));
      return true;
    }
  }
  *err = "the project has no target " + Quote(target);
  return false;
}

/// The job's defaults and ARGS template, from the spec.json that wandb_add_job() wrote when the
/// materialised project was configured; the rendered entrypoint's arguments when there is none.
bool DefaultsAndTemplate(const std::string& build, const std::string& target,
                         const JobDefinition& job, std::string* defaults,
                         std::vector<std::string>* args_template, std::string* err) {
  std::string spec_path = build + "/wandb-jobs/" + target + "/spec.json";
  if (!FileExists(spec_path)) {
    Warning("%s was not written (the project did not call wandb_add_job(%s) in this "
            "configuration); running the job's entrypoint arguments with the launch config in "
            "WANDB_CONFIG",
            spec_path.c_str(), target.c_str());
    *defaults = "{}";
    args_template->clear();
    // A shim entrypoint holds no arguments: its job spec, absent here, has the ARGS template.
    if (!job.entrypoint.empty() && job.entrypoint[0] != "sh" &&
        job.entrypoint[0] != kImageShimPath) {
      for (size_t i = 1; i < job.entrypoint.size(); ++i) {
        std::string escaped;  // literal braces for RenderArgs
        for (char c : job.entrypoint[i]) {
          escaped += (c == '{' || c == '}') ? std::string(2, c) : std::string(1, c);
        }
        args_template->push_back(escaped);
      }
    }
    return true;
  }
  std::string text;
  JobInputSpec spec;
  if (!ReadFile(spec_path, &text, err) || !JobInputSpec::FromJson(text, &spec, err)) {
    *err = "reading " + spec_path + ": " + *err;
    return false;
  }
  std::string base = "{}", pairs;
  if (!spec.config_file.empty()) {
    ordered_json file;
    if (!ReadJsonObjectFile(spec.config_file, "CONFIG_FILE", &file, err)) {
      return false;
    }
    base = file.dump();
  }
  if (!ConfigPairsToJson(spec.config_pairs, &pairs, err) ||
      !MergeJsonObjects(base, pairs, defaults, err)) {
    *err = "the job's CONFIG: " + *err;
    return false;
  }
  *args_template = spec.args;
  return true;
}

/// The code's .wandb-job/configure.json; `*found` false when the code has none (older captures,
/// repo jobs).
bool ReadConfigureRecord(const std::string& src, ConfigureRecord* record, bool* found,
                         std::string* err) {
  std::string path = JoinPath(src, kLaunchConfigure);
  *found = FileExists(path);
  std::string text;
  if (*found && (!ReadFile(path, &text, err) || !ConfigureRecord::FromJson(text, record, err))) {
    *err = "the job's " + std::string(kLaunchConfigure) + ": " + *err;
    return false;
  }
  return true;
}

/// The defaults and ARGS template of the code's .wandb-job/job.json, the shim's job spec.
bool ReadLaunchJobSpec(const std::string& src, std::string* defaults,
                       std::vector<std::string>* args_template, std::string* err) {
  std::string path = JoinPath(src, kLaunchJobSpec);
  ordered_json spec;
  if (!ReadJson(path, &spec, err)) {
    return false;
  }
  JsonFields<ordered_json> f(spec);
  if (!f.IsObject(err) || !f.Strings("args", args_template, err)) {
    *err = "the job's " + std::string(kLaunchJobSpec) + ": " + *err;
    return false;
  }
  const ordered_json* config = f.Find("config");
  if (config == nullptr || !config->is_object()) {
    *err = "the job's " + std::string(kLaunchJobSpec) + ": \"config\" is not an object";
    return false;
  }
  *defaults = config->dump();
  return true;
}

void SetEnv(const std::string& name, const std::string& value) {
  setenv(name.c_str(), value.c_str(), 1);
}

/// Removes WANDB_CONFIG and every WANDB_CONFIG_<n> from our environment.
void UnsetLaunchConfig() {
  std::vector<std::string> names;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string name(entry.substr(0, entry.find('=')));
    if (name == "WANDB_CONFIG" || name.rfind("WANDB_CONFIG_", 0) == 0) {
      names.push_back(name);
    }
  }
  for (const std::string& name : names) {
    unsetenv(name.c_str());
  }
}

/// A temporary directory under $TMPDIR, removed on destruction unless kept.
class TempDir {
 public:
  bool Create(const std::string& prefix, bool keep, std::string* err) {
    std::string tmpdir = GetEnv("TMPDIR");
    path_ = (tmpdir.empty() ? std::string("/tmp") : tmpdir) + "/" + prefix + ".XXXXXX";
    if (mkdtemp(path_.data()) == nullptr) {
      *err = "creating a temporary directory: " + std::string(strerror(errno));
      path_.clear();
      return false;
    }
    keep_ = keep;
    return true;
  }
  ~TempDir() {
    if (path_.empty()) {
      return;
    }
    std::string ignored;
    if (keep_) {
      Info("kept %s", path_.c_str());
    } else {
      RemoveTree(path_, &ignored);
    }
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool keep_ = false;
};

bool OnPath(const std::string& program) {
  std::string path = GetEnv("PATH");
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    std::string dir = path.substr(start, end == std::string::npos ? std::string::npos
                                                                 : end - start);
    if (!dir.empty() && access((dir + "/" + program).c_str(), X_OK) == 0) {
      return true;
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return false;
}

/// The registry (host[:port]) of an image reference, as Docker reads it.
std::string RegistryOfReference(const std::string& reference) {
  size_t slash = reference.find('/');
  std::string first = slash == std::string::npos ? "" : reference.substr(0, slash);
  if (first.empty() || (first.find_first_of(".:[") == std::string::npos && first != "localhost")) {
    return "docker.io";
  }
  return first;
}

/// Where wandb::Run appends metrics inside the container (bind-mounted from the shim's file).
constexpr char kContainerMetricsFile[] = "/run/wandb-job/metrics.jsonl";

/// Fits umoci's runtime config for a run: no terminal, the launch agent's environment on top of
/// the image's, and the metrics file bind-mounted.
bool PrepareRuntimeConfig(const std::string& path,
                          const std::vector<std::pair<std::string, std::string>>& env,
                          const std::string& metrics_file, std::string* err) {
  ordered_json config;
  if (!ReadJson(path, &config, err)) {
    return false;
  }
  if (!config.is_object() || !config.contains("process") || !config["process"].is_object()) {
    *err = path + " has no \"process\"";
    return false;
  }
  ordered_json& process = config["process"];
  process["terminal"] = false;
  ordered_json merged = ordered_json::array();
  for (const auto& entry : process.value("env", ordered_json::array())) {
    std::string text = entry.is_string() ? entry.get<std::string>() : "";
    std::string name = text.substr(0, text.find('='));
    bool replaced = name == "WANDB_CONFIG" || name.rfind("WANDB_CONFIG_", 0) == 0;
    for (const auto& [key, value] : env) {
      replaced = replaced || name == key;
    }
    if (!replaced) {
      merged.push_back(text);
    }
  }
  for (const auto& [key, value] : env) {
    merged.push_back(key + "=" + value);
  }
  process["env"] = merged;
  if (!config.contains("mounts") || !config["mounts"].is_array()) {
    config["mounts"] = ordered_json::array();
  }
  config["mounts"].push_back({{"destination", kContainerMetricsFile},
                              {"type", "bind"},
                              {"source", metrics_file},
                              {"options", {"rbind", "rw"}}});
  return WriteFileAtomic(path, config.dump(2) + "\n", err);
}

// The last step of every source type: the program under the shim, its run in the store.
RunJobStatus RunUnderShim(const ExecPlan& plan, const RunJobOptions& options,
                          std::unique_ptr<JobStore>* store, const std::string& run_id,
                          int* exit_code, std::string* err) {
  std::unique_ptr<RunReporter> reporter;
  if (!OpenRunReporter(ReportTarget::kStore, options.store_root, store, &reporter, err)) {
    return RunJobStatus::kError;
  }
  Info("run %s: %s", run_id.c_str(), plan.config.c_str());
  RunOutcome outcome;
  if (!RunProgram(plan, reporter.get(), &outcome, err)) {
    return RunJobStatus::kError;
  }
  Info("run %s %s (exit code %d)", run_id.c_str(), outcome.state.c_str(), outcome.exit_code);
  *exit_code = outcome.exit_code;
  return RunJobStatus::kRan;
}

/// An image job: the pinned image from the job's metadata is copied from its registry with
/// skopeo, unpacked with umoci and run with runc under the shim, its Entrypoint and Cmd as built
/// (the ARGS rendered with the defaults), the launch config in WANDB_CONFIG as the agent gives it.
RunJobStatus RunImageJob(std::unique_ptr<JobStore>* store, const StoredCollection& job,
                         const StoredVersion& version, const JobDefinition& definition,
                         const JobRef& ref, const std::string& overrides,
                         const RunJobOptions& options, int* exit_code, std::string* err) {
  std::string image = definition.image;
  ordered_json meta = ordered_json::parse(version.metadata.empty() ? "{}" : version.metadata,
                                          nullptr, false);
  if (meta.is_object() && meta.contains("image") && meta["image"].is_string()) {
    image = meta["image"].get<std::string>();  // pinned by digest when published
  }
  if (image.empty()) {
    *err = "the image job names no image";
    return RunJobStatus::kError;
  }
  std::vector<std::string> missing;
  for (const char* tool : {"skopeo", "umoci", "runc"}) {
    if (!OnPath(tool)) {
      missing.push_back(tool);
    }
  }
  if (!missing.empty()) {
    *err = "running image jobs needs skopeo, umoci and runc; not found on PATH: " +
           Join(missing, ", ");
    return RunJobStatus::kError;
  }
  TempDir tmp;
  if (!tmp.Create("wandb-job-run", options.keep, err)) {
    return RunJobStatus::kError;
  }
  std::string layout = tmp.path() + "/layout", bundle = tmp.path() + "/bundle";
  std::string metrics = tmp.path() + "/metrics.jsonl";
  std::string full = job.entity + "/" + job.project + "/" + job.name;
  Info("running %s:v%d (image %s)", full.c_str(), version.index, image.c_str());
  std::string registry = RegistryOfReference(image);
  std::vector<std::string> copy = {"skopeo", "copy", "--quiet"};
  if (UsesPlainHttp(registry, PlainHttp::kLocalhostOnly) ||
      IsInsecureRegistry(registry, GetEnv("WANDB_JOB_INSECURE_REGISTRIES"))) {
    copy.push_back("--src-tls-verify=false");
  }
  copy.insert(copy.end(), {"docker://" + image, "oci:" + layout + ":run"});
  bool root = geteuid() == 0;
  std::vector<std::string> unpack = {"umoci", "unpack"};
  if (!root) {
    unpack.push_back("--rootless");
  }
  unpack.insert(unpack.end(), {"--image", layout + ":run", bundle});
  if (!RunCommand(copy, "", err)) {
    *err = "fetching image " + image + ": " + *err;
    return RunJobStatus::kError;
  }
  if (!RunCommand(unpack, "", err)) {
    *err = "unpacking image " + image + ": " + *err;
    return RunJobStatus::kError;
  }

  std::string alias = ref.selector.empty() ? "latest" : ref.selector;
  std::string run_id = options.run_id.empty() ? NewRunId() : options.run_id;
  std::string job_ref = full + ":" + alias;
  std::vector<std::pair<std::string, std::string>> env = ChunkedEnv("WANDB_CONFIG", overrides);
  env.insert(env.end(), {{"WANDB_RUN_ID", run_id},
                         {"WANDB_ARTIFACTS", ordered_json({{"_wandb_job", job_ref}}).dump()},
                         {"WANDB_LAUNCH", "True"},
                         {"WANDB_PROJECT", job.project},
                         {"WANDB_ENTITY", job.entity},
                         {"WANDB_DOCKER", image},
                         {kMetricsFileEnv, kContainerMetricsFile}});
  if (!PrepareRuntimeConfig(bundle + "/config.json", env, metrics, err)) {
    *err = "preparing the container: " + *err;
    return RunJobStatus::kError;
  }

  ExecPlan plan;
  plan.config = ordered_json::parse(overrides).dump();
  plan.argv = {"runc"};
  if (!root) {
    plan.argv.insert(plan.argv.end(), {"--rootless", "true"});
  }
  plan.argv.insert(plan.argv.end(), {"--root", tmp.path() + "/runc", "run", "--bundle", bundle,
                                     "wandb-job-" + run_id + "-" + std::to_string(getpid())});
  plan.run_id = run_id;
  plan.entity = job.entity;
  plan.project = job.project;
  plan.job = job_ref;
  plan.metrics_file = metrics;
  plan.metrics_inherited = false;  // Ours, bind-mounted for the shim inside the image.
  return RunUnderShim(plan, options, store, run_id, exit_code, err);
}

}  // namespace

bool OpenRunReporter(ReportTarget target, const std::string& store_root,
                     std::unique_ptr<JobStore>* store, std::unique_ptr<RunReporter>* out,
                     std::string* err) {
  out->reset();
  ReportMode mode = ReportModeFromEnvironment();
  if (mode == ReportMode::kDisabled) {
    return true;
  }
  std::string why;
  if (target == ReportTarget::kWandbOrStore && !OpenWandbRunReporter(out, &why)) {
    Warning("not reporting to W&B: %s; recording the run in the local store", why.c_str());
  }
  if (*out != nullptr) {
    return true;
  }
  if (*store == nullptr && !JobStore::Open(store_root, store, err)) {
    return false;
  }
  *out = MakeStoreReporter(store->get());
  return true;
}

namespace {

/// Splits "a, list<b, c>" at its top-level commas.
std::vector<std::string> SplitTypeList(const std::string& text) {
  std::vector<std::string> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    char c = i < text.size() ? text[i] : ',';
    depth += (c == '<' || c == '{') ? 1 : (c == '>' || c == '}') ? -1 : 0;
    if (c == ',' && depth == 0) {
      size_t b = text.find_first_not_of(' ', start);
      parts.push_back(b == std::string::npos || b >= i ? "" : text.substr(b, i - b));
      start = i + 1;
    }
  }
  return parts;
}

bool EnclosedIn(const std::string& type, const std::string& open, char close) {
  return type.size() > open.size() && type.compare(0, open.size(), open) == 0 &&
         type.back() == close;
}

}  // namespace

bool ValueMatchesType(const ordered_json& value, const std::string& type) {
  if (type == "number") {
    return value.is_number();
  }
  if (type == "boolean") {
    return value.is_boolean();
  }
  if (type == "string") {
    return value.is_string();
  }
  if (type == "none") {
    return value.is_null();
  }
  if (type == "list") {
    return value.is_array();
  }
  if (EnclosedIn(type, "list<", '>')) {
    if (!value.is_array()) {
      return false;
    }
    const std::string element = type.substr(5, type.size() - 6);
    return std::all_of(value.begin(), value.end(),
                       [&](const ordered_json& v) { return ValueMatchesType(v, element); });
  }
  if (EnclosedIn(type, "union<", '>')) {
    std::vector<std::string> members = SplitTypeList(type.substr(6, type.size() - 7));
    return std::any_of(members.begin(), members.end(),
                       [&](const std::string& t) { return ValueMatchesType(value, t); });
  }
  if (type == "dict" || EnclosedIn(type, "{", '}')) {
    return value.is_object();
  }
  return true;  // any, const<...>, types this check does not know: W&B decides
}

namespace {

/// What a value of `type` looks like on the command line, for the error.
std::string TypeExample(const std::string& type) {
  if (type == "number") {
    return "e.g. 3 or 0.01";
  }
  if (type == "boolean") {
    return "true or false";
  }
  if (type == "none") {
    return "null";
  }
  if (type.rfind("list", 0) == 0) {
    return "a JSON list, e.g. [1, 2]";
  }
  if (type == "dict" || EnclosedIn(type, "{", '}')) {
    return "a JSON object, e.g. {\"key\": 1}, or set its keys one by one";
  }
  return "a JSON value of that type";
}

}  // namespace

RunJobStatus OverridesFromPairs(const std::vector<std::string>& pairs,
                                const std::string& job_name, const std::string& input_types_json,
                                std::string* overrides_json, std::string* err) {
  std::vector<std::pair<std::string, std::string>> types;
  if (!FlattenTypes(input_types_json, &types, err)) {
    *err = "the job's input_types: " + *err;
    return RunJobStatus::kError;
  }
  std::vector<std::string> typed;
  for (const std::string& pair : pairs) {
    size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      *err = "-c " + Quote(pair) + ": expected key=value";
      return RunJobStatus::kUsageError;
    }
    std::string key = pair.substr(0, eq), value = pair.substr(eq + 1);
    const std::string* type = nullptr;
    bool parent = false;
    for (const auto& [name, t] : types) {
      if (name == key) {
        type = &t;
      } else if (name.rfind(key + ".", 0) == 0) {
        parent = true;
      }
    }
    if (type == nullptr && !parent) {
      std::vector<std::string> known;
      for (const auto& row : types) {
        known.push_back(row.first);
      }
      *err = "unknown config key " + Quote(key) + " for job " + job_name + " (known: " +
             (known.empty() ? "none" : Join(known, ", ")) + ")";
      return RunJobStatus::kUsageError;
    }
    ordered_json parsed = ordered_json::parse(value, nullptr, false);
    if (type != nullptr && *type == "string" && (parsed.is_discarded() || !parsed.is_string())) {
      value = ordered_json(value).dump();  // "1" stays the string "1" for a string input
    } else {
      // A value that is not JSON is a string, as ConfigPairsToJson reads it.
      const ordered_json as_given = parsed.is_discarded() ? ordered_json(value) : parsed;
      const std::string expected = type != nullptr ? *type : "dict";
      if (!ValueMatchesType(as_given, expected)) {
        *err = "-c " + Quote(pair) + ": " + key + " is a " + expected + " input of job " +
               job_name + ", and " + Quote(value) + " is not one (" + TypeExample(expected) + ")";
        return RunJobStatus::kUsageError;
      }
    }
    typed.push_back(key + "=" + value);
  }
  if (!ConfigPairsToJson(typed, overrides_json, err)) {
    *err = "-c: " + *err;
    return RunJobStatus::kUsageError;
  }
  return RunJobStatus::kRan;
}

RunJobStatus RunJob(const RunJobOptions& options, int* exit_code, std::string* err) {
  JobRef ref;
  if (!ParseJobRef(options.job_ref, &ref, err)) {
    return RunJobStatus::kUsageError;
  }
  std::unique_ptr<JobStore> store;
  StoredCollection job;
  const StoredVersion* version = nullptr;
  if (!JobStore::Open(options.store_root, &store, err) || !FindJob(*store, ref, &job, err) ||
      !SelectVersion(job, ref.selector, &version, err)) {
    return RunJobStatus::kError;
  }
  std::string text;
  JobDefinition definition;
  if (!store->ReadFile(*version, "wandb-job.json", &text, err) ||
      !JobDefinition::FromJson(text, &definition, err)) {
    *err = job.name + ":v" + std::to_string(version->index) + ": wandb-job.json: " + *err;
    return RunJobStatus::kError;
  }
  std::string overrides;
  RunJobStatus status =
      OverridesFromPairs(options.set, job.name, definition.input_types, &overrides, err);
  if (status != RunJobStatus::kRan) {
    return status;
  }
  if (definition.source_type == "image") {
    return RunImageJob(&store, job, *version, definition, ref, overrides, options, exit_code,
                       err);
  }
  std::string target;
  if (version->manifest.Find("wandb-job.lock.json") != nullptr) {
    ordered_json lock;
    std::string lock_text;
    if (!store->ReadFile(*version, "wandb-job.lock.json", &lock_text, err)) {
      return RunJobStatus::kError;
    }
    lock = ordered_json::parse(lock_text, nullptr, false);
    if (lock.is_object() && lock.contains("target") && lock["target"].is_string()) {
      target = lock["target"].get<std::string>();
    }
  }
  if (target.empty()) {
    *err = "the job names no CMake target (wandb-job.lock.json has no \"target\")";
    return RunJobStatus::kError;
  }

  std::string tmpdir = GetEnv("TMPDIR");
  std::string tmp = (tmpdir.empty() ? std::string("/tmp") : tmpdir) + "/wandb-job-run.XXXXXX";
  if (mkdtemp(tmp.data()) == nullptr) {
    *err = "creating a temporary directory: " + std::string(strerror(errno));
    return RunJobStatus::kError;
  }
  struct Cleanup {
    std::string dir;
    bool keep;
    ~Cleanup() {
      std::string ignored;
      if (keep) {
        Info("kept %s", dir.c_str());
      } else {
        RemoveTree(dir, &ignored);
      }
    }
  } cleanup{tmp, options.keep};
  std::string src = tmp + "/src", build = tmp + "/build";
  std::string full = job.entity + "/" + job.project + "/" + job.name;
  Info("running %s:v%d (%s job, target %s)", full.c_str(), version->index,
       definition.source_type.c_str(), target.c_str());
  bool materialised = definition.source_type == "artifact"
                          ? MaterialiseArtifact(*store, definition, src, err)
                          : MaterialiseRepo(*store, *version, definition, tmp, src, err);
  if (!materialised) {
    return RunJobStatus::kError;
  }
  std::string exe, defaults;
  std::vector<std::string> args_template;
  ConfigureRecord record;
  bool recorded = false;
  if (!ReadConfigureRecord(src, &record, &recorded, err)) {
    return RunJobStatus::kError;
  }
  std::string project_dir;
  std::vector<std::string> configure;
  if (recorded) {
    // The steps of the generated Dockerfile, with the configure arguments the capture recorded.
    if (!options.source_subdir.empty()) {
      record.source_subdir = options.source_subdir;
    }
    configure = ConfigureCommand(record, src, build);
    project_dir = configure[2];
  } else {
    project_dir = options.source_subdir.empty() ? src : JoinPath(src, options.source_subdir);
    configure = {"cmake", "-S", project_dir, "-B", build, "-G", "Ninja",
                 "-DCMAKE_BUILD_TYPE=Release"};
    if (!options.tool_path.empty()) {
      configure.push_back("-DWANDB_JOB_TOOL=" + options.tool_path);
    }
  }
  if (!FileExists(project_dir + "/CMakeLists.txt")) {
    *err = "the job's code has no CMakeLists.txt" +
           (options.source_subdir.empty() ? std::string(" at its root (pass --source-dir)")
                                          : " in " + options.source_subdir);
    return RunJobStatus::kError;
  }
  configure.insert(configure.end(), options.cmake_args.begin(), options.cmake_args.end());
  std::vector<std::string> build_command =
      recorded ? BuildCommand(record, build)
               : std::vector<std::string>{"cmake", "--build", build, "--target", target};
  bool built = MakeDirs(build + "/.cmake/api/v1/query", err) &&
               WriteFileAtomic(build + "/.cmake/api/v1/query/codemodel-v2", "", err) &&
               RunCommand(configure, "", err) && RunCommand(build_command, "", err) &&
               FindTargetArtifact(build, target, &exe, err);
  if (built) {
    built = recorded ? ReadLaunchJobSpec(src, &defaults, &args_template, err)
                     : DefaultsAndTemplate(build, target, definition, &defaults, &args_template,
                                           err);
  }
  if (!built) {
    // CMake's messages point into the temporary directory, which is about to go.
    *err = "building " + full + ": " + *err +
           (options.keep ? "; the build directory is kept: " + build
                         : "; the build directory " + build +
                               " is removed: run again with --keep to inspect it");
    return RunJobStatus::kError;
  }

  // The launch agent's environment (wandb-protocol.md §3.1).
  std::string alias = ref.selector.empty() ? "latest" : ref.selector;
  std::string run_id = options.run_id.empty() ? NewRunId() : options.run_id;
  UnsetLaunchConfig();
  for (const auto& [name, value] : ChunkedEnv("WANDB_CONFIG", overrides)) {
    SetEnv(name, value);
  }
  SetEnv("WANDB_RUN_ID", run_id);
  SetEnv("WANDB_ARTIFACTS", ordered_json({{"_wandb_job", full + ":" + alias}}).dump());
  SetEnv("WANDB_LAUNCH", "True");
  SetEnv("WANDB_PROJECT", job.project);
  SetEnv("WANDB_ENTITY", job.entity);

  ExecOptions exec;
  exec.defaults = defaults;
  exec.command = {exe};
  exec.command.insert(exec.command.end(), args_template.begin(), args_template.end());
  ExecPlan plan;
  if (!PlanExec(exec, &plan, err)) {
    return RunJobStatus::kError;
  }
  plan.workdir = src;
  return RunUnderShim(plan, options, &store, run_id, exit_code, err);
}

}  // namespace wandb_job
