// HTTP for the registry and W&B clients: a small request/response model, the HttpTransport seam
// (faked in tests) and CurlTransport over libcurl. Knows nothing about registries or W&B.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wandb_job {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

/// Produces the next bytes of a streamed request body into `buf` (at most `max`); returns the
/// count, 0 at the end, or -1 after setting `*err` to abort the request.
using HttpBodyReader = std::function<int64_t(char* buf, size_t max, std::string* err)>;
/// Consumes the next bytes of a response body; false (with `*err` set) aborts the request.
using HttpBodySink = std::function<bool(const char* data, size_t size, std::string* err)>;

struct HttpRequest {
  std::string method = "GET";  // any verb; HEAD reads no body
  std::string url;
  HttpHeaders headers;  // sent as given; Content-Length is set from the body
  // The body, from exactly one of these (or none):
  std::string body;               // in memory
  std::string body_file;          // a file, from body_offset, body_length bytes (-1: to the end)
  uint64_t body_offset = 0;
  int64_t body_length = -1;
  HttpBodyReader body_reader;     // a stream of body_reader_size bytes (-1: chunked encoding)
  int64_t body_reader_size = -1;
  /// Response body goes here instead of HttpResponse::body when set (downloads, blob copies).
  HttpBodySink response_sink;
  bool follow_redirects = false;
  long timeout_seconds = 0;         // whole request; 0: none (large uploads)
  long connect_timeout_seconds = 30;
  /// Abort when slower than 1 byte/s for this long (a stalled connection); 0 disables.
  long stall_timeout_seconds = 120;
  /// Polled while the request is in flight (about once a second when idle); true aborts it,
  /// e.g. a shim whose exit may not wait longer for a stalled server.
  std::function<bool()> cancelled;
};

struct HttpResponse {
  long status = 0;
  HttpHeaders headers;  // of the final response, names as the server sent them
  std::string body;     // unless the request had a response_sink
  std::string effective_url;

  /// The first header named `name` (case-insensitive), or "".
  std::string Header(std::string_view name) const;
};

/// The network seam. Send() returns false only when no HTTP response arrived (DNS, connect, TLS,
/// timeout, an aborted body); every HTTP status, 4xx and 5xx included, is a response.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  virtual bool Send(const HttpRequest& request, HttpResponse* response, std::string* err) = 0;
};

struct CurlOptions {
  std::string ca_file;         // extra CA bundle ("" keeps the system's)
  bool verify_tls = true;      // false only on explicit user request
  std::string user_agent = "wandb-job";
  bool verbose = false;        // libcurl's trace on stderr
};

/// HTTP(S) over libcurl, one easy handle per transport (connections are reused between calls).
/// Not thread-safe: use one transport per thread. curl_global_init is main()'s job.
class CurlTransport : public HttpTransport {
 public:
  explicit CurlTransport(CurlOptions options = CurlOptions());
  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  bool Send(const HttpRequest& request, HttpResponse* response, std::string* err) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Case-insensitive ASCII comparison for header names.
bool HeaderNameEquals(std::string_view a, std::string_view b);

/// Parses a challenge such as `Bearer realm="https://auth",service="reg",scope="a b"` into its
/// scheme ("bearer", lowercased) and parameters (names lowercased). False when malformed.
bool ParseAuthChallenge(std::string_view header, std::string* scheme,
                        std::vector<std::pair<std::string, std::string>>* params);

/// Percent-encodes for a query component (RFC 3986 unreserved characters kept).
std::string UrlEncode(std::string_view text);

}  // namespace wandb_job
