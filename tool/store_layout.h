// The local store's on-disk layout, shared by job_store, run_store and store_verify: name
// validation, directory listing, the version, alias and collection files and their paths.
// Internal to those modules; everyone else goes through JobStore.
#pragma once

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "job_store.h"

namespace wandb_job {

constexpr char kLatest[] = "latest";

/// `s` in single quotes, for messages.
std::string Quote(std::string_view s);

/// An entity or project name: one directory of the layout, and valid on W&B.
bool ValidateEntityName(std::string_view entity, std::string* err);
bool ValidateProject(std::string_view project, std::string* err);
/// Entity, project, artifact type and collection name of one collection.
bool ValidateCollection(const std::string& entity, const std::string& project,
                        const std::string& type, const std::string& name, std::string* err);
/// Artifact-relative paths that can be read below files_dir: no leading "/", no "." or ".."
/// segments, no empty segments.
bool ValidateEntryPath(const std::string& path, std::string* err);

/// The hex MD5 of a manifest entry's base64 digest; false when it is not a base64 MD5.
bool EntryDigestHex(const std::string& b64, std::string* hex);
/// 32 lowercase hex digits: a blob name.
bool IsHexMd5(const std::string& s);

/// The names in `dir`, sorted, without ".", ".." and orphan temporary files (".tmp.*"). A
/// missing directory has no names.
bool ListDir(const std::string& dir, std::vector<std::string>* names, std::string* err);
/// "v<N>.json" -> N; -1 for any other name.
int VersionFileIndex(const std::string& file);
/// Parses the JSON file `path`; a missing file is no error but sets `*missing`.
bool ParseJsonFile(const std::string& path, nlohmann::ordered_json* out, bool* missing,
                   std::string* err);

/// A version file (versions/v<N>.json) and back, in time linear in the number of files.
std::string VersionToJson(const StoredVersion& v);
bool VersionFromJson(const std::string& text, StoredVersion* v, std::string* err);
/// Reads and parses a version file; a missing file is no error but sets `*missing`.
bool ReadVersionFile(const std::string& path, StoredVersion* v, bool* missing, std::string* err);

/// aliases.json: alias -> version index.
using AliasMap = std::map<std::string, int>;
std::string AliasesToJson(const AliasMap& aliases);
/// A missing aliases.json has no aliases.
bool ReadAliases(const std::string& path, AliasMap* out, std::string* err);
/// "latest" first, then the others sorted.
void SortAliases(std::vector<std::string>* aliases);

struct CollectionPaths {
  std::string dir, collection_json, versions_dir, aliases_json;
  std::string VersionFile(int index) const {
    return versions_dir + "/v" + std::to_string(index) + ".json";
  }
};

/// The paths of one collection of the store at `root`.
CollectionPaths PathsOf(const std::string& root, const std::string& entity,
                        const std::string& project, const std::string& type,
                        const std::string& name);
/// Reads a collection directory: collection.json (its absence means "no collection"), every
/// v<N>.json by index, aliases.json. Aliases naming a missing version are dropped.
bool LoadCollection(const CollectionPaths& p, StoredCollection* out, bool* exists,
                    AliasMap* aliases, std::string* err);

/// A failed write to the store, naming it and WANDB_JOB_STORE.
std::string StoreError(const std::string& root, const std::string& detail);

}  // namespace wandb_job
