#include "publish.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "file_util.h"
#include "hash.h"
#include "job_views.h"
#include "log.h"
#include "oci_image.h"
#include "oci_layout.h"
#include "store_layout.h"
#include "wandb_types.h"

namespace wandb_job {
namespace {

ArtifactUpload MakeUpload(const BundleArtifact& a, const std::string& entity,
                          const std::string& project) {
  ArtifactUpload u;
  u.entity = entity;
  u.project = project;
  u.type = a.type;
  u.name = a.name;
  u.description = a.description;
  u.metadata = a.metadata;
  u.aliases = a.aliases;
  u.manifest = a.manifest;
  u.files_dir = a.files_dir;
  return u;
}

// The job's typed inputs for W&B's launch drawer: {"input_schemas": {"@wandb.config": schema}}
// in its metadata, from the default config, unless the metadata has input_schemas already.
bool AddInputSchemas(const Bundle& bundle, std::string* metadata, std::string* err) {
  nlohmann::ordered_json config = nlohmann::ordered_json::parse(
      bundle.config.empty() ? "{}" : bundle.config, nullptr, false);
  if (!config.is_object() || config.empty()) {
    return true;
  }
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  if (!metadata->empty()) {
    meta = nlohmann::ordered_json::parse(*metadata, nullptr, false);
    if (!meta.is_object()) {
      *err = "bundle " + bundle.dir + " is damaged: the job's metadata is not a JSON object; "
             "rebuild it";
      return false;
    }
  }
  if (meta.contains("input_schemas")) {
    return true;
  }
  std::string schema;
  if (!InputSchemaFromConfig(bundle.config, "", &schema, err)) {
    *err = "bundle " + bundle.dir + ": the job's config: " + *err;
    return false;
  }
  meta["input_schemas"] = {{"@wandb.config", nlohmann::ordered_json::parse(schema)}};
  *metadata = meta.dump();
  return true;
}

// Publishes, or with dry_run predicts from what the sink already holds.
bool PublishOrPredict(ArtifactSink* sink, const ArtifactUpload& upload, bool dry_run,
                      PublishedArtifact* out, std::string* err) {
  if (!dry_run) {
    return sink->Publish(upload, out, err);
  }
  out->digest = upload.manifest.Digest();
  out->aliases = upload.aliases;
  bool found = false;
  PublishedArtifact existing;
  if (!sink->FindExisting(upload, &existing, &found, err)) {
    return false;
  }
  if (found) {
    *out = existing;
    out->created = false;
  } else {
    out->created = true;
  }
  return true;
}

std::string JoinList(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) {
    out += (out.empty() ? "" : ", ") + s;
  }
  return out;
}

// The registry of an image reference, for messages and the plain-HTTP decision.
std::string RegistryOf(const std::string& reference) {
  ImageReference ref;
  std::string ignored;
  return ParseImageReference(reference, &ref, &ignored) ? ref.registry : reference;
}

bool LooksLikeAuthFailure(const std::string& cause) {
  for (const char* needle : {"HTTP 401", "HTTP 403", "authentication required", "unauthorized",
                             "denied", "no credentials"}) {
    if (cause.find(needle) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// Decides where and how an image job's image goes: the reference, its tags, plain HTTP.
bool PlanImagePush(const Bundle& bundle, const std::vector<std::string>& aliases,
                   const PublishOptions& options, PushOptions* push, ImagePushSummary* summary,
                   std::string* err) {
  std::string layout = JoinPath(bundle.dir, "image");
  if (!FileExists(JoinPath(layout, "index.json"))) {
    *err = "bundle " + bundle.dir + " is damaged: an image job without its image/ layout; "
           "rebuild it";
    return false;
  }
  ImageReference ref;
  if (!ParseImageReference(bundle.image, &ref, err)) {
    *err = "image '" + bundle.image + "': " + *err;
    return false;
  }
  std::string reference = bundle.image;
  if (!ref.digest.empty()) {
    reference = reference.substr(0, reference.rfind('@'));
    Warning("%s: IMAGE names a digest; the image built here gets its own, so it is pushed to %s",
            bundle.job.name.c_str(), reference.c_str());
  }
  std::vector<std::string> tags;
  for (const std::string& alias : aliases) {
    if (IsValidImageTag(alias)) {
      tags.push_back(alias);
    } else {
      Warning("%s: alias '%s' is not a valid image tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}); the "
              "image is not tagged with it",
              bundle.job.name.c_str(), alias.c_str());
    }
  }
  if (tags.empty()) {
    tags.push_back(ref.tag.empty() ? "latest" : ref.tag);
  }
  std::string insecure = GetEnv("WANDB_JOB_INSECURE_REGISTRIES");
  push->plain_http = PlainHttp::kLocalhostOnly;
  if (IsInsecureRegistry(ref.registry, insecure)) {
    push->plain_http = PlainHttp::kAllowed;
    // One push speaks plain HTTP to every registry or to none but localhost: the base image's
    // registry must agree.
    Descriptor desc;
    Manifest manifest;
    if (!ReadImageManifest(layout, &desc, &manifest, err)) {
      *err = "bundle " + bundle.dir + " is damaged: " + *err + "; rebuild it";
      return false;
    }
    auto base = manifest.annotations.find(kAnnotationBaseName);
    if (base != manifest.annotations.end()) {
      std::string base_registry = RegistryOf(base->second);
      if (!UsesPlainHttp(base_registry, PlainHttp::kLocalhostOnly) &&
          !IsInsecureRegistry(base_registry, insecure)) {
        *err = "WANDB_JOB_INSECURE_REGISTRIES lists " + ref.registry + " but not " +
               base_registry + ", the registry of BASE_IMAGE " + base->second +
               "; plain HTTP applies to both or neither, so list both or neither";
        return false;
      }
    }
  }
  push->layout_dir = layout;
  push->reference = reference;
  push->tags = tags;
  push->docker_config_dir = options.docker_config_dir;
  push->transport_factory = options.registry_transport;
  summary->reference = reference;
  summary->tags = tags;
  return true;
}

// Pushes the image; on success the job's metadata names the pinned image.
bool PushJobImage(const Bundle& bundle, const PublishOptions& options, ArtifactUpload* job,
                  ImagePushSummary* summary, std::string* err) {
  PushOptions push;
  if (!PlanImagePush(bundle, job->aliases, options, &push, summary, err)) {
    return false;
  }
  if (options.dry_run) {
    Info("would push image %s, tags: %s", summary->reference.c_str(),
         JoinList(summary->tags).c_str());
    return true;
  }
  PushResult result;
  std::string cause;
  if (!PushImage(push, &result, &cause)) {
    std::string registry = RegistryOf(push.reference);
    *err = "pushing image " + push.reference + " to registry " + registry + ": " + cause;
    if (LooksLikeAuthFailure(cause)) {
      *err += cause.find("docker login") == std::string::npos
                  ? "; log in with 'docker login " + registry + "' or add credentials for " +
                        registry + " to ~/.docker/config.json (or $DOCKER_CONFIG/config.json)"
                  : "; credentials are read from ~/.docker/config.json (or "
                    "$DOCKER_CONFIG/config.json)";
    }
    for (char& ch : *err) {
      if (ch == '\n' || ch == '\r') {
        ch = ' ';  // One line.
      }
    }
    return false;
  }
  summary->pinned = result.pinned_reference;
  summary->digest = result.digest;
  summary->base_digest = result.base_digest;
  summary->tags = result.tags;
  summary->blobs_uploaded = result.blobs_uploaded;
  summary->blobs_skipped = result.blobs_skipped;
  summary->blobs_mounted = result.blobs_mounted;
  summary->blobs_copied = result.blobs_copied;
  summary->bytes_uploaded = result.bytes_uploaded;
  Info("pushed image %s, tags: %s (%d blob(s) uploaded, %lld bytes; %d already there, %d "
       "mounted, %d copied from the base registry)",
       result.pinned_reference.c_str(), JoinList(result.tags).c_str(), result.blobs_uploaded,
       static_cast<long long>(result.bytes_uploaded), result.blobs_skipped, result.blobs_mounted,
       result.blobs_copied);

  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  if (!job->metadata.empty()) {
    meta = nlohmann::ordered_json::parse(job->metadata, nullptr, false);
    if (meta.is_discarded() || !meta.is_object()) {
      *err = "bundle " + bundle.dir + " is damaged: the job's metadata is not a JSON object; "
             "rebuild it";
      return false;
    }
  }
  meta["image"] = result.pinned_reference;
  meta["image_digest"] = result.digest;
  meta["image_tags"] = result.tags;
  if (!result.base_digest.empty()) {
    meta["base_image_digest"] = result.base_digest;
  }
  job->metadata = meta.dump();
  return true;
}

}  // namespace

bool WriteBundleImageArchive(const Bundle& bundle, std::vector<std::string> repo_tags,
                             const std::string& out_path, std::string* err) {
  if (bundle.source_type != "image") {
    *err = "bundle " + bundle.dir + " is a " + bundle.source_type +
           " job; only image jobs (IMAGE <ref>) have an image";
    return false;
  }
  std::string layout = JoinPath(bundle.dir, "image");
  Descriptor desc;
  Manifest manifest;
  if (!ReadImageManifest(layout, &desc, &manifest, err)) {
    *err = "bundle " + bundle.dir + " is damaged: " + *err + "; rebuild it";
    return false;
  }
  auto base = manifest.annotations.find(kAnnotationBaseName);
  if (base != manifest.annotations.end()) {
    *err = "the image of " + bundle.job.name + " is based on " + base->second +
           ", whose layers are added only when pushing; push it and pull it instead";
    return false;
  }
  if (repo_tags.empty()) {
    ImageReference ref;
    if (!ParseImageReference(bundle.image, &ref, err)) {
      *err = "image '" + bundle.image + "': " + *err;
      return false;
    }
    std::string name = bundle.image.substr(0, bundle.image.rfind('@') == std::string::npos
                                                  ? bundle.image.size()
                                                  : bundle.image.rfind('@'));
    repo_tags.push_back(ref.tag.empty() ? name + ":latest" : name);
  }
  if (!WriteDockerArchive(layout, repo_tags, out_path, err)) {
    *err = "writing " + out_path + ": " + *err;
    return false;
  }
  return true;
}

bool IsValidImageTag(const std::string& tag) {
  if (tag.empty() || tag.size() > 128) {
    return false;
  }
  for (size_t i = 0; i < tag.size(); ++i) {
    char c = tag[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || (i > 0 && (c == '.' || c == '-'));
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool IsInsecureRegistry(const std::string& registry, const std::string& list) {
  std::string host = registry;  // Without the port; "[::1]" keeps its brackets.
  size_t colon = registry.rfind(':');
  if (colon != std::string::npos && registry.find(']', colon) == std::string::npos) {
    host = registry.substr(0, colon);
  }
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) {
      comma = list.size();
    }
    std::string entry = list.substr(start, comma - start);
    size_t b = entry.find_first_not_of(" \t");
    size_t e = entry.find_last_not_of(" \t");
    entry = b == std::string::npos ? "" : entry.substr(b, e - b + 1);
    if (!entry.empty() && (entry == registry || entry == host)) {
      return true;
    }
    start = comma + 1;
  }
  return false;
}

namespace {

// The job artifact's files are small and published last: checking them before anything else is
// published keeps a damaged bundle from leaving a code artifact or an image without its job.
bool CheckArtifactFiles(const BundleArtifact& artifact, std::string* err) {
  for (const ManifestEntry& entry : artifact.manifest.entries) {
    FileHashes hashes;
    if (!HashFile(JoinPath(artifact.files_dir, entry.path), &hashes, err)) {
      return false;
    }
    if (Base64Encode(hashes.md5) != entry.digest) {
      *err = "file " + entry.path + " of artifact " + artifact.name +
             " does not match its manifest; rebuild the bundle";
      return false;
    }
  }
  return true;
}

// A sink refuses a bad name or alias only when that artifact's turn comes;
// checking every artifact first keeps a refusal from leaving an image or a code artifact
// published without its job.
bool CheckUpload(const ArtifactUpload& upload, std::string* err) {
  if (!ValidateCollection(upload.entity, upload.project, upload.type, upload.name, err)) {
    return false;
  }
  for (const std::string& alias : upload.aliases) {
    std::string why;
    if (!ValidateAlias(alias, &why)) {
      *err = "artifact " + upload.name + ": " + why;
      return false;
    }
  }
  return true;
}

/// Paths and digests of an artifact's manifest, checked before any file of the bundle is read.
bool CheckManifest(const BundleArtifact& artifact, std::string* err) {
  for (const ManifestEntry& entry : artifact.manifest.entries) {
    std::string hex;
    if (!ValidateEntryPath(entry.path, err)) {
      *err = "artifact " + artifact.name + ": " + *err;
      return false;
    }
    if (!EntryDigestHex(entry.digest, &hex)) {
      *err = "file " + entry.path + " of artifact " + artifact.name + " has a malformed digest " +
             Quote(entry.digest) + " (not a base64 MD5)";
      return false;
    }
  }
  return true;
}

}  // namespace

bool PublishBundle(const Bundle& bundle, ArtifactSink* sink, const PublishOptions& options,
                   JobPublishResult* out, std::string* err) {
  for (const BundleArtifact* artifact : {&bundle.job, &bundle.code}) {
    if ((artifact == &bundle.job || bundle.has_code) && !CheckManifest(*artifact, err)) {
      *err = "bundle " + bundle.dir + " is damaged: " + *err + "; rebuild it";
      return false;
    }
  }
  if (!CheckArtifactFiles(bundle.job, err)) {
    *err = "bundle " + bundle.dir + " is damaged: " + *err;
    return false;
  }
  JobPublishResult r;
  r.dry_run = options.dry_run;
  r.destination = sink->Destination();
  r.entity = !bundle.entity.empty() ? bundle.entity : GetEnv("WANDB_ENTITY");
  if (r.entity.empty() && !sink->DefaultEntity(&r.entity, err)) {
    *err = "finding the default entity: " + *err;
    return false;
  }
  r.project = bundle.ResolveProject();
  if (!ValidateProjectName(r.project, err)) {
    *err = "project '" + r.project + "': " + *err;
    return false;
  }
  r.name = bundle.job.name;
  r.source_type = bundle.source_type;

  ArtifactUpload job = MakeUpload(bundle.job, r.entity, r.project);
  if (!AddInputSchemas(bundle, &job.metadata, err)) {
    return false;
  }
  for (const std::string& alias : options.extra_aliases) {
    if (!ValidateAlias(alias, err)) {
      *err = "alias '" + alias + "': " + *err;
      return false;
    }
    if (std::find(job.aliases.begin(), job.aliases.end(), alias) == job.aliases.end()) {
      job.aliases.push_back(alias);
    }
  }
  ArtifactUpload code;
  if (bundle.has_code) {
    code = MakeUpload(bundle.code, r.entity, r.project);
  }
  for (const ArtifactUpload* upload : {&job, &code}) {
    if ((upload == &job || bundle.has_code) && !CheckUpload(*upload, err)) {
      *err = "bundle " + bundle.dir + " is damaged: " + *err + "; rebuild it";
      return false;
    }
  }
  if (bundle.source_type == "image") {
    // The image first: a job must never name an image the registry lacks.
    r.has_image = true;
    if (!PushJobImage(bundle, options, &job, &r.image, err)) {
      return false;
    }
  }
  if (bundle.has_code) {
    r.has_code = true;
    r.code_name = bundle.code.name;
    if (!PublishOrPredict(sink, code, options.dry_run, &r.code, err)) {
      *err = "publishing code artifact " + code.name + ": " + *err;
      return false;
    }
    // The job names its code artifact by ID, which exists only now.
    std::string text;
    if (!ReadFile(JoinPath(bundle.job.files_dir, "wandb-job.json"), &text, err)) {
      return false;
    }
    size_t pos = text.find(kCodeArtifactIdPlaceholder);
    if (pos == std::string::npos) {
      *err = "bundle " + bundle.dir + " is damaged: wandb-job.json lacks the code artifact "
             "placeholder; rebuild it";
      return false;
    }
    if (r.code.id.empty()) {
      r.known = false;  // Dry run of a new code artifact: the job's bytes depend on its ID.
    } else {
      text.replace(pos, sizeof(kCodeArtifactIdPlaceholder) - 1, r.code.id);
      job.manifest.Add(ManifestEntry{"wandb-job.json", Md5Base64(text), text.size(), ""});
      job.inline_files["wandb-job.json"] = text;
    }
  }
  if (r.known || !options.dry_run) {
    if (!PublishOrPredict(sink, job, options.dry_run, &r.job, err)) {
      *err = "publishing job " + job.name + ": " + *err;
      return false;
    }
  } else {
    r.job.created = true;
    r.job.aliases = job.aliases;
  }
  *out = std::move(r);
  return true;
}

std::string WandbAppUrl(const std::string& base_url, const std::string& app_url_env) {
  auto trim = [](std::string url) {
    while (!url.empty() && url.back() == '/') {
      url.pop_back();
    }
    return url;
  };
  if (!app_url_env.empty()) {
    return trim(app_url_env);
  }
  std::string url = trim(base_url);
  size_t scheme = url.find("://");
  if (scheme == std::string::npos || url.compare(scheme + 3, 4, "api.") != 0) {
    return url;  // W&B Server serves the app and the API at the same address.
  }
  std::string host = url.substr(scheme + 7);
  bool cloud = host.rfind("wandb.", 0) == 0 && host.rfind("wandb.test", 0) != 0;
  return url.substr(0, scheme + 3) + (cloud ? "" : "app.") + host;
}

JobLinks MakeJobLinks(const JobPublishResult& result, const std::string& app_url) {
  JobLinks links;
  bool version_known = result.known && result.job.version_index >= 0;
  std::string version = "v" + std::to_string(result.job.version_index);
  std::string project_path = result.entity + "/" + result.project;
  if (app_url.empty()) {
    if (version_known) {
      links.version = "wandb-job show " + project_path + "/" + result.name + ":" + version;
    }
    return links;
  }
  if (version_known) {
    links.version = app_url + "/" + project_path + "/artifacts/job/" + result.name + "/" + version;
  }
  links.jobs = app_url + "/" + project_path + "/jobs";
  return links;
}

bool PublishChangedAnything(const JobPublishResult& result) {
  return result.job.created || (result.has_code && result.code.created);
}

std::string PublishSummaryJson(const std::vector<JobPublishResult>& results,
                               const std::string& destination, const std::string& app_url,
                               bool dry_run) {
  using Json = nlohmann::ordered_json;
  auto version = [](const PublishedArtifact& a, bool known) {
    return known && a.version_index >= 0 ? Json("v" + std::to_string(a.version_index)) : Json();
  };
  auto or_null = [](const std::string& s) { return s.empty() ? Json() : Json(s); };
  Json jobs = Json::array();
  bool changed = false;
  for (const JobPublishResult& r : results) {
    changed = changed || PublishChangedAnything(r);
    JobLinks links = MakeJobLinks(r, app_url);
    Json j;
    j["name"] = r.name;
    j["entity"] = r.entity;
    j["project"] = r.project;
    j["source_type"] = r.source_type;
    j["version"] = version(r.job, r.known);
    j["aliases"] = r.job.aliases;
    j["new"] = r.job.created;
    j["artifact_id"] = or_null(r.job.id);
    j["digest"] = r.job.digest;
    j["code"] = Json();
    if (r.has_code) {
      j["code"] = {{"name", r.code_name},
                   {"artifact_id", or_null(r.code.id)},
                   {"version", version(r.code, true)},
                   {"new", r.code.created}};
    }
    j["image"] = Json();
    if (r.has_image) {
      j["image"] = {{"reference", r.image.reference},
                    {"pinned", or_null(r.image.pinned)},
                    {"digest", or_null(r.image.digest)},
                    {"tags", r.image.tags}};
    }
    if (app_url.empty()) {
      j["show"] = or_null(links.version);
    } else {
      j["url"] = or_null(links.version);
      j["jobs_url"] = links.jobs;
    }
    jobs.push_back(std::move(j));
  }
  Json doc;
  doc["schema_version"] = kJsonSchemaVersion;
  doc["destination"] = destination;
  doc["dry_run"] = dry_run;
  doc["published"] = changed && !dry_run;
  doc["jobs"] = std::move(jobs);
  return doc.dump(2) + "\n";
}

}  // namespace wandb_job
