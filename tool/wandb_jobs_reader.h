// Reads jobs back from W&B for `ls` and `show`: job collections, their versions and aliases as
// StoredCollection, the runs that used them, and single files of a version; and the one edit of
// the Jobs page, the description. Publishing is wandb_sink's job.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "job_store.h"
#include "wandb_client.h"

namespace wandb_job {

/// What `ls` and `show` read on W&B.
struct WandbReadTarget {
  bool use = false;  // false: read the local store
  std::unique_ptr<WandbClient> client;
  std::string entity, project;
};

/// Decides whether `ls`/`show` read W&B: with `force` (--wandb), or when a key is found,
/// WANDB_MODE is online and no local store was named. Then the entity is `entity` (from the
/// command line), else $WANDB_ENTITY, else the viewer's default; the project is `project`, else
/// $WANDB_PROJECT, and must be known.
bool OpenWandbReader(bool force, bool local_store_named, const std::string& entity,
                     const std::string& project, WandbReadTarget* out, std::string* err);

/// Every job collection of entity/project on W&B (project.artifactType("job")), with versions
/// and aliases (no manifests); sorted by name.
bool ListWandbJobs(WandbClient* client, const std::string& entity, const std::string& project,
                   std::vector<StoredCollection>* out, std::string* err);
/// One job collection; "unknown job ..." when absent.
bool GetWandbJob(WandbClient* client, const std::string& entity, const std::string& project,
                 const std::string& name, StoredCollection* out, std::string* err);
/// The bytes of one file of a version (downloaded from the server), checked against its digest.
bool ReadWandbFile(WandbClient* client, const StoredVersion& version, const std::string& path,
                   std::string* contents, std::string* err);

/// The runs that used each version of `job` (Artifact.usedBy, every page) into job->runs, newest
/// first, with their state, creator, creation time and config values.
bool FetchWandbJobRuns(WandbClient* client, StoredCollection* job, std::string* err);
/// Sets the description of `version` (W&B's Job details show the latest version's).
bool SetWandbJobDescription(WandbClient* client, const StoredVersion& version,
                            const std::string& description, std::string* err);

/// One collection of `type`; `*found` false when the project, type or collection is absent.
/// Downloads each version's manifest when `with_manifests`.
bool FetchWandbCollection(WandbClient* client, const std::string& entity,
                          const std::string& project, const std::string& type,
                          const std::string& name, bool with_manifests, StoredCollection* out,
                          bool* found, std::string* err);

}  // namespace wandb_job
