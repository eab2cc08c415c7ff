#include "publish_receipt.h"

#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "file_util.h"
#include "hash.h"
#include "version.h"

namespace wandb_job {
namespace {

using Json = nlohmann::json;

constexpr char kReceiptFormat[] = "wandb-job-publish-receipt/1";

Json ArtifactToJson(const PublishedArtifact& a) {
  return Json{{"id", a.id},
              {"version_index", a.version_index},
              {"digest", a.digest},
              {"aliases", a.aliases}};
}

void ArtifactFromJson(const Json& j, PublishedArtifact* a) {
  a->id = j.at("id").get<std::string>();
  a->version_index = j.at("version_index").get<int>();
  a->digest = j.at("digest").get<std::string>();
  a->aliases = j.at("aliases").get<std::vector<std::string>>();
  a->created = false;  // Nothing is created when a receipt stands.
}

Json ResultToJson(const JobPublishResult& r) {
  Json j{{"name", r.name},
         {"entity", r.entity},
         {"project", r.project},
         {"source_type", r.source_type},
         {"destination", r.destination},
         {"job", ArtifactToJson(r.job)},
         {"has_code", r.has_code},
         {"has_image", r.has_image}};
  if (r.has_code) {
    j["code"] = ArtifactToJson(r.code);
    j["code_name"] = r.code_name;
  }
  if (r.has_image) {
    j["image"] = Json{{"reference", r.image.reference},
                      {"tags", r.image.tags},
                      {"pinned", r.image.pinned},
                      {"digest", r.image.digest},
                      {"base_digest", r.image.base_digest}};
  }
  return j;
}

void ResultFromJson(const Json& j, JobPublishResult* r) {
  *r = JobPublishResult();
  r->name = j.at("name").get<std::string>();
  r->entity = j.at("entity").get<std::string>();
  r->project = j.at("project").get<std::string>();
  r->source_type = j.at("source_type").get<std::string>();
  r->destination = j.at("destination").get<std::string>();
  ArtifactFromJson(j.at("job"), &r->job);
  r->has_code = j.at("has_code").get<bool>();
  r->has_image = j.at("has_image").get<bool>();
  if (r->has_code) {
    ArtifactFromJson(j.at("code"), &r->code);
    r->code_name = j.at("code_name").get<std::string>();
  }
  if (r->has_image) {
    const Json& i = j.at("image");
    r->image.reference = i.at("reference").get<std::string>();
    r->image.tags = i.at("tags").get<std::vector<std::string>>();
    r->image.pinned = i.at("pinned").get<std::string>();
    r->image.digest = i.at("digest").get<std::string>();
    r->image.base_digest = i.at("base_digest").get<std::string>();
  }
}

std::string ReceiptPath(const Bundle& bundle, const std::string& key) {
  return JoinPath(ReceiptDir(bundle.dir), key.substr(0, 32) + ".json");
}

}  // namespace

std::string ReceiptDir(const std::string& bundle_dir) {
  bool absolute = !bundle_dir.empty() && bundle_dir[0] == '/';
  std::string dir = NormalizePath(absolute ? bundle_dir : JoinPath(CurrentDirectory(), bundle_dir));
  return dir + ".publish-receipts";
}

std::string ReceiptKey(const Bundle& bundle, const std::string& destination,
                       const PublishOptions& options) {
  std::string material =
      std::string(kReceiptFormat) + "\n" + WANDB_JOB_VERSION + "\n" + destination +
      "\nWANDB_ENTITY=" + GetEnv("WANDB_ENTITY") + "\nWANDB_PROJECT=" + GetEnv("WANDB_PROJECT") +
      "\nWANDB_JOB_INSECURE_REGISTRIES=" + GetEnv("WANDB_JOB_INSECURE_REGISTRIES") + "\naliases:";
  for (const std::string& alias : options.extra_aliases) {
    material += " " + alias;
  }
  // Length-prefixed, so that no two sets of files give the same material.
  auto add = [&material](const std::string& what, const std::string& text) {
    material += "\n" + what + " " + std::to_string(text.size()) + "\n" + text;
  };
  std::string text, err;
  if (!ReadFile(JoinPath(bundle.dir, "bundle.json"), &text, &err)) {
    return "";
  }
  add("bundle.json", text);
  add("job", bundle.job.manifest.ToJson());
  if (bundle.has_code) {
    add("code", bundle.code.manifest.ToJson());
  }
  if (bundle.source_type == "image") {
    if (!ReadFile(JoinPath(bundle.dir, "image/index.json"), &text, &err)) {
      return "";
    }
    add("image", text);
  }
  return Sha256Hex(material);
}

bool ReadReceipt(const Bundle& bundle, const std::string& key, JobPublishResult* result,
                 std::vector<std::string>* stamps) {
  std::string text, err;
  if (key.empty() || !ReadFile(ReceiptPath(bundle, key), &text, &err)) {
    return false;
  }
  Json j = Json::parse(text, nullptr, false);
  try {
    if (!j.is_object() || j.at("format") != kReceiptFormat || j.at("key") != key) {
      return false;
    }
    ResultFromJson(j.at("result"), result);
    *stamps = j.at("stamps").get<std::vector<std::string>>();
  } catch (const Json::exception&) {
    return false;  // A damaged receipt is no receipt.
  }
  return true;
}

bool WriteReceipt(const Bundle& bundle, const std::string& key, const JobPublishResult& result,
                  const std::vector<std::string>& stamps, std::string* err) {
  if (key.empty()) {
    return true;
  }
  Json j{{"format", kReceiptFormat},
         {"key", key},
         {"stamps", stamps},
         {"result", ResultToJson(result)}};
  std::string dir = ReceiptDir(bundle.dir);
  return MakeDirs(dir, err) && WriteFileAtomic(ReceiptPath(bundle, key), j.dump(2) + "\n", err);
}

std::vector<std::string> CurrentStamps(ArtifactSink* sink, const Bundle& bundle,
                                       const JobPublishResult& result) {
  std::vector<std::string> stamps;
  if (result.has_code) {
    stamps.push_back(sink->VersionStamp(result.entity, result.project, bundle.code.type,
                                        bundle.code.name, result.code.version_index));
  }
  stamps.push_back(sink->VersionStamp(result.entity, result.project, bundle.job.type,
                                      bundle.job.name, result.job.version_index));
  return stamps;
}

}  // namespace wandb_job
