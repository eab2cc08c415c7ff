#include "job_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "atomic_file.h"
#include "file_util.h"
#include "hash.h"
#include "log.h"
#include "wandb_types.h"

namespace wandb_job {
namespace {

using ordered_json = nlohmann::ordered_json;

constexpr char kStoreFormat[] = "wandb-job-store/1";
constexpr char kLatest[] = "latest";
constexpr size_t kChunkSize = 1 << 16;

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string NowRfc3339() {
  time_t now = time(nullptr);
  struct tm tm_utc;
  gmtime_r(&now, &tm_utc);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm_utc);
  return buf;
}

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

std::string VersionToJson(const StoredVersion& v) {
  ordered_json j;
  j["id"] = v.id;
  j["index"] = v.index;
  j["digest"] = v.digest;
  j["created_at"] = v.created_at;
  j["description"] = v.description;
  j["metadata"] = v.metadata.empty() ? ordered_json(nullptr) : ordered_json::parse(v.metadata);
  j["manifest"] = ordered_json::parse(v.manifest.ToJson());
  return j.dump(2) + "\n";
}

bool VersionFromJson(const ordered_json& j, StoredVersion* v, std::string* err) {
  try {
    v->id = j.at("id").get<std::string>();
    v->index = j.at("index").get<int>();
    v->digest = j.at("digest").get<std::string>();
    v->created_at = j.value("created_at", "");
    v->description = j.value("description", "");
    const ordered_json& meta = j.value("metadata", ordered_json(nullptr));
    v->metadata = meta.is_null() ? "" : meta.dump();
    if (!ArtifactManifest::FromJson(j.at("manifest").dump(), &v->manifest, err)) {
      *err = "manifest: " + *err;
      return false;
    }
  } catch (const std::exception& e) {
    *err = e.what();
    return false;
  }
  return true;
}

using AliasMap = std::map<std::string, int>;

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

struct CollectionPaths {
  std::string dir, collection_json, versions_dir, aliases_json;
  std::string VersionFile(int index) const {
    return versions_dir + "/v" + std::to_string(index) + ".json";
  }
};

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
  try {
    out->created_at = cj.value("created_at", "");
  } catch (const std::exception& e) {
    *err = "parsing " + p.collection_json + ": " + e.what();
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
    ordered_json vj;
    StoredVersion v;
    if (!ParseJsonFile(path, &vj, &missing, err)) {
      return false;
    }
    if (missing) {
      continue;  // Raced with nothing: versions are never removed; be lenient anyway.
    }
    if (!VersionFromJson(vj, &v, err)) {
      *err = "reading " + path + ": " + *err;
      return false;
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

/// An exclusive flock() on a file, released on destruction (or when the process dies).
class FileLock {
 public:
  FileLock() = default;
  ~FileLock() {
    if (fd_ >= 0) {
      close(fd_);  // Releases the lock.
    }
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  bool Lock(const std::string& path, std::string* err) {
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      *err = "opening " + path + ": " + strerror(errno);
      return false;
    }
    while (flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        *err = "locking " + path + ": " + strerror(errno);
        return false;
      }
    }
    return true;
  }

 private:
  int fd_ = -1;
};

/// Feeds the bytes of one bundle file, from `inline_data` when given, else from `path`.
bool StreamSource(const std::string* inline_data, const std::string& path,
                  const std::function<bool(std::string_view, std::string*)>& sink,
                  std::string* err) {
  if (inline_data != nullptr) {
    return sink(*inline_data, err);
  }
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *err = "reading " + path + ": " + strerror(errno);
    return false;
  }
  std::string buf(kChunkSize, '\0');
  bool ok = true;
  while (ok) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      *err = "reading " + path + ": " + strerror(errno);
      ok = false;
    } else if (n == 0) {
      break;
    } else {
      ok = sink(std::string_view(buf.data(), static_cast<size_t>(n)), err);
    }
  }
  close(fd);
  return ok;
}

/// Stores one file as blobs/md5/<hex>, or (when the blob exists) only hashes it; either way
/// its content must match the manifest entry.
bool StoreBlob(const std::string& root, const ArtifactUpload& upload, const ManifestEntry& entry,
               const std::string& hex, std::string* err) {
  auto found = upload.inline_files.find(entry.path);
  const std::string* inline_data = found == upload.inline_files.end() ? nullptr : &found->second;
  std::string source = JoinPath(upload.files_dir, entry.path);
  std::string blob = root + "/blobs/md5/" + hex;
  bool exists = FileExists(blob);
  AtomicFile file(blob);
  Hasher md5(HashAlgorithm::kMd5);
  uint64_t size = 0;
  auto sink = [&](std::string_view data, std::string* e) {
    md5.Update(data);
    size += data.size();
    return exists || file.Write(data, e);
  };
  std::string why;
  if (!StreamSource(inline_data, source, sink, &why)) {
    *err = "file " + Quote(entry.path) + ": " + why;
    return false;
  }
  std::string actual = md5.Finish();
  if (HexEncode(actual) != hex || size != entry.size) {
    *err = "file " + Quote(entry.path) + " does not match the manifest (md5 " +
           Base64Encode(actual) + ", " + std::to_string(size) + " bytes; expected " + entry.digest +
           ", " + std::to_string(entry.size) + " bytes): the bundle is damaged, rebuild it";
    return false;
  }
  if (!exists && !file.Commit(&why, 0444)) {
    *err = StoreError(root, why);
    return false;
  }
  return true;
}

/// A run ID as W&B allows it in paths: [A-Za-z0-9_.-]{1,128}, not "." or "..".
bool ValidateRunId(std::string_view id, std::string* err) {
  bool ok = !id.empty() && id.size() <= 128 && id != "." && id != "..";
  for (char c : id) {
    ok = ok && (isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
  }
  if (!ok) {
    *err = "invalid run ID " + Quote(id) + " (expected [A-Za-z0-9_.-], at most 128 characters)";
  }
  return ok;
}

std::string RunsDir(const std::string& root, const std::string& entity,
                    const std::string& project) {
  return root + "/entities/" + entity + "/projects/" + project + "/runs";
}

ordered_json JsonOrNull(const std::string& text) {
  if (text.empty()) {
    return nullptr;
  }
  ordered_json j = ordered_json::parse(text, nullptr, false);
  return j.is_discarded() ? ordered_json(nullptr) : j;
}

std::string RunToJson(const RunRecord& r) {
  ordered_json j;
  j["id"] = r.id;
  j["name"] = r.name;
  j["entity"] = r.entity;
  j["project"] = r.project;
  j["state"] = r.state;
  j["created_at"] = r.created_at;
  j["finished_at"] = r.finished_at.empty() ? ordered_json(nullptr) : ordered_json(r.finished_at);
  j["job"] = r.job.empty() ? ordered_json(nullptr) : ordered_json(r.job);
  j["version"] = r.version_index >= 0 ? ordered_json(r.version_index) : ordered_json(nullptr);
  j["exit_code"] = r.has_exit_code ? ordered_json(r.exit_code) : ordered_json(nullptr);
  j["config"] = JsonOrNull(r.config);
  j["summary"] = JsonOrNull(r.summary);
  j["history_rows"] = r.history_rows;
  return j.dump(2) + "\n";
}

bool RunFromJson(const ordered_json& j, RunRecord* r, std::string* err) {
  try {
    r->id = j.at("id").get<std::string>();
    r->name = j.value("name", "");
    r->entity = j.value("entity", "");
    r->project = j.value("project", "");
    r->state = j.value("state", "");
    r->created_at = j.value("created_at", "");
    auto text = [&](const char* key) {
      auto it = j.find(key);
      return it == j.end() || it->is_null() ? std::string() : it->get<std::string>();
    };
    auto dumped = [&](const char* key) {
      auto it = j.find(key);
      return it == j.end() || it->is_null() ? std::string() : it->dump();
    };
    r->finished_at = text("finished_at");
    r->job = text("job");
    auto version = j.find("version");
    r->version_index = version == j.end() || version->is_null() ? -1 : version->get<int>();
    auto code = j.find("exit_code");
    r->has_exit_code = code != j.end() && !code->is_null();
    r->exit_code = r->has_exit_code ? code->get<int>() : 0;
    r->config = dumped("config");
    r->summary = dumped("summary");
    r->history_rows = j.value("history_rows", 0);
  } catch (const std::exception& e) {
    *err = e.what();
    return false;
  }
  return true;
}

}  // namespace

std::string DefaultStoreRoot() {
  std::string env = GetEnv("WANDB_JOB_STORE");
  if (!env.empty()) {
    return env;
  }
  std::string xdg = GetEnv("XDG_DATA_HOME");
  if (!xdg.empty() && xdg[0] == '/') {
    return xdg + "/wandb-job/store";
  }
  return HomeDirectory() + "/.local/share/wandb-job/store";
}

std::string StoreArtifactId(const std::string& entity, const std::string& project,
                            const std::string& type, const std::string& name,
                            const std::string& digest) {
  Hasher md5(HashAlgorithm::kMd5);
  md5.Update("wandb-job-store-artifact-id\n" + entity + "\n" + project + "\n" + type + "\n" + name +
             "\n" + digest + "\n");
  std::string raw = md5.Finish();
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) {
    n = (n << 8) | static_cast<unsigned char>(raw[i]);
  }
  n &= (uint64_t{1} << 53) - 1;  // A JavaScript-safe integer, as W&B's IDs are.
  return Base64Encode("Artifact:" + std::to_string(n));
}

bool JobStore::Open(const std::string& root, std::unique_ptr<JobStore>* out, std::string* err) {
  if (root.empty()) {
    *err = "the job store path is empty (set WANDB_JOB_STORE)";
    return false;
  }
  std::string abs = root[0] == '/' ? root : JoinPath(CurrentDirectory(), root);
  out->reset(new JobStore(NormalizePath(abs)));
  return true;
}

std::string JobStore::Destination() const { return "local store " + root_; }

bool JobStore::DefaultEntity(std::string* entity, std::string* err) {
  std::string env = GetEnv("WANDB_ENTITY");
  *entity = env.empty() ? "local" : env;
  return true;
}

bool JobStore::Publish(const ArtifactUpload& upload, PublishedArtifact* out, std::string* err) {
  // Validate everything before writing anything.
  if (!ValidateCollection(upload.entity, upload.project, upload.type, upload.name, err)) {
    return false;
  }
  std::vector<std::string> aliases;
  for (const std::string& alias : upload.aliases) {
    std::string why;
    if (alias != kLatest && !ValidateAlias(alias, &why)) {
      *err = "invalid alias " + Quote(alias) + ": " + why;
      return false;
    }
    if (std::find(aliases.begin(), aliases.end(), alias) == aliases.end()) {
      aliases.push_back(alias);
    }
  }
  if (!upload.metadata.empty()) {
    ordered_json meta = ordered_json::parse(upload.metadata, nullptr, false);
    if (meta.is_discarded() || !meta.is_object()) {
      *err = "artifact metadata is not a JSON object";
      return false;
    }
  }
  std::vector<std::string> hexes;
  for (const ManifestEntry& entry : upload.manifest.entries) {
    std::string hex;
    if (!ValidateEntryPath(entry.path, err)) {
      return false;
    }
    if (!EntryDigestHex(entry.digest, &hex)) {
      *err = "file " + Quote(entry.path) + ": invalid digest " + Quote(entry.digest) +
             " in the manifest";
      return false;
    }
    hexes.push_back(hex);
  }
  for (const auto& [path, data] : upload.inline_files) {
    if (upload.manifest.Find(path) == nullptr) {
      *err = "file " + Quote(path) + " is not in the manifest";
      return false;
    }
  }
  const std::string digest = upload.manifest.Digest();

  // Blobs, outside the lock: content-addressed, written atomically, never removed.
  std::string why;
  if (!MakeDirs(root_ + "/blobs/md5", &why)) {
    *err = StoreError(root_, why);
    return false;
  }
  for (size_t i = 0; i < hexes.size(); ++i) {
    if (!StoreBlob(root_, upload, upload.manifest.entries[i], hexes[i], err)) {
      return false;
    }
  }
  if (step_hook_) {
    step_hook_(PublishStep::kBlobsStored);
  }

  // The commit: version file, then aliases, under the store lock.
  CollectionPaths paths = PathsOf(root_, upload.entity, upload.project, upload.type, upload.name);
  FileLock lock;
  if (!lock.Lock(root_ + "/.lock", &why) || !MakeDirs(paths.versions_dir, &why)) {
    *err = StoreError(root_, why);
    return false;
  }
  if (!FileExists(root_ + "/store.json")) {
    ordered_json sj;
    sj["format"] = kStoreFormat;
    if (!WriteFileAtomic(root_ + "/store.json", sj.dump(2) + "\n", &why)) {
      *err = StoreError(root_, why);
      return false;
    }
  }
  StoredCollection collection;
  AliasMap alias_map;
  bool exists;
  if (!LoadCollection(paths, &collection, &exists, &alias_map, err)) {
    return false;
  }
  if (!exists) {
    ordered_json cj;
    cj["type"] = upload.type;
    cj["name"] = upload.name;
    cj["entity"] = upload.entity;
    cj["project"] = upload.project;
    cj["created_at"] = NowRfc3339();
    if (!WriteFileAtomic(paths.collection_json, cj.dump(2) + "\n", &why)) {
      *err = StoreError(root_, why);
      return false;
    }
  }
  const StoredVersion* target = nullptr;
  for (const StoredVersion& v : collection.versions) {
    if (v.digest == digest) {
      target = &v;
    }
  }
  StoredVersion created;
  if (target == nullptr) {
    created.index = collection.versions.empty() ? 0 : collection.versions.back().index + 1;
    created.id = StoreArtifactId(upload.entity, upload.project, upload.type, upload.name, digest);
    created.digest = digest;
    created.created_at = NowRfc3339();
    created.description = upload.description;
    created.metadata = upload.metadata;
    std::map<std::string, std::string> births;  // content digest -> first version's ID
    for (const StoredVersion& v : collection.versions) {
      for (const ManifestEntry& e : v.manifest.entries) {
        births.emplace(e.digest, e.birth_artifact_id.empty() ? v.id : e.birth_artifact_id);
      }
    }
    created.manifest = upload.manifest;
    for (ManifestEntry& e : created.manifest.entries) {
      auto birth = births.find(e.digest);
      e.birth_artifact_id = birth == births.end() ? created.id : birth->second;
    }
    if (!WriteFileAtomic(paths.VersionFile(created.index), VersionToJson(created), &why)) {
      *err = StoreError(root_, why);
      return false;
    }
    if (step_hook_) {
      step_hook_(PublishStep::kVersionWritten);
    }
    target = &created;
    if (std::find(aliases.begin(), aliases.end(), kLatest) == aliases.end()) {
      aliases.push_back(kLatest);
    }
  }
  AliasMap updated = alias_map;
  for (const std::string& alias : aliases) {
    updated[alias] = target->index;
  }
  if (updated.count(kLatest) == 0) {  // A collection always has a latest version.
    updated[kLatest] = target == &created ? created.index : collection.versions.back().index;
  }
  if (updated != alias_map || !FileExists(paths.aliases_json)) {
    if (!WriteFileAtomic(paths.aliases_json, AliasesToJson(updated), &why)) {
      *err = StoreError(root_, why);
      return false;
    }
  }
  if (step_hook_) {
    step_hook_(PublishStep::kAliasesWritten);
  }

  out->id = target->id;
  out->version_index = target->index;
  out->digest = target->digest;
  out->created = target == &created;
  out->aliases.clear();
  for (const auto& [alias, index] : updated) {
    if (index == target->index) {
      out->aliases.push_back(alias);
    }
  }
  SortAliases(&out->aliases);
  return true;
}

bool JobStore::Get(const std::string& entity, const std::string& project, const std::string& type,
                   const std::string& name, StoredCollection* out, std::string* err) const {
  std::string what = type == "job" ? "job" : type + " artifact";
  std::string unknown = "unknown " + what + " " + Quote(name) + " in " + entity + "/" + project +
                        "; `wandb-job ls` lists the jobs";
  std::string why;
  if (!ValidateCollection(entity, project, type, name, &why)) {
    *err = unknown;
    return false;
  }
  StoredCollection c;
  AliasMap aliases;
  bool exists;
  if (!LoadCollection(PathsOf(root_, entity, project, type, name), &c, &exists, &aliases, err)) {
    return false;
  }
  if (!exists || c.versions.empty()) {
    *err = unknown;
    return false;
  }
  c.entity = entity;
  c.project = project;
  c.type = type;
  c.name = name;
  if (type == "job" && !ListRuns(entity, project, name, &c.runs, err)) {
    return false;
  }
  *out = std::move(c);
  return true;
}

bool JobStore::FindExisting(const ArtifactUpload& upload, PublishedArtifact* out, bool* found,
                            std::string* err) {
  *found = false;
  StoredCollection c;
  std::string missing;
  if (!Get(upload.entity, upload.project, upload.type, upload.name, &c, &missing)) {
    return true;  // No such collection yet: the version would be v0.
  }
  *found = FindVersionByDigest(c, upload.manifest.Digest(), out);
  return true;
}

bool FindVersionByDigest(const StoredCollection& collection, const std::string& digest,
                         PublishedArtifact* out) {
  for (const StoredVersion& v : collection.versions) {
    if (v.digest == digest) {
      out->id = v.id;
      out->version_index = v.index;
      out->digest = v.digest;
      out->created = false;
      out->aliases = v.aliases;
      return true;
    }
  }
  return false;
}

bool JobStore::List(const std::string& type, std::vector<StoredCollection>* out,
                    std::string* err) const {
  out->clear();
  std::vector<std::string> entities, projects, types, names;
  if (!ListDir(root_ + "/entities", &entities, err)) {
    return false;
  }
  for (const std::string& entity : entities) {
    std::string edir = root_ + "/entities/" + entity + "/projects";
    if (!ListDir(edir, &projects, err)) {
      return false;
    }
    for (const std::string& project : projects) {
      std::string pdir = edir + "/" + project + "/collections";
      if (!ListDir(pdir, &types, err)) {
        return false;
      }
      for (const std::string& t : types) {
        if (!type.empty() && t != type) {
          continue;
        }
        if (!ListDir(pdir + "/" + t, &names, err)) {
          return false;
        }
        for (const std::string& name : names) {
          StoredCollection c;
          AliasMap aliases;
          bool exists;
          if (!LoadCollection(PathsOf(root_, entity, project, t, name), &c, &exists, &aliases,
                              err)) {
            return false;
          }
          if (exists && !c.versions.empty()) {
            c.entity = entity;
            c.project = project;
            c.type = t;
            c.name = name;
            if (t == "job" && !ListRuns(entity, project, name, &c.runs, err)) {
              return false;
            }
            out->push_back(std::move(c));
          }
        }
      }
    }
  }
  std::sort(out->begin(), out->end(), [](const StoredCollection& a, const StoredCollection& b) {
    return std::tie(a.entity, a.project, a.name, a.type) <
           std::tie(b.entity, b.project, b.name, b.type);
  });
  return true;
}

bool JobStore::ReadFile(const StoredVersion& version, const std::string& path,
                        std::string* contents, std::string* err) const {
  const ManifestEntry* entry = version.manifest.Find(path);
  if (entry == nullptr) {
    *err = "v" + std::to_string(version.index) + " has no file " + Quote(path);
    return false;
  }
  std::string hex;
  if (!EntryDigestHex(entry->digest, &hex)) {
    *err = "file " + Quote(path) + ": invalid digest " + Quote(entry->digest);
    return false;
  }
  std::string blob = root_ + "/blobs/md5/" + hex;
  if (!wandb_job::ReadFile(blob, contents, err)) {
    return false;
  }
  if (contents->size() != entry->size || Md5Hex(*contents) != hex) {
    *err = "blob " + blob + " of file " + Quote(path) + " is damaged";
    return false;
  }
  return true;
}

bool JobStore::FindArtifactById(const std::string& id, StoredCollection* collection,
                                int* version_index, std::string* err) const {
  std::vector<StoredCollection> all;
  if (!List("", &all, err)) {
    return false;
  }
  for (StoredCollection& c : all) {
    for (const StoredVersion& v : c.versions) {
      if (v.id == id) {
        *version_index = v.index;
        *collection = std::move(c);
        return true;
      }
    }
  }
  *err = "no artifact with ID " + Quote(id) + " in the local store " + root_;
  return false;
}

bool JobStore::RunDir(const std::string& entity, const std::string& project,
                      const std::string& id, std::string* dir, std::string* err) const {
  if (!ValidateEntityName(entity, err) || !ValidateProject(project, err) ||
      !ValidateRunId(id, err)) {
    return false;
  }
  *dir = RunsDir(root_, entity, project) + "/" + id;
  std::string why;
  if (!MakeDirs(*dir, &why)) {
    *err = StoreError(root_, why);
    return false;
  }
  return true;
}

bool JobStore::WriteRun(const RunRecord& run, std::string* err) const {
  std::string dir, why;
  if (!RunDir(run.entity, run.project, run.id, &dir, err)) {
    return false;
  }
  if (!WriteFileAtomic(dir + "/run.json", RunToJson(run), &why)) {
    *err = StoreError(root_, why);
    return false;
  }
  return true;
}

bool JobStore::ReadRun(const std::string& entity, const std::string& project,
                       const std::string& id, RunRecord* out, bool* found,
                       std::string* err) const {
  *found = false;
  if (!ValidateEntityName(entity, err) || !ValidateProject(project, err) ||
      !ValidateRunId(id, err)) {
    return false;
  }
  std::string path = RunsDir(root_, entity, project) + "/" + id + "/run.json";
  ordered_json j;
  bool missing;
  if (!ParseJsonFile(path, &j, &missing, err)) {
    return false;
  }
  if (missing) {
    return true;
  }
  if (!RunFromJson(j, out, err)) {
    *err = "reading " + path + ": " + *err;
    return false;
  }
  *found = true;
  return true;
}

bool JobStore::ListRuns(const std::string& entity, const std::string& project,
                        const std::string& job, std::vector<RunRecord>* out,
                        std::string* err) const {
  out->clear();
  std::vector<std::string> ids;
  if (!ListDir(RunsDir(root_, entity, project), &ids, err)) {
    return false;
  }
  for (const std::string& id : ids) {
    RunRecord run;
    bool found;
    std::string why;
    if (!ReadRun(entity, project, id, &run, &found, &why)) {
      Warning("skipping run %s/%s/%s: %s", entity.c_str(), project.c_str(), id.c_str(),
              why.c_str());
      continue;
    }
    if (found && (job.empty() || run.job == job)) {
      out->push_back(std::move(run));
    }
  }
  std::stable_sort(out->begin(), out->end(), [](const RunRecord& a, const RunRecord& b) {
    return a.created_at < b.created_at;
  });
  return true;
}

bool JobStore::Verify(std::vector<std::string>* problems, std::string* err) const {
  problems->clear();
  auto problem = [&](const std::string& where, const std::string& what) {
    problems->push_back(where + ": " + what);
  };
  // Blobs: the name is the MD5 of the content.
  std::map<std::string, uint64_t> blob_sizes;
  std::vector<std::string> blobs;
  if (!ListDir(root_ + "/blobs/md5", &blobs, err)) {
    return false;
  }
  for (const std::string& name : blobs) {
    std::string rel = "blobs/md5/" + name;
    FileHashes hashes;
    std::string why;
    if (!IsHexMd5(name)) {
      problem(rel, "not a blob name (32 lowercase hex digits)");
    } else if (!HashFile(root_ + "/" + rel, &hashes, &why)) {
      problem(rel, why);
    } else if (HexEncode(hashes.md5) != name) {
      problem(rel, "content has md5 " + HexEncode(hashes.md5) + " (damaged blob)");
    } else {
      blob_sizes[name] = hashes.size;
    }
  }
  // Collections: every version's files have their blob, every alias its version.
  std::vector<std::string> entities, projects, types, names, files;
  if (!ListDir(root_ + "/entities", &entities, err)) {
    return false;
  }
  for (const std::string& entity : entities) {
    std::string erel = "entities/" + entity + "/projects";
    if (!ListDir(root_ + "/" + erel, &projects, err)) {
      return false;
    }
    for (const std::string& project : projects) {
      std::string prel = erel + "/" + project + "/collections";
      if (!ListDir(root_ + "/" + prel, &types, err)) {
        return false;
      }
      for (const std::string& type : types) {
        if (!ListDir(root_ + "/" + prel + "/" + type, &names, err)) {
          return false;
        }
        for (const std::string& name : names) {
          std::string crel = prel + "/" + type + "/" + name;
          CollectionPaths p = PathsOf(root_, entity, project, type, name);
          ordered_json cj;
          bool missing;
          std::string why;
          if (!ParseJsonFile(p.collection_json, &cj, &missing, &why)) {
            problem(crel + "/collection.json", why);
          } else if (missing) {
            // A publish killed while creating the collection leaves its directories without
            // collection.json; that is an unfinished write, not damage, unless versions exist.
            std::vector<std::string> version_files;
            if (!ListDir(p.versions_dir, &version_files, err)) {
              return false;
            }
            bool has_version = std::any_of(version_files.begin(), version_files.end(),
                                           [](const std::string& f) {
                                             return VersionFileIndex(f) >= 0;
                                           });
            if (has_version) {
              problem(crel, "no collection.json");
            }
          } else if (!cj.is_object() || cj.find("type") == cj.end() || cj["type"] != type ||
                     cj.find("name") == cj.end() || cj["name"] != name) {
            problem(crel + "/collection.json", "type or name does not match its directory");
          }
          std::set<int> indexes;
          if (!ListDir(p.versions_dir, &files, err)) {
            return false;
          }
          for (const std::string& file : files) {
            int index = VersionFileIndex(file);
            if (index < 0) {
              continue;
            }
            std::string vrel = crel + "/versions/" + file;
            ordered_json vj;
            StoredVersion v;
            if (!ParseJsonFile(p.versions_dir + "/" + file, &vj, &missing, &why) ||
                !VersionFromJson(vj, &v, &why)) {
              problem(vrel, why);
              continue;
            }
            indexes.insert(index);
            if (v.index != index) {
              problem(vrel, "index " + std::to_string(v.index) + " does not match the file name");
            }
            if (v.manifest.Digest() != v.digest) {
              problem(vrel, "digest " + v.digest + " does not match its manifest (" +
                                v.manifest.Digest() + ")");
            }
            for (const ManifestEntry& e : v.manifest.entries) {
              std::string hex;
              if (!EntryDigestHex(e.digest, &hex)) {
                problem(vrel, "file " + Quote(e.path) + ": invalid digest " + Quote(e.digest));
                continue;
              }
              auto blob = blob_sizes.find(hex);
              if (blob == blob_sizes.end()) {
                problem(vrel, "file " + Quote(e.path) + ": blob " + hex + " is missing");
              } else if (blob->second != e.size) {
                problem(vrel, "file " + Quote(e.path) + ": size " + std::to_string(e.size) +
                                  " but blob " + hex + " has " + std::to_string(blob->second));
              }
              if (e.birth_artifact_id.empty()) {
                problem(vrel, "file " + Quote(e.path) + ": no birthArtifactID");
              }
            }
          }
          AliasMap aliases;
          if (!ReadAliases(p.aliases_json, &aliases, &why)) {
            problem(crel + "/aliases.json", why);
          }
          for (const auto& [alias, index] : aliases) {
            if (!indexes.count(index)) {
              problem(
                  crel + "/aliases.json",
                  "alias " + Quote(alias) + " points to missing version v" + std::to_string(index));
            }
          }
        }
      }
    }
  }
  return true;
}

}  // namespace wandb_job
