#include "oci_image.h"

#include <time.h>

#include <nlohmann/json.hpp>

namespace wandb_job {
namespace {

using json = nlohmann::json;

json DescriptorJson(const Descriptor& d) {
  json j = {{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}};
  if (!d.annotations.empty()) {
    j["annotations"] = d.annotations;
  }
  if (!d.platform_os.empty() || !d.platform_architecture.empty()) {
    j["platform"] = {{"os", d.platform_os}, {"architecture", d.platform_architecture}};
    if (!d.platform_variant.empty()) {
      j["platform"]["variant"] = d.platform_variant;
    }
  }
  return j;
}

bool DescriptorFromJson(const json& j, Descriptor* d, std::string* err) {
  if (!j.is_object() || !j.contains("digest") || !j["digest"].is_string() ||
      !j.contains("size") || !j["size"].is_number_integer()) {
    *err = "descriptor without digest or size";
    return false;
  }
  d->media_type = j.value("mediaType", "");
  d->digest = j["digest"].get<std::string>();
  d->size = j["size"].get<int64_t>();
  if (!IsSha256Digest(d->digest)) {
    *err = "unsupported digest '" + d->digest + "'";
    return false;
  }
  if (d->size < 0) {
    *err = "negative size in descriptor " + d->digest;
    return false;
  }
  if (j.contains("annotations") && j["annotations"].is_object()) {
    for (const auto& [k, v] : j["annotations"].items()) {
      if (v.is_string()) {
        d->annotations[k] = v.get<std::string>();
      }
    }
  }
  if (j.contains("platform") && j["platform"].is_object()) {
    const json& p = j["platform"];
    d->platform_os = p.value("os", "");
    d->platform_architecture = p.value("architecture", "");
    d->platform_variant = p.value("variant", "");
  }
  return true;
}

json ConfigBody(const ImageConfig& c) {
  json config = json::object();
  if (!c.entrypoint.empty()) {
    config["Entrypoint"] = c.entrypoint;
  }
  if (!c.cmd.empty()) {
    config["Cmd"] = c.cmd;
  }
  if (!c.env.empty()) {
    config["Env"] = c.env;
  }
  if (!c.working_dir.empty()) {
    config["WorkingDir"] = c.working_dir;
  }
  if (!c.user.empty()) {
    config["User"] = c.user;
  }
  if (!c.labels.empty()) {
    config["Labels"] = c.labels;
  }
  return config;
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

std::string EnvName(const std::string& entry) { return entry.substr(0, entry.find('=')); }

}  // namespace

std::string ImageConfig::ToJson() const {
  json j;
  j["created"] = created;
  j["architecture"] = architecture;
  j["os"] = os;
  j["config"] = ConfigBody(*this);
  j["rootfs"] = {{"type", "layers"}, {"diff_ids", diff_ids}};
  json h = json::array();
  for (const std::string& by : history) {
    h.push_back({{"created", created}, {"created_by", by}});
  }
  j["history"] = h;
  return j.dump();
}

bool ParseImageConfig(std::string_view text, ImageConfig* out, std::string* err) {
  auto strings = [](const json& j, const char* key) {
    std::vector<std::string> v;
    if (j.contains(key) && j[key].is_array()) {
      for (const json& s : j[key]) {
        if (s.is_string()) {
          v.push_back(s.get<std::string>());
        }
      }
    }
    return v;
  };
  try {
    json j = json::parse(text);
    if (!j.is_object()) {
      *err = "image config is not an object";
      return false;
    }
    ImageConfig c;
    c.created = j.value("created", "");
    c.architecture = j.value("architecture", "");
    c.os = j.value("os", "");
    if (j.contains("config") && j["config"].is_object()) {
      const json& b = j["config"];
      c.entrypoint = strings(b, "Entrypoint");
      c.cmd = strings(b, "Cmd");
      c.env = strings(b, "Env");
      c.working_dir = b.value("WorkingDir", "");
      c.user = b.value("User", "");
      if (b.contains("Labels") && b["Labels"].is_object()) {
        for (const auto& [k, v] : b["Labels"].items()) {
          if (v.is_string()) {
            c.labels[k] = v.get<std::string>();
          }
        }
      }
    }
    if (j.contains("rootfs") && j["rootfs"].is_object()) {
      c.diff_ids = strings(j["rootfs"], "diff_ids");
    }
    if (j.contains("history") && j["history"].is_array()) {
      for (const json& h : j["history"]) {
        if (h.is_object()) {
          c.history.push_back(h.value("created_by", ""));
        }
      }
    }
    *out = std::move(c);
    return true;
  } catch (const json::exception& e) {
    *err = std::string("invalid image config JSON: ") + e.what();
    return false;
  }
}

std::string Manifest::ToJson() const {
  json j;
  j["schemaVersion"] = 2;
  j["mediaType"] = media_type;
  j["config"] = DescriptorJson(config);
  json layers_json = json::array();
  for (const Descriptor& d : layers) {
    layers_json.push_back(DescriptorJson(d));
  }
  j["layers"] = layers_json;
  if (!annotations.empty()) {
    j["annotations"] = annotations;
  }
  return j.dump();
}

bool ParseManifest(std::string_view text, Manifest* out, std::string* err) {
  try {
    json j = json::parse(text);
    if (!j.is_object() || j.value("schemaVersion", 0) != 2) {
      *err = "not a schema 2 image manifest";
      return false;
    }
    Manifest m;
    m.media_type = j.value("mediaType", kOciManifestMediaType);
    if (m.media_type != kOciManifestMediaType && m.media_type != kDockerManifestMediaType) {
      *err = "unsupported manifest media type '" + m.media_type + "'";
      return false;
    }
    if (!j.contains("config") || !DescriptorFromJson(j["config"], &m.config, err)) {
      *err = "manifest config: " + (err->empty() ? std::string("missing") : *err);
      return false;
    }
    if (!j.contains("layers") || !j["layers"].is_array()) {
      *err = "manifest without layers";
      return false;
    }
    for (const json& l : j["layers"]) {
      Descriptor d;
      if (!DescriptorFromJson(l, &d, err)) {
        *err = "manifest layer: " + *err;
        return false;
      }
      m.layers.push_back(d);
    }
    if (j.contains("annotations") && j["annotations"].is_object()) {
      for (const auto& [k, v] : j["annotations"].items()) {
        if (v.is_string()) {
          m.annotations[k] = v.get<std::string>();
        }
      }
    }
    *out = std::move(m);
    return true;
  } catch (const json::exception& e) {
    *err = std::string("invalid manifest JSON: ") + e.what();
    return false;
  }
}

std::string ImageIndex::ToJson() const {
  json j;
  j["schemaVersion"] = 2;
  j["mediaType"] = kOciIndexMediaType;
  json list = json::array();
  for (const Descriptor& d : manifests) {
    list.push_back(DescriptorJson(d));
  }
  j["manifests"] = list;
  return j.dump();
}

bool ParseIndex(std::string_view text, ImageIndex* out, std::string* err) {
  try {
    json j = json::parse(text);
    if (!j.is_object() || !j.contains("manifests") || !j["manifests"].is_array()) {
      *err = "not an image index";
      return false;
    }
    ImageIndex index;
    for (const json& m : j["manifests"]) {
      Descriptor d;
      if (!DescriptorFromJson(m, &d, err)) {
        *err = "index entry: " + *err;
        return false;
      }
      index.manifests.push_back(d);
    }
    *out = std::move(index);
    return true;
  } catch (const json::exception& e) {
    *err = std::string("invalid index JSON: ") + e.what();
    return false;
  }
}

std::string MediaTypeOf(std::string_view text) {
  try {
    json j = json::parse(text);
    if (j.is_object() && j.contains("mediaType") && j["mediaType"].is_string()) {
      return j["mediaType"].get<std::string>();
    }
    if (j.is_object() && j.contains("manifests")) {
      return kOciIndexMediaType;
    }
    if (j.is_object() && j.contains("layers")) {
      return kOciManifestMediaType;
    }
  } catch (const json::exception&) {
  }
  return "";
}

bool MergeBaseConfig(std::string_view base_config_json, const ImageConfig& ours,
                     std::string* merged_json, std::string* err) {
  json base;
  try {
    base = json::parse(base_config_json);
  } catch (const json::exception& e) {
    *err = std::string("invalid base image config: ") + e.what();
    return false;
  }
  if (!base.is_object()) {
    *err = "base image config is not an object";
    return false;
  }
  json merged = base;
  merged["created"] = ours.created;
  merged["architecture"] = ours.architecture;
  merged["os"] = ours.os;
  merged.erase("container_config");  // Docker build leftovers describe the base, not us.
  merged.erase("container");
  merged.erase("docker_version");
  json config = base.contains("config") && base["config"].is_object() ? base["config"]
                                                                       : json::object();
  json body = ConfigBody(ours);
  // Env: ours win per variable name, base order kept, ours appended.
  std::vector<std::string> env;
  if (config.contains("Env") && config["Env"].is_array()) {
    for (const json& e : config["Env"]) {
      if (!e.is_string()) {
        continue;
      }
      std::string entry = e.get<std::string>();
      bool overridden = false;
      for (const std::string& o : ours.env) {
        overridden = overridden || EnvName(o) == EnvName(entry);
      }
      if (!overridden) {
        env.push_back(entry);
      }
    }
  }
  env.insert(env.end(), ours.env.begin(), ours.env.end());
  if (!env.empty()) {
    config["Env"] = env;
  }
  // Our entrypoint replaces the base's, and with it the base's Cmd (Docker's rule).
  config["Entrypoint"] = ours.entrypoint;
  if (!ours.cmd.empty()) {
    config["Cmd"] = ours.cmd;
  } else {
    config.erase("Cmd");
  }
  if (!ours.working_dir.empty()) {
    config["WorkingDir"] = ours.working_dir;
  }
  if (!ours.user.empty()) {
    config["User"] = ours.user;
  }
  if (body.contains("Labels")) {
    if (!config.contains("Labels") || !config["Labels"].is_object()) {
      config["Labels"] = json::object();
    }
    for (const auto& [k, v] : body["Labels"].items()) {
      config["Labels"][k] = v;
    }
  }
  merged["config"] = config;
  std::vector<std::string> diff_ids;
  if (base.contains("rootfs") && base["rootfs"].is_object() &&
      base["rootfs"].contains("diff_ids") && base["rootfs"]["diff_ids"].is_array()) {
    for (const json& d : base["rootfs"]["diff_ids"]) {
      if (d.is_string()) {
        diff_ids.push_back(d.get<std::string>());
      }
    }
  }
  diff_ids.insert(diff_ids.end(), ours.diff_ids.begin(), ours.diff_ids.end());
  merged["rootfs"] = {{"type", "layers"}, {"diff_ids", diff_ids}};
  json history = base.contains("history") && base["history"].is_array() ? base["history"]
                                                                         : json::array();
  for (const std::string& by : ours.history) {
    history.push_back({{"created", ours.created}, {"created_by", by}});
  }
  merged["history"] = history;
  *merged_json = merged.dump();
  return true;
}

std::string ImageReference::ToString() const {
  std::string s = registry + "/" + repository;
  if (!tag.empty()) {
    s += ":" + tag;
  }
  if (!digest.empty()) {
    s += "@" + digest;
  }
  return s;
}

std::string ImageReference::Identifier() const {
  return !digest.empty() ? digest : !tag.empty() ? tag : "latest";
}

bool ParseImageReference(std::string_view text, ImageReference* out, std::string* err) {
  ImageReference r;
  std::string rest(text);
  size_t at = rest.find('@');
  if (at != std::string::npos) {
    r.digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
    if (!IsSha256Digest(r.digest)) {
      *err = "image reference '" + std::string(text) + "': digest is not sha256:<64 hex>";
      return false;
    }
  }
  size_t slash = rest.find('/');
  std::string first = rest.substr(0, slash);
  if (slash != std::string::npos &&
      (first.find('.') != std::string::npos || first.find(':') != std::string::npos ||
       first == "localhost")) {
    r.registry = first;
    rest = rest.substr(slash + 1);
  } else {
    r.registry = "docker.io";
  }
  size_t colon = rest.rfind(':');
  if (colon != std::string::npos && rest.find('/', colon) == std::string::npos) {
    r.tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (r.tag.empty() || r.tag.size() > 128) {
      *err = "image reference '" + std::string(text) + "': invalid tag";
      return false;
    }
  }
  if (rest.empty()) {
    *err = "image reference '" + std::string(text) + "': no repository";
    return false;
  }
  for (char c : rest) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' || c == '.' ||
          c == '_' || c == '-')) {
      *err = "image reference '" + std::string(text) +
             "': repository must be lowercase letters, digits, '/', '.', '_' or '-'";
      return false;
    }
  }
  if (r.registry == "docker.io" || r.registry == "index.docker.io") {
    r.registry = "registry-1.docker.io";
    if (rest.find('/') == std::string::npos) {
      rest = "library/" + rest;
    }
  }
  r.repository = rest;
  *out = r;
  return true;
}

std::string FormatRfc3339(int64_t seconds) {
  time_t t = static_cast<time_t>(seconds);
  struct tm tm_utc;
  gmtime_r(&t, &tm_utc);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm_utc);
  return buf;
}

bool IsSha256Digest(std::string_view digest) {
  return digest.size() == 71 && digest.substr(0, 7) == "sha256:" && IsHex(digest.substr(7));
}

}  // namespace wandb_job
