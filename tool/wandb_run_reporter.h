// The online RunReporter of `wandb-job exec`: creates the run on W&B (upsertBucket with exactly
// the launch agent's run ID), marks the job as used by it, and streams output, history and
// summary over file_stream from a background thread. Reporting failures never stop the program.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "exec_shim.h"

namespace wandb_job {

class WandbClient;

/// WANDB_JOB_EXIT_FLUSH_SECONDS when a number >= 0, else 30.
double ExitFlushSecondsFromEnv();

struct WandbRunReporterOptions {
  double flush_seconds = 1.0;      // send what is pending at least this often
  size_t flush_bytes = 64 * 1024;  // or as soon as this much is pending
  /// At the end, how long the program's exit may wait for W&B to take the rest (the output and
  /// metrics spooled on disk); then requests are cancelled. WANDB_JOB_EXIT_FLUSH_SECONDS.
  double exit_flush_seconds = ExitFlushSecondsFromEnv();
  /// Seconds since the epoch, for history rows' _timestamp and output lines; the clock when unset.
  std::function<double()> now;
};

/// A reporter over `client` (owned). Start() resolves the entity (the run's, else the job's,
/// else the viewer's default) and project (the run's, else the job's, else "uncategorized").
/// Every W&B failure is a warning, given once, after which nothing more is sent: each method
/// returns true, so the program runs on and keeps its exit code.
std::unique_ptr<RunReporter> MakeWandbRunReporter(std::unique_ptr<WandbClient> client,
                                                  WandbRunReporterOptions options = {});

/// The W&B reporter when WANDB_MODE is online and an API key is found (WANDB_API_KEY or netrc),
/// else null in `*out` (the caller falls back to the local store, or to nothing when disabled).
/// False only for malformed settings (a bad WANDB_BASE_URL, key or WANDB_MODE).
bool OpenWandbRunReporter(std::unique_ptr<RunReporter>* out, std::string* err);

/// wandb-metadata.json as W&B's SDK writes it for a run (os, startedAt, args, program, git,
/// root, host, username, cpu counts), for a program that is not Python.
std::string RunMetadataJson(const RunStart& start, double started_at);

/// config.yaml as W&B's SDK writes it: "wandb_version: 1", then `key: {desc: null, value: v}`
/// for each top-level key, in block YAML.
bool RunConfigYaml(const std::string& config_json, std::string* out, std::string* err);

/// The run's page in W&B's app.
std::string RunUrl(const std::string& app_url, const std::string& entity,
                   const std::string& project, const std::string& run_id);

/// The run config as W&B stores it: {"key": {"value": v}, ...} for each top-level key.
bool WandbRunConfig(const std::string& config_json, std::string* out, std::string* err);

}  // namespace wandb_job
