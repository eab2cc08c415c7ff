#include "run_store.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>
#include <vector>

#include "atomic_file.h"
#include "file_util.h"
#include "job_store.h"
#include "json_access.h"
#include "log.h"
#include "store_layout.h"

namespace wandb_job {

bool ValidateRunId(std::string_view id, std::string* err) {
  bool ok = !id.empty() && id.size() <= 128 && id != "." && id != "..";
  for (char c : id) {
    ok = ok && (isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
  }
  if (!ok) {
    *err = "invalid run ID " + Quote(id) + " (expected [A-Za-z0-9_.-], at most 128 characters)";
  }
  return ok;
}

namespace {

using ordered_json = nlohmann::ordered_json;

std::string RunsDir(const std::string& root, const std::string& entity,
                    const std::string& project) {
  return root + "/entities/" + entity + "/projects/" + project + "/runs";
}

ordered_json JsonOrNull(const std::string& text) {
  if (text.empty()) {
    return nullptr;
  }
  ordered_json j = ordered_json::parse(text, nullptr, false);
  return j.is_discarded() ? ordered_json(nullptr) : j;
}

std::string RunToJson(const RunRecord& r) {
  ordered_json j;
  j["id"] = r.id;
  j["name"] = r.name;
  j["entity"] = r.entity;
  j["project"] = r.project;
  j["state"] = r.state;
  j["created_at"] = r.created_at;
  j["finished_at"] = r.finished_at.empty() ? ordered_json(nullptr) : ordered_json(r.finished_at);
  j["job"] = r.job.empty() ? ordered_json(nullptr) : ordered_json(r.job);
  j["version"] = r.version_index >= 0 ? ordered_json(r.version_index) : ordered_json(nullptr);
  j["exit_code"] = r.has_exit_code ? ordered_json(r.exit_code) : ordered_json(nullptr);
  j["config"] = JsonOrNull(r.config);
  j["summary"] = JsonOrNull(r.summary);
  j["history_rows"] = r.history_rows;
  return j.dump(2) + "\n";
}

bool RunFromJson(const ordered_json& j, RunRecord* r, std::string* err) {
  JsonFields<ordered_json> f(j);
  int64_t history_rows = 0;
  r->finished_at.clear();
  r->job.clear();
  r->version_index = -1;
  if (!f.IsObject(err) || !f.String("id", &r->id, err) ||
      !f.String("name", &r->name, err, Field::kOptional) ||
      !f.String("entity", &r->entity, err, Field::kOptional) ||
      !f.String("project", &r->project, err, Field::kOptional) ||
      !f.String("state", &r->state, err, Field::kOptional) ||
      !f.String("created_at", &r->created_at, err, Field::kOptional) ||
      !f.String("finished_at", &r->finished_at, err, Field::kOptional) ||
      !f.String("job", &r->job, err, Field::kOptional) ||
      !f.Int("version", &r->version_index, err, Field::kOptional) ||
      !f.Int("history_rows", &history_rows, err, Field::kOptional, 0, INT32_MAX)) {
    return false;
  }
  r->history_rows = static_cast<int>(history_rows);
  const ordered_json* code = f.Find("exit_code");
  r->has_exit_code = code != nullptr && !code->is_null();
  r->exit_code = 0;
  if (r->has_exit_code && !f.Int("exit_code", &r->exit_code, err)) {
    return false;
  }
  auto dumped = [&](const char* key) {
    const ordered_json* value = f.Find(key);
    return value == nullptr || value->is_null() ? std::string() : value->dump();
  };
  r->config = dumped("config");
  r->summary = dumped("summary");
  return true;
}

}  // namespace

bool JobStore::RunDir(const std::string& entity, const std::string& project,
                      const std::string& id, std::string* dir, std::string* err) const {
  if (!ValidateEntityName(entity, err) || !ValidateProject(project, err) ||
      !ValidateRunId(id, err)) {
    return false;
  }
  *dir = RunsDir(root_, entity, project) + "/" + id;
  std::string why;
  if (!MakeDirs(*dir, &why)) {
    *err = StoreError(root_, why);
    return false;
  }
  return true;
}

bool JobStore::WriteRun(const RunRecord& run, std::string* err) const {
  std::string dir, why;
  if (!RunDir(run.entity, run.project, run.id, &dir, err)) {
    return false;
  }
  if (!WriteFileAtomic(dir + "/run.json", RunToJson(run), &why)) {
    *err = StoreError(root_, why);
    return false;
  }
  return true;
}

bool JobStore::ReadRun(const std::string& entity, const std::string& project,
                       const std::string& id, RunRecord* out, bool* found,
                       std::string* err) const {
  *found = false;
  if (!ValidateEntityName(entity, err) || !ValidateProject(project, err) ||
      !ValidateRunId(id, err)) {
    return false;
  }
  std::string path = RunsDir(root_, entity, project) + "/" + id + "/run.json";
  ordered_json j;
  bool missing;
  if (!ParseJsonFile(path, &j, &missing, err)) {
    return false;
  }
  if (missing) {
    return true;
  }
  if (!RunFromJson(j, out, err)) {
    *err = "reading " + path + ": " + *err;
    return false;
  }
  *found = true;
  return true;
}

bool JobStore::ListRuns(const std::string& entity, const std::string& project,
                        const std::string& job, std::vector<RunRecord>* out,
                        std::string* err) const {
  out->clear();
  std::vector<std::string> ids;
  if (!ListDir(RunsDir(root_, entity, project), &ids, err)) {
    return false;
  }
  for (const std::string& id : ids) {
    RunRecord run;
    bool found;
    std::string why;
    if (!ReadRun(entity, project, id, &run, &found, &why)) {
      Warning("skipping run %s/%s/%s: %s", entity.c_str(), project.c_str(), id.c_str(),
              why.c_str());
      continue;
    }
    if (found && (job.empty() || run.job == job)) {
      out->push_back(std::move(run));
    }
  }
  std::stable_sort(out->begin(), out->end(), [](const RunRecord& a, const RunRecord& b) {
    return a.created_at < b.created_at;
  });
  return true;
}

}  // namespace wandb_job
