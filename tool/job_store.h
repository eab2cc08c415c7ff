// The local job store (the embedded default when there is no W&B account): W&B-shaped entities,
// projects, artifact collections, versions v0, v1, ... and aliases, with file blobs stored once
// by content. Safe under concurrent publishers and killed processes. docs/store.md has the layout.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "publish.h"

namespace wandb_job {

/// $WANDB_JOB_STORE, else $XDG_DATA_HOME/wandb-job/store, else ~/.local/share/wandb-job/store.
std::string DefaultStoreRoot();

struct StoredVersion {
  std::string id;
  int index = 0;                   // vN
  std::string digest;
  std::vector<std::string> aliases;
  std::string created_at;          // RFC 3339 UTC
  std::string description;
  std::string metadata;            // JSON text or ""
  ArtifactManifest manifest;       // with birth artifact IDs
};

struct StoredCollection {
  std::string entity, project, type, name;
  std::string created_at;
  std::vector<StoredVersion> versions;  // by index
};

class JobStore : public ArtifactSink {
 public:
  /// Opens (creating when `create`) the store at `root`. An unwritable location is an error
  /// when a write is attempted, naming the path.
  static bool Open(const std::string& root, std::unique_ptr<JobStore>* out, std::string* err);

  const std::string& root() const { return root_; }

  std::string Destination() const override;
  bool DefaultEntity(std::string* entity, std::string* err) override;
  bool Publish(const ArtifactUpload& upload, PublishedArtifact* out, std::string* err) override;

  /// All collections of `type` ("" for all), sorted by entity, project, name.
  bool List(const std::string& type, std::vector<StoredCollection>* out, std::string* err) const;
  /// One collection; false with err "unknown job ..." when absent.
  bool Get(const std::string& entity, const std::string& project, const std::string& type,
           const std::string& name, StoredCollection* out, std::string* err) const;
  /// The bytes of one file of a stored version.
  bool ReadFile(const StoredVersion& version, const std::string& path, std::string* contents,
                std::string* err) const;
  /// Re-hashes every blob and checks every version's files exist; one line per problem.
  bool Verify(std::vector<std::string>* problems, std::string* err) const;

 private:
  explicit JobStore(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

}  // namespace wandb_job
