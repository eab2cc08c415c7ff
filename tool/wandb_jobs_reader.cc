#include "wandb_jobs_reader.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "file_util.h"
#include "hash.h"
#include "json_access.h"
#include "wandb_credentials.h"
#include "wandb_graphql.h"

namespace wandb_job {

using nlohmann::json;

namespace {

constexpr char kCollectionNames[] = R"(query JobCollections($entity: String!, $project: String!,
    $cursor: String) {
  project(name: $project, entityName: $entity) {
    artifactType(name: "job") {
      artifactCollections(first: 100, after: $cursor) {
        pageInfo { hasNextPage endCursor }
        edges { node { name } }
      }
    }
  }
})";

constexpr char kCollection[] = R"(query Collection($entity: String!, $project: String!,
    $type: String!, $name: String!, $cursor: String, $withManifest: Boolean!) {
  project(name: $project, entityName: $entity) {
    artifactType(name: $type) {
      artifactCollection(name: $name) {
        name
        createdAt
        artifacts(first: 100, after: $cursor) {
          pageInfo { hasNextPage endCursor }
          edges {
            node {
              id
              digest
              state
              versionIndex
              createdAt
              description
              metadata
              aliases { alias artifactCollectionName }
              currentManifest @include(if: $withManifest) { file { directUrl } }
            }
          }
        }
      }
    }
  }
})";

constexpr char kArtifactFile[] = R"(query ArtifactFile($id: ID!, $names: [String!]) {
  artifact(id: $id) {
    files(names: $names, first: 1) {
      edges { node { name directUrl } }
    }
  }
})";

// The runs that used a version: the Runs tab of W&B's job page, a page at a time.
constexpr char kJobRuns[] = R"(query JobRuns($id: ID!, $cursor: String) {
  artifact(id: $id) {
    usedBy(first: 100, after: $cursor) {
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          name
          displayName
          state
          createdAt
          config
          user { username }
          project { name entityName }
        }
      }
    }
  }
})";

// What the SDK's Artifact.save() sends for an edited description of a logged version.
constexpr char kUpdateDescription[] = R"(mutation UpdateArtifactDescription($id: ID!,
    $description: String) {
  updateArtifact(input: {artifactID: $id, description: $description}) {
    artifact { id description }
  }
})";

// The connection's pageInfo: whether another page follows and the cursor that asks for it. A
// reply that asks for more without a new cursor is an error, not a loop over the same page.
bool NextPage(const JsonFields<json>& connection, bool* more, json* cursor, std::string* err) {
  JsonFields<json> page(connection.value());
  std::string end;
  *more = false;
  if (!connection.Object("pageInfo", &page, err, Field::kOptional) ||
      !page.Bool("hasNextPage", more, err, Field::kOptional) ||
      !page.String("endCursor", &end, err, Field::kOptional)) {
    return false;
  }
  if (*more && (end.empty() || (cursor->is_string() && *cursor == end))) {
    *err = "field " + page.PathOf("endCursor") + " gives no new cursor for the next page";
    return false;
  }
  *cursor = end;
  return true;
}

bool Download(WandbClient* client, const std::string& url, const std::string& what,
              std::string* contents, std::string* err) {
  HttpRequest request;
  request.url = url;
  request.follow_redirects = true;
  HttpResponse response;
  if (!client->Send(nullptr, request, RequestKind::kDownload, what, &response, err)) {
    return false;
  }
  *contents = std::move(response.body);
  return true;
}

}  // namespace

bool FetchWandbCollection(WandbClient* client, const std::string& entity,
                          const std::string& project, const std::string& type,
                          const std::string& name, bool with_manifests, StoredCollection* out,
                          bool* found, std::string* err) {
  StoredCollection c;
  c.entity = entity;
  c.project = project;
  c.type = type;
  c.name = name;
  *found = false;
  json cursor = nullptr;
  while (true) {
    json vars = {{"entity", entity}, {"project", project},   {"type", type},
                 {"name", name},     {"cursor", cursor},     {"withManifest", with_manifests}};
    json data;
    if (!GraphqlJson(client, "Collection", kCollection, vars, &data, err)) {
      return false;
    }
    const json& coll = Member(Member(Member(data, "project"), "artifactType"),
                              "artifactCollection");
    if (!coll.is_object()) {
      *out = std::move(c);
      return true;
    }
    JsonFields<json> collection(coll, "project.artifactType.artifactCollection"), conn(coll);
    const json* edges = nullptr;
    if (!collection.String("createdAt", &c.created_at, err, Field::kOptional) ||
        !collection.Object("artifacts", &conn, err, Field::kOptional) ||
        !conn.Array("edges", &edges, err, Field::kOptional)) {
      *err = "Collection: " + *err;
      return false;
    }
    for (size_t i = 0; i < edges->size(); ++i) {
      JsonFields<json> edge((*edges)[i], conn.PathOf("edges") + "[" + std::to_string(i) + "]");
      JsonFields<json> node(coll), manifest(coll), file(coll);
      StoredVersion v;
      std::string state, url;
      const json* aliases = nullptr;
      v.index = -1;
      if (!edge.Object("node", &node, err) ||
          !node.String("state", &state, err, Field::kOptional) ||
          !node.Int("versionIndex", &v.index, err, Field::kOptional) ||
          !node.String("id", &v.id, err, Field::kOptional) ||
          !node.String("digest", &v.digest, err, Field::kOptional) ||
          !node.Array("aliases", &aliases, err, Field::kOptional) ||
          !node.String("createdAt", &v.created_at, err, Field::kOptional) ||
          !node.String("description", &v.description, err, Field::kOptional) ||
          !node.String("metadata", &v.metadata, err, Field::kOptional) ||
          !node.Object("currentManifest", &manifest, err, Field::kOptional) ||
          !manifest.Object("file", &file, err, Field::kOptional) ||
          !file.String("directUrl", &url, err, Field::kOptional)) {
        *err = "Collection: " + *err;
        return false;
      }
      if (state != "COMMITTED" || v.index < 0) {
        continue;
      }
      v.aliases = AliasList(*aliases, name);
      if (with_manifests && !url.empty()) {
        std::string text;
        if (!Download(client, url, "downloading the manifest of " + name + ":v" +
                                       std::to_string(v.index), &text, err) ||
            !ArtifactManifest::FromJson(text, &v.manifest, err)) {
          return false;
        }
      }
      c.versions.push_back(std::move(v));
    }
    bool more = false;
    if (!NextPage(conn, &more, &cursor, err)) {
      *err = "Collection: " + *err;
      return false;
    }
    if (!more) {
      break;
    }
  }
  std::sort(c.versions.begin(), c.versions.end(),
            [](const StoredVersion& a, const StoredVersion& b) { return a.index < b.index; });
  *found = !c.versions.empty();
  *out = std::move(c);
  return true;
}

bool ListWandbJobs(WandbClient* client, const std::string& entity, const std::string& project,
                   std::vector<StoredCollection>* out, std::string* err) {
  std::vector<std::string> names;
  json cursor = nullptr;
  while (true) {
    json data;
    if (!GraphqlJson(client, "JobCollections", kCollectionNames,
                     {{"entity", entity}, {"project", project}, {"cursor", cursor}}, &data,
                     err)) {
      return false;
    }
    const json& conn = Member(Member(Member(data, "project"), "artifactType"),
                              "artifactCollections");
    for (const json& edge : Member(conn, "edges")) {
      std::string name = Str(Member(edge, "node"), "name");
      if (!name.empty()) {
        names.push_back(name);
      }
    }
    bool more = false;
    JsonFields<json> connection(conn, "project.artifactType.artifactCollections");
    if (!NextPage(connection, &more, &cursor, err)) {
      *err = "JobCollections: " + *err;
      return false;
    }
    if (!more) {
      break;
    }
  }
  std::sort(names.begin(), names.end());
  std::vector<StoredCollection> jobs;
  for (const std::string& name : names) {
    StoredCollection c;
    bool found = false;
    if (!FetchWandbCollection(client, entity, project, "job", name, false, &c, &found,
                              err)) {
      return false;
    }
    if (found) {
      jobs.push_back(std::move(c));
    }
  }
  *out = std::move(jobs);
  return true;
}

bool GetWandbJob(WandbClient* client, const std::string& entity, const std::string& project,
                 const std::string& name, StoredCollection* out, std::string* err) {
  bool found = false;
  if (!FetchWandbCollection(client, entity, project, "job", name, true, out, &found, err)) {
    return false;
  }
  if (!found) {
    *err = "unknown job '" + name + "' in " + entity + "/" + project + " on " +
           client->options().base_url + "; `wandb-job ls` lists the jobs";
    return false;
  }
  return true;
}

bool FetchWandbJobRuns(WandbClient* client, StoredCollection* job, std::string* err) {
  std::vector<RunRecord> runs;
  for (const StoredVersion& v : job->versions) {
    json cursor = nullptr;
    while (true) {
      json data;
      if (!GraphqlJson(client, "JobRuns", kJobRuns, {{"id", v.id}, {"cursor", cursor}}, &data,
                       err)) {
        return false;
      }
      const json& conn = Member(Member(data, "artifact"), "usedBy");
      for (const json& edge : Member(conn, "edges")) {
        const json& node = Member(edge, "node");
        RunRecord r(Str(node, "name"), Str(node, "displayName"), Str(node, "state"),
                    Str(node, "createdAt"), v.index);
        r.entity = Str(Member(node, "project"), "entityName");
        r.project = Str(Member(node, "project"), "name");
        r.job = job->name;
        r.creator = Str(Member(node, "user"), "username");
        // W&B keeps each config key as {"value": ..., "desc": ...}; "_wandb" is the SDK's own.
        json config =
            json::parse(Str(node, "config").empty() ? "{}" : Str(node, "config"), nullptr, false);
        json values = json::object();
        if (config.is_object()) {
          for (const auto& [key, entry] : config.items()) {
            if (key != "_wandb") {
              values[key] = entry.is_object() && entry.contains("value") ? entry["value"] : entry;
            }
          }
        }
        r.config = values.dump();
        runs.push_back(std::move(r));
      }
      bool more = false;
      JsonFields<json> connection(conn, "artifact.usedBy");
      if (!NextPage(connection, &more, &cursor, err)) {
        *err = "JobRuns: " + *err;
        return false;
      }
      if (!more) {
        break;
      }
    }
  }
  // Newest first, as the Runs tab lists them.
  std::stable_sort(runs.begin(), runs.end(), [](const RunRecord& a, const RunRecord& b) {
    return a.created_at > b.created_at;
  });
  job->runs = std::move(runs);
  return true;
}

bool SetWandbJobDescription(WandbClient* client, const StoredVersion& version,
                            const std::string& description, std::string* err) {
  json data;
  return GraphqlJson(client, "UpdateArtifactDescription", kUpdateDescription,
                     {{"id", version.id}, {"description", description}}, &data, err);
}

bool OpenWandbReader(bool force, bool local_store_named, const std::string& entity,
                     const std::string& project, WandbReadTarget* out, std::string* err) {
  WandbCredentials creds;
  if (!LoadWandbCredentials(&creds, err)) {
    return false;
  }
  if (force && !creds.UseWandb()) {
    *err = creds.mode != WandbMode::kOnline
               ? "--wandb: WANDB_MODE is not online"
               : "--wandb: no W&B API key found (WANDB_API_KEY or a netrc entry for " +
                     NetrcMachine(creds.base_url) + ")";
    return false;
  }
  out->use = force || (!local_store_named && creds.UseWandb());
  if (!out->use) {
    return true;
  }
  WandbClientOptions options;
  options.base_url = creds.base_url;
  options.api_key = creds.api_key;
  out->client = std::make_unique<WandbClient>(std::move(options));
  out->entity = !entity.empty() ? entity : GetEnv("WANDB_ENTITY");
  out->project = !project.empty() ? project : GetEnv("WANDB_PROJECT");
  if (out->project.empty()) {
    *err = "reading jobs from W&B (" + creds.base_url + ") needs a project: --project, "
           "PROJECT/NAME or WANDB_PROJECT (--store reads the local store)";
    return false;
  }
  if (out->entity.empty() && !out->client->ViewerEntity(&out->entity, err)) {
    *err = "finding the default entity: " + *err;
    return false;
  }
  return true;
}

bool ReadWandbFile(WandbClient* client, const StoredVersion& version, const std::string& path,
                   std::string* contents, std::string* err) {
  json data;
  if (!GraphqlJson(client, "ArtifactFile", kArtifactFile,
                   {{"id", version.id}, {"names", json::array({path})}}, &data, err)) {
    return false;
  }
  const json& edges = Member(Member(Member(data, "artifact"), "files"), "edges");
  std::string url;
  for (const json& edge : edges) {
    if (Str(Member(edge, "node"), "name") == path) {
      url = Str(Member(edge, "node"), "directUrl");
    }
  }
  if (url.empty()) {
    *err = "v" + std::to_string(version.index) + " has no file " + path;
    return false;
  }
  if (!Download(client, url, "downloading " + path, contents, err)) {
    return false;
  }
  const ManifestEntry* e = version.manifest.Find(path);
  if (e != nullptr && Md5Base64(*contents) != e->digest) {
    *err = "downloading " + path + ": the content does not match its manifest digest";
    return false;
  }
  return true;
}

}  // namespace wandb_job
