#include "wandb_run_reporter.h"

#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>

#include "file_util.h"
#include "json_access.h"
#include "job_views.h"
#include "log.h"
#include "wandb_client.h"
#include "wandb_credentials.h"

namespace wandb_job {
namespace {

using ordered_json = nlohmann::ordered_json;

// --- GraphQL documents (checked against the schema by tests/fake_wandb/check_documents.py) ----

constexpr char kUpsertRun[] = R"(mutation UpsertRun($name: String, $project: String,
    $entity: String, $config: JSONString) {
  upsertBucket(input: {name: $name, modelName: $project, entityName: $entity,
      config: $config}) {
    bucket { id name historyLineCount logLineCount summaryMetrics }
    inserted
  }
})";

constexpr char kJobArtifactQuery[] = R"(query RunJobArtifact($entity: String!, $project: String!,
    $name: String!) {
  project(name: $project, entityName: $entity) {
    artifactCollectionMembership(name: $name) {
      artifact { id }
    }
  }
})";

constexpr char kUseArtifact[] = R"(mutation UseJobArtifact($input: UseArtifactInput!) {
  useArtifact(input: $input) {
    artifact { id }
  }
})";

constexpr size_t kMaxRequestBytes = 1 << 20;  // one file_stream request, roughly

double ClockNow() {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

/// "2006-01-02T15:04:05.000000Z", the timestamp wandb-core puts before each output line.
std::string Rfc3339Micro(double seconds) {
  time_t whole = static_cast<time_t>(seconds);
  int micros = static_cast<int>((seconds - static_cast<double>(whole)) * 1e6);
  struct tm tm_utc;
  gmtime_r(&whole, &tm_utc);
  char buf[40];
  size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm_utc);
  snprintf(buf + n, sizeof(buf) - n, ".%06dZ", std::clamp(micros, 0, 999999));
  return buf;
}

/// What the sender thread takes out for one file_stream request.
struct Batch {
  std::vector<std::string> output, history;
  std::string summary;  // "" when unchanged
  int output_offset = 0, history_offset = 0;
  bool complete = false;
  int exit_code = 0;

  bool Empty() const { return output.empty() && history.empty() && summary.empty() && !complete; }
};

class WandbRunReporter : public RunReporter {
 public:
  WandbRunReporter(std::unique_ptr<WandbClient> client, WandbRunReporterOptions options)
      : client_(std::move(client)), options_(std::move(options)) {
    if (!options_.now) {
      options_.now = ClockNow;
    }
  }

  ~WandbRunReporter() override { Stop(); }

  bool Start(const RunStart& start, std::string* err) override {
    started_at_ = options_.now();
    run_id_ = start.run_id;
    std::string why;
    if (!Create(start, &why)) {
      Disable("creating run " + start.run_id + " on W&B: " + why);
      return true;
    }
    sender_ = std::thread([this] { SendLoop(); });
    return true;
  }

  bool Output(OutputStream stream, std::string_view data, std::string* err) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (disabled_) {
      return true;
    }
    std::string& partial = stream == OutputStream::kStderr ? partial_err_ : partial_out_;
    partial.append(data);
    size_t newline;
    while ((newline = partial.find('\n')) != std::string::npos) {
      std::string line = partial.substr(0, newline);
      partial.erase(0, newline + 1);
      AddLineLocked(stream, line);
    }
    if (pending_bytes_ >= options_.flush_bytes) {
      cv_.notify_one();
    }
    return true;
  }

  bool History(const std::string& row_json, std::string* err) override {
    ordered_json row = ordered_json::parse(row_json, nullptr, false);
    if (!row.is_object()) {
      *err = "a history row is not a JSON object";
      return false;
    }
    double now = options_.now();
    if (!row.contains("_timestamp")) {
      row["_timestamp"] = now;
    }
    if (!row.contains("_runtime")) {
      row["_runtime"] = now - started_at_;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (disabled_) {
      return true;
    }
    for (auto it = row.begin(); it != row.end(); ++it) {
      if (it.key().rfind('_', 0) != 0) {
        last_history_[it.key()] = *it;  // W&B's default summary: the last value of each key
      }
    }
    std::string line = row.dump();
    pending_bytes_ += line.size();
    pending_history_.push_back(std::move(line));
    summary_dirty_ = true;
    return true;
  }

  bool Summary(const std::string& values_json, std::string* err) override {
    ordered_json values = ordered_json::parse(values_json, nullptr, false);
    if (!values.is_object()) {
      *err = "summary values are not a JSON object";
      return false;
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = values.begin(); it != values.end(); ++it) {
      summary_[it.key()] = *it;
    }
    summary_dirty_ = true;
    return true;
  }

  bool Finish(const RunOutcome& outcome, std::string* err) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!partial_out_.empty()) {
        AddLineLocked(OutputStream::kStdout, partial_out_);
        partial_out_.clear();
      }
      if (!partial_err_.empty()) {
        AddLineLocked(OutputStream::kStderr, partial_err_);
        partial_err_.clear();
      }
      complete_ = true;
      exit_code_ = outcome.exit_code;
    }
    Stop();
    return true;
  }

 private:
  /// upsertBucket, then the job's artifact ID and useArtifact. Only the run is essential: a job
  /// that cannot be marked as used is a warning.
  bool Create(const RunStart& start, std::string* err) {
    JobRef ref;
    if (!start.job.empty() && !ParseJobRef(start.job, &ref, err)) {
      *err = "job " + start.job + ": " + *err;
      return false;
    }
    entity_ = !start.entity.empty() ? start.entity : ref.entity;
    if (entity_.empty() && !client_->ViewerEntity(&entity_, err)) {
      return false;
    }
    project_ = !start.project.empty() ? start.project
               : !ref.project.empty() ? ref.project
                                      : "uncategorized";
    std::string config, data;
    if (!WandbRunConfig(start.config.empty() ? "{}" : start.config, &config, err)) {
      return false;
    }
    ordered_json vars = {
        {"name", start.run_id}, {"project", project_}, {"entity", entity_}, {"config", config}};
    if (!client_->Graphql("UpsertRun", kUpsertRun, vars.dump(), &data, err,
                          RequestKind::kUpsertBucket)) {
      return false;
    }
    if (!Resume(data, err)) {
      return false;
    }
    if (ref.name.empty()) {
      return true;
    }
    std::string why;
    if (!UseJob(ref, &why)) {
      Warning("marking job %s as used by run %s: %s", start.job.c_str(), start.run_id.c_str(),
              why.c_str());
    }
    return true;
  }

  /// A run that existed already (a resumed launch) goes on where it stopped: its history and
  /// output lines are appended after the server's, its summary is kept and updated.
  bool Resume(const std::string& upsert_data, std::string* err) {
    ordered_json j = ordered_json::parse(upsert_data, nullptr, false);
    JsonFields<ordered_json> data(j), payload(j), bucket(j);
    bool inserted = true;
    int history = 0, output = 0;
    std::string summary;
    if (!data.Object("upsertBucket", &payload, err) ||
        !payload.Bool("inserted", &inserted, err) ||
        !payload.Object("bucket", &bucket, err, Field::kOptional) ||
        !bucket.Int("historyLineCount", &history, err, Field::kOptional) ||
        !bucket.Int("logLineCount", &output, err, Field::kOptional) ||
        !bucket.String("summaryMetrics", &summary, err, Field::kOptional)) {
      *err = "W&B's reply to upsertBucket is damaged: " + *err;
      return false;
    }
    if (inserted) {
      return true;
    }
    std::lock_guard<std::mutex> lock(mu_);
    history_sent_ = std::max(0, history);
    output_sent_ = std::max(0, output);
    if (!summary.empty()) {
      ordered_json previous = ordered_json::parse(summary, nullptr, false);
      if (previous.is_object()) {
        previous_summary_ = previous;
      }
    }
    return true;
  }

  bool UseJob(const JobRef& ref, std::string* err) {
    std::string entity = ref.entity.empty() ? entity_ : ref.entity;
    std::string project = ref.project.empty() ? project_ : ref.project;
    std::string name = ref.name + ":" + (ref.selector.empty() ? "latest" : ref.selector);
    ordered_json vars = {{"entity", entity}, {"project", project}, {"name", name}};
    std::string data;
    if (!client_->Graphql("RunJobArtifact", kJobArtifactQuery, vars.dump(), &data, err)) {
      return false;
    }
    ordered_json j = ordered_json::parse(data, nullptr, false);
    const ordered_json* id = nullptr;
    if (j.is_object()) {
      ordered_json::json_pointer p("/project/artifactCollectionMembership/artifact/id");
      if (j.contains(p) && j[p].is_string()) {
        id = &j[p];
      }
    }
    if (id == nullptr) {
      *err = "no job " + entity + "/" + project + "/" + name + " on W&B";
      return false;
    }
    ordered_json input = {{"artifactID", *id},
                          {"entityName", entity_},
                          {"projectName", project_},
                          {"runName", run_id_}};
    return client_->Graphql("UseJobArtifact", kUseArtifact, ordered_json({{"input", input}}).dump(),
                            &data, err);
  }

  void AddLineLocked(OutputStream stream, const std::string& line) {
    std::string text = (stream == OutputStream::kStderr ? "ERROR " : "") +
                       Rfc3339Micro(options_.now()) + " " + line;
    pending_bytes_ += text.size();
    pending_output_.push_back(std::move(text));
  }

  /// Gives the warning once and drops everything from now on.
  void Disable(const std::string& why) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!disabled_) {
      Warning("%s; the run goes on without being reported", why.c_str());
    }
    disabled_ = true;
    pending_output_.clear();
    pending_history_.clear();
    pending_bytes_ = 0;
  }

  /// Takes at most about kMaxRequestBytes of pending lines; the summary when it changed; the
  /// exit code once nothing else is left.
  Batch TakeLocked() {
    Batch batch;
    batch.output_offset = output_sent_;
    batch.history_offset = history_sent_;
    size_t bytes = 0;
    while (!pending_history_.empty() && bytes < kMaxRequestBytes) {
      bytes += pending_history_.front().size();
      batch.history.push_back(std::move(pending_history_.front()));
      pending_history_.pop_front();
    }
    while (!pending_output_.empty() && bytes < kMaxRequestBytes) {
      bytes += pending_output_.front().size();
      batch.output.push_back(std::move(pending_output_.front()));
      pending_output_.pop_front();
    }
    pending_bytes_ -= std::min(pending_bytes_, bytes);
    output_sent_ += static_cast<int>(batch.output.size());
    history_sent_ += static_cast<int>(batch.history.size());
    if (summary_dirty_) {
      // The resumed run's summary, then the last history values, then explicit summary values.
      ordered_json summary = previous_summary_;
      for (const ordered_json* layer : {&last_history_, &summary_}) {
        for (auto it = layer->begin(); it != layer->end(); ++it) {
          summary[it.key()] = *it;
        }
      }
      batch.summary = summary.dump();
      summary_dirty_ = false;
    }
    if (complete_ && pending_output_.empty() && pending_history_.empty()) {
      batch.complete = true;
      batch.exit_code = exit_code_;
    }
    return batch;
  }

  bool Send(const Batch& batch, std::string* err) {
    ordered_json files = ordered_json::object();
    if (!batch.history.empty()) {
      files["wandb-history.jsonl"] = {{"offset", batch.history_offset}, {"content", batch.history}};
    }
    if (!batch.summary.empty()) {
      files["wandb-summary.json"] = {{"offset", 0},
                                     {"content", std::vector<std::string>{batch.summary}}};
    }
    if (!batch.output.empty()) {
      files["output.log"] = {{"offset", batch.output_offset}, {"content", batch.output}};
    }
    ordered_json body = ordered_json::object();
    if (!files.empty()) {
      body["files"] = files;
    }
    if (batch.complete) {
      body["complete"] = true;
      body["exitcode"] = batch.exit_code;
    }
    HttpRequest request;
    request.method = "POST";
    request.url = client_->options().base_url + "/files/" + UrlEncode(entity_) + "/" +
                  UrlEncode(project_) + "/" + UrlEncode(run_id_) + "/file_stream";
    request.headers = {{"Content-Type", "application/json"}};
    request.body = body.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
    request.timeout_seconds = 60;
    HttpResponse response;
    return client_->Send(nullptr, request, RequestKind::kFileStream, "file_stream", &response, err);
  }

  void SendLoop() {
    const auto interval = std::chrono::duration<double>(options_.flush_seconds);
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait_for(lock, interval,
                   [this] { return stop_ || complete_ || pending_bytes_ >= options_.flush_bytes; });
      bool finishing = stop_ || complete_;
      Batch batch = TakeLocked();
      if (!disabled_ && !batch.Empty()) {
        lock.unlock();
        std::string err;
        bool ok = Send(batch, &err);
        if (!ok) {
          Disable("streaming run " + run_id_ + " to W&B: " + err);
        }
        lock.lock();
      }
      if (finishing && (disabled_ || batch.complete ||
                        (!complete_ && pending_output_.empty() && pending_history_.empty()))) {
        return;
      }
    }
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    if (sender_.joinable()) {
      sender_.join();
    }
  }

  std::unique_ptr<WandbClient> client_;
  WandbRunReporterOptions options_;
  std::string entity_, project_, run_id_;
  double started_at_ = 0;
  std::thread sender_;

  std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  bool disabled_ = false, stop_ = false, complete_ = false;
  int exit_code_ = 0;
  std::string partial_out_, partial_err_;
  std::deque<std::string> pending_output_, pending_history_;
  size_t pending_bytes_ = 0;
  int output_sent_ = 0, history_sent_ = 0;
  bool summary_dirty_ = false;
  ordered_json previous_summary_ = ordered_json::object();
  ordered_json summary_ = ordered_json::object();
  ordered_json last_history_ = ordered_json::object();
};

}  // namespace

bool WandbRunConfig(const std::string& config_json, std::string* out, std::string* err) {
  ordered_json config = ordered_json::parse(config_json, nullptr, false);
  if (!config.is_object()) {
    *err = "the run config is not a JSON object";
    return false;
  }
  ordered_json wrapped = ordered_json::object();
  for (auto it = config.begin(); it != config.end(); ++it) {
    wrapped[it.key()] = {{"value", *it}};
  }
  *out = wrapped.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
  return true;
}

std::unique_ptr<RunReporter> MakeWandbRunReporter(std::unique_ptr<WandbClient> client,
                                                  WandbRunReporterOptions options) {
  return std::make_unique<WandbRunReporter>(std::move(client), std::move(options));
}

bool OpenWandbRunReporter(std::unique_ptr<RunReporter>* out, std::string* err) {
  out->reset();
  WandbCredentials credentials;
  if (!LoadWandbCredentials(&credentials, err)) {
    return false;
  }
  if (!credentials.UseWandb()) {
    return true;
  }
  WandbClientOptions options;
  options.base_url = credentials.base_url;
  options.api_key = credentials.api_key;
  options.progress = ProgressMode::kNone;
  // A W&B outage delays the program's start by the retries of upsertBucket: keep them few.
  options.retry.max_retries = std::min(options.retry.max_retries, 4);
  options.retry.max_seconds = std::min(options.retry.max_seconds, 8.0);
  *out = MakeWandbRunReporter(std::make_unique<WandbClient>(std::move(options)));
  return true;
}

}  // namespace wandb_job
