// `wandb-job run`: launches a job of the local store on this machine the way W&B's launch agent
// would: builds a code or repo job's target with CMake and Ninja in a temporary directory, or
// fetches an image job's image (skopeo, umoci, runc), and runs it under the exec shim with the
// agent's environment. Does not build images; reports runs where `exec` does.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace wandb_job {

class JobStore;
class RunReporter;

struct RunJobOptions {
  std::string job_ref;                 // [[ENTITY/]PROJECT/]NAME[:ALIAS|:vN]
  std::vector<std::string> set;        // -c key=value, checked against the job's input types
  std::string store_root;              // the local store
  std::string tool_path;               // this wandb-job, for -DWANDB_JOB_TOOL
  std::vector<std::string> cmake_args;  // extra configure arguments
  std::string source_subdir;           // the CMake project inside the code, "" for its root
  std::string run_id;                  // "" for a new one
  bool keep = false;                   // keep the temporary directory
};

enum class RunJobStatus { kRan, kUsageError, kError };

/// The launch overrides from -c pairs: each key must be an input of the job (a flattened
/// input_types key, or an object holding some); values parse as JSON when they can, except that a
/// string input keeps the text. kUsageError names the key and lists the known ones, or names a
/// value that does not fit its input's type (ValueMatchesType).
/// Whether `value` fits a flattened type name of FlattenTypes (number, boolean, string, none,
/// list<T>, union<A, B>, {k: T}, dict); names it does not know (any, const<..>) fit anything.
bool ValueMatchesType(const nlohmann::ordered_json& value, const std::string& type);

RunJobStatus OverridesFromPairs(const std::vector<std::string>& pairs,
                                const std::string& job_name, const std::string& input_types_json,
                                std::string* overrides_json, std::string* err);

/// Where a run may be reported: `exec` reports to W&B when it can, `run` to the local store that
/// holds the job it launched.
enum class ReportTarget { kWandbOrStore, kStore };

/// The reporter of a run: with kWandbOrStore, W&B when WANDB_MODE is online and an API key is
/// found (WANDB_API_KEY or netrc); else the local store at `store_root` (opened into `*store`
/// unless it already holds one); nothing when WANDB_MODE=disabled. Bad W&B settings (a malformed
/// key or URL) are a warning and fall back to the local store.
bool OpenRunReporter(ReportTarget target, const std::string& store_root,
                     std::unique_ptr<JobStore>* store, std::unique_ptr<RunReporter>* out,
                     std::string* err);

/// Runs the job; on kRan, `exit_code` is the program's (128+N when a signal killed it).
RunJobStatus RunJob(const RunJobOptions& options, int* exit_code, std::string* err);

}  // namespace wandb_job
