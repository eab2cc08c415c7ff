// The views of the Jobs page, as text and as JSON: the job list (`wandb-job ls`) and one job's
// details, versions and runs (`wandb-job show`). Rendering only: the data comes from a store
// (or, later, W&B) as StoredCollection values and a callback that reads a version's files.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "job_store.h"

namespace wandb_job {

/// The "schema_version" of every --json output (docs/json.md): raised when a field changes
/// meaning or goes away, not when one is added.
inline constexpr int kJsonSchemaVersion = 1;

enum class ViewFormat { kText, kJson };

/// A job named on the command line. Empty entity/project: the caller's defaults apply.
struct JobRef {
  std::string entity, project, name;
  std::string selector;  // an alias or "vN"; "" = latest (or, for `show`, every version)
};

/// NAME, PROJECT/NAME or ENTITY/PROJECT/NAME, optionally followed by ":ALIAS" or ":vN".
bool ParseJobRef(std::string_view text, JobRef* out, std::string* err);

/// The stored job `ref` names. Parts left out match any entity or project, but must leave exactly
/// one job; the errors say "unknown job" or list the candidates.
bool FindJob(const JobStore& store, const JobRef& ref, StoredCollection* out, std::string* err);

/// The version `selector` names: "" or "latest" (the version holding "latest", else the newest),
/// "vN", or an alias. The error lists the aliases and versions that exist.
bool SelectVersion(const StoredCollection& job, const std::string& selector,
                   const StoredVersion** out, std::string* err);

/// W&B type JSON (input_types/output_types) as `key: type` rows: nested typedDict keys are
/// joined with ".", lists render as list<element>, unions as union<a, b>, dicts inside lists as
/// {k: type, ...}. An empty typedDict gives no rows.
bool FlattenTypes(std::string_view types_json,
                  std::vector<std::pair<std::string, std::string>>* out, std::string* err);

/// `wandb-job ls`: columns NAME ENTITY PROJECT LATEST ALIASES VERSIONS (text), or an array of
/// {name, entity, project, latest_version, aliases, versions} (JSON). docs/store.md has the fields.
std::string RenderJobList(const std::vector<StoredCollection>& jobs, ViewFormat format);

/// Reads one file of a stored version (JobStore::ReadFile, or a download for W&B).
using VersionFileReader = std::function<bool(const StoredVersion& version, const std::string& path,
                                             std::string* contents, std::string* err)>;

/// `wandb-job show`: job details, version details (every version newest first when `selector`
/// is "", else only the selected one), and runs. wandb-job.json of each shown version is read
/// through `read_file` for its source, entrypoint and types.
bool RenderJobShow(const StoredCollection& job, const std::string& selector,
                   const VersionFileReader& read_file, ViewFormat format, std::string* out,
                   std::string* err);

}  // namespace wandb_job
