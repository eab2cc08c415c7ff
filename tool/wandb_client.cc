#include "wandb_client.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <utility>

#include "file_util.h"
#include "log.h"
#include "wandb_credentials.h"
#include "wandb_graphql.h"

namespace wandb_job {

using nlohmann::json;

namespace {

constexpr char kViewerQuery[] = "query Viewer { viewer { id entity } }";

std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng(std::random_device{}() ^
                                   (static_cast<uint64_t>(std::random_device{}()) << 32));
  return rng;
}

double Jitter() {
  return std::uniform_real_distribution<double>(1.0, 1.25)(Rng());
}

// A POST of a GraphQL document that only reads.
bool IsGraphqlQuery(const HttpRequest& request, RequestKind kind) {
  if (kind != RequestKind::kGraphql || request.method != "POST" || !request.body_file.empty()) {
    return false;
  }
  json body = json::parse(request.body, nullptr, false);
  return body.is_object() && body.contains("query") && body["query"].is_string() &&
         !IsGraphqlMutation(body["query"].get<std::string>());
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

bool IsGraphqlMutation(std::string_view document) {
  // Every top-level definition starts with `query`, `mutation`, `subscription`, `fragment` or
  // `{` (a query); anything nested is inside braces. Strings and comments are skipped.
  int depth = 0;
  bool any = false;
  for (size_t i = 0; i < document.size();) {
    char c = document[i];
    if (c == '#') {
      size_t eol = document.find('\n', i);
      i = eol == std::string_view::npos ? document.size() : eol + 1;
    } else if (c == '"') {
      for (++i; i < document.size() && document[i] != '"'; ++i) {
        if (document[i] == '\\') {
          ++i;
        }
      }
      ++i;
    } else if (c == '{' || c == '(' || c == '[') {
      any = any || depth == 0;
      ++depth;
      ++i;
    } else if (c == '}' || c == ')' || c == ']') {
      if (--depth < 0) {
        return true;
      }
      ++i;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t end = i;
      while (end < document.size() &&
             (std::isalnum(static_cast<unsigned char>(document[end])) || document[end] == '_')) {
        ++end;
      }
      std::string_view word = document.substr(i, end - i);
      // At the top level (keywords and names); a query named "mutation" errs on the safe side.
      if (depth == 0 && (word == "mutation" || word == "subscription")) {
        return true;
      }
      any = true;
      i = end;
    } else {
      ++i;
    }
  }
  return !any || depth != 0;
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
  if (options_.read_only && request.method != "GET" && request.method != "HEAD" &&
      !IsGraphqlQuery(request, kind)) {
    *err = what + ": refused, nothing may be written to W&B in a dry run";
    return false;
  }
  // The key goes to the W&B API only, never to presigned storage URLs.
  bool with_auth = kind != RequestKind::kUpload && IsUnderBaseUrl(request.url, options_.base_url);
  HttpRequest r = request;
  if (options_.cancelled) {
    r.cancelled = options_.cancelled;
  }
  if (with_auth) {
    r.headers.emplace_back("Authorization", WandbAuthorization(options_.api_key));
  }
  for (int attempt = 0;; ++attempt) {
    if (options_.cancelled && options_.cancelled()) {
      *err = what + ": cancelled";
      return false;
    }
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
    if (!options_.cancelled) {
      options_.sleep(wait);
      continue;
    }
    for (double slept = 0; slept < wait && !options_.cancelled(); slept += 0.1) {
      options_.sleep(std::min(0.1, wait - slept));
    }
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

}  // namespace wandb_job
