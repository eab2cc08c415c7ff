// W&B's artifact manifest (wandb_manifest.json, storage policy v1, layout V2) and the artifact
// digest computed from it. "Manifest" alone would be ambiguous with OCI image manifests.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace wandb_job {

struct ManifestEntry {
  std::string path;               // artifact-relative, "/"-separated; the key of "contents"
  std::string digest;             // base64 (padded) MD5 of the content
  uint64_t size = 0;
  std::string birth_artifact_id;  // empty until the artifact is published
};

struct ArtifactManifest {
  std::vector<ManifestEntry> entries;  // kept sorted by path (byte order)

  /// Inserts or replaces the entry for `entry.path`, keeping the order.
  void Add(ManifestEntry entry);
  const ManifestEntry* Find(std::string_view path) const;

  /// Hex MD5 of "wandb-artifact-manifest-v1\n" + "path:digest\n" per entry in path order: the
  /// `digest` of createArtifact. Only paths and digests count.
  std::string Digest() const;

  /// The uploaded wandb_manifest.json, as W&B's Python SDK writes it (json.dump indent=4, keys
  /// version, storagePolicy, storagePolicyConfig, contents; entries digest[, birthArtifactID],
  /// size; ASCII-escaped).
  std::string ToJson() const;
  static bool FromJson(std::string_view text, ArtifactManifest* out, std::string* err);
  /// The same from a parsed document (an unordered one: its keys come sorted, so it stays linear).
  static bool FromJsonValue(const nlohmann::json& j, ArtifactManifest* out, std::string* err);
};

}  // namespace wandb_job
