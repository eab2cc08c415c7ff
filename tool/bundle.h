// The bundle: the contract between capture (build time, offline) and publishing. WriteBundle()
// turns a job input spec into a self-contained directory; LoadBundle() reads one back.
// docs/bundle.md describes the layout.
#pragma once

#include <string>
#include <vector>

#include "artifact_manifest.h"

namespace wandb_job {

/// In an artifact job's wandb-job.json the code artifact's server ID is unknown until publish;
/// the bundle holds this placeholder and the publisher substitutes the ID.
inline constexpr char kCodeArtifactIdPlaceholder[] = "@WANDB_JOB_CODE_ARTIFACT_ID@";

/// In a repo job's bundle: the Dockerfile.wandb and .wandb-job/ directory that the repository
/// must hold for W&B's agent to build the job (`wandb-job dockerfile` copies them there).
inline constexpr char kRepoLaunchDir[] = "launch";

/// One W&B artifact to publish: its files live in `files_dir`, described by `manifest`.
struct BundleArtifact {
  std::string type;  // "job" or "code"
  std::string name;
  std::string description;
  std::string metadata;  // JSON object text, or "" for none
  std::vector<std::string> aliases;
  std::string files_dir;  // absolute, after LoadBundle()
  ArtifactManifest manifest;
};

struct Bundle {
  std::string dir;
  std::string source_type;
  std::string entity;          // ENTITY, or "" for the publisher's default
  std::string project;         // PROJECT, or "" for WANDB_PROJECT / cmake_project
  std::string cmake_project;   // the CMake project name
  BundleArtifact job;
  bool has_code = false;       // artifact jobs carry their code artifact
  BundleArtifact code;
  std::string config;          // default config, JSON object text
  std::vector<std::string> args;        // ARGS template
  std::vector<std::string> entrypoint;  // as in wandb-job.json
  std::string git_remote, git_commit, git_branch;
  bool git_dirty = false;
  std::string image;           // IMAGE as given, or ""

  /// The project the job goes to: PROJECT, else $WANDB_PROJECT, else the CMake project name.
  std::string ResolveProject() const;
};

struct BundleOptions {
  std::string spec_path;     // spec.json from the CMake module
  std::string out_dir;       // the bundle directory, replaced atomically
  std::string depfile;       // Makefile-syntax depfile, "" for none
  std::string depfile_target;  // the output named in the depfile (defaults to out_dir/bundle.json)
  std::string target_file;   // $<TARGET_FILE>
  std::string build_type;    // $<CONFIG>
  std::string cxx_standard;  // $<TARGET_PROPERTY:tgt,CXX_STANDARD>
};

/// Captures the job: git state, code files, lockfiles, native lock, wandb-job.json; writes the
/// bundle into a temporary sibling directory and renames it over `out_dir`. Same inputs, same
/// bytes. Never touches the network.
bool WriteBundle(const BundleOptions& options, std::string* err);

/// Reads and checks a bundle (format, manifests present, files listed in them exist with their
/// sizes). Content hashes are checked while publishing reads the files.
bool LoadBundle(const std::string& dir, Bundle* out, std::string* err);

/// Copies a repo job's launch files from `bundle_dir` into the directory `out_dir` (the root of
/// the repository, the agent's build context): Dockerfile.wandb and .wandb-job/. Overwrites files
/// an earlier call wrote, never a Dockerfile.wandb of the user's. `written` gets the relative
/// paths, sorted.
bool WriteRepoLaunchFiles(const std::string& bundle_dir, const std::string& out_dir,
                          std::vector<std::string>* written, std::string* err);

}  // namespace wandb_job
