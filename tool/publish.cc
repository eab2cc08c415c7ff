#include "publish.h"

#include "file_util.h"
#include "hash.h"
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

}  // namespace

bool PublishBundle(const Bundle& bundle, ArtifactSink* sink, const PublishOptions& options,
                   JobPublishResult* out, std::string* err) {
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

  ArtifactUpload job = MakeUpload(bundle.job, r.entity, r.project);
  if (bundle.has_code) {
    r.has_code = true;
    r.code_name = bundle.code.name;
    ArtifactUpload code = MakeUpload(bundle.code, r.entity, r.project);
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

}  // namespace wandb_job
