#include "job_views.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "json_access.h"
#include "wandb_types.h"

namespace wandb_job {
namespace {

using ordered_json = nlohmann::ordered_json;
using TypeRows = std::vector<std::pair<std::string, std::string>>;

constexpr char kLatest[] = "latest";
constexpr char kRefSyntax[] = "expected [[ENTITY/]PROJECT/]NAME[:ALIAS|:vN]";

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

/// "v<digits>" -> the index; -1 otherwise.
int VersionIndexOf(std::string_view s) {
  if (s.size() < 2 || s.size() > 10 || s[0] != 'v') {
    return -1;
  }
  int n = 0;
  for (char c : s.substr(1)) {
    if (!isdigit(static_cast<unsigned char>(c))) {
      return -1;
    }
    n = n * 10 + (c - '0');
  }
  return n;
}

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    out += (i ? sep : "") + parts[i];
  }
  return out;
}

/// A run's config or summary; malformed or missing text shows as {}.
ordered_json JsonObjectOrEmpty(const std::string& text) {
  ordered_json j = ordered_json::parse(text.empty() ? "{}" : text, nullptr, false);
  return j.is_object() ? j : ordered_json::object();
}

/// The version holding "latest", else the newest; nullptr for a collection without versions.
const StoredVersion* LatestVersion(const StoredCollection& job) {
  for (const StoredVersion& v : job.versions) {
    if (std::find(v.aliases.begin(), v.aliases.end(), kLatest) != v.aliases.end()) {
      return &v;
    }
  }
  return job.versions.empty() ? nullptr : &job.versions.back();
}

std::string WbType(const ordered_json& node) {
  if (!node.is_object()) {
    return "";
  }
  auto it = node.find("wb_type");
  return it != node.end() && it->is_string() ? it->get<std::string>() : "";
}

bool IsTypedDict(const ordered_json& node) {
  std::string type = WbType(node);
  return type == "typedDict" || type == "dictionary";
}

const ordered_json* TypeMap(const ordered_json& node) {
  auto params = node.find("params");
  if (params == node.end() || !params->is_object()) {
    return nullptr;
  }
  auto map = params->find("type_map");
  return map != params->end() && map->is_object() ? &*map : nullptr;
}

/// One type as inline text: number, list<number>, union<number, string>, {a: number}.
std::string TypeName(const ordered_json& node) {
  std::string type = WbType(node);
  if (type.empty()) {
    return "invalid";
  }
  auto found = node.find("params");
  const ordered_json params =
      found != node.end() && found->is_object() ? *found : ordered_json::object();
  if (IsTypedDict(node)) {
    std::vector<std::string> fields;
    if (const ordered_json* map = TypeMap(node)) {
      for (const auto& [key, value] : map->items()) {
        fields.push_back(key + ": " + TypeName(value));
      }
    }
    return "{" + Join(fields, ", ") + "}";
  }
  if (type == "list") {
    auto element = params.find("element_type");
    return element == params.end() ? "list" : "list<" + TypeName(*element) + ">";
  }
  if (type == "union") {
    std::vector<std::string> names;
    auto allowed = params.find("allowed_types");
    if (allowed != params.end() && allowed->is_array()) {
      for (const ordered_json& t : *allowed) {
        names.push_back(TypeName(t));
      }
    }
    return "union<" + Join(names, ", ") + ">";
  }
  if (type == "const" && params.contains("val")) {
    return "const<" + params["val"].dump() + ">";
  }
  return type;
}

void FlattenNode(const std::string& prefix, const ordered_json& node, TypeRows* rows) {
  const ordered_json* map = IsTypedDict(node) ? TypeMap(node) : nullptr;
  if (map == nullptr || map->empty()) {
    rows->emplace_back(prefix, map == nullptr ? TypeName(node) : "dict");
    return;
  }
  for (const auto& [key, value] : map->items()) {
    FlattenNode(prefix.empty() ? key : prefix + "." + key, value, rows);
  }
}

bool FlattenJson(const ordered_json& types, TypeRows* rows) {
  rows->clear();
  if (IsTypedDict(types)) {
    const ordered_json* map = TypeMap(types);
    if (map != nullptr) {
      for (const auto& [key, value] : map->items()) {
        FlattenNode(key, value, rows);
      }
    }
    return true;
  }
  if (!WbType(types).empty()) {
    rows->emplace_back("", TypeName(types));
    return true;
  }
  return false;
}

/// Shell-like quoting for display: words with special characters get single quotes.
std::string CommandLine(const std::vector<std::string>& argv) {
  std::vector<std::string> words;
  for (const std::string& arg : argv) {
    bool plain = !arg.empty() && std::all_of(arg.begin(), arg.end(), [](char c) {
      return isalnum(static_cast<unsigned char>(c)) ||
             std::string_view("-_./=:,+@%").find(c) != std::string_view::npos;
    });
    if (plain) {
      words.push_back(arg);
    } else {
      std::string quoted = "'";
      for (char c : arg) {
        quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
      }
      words.push_back(quoted + "'");
    }
  }
  return Join(words, " ");
}

/// What `show` tells about one version, from its model and its wandb-job.json.
struct VersionView {
  const StoredVersion* version = nullptr;
  bool has_job_file = false;
  std::string source_type, source_text;
  ordered_json source = nullptr;
  std::vector<std::string> entrypoint;
  TypeRows input_types, output_types;
  TypeRows input_defaults;  // key: default as JSON, from the metadata's input_schemas
  bool has_args = false;    // the ARGS template was found (artifact jobs: the code's job spec)
  std::vector<std::string> args;
};

constexpr char kArtifactIdPrefix[] = "wandb-artifact://_id/";

// An artifact job's ARGS template lives in its code artifact (.wandb-job/job.json, the shim's
// job spec). Best effort: a code artifact that cannot be read leaves the template out.
void LoadArgsTemplate(const std::string& artifact_uri, const VersionFileReader& read_file,
                      VersionView* view) {
  if (artifact_uri.rfind(kArtifactIdPrefix, 0) != 0) {
    return;
  }
  StoredVersion code;
  code.id = artifact_uri.substr(sizeof(kArtifactIdPrefix) - 1);
  std::string text, ignored;
  if (!read_file(code, ".wandb-job/job.json", &text, &ignored)) {
    return;
  }
  ordered_json spec = ordered_json::parse(text, nullptr, false);
  if (!spec.is_object() || !spec.contains("args") || !spec["args"].is_array()) {
    return;
  }
  for (const ordered_json& arg : spec["args"]) {
    if (arg.is_string()) {
      view->args.push_back(arg.get<std::string>());
    }
  }
  view->has_args = true;
}

// The defaults of a JSON Schema's leaves (what publish writes as input_schemas), dotted keys.
void CollectDefaults(const ordered_json& schema, const std::string& prefix, TypeRows* out) {
  if (!schema.is_object() || !schema.contains("properties") || !schema["properties"].is_object()) {
    return;
  }
  for (const auto& [key, sub] : schema["properties"].items()) {
    std::string name = prefix.empty() ? key : prefix + "." + key;
    if (sub.is_object() && sub.contains("default")) {
      out->emplace_back(name, sub["default"].dump());
    } else {
      CollectDefaults(sub, name, out);
    }
  }
}

bool LoadVersionView(const StoredVersion& v, const VersionFileReader& read_file, VersionView* view,
                     std::string* err) {
  view->version = &v;
  if (v.manifest.Find("wandb-job.json") == nullptr) {
    return true;  // not a job (a code artifact): files only
  }
  std::string text;
  if (!read_file(v, "wandb-job.json", &text, err)) {
    return false;
  }
  std::string where = "wandb-job.json of v" + std::to_string(v.index) + ": ";
  ordered_json j = ordered_json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    *err = where + "not a JSON object";
    return false;
  }
  JsonFields<ordered_json> f(j);
  JsonFields<ordered_json> source(j), git(j), types(j);
  const ordered_json* entrypoint = nullptr;
  const ordered_json* input_types = nullptr;
  const ordered_json* output_types = nullptr;
  std::string remote, commit, reference;
  if (!f.String("source_type", &view->source_type, err, Field::kOptional)) {
    *err = where + *err;
    return false;
  }
  const char* reference_key = view->source_type == "artifact" ? "artifact"
                              : view->source_type == "image"  ? "image"
                                                              : nullptr;
  if (!f.Object("source", &source, err, Field::kOptional) ||
      !source.Array("entrypoint", &entrypoint, err, Field::kOptional) ||
      !source.Object("git", &git, err, Field::kOptional) ||
      !git.String("remote", &remote, err, Field::kOptional) ||
      !git.String("commit", &commit, err, Field::kOptional) ||
      (reference_key != nullptr &&
       !source.String(reference_key, &reference, err, Field::kOptional)) ||
      !f.Object("input_types", &types, err, Field::kOptional) ||
      !f.Object("output_types", &types, err, Field::kOptional)) {
    *err = where + *err;
    return false;
  }
  view->has_job_file = true;
  view->source = source.value();
  for (const ordered_json& arg : *entrypoint) {
    view->entrypoint.push_back(arg.is_string() ? arg.get<std::string>() : arg.dump());
  }
  if (view->source_type == "repo" && f.Find("source") != nullptr &&
      source.Find("git") != nullptr) {
    view->source_text = remote + " @ " + commit;
  } else if (reference_key != nullptr) {
    view->source_text = reference;
  }
  input_types = f.Find("input_types");
  output_types = f.Find("output_types");
  FlattenJson(input_types != nullptr ? *input_types : ordered_json::object(), &view->input_types);
  FlattenJson(output_types != nullptr ? *output_types : ordered_json::object(),
              &view->output_types);
  // Declared job inputs (manage_wandb_config / manage_config_file) leave wandb-job.json's
  // input_types empty; their types live in the artifact metadata.
  ordered_json meta = ordered_json::parse(v.metadata.empty() ? "{}" : v.metadata, nullptr, false);
  if (view->input_types.empty() && meta.is_object() && meta.contains("input_types") &&
      meta["input_types"].is_object()) {
    const ordered_json& declared = meta["input_types"];
    if (declared.contains("@wandb.config")) {
      FlattenJson(declared["@wandb.config"], &view->input_types);
    }
    if (declared.contains("files") && declared["files"].is_object()) {
      for (const auto& [path, types] : declared["files"].items()) {
        TypeRows rows;
        FlattenJson(types, &rows);
        for (auto& [key, type] : rows) {
          view->input_types.emplace_back(path + ":" + key, type);
        }
      }
    }
  }
  if (view->source_type == "artifact") {
    LoadArgsTemplate(reference, read_file, view);
  }
  if (meta.is_object() && meta.contains("input_schemas") && meta["input_schemas"].is_object() &&
      meta["input_schemas"].contains("@wandb.config")) {
    CollectDefaults(meta["input_schemas"]["@wandb.config"], "", &view->input_defaults);
  }
  return true;
}

ordered_json TypesJson(const TypeRows& rows) {
  ordered_json out = ordered_json::object();
  for (const auto& [key, type] : rows) {
    out[key] = type;
  }
  return out;
}

ordered_json OrNull(const std::string& s) {
  return s.empty() ? ordered_json(nullptr) : ordered_json(s);
}

ordered_json VersionJson(const VersionView& view) {
  const StoredVersion& v = *view.version;
  ordered_json j;
  j["version"] = "v" + std::to_string(v.index);
  j["id"] = v.id;
  j["aliases"] = v.aliases;
  j["digest"] = v.digest;
  j["created_at"] = v.created_at;
  j["description"] = v.description;
  j["source_type"] = OrNull(view.source_type);
  j["source"] = view.has_job_file ? view.source : ordered_json(nullptr);
  j["entrypoint"] = view.entrypoint;
  j["input_types"] = TypesJson(view.input_types);
  j["output_types"] = TypesJson(view.output_types);
  j["args"] = view.has_args ? ordered_json(view.args) : ordered_json(nullptr);
  j["input_defaults"] = ordered_json::object();
  for (const auto& [key, value] : view.input_defaults) {
    j["input_defaults"][key] = ordered_json::parse(value);
  }
  j["files"] = ordered_json::array();
  for (const ManifestEntry& e : v.manifest.entries) {
    j["files"].push_back({{"path", e.path}, {"size", e.size}, {"digest", e.digest}});
  }
  return j;
}

void AppendTypesText(const std::string& title, const TypeRows& rows, std::string* out) {
  *out += "    " + title + ":\n";
  if (rows.empty()) {
    *out += "      (none)\n";
  }
  for (const auto& [key, type] : rows) {
    *out += "      " + (key.empty() ? type : key + ": " + type) + "\n";
  }
}

std::string Pad(const std::string& s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

void AppendVersionText(const VersionView& view, std::string* out) {
  const StoredVersion& v = *view.version;
  *out += "  v" + std::to_string(v.index);
  if (!v.aliases.empty()) {
    *out += " (" + Join(v.aliases, ", ") + ")";
  }
  *out += "\n";
  auto field = [&](const std::string& name, const std::string& value) {
    *out += "    " + Pad(name + ":", 14) + value + "\n";
  };
  field("Digest", v.digest);
  field("Created", v.created_at);
  if (view.has_job_file) {
    field("Source type", view.source_type);
    if (!view.source_text.empty()) {
      field("Source", view.source_text);
    }
    field("Entrypoint", view.entrypoint.empty() ? "(none)" : CommandLine(view.entrypoint));
    AppendTypesText("Input types", view.input_types, out);
    AppendTypesText("Output types", view.output_types, out);
    if (!view.input_defaults.empty()) {
      AppendTypesText("Input defaults", view.input_defaults, out);
    }
    if (view.has_args) {
      field("ARGS", view.args.empty() ? "(none)" : CommandLine(view.args));
    }
  }
  *out += "    Files:\n";
  size_t path_width = 0, size_width = 0;
  for (const ManifestEntry& e : v.manifest.entries) {
    path_width = std::max(path_width, e.path.size());
    size_width = std::max(size_width, std::to_string(e.size).size());
  }
  for (const ManifestEntry& e : v.manifest.entries) {
    std::string size = std::to_string(e.size);
    *out += "      " + Pad(e.path, path_width) + "  " + std::string(size_width - size.size(), ' ') +
            size + (e.size == 1 ? " byte" : " bytes") + "\n";
  }
}

}  // namespace

bool ParseJobRef(std::string_view text, JobRef* out, std::string* err) {
  auto bad = [&](const std::string& why) {
    *err = "invalid job reference " + Quote(text) + ": " + why;
    return false;
  };
  JobRef ref;
  std::string_view path = text;
  size_t colon = text.find(':');
  if (colon != std::string_view::npos) {
    path = text.substr(0, colon);
    ref.selector = std::string(text.substr(colon + 1));
    if (ref.selector.empty()) {
      return bad("empty alias after ':'; " + std::string(kRefSyntax));
    }
    std::string why;
    if (VersionIndexOf(ref.selector) < 0 && !ValidateAlias(ref.selector, &why)) {
      return bad(why);
    }
  }
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    parts.emplace_back(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  if (parts.size() > 3 ||
      std::any_of(parts.begin(), parts.end(), [](const std::string& p) { return p.empty(); })) {
    return bad(kRefSyntax);
  }
  ref.name = parts.back();
  if (parts.size() >= 2) {
    ref.project = parts[parts.size() - 2];
  }
  if (parts.size() == 3) {
    ref.entity = parts[0];
  }
  std::string why;
  if (!ValidateArtifactName(ref.name, &why)) {
    return bad(why);
  }
  if ((!ref.project.empty() && !ValidateProjectName(ref.project, &why)) ||
      (!ref.entity.empty() && !ValidateProjectName(ref.entity, &why))) {
    return bad(why);
  }
  *out = std::move(ref);
  return true;
}

bool FindJob(const JobStore& store, const JobRef& ref, StoredCollection* out, std::string* err) {
  std::vector<StoredCollection> jobs;
  if (!store.List("job", &jobs, err)) {
    return false;
  }
  std::vector<const StoredCollection*> matches;
  for (const StoredCollection& c : jobs) {
    if (c.name == ref.name && (ref.entity.empty() || c.entity == ref.entity) &&
        (ref.project.empty() || c.project == ref.project)) {
      matches.push_back(&c);
    }
  }
  if (matches.empty()) {
    *err = "unknown job '" + ref.name + "'" +
           (ref.project.empty() ? "" : " in " + (ref.entity.empty() ? "" : ref.entity + "/") +
                                           ref.project) +
           "; `wandb-job ls` lists the jobs";
    return false;
  }
  if (matches.size() > 1) {
    std::string names;
    for (const StoredCollection* c : matches) {
      names += (names.empty() ? "" : ", ") + c->entity + "/" + c->project + "/" + c->name;
    }
    *err = "job '" + ref.name + "' exists in several projects (" + names +
           "); name it as ENTITY/PROJECT/NAME";
    return false;
  }
  *out = *matches[0];
  return true;
}

bool SelectVersion(const StoredCollection& job, const std::string& selector,
                   const StoredVersion** out, std::string* err) {
  const StoredVersion* found = nullptr;
  if (selector.empty() || selector == kLatest) {
    found = LatestVersion(job);
  } else if (int index = VersionIndexOf(selector); index >= 0) {
    for (const StoredVersion& v : job.versions) {
      found = v.index == index ? &v : found;
    }
  } else {
    for (const StoredVersion& v : job.versions) {
      if (std::find(v.aliases.begin(), v.aliases.end(), selector) != v.aliases.end()) {
        found = &v;
      }
    }
  }
  if (found == nullptr) {
    std::vector<std::string> names;
    for (const StoredVersion& v : job.versions) {
      names.insert(names.end(), v.aliases.begin(), v.aliases.end());
    }
    std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
      return (a == kLatest) != (b == kLatest) ? a == kLatest : a < b;
    });
    if (!job.versions.empty()) {
      std::string first = "v" + std::to_string(job.versions.front().index);
      std::string last = "v" + std::to_string(job.versions.back().index);
      names.push_back(first == last ? first : first + ".." + last);
    }
    *err = "job " + Quote(job.name) + " has no version or alias " + Quote(selector) +
           " (aliases: " + (names.empty() ? "none" : Join(names, ", ")) + ")";
    return false;
  }
  *out = found;
  return true;
}

bool FlattenTypes(std::string_view types_json, TypeRows* out, std::string* err) {
  ordered_json j = ordered_json::parse(types_json, nullptr, false);
  if (j.is_discarded() || !FlattenJson(j, out)) {
    *err = "not W&B type JSON (an object with wb_type)";
    return false;
  }
  return true;
}

std::string RenderJobList(const std::vector<StoredCollection>& jobs, ViewFormat format) {
  if (format == ViewFormat::kJson) {
    ordered_json arr = ordered_json::array();
    for (const StoredCollection& job : jobs) {
      const StoredVersion* latest = LatestVersion(job);
      ordered_json j;
      j["schema_version"] = kJsonSchemaVersion;
      j["name"] = job.name;
      j["entity"] = job.entity;
      j["project"] = job.project;
      j["latest_version"] = nullptr;
      if (latest != nullptr) {
        j["latest_version"] = "v" + std::to_string(latest->index);
      }
      j["aliases"] = latest ? latest->aliases : std::vector<std::string>{};
      j["versions"] = job.versions.size();
      arr.push_back(std::move(j));
    }
    return arr.dump(2) + "\n";
  }
  if (jobs.empty()) {
    return "no jobs\n";
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "ENTITY", "PROJECT", "LATEST", "ALIASES", "VERSIONS"}};
  for (const StoredCollection& job : jobs) {
    const StoredVersion* latest = LatestVersion(job);
    std::string aliases = latest && !latest->aliases.empty() ? Join(latest->aliases, ",") : "-";
    rows.push_back({job.name, job.entity, job.project,
                    latest ? "v" + std::to_string(latest->index) : "-", aliases,
                    std::to_string(job.versions.size())});
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += i + 1 == row.size() ? row[i] : Pad(row[i], widths[i] + 2);
    }
    out += line + "\n";
  }
  return out;
}

bool RenderJobShow(const StoredCollection& job, const std::string& selector,
                   const VersionFileReader& read_file, ViewFormat format, std::string* out,
                   std::string* err) {
  std::vector<const StoredVersion*> shown;
  if (selector.empty()) {
    for (auto it = job.versions.rbegin(); it != job.versions.rend(); ++it) {
      shown.push_back(&*it);
    }
  } else {
    const StoredVersion* v;
    if (!SelectVersion(job, selector, &v, err)) {
      return false;
    }
    shown.push_back(v);
  }
  std::vector<VersionView> views(shown.size());
  for (size_t i = 0; i < shown.size(); ++i) {
    if (!LoadVersionView(*shown[i], read_file, &views[i], err)) {
      return false;
    }
  }
  const StoredVersion* latest = LatestVersion(job);
  std::string description = latest ? latest->description : "";
  std::string full_name = job.entity + "/" + job.project + "/" + job.name;

  if (format == ViewFormat::kJson) {
    ordered_json j;
    j["schema_version"] = kJsonSchemaVersion;
    j["name"] = job.name;
    j["entity"] = job.entity;
    j["project"] = job.project;
    j["full_name"] = full_name;
    j["description"] = description;
    j["created_at"] = job.created_at;
    j["versions"] = ordered_json::array();
    for (const VersionView& view : views) {
      j["versions"].push_back(VersionJson(view));
    }
    j["runs"] = ordered_json::array();
    for (const RunRecord& run : job.runs) {
      ordered_json r;
      r["id"] = run.id;
      r["name"] = run.name;
      r["state"] = run.state;
      r["created_at"] = run.created_at;
      r["version"] = run.version_index >= 0 ? ordered_json("v" + std::to_string(run.version_index))
                                            : ordered_json(nullptr);
      r["finished_at"] = run.finished_at.empty() ? ordered_json(nullptr)
                                                 : ordered_json(run.finished_at);
      r["exit_code"] = run.has_exit_code ? ordered_json(run.exit_code) : ordered_json(nullptr);
      r["creator"] = OrNull(run.creator);
      r["config"] = JsonObjectOrEmpty(run.config);
      r["summary"] = JsonObjectOrEmpty(run.summary);
      j["runs"].push_back(std::move(r));
    }
    *out = j.dump(2) + "\n";
    return true;
  }

  std::string text = "Job details\n";
  auto field = [&](const std::string& name, const std::string& value) {
    text += "  " + Pad(name + ":", 16) + value + "\n";
  };
  field("Name", job.name);
  field("Full name", full_name);
  field("Description", description.empty() ? "(none)" : description);
  field("Owner entity", job.entity);
  field("Parent project", job.project);
  field("Created", job.created_at);
  text += "\nVersion details\n";
  for (size_t i = 0; i < views.size(); ++i) {
    text += i ? "\n" : "";
    AppendVersionText(views[i], &text);
  }
  text += "\nRuns\n";
  if (job.runs.empty()) {
    text += "  no runs recorded\n";
  }
  for (const RunRecord& run : job.runs) {
    std::string version = run.version_index >= 0 ? "v" + std::to_string(run.version_index) : "v?";
    std::string code = run.has_exit_code ? "exit " + std::to_string(run.exit_code) : "exit -";
    text += "  " + run.id + "  " + run.name + "  " + run.state + "  " + version + "  " + code +
            "  " + run.created_at + (run.creator.empty() ? "" : "  by " + run.creator) + "\n";
    text += "    config:  " + JsonObjectOrEmpty(run.config).dump() + "\n";
    if (!run.summary.empty() && run.summary != "{}") {
      text += "    summary: " + JsonObjectOrEmpty(run.summary).dump() + "\n";
    }
  }
  *out = std::move(text);
  return true;
}

}  // namespace wandb_job
