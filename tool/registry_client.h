// Pushing an OCI image layout to a registry over the distribution API: HEAD before upload,
// cross-repository mount, monolithic or chunked uploads, manifest last, one tag per alias;
// basic and Bearer-token auth. A BASE_IMAGE recorded by the builder is resolved and merged here.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "docker_config.h"
#include "http.h"
#include "oci_image.h"
#include "progress.h"

namespace wandb_job {

enum class PlainHttp { kLocalhostOnly, kAllowed };

/// Makes one transport per thread (blob copies between registries run two at once).
using TransportFactory = std::function<std::unique_ptr<HttpTransport>()>;

/// One repository on one registry, with its auth state (tokens are cached per scope).
class RegistryClient {
 public:
  /// `transport` outlives the client. Credentials come from the docker config unless set.
  RegistryClient(ImageReference ref, HttpTransport* transport, PlainHttp plain_http);

  void set_credentials(const RegistryCredentials& c) {
    credentials_ = c;
    credentials_loaded_ = true;
  }
  void set_docker_config_dir(const std::string& dir) { docker_config_dir_ = dir; }
  /// Repositories blobs may be mounted from; their pull scope is asked for with the token.
  void set_mount_sources(std::vector<std::string> repos) { mount_sources_ = std::move(repos); }
  const ImageReference& reference() const { return ref_; }
  std::string BaseUrl() const;

  bool BlobExists(const Descriptor& blob, bool* exists, std::string* err);
  /// POST ?mount=&from=; `*mounted` false when the registry started a normal upload instead.
  bool MountBlob(const Descriptor& blob, const std::string& from_repository, bool* mounted,
                 std::string* err);
  /// Uploads from a file (monolithic PUT, or PATCH chunks of `chunk_size` when not 0).
  bool UploadBlobFile(const Descriptor& blob, const std::string& path, uint64_t chunk_size,
                      std::string* err);
  /// Uploads `blob.size` bytes from a stream (monolithic PUT).
  bool UploadBlobStream(const Descriptor& blob, const HttpBodyReader& reader, std::string* err);
  bool UploadBlobBytes(const Descriptor& blob, const std::string& data, std::string* err);
  /// PUT /manifests/<tag>; checks the registry's Docker-Content-Digest against `digest`.
  bool PutManifest(const std::string& tag, const std::string& media_type, const std::string& body,
                   const std::string& digest, std::string* err);
  /// GET a manifest or index by tag or digest; `*digest` from the body.
  bool GetManifest(const std::string& identifier, std::string* body, std::string* media_type,
                   std::string* digest, std::string* err);
  /// GET a blob into `sink` (redirects followed).
  bool GetBlob(const std::string& digest, const HttpBodySink& sink, std::string* err);

 private:
  enum class Access { kPull, kPush };
  bool Send(HttpRequest* request, Access access, HttpResponse* response, std::string* err);
  bool Authorize(const HttpResponse& challenge, Access access, std::string* err);
  bool StartUpload(const std::string& query, HttpResponse* response, std::string* err);
  /// The request that closes an upload session at `location`: PUT ?digest=, 201 expected. The
  /// caller fills in the body.
  HttpRequest FinishUploadRequest(const std::string& location, const Descriptor& blob) const;
  bool FinishUpload(HttpRequest* put, std::string* err);
  std::string ResolveLocation(const std::string& location) const;
  bool LoadCredentials(std::string* err);

  ImageReference ref_;
  HttpTransport* transport_;
  PlainHttp plain_http_;
  std::string docker_config_dir_;
  RegistryCredentials credentials_;
  bool credentials_loaded_ = false;
  std::vector<std::string> mount_sources_;
  std::string authorization_;  // the header value that last worked
  Access authorized_for_ = Access::kPull;
};

struct PushOptions {
  std::string layout_dir;
  std::string reference;          // where to push: registry/repository[:tag]
  std::vector<std::string> tags;  // one manifest PUT each; empty: the reference's tag or latest
  PlainHttp plain_http = PlainHttp::kLocalhostOnly;
  uint64_t chunk_size = 0;        // 0: monolithic uploads
  std::vector<std::string> mount_from;  // other repositories on the same registry
  std::string docker_config_dir;  // "" is DockerConfigDir()
  TransportFactory transport_factory;  // null: CurlTransport
  ProgressMode progress = ProgressMode::kAuto;  // of the blobs (progress.h)
};

struct PushResult {
  std::string digest;            // of the pushed manifest
  std::string pinned_reference;  // <registry>/<repository>@<digest>, as the user names the registry
  std::vector<std::string> tags;
  std::string base_digest;       // the resolved BASE_IMAGE manifest, "" for scratch
  int blobs_uploaded = 0, blobs_skipped = 0, blobs_mounted = 0, blobs_copied = 0;
  int64_t bytes_uploaded = 0;
};

/// Pushes the layout's image: blobs first (skipping those present, mounting where possible,
/// base-image layers streamed registry to registry when missing), manifest last, once per tag.
bool PushImage(const PushOptions& options, PushResult* out, std::string* err);

/// Whether `registry` may be spoken to over plain HTTP.
bool UsesPlainHttp(const std::string& registry, PlainHttp plain_http);

}  // namespace wandb_job
