#include "wandb_client.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <utility>

#include "file_util.h"
#include "hash.h"
#include "log.h"
#include "wandb_credentials.h"

namespace wandb_job {

using nlohmann::json;

namespace {

constexpr long kGraphqlTimeoutSeconds = 60;
constexpr size_t kFilesBatch = 500;  // createArtifactFiles specs per call (Python: <= 1000)

// --- GraphQL documents (each validated against the schema by the fake server's tests) ---------

constexpr char kViewerQuery[] = "query Viewer { viewer { id entity } }";

constexpr char kUpsertBucket[] = R"(mutation UpsertBucket($name: String, $project: String,
    $entity: String, $jobType: String) {
  upsertBucket(input: {name: $name, modelName: $project, entityName: $entity,
      jobType: $jobType}) {
    bucket { id name }
    inserted
  }
})";

constexpr char kCreateArtifact[] = R"(mutation CreateArtifact($input: CreateArtifactInput!) {
  createArtifact(input: $input) {
    artifact {
      id
      state
      digest
      versionIndex
      aliases { alias artifactCollectionName }
      artifactSequence { id latestArtifact { id versionIndex } }
    }
  }
})";

constexpr char kCreateArtifactManifest[] = R"(mutation CreateArtifactManifest($artifactID: ID!,
    $baseArtifactID: ID, $name: String!, $digest: String!, $entityName: String!,
    $projectName: String!, $runName: String!, $manifestType: ArtifactManifestType!,
    $includeUpload: Boolean!) {
  createArtifactManifest(input: {artifactID: $artifactID, baseArtifactID: $baseArtifactID,
      name: $name, digest: $digest, entityName: $entityName, projectName: $projectName,
      runName: $runName, type: $manifestType}) {
    artifactManifest {
      id
      file {
        id
        uploadUrl @include(if: $includeUpload)
        uploadHeaders @include(if: $includeUpload)
      }
    }
  }
})";

constexpr char kCreateArtifactFiles[] = R"(mutation CreateArtifactFiles(
    $artifactFiles: [CreateArtifactFileSpecInput!]!, $storageLayout: ArtifactStorageLayout!) {
  createArtifactFiles(input: {artifactFiles: $artifactFiles, storageLayout: $storageLayout}) {
    files {
      edges {
        node {
          name
          uploadUrl
          uploadHeaders
          artifact { id }
        }
      }
    }
  }
})";

constexpr char kCommitArtifact[] = R"(mutation CommitArtifact($artifactID: ID!) {
  commitArtifact(input: {artifactID: $artifactID}) {
    artifact {
      id
      digest
      state
      versionIndex
      aliases { alias artifactCollectionName }
    }
  }
})";

constexpr char kAddAliases[] = R"(mutation AddAliases($artifactID: ID!,
    $aliases: [ArtifactCollectionAliasInput!]!) {
  addAliases(input: {artifactID: $artifactID, aliases: $aliases}) {
    success
  }
})";

constexpr char kDeleteRun[] = R"(mutation DeleteRun($id: ID!) {
  deleteRun(input: {id: $id}) {
    clientMutationId
  }
})";

constexpr char kCollectionNames[] = R"(query JobCollections($entity: String!, $project: String!,
    $cursor: String) {
  project(name: $project, entityName: $entity) {
    artifactType(name: "job") {
      artifactCollections(first: 100, after: $cursor) {
        pageInfo { hasNextPage endCursor }
        edges { node { name } }
      }
    }
  }
})";

constexpr char kCollection[] = R"(query Collection($entity: String!, $project: String!,
    $type: String!, $name: String!, $cursor: String, $withManifest: Boolean!) {
  project(name: $project, entityName: $entity) {
    artifactType(name: $type) {
      artifactCollection(name: $name) {
        name
        createdAt
        artifacts(first: 100, after: $cursor) {
          pageInfo { hasNextPage endCursor }
          edges {
            node {
              id
              digest
              state
              versionIndex
              createdAt
              description
              metadata
              aliases { alias artifactCollectionName }
              currentManifest @include(if: $withManifest) { file { directUrl } }
            }
          }
        }
      }
    }
  }
})";

constexpr char kArtifactFile[] = R"(query ArtifactFile($id: ID!, $names: [String!]) {
  artifact(id: $id) {
    files(names: $names, first: 1) {
      edges { node { name directUrl } }
    }
  }
})";

// --- small helpers ------------------------------------------------------------------------------

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int IntOr(const json& j, const char* key, int fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int>() : fallback;
}

const json& Member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) {
    return kNull;
  }
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string OneLine(std::string_view text, size_t max) {
  std::string out;
  for (char c : text.substr(0, max)) {
    out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  return text.size() > max ? out + "..." : out;
}

// The messages of a GraphQL "errors" array, or "" when there are none.
std::string GraphqlErrors(const json& body) {
  const json& errors = Member(body, "errors");
  if (!errors.is_array() || errors.empty()) {
    return "";
  }
  std::string out;
  for (const json& e : errors) {
    std::string m = e.is_object() ? Str(e, "message") : e.dump();
    out += (out.empty() ? "" : "; ") + (m.empty() ? e.dump() : m);
  }
  return out;
}

std::string HumanBytes(uint64_t n) {
  char buf[32];
  if (n < 1024) {
    snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(n));
  } else if (n < 1024 * 1024) {
    snprintf(buf, sizeof(buf), "%.1f KiB", n / 1024.0);
  } else if (n < 1024ull * 1024 * 1024) {
    snprintf(buf, sizeof(buf), "%.1f MiB", n / (1024.0 * 1024));
  } else {
    snprintf(buf, sizeof(buf), "%.2f GiB", n / (1024.0 * 1024 * 1024));
  }
  return buf;
}

std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng(std::random_device{}() ^
                                   (static_cast<uint64_t>(std::random_device{}()) << 32));
  return rng;
}

double Jitter() {
  return std::uniform_real_distribution<double>(1.0, 1.25)(Rng());
}

// Aliases as the views want them: "latest" first, then sorted; only this collection's.
std::vector<std::string> AliasList(const json& aliases, const std::string& collection) {
  std::vector<std::string> out;
  bool latest = false;
  if (aliases.is_array()) {
    for (const json& a : aliases) {
      std::string name = Str(a, "alias");
      std::string coll = Str(a, "artifactCollectionName");
      if (name.empty() || (!coll.empty() && !collection.empty() && coll != collection)) {
        continue;
      }
      if (name == "latest") {
        latest = true;
      } else if (std::find(out.begin(), out.end(), name) == out.end()) {
        out.push_back(name);
      }
    }
  }
  std::sort(out.begin(), out.end());
  if (latest) {
    out.insert(out.begin(), "latest");
  }
  return out;
}

// --- progress -----------------------------------------------------------------------------------

// Upload progress: a live line on a terminal, a line per artifact otherwise.
class Progress {
 public:
  Progress(ProgressMode mode, std::string name, int files, uint64_t bytes)
      : name_(std::move(name)), files_(files), bytes_(bytes) {
    if (mode == ProgressMode::kAuto) {
      mode = isatty(STDERR_FILENO) ? ProgressMode::kTerminal : ProgressMode::kPlain;
    }
    mode_ = GetVerbosity() == Verbosity::kQuiet ? ProgressMode::kNone : mode;
    start_ = std::chrono::steady_clock::now();
    if (mode_ == ProgressMode::kPlain) {
      Info("%s: uploading %d file(s), %s", name_.c_str(), files_, HumanBytes(bytes_).c_str());
    }
    Draw(true);
  }

  void FileDone(const std::string& path, uint64_t size) {
    std::lock_guard<std::mutex> lock(mu_);
    ++done_files_;
    done_bytes_ += size;
    Verbose("%s: uploaded %s (%s)", name_.c_str(), path.c_str(), HumanBytes(size).c_str());
    Draw(done_files_ == files_);
  }

  void Finish(bool ok) {
    std::lock_guard<std::mutex> lock(mu_);
    if (mode_ == ProgressMode::kTerminal) {
      fprintf(stderr, "\n");
    }
    if (ok && mode_ == ProgressMode::kPlain) {
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      Info("%s: uploaded %d file(s), %s in %.1f s", name_.c_str(), done_files_,
           HumanBytes(done_bytes_).c_str(), s);
    }
  }

 private:
  void Draw(bool force) {
    if (mode_ != ProgressMode::kTerminal) {
      return;
    }
    auto now = std::chrono::steady_clock::now();
    if (!force && now - last_draw_ < std::chrono::milliseconds(100)) {
      return;
    }
    last_draw_ = now;
    fprintf(stderr, "\r\033[Kwandb-job: %s: %d/%d files, %s/%s", name_.c_str(), done_files_,
            files_, HumanBytes(done_bytes_).c_str(), HumanBytes(bytes_).c_str());
    fflush(stderr);
  }

  std::mutex mu_;
  ProgressMode mode_ = ProgressMode::kNone;
  std::string name_;
  int files_;
  uint64_t bytes_;
  int done_files_ = 0;
  uint64_t done_bytes_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// --- uploads ------------------------------------------------------------------------------------

struct UploadTask {
  std::string path;  // artifact path, for messages
  std::string url;
  HttpHeaders headers;
  const std::string* inline_body = nullptr;
  std::string file;
  uint64_t size = 0;
};

bool ParseUploadHeaders(const json& list, HttpHeaders* out, std::string* err) {
  if (list.is_null()) {
    return true;
  }
  if (!list.is_array()) {
    *err = "uploadHeaders is not a list";
    return false;
  }
  for (const json& h : list) {
    std::string s = h.is_string() ? h.get<std::string>() : "";
    size_t colon = s.find(':');
    if (colon == std::string::npos || colon == 0) {
      *err = "malformed upload header '" + OneLine(s, 80) + "'";
      return false;
    }
    std::string value = s.substr(colon + 1);
    size_t b = value.find_first_not_of(" \t");
    size_t e = value.find_last_not_of(" \t");
    value = b == std::string::npos ? "" : value.substr(b, e - b + 1);
    out->emplace_back(s.substr(0, colon), value);
  }
  return true;
}

HttpRequest UploadRequest(const UploadTask& t) {
  HttpRequest r;
  r.method = "PUT";
  r.url = t.url;
  r.headers = t.headers;
  if (t.inline_body != nullptr) {
    r.body = *t.inline_body;
  } else {
    r.body_file = t.file;
    r.body_length = static_cast<int64_t>(t.size);
  }
  return r;
}

// PUTs every task, `threads` at a time, each thread with its own transport. Stops at the first
// failure (the others finish their current file).
bool RunUploads(WandbClient* client, const std::vector<UploadTask>& tasks, Progress* progress,
                UploadStats* stats, std::string* err) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::string first_err;
  auto worker = [&](HttpTransport* transport) {
    while (!failed) {
      size_t i = next++;
      if (i >= tasks.size()) {
        return;
      }
      const UploadTask& t = tasks[i];
      HttpResponse response;
      std::string e;
      if (!client->Send(transport, UploadRequest(t), RequestKind::kUpload, "uploading " + t.path,
                        &response, &e)) {
        std::lock_guard<std::mutex> lock(mu);
        if (!failed.exchange(true)) {
          first_err = e;
        }
        return;
      }
      progress->FileDone(t.path, t.size);
      std::lock_guard<std::mutex> lock(mu);
      ++stats->files_uploaded;
      stats->bytes_uploaded += t.size;
    }
  };
  size_t n = std::min<size_t>(std::max(1, client->options().upload_threads), tasks.size());
  std::vector<std::unique_ptr<HttpTransport>> transports;
  for (size_t i = 0; i < n; ++i) {
    transports.push_back(client->options().make_transport
                             ? client->options().make_transport()
                             : std::make_unique<CurlTransport>());
  }
  if (n == 1) {
    worker(transports[0].get());
  } else {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < n; ++i) {
      threads.emplace_back(worker, transports[i].get());
    }
    for (std::thread& th : threads) {
      th.join();
    }
  }
  if (failed) {
    *err = first_err;
    return false;
  }
  return true;
}

bool GraphqlJson(WandbClient* client, const char* operation, const char* query,
                 const json& variables, json* data, std::string* err,
                 RequestKind kind = RequestKind::kGraphql) {
  std::string text;
  if (!client->Graphql(operation, query, variables.dump(), &text, err, kind)) {
    return false;
  }
  *data = json::parse(text, nullptr, false);
  return true;
}

}  // namespace

// --- policy -------------------------------------------------------------------------------------

RetryPolicy RetryPolicyFromEnv() {
  RetryPolicy p;
  std::string base = GetEnv("WANDB_JOB_RETRY_BASE_MS");
  if (!base.empty()) {
    char* end = nullptr;
    double ms = strtod(base.c_str(), &end);
    if (end != base.c_str() && *end == '\0' && ms >= 0) {
      p.base_seconds = ms / 1000;
    }
  }
  std::string max = GetEnv("WANDB_JOB_RETRY_MAX");
  if (!max.empty()) {
    char* end = nullptr;
    long n = strtol(max.c_str(), &end, 10);
    if (end != max.c_str() && *end == '\0' && n >= 0) {
      p.max_retries = static_cast<int>(n);
    }
  }
  return p;
}

bool IsRetryableStatus(long status, RequestKind kind) {
  if (status == 0 || status >= 600) {
    return true;
  }
  if (kind == RequestKind::kUpload || kind == RequestKind::kDownload) {
    return status == 429 || (status >= 500 && status != 501);
  }
  switch (status) {
    case 409:
      return kind == RequestKind::kUpsertBucket;
    case 400:
    case 401:
    case 403:
    case 404:
    case 410:
    case 413:
    case 422:
    case 501:
      return false;
    default:
      return status >= 400;
  }
}

double BackoffSeconds(const RetryPolicy& policy, int attempt, double jitter) {
  double wait = policy.base_seconds * std::pow(2.0, std::min(attempt, 62)) * jitter;
  return std::min(policy.max_seconds, wait);
}

bool ParseRetryAfter(std::string_view value, double now, double* seconds) {
  std::string v(value);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\r')) {
    v.pop_back();
  }
  if (v.empty()) {
    return false;
  }
  if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    *seconds = std::strtod(v.c_str(), nullptr);
    return true;
  }
  struct tm tm = {};
  const char* end = strptime(v.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') {
    return false;
  }
  *seconds = std::max(0.0, static_cast<double>(timegm(&tm)) - now);
  return true;
}

bool IsUnderBaseUrl(std::string_view url, std::string_view base_url) {
  size_t scheme_end = base_url.find("://");
  if (scheme_end == std::string_view::npos || url.size() < base_url.size()) {
    return false;
  }
  size_t authority_end = base_url.find('/', scheme_end + 3);
  if (authority_end == std::string_view::npos) {
    authority_end = base_url.size();
  }
  // Scheme and authority compare case-insensitively, the path exactly.
  for (size_t i = 0; i < base_url.size(); ++i) {
    char a = url[i];
    char b = base_url[i];
    if (i < authority_end) {
      a = static_cast<char>(std::tolower(static_cast<unsigned char>(a)));
      b = static_cast<char>(std::tolower(static_cast<unsigned char>(b)));
    }
    if (a != b) {
      return false;
    }
  }
  return url.size() == base_url.size() || url[base_url.size()] == '/' ||
         url[base_url.size()] == '?';
}

std::string RandomId(size_t n, bool lowercase) {
  static const char kUpper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  static const char kLower[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  const char* alphabet = lowercase ? kLower : kUpper;
  size_t size = lowercase ? sizeof(kLower) - 1 : sizeof(kUpper) - 1;
  std::uniform_int_distribution<size_t> pick(0, size - 1);
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += alphabet[pick(Rng())];
  }
  return out;
}

// --- WandbClient --------------------------------------------------------------------------------

WandbClient::WandbClient(WandbClientOptions options) : options_(std::move(options)) {
  if (!options_.sleep) {
    options_.sleep = [](double seconds) {
      std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    };
  }
  transport_ = options_.make_transport ? options_.make_transport()
                                       : std::make_unique<CurlTransport>();
}

WandbClient::~WandbClient() = default;

bool WandbClient::Send(HttpTransport* transport, const HttpRequest& request, RequestKind kind,
                       const std::string& what, HttpResponse* response, std::string* err) {
  if (transport == nullptr) {
    transport = transport_.get();
  }
  // The key goes to the W&B API only, never to presigned storage URLs.
  bool with_auth = kind != RequestKind::kUpload && IsUnderBaseUrl(request.url, options_.base_url);
  HttpRequest r = request;
  if (with_auth) {
    r.headers.emplace_back("Authorization", WandbAuthorization(options_.api_key));
  }
  for (int attempt = 0;; ++attempt) {
    HttpResponse resp;
    std::string send_err;
    bool got = transport->Send(r, &resp, &send_err);
    if (got && resp.status >= 200 && resp.status < 300) {
      *response = std::move(resp);
      return true;
    }
    std::string problem;
    if (!got) {
      problem = send_err;
      // A presigned URL's query string is a credential of its own: keep it out of messages.
      size_t query = request.url.find('?');
      size_t at = query == std::string::npos ? query : problem.find(request.url);
      if (at != std::string::npos) {
        problem.replace(at, request.url.size(), request.url.substr(0, query) + "?...");
      }
    } else {
      json body = json::parse(resp.body, nullptr, false);
      std::string messages = GraphqlErrors(body);
      problem = "HTTP " + std::to_string(resp.status) + ": " +
                (messages.empty() ? OneLine(resp.body, 300) : messages);
      if (with_auth && (resp.status == 401 || resp.status == 403)) {
        *err = "W&B rejected the API key (HTTP " + std::to_string(resp.status) +
               "); check WANDB_API_KEY or ~/.netrc";
        return false;
      }
      if (!IsRetryableStatus(resp.status, kind)) {
        *err = what + ": " + problem;
        return false;
      }
    }
    if (attempt >= options_.retry.max_retries) {
      *err = what + ": " + problem + " (gave up after " + std::to_string(attempt + 1) +
             " attempts)";
      return false;
    }
    double wait = BackoffSeconds(options_.retry, attempt, Jitter());
    double after = 0;
    if (got && ParseRetryAfter(resp.Header("Retry-After"), static_cast<double>(time(nullptr)),
                               &after)) {
      wait = after;
    }
    Info("%s: %s; retrying in %.1f s (%d of %d)", what.c_str(), problem.c_str(), wait,
         attempt + 1, options_.retry.max_retries);
    options_.sleep(wait);
  }
}

bool WandbClient::Graphql(const std::string& operation, const std::string& query,
                          const std::string& variables_json, std::string* data_json,
                          std::string* err, RequestKind kind) {
  json body;
  body["query"] = query;
  body["variables"] = json::parse(variables_json, nullptr, false);
  body["operationName"] = operation;
  HttpRequest request;
  request.method = "POST";
  request.url = options_.base_url + "/graphql";
  request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
  request.body = body.dump();
  request.timeout_seconds = kGraphqlTimeoutSeconds;
  HttpResponse response;
  if (!Send(nullptr, request, kind, operation, &response, err)) {
    return false;
  }
  json reply = json::parse(response.body, nullptr, false);
  if (reply.is_discarded() || !reply.is_object()) {
    *err = operation + ": the server's reply is not JSON: " + OneLine(response.body, 200);
    return false;
  }
  std::string messages = GraphqlErrors(reply);
  if (!messages.empty()) {
    *err = operation + ": " + messages;
    return false;
  }
  const json& data = Member(reply, "data");
  if (!data.is_object()) {
    *err = operation + ": the server's reply has no data";
    return false;
  }
  *data_json = data.dump();
  return true;
}

bool WandbClient::ViewerEntity(std::string* entity, std::string* err) {
  json data;
  if (!GraphqlJson(this, "Viewer", kViewerQuery, json::object(), &data, err)) {
    return false;
  }
  *entity = Str(Member(data, "viewer"), "entity");
  if (entity->empty()) {
    *err = "the server names no default entity for this API key; set WANDB_ENTITY";
    return false;
  }
  return true;
}

// --- WandbSink ----------------------------------------------------------------------------------

WandbSink::~WandbSink() = default;

std::string WandbSink::Destination() const {
  return client_->options().base_url;
}

bool WandbSink::DefaultEntity(std::string* entity, std::string* err) {
  if (default_entity_.empty() && !client_->ViewerEntity(&default_entity_, err)) {
    return false;
  }
  *entity = default_entity_;
  return true;
}

bool WandbSink::EnsureRun(const std::string& entity, const std::string& project, Run** out,
                          std::string* err) {
  for (Run& r : runs_) {
    if (r.entity == entity && r.project == project) {
      *out = &r;
      return true;
    }
  }
  Run run;
  run.entity = entity;
  run.project = project;
  run.name = RandomId(8, true);
  json vars = {{"name", run.name}, {"project", project}, {"entity", entity},
               {"jobType", "cli_create_job"}};
  json data;
  if (!GraphqlJson(client_, "UpsertBucket", kUpsertBucket, vars, &data, err,
                   RequestKind::kUpsertBucket)) {
    *err = "creating the run that owns the artifacts: " + *err;
    return false;
  }
  const json& bucket = Member(Member(data, "upsertBucket"), "bucket");
  run.storage_id = Str(bucket, "id");
  if (!Str(bucket, "name").empty()) {
    run.name = Str(bucket, "name");
  }
  runs_.push_back(run);
  *out = &runs_.back();
  return true;
}

bool WandbSink::Finish(std::string* err) {
  bool ok = true;
  for (const Run& run : runs_) {
    HttpRequest request;
    request.method = "POST";
    request.url = client_->options().base_url + "/files/" + UrlEncode(run.entity) + "/" +
                  UrlEncode(run.project) + "/" + UrlEncode(run.name) + "/file_stream";
    request.headers = {{"Content-Type", "application/json"}};
    request.body = R"({"complete": true, "exitcode": 0})";
    request.timeout_seconds = kGraphqlTimeoutSeconds;
    HttpResponse response;
    std::string e;
    if (!client_->Send(nullptr, request, RequestKind::kFileStream, "finishing run " + run.name,
                       &response, &e)) {
      *err = e;
      ok = false;
      continue;
    }
    json data;
    if (!run.storage_id.empty() &&
        !GraphqlJson(client_, "DeleteRun", kDeleteRun, {{"id", run.storage_id}}, &data, &e)) {
      *err = "deleting the hidden run " + run.name + ": " + e;
      ok = false;
    }
  }
  runs_.clear();
  return ok;
}

namespace {

// addAliases for the requested aliases the version does not hold yet.
bool EnsureAliases(WandbClient* client, const ArtifactUpload& upload, const std::string& id,
                   std::vector<std::string>* have, std::string* err) {
  json missing = json::array();
  for (const std::string& a : upload.aliases) {
    if (std::find(have->begin(), have->end(), a) == have->end()) {
      missing.push_back({{"alias", a},
                         {"artifactCollectionName", upload.name},
                         {"entityName", upload.entity},
                         {"projectName", upload.project}});
    }
  }
  if (missing.empty()) {
    return true;
  }
  json data;
  if (!GraphqlJson(client, "AddAliases", kAddAliases,
                   {{"artifactID", id}, {"aliases", missing}}, &data, err)) {
    return false;
  }
  for (const json& m : missing) {
    have->push_back(m["alias"].get<std::string>());
  }
  json fake = json::array();
  for (const std::string& a : *have) {
    fake.push_back({{"alias", a}});
  }
  *have = AliasList(fake, "");
  return true;
}

// Checks that the files still hold what the manifest says, before anything is created.
bool CheckFiles(const ArtifactUpload& upload, std::string* err) {
  for (const ManifestEntry& e : upload.manifest.entries) {
    auto inl = upload.inline_files.find(e.path);
    if (inl != upload.inline_files.end()) {
      if (Md5Base64(inl->second) != e.digest) {
        *err = "internal: " + e.path + " does not match its manifest entry";
        return false;
      }
      continue;
    }
    FileHashes h;
    std::string path = JoinPath(upload.files_dir, e.path);
    if (!HashFile(path, &h, err)) {
      *err = "reading " + path + ": " + *err;
      return false;
    }
    if (h.size != e.size || Base64Encode(h.md5) != e.digest) {
      *err = path + " changed after the bundle was made; rebuild the bundle";
      return false;
    }
  }
  return true;
}

}  // namespace

bool WandbSink::Publish(const ArtifactUpload& upload, PublishedArtifact* out, std::string* err) {
  if (!CheckFiles(upload, err)) {
    return false;
  }
  Run* run = nullptr;
  if (!EnsureRun(upload.entity, upload.project, &run, err)) {
    return false;
  }
  PublishedArtifact result;
  result.digest = upload.manifest.Digest();

  // 1. createArtifact: the server deduplicates by digest (COMMITTED: nothing to do), and
  // returns the PENDING version of an interrupted publish of the same content.
  json aliases = json::array();
  for (const std::string& a : upload.aliases) {
    aliases.push_back({{"artifactCollectionName", upload.name}, {"alias", a}});
  }
  json input = {{"entityName", upload.entity},
                {"projectName", upload.project},
                {"artifactTypeName", upload.type},
                {"artifactCollectionNames", json::array({upload.name})},
                {"runName", run->name},
                {"digest", result.digest},
                {"digestAlgorithm", "MANIFEST_MD5"},
                {"aliases", aliases},
                {"enableDigestDeduplication", true},
                {"clientID", RandomId(128, false)},
                {"sequenceClientID", RandomId(128, false)}};
  if (!upload.description.empty()) {
    input["description"] = upload.description;
  }
  if (!upload.metadata.empty()) {
    input["metadata"] = upload.metadata;
  }
  json data;
  if (!GraphqlJson(client_, "CreateArtifact", kCreateArtifact, {{"input", input}}, &data, err)) {
    return false;
  }
  const json& artifact = Member(Member(data, "createArtifact"), "artifact");
  result.id = Str(artifact, "id");
  std::string state = Str(artifact, "state");
  if (result.id.empty()) {
    *err = "createArtifact: the server returned no artifact";
    return false;
  }
  if (state == "COMMITTED") {
    result.version_index = IntOr(artifact, "versionIndex", -1);
    result.aliases = AliasList(Member(artifact, "aliases"), upload.name);
    if (!EnsureAliases(client_, upload, result.id, &result.aliases, err)) {
      return false;
    }
    result.created = false;
    Verbose("%s: the server already has this content (%s)", upload.name.c_str(),
            result.id.c_str());
    *out = std::move(result);
    return true;
  }
  const json& latest = Member(Member(artifact, "artifactSequence"), "latestArtifact");
  std::string base_id = Str(latest, "id");
  if (base_id == result.id) {
    base_id.clear();
  }

  // 2. The manifest record, without its file yet.
  json manifest_vars = {{"artifactID", result.id},
                        {"baseArtifactID", base_id.empty() ? json(nullptr) : json(base_id)},
                        {"name", "wandb_manifest.json"},
                        {"digest", ""},
                        {"entityName", upload.entity},
                        {"projectName", upload.project},
                        {"runName", run->name},
                        {"manifestType", "FULL"},
                        {"includeUpload", false}};
  if (!GraphqlJson(client_, "CreateArtifactManifest", kCreateArtifactManifest, manifest_vars,
                   &data, err)) {
    return false;
  }
  std::string manifest_id = Str(Member(Member(data, "createArtifactManifest"),
                                       "artifactManifest"), "id");

  // 3. Upload URLs per file, in batches; edges answer the specs by position.
  ArtifactManifest final_manifest = upload.manifest;
  std::vector<UploadTask> tasks;
  uint64_t upload_bytes = 0;
  const std::vector<ManifestEntry>& entries = upload.manifest.entries;
  for (size_t start = 0; start < entries.size(); start += kFilesBatch) {
    size_t end = std::min(entries.size(), start + kFilesBatch);
    json specs = json::array();
    for (size_t i = start; i < end; ++i) {
      specs.push_back({{"artifactID", result.id},
                       {"artifactManifestID", manifest_id},
                       {"name", entries[i].path},
                       {"md5", entries[i].digest}});
    }
    if (!GraphqlJson(client_, "CreateArtifactFiles", kCreateArtifactFiles,
                     {{"artifactFiles", specs}, {"storageLayout", "V2"}}, &data, err)) {
      return false;
    }
    const json& edges = Member(Member(Member(data, "createArtifactFiles"), "files"), "edges");
    if (!edges.is_array() || edges.size() != end - start) {
      *err = "createArtifactFiles: the server answered " +
             std::to_string(edges.is_array() ? edges.size() : 0) + " files for " +
             std::to_string(end - start);
      return false;
    }
    for (size_t i = start; i < end; ++i) {
      const json& node = Member(edges[i - start], "node");
      const ManifestEntry& e = entries[i];
      ManifestEntry with_birth = e;
      with_birth.birth_artifact_id = Str(Member(node, "artifact"), "id");
      if (with_birth.birth_artifact_id.empty()) {
        with_birth.birth_artifact_id = result.id;
      }
      final_manifest.Add(with_birth);
      std::string url = Str(node, "uploadUrl");
      if (url.empty()) {  // The server already stores this content.
        ++stats_.files_skipped;
        continue;
      }
      UploadTask t;
      t.path = e.path;
      t.url = url;
      t.size = e.size;
      if (!ParseUploadHeaders(Member(node, "uploadHeaders"), &t.headers, err)) {
        *err = "createArtifactFiles: " + e.path + ": " + *err;
        return false;
      }
      auto inl = upload.inline_files.find(e.path);
      if (inl != upload.inline_files.end()) {
        t.inline_body = &inl->second;
      } else {
        t.file = JoinPath(upload.files_dir, e.path);
      }
      upload_bytes += e.size;
      tasks.push_back(std::move(t));
    }
  }

  // 4. The files, in parallel.
  if (!tasks.empty()) {
    Progress progress(client_->options().progress, upload.name, static_cast<int>(tasks.size()),
                      upload_bytes);
    bool ok = RunUploads(client_, tasks, &progress, &stats_, err);
    progress.Finish(ok);
    if (!ok) {
      return false;
    }
  }

  // 5. The manifest with birth artifact IDs, declared with its MD5, then uploaded.
  std::string manifest_text = final_manifest.ToJson();
  manifest_vars["digest"] = Md5Base64(manifest_text);
  manifest_vars["includeUpload"] = true;
  if (!GraphqlJson(client_, "CreateArtifactManifest", kCreateArtifactManifest, manifest_vars,
                   &data, err)) {
    return false;
  }
  const json& file = Member(Member(Member(data, "createArtifactManifest"), "artifactManifest"),
                            "file");
  std::string manifest_url = Str(file, "uploadUrl");
  if (!manifest_url.empty()) {
    UploadTask t;
    t.path = "wandb_manifest.json";
    t.url = manifest_url;
    t.inline_body = &manifest_text;
    t.size = manifest_text.size();
    if (!ParseUploadHeaders(Member(file, "uploadHeaders"), &t.headers, err)) {
      *err = "createArtifactManifest: " + *err;
      return false;
    }
    HttpResponse response;
    if (!client_->Send(nullptr, UploadRequest(t), RequestKind::kUpload,
                       "uploading wandb_manifest.json", &response, err)) {
      return false;
    }
  }

  // 6. Commit: the version becomes visible, numbered, and takes its aliases.
  if (!GraphqlJson(client_, "CommitArtifact", kCommitArtifact, {{"artifactID", result.id}},
                   &data, err)) {
    return false;
  }
  const json& committed = Member(Member(data, "commitArtifact"), "artifact");
  result.version_index = IntOr(committed, "versionIndex", -1);
  result.aliases = AliasList(Member(committed, "aliases"), upload.name);
  if (!EnsureAliases(client_, upload, result.id, &result.aliases, err)) {
    return false;
  }
  result.created = true;
  *out = std::move(result);
  return true;
}

// --- reading back -------------------------------------------------------------------------------

namespace {

bool Download(WandbClient* client, const std::string& url, const std::string& what,
              std::string* contents, std::string* err) {
  HttpRequest request;
  request.url = url;
  request.follow_redirects = true;
  HttpResponse response;
  if (!client->Send(nullptr, request, RequestKind::kDownload, what, &response, err)) {
    return false;
  }
  *contents = std::move(response.body);
  return true;
}

// One collection of `type`; `*found` false when the project, type or collection is absent.
bool FetchCollection(WandbClient* client, const std::string& entity, const std::string& project,
                     const std::string& type, const std::string& name, bool with_manifests,
                     StoredCollection* out, bool* found, std::string* err) {
  StoredCollection c;
  c.entity = entity;
  c.project = project;
  c.type = type;
  c.name = name;
  *found = false;
  json cursor = nullptr;
  while (true) {
    json vars = {{"entity", entity}, {"project", project},   {"type", type},
                 {"name", name},     {"cursor", cursor},     {"withManifest", with_manifests}};
    json data;
    if (!GraphqlJson(client, "Collection", kCollection, vars, &data, err)) {
      return false;
    }
    const json& coll = Member(Member(Member(data, "project"), "artifactType"),
                              "artifactCollection");
    if (!coll.is_object()) {
      *out = std::move(c);
      return true;
    }
    c.created_at = Str(coll, "createdAt");
    const json& conn = Member(coll, "artifacts");
    for (const json& edge : Member(conn, "edges")) {
      const json& node = Member(edge, "node");
      if (Str(node, "state") != "COMMITTED" || IntOr(node, "versionIndex", -1) < 0) {
        continue;
      }
      StoredVersion v;
      v.id = Str(node, "id");
      v.index = IntOr(node, "versionIndex", 0);
      v.digest = Str(node, "digest");
      v.aliases = AliasList(Member(node, "aliases"), name);
      v.created_at = Str(node, "createdAt");
      v.description = Str(node, "description");
      v.metadata = Str(node, "metadata");
      std::string url = Str(Member(Member(node, "currentManifest"), "file"), "directUrl");
      if (with_manifests && !url.empty()) {
        std::string text;
        if (!Download(client, url, "downloading the manifest of " + name + ":v" +
                                       std::to_string(v.index), &text, err) ||
            !ArtifactManifest::FromJson(text, &v.manifest, err)) {
          return false;
        }
      }
      c.versions.push_back(std::move(v));
    }
    const json& page = Member(conn, "pageInfo");
    if (!Member(page, "hasNextPage").is_boolean() || !Member(page, "hasNextPage").get<bool>()) {
      break;
    }
    cursor = Str(page, "endCursor");
  }
  std::sort(c.versions.begin(), c.versions.end(),
            [](const StoredVersion& a, const StoredVersion& b) { return a.index < b.index; });
  *found = !c.versions.empty();
  *out = std::move(c);
  return true;
}

}  // namespace

bool WandbSink::FindExisting(const ArtifactUpload& upload, PublishedArtifact* out, bool* found,
                             std::string* err) {
  StoredCollection c;
  if (!FetchCollection(client_, upload.entity, upload.project, upload.type, upload.name, false,
                       &c, found, err)) {
    return false;
  }
  *found = FindVersionByDigest(c, upload.manifest.Digest(), out);
  return true;
}

bool ListWandbJobs(WandbClient* client, const std::string& entity, const std::string& project,
                   std::vector<StoredCollection>* out, std::string* err) {
  std::vector<std::string> names;
  json cursor = nullptr;
  while (true) {
    json data;
    if (!GraphqlJson(client, "JobCollections", kCollectionNames,
                     {{"entity", entity}, {"project", project}, {"cursor", cursor}}, &data,
                     err)) {
      return false;
    }
    const json& conn = Member(Member(Member(data, "project"), "artifactType"),
                              "artifactCollections");
    for (const json& edge : Member(conn, "edges")) {
      std::string name = Str(Member(edge, "node"), "name");
      if (!name.empty()) {
        names.push_back(name);
      }
    }
    const json& page = Member(conn, "pageInfo");
    if (!Member(page, "hasNextPage").is_boolean() || !Member(page, "hasNextPage").get<bool>()) {
      break;
    }
    cursor = Str(page, "endCursor");
  }
  std::sort(names.begin(), names.end());
  std::vector<StoredCollection> jobs;
  for (const std::string& name : names) {
    StoredCollection c;
    bool found = false;
    if (!FetchCollection(client, entity, project, "job", name, false, &c, &found, err)) {
      return false;
    }
    if (found) {
      jobs.push_back(std::move(c));
    }
  }
  *out = std::move(jobs);
  return true;
}

bool GetWandbJob(WandbClient* client, const std::string& entity, const std::string& project,
                 const std::string& name, StoredCollection* out, std::string* err) {
  bool found = false;
  if (!FetchCollection(client, entity, project, "job", name, true, out, &found, err)) {
    return false;
  }
  if (!found) {
    *err = "unknown job '" + name + "' in " + entity + "/" + project + " on " +
           client->options().base_url + "; `wandb-job ls` lists the jobs";
    return false;
  }
  return true;
}

bool OpenWandbReader(bool force, bool local_store_named, const std::string& entity,
                     const std::string& project, WandbReadTarget* out, std::string* err) {
  WandbCredentials creds;
  if (!LoadWandbCredentials(&creds, err)) {
    return false;
  }
  if (force && !creds.UseWandb()) {
    *err = creds.mode != WandbMode::kOnline
               ? "--wandb: WANDB_MODE is not online"
               : "--wandb: no W&B API key found (WANDB_API_KEY or a netrc entry for " +
                     NetrcMachine(creds.base_url) + ")";
    return false;
  }
  out->use = force || (!local_store_named && creds.UseWandb());
  if (!out->use) {
    return true;
  }
  WandbClientOptions options;
  options.base_url = creds.base_url;
  options.api_key = creds.api_key;
  out->client = std::make_unique<WandbClient>(std::move(options));
  out->entity = !entity.empty() ? entity : GetEnv("WANDB_ENTITY");
  out->project = !project.empty() ? project : GetEnv("WANDB_PROJECT");
  if (out->project.empty()) {
    *err = "reading jobs from W&B (" + creds.base_url + ") needs a project: --project, "
           "PROJECT/NAME or WANDB_PROJECT (--store reads the local store)";
    return false;
  }
  if (out->entity.empty() && !out->client->ViewerEntity(&out->entity, err)) {
    *err = "finding the default entity: " + *err;
    return false;
  }
  return true;
}

bool ReadWandbFile(WandbClient* client, const StoredVersion& version, const std::string& path,
                   std::string* contents, std::string* err) {
  json data;
  if (!GraphqlJson(client, "ArtifactFile", kArtifactFile,
                   {{"id", version.id}, {"names", json::array({path})}}, &data, err)) {
    return false;
  }
  const json& edges = Member(Member(Member(data, "artifact"), "files"), "edges");
  std::string url;
  for (const json& edge : edges) {
    if (Str(Member(edge, "node"), "name") == path) {
      url = Str(Member(edge, "node"), "directUrl");
    }
  }
  if (url.empty()) {
    *err = "v" + std::to_string(version.index) + " has no file " + path;
    return false;
  }
  if (!Download(client, url, "downloading " + path, contents, err)) {
    return false;
  }
  const ManifestEntry* e = version.manifest.Find(path);
  if (e != nullptr && Md5Base64(*contents) != e->digest) {
    *err = "downloading " + path + ": the content does not match its manifest digest";
    return false;
  }
  return true;
}

}  // namespace wandb_job
