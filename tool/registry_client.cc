#include "registry_client.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "file_util.h"
#include "hash.h"
#include "json_access.h"
#include "oci_layout.h"

namespace wandb_job {
namespace {

using json = nlohmann::json;

constexpr char kManifestAccept[] =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

std::string StatusError(const HttpResponse& r) {
  std::string msg = "HTTP " + std::to_string(r.status);
  try {
    json j = json::parse(r.body);
    if (j.contains("errors") && j["errors"].is_array() && !j["errors"].empty()) {
      const json& e = j["errors"][0];
      std::string code = e.value("code", "");
      std::string text = e.value("message", "");
      msg += ": " + code + (text.empty() ? "" : " (" + text + ")");
      for (char& c : msg) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
    }
  } catch (const json::exception&) {
  }
  return msg;
}

std::string WithQuery(const std::string& url, const std::string& query) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + query;
}

// The user's spelling of the registry ("docker.io" for Docker Hub) for pinned references.
std::string DisplayName(const std::string& text) {
  std::string s = text.substr(0, text.find('@'));
  size_t colon = s.rfind(':');
  if (colon != std::string::npos && s.find('/', colon) == std::string::npos) {
    s = s.substr(0, colon);
  }
  return s;
}

// A bounded byte queue between a download thread and an upload's body reader.
class BytePipe {
 public:
  bool Push(const char* data, size_t size) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return buffered_ < kLimit || aborted_; });
    if (aborted_) {
      return false;
    }
    chunks_.emplace_back(data, size);
    buffered_ += size;
    cv_.notify_all();
    return true;
  }
  void Close(const std::string& error) {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    error_ = error;
    cv_.notify_all();
  }
  void Abort() {
    std::lock_guard<std::mutex> lock(mu_);
    aborted_ = true;
    cv_.notify_all();
  }
  int64_t Pop(char* buf, size_t max, std::string* err) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return !chunks_.empty() || closed_; });
    if (chunks_.empty()) {
      if (!error_.empty()) {
        *err = error_;
        return -1;
      }
      return 0;
    }
    std::string& front = chunks_.front();
    size_t n = std::min(max, front.size() - offset_);
    memcpy(buf, front.data() + offset_, n);
    offset_ += n;
    buffered_ -= n;
    if (offset_ == front.size()) {
      chunks_.pop_front();
      offset_ = 0;
    }
    cv_.notify_all();
    return static_cast<int64_t>(n);
  }

 private:
  static constexpr size_t kLimit = 16 << 20;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> chunks_;
  size_t offset_ = 0;
  size_t buffered_ = 0;
  bool closed_ = false;
  bool aborted_ = false;
  std::string error_;
};

}  // namespace

bool UsesPlainHttp(const std::string& registry, PlainHttp plain_http) {
  if (plain_http == PlainHttp::kAllowed) {
    return true;
  }
  std::string host = registry;
  if (host.rfind("[::1]", 0) == 0) {
    return true;
  }
  host = host.substr(0, host.find(':'));
  return host == "localhost" || host == "127.0.0.1";
}

RegistryClient::RegistryClient(ImageReference ref, HttpTransport* transport, PlainHttp plain_http)
    : ref_(std::move(ref)), transport_(transport), plain_http_(plain_http) {}

std::string RegistryClient::BaseUrl() const {
  return std::string(UsesPlainHttp(ref_.registry, plain_http_) ? "http" : "https") + "://" +
         ref_.registry + "/v2/" + ref_.repository;
}

bool RegistryClient::LoadCredentials(std::string* err) {
  if (credentials_loaded_) {
    return true;
  }
  if (!LookUpRegistryCredentials(ref_.registry, docker_config_dir_, &credentials_, err)) {
    *err = "reading credentials for " + ref_.registry + ": " + *err;
    return false;
  }
  credentials_loaded_ = true;
  return true;
}

bool RegistryClient::Authorize(const HttpResponse& challenge, Access access, std::string* err) {
  std::string header = challenge.Header("WWW-Authenticate");
  std::string scheme;
  std::vector<std::pair<std::string, std::string>> params;
  if (header.empty() || !ParseAuthChallenge(header, &scheme, &params)) {
    *err = "HTTP 401 without a usable WWW-Authenticate challenge";
    return false;
  }
  if (!LoadCredentials(err)) {
    return false;
  }
  auto param = [&params](const char* name) {
    for (const auto& [k, v] : params) {
      if (k == name) {
        return v;
      }
    }
    return std::string();
  };
  std::string basic =
      "Basic " + Base64Encode(credentials_.username + ":" + credentials_.password);
  if (scheme == "basic") {
    if (credentials_.username.empty()) {
      *err = "authentication required: no credentials for " + ref_.registry +
             " (docker login " + ref_.registry + ")";
      return false;
    }
    authorization_ = basic;
    return true;
  }
  if (scheme != "bearer") {
    *err = "unsupported authentication scheme '" + scheme + "'";
    return false;
  }
  std::string realm = param("realm");
  if (realm.empty()) {
    *err = "Bearer challenge without a realm";
    return false;
  }
  std::vector<std::string> scopes = {"repository:" + ref_.repository +
                                     (access == Access::kPush ? ":pull,push" : ":pull")};
  if (access == Access::kPush) {
    for (const std::string& repo : mount_sources_) {
      scopes.push_back("repository:" + repo + ":pull");
    }
  }
  std::string service = param("service");
  HttpRequest req;
  req.url = realm;
  req.timeout_seconds = 60;
  if (!credentials_.identity_token.empty()) {
    // OAuth2 refresh-token grant (what `docker login` stores for some registries).
    req.method = "POST";
    req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    req.body = "grant_type=refresh_token&client_id=wandb-job&refresh_token=" +
               UrlEncode(credentials_.identity_token) + "&service=" + UrlEncode(service);
    for (const std::string& s : scopes) {
      req.body += "&scope=" + UrlEncode(s);
    }
  } else {
    std::string query = "service=" + UrlEncode(service);
    for (const std::string& s : scopes) {
      query += "&scope=" + UrlEncode(s);
    }
    req.url = WithQuery(realm, query);
    if (!credentials_.username.empty()) {
      req.headers.emplace_back("Authorization", basic);
    }
  }
  HttpResponse resp;
  if (!transport_->Send(req, &resp, err)) {
    *err = "getting a token: " + *err;
    return false;
  }
  if (resp.status != 200) {
    *err = "getting a token from " + realm + ": " + StatusError(resp) +
           (credentials_.empty() ? " (no credentials for " + ref_.registry + ")" : "");
    return false;
  }
  json j = json::parse(resp.body, nullptr, false);
  if (j.is_discarded()) {
    *err = "the token server's answer is not JSON";
    return false;
  }
  JsonFields<json> fields(j);
  std::string token, access_token;
  if (!fields.IsObject(err) || !fields.String("token", &token, err, Field::kOptional) ||
      !fields.String("access_token", &access_token, err, Field::kOptional)) {
    *err = "the token server's answer: " + *err;
    return false;
  }
  if (token.empty()) {
    token = access_token;
  }
  if (token.empty()) {
    *err = "the token server's answer holds no token";
    return false;
  }
  authorization_ = "Bearer " + token;
  authorized_for_ = access;
  return true;
}

bool RegistryClient::Send(HttpRequest* request, Access access, HttpResponse* response,
                          std::string* err) {
  // A pull token does not allow pushing: ask again before the server refuses.
  if (access == Access::kPush && authorized_for_ == Access::kPull &&
      authorization_.rfind("Bearer ", 0) == 0) {
    authorization_.clear();
  }
  HttpHeaders base_headers = request->headers;
  for (int attempt = 0; attempt < 2; ++attempt) {
    request->headers = base_headers;
    if (!authorization_.empty()) {
      request->headers.emplace_back("Authorization", authorization_);
    }
    if (!transport_->Send(*request, response, err)) {
      return false;
    }
    if (response->status != 401 || attempt == 1) {
      break;
    }
    if (request->body_reader) {
      *err = "HTTP 401 on a streamed upload";
      return false;
    }
    if (!Authorize(*response, access, err)) {
      return false;
    }
  }
  if (response->status == 401) {
    *err = "HTTP 401: unauthorized (credentials for " + ref_.registry + " refused)";
    return false;
  }
  return true;
}

std::string RegistryClient::ResolveLocation(const std::string& location) const {
  if (location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0) {
    return location;
  }
  std::string base = BaseUrl();
  std::string origin = base.substr(0, base.find('/', base.find("://") + 3));
  if (!location.empty() && location[0] == '/') {
    return origin + location;
  }
  return origin + "/" + location;
}

bool RegistryClient::BlobExists(const Descriptor& blob, bool* exists, std::string* err) {
  HttpRequest req;
  req.method = "HEAD";
  req.url = BaseUrl() + "/blobs/" + blob.digest;
  req.timeout_seconds = 60;
  HttpResponse resp;
  if (!Send(&req, Access::kPush, &resp, err)) {
    return false;
  }
  if (resp.status == 200) {
    *exists = true;
    return true;
  }
  if (resp.status == 404) {
    *exists = false;
    return true;
  }
  *err = "HEAD blob " + blob.digest + ": " + StatusError(resp);
  return false;
}

bool RegistryClient::StartUpload(const std::string& query, HttpResponse* response,
                                 std::string* err) {
  HttpRequest req;
  req.method = "POST";
  req.url = BaseUrl() + "/blobs/uploads/" + (query.empty() ? "" : "?" + query);
  req.timeout_seconds = 60;
  if (!Send(&req, Access::kPush, response, err)) {
    return false;
  }
  if (response->status != 202 && response->status != 201) {
    *err = "starting upload: " + StatusError(*response);
    return false;
  }
  if (response->status == 202 && response->Header("Location").empty()) {
    *err = "starting upload: HTTP 202 without Location";
    return false;
  }
  return true;
}

bool RegistryClient::MountBlob(const Descriptor& blob, const std::string& from_repository,
                               bool* mounted, std::string* err) {
  HttpResponse resp;
  if (!StartUpload("mount=" + UrlEncode(blob.digest) + "&from=" + UrlEncode(from_repository),
                   &resp, err)) {
    *err = "mounting " + blob.digest + " from " + from_repository + ": " + *err;
    return false;
  }
  *mounted = resp.status == 201;
  return true;
}

bool RegistryClient::UploadBlobFile(const Descriptor& blob, const std::string& path,
                                    uint64_t chunk_size, std::string* err) {
  HttpResponse resp;
  if (!StartUpload("", &resp, err)) {
    return false;
  }
  std::string location = ResolveLocation(resp.Header("Location"));
  uint64_t offset = 0;
  uint64_t size = static_cast<uint64_t>(blob.size);
  if (chunk_size > 0) {
    while (offset < size) {
      uint64_t n = std::min(chunk_size, size - offset);
      HttpRequest patch;
      patch.method = "PATCH";
      patch.url = location;
      patch.body_file = path;
      patch.body_offset = offset;
      patch.body_length = static_cast<int64_t>(n);
      patch.headers = {{"Content-Type", "application/octet-stream"},
                       {"Content-Range", std::to_string(offset) + "-" +
                                             std::to_string(offset + n - 1)}};
      if (!Send(&patch, Access::kPush, &resp, err)) {
        return false;
      }
      if (resp.status != 202) {
        *err = "uploading chunk at " + std::to_string(offset) + ": " + StatusError(resp);
        return false;
      }
      location = ResolveLocation(resp.Header("Location"));
      offset += n;
    }
  }
  HttpRequest put = FinishUploadRequest(location, blob);
  if (chunk_size == 0) {
    put.body_file = path;
    put.body_length = blob.size;
  }
  return FinishUpload(&put, err);
}

HttpRequest RegistryClient::FinishUploadRequest(const std::string& location,
                                                const Descriptor& blob) const {
  HttpRequest put;
  put.method = "PUT";
  put.url = WithQuery(location, "digest=" + UrlEncode(blob.digest));
  put.headers = {{"Content-Type", "application/octet-stream"}};
  return put;
}

bool RegistryClient::FinishUpload(HttpRequest* put, std::string* err) {
  HttpResponse resp;
  if (!Send(put, Access::kPush, &resp, err)) {
    return false;
  }
  if (resp.status != 201) {
    *err = "finishing upload: " + StatusError(resp);
    return false;
  }
  return true;
}

bool RegistryClient::UploadBlobStream(const Descriptor& blob, const HttpBodyReader& reader,
                                      std::string* err) {
  HttpResponse resp;
  if (!StartUpload("", &resp, err)) {
    return false;
  }
  HttpRequest put = FinishUploadRequest(ResolveLocation(resp.Header("Location")), blob);
  put.body_reader = reader;
  put.body_reader_size = blob.size;
  return FinishUpload(&put, err);
}

bool RegistryClient::UploadBlobBytes(const Descriptor& blob, const std::string& data,
                                     std::string* err) {
  HttpResponse resp;
  if (!StartUpload("", &resp, err)) {
    return false;
  }
  HttpRequest put = FinishUploadRequest(ResolveLocation(resp.Header("Location")), blob);
  put.body = data;
  return FinishUpload(&put, err);
}

bool RegistryClient::PutManifest(const std::string& tag, const std::string& media_type,
                                 const std::string& body, const std::string& digest,
                                 std::string* err) {
  HttpRequest put;
  put.method = "PUT";
  put.url = BaseUrl() + "/manifests/" + tag;
  put.headers = {{"Content-Type", media_type}};
  put.body = body;
  put.timeout_seconds = 120;
  HttpResponse resp;
  if (!Send(&put, Access::kPush, &resp, err)) {
    return false;
  }
  if (resp.status != 201 && resp.status != 200) {
    *err = "putting manifest " + tag + ": " + StatusError(resp);
    return false;
  }
  std::string echoed = resp.Header("Docker-Content-Digest");
  if (!echoed.empty() && echoed != digest) {
    *err = "putting manifest " + tag + ": the registry stored " + echoed + ", not " + digest;
    return false;
  }
  return true;
}

bool RegistryClient::GetManifest(const std::string& identifier, std::string* body,
                                 std::string* media_type, std::string* digest, std::string* err) {
  HttpRequest get;
  get.url = BaseUrl() + "/manifests/" + identifier;
  get.headers = {{"Accept", kManifestAccept}};
  get.timeout_seconds = 120;
  get.follow_redirects = true;
  HttpResponse resp;
  if (!Send(&get, Access::kPull, &resp, err)) {
    return false;
  }
  if (resp.status != 200) {
    *err = "getting manifest " + ref_.repository + ":" + identifier + ": " + StatusError(resp);
    return false;
  }
  *body = resp.body;
  *digest = "sha256:" + Sha256Hex(resp.body);
  if (IsSha256Digest(identifier) && identifier != *digest) {
    *err = "manifest " + identifier + " arrived with digest " + *digest;
    return false;
  }
  *media_type = MediaTypeOf(resp.body);
  if (media_type->empty()) {
    *media_type = resp.Header("Content-Type");
  }
  return true;
}

bool RegistryClient::GetBlob(const std::string& digest, const HttpBodySink& sink,
                             std::string* err) {
  HttpRequest get;
  get.url = BaseUrl() + "/blobs/" + digest;
  get.follow_redirects = true;
  get.response_sink = sink;
  HttpResponse resp;
  if (!Send(&get, Access::kPull, &resp, err)) {
    return false;
  }
  if (resp.status != 200) {
    *err = "getting blob " + digest + ": HTTP " + std::to_string(resp.status);
    return false;
  }
  return true;
}

// The rest of this file is the push itself.
namespace {

struct PushPlan {
  Manifest manifest;  // what goes to the registry
  std::string manifest_json, manifest_digest;
  std::string config_json;
  std::vector<bool> from_base;  // per layer
  std::unique_ptr<HttpTransport> base_transport;
  std::unique_ptr<RegistryClient> base;
};

bool ResolveBase(const PushOptions& options, const std::string& base_name,
                 const std::string& our_config_json, const TransportFactory& factory,
                 PushPlan* plan, PushResult* out, std::string* err) {
  ImageReference base_ref;
  if (!ParseImageReference(base_name, &base_ref, err)) {
    return false;
  }
  plan->base_transport = factory();
  plan->base = std::make_unique<RegistryClient>(base_ref, plan->base_transport.get(),
                                                options.plain_http);
  if (!options.docker_config_dir.empty()) {
    plan->base->set_docker_config_dir(options.docker_config_dir);
  }
  std::string body, media_type, digest;
  if (!plan->base->GetManifest(base_ref.Identifier(), &body, &media_type, &digest, err)) {
    return false;
  }
  std::string arch = "amd64";
  try {
    arch = json::parse(our_config_json).value("architecture", arch);
  } catch (const json::exception&) {
    *err = "the image config is not JSON";
    return false;
  }
  if (media_type == kOciIndexMediaType || media_type == kDockerManifestListMediaType) {
    ImageIndex index;
    if (!ParseIndex(body, &index, err)) {
      return false;
    }
    std::string chosen;
    for (const Descriptor& d : index.manifests) {
      if (d.platform_os == "linux" && d.platform_architecture == arch) {
        chosen = d.digest;
        break;
      }
    }
    if (chosen.empty()) {
      *err = "base image " + base_name + " has no linux/" + arch + " image";
      return false;
    }
    if (!plan->base->GetManifest(chosen, &body, &media_type, &digest, err)) {
      return false;
    }
  }
  Manifest base_manifest;
  if (!ParseManifest(body, &base_manifest, err)) {
    *err = "base image " + base_name + ": " + *err;
    return false;
  }
  std::string base_config;
  if (!plan->base->GetBlob(base_manifest.config.digest,
                           [&base_config](const char* d, size_t n, std::string*) {
                             base_config.append(d, n);
                             return true;
                           },
                           err)) {
    return false;
  }
  if ("sha256:" + Sha256Hex(base_config) != base_manifest.config.digest) {
    *err = "base image config " + base_manifest.config.digest + " arrived corrupt";
    return false;
  }
  ImageConfig our_config;
  if (!ParseImageConfig(our_config_json, &our_config, err) ||
      !MergeBaseConfig(base_config, our_config, &plan->config_json, err)) {
    return false;
  }
  std::vector<Descriptor> layers;
  for (Descriptor d : base_manifest.layers) {
    if (d.media_type == kDockerLayerGzipMediaType) {
      d.media_type = kOciLayerGzipMediaType;  // The same bytes under the OCI name.
    }
    layers.push_back(d);
    plan->from_base.push_back(true);
  }
  for (const Descriptor& d : plan->manifest.layers) {
    layers.push_back(d);
    plan->from_base.push_back(false);
  }
  plan->manifest.layers = layers;
  plan->manifest.annotations[kAnnotationBaseDigest] = digest;
  out->base_digest = digest;
  return true;
}

// Streams one blob from the base image's registry into ours: download and upload at once.
bool CopyBlob(RegistryClient* from, RegistryClient* to, const Descriptor& blob, std::string* err) {
  BytePipe pipe;
  std::thread reader([&] {
    std::string e;
    bool ok = from->GetBlob(blob.digest,
                            [&pipe](const char* d, size_t n, std::string* e2) {
                              if (!pipe.Push(d, n)) {
                                *e2 = "upload side stopped";
                                return false;
                              }
                              return true;
                            },
                            &e);
    pipe.Close(ok ? "" : e);
  });
  bool ok = to->UploadBlobStream(
      blob, [&pipe](char* buf, size_t max, std::string* e) { return pipe.Pop(buf, max, e); }, err);
  pipe.Abort();
  reader.join();
  if (!ok) {
    *err = "copying " + blob.digest + " from " + from->reference().ToString() + ": " + *err;
  }
  return ok;
}

}  // namespace

bool PushImage(const PushOptions& options, PushResult* out, std::string* err) {
  PushResult result;
  ImageReference ref;
  if (!ParseImageReference(options.reference, &ref, err)) {
    return false;
  }
  if (!ref.digest.empty()) {
    *err = "can't push to a digest reference (" + options.reference + "); name a tag";
    return false;
  }
  std::vector<std::string> tags = options.tags;
  if (tags.empty()) {
    tags.push_back(ref.tag.empty() ? "latest" : ref.tag);
  }
  TransportFactory factory = options.transport_factory;
  if (!factory) {
    factory = [] { return std::unique_ptr<HttpTransport>(new CurlTransport()); };
  }
  PushPlan plan;
  Descriptor layout_manifest;
  if (!ReadImageManifest(options.layout_dir, &layout_manifest, &plan.manifest, err) ||
      !ReadBlob(options.layout_dir, plan.manifest.config.digest, &plan.config_json, err)) {
    return false;
  }
  plan.from_base.assign(plan.manifest.layers.size(), false);
  auto base_it = plan.manifest.annotations.find(kAnnotationBaseName);
  if (base_it != plan.manifest.annotations.end()) {
    std::string base_name = base_it->second;
    plan.from_base.clear();
    if (!ResolveBase(options, base_name, std::string(plan.config_json), factory, &plan, &result,
                     err)) {
      *err = "resolving base image " + base_name + ": " + *err;
      return false;
    }
    plan.manifest.config.digest = "sha256:" + Sha256Hex(plan.config_json);
    plan.manifest.config.size = static_cast<int64_t>(plan.config_json.size());
  }
  plan.manifest_json = plan.manifest.ToJson();
  plan.manifest_digest = "sha256:" + Sha256Hex(plan.manifest_json);

  std::unique_ptr<HttpTransport> transport = factory();
  RegistryClient client(ref, transport.get(), options.plain_http);
  if (!options.docker_config_dir.empty()) {
    client.set_docker_config_dir(options.docker_config_dir);
  }
  std::vector<std::string> mount_sources = options.mount_from;
  bool base_same_registry = plan.base && plan.base->reference().registry == ref.registry;
  if (base_same_registry) {
    mount_sources.push_back(plan.base->reference().repository);
  }
  client.set_mount_sources(mount_sources);

  uint64_t total_bytes = static_cast<uint64_t>(std::max<int64_t>(0, plan.manifest.config.size));
  for (const Descriptor& d : plan.manifest.layers) {
    total_bytes += static_cast<uint64_t>(std::max<int64_t>(0, d.size));
  }
  // Every blob counts, whether it goes up, is mounted or was there: the figures say how far the
  // push is, and the summary line after it says what moved.
  Progress progress(options.progress, "pushing " + DisplayName(options.reference),
                    static_cast<int>(plan.manifest.layers.size()) + 1, total_bytes);
  auto blob_done = [&progress](const Descriptor& d) {
    progress.FileDone(d.digest, static_cast<uint64_t>(std::max<int64_t>(0, d.size)));
  };
  for (size_t i = 0; i < plan.manifest.layers.size(); ++i) {
    const Descriptor& blob = plan.manifest.layers[i];
    bool exists = false;
    if (!client.BlobExists(blob, &exists, err)) {
      *err = "pushing layer " + blob.digest + ": " + *err;
      return false;
    }
    if (exists) {
      ++result.blobs_skipped;
      blob_done(blob);
      continue;
    }
    bool mounted = false;
    std::vector<std::string> sources = options.mount_from;
    if (plan.from_base[i] && base_same_registry) {
      sources.insert(sources.begin(), plan.base->reference().repository);
    }
    for (const std::string& from : sources) {
      if (from == ref.repository) {
        continue;
      }
      if (!client.MountBlob(blob, from, &mounted, err)) {
        *err = "pushing layer " + blob.digest + ": " + *err;
        return false;
      }
      if (mounted) {
        break;
      }
    }
    if (mounted) {
      ++result.blobs_mounted;
      blob_done(blob);
      continue;
    }
    if (plan.from_base[i]) {
      if (!CopyBlob(plan.base.get(), &client, blob, err)) {
        return false;
      }
      ++result.blobs_copied;
    } else {
      if (!client.UploadBlobFile(blob, BlobPath(options.layout_dir, blob.digest),
                                 options.chunk_size, err)) {
        *err = "pushing layer " + blob.digest + ": " + *err;
        return false;
      }
      ++result.blobs_uploaded;
    }
    result.bytes_uploaded += blob.size;
    blob_done(blob);
  }
  bool exists = false;
  if (!client.BlobExists(plan.manifest.config, &exists, err)) {
    *err = "pushing config: " + *err;
    return false;
  }
  if (!exists) {
    if (!client.UploadBlobBytes(plan.manifest.config, plan.config_json, err)) {
      *err = "pushing config: " + *err;
      return false;
    }
    ++result.blobs_uploaded;
    result.bytes_uploaded += plan.manifest.config.size;
  } else {
    ++result.blobs_skipped;
  }
  blob_done(plan.manifest.config);
  progress.Finish(true);
  for (const std::string& tag : tags) {
    if (!client.PutManifest(tag, plan.manifest.media_type, plan.manifest_json,
                            plan.manifest_digest, err)) {
      return false;
    }
  }
  result.digest = plan.manifest_digest;
  result.tags = tags;
  result.pinned_reference = DisplayName(options.reference) + "@" + result.digest;
  *out = std::move(result);
  return true;
}

}  // namespace wandb_job
