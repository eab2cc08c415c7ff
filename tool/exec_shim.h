// `wandb-job exec`, the entrypoint shim of a job: assembles the config (defaults, launch
// overrides, -c pairs), renders the program's ARGS, runs it, forwards signals, and reports the run
// (start, output, metrics, exit code) to a RunReporter. Knows no wire protocol: reporters do.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wandb_job {

class JobStore;

/// The launch agent's limit for one environment variable; longer values are split into chunks
/// NAME_0, NAME_1, ... (wandb-protocol.md §3.1).
inline constexpr size_t kMaxEnvValueLength = 32670;

/// Environment variables the shim gives the program, beside WANDB_CONFIG (or its chunks).
inline constexpr char kConfigFileEnv[] = "WANDB_JOB_CONFIG_FILE";    // the config as a JSON file
inline constexpr char kMetricsFileEnv[] = "WANDB_JOB_METRICS_FILE";  // wandb::Run appends here

enum class OutputStream { kStdout, kStderr };

/// What a reporter needs to create (or resume) the run.
struct RunStart {
  std::string run_id;            // exactly WANDB_RUN_ID when given
  std::string entity, project;   // "" when unknown (the reporter picks its default)
  std::string job;               // the job used, "entity/project/name:alias", or ""
  std::string config;            // the merged config, JSON object text
  std::vector<std::string> argv;  // the program's rendered argv
  std::string git_remote, git_commit;  // the code's origin, from the job spec; "" when unknown
  std::string workdir;                 // the program's working directory, "" for ours
};

/// How the program ended.
struct RunOutcome {
  int exit_code = 0;  // the program's exit code, 128+N when killed by signal N
  int signal = 0;     // the signal that killed the program, else 0
  int forwarded_signal = 0;  // a signal the shim received and passed on, else 0
  /// "finished" (exit 0), "failed" (other exit codes), "killed" (a signal killed the program,
  /// or it exited non-zero after a forwarded signal).
  std::string state;
};

/// Where a run is reported. Implementations: the local store (offline) and W&B (online).
/// Output, History and Summary failures are warnings for the shim: the program keeps running.
class RunReporter {
 public:
  virtual ~RunReporter() = default;
  /// Creates or resumes the run with exactly `start.run_id`, and marks the job as used by it.
  virtual bool Start(const RunStart& start, std::string* err) = 0;
  /// A chunk of the program's output, as it arrives.
  virtual bool Output(OutputStream stream, std::string_view data, std::string* err) = 0;
  /// One history row: a JSON object with "_step".
  virtual bool History(const std::string& row_json, std::string* err) = 0;
  /// Summary values set explicitly: a JSON object, merged into the summary.
  virtual bool Summary(const std::string& values_json, std::string* err) = 0;
  /// Marks the run finished with the program's exit code and state.
  virtual bool Finish(const RunOutcome& outcome, std::string* err) = 0;
};

/// Reads the new complete lines of the metrics file a program appends to (wandb::Run) and
/// reports them: {"history": {...}} rows (numbered with "_step" when they have none) and
/// {"summary": {...}} values. Linear in the file's size: each Poll reads only what was appended,
/// handles lines in place and keeps only an unfinished last line for the next one.
class MetricsReader {
 public:
  MetricsReader(std::string path, RunReporter* reporter);
  void Poll();
  /// Bytes moved inside the buffer so far (unfinished lines kept for the next Poll).
  uint64_t bytes_moved() const { return bytes_moved_; }

 private:
  void Handle(std::string_view line);

  std::string path_;
  RunReporter* reporter_;
  off_t offset_ = 0;
  std::string pending_;
  int64_t next_step_ = 0;
  uint64_t bytes_moved_ = 0;
};

/// Records runs in the local job store: entities/<e>/projects/<p>/runs/<id>/ with run.json,
/// output.log and history.jsonl; the job version from the job reference is looked up in the
/// store. Entity defaults to "local", project to the job's, else "uncategorized".
std::unique_ptr<RunReporter> MakeStoreReporter(const JobStore* store);

/// The command line of `wandb-job exec`.
struct ExecOptions {
  std::string defaults;        // --defaults: JSON object text, "" for none
  std::string job_spec_path;   // --job-spec: a JSON file with "config" (and "args", and
                               // "git": {remote, commit}), e.g. bundle.json; "" for none
  std::vector<std::string> set;  // -c key=value, in order
  std::string job;             // --job ENTITY/PROJECT/NAME[:ALIAS]; else WANDB_ARTIFACTS
  std::string run_id;          // --run-id; else WANDB_RUN_ID; else a new one
  std::vector<std::string> command;  // PROGRAM ARGS..., ARGS with "{key}" placeholders
};

/// What to run, resolved from the options and the environment.
struct ExecPlan {
  std::string config;              // merged config, JSON object text
  std::vector<std::string> argv;   // rendered
  std::string run_id, entity, project, job;
  std::string workdir;             // the program's working directory, "" for ours
  std::string git_remote, git_commit;  // the job spec's "git", for the run's metadata
  /// Where the program appends metrics (WANDB_JOB_METRICS_FILE); "" for a file in a private
  /// temporary directory. Given, it is created (mode 0666) or emptied before the program
  /// starts, e.g. to bind-mount it into a container.
  std::string metrics_file;
  /// metrics_file came from our own environment: a shim runs under another shim (the image's
  /// entrypoint under `wandb-job run`), so the program writes where the outer shim reads, and
  /// the file is not emptied.
  bool metrics_inherited = false;
};

/// Where runs are reported, from WANDB_MODE and WANDB_API_KEY: disabled (WANDB_MODE=disabled),
/// offline (WANDB_MODE=offline, or no API key) or online.
enum class ReportMode { kDisabled, kOffline, kOnline };
ReportMode ReportModeFromEnvironment();

/// Resolves the config (defaults from --job-spec, then --defaults, then WANDB_CONFIG or its
/// chunks, then -c pairs; each level deep-merged), the argv (ARGS rendered with RenderArgs; the
/// job spec's "args" when no ARGS follow PROGRAM), the run ID and the job reference.
bool PlanExec(const ExecOptions& options, ExecPlan* out, std::string* err);

/// The `_wandb_job` entry of WANDB_ARTIFACTS ({"_wandb_job": "e/p/name:alias", ...}); "" when
/// the variable is empty or has no such entry.
bool JobFromLaunchArtifacts(const std::string& artifacts_json, std::string* job,
                            std::string* err);

/// NAME=value, or NAME_0..NAME_k chunks of at most `limit` characters when longer.
std::vector<std::pair<std::string, std::string>> ChunkedEnv(const std::string& name,
                                                            const std::string& value,
                                                            size_t limit = kMaxEnvValueLength);

/// A new run ID: 8 characters of [a-z0-9], as the launch agent makes them.
std::string NewRunId();

/// Runs the plan's program with the config in its environment (WANDB_CONFIG or chunks,
/// WANDB_JOB_CONFIG_FILE, WANDB_RUN_ID, WANDB_JOB_METRICS_FILE), reporting to `reporter` (none:
/// only runs it, output untouched). Output is still printed. SIGINT, SIGTERM, SIGHUP, SIGQUIT,
/// SIGUSR1 and SIGUSR2 sent to this process are passed on to the program. False only when the
/// program could not be started; `outcome` is then unset.
bool RunProgram(const ExecPlan& plan, RunReporter* reporter, RunOutcome* outcome,
                std::string* err);

}  // namespace wandb_job
