// `wandb-job launch`: adds a job to a W&B launch queue the way `wandb launch -q` does (the SDK's
// launch spec, pushToRunQueueByName into the queue's project "model-registry"), and follows the
// queue item to its run with --wait.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "wandb_client.h"

namespace wandb_job {

/// W&B's default project for launch queues (the SDK's LAUNCH_DEFAULT_PROJECT).
inline constexpr char kLaunchQueueProject[] = "model-registry";

/// What the launch spec says; the SDK's construct_launch_spec for `wandb launch -j JOB -q QUEUE`.
struct LaunchSpecInput {
  std::string job;         // ENTITY/PROJECT/NAME[:ALIAS] as the agent resolves it
  std::string entity;      // where the run goes
  std::string project;     // where the run goes
  std::string run_config;  // JSON object of overrides; "" or "{}" for none
};

/// The launch spec as JSON text, with the SDK's keys and key order: overrides.run_config (only
/// with overrides), job, entity, project, docker {}, resource null, git {}, overrides.
std::string LaunchSpecJson(const LaunchSpecInput& in);

/// --priority as `wandb launch` maps it: critical 0, high 1, medium 2, low 3 (any case).
bool ParseLaunchPriority(const std::string& text, int* out, std::string* err);

/// The run config from --config FILE (a JSON object of inputs; "" for none) and -c pairs (over
/// it), as key=value pairs for OverridesFromPairs: nested objects become dotted keys.
bool LaunchConfigPairs(const std::string& config_file, const std::vector<std::string>& set,
                       std::vector<std::string>* pairs, std::string* err);

/// Pushes `spec_json` to queue `queue` of `entity` (project kLaunchQueueProject); `priority` < 0
/// for none. An unknown queue and a refused push are one line naming the queue and the fix.
bool PushToLaunchQueue(WandbClient* client, const std::string& entity, const std::string& queue,
                       const std::string& spec_json, int priority, std::string* item_id,
                       std::string* err);

/// What --wait saw of a queue item.
struct QueuedRunOutcome {
  std::string run_id;  // the run the agent started
  std::string state;   // the run's final state: finished, failed, crashed, killed, ...
};

/// Polls the queue item until the agent starts its run, then the run (in run_entity/run_project)
/// until it is no longer running. `sleep` waits between polls. An item the agent fails is an
/// error.
bool WaitForQueuedRun(WandbClient* client, const std::string& queue_entity,
                      const std::string& queue, const std::string& item_id,
                      const std::string& run_entity, const std::string& run_project,
                      const std::function<void()>& sleep, QueuedRunOutcome* out, std::string* err);

}  // namespace wandb_job
