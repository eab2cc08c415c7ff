// Run records of the local store: one run of a job version as `wandb-job exec` records it.
// JobStore's run methods (RunDir, WriteRun, ReadRun, ListRuns) are defined in run_store.cc.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace wandb_job {

/// One run of a job version, recorded by `wandb-job exec` when it reports to the local store.
/// States as W&B names them: running, finished, failed, killed, crashed.
struct RunRecord {
  RunRecord() = default;
  RunRecord(std::string run_id, std::string run_name, std::string run_state, std::string created,
            int version)
      : id(std::move(run_id)), name(std::move(run_name)), state(std::move(run_state)),
        created_at(std::move(created)), version_index(version) {}

  std::string id, name, state, created_at;
  int version_index = -1;  // of the job the run used; -1 when unknown
  std::string entity, project;  // where the run lives
  std::string job;              // the job collection name the run used, "" for none
  std::string creator;          // the W&B user who made the run, "" when unknown (the store)
  std::string finished_at;      // RFC 3339 UTC, "" while running
  std::string config;           // JSON object text, "" for none
  std::string summary;          // JSON object text, "" for none
  bool has_exit_code = false;
  int exit_code = 0;
  int history_rows = 0;  // rows in history.jsonl
};

/// A run ID as W&B allows it in paths: [A-Za-z0-9_.-]{1,128}, not "." or "..".
bool ValidateRunId(std::string_view id, std::string* err);

}  // namespace wandb_job
