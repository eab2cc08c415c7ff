// The local job store (the embedded default when there is no W&B account): W&B-shaped entities,
// projects, artifact collections, versions v0, v1, ... and aliases, with file blobs stored once
// by content. Safe under concurrent publishers and killed processes. docs/store.md has the layout.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "publish.h"
#include "run_store.h"

namespace wandb_job {

/// The current UTC time in RFC 3339 (2026-01-02T03:04:05Z): the store's timestamps.
std::string NowRfc3339();

/// $WANDB_JOB_STORE, else $XDG_DATA_HOME/wandb-job/store, else ~/.local/share/wandb-job/store.
std::string DefaultStoreRoot();

/// The store's artifact ID: base64 of "Artifact:<decimal>", the decimal derived from the
/// collection and the artifact digest, so the same content in the same collection always gets
/// the same ID (and a job referencing a re-published code artifact keeps its digest).
std::string StoreArtifactId(const std::string& entity, const std::string& project,
                            const std::string& type, const std::string& name,
                            const std::string& digest);

struct StoredVersion {
  std::string id;
  int index = 0;  // vN
  std::string digest;
  std::vector<std::string> aliases;  // "latest" first, then sorted; never "vN"
  std::string created_at;            // RFC 3339 UTC
  std::string description;
  std::string metadata;       // JSON text or ""
  ArtifactManifest manifest;  // with birth artifact IDs
};

struct StoredCollection {
  std::string entity, project, type, name;
  std::string created_at;
  std::vector<StoredVersion> versions;  // by index
  std::vector<RunRecord> runs;          // job collections: the runs that used the job
};

/// Points between the steps of JobStore::Publish(), for tests that interrupt a publish.
enum class PublishStep { kBlobsStored, kVersionWritten, kAliasesWritten };

/// The version of `collection` whose digest is `digest`, as a publish result (created false);
/// false when there is none. Shared by the sinks' FindExisting().
bool FindVersionByDigest(const StoredCollection& collection, const std::string& digest,
                         PublishedArtifact* out);

class JobStore : public ArtifactSink {
 public:
  /// Opens the store at `root` (made absolute). Nothing is created until Publish(); an
  /// unwritable location is an error then, naming the path and WANDB_JOB_STORE.
  static bool Open(const std::string& root, std::unique_ptr<JobStore>* out, std::string* err);

  const std::string& root() const { return root_; }

  std::string Destination() const override;
  bool DefaultEntity(std::string* entity, std::string* err) override;
  bool Publish(const ArtifactUpload& upload, PublishedArtifact* out, std::string* err) override;
  bool FindExisting(const ArtifactUpload& upload, PublishedArtifact* out, bool* found,
                    std::string* err) override;
  /// The version file's inode, size and modification time, and the aliases that name it.
  std::string VersionStamp(const std::string& entity, const std::string& project,
                           const std::string& type, const std::string& name, int index) override;

  /// All collections of `type` ("" for all) that have at least one version, sorted by entity,
  /// project, name, type.
  bool List(const std::string& type, std::vector<StoredCollection>* out, std::string* err) const;
  /// One collection; false with err "unknown job ..." when absent.
  bool Get(const std::string& entity, const std::string& project, const std::string& type,
           const std::string& name, StoredCollection* out, std::string* err) const;
  /// The bytes of one file of a stored version, checked against its digest.
  bool ReadFile(const StoredVersion& version, const std::string& path, std::string* contents,
                std::string* err) const;
  /// The artifact (of any type and collection) whose ID is `id`, e.g. the code artifact named by
  /// an artifact job's source.artifact. False with err "no artifact with ID ..." when none.
  bool FindArtifactById(const std::string& id, StoredCollection* collection, int* version_index,
                        std::string* err) const;

  // Run records, defined in run_store.cc.
  /// Runs are stored per project: entities/<e>/projects/<p>/runs/<id>/run.json, beside the
  /// run's output.log and history.jsonl. RunDir() creates the directory and returns its path.
  bool RunDir(const std::string& entity, const std::string& project, const std::string& id,
              std::string* dir, std::string* err) const;
  /// Writes run.json atomically (creating or replacing the record).
  bool WriteRun(const RunRecord& run, std::string* err) const;
  /// Reads one run; `*found` is false when it does not exist.
  bool ReadRun(const std::string& entity, const std::string& project, const std::string& id,
               RunRecord* out, bool* found, std::string* err) const;
  /// The runs of entity/project that used job `job` ("" for every run), oldest first.
  bool ListRuns(const std::string& entity, const std::string& project, const std::string& job,
                std::vector<RunRecord>* out, std::string* err) const;

  // Defined in store_verify.cc.
  /// Re-hashes every blob and checks every version's files exist; one line per problem.
  bool Verify(std::vector<std::string>* problems, std::string* err) const;

  /// Called by Publish() at each step (the commit lock is held at kVersionWritten).
  void SetStepHookForTesting(std::function<void(PublishStep)> hook) {
    step_hook_ = std::move(hook);
  }

 private:
  explicit JobStore(std::string root) : root_(std::move(root)) {}
  std::string root_;
  std::function<void(PublishStep)> step_hook_;
};

}  // namespace wandb_job
