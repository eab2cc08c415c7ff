#include "job_spec.h"

#include <nlohmann/json.hpp>

#include "json_access.h"
#include "wandb_types.h"

namespace wandb_job {
namespace {

using ordered_json = nlohmann::ordered_json;

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
  JsonFields<nlohmann::json> f(j), cmake(j);
  std::string extra_files;
  const Field opt = Field::kOptional;
  if (!f.String("target", &s.target, err, opt) || !f.String("name", &s.name, err, opt) ||
      !f.String("entity", &s.entity, err, opt) || !f.String("project", &s.project, err, opt) ||
      !f.String("source", &s.source, err, opt) ||
      !f.String("description", &s.description, err, opt) ||
      !f.Strings("aliases", &s.aliases, err, opt) || !f.Strings("args", &s.args, err, opt) ||
      !f.Strings("config", &s.config_pairs, err, opt) ||
      !f.String("config_file", &s.config_file, err, opt) ||
      !f.Strings("lockfiles", &s.lockfiles, err, opt) ||
      !f.String("code_dir", &s.code_dir, err, opt) || !f.Strings("exclude", &s.exclude, err, opt) ||
      !f.String("dockerfile", &s.dockerfile, err, opt) ||
      !f.String("build_context", &s.build_context, err, opt) ||
      !f.String("base_image", &s.base_image, err, opt) || !f.String("image", &s.image, err, opt) ||
      !f.String("extra_files", &extra_files, err, opt) ||
      !f.Int("max_file_size", &s.max_file_bytes, err, opt, 0) ||
      !GetImageFiles(j, &s.image_files, err) || !f.Strings("image_env", &s.image_env, err, opt) ||
      !f.String("image_working_dir", &s.image_working_dir, err, opt) ||
      !f.String("image_user", &s.image_user, err, opt) ||
      !f.Bool("image_shim", &s.image_shim, err, opt) || !f.Object("cmake", &cmake, err, opt) ||
      !cmake.String("source_dir", &s.source_dir, err, opt) ||
      !cmake.String("binary_dir", &s.binary_dir, err, opt) ||
      !cmake.String("target_source_dir", &s.target_source_dir, err, opt) ||
      !cmake.String("project_name", &s.project_name, err, opt) ||
      !cmake.String("version", &s.cmake_version, err, opt) ||
      !cmake.String("generator", &s.generator, err, opt) ||
      !cmake.String("cxx_compiler_id", &s.cxx_compiler_id, err, opt) ||
      !cmake.String("cxx_compiler_version", &s.cxx_compiler_version, err, opt) ||
      !cmake.String("system_name", &s.system_name, err, opt) ||
      !cmake.String("system_processor", &s.system_processor, err, opt) ||
      !cmake.String("fetchcontent_base_dir", &s.fetchcontent_base_dir, err, opt) ||
      !cmake.String("templates_dir", &s.templates_dir, err, opt) ||
      !f.Strings("cmake_args", &s.cmake_args, err, opt) ||
      !f.Strings("packages", &s.packages, err, opt) ||
      !cmake.String("toolchain_file", &s.toolchain_file, err, opt) ||
      !cmake.String("module_file", &s.module_file, err, opt) ||
      !cmake.String("tool_source_dir", &s.tool_source_dir, err, opt)) {
    return false;
  }
  s.extra_files = SplitCMakeList(extra_files);
  JsonFields<nlohmann::json> inputs(j);
  if (!f.Object("inputs", &inputs, err, opt)) {
    return false;
  }
  if (inputs.value().is_object() && !inputs.value().empty()) {
    s.inputs = inputs.value().dump();
  }
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
  if (!j.is_object()) {
    *err = "wandb-job.json is not a JSON object";
    return false;
  }
  JobDefinition d;
  JsonFields<ordered_json> f(j), src(j), git(j);
  const Field opt = Field::kOptional;
  if (!f.String("source_type", &d.source_type, err) || !f.Object("source", &src, err) ||
      !src.Object("git", &git, err, opt) || !git.String("remote", &d.git_remote, err, opt) ||
      !git.String("commit", &d.git_commit, err, opt) ||
      !src.String("artifact", &d.artifact, err, opt) || !src.String("image", &d.image, err, opt) ||
      !src.Strings("entrypoint", &d.entrypoint, err, opt) ||
      !src.String("build_context", &d.build_context, err, opt) ||
      !src.String("dockerfile", &d.dockerfile, err, opt) ||
      !src.String("base_image", &d.base_image, err, opt) ||
      !f.String("runtime", &d.runtime, err, opt)) {
    *err = "wandb-job.json: " + *err;
    return false;
  }
  if (j.contains("input_types")) {
    d.input_types = j["input_types"].dump();
  }
  if (j.contains("output_types")) {
    d.output_types = j["output_types"].dump();
  }
  *out = std::move(d);
  return true;
}

}  // namespace wandb_job
