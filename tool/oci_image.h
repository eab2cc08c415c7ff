// OCI image values: descriptors, image config, manifest, index and image references, with their
// canonical JSON. Pure: no files, no network (oci_layout and registry_client do the I/O).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace wandb_job {

inline constexpr char kOciLayoutVersion[] = "1.0.0";
inline constexpr char kOciIndexMediaType[] = "application/vnd.oci.image.index.v1+json";
inline constexpr char kOciManifestMediaType[] = "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kOciConfigMediaType[] = "application/vnd.oci.image.config.v1+json";
inline constexpr char kOciLayerGzipMediaType[] = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr char kOciLayerMediaType[] = "application/vnd.oci.image.layer.v1.tar";
inline constexpr char kDockerManifestMediaType[] =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr char kDockerManifestListMediaType[] =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr char kDockerConfigMediaType[] = "application/vnd.docker.container.image.v1+json";
inline constexpr char kDockerLayerGzipMediaType[] =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";

// Standard annotation keys (OCI image-spec annotations.md).
inline constexpr char kAnnotationSource[] = "org.opencontainers.image.source";
inline constexpr char kAnnotationRevision[] = "org.opencontainers.image.revision";
inline constexpr char kAnnotationCreated[] = "org.opencontainers.image.created";
inline constexpr char kAnnotationTitle[] = "org.opencontainers.image.title";
inline constexpr char kAnnotationRefName[] = "org.opencontainers.image.ref.name";
inline constexpr char kAnnotationBaseName[] = "org.opencontainers.image.base.name";
inline constexpr char kAnnotationBaseDigest[] = "org.opencontainers.image.base.digest";

struct Descriptor {
  std::string media_type;
  std::string digest;  // "sha256:<hex>"
  int64_t size = 0;
  std::map<std::string, std::string> annotations;
  std::string platform_os, platform_architecture, platform_variant;  // index entries only
};

/// A filesystem layer: its blob (compressed) and its diff ID (digest of the uncompressed tar).
struct Layer {
  Descriptor blob;
  std::string diff_id;
};

struct ImageConfig {
  std::string created;  // RFC 3339, UTC
  std::string architecture = "amd64";
  std::string os = "linux";
  std::vector<std::string> entrypoint, cmd, env;
  std::string working_dir, user;
  std::map<std::string, std::string> labels;
  std::vector<std::string> diff_ids;
  std::vector<std::string> history;  // created_by of each layer, in order

  /// Canonical JSON (sorted keys, no spaces): same config, same bytes.
  std::string ToJson() const;
};

/// Reads the fields ImageConfig models (others are ignored).
bool ParseImageConfig(std::string_view json, ImageConfig* out, std::string* err);

struct Manifest {
  std::string media_type = kOciManifestMediaType;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::map<std::string, std::string> annotations;

  std::string ToJson() const;
};
/// Reads an OCI image manifest or a Docker schema 2 manifest.
bool ParseManifest(std::string_view json, Manifest* out, std::string* err);

/// index.json of a layout, or a registry's image index / manifest list.
struct ImageIndex {
  std::vector<Descriptor> manifests;
  std::string ToJson() const;
};
bool ParseIndex(std::string_view json, ImageIndex* out, std::string* err);

/// The media type of a manifest-like document ("" when it has none).
std::string MediaTypeOf(std::string_view json);

/// Adds `base_layers` below ours and merges the base image's config JSON into `ours`: base Env
/// entries not overridden, base labels not overridden, and every base field we don't model
/// (ExposedPorts, Volumes, StopSignal...) are kept. Returns the merged config JSON.
bool MergeBaseConfig(std::string_view base_config_json, const ImageConfig& ours,
                     std::string* merged_json, std::string* err);

/// `[registry[:port]/]repository[:tag][@digest]`, with Docker Hub defaults.
struct ImageReference {
  std::string registry;    // the API host: "registry-1.docker.io" for Docker Hub
  std::string repository;  // "library/debian" for "debian"
  std::string tag;         // "" when absent
  std::string digest;      // "" when absent

  std::string ToString() const;  // registry/repository[:tag][@digest]
  /// The tag or digest to fetch: digest, else tag, else "latest".
  std::string Identifier() const;
};
bool ParseImageReference(std::string_view text, ImageReference* out, std::string* err);

/// Seconds since the epoch as "2024-01-02T03:04:05Z".
std::string FormatRfc3339(int64_t seconds);

/// True for "sha256:" + 64 lowercase hex digits.
bool IsSha256Digest(std::string_view digest);

}  // namespace wandb_job
