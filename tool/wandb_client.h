// The HTTP side of W&B: one GraphQL client with W&B's retry policy (backoff, Retry-After), the
// API key only for URLs under the base URL, and W&B's error messages. Knows nothing of
// artifacts, jobs or runs: wandb_sink, wandb_jobs_reader and wandb_run_reporter build on it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "http.h"
#include "progress.h"

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
/// True when a GraphQL document may change something: it defines a mutation or a subscription
/// (or is not a document this check can read). Queries and fragments only: false.
bool IsGraphqlMutation(std::string_view document);
/// `n` random characters of [A-Za-z0-9] (client IDs), or of [a-z0-9] with `lowercase`.
std::string RandomId(size_t n, bool lowercase);

struct WandbClientOptions {
  std::string base_url;  // normalised, no trailing "/"
  std::string api_key;
  RetryPolicy retry = RetryPolicyFromEnv();
  int upload_threads = 8;  // parallel uploads, one transport each
  /// Makes one transport per thread; CurlTransport when unset.
  std::function<std::unique_ptr<HttpTransport>()> make_transport;
  /// Waits between attempts; a real sleep when unset.
  std::function<void(double seconds)> sleep;
  /// kAuto: --progress (DefaultProgressMode()), else a live bar on a terminal, plain lines
  /// otherwise.
  ProgressMode progress = ProgressMode::kAuto;
  /// For --dry-run: only GETs and GraphQL queries go out. A GraphQL mutation or any other
  /// request (upload, file_stream) fails before it is sent, so a dry run can't change W&B.
  bool read_only = false;
  /// When set and true, requests stop: none starts, a retry waits no more, one in flight is
  /// aborted (within about a second). The shim's bounded exit uses it.
  std::function<bool()> cancelled;
};

/// The HTTP side: retries, auth only for URLs under the base URL, GraphQL envelopes.
class WandbClient {
 public:
  explicit WandbClient(WandbClientOptions options);
  ~WandbClient();
  WandbClient(const WandbClient&) = delete;
  WandbClient& operator=(const WandbClient&) = delete;

  const WandbClientOptions& options() const { return options_; }
  /// Sets WandbClientOptions::cancelled after construction (its owner may come later).
  void SetCancelled(std::function<bool()> cancelled) { options_.cancelled = std::move(cancelled); }

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

}  // namespace wandb_job
