#include "job_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "atomic_file.h"
#include "file_util.h"
#include "hash.h"
#include "json_access.h"
#include "log.h"
#include "store_layout.h"
#include "wandb_types.h"

namespace wandb_job {
namespace {

using ordered_json = nlohmann::ordered_json;

constexpr char kStoreFormat[] = "wandb-job-store/1";
constexpr size_t kChunkSize = 1 << 16;

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

}  // namespace

std::string NowRfc3339() {
  time_t now = time(nullptr);
  struct tm tm_utc;
  gmtime_r(&now, &tm_utc);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm_utc);
  return buf;
}

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

namespace {

/// A store written by another version of this layout is neither read nor written: its
/// store.json names a format this helper does not know. No store.json: a new (or empty) store.
bool CheckStoreFormat(const std::string& root, std::string* err) {
  std::string path = root + "/store.json";
  if (!FileExists(path)) {
    return true;
  }
  std::string text, format;
  if (!ReadFile(path, &text, err)) {
    *err = StoreError(root, *err);
    return false;
  }
  ordered_json j = ordered_json::parse(text, nullptr, false);
  std::string why;
  if (!JsonFields<ordered_json>(j).String("format", &format, &why)) {
    *err = "the job store " + root + " is damaged (store.json: " + why +
           "); repair it or choose another store (--store or WANDB_JOB_STORE)";
    return false;
  }
  if (format != kStoreFormat) {
    *err = "the job store " + root + " has format " + Quote(format) + ", which this wandb-job (" +
           kStoreFormat + ") does not know; use the wandb-job that wrote it or another store " +
           "(--store or WANDB_JOB_STORE)";
    return false;
  }
  return true;
}

}  // namespace

bool JobStore::Open(const std::string& root, std::unique_ptr<JobStore>* out, std::string* err) {
  if (root.empty()) {
    *err = "the job store path is empty (set WANDB_JOB_STORE)";
    return false;
  }
  std::string abs = NormalizePath(root[0] == '/' ? root : JoinPath(CurrentDirectory(), root));
  if (!CheckStoreFormat(abs, err)) {
    return false;
  }
  out->reset(new JobStore(abs));
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
  if (!CheckStoreFormat(root_, err)) {
    return false;
  }

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

std::string JobStore::VersionStamp(const std::string& entity, const std::string& project,
                                   const std::string& type, const std::string& name, int index) {
  CollectionPaths paths = PathsOf(root_, entity, project, type, name);
  struct stat st;
  if (index < 0 || stat(paths.VersionFile(index).c_str(), &st) != 0) {
    return "missing";
  }
  std::string stamp = std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
                      std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) +
                      " aliases:";
  AliasMap aliases;
  std::string why;
  if (!ReadAliases(paths.aliases_json, &aliases, &why)) {
    return "unreadable aliases";
  }
  for (const auto& [alias, at] : aliases) {
    if (at == index) {
      stamp += " " + alias;
    }
  }
  return stamp;
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

}  // namespace wandb_job
