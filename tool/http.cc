#include "http.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "file_util.h"
#include "log.h"

namespace wandb_job {
namespace {

bool CurlFailed(CURLcode rc, const char* what, const char* detail, std::string* err) {
  if (rc == CURLE_OK) {
    return false;
  }
  *err = std::string(what) + ": " + (detail != nullptr && detail[0] != '\0'
                                         ? std::string(detail)
                                         : std::string(curl_easy_strerror(rc)));
  while (!err->empty() && (err->back() == '\n' || err->back() == '.')) {
    err->pop_back();
  }
  return true;
}

std::string Trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) {
    ++b;
  }
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n')) {
    --e;
  }
  return std::string(s.substr(b, e - b));
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// State of one transfer, shared with the libcurl callbacks.
struct Transfer {
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  int fd = -1;              // body_file
  uint64_t file_left = 0;   // bytes still to send from the file
  size_t memory_pos = 0;    // body
  std::string callback_err;  // set when a callback aborted
};

size_t ReadBody(char* buf, size_t size, size_t nitems, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t max = size * nitems;
  const HttpRequest& r = *t->request;
  if (t->fd >= 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(max, t->file_left));
    if (want == 0) {
      return 0;
    }
    ssize_t n;
    do {
      n = read(t->fd, buf, want);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
      t->callback_err = "reading " + r.body_file + ": " +
                        (n == 0 ? std::string("file shrank while sending") : strerror(errno));
      return CURL_READFUNC_ABORT;
    }
    t->file_left -= static_cast<uint64_t>(n);
    return static_cast<size_t>(n);
  }
  if (r.body_reader) {
    int64_t n = r.body_reader(buf, max, &t->callback_err);
    if (n < 0) {
      return CURL_READFUNC_ABORT;
    }
    return static_cast<size_t>(n);
  }
  size_t n = std::min(max, r.body.size() - t->memory_pos);
  memcpy(buf, r.body.data() + t->memory_pos, n);
  t->memory_pos += n;
  return n;
}

int Progress(void* userdata, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(userdata);
  if (t->request->cancelled()) {
    t->callback_err = "cancelled";
    return 1;
  }
  return 0;
}

size_t WriteBody(char* data, size_t size, size_t nmemb, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t n = size * nmemb;
  if (t->request->response_sink) {
    if (!t->request->response_sink(data, n, &t->callback_err)) {
      return 0;  // Anything but n aborts the transfer.
    }
    return n;
  }
  t->response->body.append(data, n);
  return n;
}

size_t WriteHeader(char* data, size_t size, size_t nitems, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t n = size * nitems;
  std::string_view line(data, n);
  if (line.rfind("HTTP/", 0) == 0) {
    t->response->headers.clear();  // A new response (after 100 Continue or a redirect).
    return n;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    t->response->headers.emplace_back(Trim(line.substr(0, colon)), Trim(line.substr(colon + 1)));
  }
  return n;
}

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (HeaderNameEquals(k, name)) {
      return v;
    }
  }
  return "";
}

bool HeaderNameEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool ParseAuthChallenge(std::string_view header, std::string* scheme,
                        std::vector<std::pair<std::string, std::string>>* params) {
  std::string_view h = header;
  while (!h.empty() && h.front() == ' ') {
    h.remove_prefix(1);
  }
  size_t sp = h.find(' ');
  *scheme = Lower(h.substr(0, sp));
  params->clear();
  if (scheme->empty()) {
    return false;
  }
  if (sp == std::string_view::npos) {
    return true;
  }
  size_t i = sp + 1;
  while (i < h.size()) {
    while (i < h.size() && (h[i] == ' ' || h[i] == ',')) {
      ++i;
    }
    if (i >= h.size()) {
      break;
    }
    size_t eq = h.find('=', i);
    if (eq == std::string_view::npos) {
      return false;
    }
    std::string name = Lower(Trim(h.substr(i, eq - i)));
    i = eq + 1;
    std::string value;
    if (i < h.size() && h[i] == '"') {
      ++i;
      while (i < h.size() && h[i] != '"') {
        if (h[i] == '\\' && i + 1 < h.size()) {
          ++i;
        }
        value += h[i++];
      }
      if (i >= h.size()) {
        return false;  // Unterminated quote.
      }
      ++i;
    } else {
      size_t end = h.find(',', i);
      value = Trim(h.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i));
      i = end == std::string_view::npos ? h.size() : end;
    }
    if (name.empty()) {
      return false;
    }
    params->emplace_back(name, value);
  }
  return true;
}

std::string UrlEncode(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

struct CurlTransport::Impl {
  CurlOptions options;
  CURL* curl = nullptr;
};

CurlTransport::CurlTransport(CurlOptions options) : impl_(new Impl) {
  impl_->options = std::move(options);
  // libcurl (and its TLS library) is set up on first use: most commands never need the network.
  // main() calls curl_global_cleanup(), a no-op when this never ran.
  static std::once_flag curl_ready;
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  impl_->curl = curl_easy_init();
}

CurlTransport::~CurlTransport() {
  if (impl_->curl != nullptr) {
    curl_easy_cleanup(impl_->curl);
  }
}

namespace {

/// Seconds from the environment variable `name` into `*seconds` when it is set to a whole
/// number, 1 or more. Another value is warned about once and leaves `*seconds`: an error here
/// would only be retried by the caller's backoff.
void TimeoutFromEnv(const char* name, std::atomic<bool>* warned, long* seconds) {
  std::string text = GetEnv(name);
  if (text.empty()) {
    return;
  }
  char* end = nullptr;
  errno = 0;
  long value = strtol(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || !std::isdigit(static_cast<unsigned char>(text[0])) ||
      value < 1) {
    if (!warned->exchange(true)) {
      Warning("%s '%s' is not a whole number of seconds, 1 or more; using %ld", name, text.c_str(),
              *seconds);
    }
    return;
  }
  *seconds = value;
}

std::atomic<bool> connect_timeout_warned{false};
std::atomic<bool> stall_timeout_warned{false};

}  // namespace

bool CurlTransport::Send(const HttpRequest& request, HttpResponse* response, std::string* err) {
  CURL* c = impl_->curl;
  if (c == nullptr) {
    *err = "curl_easy_init failed";
    return false;
  }
  // An unreachable server costs at most this per attempt (README: environment variables).
  long connect_timeout = request.connect_timeout_seconds;
  long stall_timeout = request.stall_timeout_seconds;
  TimeoutFromEnv("WANDB_JOB_CONNECT_TIMEOUT", &connect_timeout_warned, &connect_timeout);
  if (stall_timeout > 0) {
    TimeoutFromEnv("WANDB_JOB_STALL_TIMEOUT", &stall_timeout_warned, &stall_timeout);
  }
  curl_easy_reset(c);
  *response = HttpResponse();
  Transfer t;
  t.request = &request;
  t.response = response;

  int64_t upload_size = -1;
  bool has_body = false;
  if (!request.body_file.empty()) {
    t.fd = open(request.body_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (t.fd < 0) {
      *err = "opening " + request.body_file + ": " + strerror(errno);
      return false;
    }
    off_t end = lseek(t.fd, 0, SEEK_END);
    if (end < 0 || static_cast<uint64_t>(end) < request.body_offset ||
        lseek(t.fd, static_cast<off_t>(request.body_offset), SEEK_SET) < 0) {
      *err = "seeking in " + request.body_file + ": offset beyond its end";
      close(t.fd);
      return false;
    }
    uint64_t avail = static_cast<uint64_t>(end) - request.body_offset;
    t.file_left = request.body_length < 0
                      ? avail
                      : std::min<uint64_t>(avail, static_cast<uint64_t>(request.body_length));
    if (request.body_length >= 0 && t.file_left < static_cast<uint64_t>(request.body_length)) {
      *err = "reading " + request.body_file + ": shorter than the requested range";
      close(t.fd);
      return false;
    }
    upload_size = static_cast<int64_t>(t.file_left);
    has_body = true;
  } else if (request.body_reader) {
    upload_size = request.body_reader_size;
    has_body = true;
  } else if (!request.body.empty()) {
    upload_size = static_cast<int64_t>(request.body.size());
    has_body = true;
  }

  char error_buffer[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, impl_->options.user_agent.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, connect_timeout);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, request.timeout_seconds);
  if (stall_timeout > 0) {
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, stall_timeout);
  }
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, impl_->options.verify_tls ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, impl_->options.verify_tls ? 2L : 0L);
  if (!impl_->options.ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, impl_->options.ca_file.c_str());
  }
  curl_easy_setopt(c, CURLOPT_VERBOSE, impl_->options.verbose ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  if (request.cancelled) {
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, Progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  }

  if (request.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (has_body) {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, ReadBody);
    curl_easy_setopt(c, CURLOPT_READDATA, &t);
    if (upload_size >= 0) {
      curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(upload_size));
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  } else if (request.method == "POST" || request.method == "PUT" || request.method == "PATCH") {
    // An empty body still needs Content-Length: 0 (registries reject a chunked empty PUT).
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  } else if (request.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  curl_slist* headers = nullptr;
  for (const auto& [k, v] : request.headers) {
    headers = curl_slist_append(headers, (k + ": " + v).c_str());
  }
  // No "Expect: 100-continue" round trip: registries answer uploads directly.
  headers = curl_slist_append(headers, "Expect:");
  if (has_body && upload_size < 0) {
    headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (t.fd >= 0) {
    close(t.fd);
  }
  std::string what = request.method + " " + request.url;
  if (!t.callback_err.empty()) {
    *err = what + ": " + t.callback_err;
    return false;
  }
  if (CurlFailed(rc, what.c_str(), error_buffer, err)) {
    return false;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response->status);
  char* effective = nullptr;
  curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &effective);
  response->effective_url = effective != nullptr ? effective : request.url;
  return true;
}

}  // namespace wandb_job
