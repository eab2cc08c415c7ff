#include "bundle.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "atomic_file.h"
#include "capture.h"
#include "content_cache.h"
#include "elf_closure.h"
#include "file_util.h"
#include "hash.h"
#include "image_builder.h"
#include "job_spec.h"
#include "json_access.h"
#include "launch_files.h"
#include "lockfile.h"
#include "log.h"
#include "progress.h"
#include "tar_writer.h"
#include "version.h"
#include "wandb_types.h"

namespace wandb_job {
namespace {

using ordered_json = nlohmann::ordered_json;

constexpr char kBundleFormat[] = "wandb-job-bundle/1";
// The job artifact's record of the image it runs (image jobs): the image layout's manifest
// digest, so that a new image makes a new job version.
constexpr char kImageLockFile[] = "wandb-job.image.json";
// The job's build and the run shim's: a compiler, CMake, Ninja, and the helper's libraries.
constexpr char kDefaultAptPackages[] =
    "ca-certificates cmake g++ git make ninja-build nlohmann-json3-dev pkg-config "
    "libgit2-dev libcurl4-openssl-dev libssl-dev libarchive-dev libcli11-dev libdeflate-dev "
    "zlib1g-dev";
constexpr char kDefaultBaseImage[] = "debian:12";


constexpr char kTempInfix[] = ".tmp.";

// Removes the temporary siblings `<out_dir>.tmp.<pid>.*` an interrupted run left: those whose
// process is gone. A live writer's directory (another build of the same tree) is left alone.
void RemoveStaleTempDirs(const std::string& parent, const std::string& base) {
  std::string prefix = base + kTempInfix;
  std::string ignored;
  WalkDirectory(
      parent,
      [&](const DirEntry& e) {
        if (e.relpath.compare(0, prefix.size(), prefix) != 0) {
          return false;
        }
        bool alive = TempWriterAlive(e.relpath.substr(prefix.size()));
        std::string path = JoinPath(parent, e.relpath);
        if (!alive && RemoveTree(path, &ignored)) {
          Verbose("removed %s, left by an interrupted capture", path.c_str());
        }
        return false;  // never descend
      },
      &ignored);
}


std::string ShellLine(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& word : argv) {
    out += (out.empty() ? "" : " ") + ShellWord(word);
  }
  return out;
}

// Fills templates/Dockerfile.in: @NAME@ placeholders only, so the template stays plain text. The
// build steps are the ones `wandb-job run` runs (launch_files.h).
bool RenderDockerfile(const Capture& c, std::string* out, std::string* err) {
  std::string path = JoinPath(c.spec.templates_dir, "Dockerfile.in");
  std::string text;
  if (!ReadFile(path, &text, err)) {
    *err = "reading the Dockerfile template: " + *err;
    return false;
  }
  const ConfigureRecord& r = c.configure;
  const std::string build_dir = "/build";
  std::string packages_step;
  if (!c.spec.packages.empty()) {
    packages_step = "\n# PACKAGES of the job.\nRUN apt-get update \\\n && DEBIAN_FRONTEND=noninteractive "
                    "apt-get install -y --no-install-recommends \\\n      " +
                    ShellLine(c.spec.packages) + " \\\n && rm -rf /var/lib/apt/lists/*\n";
  }
  nlohmann::json entrypoint = c.job.entrypoint;
  const std::vector<std::pair<std::string, std::string>> vars = {
      {"@TARGET@", c.spec.target},
      {"@PROGRAM@", c.program},
      {"@BASE_IMAGE@", c.spec.base_image.empty() ? kDefaultBaseImage : c.spec.base_image},
      {"@APT_PACKAGES@", kDefaultAptPackages},
      {"@SHIM_PATH@", kImageShimPath},
      {"@PACKAGES_STEP@", packages_step},
      {"@CONFIGURE@", ShellLine(ConfigureCommand(r, kImageCodeDir, build_dir))},
      {"@BUILD@", ShellLine(BuildCommand(r, build_dir))},
      {"@TARGET_FILE@", ShellWord(JoinPath(build_dir, r.target_relpath))},
      {"@ENTRYPOINT@", entrypoint.dump()},
  };
  for (const auto& [key, value] : vars) {
    for (size_t pos = 0; (pos = text.find(key, pos)) != std::string::npos;
         pos += value.size()) {
      text.replace(pos, key.size(), value);
    }
  }
  *out = std::move(text);
  return true;
}

// The code's .wandb-job/ directory (launch_files.h), each file added to the code manifest.
bool WriteLaunchFiles(const Capture& c, const std::string& code_dir, ArtifactManifest* manifest,
                      std::string* err);

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

bool WriteLaunchFiles(const Capture& c, const std::string& code_dir, ArtifactManifest* manifest,
                      std::string* err) {
  const JobInputSpec& s = c.spec;
  std::string job_spec, module;
  if (!ShimJobSpecJson(c.config, s.args, &job_spec, err) || !ReadFile(s.module_file, &module, err)) {
    return false;
  }
  std::string api_header;
  if (!ReadFile(JoinPath(s.tool_source_dir, "include/wandb/job.h"), &api_header, err)) {
    return false;
  }
  std::string pkg = kLaunchPackageDir;
  const std::vector<std::pair<std::string, std::string>> files = {
      {kLaunchJobSpec, job_spec},
      {kLaunchConfigure, c.configure.ToJson()},
      {pkg + "/WandbJob.cmake", module},
      {pkg + "/WandbJobConfig.cmake", CarriedPackageConfig()},
      {pkg + "/WandbJobConfigVersion.cmake", CarriedPackageVersion(WANDB_JOB_VERSION)},
      {std::string(kLaunchDir) + "/include/wandb/job.h", api_header},
  };
  for (const auto& [rel, data] : files) {
    if (!WriteInDir(code_dir, rel, data, err)) {
      return false;
    }
  }
  // The shim's sources as one tar with fixed metadata: same sources, same bytes, same image layer.
  std::vector<TarEntry> entries;
  for (const std::string& rel : c.tool_sources) {
    TarEntry e;
    e.path = rel;
    e.source_file = JoinPath(s.tool_source_dir, rel);
    entries.push_back(std::move(e));
  }
  std::string tar;
  auto sink = [&tar](const char* data, size_t size, std::string*) {
    tar.append(data, size);
    return true;
  };
  if (!WriteTar(std::move(entries), 0, sink, err)) {
    *err = "archiving the wandb-job sources: " + *err;
    return false;
  }
  if (!WriteInDir(code_dir, kLaunchToolSource, tar, err)) {
    return false;
  }
  for (const auto& [rel, data] : files) {
    if (!AddFileToManifest(code_dir, rel, manifest, err)) {
      return false;
    }
  }
  return AddFileToManifest(code_dir, kLaunchToolSource, manifest, err);
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
  if (!s.inputs.empty()) {
    // INPUT's descriptions, enums and bounds reach W&B's launch drawer through the job's
    // input_schemas metadata, which publishing keeps as it is.
    std::string schema;
    if (!InputSchemaFromConfig(c.config, s.inputs, &schema, err)) {
      *err = s.target + ": INPUT: " + *err;
      return false;
    }
    job.metadata =
        ordered_json({{"input_schemas", {{"@wandb.config", ordered_json::parse(schema)}}}}).dump();
  }
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
    uint64_t code_bytes = 0;
    for (const std::string& rel : c.code.files) {
      struct stat st;
      if (stat(JoinPath(c.code_dir, rel).c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        code_bytes += static_cast<uint64_t>(st.st_size);
      }
    }
    // A large code tree takes a while to copy and hash; a small one shows nothing.
    Progress progress(ProgressMode::kAuto, s.target + ": capturing the code",
                      static_cast<int>(c.code.files.size()), code_bytes, std::chrono::seconds(5),
                      /*only_if_slow=*/true);
    // Every bundle of the build links its code files to one shared copy.
    ContentCache cache(JoinPath(s.binary_dir, "wandb-jobs/.content"));
    if (!cache.Open(err)) {
      return false;
    }
    std::string made_dir = code_dir;
    if (!MakeDirs(code_dir, err)) {
      return false;
    }
    for (const std::string& rel : c.code.files) {
      std::string from = JoinPath(c.code_dir, rel);
      std::string to = JoinPath(code_dir, rel);
      std::string to_dir = to.substr(0, to.rfind('/'));
      if (to_dir != made_dir && !MakeDirs(to_dir, err)) {
        return false;
      }
      made_dir = to_dir;
      PlacedFile placed;
      std::string place_err;
      if (!cache.Place(from, to, &placed, &place_err)) {
        if (IsDirectory(from) || !FileExists(from)) {
          Warning("%s: %s is not a regular file (a dangling or directory symlink?); left out",
                  s.target.c_str(), rel.c_str());
          continue;
        }
        *err = place_err;
        return false;
      }
      code_manifest.Add(ManifestEntry{rel, Base64Encode(placed.md5), placed.size, ""});
      progress.FileDone(rel, placed.size);
    }
    if (!cache.Save(err)) {
      return false;
    }
    progress.Finish(true);
    if (c.generate_dockerfile) {
      std::string dockerfile;
      if (!RenderDockerfile(c, &dockerfile, err) || !WriteLaunchFiles(c, code_dir, &code_manifest, err) ||
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
  if (c.repo_launch_files) {
    // Not an artifact: what `wandb-job dockerfile` copies into the repository to commit.
    std::string launch_dir = JoinPath(dir, kRepoLaunchDir);
    ArtifactManifest unused;
    std::string dockerfile;
    if (!RenderDockerfile(c, &dockerfile, err) ||
        !WriteLaunchFiles(c, launch_dir, &unused, err) ||
        !WriteInDir(launch_dir, kGeneratedDockerfile, dockerfile, err)) {
      return false;
    }
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

// True when every reader of the depfile on its way (CMake's depfile transform, then ninja or
// make) reads `path` back unchanged, a space escaped. Quotes, backslashes, '#', '$', ':', '*'
// and newlines are each lost by one of them.
bool DepfileCanSpell(const std::string& path) {
  for (unsigned char ch : path) {
    if (!std::isalnum(ch) && ch < 0x80 && std::strchr("/._+,@~=- ", ch) == nullptr) {
      return false;
    }
  }
  return true;
}

std::string EscapeDepfilePath(const std::string& path) {
  std::string out;
  for (char ch : path) {
    if (ch == ' ') {
      out += '\\';
    }
    out += ch;
  }
  return out;
}

// An input whose path the depfile cannot spell is named through a symlink in `links_dir`,
// named by the path's hash: ninja and make stat through it, so the input's changes still count,
// and its removal leaves the link dangling, a missing input that re-runs the step.
bool DepfileName(const std::string& path, const std::string& links_dir, std::string* out,
                 std::string* err) {
  if (DepfileCanSpell(path)) {
    *out = EscapeDepfilePath(path);
    return true;
  }
  std::string link = JoinPath(links_dir, Sha256Hex(path).substr(0, 32));
  if (!MakeDirs(links_dir, err)) {
    return false;
  }
  if (symlink(path.c_str(), link.c_str()) != 0 && errno != EEXIST) {
    *err = "linking " + link + " for the depfile: " + strerror(errno);
    return false;
  }
  *out = EscapeDepfilePath(link);
  return true;
}

bool WriteDepfile(const Capture& c, const BundleOptions& options, std::string* err) {
  std::string target = options.depfile_target.empty() ? JoinPath(options.out_dir, "bundle.json")
                                                      : options.depfile_target;
  std::string links_dir = options.depfile + ".links";
  if (!RemoveTree(links_dir, err)) {
    return false;
  }
  std::string text = EscapeDepfilePath(target) + ":";
  std::string name;
  for (const std::string& input : c.inputs) {
    // ninja treats a missing input as always dirty; list only what exists. One stat a file.
    struct stat st;
    if (!input.empty() && stat(input.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
      if (!DepfileName(input, links_dir, &name, err)) {
        return false;
      }
      text += " \\\n  " + name;
    }
  }
  for (const std::string& dir : c.input_dirs) {
    if (IsDirectory(dir)) {
      if (!DepfileName(dir, links_dir, &name, err)) {
        return false;
      }
      text += " \\\n  " + name;
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
  if (!CaptureJob(options, &c, err)) {
    return false;
  }
  const std::string& t = c.spec.target;
  std::string out_dir = NormalizePath(options.out_dir);
  std::string parent = out_dir.substr(0, out_dir.rfind('/'));
  if (!MakeDirs(parent, err)) {
    return false;
  }
  RemoveStaleTempDirs(parent, out_dir.substr(out_dir.rfind('/') + 1));
  std::string fresh = out_dir + kTempInfix + TempSuffix();
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

bool LoadArtifact(const JsonFields<nlohmann::json>& j, const std::string& dir, BundleArtifact* out,
                  std::string* err) {
  std::string files, manifest;
  if (!j.IsObject(err) || !j.String("name", &out->name, err) ||
      !j.String("type", &out->type, err, Field::kOptional) ||
      !j.String("description", &out->description, err, Field::kOptional) ||
      !j.Strings("aliases", &out->aliases, err, Field::kOptional) ||
      !j.String("files", &files, err) || !j.String("manifest", &manifest, err)) {
    return false;
  }
  const nlohmann::json* metadata = j.Find("metadata");
  if (metadata != nullptr && !metadata->is_null() && !metadata->is_object()) {
    *err = FieldTypeError(j.PathOf("metadata"), "an object or null");
    return false;
  }
  out->metadata = metadata != nullptr && !metadata->is_null() ? metadata->dump() : "";
  for (const std::string* rel : {&files, &manifest}) {
    if (rel->empty() || (*rel)[0] == '/' || ("/" + *rel + "/").find("/../") != std::string::npos) {
      *err = "field " + j.PathOf(rel == &files ? "files" : "manifest") +
             " must be a path inside the bundle";
      return false;
    }
  }
  out->files_dir = JoinPath(dir, files);
  std::string manifest_path = JoinPath(dir, manifest);
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
  auto format = j.find("format");  // end() for anything but an object
  if (format == j.end() || !format->is_string() || *format != kBundleFormat) {
    *err = "bundle " + dir + " is damaged or of another version (bad bundle.json); rebuild it";
    return false;
  }
  Bundle b;
  b.dir = dir;
  JsonFields<nlohmann::json> f(j);
  JsonFields<nlohmann::json> job(j), code(j), git(j);
  const nlohmann::json* config = f.Find("config");
  if (!f.String("source_type", &b.source_type, err) || !f.String("entity", &b.entity, err) ||
      !f.String("project", &b.project, err) ||
      !f.String("cmake_project", &b.cmake_project, err, Field::kOptional) ||
      !f.Object("job", &job, err) || !LoadArtifact(job, dir, &b.job, err) ||
      !f.Strings("args", &b.args, err, Field::kOptional) ||
      !f.Strings("entrypoint", &b.entrypoint, err, Field::kOptional) ||
      !f.Object("git", &git, err, Field::kOptional) ||
      !git.String("remote", &b.git_remote, err, Field::kOptional) ||
      !git.String("commit", &b.git_commit, err, Field::kOptional) ||
      !git.String("branch", &b.git_branch, err, Field::kOptional) ||
      !git.Bool("dirty", &b.git_dirty, err, Field::kOptional) ||
      !f.String("image", &b.image, err, Field::kOptional)) {
    *err = "bundle " + dir + " is damaged: " + *err + "; rebuild it";
    return false;
  }
  if (f.Find("code") != nullptr) {
    b.has_code = true;
    if (!f.Object("code", &code, err) || !LoadArtifact(code, dir, &b.code, err)) {
      *err = "bundle " + dir + " is damaged: " + *err + "; rebuild it";
      return false;
    }
  }
  if (config != nullptr && !config->is_null() && !config->is_object()) {
    *err = "bundle " + dir + " is damaged: " + FieldTypeError("config", "an object") +
           "; rebuild it";
    return false;
  }
  b.config = config != nullptr && !config->is_null() ? config->dump() : "{}";
  *out = std::move(b);
  return true;
}

bool WriteRepoLaunchFiles(const std::string& bundle_dir, const std::string& out_dir,
                          std::vector<std::string>* written, std::string* err) {
  Bundle bundle;
  if (!LoadBundle(bundle_dir, &bundle, err)) {
    return false;
  }
  if (bundle.source_type != "repo") {
    *err = "the bundle " + bundle_dir + " is of an " + bundle.source_type + " job; only repo " +
           "jobs need a committed Dockerfile (" +
           (bundle.source_type == "artifact" ? "an artifact job's code carries its own"
                                             : "an image job runs its image") + ")";
    return false;
  }
  std::string from = JoinPath(bundle.dir, kRepoLaunchDir);
  if (!IsDirectory(JoinPath(from, kLaunchDir)) ||
      !FileExists(JoinPath(from, kGeneratedDockerfile))) {
    *err = "the bundle " + bundle_dir + " has no " + kRepoLaunchDir +
           "/ directory; rebuild the job's bundle with this version of wandb-job";
    return false;
  }
  if (!IsDirectory(out_dir)) {
    *err = "--out-dir " + out_dir + " is not a directory; give the root of the repository";
    return false;
  }
  std::string existing = JoinPath(out_dir, kGeneratedDockerfile);
  if (FileExists(existing)) {
    std::string text;
    if (!ReadFile(existing, &text, err)) {
      return false;
    }
    if (text.rfind(kGeneratedDockerfileHeader, 0) != 0) {
      *err = existing + " exists and was not written by wandb-job; move it away, or pass " +
             "--out-dir another directory";
      return false;
    }
  }
  std::vector<std::string> files;
  if (!WalkDirectory(from,
                     [&](const DirEntry& e) {
                       if (!e.is_dir) {
                         files.push_back(e.relpath);
                       }
                       return true;
                     },
                     err)) {
    return false;
  }
  std::sort(files.begin(), files.end());
  for (const std::string& rel : files) {
    std::string to = JoinPath(out_dir, rel);
    if (!MakeDirs(to.substr(0, to.rfind('/')), err) ||
        !CopyFile(JoinPath(from, rel), to, 0644, err)) {
      *err = "writing " + to + ": " + *err;
      return false;
    }
  }
  *written = std::move(files);
  return true;
}

}  // namespace wandb_job
