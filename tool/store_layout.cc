#include "store_layout.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "file_util.h"
#include "hash.h"
#include "json_access.h"
#include "wandb_types.h"

namespace wandb_job {

using ordered_json = nlohmann::ordered_json;

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

namespace {

/// A name that becomes one directory of the layout: never empty, ".", ".." or with a NUL.
bool ValidatePathSegment(std::string_view what, std::string_view name, std::string* err) {
  if (name.empty()) {
    *err = std::string(what) + " name is empty";
    return false;
  }
  if (name == "." || name == ".." || name.find('\0') != std::string_view::npos) {
    *err = "invalid " + std::string(what) + " name " + Quote(name);
    return false;
  }
  return true;
}

}  // namespace

bool ValidateEntityName(std::string_view entity, std::string* err) {
  if (!ValidatePathSegment("entity", entity, err)) {
    return false;
  }
  std::string why;
  if (!ValidateProjectName(entity, &why)) {
    *err = "invalid entity name " + Quote(entity) + ": " + why;
    return false;
  }
  return true;
}

bool ValidateProject(std::string_view project, std::string* err) {
  if (!ValidatePathSegment("project", project, err)) {
    return false;
  }
  std::string why;
  if (!ValidateProjectName(project, &why)) {
    *err = "invalid project name " + Quote(project) + ": " + why;
    return false;
  }
  return true;
}

namespace {

/// W&B's artifact type rule: ^[-\w]+([ ]*[-.\w]+)*$, at most 128 characters.
bool ValidateType(std::string_view type, std::string* err) {
  auto word = [](char c) { return isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; };
  bool ok = !type.empty() && type.size() <= 128 && word(type.front()) && type.back() != ' ';
  for (char c : type) {
    ok = ok && (word(c) || c == '.' || c == ' ');
  }
  if (!ok || type.rfind("wandb-", 0) == 0) {
    *err = "invalid artifact type " + Quote(type);
    return false;
  }
  return true;
}

}  // namespace

bool ValidateCollection(const std::string& entity, const std::string& project,
                        const std::string& type, const std::string& name, std::string* err) {
  if (!ValidateEntityName(entity, err) || !ValidateProject(project, err) ||
      !ValidateType(type, err) || !ValidatePathSegment("artifact", name, err)) {
    return false;
  }
  std::string why;
  if (!ValidateArtifactName(name, &why)) {
    *err = "invalid artifact name " + Quote(name) + ": " + why;
    return false;
  }
  return true;
}

/// Artifact-relative paths that can be read below files_dir: no leading "/", no "." or ".."
/// segments, no empty segments.
bool ValidateEntryPath(const std::string& path, std::string* err) {
  bool ok = !path.empty() && path.find('\0') == std::string::npos;
  size_t start = 0;
  while (ok && start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string_view seg(path.data() + start,
                         (slash == std::string::npos ? path.size() : slash) - start);
    ok = !seg.empty() && seg != "." && seg != "..";
    if (slash == std::string::npos) {
      break;
    }
    start = slash + 1;
  }
  if (!ok) {
    *err = "unsafe file path " + Quote(path) + " in the manifest";
  }
  return ok;
}

/// The hex MD5 of a manifest entry's base64 digest; false when it is not a base64 MD5.
bool EntryDigestHex(const std::string& b64, std::string* hex) {
  std::string raw;
  if (!Base64Decode(b64, &raw) || raw.size() != 16) {
    return false;
  }
  *hex = HexEncode(raw);
  return true;
}

bool IsHexMd5(const std::string& s) {
  return s.size() == 32 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

/// The names in `dir`, sorted, without ".", ".." and orphan temporary files (".tmp.*"). A
/// missing directory has no names.
bool ListDir(const std::string& dir, std::vector<std::string>* names, std::string* err) {
  names->clear();
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) {
      return true;
    }
    *err = "listing " + dir + ": " + strerror(errno);
    return false;
  }
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || name.rfind(".tmp.", 0) == 0) {
      continue;
    }
    names->push_back(std::move(name));
  }
  closedir(d);
  std::sort(names->begin(), names->end());
  return true;
}

/// "v<N>.json" -> N; -1 for any other name.
int VersionFileIndex(const std::string& file) {
  if (file.size() < 7 || file[0] != 'v' || file.compare(file.size() - 5, 5, ".json") != 0) {
    return -1;
  }
  std::string digits = file.substr(1, file.size() - 6);
  if (digits.empty() || digits.size() > 9 || (digits.size() > 1 && digits[0] == '0') ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return -1;
  }
  return std::stoi(digits);
}

bool ParseJsonFile(const std::string& path, ordered_json* out, bool* missing, std::string* err) {
  *missing = false;
  if (!FileExists(path)) {
    *missing = true;
    return true;
  }
  std::string text;
  if (!wandb_job::ReadFile(path, &text, err)) {
    return false;
  }
  try {
    *out = ordered_json::parse(text);
  } catch (const std::exception& e) {
    *err = "parsing " + path + ": " + e.what();
    return false;
  }
  return true;
}

namespace {

// `json` (ArtifactManifest::ToJson's four-space layout) re-indented as the value of a top-level
// key of dump(2): a manifest is never put into an ordered_json, whose objects find and insert
// keys by linear search (quadratic in the number of files).
std::string IndentAsMember(const std::string& json) {
  std::string out;
  out.reserve(json.size());
  size_t start = 0;
  while (start < json.size()) {
    size_t end = json.find('\n', start);
    end = end == std::string::npos ? json.size() : end + 1;
    size_t spaces = json.find_first_not_of(' ', start) - start;
    if (start > 0) {
      out.append(spaces / 2 + 2, ' ');
    }
    out.append(json, start + spaces, end - start - spaces);
    start = end;
  }
  return out;
}

}  // namespace

std::string VersionToJson(const StoredVersion& v) {
  ordered_json j;
  j["id"] = v.id;
  j["index"] = v.index;
  j["digest"] = v.digest;
  j["created_at"] = v.created_at;
  j["description"] = v.description;
  j["metadata"] = v.metadata.empty() ? ordered_json(nullptr) : ordered_json::parse(v.metadata);
  std::string text = j.dump(2);  // ends with "\n}"
  text.resize(text.size() - 2);
  return text + ",\n  \"manifest\": " + IndentAsMember(v.manifest.ToJson()) + "\n}\n";
}

bool VersionFromJson(const std::string& text, StoredVersion* v, std::string* err) {
  // The fields in their order (metadata keeps its key order), without the manifest; then the
  // manifest from an unordered parse. Both are linear in the number of files.
  ordered_json j;
  nlohmann::json whole;
  try {
    j = ordered_json::parse(text, [](int depth, nlohmann::json::parse_event_t event,
                                     ordered_json& parsed) {
      return !(depth == 1 && event == nlohmann::json::parse_event_t::key && parsed == "manifest");
    });
    whole = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    *err = std::string("parsing failed: ") + e.what();
    return false;
  }
  if (!j.is_object()) {
    *err = "not a JSON object";
    return false;
  }
  JsonFields<ordered_json> f(j);
  if (!f.String("id", &v->id, err) || !f.Int("index", &v->index, err) ||
      !f.String("digest", &v->digest, err) ||
      !f.String("created_at", &v->created_at, err, Field::kOptional) ||
      !f.String("description", &v->description, err, Field::kOptional)) {
    return false;
  }
  const ordered_json* meta = f.Find("metadata");
  if (meta != nullptr && !meta->is_null() && !meta->is_object()) {
    *err = FieldTypeError("metadata", "an object or null");
    return false;
  }
  v->metadata = meta == nullptr || meta->is_null() ? "" : meta->dump();
  auto manifest = whole.find("manifest");
  if (manifest == whole.end()) {
    *err = "field manifest is missing";
    return false;
  }
  if (!ArtifactManifest::FromJsonValue(*manifest, &v->manifest, err)) {
    *err = "manifest: " + *err;
    return false;
  }
  return true;
}

bool ReadVersionFile(const std::string& path, StoredVersion* v, bool* missing, std::string* err) {
  *missing = false;
  if (!FileExists(path)) {
    *missing = true;
    return true;
  }
  std::string text;
  if (!wandb_job::ReadFile(path, &text, err)) {
    return false;
  }
  return VersionFromJson(text, v, err);
}

std::string AliasesToJson(const AliasMap& aliases) {
  ordered_json j = ordered_json::object();
  for (const auto& [alias, index] : aliases) {
    j[alias] = index;
  }
  return j.dump(2) + "\n";
}

bool ReadAliases(const std::string& path, AliasMap* out, std::string* err) {
  out->clear();
  ordered_json j;
  bool missing;
  if (!ParseJsonFile(path, &j, &missing, err)) {
    return false;
  }
  if (missing) {
    return true;
  }
  if (!j.is_object()) {
    *err = "parsing " + path + ": not an object";
    return false;
  }
  for (const auto& [alias, index] : j.items()) {
    if (!index.is_number_integer()) {
      *err = "parsing " + path + ": alias " + Quote(alias) + " is not a version index";
      return false;
    }
    (*out)[alias] = index.get<int>();
  }
  return true;
}

/// "latest" first, then the others sorted.
void SortAliases(std::vector<std::string>* aliases) {
  std::sort(aliases->begin(), aliases->end(), [](const std::string& a, const std::string& b) {
    if ((a == kLatest) != (b == kLatest)) {
      return a == kLatest;
    }
    return a < b;
  });
}

CollectionPaths PathsOf(const std::string& root, const std::string& entity,
                        const std::string& project, const std::string& type,
                        const std::string& name) {
  CollectionPaths p;
  p.dir =
      root + "/entities/" + entity + "/projects/" + project + "/collections/" + type + "/" + name;
  p.collection_json = p.dir + "/collection.json";
  p.versions_dir = p.dir + "/versions";
  p.aliases_json = p.dir + "/aliases.json";
  return p;
}

/// Reads a collection directory: collection.json (its absence means "no collection"), every
/// v<N>.json by index, aliases.json. Aliases naming a missing version are dropped.
bool LoadCollection(const CollectionPaths& p, StoredCollection* out, bool* exists,
                    AliasMap* aliases, std::string* err) {
  ordered_json cj;
  bool missing;
  if (!ParseJsonFile(p.collection_json, &cj, &missing, err)) {
    return false;
  }
  *exists = !missing;
  out->versions.clear();
  aliases->clear();
  if (missing) {
    return true;
  }
  if (!JsonFields<ordered_json>(cj).String("created_at", &out->created_at, err, Field::kOptional)) {
    *err = "parsing " + p.collection_json + ": " + *err;
    return false;
  }
  std::vector<std::string> files;
  if (!ListDir(p.versions_dir, &files, err)) {
    return false;
  }
  for (const std::string& file : files) {
    int index = VersionFileIndex(file);
    if (index < 0) {
      continue;
    }
    std::string path = p.versions_dir + "/" + file;
    StoredVersion v;
    if (!ReadVersionFile(path, &v, &missing, err)) {
      *err = "reading " + path + ": " + *err;
      return false;
    }
    if (missing) {
      continue;  // Raced with nothing: versions are never removed; be lenient anyway.
    }
    if (v.index != index) {
      *err = "reading " + path + ": its index is " + std::to_string(v.index);
      return false;
    }
    out->versions.push_back(std::move(v));
  }
  std::sort(out->versions.begin(), out->versions.end(),
            [](const StoredVersion& a, const StoredVersion& b) { return a.index < b.index; });
  AliasMap raw;
  if (!ReadAliases(p.aliases_json, &raw, err)) {
    return false;
  }
  for (const auto& [alias, index] : raw) {
    for (StoredVersion& v : out->versions) {
      if (v.index == index) {
        v.aliases.push_back(alias);
        (*aliases)[alias] = index;
      }
    }
  }
  for (StoredVersion& v : out->versions) {
    SortAliases(&v.aliases);
  }
  return true;
}

std::string StoreError(const std::string& root, const std::string& detail) {
  return "cannot write the job store at " + root + ": " + detail +
         " (set WANDB_JOB_STORE to a writable directory)";
}

}  // namespace wandb_job
