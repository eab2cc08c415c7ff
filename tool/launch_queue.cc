#include "launch_queue.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <utility>

#include "file_util.h"
#include "wandb_graphql.h"

namespace wandb_job {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

constexpr char kPushToRunQueueByName[] = R"(mutation PushToRunQueueByName($entityName: String!,
    $projectName: String!, $queueName: String!, $runSpec: JSONString!, $priority: Int) {
  pushToRunQueueByName(input: {entityName: $entityName, projectName: $projectName,
      queueName: $queueName, runSpec: $runSpec, priority: $priority}) {
    runQueueItemId
  }
})";

constexpr char kRunQueues[] = R"(query RunQueues($entity: String!, $project: String!) {
  project(name: $project, entityName: $entity) {
    runQueues { id name }
  }
})";

constexpr char kRunQueueItem[] = R"(query RunQueueItem($entity: String!, $project: String!,
    $queue: String!, $item: ID!) {
  project(name: $project, entityName: $entity) {
    runQueue(name: $queue) {
      runQueueItem(id: $item) { id state associatedRunId }
    }
  }
})";

constexpr char kRunState[] = R"(query RunState($entity: String!, $project: String!,
    $run: String!) {
  project(name: $project, entityName: $entity) {
    run(name: $run) { state }
  }
})";

std::string Quoted(const std::string& s) { return "'" + s + "'"; }

// Leaves of a JSON object as dotted key=value pairs (values as JSON text).
void FlattenPairs(const ordered_json& object, const std::string& prefix,
                  std::vector<std::string>* out) {
  for (const auto& [key, value] : object.items()) {
    std::string name = prefix.empty() ? key : prefix + "." + key;
    if (value.is_object() && !value.empty()) {
      FlattenPairs(value, name, out);
    } else {
      out->push_back(name + "=" + value.dump());
    }
  }
}

}  // namespace

std::string LaunchSpecJson(const LaunchSpecInput& in) {
  ordered_json spec = ordered_json::object();
  ordered_json run_config =
      in.run_config.empty() ? ordered_json::object() : ordered_json::parse(in.run_config);
  // The SDK starts from the -c file ({"overrides": {"run_config": ...}}) and adds its keys.
  if (!run_config.empty()) {
    spec["overrides"] = {{"run_config", run_config}};
  }
  spec["job"] = in.job;
  spec["entity"] = in.entity;
  spec["project"] = in.project;
  spec["docker"] = ordered_json::object();
  spec["resource"] = nullptr;
  spec["git"] = ordered_json::object();
  if (!spec.contains("overrides")) {
    spec["overrides"] = ordered_json::object();
  }
  return spec.dump();
}

bool ParseLaunchPriority(const std::string& text, int* out, std::string* err) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const std::pair<const char*, int> kLevels[] = {
      {"critical", 0}, {"high", 1}, {"medium", 2}, {"low", 3}};
  for (const auto& [name, value] : kLevels) {
    if (lower == name) {
      *out = value;
      return true;
    }
  }
  *err = "--priority " + Quoted(text) + ": expected critical, high, medium or low";
  return false;
}

bool LaunchConfigPairs(const std::string& config_file, const std::vector<std::string>& set,
                       std::vector<std::string>* pairs, std::string* err) {
  std::vector<std::string> out;
  if (!config_file.empty()) {
    std::string text;
    if (!ReadFile(config_file, &text, err)) {
      *err = "--config " + config_file + ": " + *err;
      return false;
    }
    ordered_json j = ordered_json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      *err = "--config " + config_file + ": not a JSON object of config values ({\"lr\": 0.1})";
      return false;
    }
    FlattenPairs(j, "", &out);
  }
  // -c goes over the file: a key given twice keeps its last value.
  for (const std::string& pair : set) {
    std::string key = pair.substr(0, pair.find('='));
    out.erase(std::remove_if(out.begin(), out.end(),
                             [&](const std::string& p) { return p.substr(0, p.find('=')) == key; }),
              out.end());
    out.push_back(pair);
  }
  *pairs = std::move(out);
  return true;
}

bool PushToLaunchQueue(WandbClient* client, const std::string& entity, const std::string& queue,
                       const std::string& spec_json, int priority, std::string* item_id,
                       std::string* err) {
  json vars = {{"entityName", entity},
               {"projectName", kLaunchQueueProject},
               {"queueName", queue},
               {"runSpec", spec_json},
               {"priority", priority >= 0 ? json(priority) : json(nullptr)}};
  json data;
  std::string push_err;
  if (GraphqlJson(client, "PushToRunQueueByName", kPushToRunQueueByName, vars, &data, &push_err)) {
    *item_id = Str(Member(data, "pushToRunQueueByName"), "runQueueItemId");
    if (!item_id->empty()) {
      return true;
    }
    push_err = "PushToRunQueueByName: the reply has no runQueueItemId";
  }
  // Say which: no such queue (listing those that exist), or the server refused the push.
  json queues;
  std::string list_err;
  if (GraphqlJson(client, "RunQueues", kRunQueues,
                  {{"entity", entity}, {"project", kLaunchQueueProject}}, &queues, &list_err)) {
    std::vector<std::string> names;
    bool found = false;
    for (const json& q : Member(Member(queues, "project"), "runQueues")) {
      names.push_back(Str(q, "name"));
      found = found || names.back() == queue;
    }
    if (!found) {
      std::sort(names.begin(), names.end());
      std::string known;
      for (const std::string& n : names) {
        known += (known.empty() ? "" : ", ") + n;
      }
      *err = "unknown launch queue " + Quoted(queue) + " of entity " + Quoted(entity) + " on " +
             client->options().base_url + " (queues: " + (known.empty() ? "none" : known) +
             "); create it on W&B's Launch page or pass --entity for another entity's queue";
      return false;
    }
  }
  *err = "pushing to launch queue " + Quoted(queue) + " of entity " + Quoted(entity) +
         " failed: " + push_err + " (check that your W&B user may use this queue)";
  return false;
}

bool WaitForQueuedRun(WandbClient* client, const std::string& queue_entity,
                      const std::string& queue, const std::string& item_id,
                      const std::string& run_entity, const std::string& run_project,
                      const std::function<void()>& sleep, QueuedRunOutcome* out, std::string* err) {
  // The agent claims the item and names the run it starts.
  while (true) {
    json data;
    if (!GraphqlJson(client, "RunQueueItem", kRunQueueItem,
                     {{"entity", queue_entity},
                      {"project", kLaunchQueueProject},
                      {"queue", queue},
                      {"item", item_id}},
                     &data, err)) {
      return false;
    }
    const json& item = Member(Member(Member(data, "project"), "runQueue"), "runQueueItem");
    if (!item.is_object()) {
      *err = "queue item " + item_id + " is gone from launch queue " + Quoted(queue) +
             " (deleted from the queue?)";
      return false;
    }
    std::string state = Str(item, "state");
    out->run_id = Str(item, "associatedRunId");
    if (!out->run_id.empty()) {
      break;
    }
    if (state == "FAILED") {
      *err = "the launch agent failed queue item " + item_id + " of queue " + Quoted(queue) +
             " before its run started; W&B's Launch page shows why";
      return false;
    }
    sleep();
  }
  while (true) {
    json data;
    if (!GraphqlJson(client, "RunState", kRunState,
                     {{"entity", run_entity}, {"project", run_project}, {"run", out->run_id}},
                     &data, err)) {
      return false;
    }
    // The run may not be visible yet right after the agent names it.
    out->state = Str(Member(Member(data, "project"), "run"), "state");
    if (!out->state.empty() && out->state != "running" && out->state != "pending") {
      return true;
    }
    sleep();
  }
}

}  // namespace wandb_job
