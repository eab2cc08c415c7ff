#include "artifact_manifest.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "hash.h"
#include "wandb_types.h"

namespace wandb_job {

namespace {

using Json = nlohmann::json;

constexpr const char* kStoragePolicy = "wandb-storage-policy-v1";

bool PathLess(const ManifestEntry& e, std::string_view path) { return e.path < path; }

// Reads one entry of "contents". Both writers are accepted: Python's (digest[, birthArtifactID],
// size) and wandb-core's (adds local_path, skip_cache; size always present).
bool EntryFromJson(const std::string& path, const Json& j, ManifestEntry* out, std::string* err) {
  if (!j.is_object()) {
    *err = "entry '" + path + "' is not an object";
    return false;
  }
  auto digest = j.find("digest");
  if (digest == j.end() || !digest->is_string() || digest->get<std::string>().empty()) {
    *err = "entry '" + path + "' has no digest";
    return false;
  }
  auto ref = j.find("ref");
  if (ref != j.end() && !ref->is_null()) {
    *err = "entry '" + path + "' is a reference, which is not supported";
    return false;
  }
  ManifestEntry entry;
  entry.path = path;
  entry.digest = digest->get<std::string>();
  auto size = j.find("size");
  if (size != j.end() && !size->is_null()) {
    if (!size->is_number_unsigned()) {
      *err = "entry '" + path + "' has a size that is not a non-negative integer";
      return false;
    }
    entry.size = size->get<uint64_t>();
  }
  auto birth = j.find("birthArtifactID");
  if (birth != j.end() && !birth->is_null()) {
    if (!birth->is_string()) {
      *err = "entry '" + path + "' has a birthArtifactID that is not a string";
      return false;
    }
    entry.birth_artifact_id = birth->get<std::string>();
  }
  *out = std::move(entry);
  return true;
}

}  // namespace

void ArtifactManifest::Add(ManifestEntry entry) {
  auto it = std::lower_bound(entries.begin(), entries.end(), entry.path, PathLess);
  if (it != entries.end() && it->path == entry.path) {
    *it = std::move(entry);
  } else {
    entries.insert(it, std::move(entry));
  }
}

const ManifestEntry* ArtifactManifest::Find(std::string_view path) const {
  auto it = std::lower_bound(entries.begin(), entries.end(), path, PathLess);
  if (it != entries.end() && it->path == path) {
    return &*it;
  }
  return nullptr;
}

std::string ArtifactManifest::Digest() const {
  // Sorted here too, in case a caller filled `entries` directly.
  std::vector<const ManifestEntry*> sorted;
  sorted.reserve(entries.size());
  for (const ManifestEntry& e : entries) {
    sorted.push_back(&e);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const ManifestEntry* a, const ManifestEntry* b) { return a->path < b->path; });
  std::string data = "wandb-artifact-manifest-v1\n";
  for (const ManifestEntry* ep : sorted) {
    const ManifestEntry& e = *ep;
    data += e.path;
    data += ':';
    data += e.digest;
    data += '\n';
  }
  return Md5Hex(data);
}

// Rendered by hand rather than through PythonIndent4: the shape is fixed, and writing it
// directly keeps the byte layout visible here. Key order follows the SDK's to_manifest_json and
// the field order of ArtifactManifestEntry (digest, ref, birthArtifactID, size, extra), with
// unset fields left out (pydantic exclude_defaults; size 0 is not the default None, so it stays).
std::string ArtifactManifest::ToJson() const {
  std::string out;
  out += "{\n";
  out += "    \"version\": 1,\n";
  out += "    \"storagePolicy\": \"";
  out += kStoragePolicy;
  out += "\",\n";
  out += "    \"storagePolicyConfig\": {\n";
  out += "        \"storageLayout\": \"V2\"\n";
  out += "    },\n";
  if (entries.empty()) {
    out += "    \"contents\": {}\n";
    out += "}";
    return out;
  }
  out += "    \"contents\": {";
  for (size_t i = 0; i < entries.size(); ++i) {
    const ManifestEntry& e = entries[i];
    out += i == 0 ? "\n" : ",\n";
    out += "        " + PythonJsonString(e.path) + ": {\n";
    out += "            \"digest\": " + PythonJsonString(e.digest) + ",\n";
    if (!e.birth_artifact_id.empty()) {
      out += "            \"birthArtifactID\": " + PythonJsonString(e.birth_artifact_id) + ",\n";
    }
    out += "            \"size\": " + std::to_string(e.size) + "\n";
    out += "        }";
  }
  out += "\n    }\n";
  out += "}";
  return out;
}

bool ArtifactManifest::FromJson(std::string_view text, ArtifactManifest* out, std::string* err) {
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::exception& e) {
    *err = e.what();
    return false;
  }
  return FromJsonValue(j, out, err);
}

bool ArtifactManifest::FromJsonValue(const Json& j, ArtifactManifest* out, std::string* err) {
  if (!j.is_object()) {
    *err = "manifest is not a JSON object";
    return false;
  }
  auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer() || version->get<int64_t>() != 1) {
    *err = "unsupported manifest version (want 1)";
    return false;
  }
  auto policy = j.find("storagePolicy");
  if (policy != j.end() && (!policy->is_string() || policy->get<std::string>() != kStoragePolicy)) {
    *err = std::string("unsupported storage policy (want ") + kStoragePolicy + ")";
    return false;
  }
  auto contents = j.find("contents");
  if (contents == j.end() || !contents->is_object()) {
    *err = "manifest has no contents object";
    return false;
  }
  ArtifactManifest manifest;
  for (const auto& [path, value] : contents->items()) {
    ManifestEntry entry;
    if (!EntryFromJson(path, value, &entry, err)) {
      return false;
    }
    manifest.Add(std::move(entry));
  }
  *out = std::move(manifest);
  return true;
}

}  // namespace wandb_job
