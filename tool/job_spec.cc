#include "job_spec.h"

#include <nlohmann/json.hpp>

#include "wandb_types.h"

namespace wandb_job {
namespace {

using ordered_json = nlohmann::ordered_json;

std::string GetString(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> GetStrings(const nlohmann::json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it != j.end() && it->is_array()) {
    for (const auto& v : *it) {
      if (v.is_string()) {
        out.push_back(v.get<std::string>());
      }
    }
  }
  return out;
}

// A CMake list ("a;b;c") from a generator expression; empty items dropped.
std::vector<std::string> SplitCMakeList(const std::string& list) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= list.size()) {
    size_t j = list.find(';', i);
    if (j == std::string::npos) {
      j = list.size();
    }
    if (j > i) {
      out.push_back(list.substr(i, j - i));
    }
    i = j + 1;
  }
  return out;
}

// "image_files": [[src, dest], ...], each entry also accepted as a "src=dest" string.
bool GetImageFiles(const nlohmann::json& j, std::vector<std::pair<std::string, std::string>>* out,
                   std::string* err) {
  auto it = j.find("image_files");
  if (it == j.end() || it->is_null()) {
    return true;
  }
  if (!it->is_array()) {
    *err = "image_files is not an array";
    return false;
  }
  for (const auto& v : *it) {
    if (v.is_array() && v.size() == 2 && v[0].is_string() && v[1].is_string()) {
      out->emplace_back(v[0].get<std::string>(), v[1].get<std::string>());
      continue;
    }
    std::string text = v.is_string() ? v.get<std::string>() : std::string();
    size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0) {
      *err = "image_files entry " + v.dump() + " is not [source, destination] or \"source=dest\"";
      return false;
    }
    out->emplace_back(text.substr(0, eq), text.substr(eq + 1));
  }
  return true;
}

}  // namespace

bool JobInputSpec::FromJson(std::string_view text, JobInputSpec* out, std::string* err) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    *err = "not a JSON object";
    return false;
  }
  if (!j.contains("format") || j["format"] != 1) {
    *err = "unsupported spec format (re-run cmake with this version of WandbJob.cmake)";
    return false;
  }
  JobInputSpec s;
  s.target = GetString(j, "target");
  s.name = GetString(j, "name");
  s.entity = GetString(j, "entity");
  s.project = GetString(j, "project");
  s.source = GetString(j, "source");
  s.description = GetString(j, "description");
  s.aliases = GetStrings(j, "aliases");
  s.args = GetStrings(j, "args");
  s.config_pairs = GetStrings(j, "config");
  s.config_file = GetString(j, "config_file");
  s.lockfiles = GetStrings(j, "lockfiles");
  s.code_dir = GetString(j, "code_dir");
  s.exclude = GetStrings(j, "exclude");
  s.dockerfile = GetString(j, "dockerfile");
  s.build_context = GetString(j, "build_context");
  s.base_image = GetString(j, "base_image");
  s.image = GetString(j, "image");
  s.extra_files = SplitCMakeList(GetString(j, "extra_files"));
  if (!GetImageFiles(j, &s.image_files, err)) {
    return false;
  }
  s.image_env = GetStrings(j, "image_env");
  s.image_working_dir = GetString(j, "image_working_dir");
  s.image_user = GetString(j, "image_user");
  s.image_shim = !(j.contains("image_shim") && j["image_shim"] == false);
  const nlohmann::json cmake = j.value("cmake", nlohmann::json::object());
  s.source_dir = GetString(cmake, "source_dir");
  s.binary_dir = GetString(cmake, "binary_dir");
  s.target_source_dir = GetString(cmake, "target_source_dir");
  s.project_name = GetString(cmake, "project_name");
  s.cmake_version = GetString(cmake, "version");
  s.generator = GetString(cmake, "generator");
  s.cxx_compiler_id = GetString(cmake, "cxx_compiler_id");
  s.cxx_compiler_version = GetString(cmake, "cxx_compiler_version");
  s.system_name = GetString(cmake, "system_name");
  s.system_processor = GetString(cmake, "system_processor");
  s.fetchcontent_base_dir = GetString(cmake, "fetchcontent_base_dir");
  s.templates_dir = GetString(cmake, "templates_dir");
  if (s.target.empty() || s.source_dir.empty() || s.binary_dir.empty()) {
    *err = "spec lacks target, source_dir or binary_dir";
    return false;
  }
  *out = std::move(s);
  return true;
}

std::string JobDefinition::ToJson() const {
  // Key order is the Python JobBuilder's dict insertion order; it decides the bytes and so the
  // artifact digest.
  ordered_json source = ordered_json::object();
  if (source_type == "repo") {
    source["git"] = {{"remote", git_remote}, {"commit", git_commit}};
    source["entrypoint"] = entrypoint;
    source["notebook"] = false;
  } else if (source_type == "artifact") {
    source["entrypoint"] = entrypoint;
    source["notebook"] = false;
    source["artifact"] = artifact;
  } else {
    source["image"] = image;
    if (!entrypoint.empty()) {
      source["entrypoint"] = entrypoint;
    }
  }
  if (!build_context.empty()) {
    source["build_context"] = build_context;
  }
  if (!dockerfile.empty()) {
    source["dockerfile"] = dockerfile;
  }
  if (!base_image.empty()) {
    source["base_image"] = base_image;
  }
  ordered_json doc = ordered_json::object();
  doc["_version"] = (!dockerfile.empty() || !build_context.empty()) ? "0.17.0" : "v0";
  doc["source_type"] = source_type;
  doc["source"] = std::move(source);
  doc["input_types"] = ordered_json::parse(input_types);
  doc["output_types"] = ordered_json::parse(output_types);
  doc["runtime"] = runtime;
  std::string out, err;
  if (!PythonIndent4(doc.dump(), &out, &err)) {
    return doc.dump(4, ' ', true);  // Unreachable: the document was just produced by nlohmann.
  }
  return out;
}

bool JobDefinition::FromJson(std::string_view text, JobDefinition* out, std::string* err) {
  ordered_json j = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("source_type") || !j["source_type"].is_string() ||
      !j.contains("source") || !j["source"].is_object()) {
    *err = "wandb-job.json lacks source_type or source";
    return false;
  }
  JobDefinition d;
  d.source_type = j["source_type"].get<std::string>();
  const ordered_json& src = j["source"];
  auto str = [&](const char* key) {
    auto it = src.find(key);
    return it != src.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (src.contains("git") && src["git"].is_object()) {
    d.git_remote = src["git"].value("remote", "");
    d.git_commit = src["git"].value("commit", "");
  }
  d.artifact = str("artifact");
  d.image = str("image");
  if (src.contains("entrypoint") && src["entrypoint"].is_array()) {
    for (const auto& v : src["entrypoint"]) {
      if (v.is_string()) {
        d.entrypoint.push_back(v.get<std::string>());
      }
    }
  }
  d.build_context = str("build_context");
  d.dockerfile = str("dockerfile");
  d.base_image = str("base_image");
  if (j.contains("input_types")) {
    d.input_types = j["input_types"].dump();
  }
  if (j.contains("output_types")) {
    d.output_types = j["output_types"].dump();
  }
  d.runtime = j.value("runtime", "");
  *out = std::move(d);
  return true;
}

}  // namespace wandb_job
