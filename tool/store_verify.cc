// JobStore::Verify(): checks every blob and every version, alias and collection file of the
// local store against each other.
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "hash.h"
#include "job_store.h"
#include "store_layout.h"

namespace wandb_job {
namespace {

using ordered_json = nlohmann::ordered_json;

}  // namespace

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
            StoredVersion v;
            if (!ReadVersionFile(p.versions_dir + "/" + file, &v, &missing, &why)) {
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
