// W&B over its GraphQL API and presigned storage URLs: WandbSink publishes artifact versions the
// way `wandb job create` does (a hidden run, createArtifact ... commitArtifact), and the readers
// fill StoredCollection for ls/show. Knows W&B's protocol, retry policy and auth rules; not how
// bundles or jobs are made.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http.h"
#include "job_store.h"
#include "publish.h"

namespace wandb_job {

/// W&B's backoff: min(max, base * 2^attempt * U[1, 1.25]), or exactly Retry-After when given.
struct RetryPolicy {
  int max_retries = 20;
  double base_seconds = 2;
  double max_seconds = 60;
};

/// The default policy, with base_seconds from $WANDB_JOB_RETRY_BASE_MS and max_retries from
/// $WANDB_JOB_RETRY_MAX when set (for tests and impatient users).
RetryPolicy RetryPolicyFromEnv();

/// Which of W&B's retry rules applies to a request.
enum class RequestKind {
  kGraphql,       // no retry on 400/401/403/404/409/410/413/422/501
  kUpsertBucket,  // as kGraphql, but 409 is retried (wandb-core's upsertBucket policy)
  kUpload,        // presigned storage: only 429 and 5xx other than 501
  kFileStream,    // as kGraphql
  kDownload,      // as kUpload, but with the key when the URL is under the base URL
};

/// True when an HTTP status is worth another attempt for `kind` (status 0: no response).
bool IsRetryableStatus(long status, RequestKind kind);
/// The wait before retry `attempt` (from 0) without Retry-After; `jitter` in [1, 1.25].
double BackoffSeconds(const RetryPolicy& policy, int attempt, double jitter);
/// Retry-After as delta-seconds or an HTTP date (relative to `now`, seconds since the epoch).
/// False when the value is neither. Not capped, as in wandb-core.
bool ParseRetryAfter(std::string_view value, double now, double* seconds);
/// True when `url` is the base URL or below it (same scheme, host and port, path prefix).
bool IsUnderBaseUrl(std::string_view url, std::string_view base_url);
/// `n` random characters of [A-Za-z0-9] (client IDs), or of [a-z0-9] with `lowercase`.
std::string RandomId(size_t n, bool lowercase);

/// How progress shows while uploading.
enum class ProgressMode { kAuto, kTerminal, kPlain, kNone };

struct WandbClientOptions {
  std::string base_url;  // normalised, no trailing "/"
  std::string api_key;
  RetryPolicy retry = RetryPolicyFromEnv();
  int upload_threads = 8;  // parallel uploads, one transport each
  /// Makes one transport per thread; CurlTransport when unset.
  std::function<std::unique_ptr<HttpTransport>()> make_transport;
  /// Waits between attempts; a real sleep when unset.
  std::function<void(double seconds)> sleep;
  /// kAuto: a live line when stderr is a terminal, plain lines otherwise.
  ProgressMode progress = ProgressMode::kAuto;
};

/// Upload counters, for the summary and for tests.
struct UploadStats {
  int files_uploaded = 0;
  int files_skipped = 0;  // the server already had the content (null uploadUrl)
  uint64_t bytes_uploaded = 0;
};

/// The HTTP side: retries, auth only for URLs under the base URL, GraphQL envelopes.
class WandbClient {
 public:
  explicit WandbClient(WandbClientOptions options);
  ~WandbClient();
  WandbClient(const WandbClient&) = delete;
  WandbClient& operator=(const WandbClient&) = delete;

  const WandbClientOptions& options() const { return options_; }

  /// Sends with W&B's retry policy over `transport` (the client's own when null). Adds the
  /// W&B Authorization header only when the URL is under the base URL and `kind` is not
  /// kUpload. A final non-2xx status is an error: 401/403 from W&B name the key, others give
  /// "HTTP <status>: <body>". `what` names the operation in messages.
  bool Send(HttpTransport* transport, const HttpRequest& request, RequestKind kind,
            const std::string& what, HttpResponse* response, std::string* err);

  /// One GraphQL operation: POST <base>/graphql with {query, variables, operationName}.
  /// `variables_json` is a JSON object; `*data_json` receives the "data" member. GraphQL errors
  /// are not retried and give "<operation>: <server message>".
  bool Graphql(const std::string& operation, const std::string& query,
               const std::string& variables_json, std::string* data_json, std::string* err,
               RequestKind kind = RequestKind::kGraphql);

  /// The viewer's default entity.
  bool ViewerEntity(std::string* entity, std::string* err);

 private:
  WandbClientOptions options_;
  std::unique_ptr<HttpTransport> transport_;
};

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

  WandbClient* client_;
  std::string default_entity_;
  std::vector<Run> runs_;
  UploadStats stats_;
};

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

}  // namespace wandb_job
