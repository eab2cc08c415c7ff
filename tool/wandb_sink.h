// Publishes artifact versions to W&B the way `wandb job create` does (a hidden run,
// createArtifact ... commitArtifact) over a WandbClient; not how bundles or jobs are made.
#pragma once

#include <string>
#include <vector>

#include "publish.h"
#include "wandb_client.h"
#include "wandb_upload.h"

namespace wandb_job {

/// ArtifactSink over W&B. The first Publish() for an entity/project creates a hidden run
/// (upsertBucket, jobType "cli_create_job") that owns the versions; Finish() marks it complete
/// over file_stream and deletes it (not its artifacts), as `wandb job create` does.
class WandbSink : public ArtifactSink {
 public:
  explicit WandbSink(WandbClient* client) : client_(client) {}
  ~WandbSink() override;

  std::string Destination() const override;
  bool DefaultEntity(std::string* entity, std::string* err) override;
  bool Publish(const ArtifactUpload& upload, PublishedArtifact* out, std::string* err) override;
  bool FindExisting(const ArtifactUpload& upload, PublishedArtifact* out, bool* found,
                    std::string* err) override;

  /// Completes and deletes the hidden runs. Safe to call more than once.
  bool Finish(std::string* err);

  const UploadStats& stats() const { return stats_; }

 private:
  struct Run {
    std::string name;        // run ID
    std::string storage_id;  // bucket.id, for deleteRun
    std::string entity, project;
  };
  bool EnsureRun(const std::string& entity, const std::string& project, Run** out,
                 std::string* err);
  // createArtifact; *committed when the server already holds a committed version of the content.
  bool CreateVersion(const ArtifactUpload& upload, const Run& run, PublishedArtifact* result,
                     std::string* base_id, bool* committed, std::string* err);
  // The PENDING version's manifest, files and commit.
  bool UploadAndCommit(const ArtifactUpload& upload, const Run& run, std::string base_id,
                       PublishedArtifact* result, std::string* err);

  WandbClient* client_;
  std::string default_entity_;
  std::vector<Run> runs_;
  UploadStats stats_;
};

}  // namespace wandb_job
