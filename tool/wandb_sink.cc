#include "wandb_sink.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>

#include "file_util.h"
#include "hash.h"
#include "json_access.h"
#include "log.h"
#include "wandb_graphql.h"
#include "wandb_jobs_reader.h"

namespace wandb_job {

using nlohmann::json;

namespace {

constexpr size_t kFilesBatch = 500;  // createArtifactFiles specs per call (Python: <= 1000)

// --- GraphQL documents (each validated against the schema by the fake server's tests) ---------

constexpr char kUpsertBucket[] = R"(mutation UpsertBucket($name: String, $project: String,
    $entity: String, $jobType: String) {
  upsertBucket(input: {name: $name, modelName: $project, entityName: $entity,
      jobType: $jobType}) {
    bucket { id name }
    inserted
  }
})";

constexpr char kCreateArtifact[] = R"(mutation CreateArtifact($input: CreateArtifactInput!) {
  createArtifact(input: $input) {
    artifact {
      id
      state
      digest
      versionIndex
      aliases { alias artifactCollectionName }
      artifactSequence { id latestArtifact { id versionIndex } }
    }
  }
})";

constexpr char kCreateArtifactManifest[] = R"(mutation CreateArtifactManifest($artifactID: ID!,
    $baseArtifactID: ID, $name: String!, $digest: String!, $entityName: String!,
    $projectName: String!, $runName: String!, $manifestType: ArtifactManifestType!,
    $includeUpload: Boolean!) {
  createArtifactManifest(input: {artifactID: $artifactID, baseArtifactID: $baseArtifactID,
      name: $name, digest: $digest, entityName: $entityName, projectName: $projectName,
      runName: $runName, type: $manifestType}) {
    artifactManifest {
      id
      file {
        id
        uploadUrl @include(if: $includeUpload)
        uploadHeaders @include(if: $includeUpload)
      }
    }
  }
})";

constexpr char kCreateArtifactFiles[] = R"(mutation CreateArtifactFiles(
    $artifactFiles: [CreateArtifactFileSpecInput!]!, $storageLayout: ArtifactStorageLayout!) {
  createArtifactFiles(input: {artifactFiles: $artifactFiles, storageLayout: $storageLayout}) {
    files {
      edges {
        node {
          name
          uploadUrl
          uploadHeaders
          artifact { id }
        }
      }
    }
  }
})";

constexpr char kCommitArtifact[] = R"(mutation CommitArtifact($artifactID: ID!) {
  commitArtifact(input: {artifactID: $artifactID}) {
    artifact {
      id
      digest
      state
      versionIndex
      aliases { alias artifactCollectionName }
    }
  }
})";

constexpr char kAddAliases[] = R"(mutation AddAliases($artifactID: ID!,
    $aliases: [ArtifactCollectionAliasInput!]!) {
  addAliases(input: {artifactID: $artifactID, aliases: $aliases}) {
    success
  }
})";

constexpr char kDeleteRun[] = R"(mutation DeleteRun($id: ID!) {
  deleteRun(input: {id: $id}) {
    clientMutationId
  }
})";

bool ParseUploadHeaders(const json& list, HttpHeaders* out, std::string* err) {
  if (list.is_null()) {
    return true;
  }
  if (!list.is_array()) {
    *err = "uploadHeaders is not a list";
    return false;
  }
  for (const json& h : list) {
    std::string s = h.is_string() ? h.get<std::string>() : "";
    size_t colon = s.find(':');
    if (colon == std::string::npos || colon == 0) {
      *err = "malformed upload header '" + OneLine(s, 80) + "'";
      return false;
    }
    std::string value = s.substr(colon + 1);
    size_t b = value.find_first_not_of(" \t");
    size_t e = value.find_last_not_of(" \t");
    value = b == std::string::npos ? "" : value.substr(b, e - b + 1);
    out->emplace_back(s.substr(0, colon), value);
  }
  return true;
}

}  // namespace

// --- WandbSink ----------------------------------------------------------------------------------

WandbSink::~WandbSink() = default;

std::string WandbSink::Destination() const {
  return client_->options().base_url;
}

bool WandbSink::DefaultEntity(std::string* entity, std::string* err) {
  if (default_entity_.empty() && !client_->ViewerEntity(&default_entity_, err)) {
    return false;
  }
  *entity = default_entity_;
  return true;
}

bool WandbSink::EnsureRun(const std::string& entity, const std::string& project, Run** out,
                          std::string* err) {
  for (Run& r : runs_) {
    if (r.entity == entity && r.project == project) {
      *out = &r;
      return true;
    }
  }
  Run run;
  run.entity = entity;
  run.project = project;
  run.name = RandomId(8, true);
  json vars = {{"name", run.name}, {"project", project}, {"entity", entity},
               {"jobType", "cli_create_job"}};
  json data;
  if (!GraphqlJson(client_, "UpsertBucket", kUpsertBucket, vars, &data, err,
                   RequestKind::kUpsertBucket)) {
    *err = "creating the run that owns the artifacts: " + *err;
    return false;
  }
  JsonFields<json> reply(data), upsert(data), bucket(data);
  std::string name;
  if (!reply.Object("upsertBucket", &upsert, err) || !upsert.Object("bucket", &bucket, err) ||
      !bucket.String("id", &run.storage_id, err, Field::kOptional) ||
      !bucket.String("name", &name, err, Field::kOptional)) {
    *err = "creating the run that owns the artifacts: UpsertBucket: " + *err;
    return false;
  }
  if (!name.empty()) {
    run.name = name;
  }
  runs_.push_back(run);
  *out = &runs_.back();
  return true;
}

bool WandbSink::Finish(std::string* err) {
  bool ok = true;
  for (const Run& run : runs_) {
    HttpRequest request;
    request.method = "POST";
    request.url = client_->options().base_url + "/files/" + UrlEncode(run.entity) + "/" +
                  UrlEncode(run.project) + "/" + UrlEncode(run.name) + "/file_stream";
    request.headers = {{"Content-Type", "application/json"}};
    request.body = R"({"complete": true, "exitcode": 0})";
    request.timeout_seconds = kGraphqlTimeoutSeconds;
    HttpResponse response;
    std::string e;
    if (!client_->Send(nullptr, request, RequestKind::kFileStream, "finishing run " + run.name,
                       &response, &e)) {
      *err = e;
      ok = false;
      continue;
    }
    json data;
    if (!run.storage_id.empty() &&
        !GraphqlJson(client_, "DeleteRun", kDeleteRun, {{"id", run.storage_id}}, &data, &e)) {
      *err = "deleting the hidden run " + run.name + ": " + e;
      ok = false;
    }
  }
  runs_.clear();
  return ok;
}

namespace {

// addAliases for the requested aliases the version does not hold yet.
bool EnsureAliases(WandbClient* client, const ArtifactUpload& upload, const std::string& id,
                   std::vector<std::string>* have, std::string* err) {
  json missing = json::array();
  for (const std::string& a : upload.aliases) {
    if (std::find(have->begin(), have->end(), a) == have->end()) {
      missing.push_back({{"alias", a},
                         {"artifactCollectionName", upload.name},
                         {"entityName", upload.entity},
                         {"projectName", upload.project}});
    }
  }
  if (missing.empty()) {
    return true;
  }
  json data;
  if (!GraphqlJson(client, "AddAliases", kAddAliases,
                   {{"artifactID", id}, {"aliases", missing}}, &data, err)) {
    return false;
  }
  for (const json& m : missing) {
    have->push_back(m["alias"].get<std::string>());
  }
  json fake = json::array();
  for (const std::string& a : *have) {
    fake.push_back({{"alias", a}});
  }
  *have = AliasList(fake, "");
  return true;
}

// Checks that the files still hold what the manifest says, before anything is created.
bool CheckFiles(const ArtifactUpload& upload, std::string* err) {
  for (const ManifestEntry& e : upload.manifest.entries) {
    auto inl = upload.inline_files.find(e.path);
    if (inl != upload.inline_files.end()) {
      if (Md5Base64(inl->second) != e.digest) {
        *err = "internal: " + e.path + " does not match its manifest entry";
        return false;
      }
      continue;
    }
    FileHashes h;
    std::string path = JoinPath(upload.files_dir, e.path);
    if (!HashFile(path, &h, err)) {
      *err = "reading " + path + ": " + *err;
      return false;
    }
    if (h.size != e.size || Base64Encode(h.md5) != e.digest) {
      *err = path + " changed after the bundle was made; rebuild the bundle";
      return false;
    }
  }
  return true;
}

// 128 alphanumerics that name this content in this collection (createArtifact's clientID).
std::string ContentClientId(const ArtifactUpload& upload, const std::string& digest) {
  std::string key = upload.entity + '\n' + upload.project + '\n' + upload.type + '\n' +
                    upload.name + '\n' + digest;
  return Sha256Hex(key + "\n0") + Sha256Hex(key + "\n1");
}

}  // namespace

bool WandbSink::Publish(const ArtifactUpload& upload, PublishedArtifact* out, std::string* err) {
  if (!CheckFiles(upload, err)) {
    return false;
  }
  Run* run = nullptr;
  if (!EnsureRun(upload.entity, upload.project, &run, err)) {
    return false;
  }
  PublishedArtifact result;
  result.digest = upload.manifest.Digest();

  // The clientID comes from the content: the server answers a repeated createArtifact with the
  // same clientID with the same artifact (wandb-protocol.md 4.4), so a rerun after an interrupted
  // publish resumes its PENDING version, and two publishers of the same content at the same time
  // fill one version instead of making two.
  std::string base_id;
  bool committed = false;
  if (!CreateVersion(upload, *run, &result, &base_id, &committed, err)) {
    return false;
  }
  if (committed) {
    Verbose("%s: the server already has this content (%s)", upload.name.c_str(), result.id.c_str());
    *out = std::move(result);
    return true;
  }
  if (!UploadAndCommit(upload, *run, base_id, &result, err)) {
    // A concurrent publisher of the same content may have committed the shared version under
    // us; then the version exists and this publish is done.
    PublishedArtifact again = result;
    std::string again_err;
    if (!CreateVersion(upload, *run, &again, &base_id, &committed, &again_err) || !committed) {
      return false;
    }
    Verbose("%s: a concurrent publish committed this content (%s)", upload.name.c_str(),
            again.id.c_str());
    result = std::move(again);
  }
  *out = std::move(result);
  return true;
}

bool WandbSink::CreateVersion(const ArtifactUpload& upload, const Run& run,
                              PublishedArtifact* result, std::string* base_id, bool* committed,
                              std::string* err) {
  // 1. createArtifact: the server deduplicates by digest (COMMITTED: nothing to do), and
  // returns the PENDING version that has our clientID.
  json aliases = json::array();
  for (const std::string& a : upload.aliases) {
    aliases.push_back({{"artifactCollectionName", upload.name}, {"alias", a}});
  }
  json input = {{"entityName", upload.entity},
                {"projectName", upload.project},
                {"artifactTypeName", upload.type},
                {"artifactCollectionNames", json::array({upload.name})},
                {"runName", run.name},
                {"digest", result->digest},
                {"digestAlgorithm", "MANIFEST_MD5"},
                {"aliases", aliases},
                {"enableDigestDeduplication", true},
                {"clientID", ContentClientId(upload, result->digest)},
                {"sequenceClientID", RandomId(128, false)}};
  if (!upload.description.empty()) {
    input["description"] = upload.description;
  }
  if (!upload.metadata.empty()) {
    input["metadata"] = upload.metadata;
  }
  json data;
  if (!GraphqlJson(client_, "CreateArtifact", kCreateArtifact, {{"input", input}}, &data, err)) {
    return false;
  }
  JsonFields<json> reply(data), created(data), artifact(data), sequence(data), latest(data);
  std::string state;
  const json* created_aliases = nullptr;
  if (!reply.Object("createArtifact", &created, err) ||
      !created.Object("artifact", &artifact, err, Field::kOptional) ||
      !artifact.String("id", &result->id, err, Field::kOptional) ||
      !artifact.String("state", &state, err, Field::kOptional) ||
      !artifact.Int("versionIndex", &result->version_index, err, Field::kOptional) ||
      !artifact.Array("aliases", &created_aliases, err, Field::kOptional) ||
      !artifact.Object("artifactSequence", &sequence, err, Field::kOptional) ||
      !sequence.Object("latestArtifact", &latest, err, Field::kOptional) ||
      !latest.String("id", base_id, err, Field::kOptional)) {
    *err = "CreateArtifact: " + *err;
    return false;
  }
  if (result->id.empty()) {
    *err = "createArtifact: the server returned no artifact";
    return false;
  }
  *committed = state == "COMMITTED";
  if (*committed) {
    result->aliases = AliasList(*created_aliases, upload.name);
    result->created = false;
    return EnsureAliases(client_, upload, result->id, &result->aliases, err);
  }
  result->version_index = -1;  // numbered on commit
  if (*base_id == result->id) {
    base_id->clear();
  }
  return true;
}

bool WandbSink::UploadAndCommit(const ArtifactUpload& upload, const Run& run, std::string base_id,
                                PublishedArtifact* result, std::string* err) {
  json data;
  // 2. The manifest record, without its file yet.
  json manifest_vars = {{"artifactID", result->id},
                        {"baseArtifactID", base_id.empty() ? json(nullptr) : json(base_id)},
                        {"name", "wandb_manifest.json"},
                        {"digest", ""},
                        {"entityName", upload.entity},
                        {"projectName", upload.project},
                        {"runName", run.name},
                        {"manifestType", "FULL"},
                        {"includeUpload", false}};
  if (!GraphqlJson(client_, "CreateArtifactManifest", kCreateArtifactManifest, manifest_vars,
                   &data, err)) {
    return false;
  }
  std::string manifest_id = Str(Member(Member(data, "createArtifactManifest"),
                                       "artifactManifest"), "id");

  // 3. Upload URLs per file, in batches; edges answer the specs by position.
  ArtifactManifest final_manifest = upload.manifest;
  std::vector<UploadTask> tasks;
  // Content is stored by MD5: files of equal content in one artifact go up once, as in W&B's
  // SDK (the server hands out a URL per path before any has been uploaded).
  std::set<std::string> digests_to_upload;
  uint64_t upload_bytes = 0;
  const std::vector<ManifestEntry>& entries = upload.manifest.entries;
  for (size_t start = 0; start < entries.size(); start += kFilesBatch) {
    size_t end = std::min(entries.size(), start + kFilesBatch);
    json specs = json::array();
    for (size_t i = start; i < end; ++i) {
      specs.push_back({{"artifactID", result->id},
                       {"artifactManifestID", manifest_id},
                       {"name", entries[i].path},
                       {"md5", entries[i].digest}});
    }
    if (!GraphqlJson(client_, "CreateArtifactFiles", kCreateArtifactFiles,
                     {{"artifactFiles", specs}, {"storageLayout", "V2"}}, &data, err)) {
      return false;
    }
    const json& edges = Member(Member(Member(data, "createArtifactFiles"), "files"), "edges");
    if (!edges.is_array() || edges.size() != end - start) {
      *err = "createArtifactFiles: the server answered " +
             std::to_string(edges.is_array() ? edges.size() : 0) + " files for " +
             std::to_string(end - start);
      return false;
    }
    for (size_t i = start; i < end; ++i) {
      const ManifestEntry& e = entries[i];
      ManifestEntry with_birth = e;
      std::string url;
      JsonFields<json> edge(edges[i - start], "createArtifactFiles.files.edges[" +
                                                  std::to_string(i - start) + "]");
      JsonFields<json> node(data), birth(data);
      if (!edge.Object("node", &node, err) ||
          !node.Object("artifact", &birth, err, Field::kOptional) ||
          !birth.String("id", &with_birth.birth_artifact_id, err, Field::kOptional) ||
          !node.String("uploadUrl", &url, err, Field::kOptional)) {
        *err = "CreateArtifactFiles: " + *err;
        return false;
      }
      if (with_birth.birth_artifact_id.empty()) {
        with_birth.birth_artifact_id = result->id;
      }
      final_manifest.Add(with_birth);
      const json& node_json = node.value();
      if (url.empty()) {  // The server already stores this content.
        ++stats_.files_skipped;
        continue;
      }
      if (!digests_to_upload.insert(e.digest).second) {
        ++stats_.files_deduplicated;
        Verbose("%s: %s has the content of another file, uploaded once", upload.name.c_str(),
                e.path.c_str());
        continue;
      }
      UploadTask t;
      t.path = e.path;
      t.url = url;
      t.size = e.size;
      if (!ParseUploadHeaders(Member(node_json, "uploadHeaders"), &t.headers, err)) {
        *err = "createArtifactFiles: " + e.path + ": " + *err;
        return false;
      }
      auto inl = upload.inline_files.find(e.path);
      if (inl != upload.inline_files.end()) {
        t.inline_body = &inl->second;
      } else {
        t.file = JoinPath(upload.files_dir, e.path);
      }
      upload_bytes += e.size;
      tasks.push_back(std::move(t));
    }
  }

  // 4. The files, in parallel.
  if (!tasks.empty()) {
    Progress progress(client_->options().progress, "uploading " + upload.name,
                      static_cast<int>(tasks.size()), upload_bytes);
    bool ok = RunUploads(client_, tasks, &progress, &stats_, err);
    progress.Finish(ok);
    if (!ok) {
      return false;
    }
  }

  // 5. The manifest with birth artifact IDs, declared with its MD5, then uploaded.
  std::string manifest_text = final_manifest.ToJson();
  manifest_vars["digest"] = Md5Base64(manifest_text);
  manifest_vars["includeUpload"] = true;
  if (!GraphqlJson(client_, "CreateArtifactManifest", kCreateArtifactManifest, manifest_vars,
                   &data, err)) {
    return false;
  }
  const json& file = Member(Member(Member(data, "createArtifactManifest"), "artifactManifest"),
                            "file");
  std::string manifest_url = Str(file, "uploadUrl");
  if (!manifest_url.empty()) {
    UploadTask t;
    t.path = "wandb_manifest.json";
    t.url = manifest_url;
    t.inline_body = &manifest_text;
    t.size = manifest_text.size();
    if (!ParseUploadHeaders(Member(file, "uploadHeaders"), &t.headers, err)) {
      *err = "createArtifactManifest: " + *err;
      return false;
    }
    HttpResponse response;
    if (!client_->Send(nullptr, UploadRequest(t), RequestKind::kUpload,
                       "uploading wandb_manifest.json", &response, err)) {
      return false;
    }
  }

  // 6. Commit: the version becomes visible, numbered, and takes its aliases.
  if (!GraphqlJson(client_, "CommitArtifact", kCommitArtifact, {{"artifactID", result->id}}, &data,
                   err)) {
    return false;
  }
  JsonFields<json> commit_reply(data), commit(data), committed(data);
  const json* committed_aliases = nullptr;
  if (!commit_reply.Object("commitArtifact", &commit, err) ||
      !commit.Object("artifact", &committed, err) ||
      !committed.Int("versionIndex", &result->version_index, err, Field::kOptional) ||
      !committed.Array("aliases", &committed_aliases, err, Field::kOptional)) {
    *err = "CommitArtifact: " + *err;
    return false;
  }
  result->aliases = AliasList(*committed_aliases, upload.name);
  if (!EnsureAliases(client_, upload, result->id, &result->aliases, err)) {
    return false;
  }
  result->created = true;
  return true;
}

bool WandbSink::FindExisting(const ArtifactUpload& upload, PublishedArtifact* out, bool* found,
                             std::string* err) {
  StoredCollection c;
  if (!FetchWandbCollection(client_, upload.entity, upload.project, upload.type, upload.name,
                            false, &c, found, err)) {
    return false;
  }
  *found = FindVersionByDigest(c, upload.manifest.Digest(), out);
  return true;
}

}  // namespace wandb_job
