// Publishing bundles: the order of operations (code artifact first, its ID into wandb-job.json,
// then the job) over an ArtifactSink, which is either the local job store or W&B.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "artifact_manifest.h"
#include "bundle.h"

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
  /// For --dry-run: the version that already holds the upload's digest, if the sink can tell.
  virtual bool FindExisting(const ArtifactUpload& upload, PublishedArtifact* out, bool* found,
                            std::string* err) {
    *found = false;
    return true;
  }
};

struct PublishOptions {
  bool dry_run = false;
};

struct JobPublishResult {
  bool dry_run = false;
  bool known = true;  // dry run: false when the outcome can't be told before publishing
  std::string name, entity, project;
  PublishedArtifact job;
  bool has_code = false;
  PublishedArtifact code;
  std::string code_name;
  std::string destination;
};

/// Publishes one loaded bundle. With dry_run, resolves names and reports without writing.
bool PublishBundle(const Bundle& bundle, ArtifactSink* sink, const PublishOptions& options,
                   JobPublishResult* out, std::string* err);

}  // namespace wandb_job
