// Publishing bundles: the order of operations (an image job's image pushed first; a code
// artifact before its job, its ID into wandb-job.json; then the job) over an ArtifactSink, which
// is either the local job store or W&B.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "artifact_manifest.h"
#include "bundle.h"
#include "registry_client.h"

namespace wandb_job {

/// One artifact version to create. A file's bytes come from `inline_files` when the path is
/// there (wandb-job.json after the code artifact ID is substituted), else from files_dir/path.
struct ArtifactUpload {
  std::string entity, project;
  std::string type, name, description, metadata;
  std::vector<std::string> aliases;  // "latest" included
  ArtifactManifest manifest;         // without birth artifact IDs
  std::string files_dir;
  std::map<std::string, std::string> inline_files;
};

struct PublishedArtifact {
  std::string id;           // the server's (or store's) artifact ID
  int version_index = -1;   // vN
  std::string digest;       // hex artifact digest
  bool created = false;     // false: same content existed, no new version
  std::vector<std::string> aliases;  // aliases this version holds after publishing
};

/// Where artifacts go. Implementations: JobStore (local), the W&B client.
class ArtifactSink {
 public:
  virtual ~ArtifactSink() = default;
  /// "local store <path>" or the W&B base URL; for messages and --json.
  virtual std::string Destination() const = 0;
  /// The entity used when neither the bundle nor $WANDB_ENTITY names one.
  virtual bool DefaultEntity(std::string* entity, std::string* err) = 0;
  /// Creates the version, or finds the one with the same digest and moves the aliases to it.
  /// Either the version is complete or, on failure, not visible at all.
  virtual bool Publish(const ArtifactUpload& upload, PublishedArtifact* out, std::string* err) = 0;
  /// For publish receipts: a string that changes when version `index` of the collection no
  /// longer is what was published (lost, replaced, its aliases moved). "" when the sink could
  /// tell only over the network (W&B): its receipts stand until `publish --force`.
  virtual std::string VersionStamp(const std::string& entity, const std::string& project,
                                   const std::string& type, const std::string& name, int index) {
    return "";
  }
  /// For --dry-run: the version that already holds the upload's digest, if the sink can tell.
  virtual bool FindExisting(const ArtifactUpload& upload, PublishedArtifact* out, bool* found,
                            std::string* err) {
    *found = false;
    return true;
  }
};

struct PublishOptions {
  bool dry_run = false;
  /// Image jobs: the registry transport (null: curl) and the docker config directory ("" is
  /// $DOCKER_CONFIG or ~/.docker). Plain HTTP is used for localhost registries and those listed
  /// in $WANDB_JOB_INSECURE_REGISTRIES.
  TransportFactory registry_transport;
  std::string docker_config_dir;
  /// Aliases added to every job (--alias, --ci-aliases), after the bundle's; an image job's image
  /// is tagged with them too. Each must pass ValidateAlias.
  std::vector<std::string> extra_aliases;
};

/// What publishing an image job pushed (or, in a dry run, would push).
struct ImagePushSummary {
  std::string reference;          // pushed to: IMAGE without a digest
  std::vector<std::string> tags;  // the aliases that are valid OCI tags
  std::string pinned;             // <name>@sha256:..., "" in a dry run
  std::string digest, base_digest;
  int blobs_uploaded = 0, blobs_skipped = 0, blobs_mounted = 0, blobs_copied = 0;
  int64_t bytes_uploaded = 0;
};

struct JobPublishResult {
  bool dry_run = false;
  bool known = true;  // dry run: false when the outcome can't be told before publishing
  std::string name, entity, project;
  std::string source_type;  // repo, artifact or image
  PublishedArtifact job;
  bool has_code = false;
  PublishedArtifact code;
  std::string code_name;
  std::string destination;
  bool has_image = false;  // an image job: `image` says what was pushed
  ImagePushSummary image;
};

/// Writes an image job's image as a tarball `docker load` reads, tagged `repo_tags` (empty: the
/// job's IMAGE). Images with a BASE_IMAGE are refused: their base layers are added only when
/// pushing.
bool WriteBundleImageArchive(const Bundle& bundle, std::vector<std::string> repo_tags,
                             const std::string& out_path, std::string* err);

/// True for a valid OCI tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
bool IsValidImageTag(const std::string& tag);

/// Whether `registry` (host[:port]) is listed in `list`, the comma-separated value of
/// WANDB_JOB_INSECURE_REGISTRIES; an entry without a port matches every port of its host.
bool IsInsecureRegistry(const std::string& registry, const std::string& list);

/// Publishes one loaded bundle. With dry_run, resolves names and reports without writing. An
/// image job's image is pushed, tagged with the job's aliases, before the job artifact, whose
/// metadata then names the pinned image ("image", "image_digest", "base_image_digest"); a
/// failed push publishes nothing of that job.
bool PublishBundle(const Bundle& bundle, ArtifactSink* sink, const PublishOptions& options,
                   JobPublishResult* out, std::string* err);

/// The W&B app (UI) URL of an API base URL, as the SDK derives it: `app_url_env`
/// ($WANDB_APP_URL) when set; https://api.wandb.ai -> https://wandb.ai; https://api.<host> ->
/// https://app.<host>; anything else (W&B Server) unchanged. No trailing slash.
std::string WandbAppUrl(const std::string& base_url, const std::string& app_url_env);

/// Where to look at a published job. With an app URL (W&B): the version's page
/// <app>/<entity>/<project>/artifacts/job/<name>/vN (the SDK's Artifact.url) and the project's
/// jobs page <app>/<entity>/<project>/jobs (what `wandb job create` prints). Without one (the
/// local store): the `wandb-job show ENTITY/PROJECT/NAME:vN` command, and "" for the jobs page.
struct JobLinks {
  std::string version;  // "" when the version is unknown (a dry run of a new job)
  std::string jobs;
};
JobLinks MakeJobLinks(const JobPublishResult& result, const std::string& app_url);

/// The --summary document (README, "publish --summary"): JSON with `destination`, `dry_run`,
/// `published` (PublishChangedAnything for some job) and `jobs`, one object per job.
std::string PublishSummaryJson(const std::vector<JobPublishResult>& results,
                               const std::string& destination, const std::string& app_url,
                               bool dry_run);

/// True when publishing created a version, of the job or its code artifact (--detailed-exitcode).
/// Aliases added to an existing version do not count.
bool PublishChangedAnything(const JobPublishResult& result);

}  // namespace wandb_job
