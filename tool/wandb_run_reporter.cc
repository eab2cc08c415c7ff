#include "wandb_run_reporter.h"

#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>

#include "file_util.h"
#include "job_views.h"
#include "json_access.h"
#include "log.h"
#include "publish.h"
#include "wandb_client.h"
#include "wandb_credentials.h"

namespace wandb_job {
namespace {

using ordered_json = nlohmann::ordered_json;

// --- GraphQL documents (checked against the schema by tests/fake_wandb/check_documents.py) ----

constexpr char kUpsertRun[] = R"(mutation UpsertRun($name: String, $project: String,
    $entity: String, $config: JSONString, $host: String, $program: String, $commit: String,
    $repo: String) {
  upsertBucket(input: {name: $name, modelName: $project, entityName: $entity,
      config: $config, host: $host, jobProgram: $program, commit: $commit, jobRepo: $repo}) {
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

constexpr char kCreateRunFiles[] = R"(mutation CreateRunFiles($entity: String!,
    $project: String!, $run: String!, $files: [String!]!) {
  createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run,
      files: $files}) {
    runID
    uploadHeaders
    files { name uploadUrl }
  }
})";

constexpr size_t kMaxRequestBytes = 1 << 20;  // one file_stream request, roughly

std::string HostName() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) {
    return "";
  }
  return buf;
}

/// "2006-01-02T15:04:05.000000", Python's datetime.isoformat() of a UTC time (the SDK's
/// startedAt).
std::string IsoFormatUtc(double seconds) {
  time_t whole = static_cast<time_t>(seconds);
  int micros = static_cast<int>((seconds - static_cast<double>(whole)) * 1e6);
  struct tm tm_utc;
  gmtime_r(&whole, &tm_utc);
  char buf[40];
  size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm_utc);
  snprintf(buf + n, sizeof(buf) - n, ".%06d", std::clamp(micros, 0, 999999));
  return buf;
}

/// A key as YAML reads it back as the same string: plain when safe, else double-quoted.
std::string YamlKey(const std::string& key) {
  static const char* const kReserved[] = {"y", "n", "yes", "no", "on", "off", "true", "false",
                                          "null", "~"};
  bool plain = !key.empty() && (isalpha(static_cast<unsigned char>(key[0])) || key[0] == '_');
  for (char c : key) {
    plain = plain && (isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  }
  for (const char* word : kReserved) {
    plain = plain && strcasecmp(key.c_str(), word) != 0;
  }
  return plain ? key : ordered_json(key).dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

/// A scalar in YAML: JSON's text, which YAML reads as the same value, except that PyYAML reads
/// an exponent without a fraction ("1e-05") as a string.
std::string YamlScalar(const ordered_json& v) {
  std::string text = v.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
  if (v.is_number_float()) {
    size_t e = text.find_first_of("eE");
    if (e != std::string::npos && text.find('.') == std::string::npos) {
      text.insert(e, ".0");
    }
  }
  return text;
}

/// `v` after a "key:" or "-" already written, as block YAML indented by `indent`.
void AppendYaml(const ordered_json& v, int indent, std::string* out) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  if (v.is_object() && !v.empty()) {
    *out += "\n";
    for (auto it = v.begin(); it != v.end(); ++it) {
      *out += pad + YamlKey(it.key()) + ":";
      AppendYaml(*it, indent + 2, out);
    }
  } else if (v.is_array() && !v.empty()) {
    *out += "\n";
    for (const ordered_json& item : v) {
      *out += pad + "-";
      AppendYaml(item, indent + 2, out);
    }
  } else {
    *out += " " + (v.is_object() ? std::string("{}") : v.is_array() ? "[]" : YamlScalar(v)) + "\n";
  }
}

double ClockNow() {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

/// "2006-01-02T15:04:05.000000Z", the timestamp wandb-core puts before each output line.
std::string Rfc3339Micro(double seconds) { return IsoFormatUtc(seconds) + "Z"; }

/// Lines waiting for file_stream, on disk: a slow or stalled server costs disk space, never the
/// program's time or the shim's memory. The file is unlinked at once; a small buffer saves a
/// write per line. Not thread-safe: the reporter's lock guards it.
class LineSpool {
 public:
  ~LineSpool() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }

  bool Open(std::string* err) {
    std::string tmp = GetEnv("TMPDIR");
    std::string path = (tmp.empty() ? std::string("/tmp") : tmp) + "/wandb-job-stream.XXXXXX";
    fd_ = mkostemp(path.data(), O_CLOEXEC);
    if (fd_ < 0) {
      *err = "creating a spool file in " + path + ": " + strerror(errno);
      return false;
    }
    unlink(path.c_str());
    return true;
  }

  /// Appends `line` and a newline; false when the disk refuses it.
  bool Append(std::string_view line, std::string* err) {
    buffer_.append(line);
    buffer_ += '\n';
    return buffer_.size() < kBufferBytes || Flush(err);
  }

  /// Takes whole lines, in order, until about `max_bytes` are taken or none are left.
  bool Take(size_t max_bytes, std::vector<std::string>* lines, size_t* bytes, std::string* err) {
    if (!Flush(err)) {
      return false;
    }
    std::string data;
    char chunk[1 << 16];
    size_t start = 0;
    while (read_ < written_ && *bytes < max_bytes) {
      ssize_t n = pread(fd_, chunk, std::min<uint64_t>(sizeof(chunk), written_ - read_),
                        static_cast<off_t>(read_));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        *err = std::string("reading the spool file: ") + (n < 0 ? strerror(errno) : "truncated");
        return false;
      }
      read_ += static_cast<uint64_t>(n);
      data.append(chunk, static_cast<size_t>(n));
      size_t newline;
      while (*bytes < max_bytes && (newline = data.find('\n', start)) != std::string::npos) {
        lines->emplace_back(data, start, newline - start);
        *bytes += newline - start;
        start = newline + 1;
      }
    }
    read_ -= data.size() - start;  // a line not taken is read again next time
    return true;
  }

  uint64_t Pending() const { return written_ + buffer_.size() - read_; }
  /// Forgets what is pending (reporting is off).
  void Drop() {
    buffer_.clear();
    read_ = written_;
  }

 private:
  static constexpr size_t kBufferBytes = 1 << 16;

  bool Flush(std::string* err) {
    if (buffer_.empty()) {
      return true;
    }
    if (fd_ < 0 || pwrite(fd_, buffer_.data(), buffer_.size(), static_cast<off_t>(written_)) !=
                       static_cast<ssize_t>(buffer_.size())) {
      *err = std::string("writing the spool file: ") + strerror(errno);
      return false;
    }
    written_ += buffer_.size();
    buffer_.clear();
    return true;
  }

  int fd_ = -1;
  std::string buffer_;
  uint64_t written_ = 0, read_ = 0;
};

/// What the sender thread takes out for one file_stream request.
struct Batch {
  std::vector<std::string> output, history;
  std::string summary;  // "" when unchanged
  int output_offset = 0, history_offset = 0;
  bool complete = false;
  int exit_code = 0;
  std::string final_summary;  // with `complete`: the whole summary, for wandb-summary.json

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

  ~WandbRunReporter() override {
    Stop();
    if (spool_fd_ >= 0) {
      close(spool_fd_);
    }
    if (!spool_path_.empty()) {
      unlink(spool_path_.c_str());
    }
  }

  bool Start(const RunStart& start, std::string* err) override {
    started_at_ = options_.now();
    run_id_ = start.run_id;
    metadata_ = RunMetadataJson(start, started_at_);
    std::string why;
    if (!RunConfigYaml(start.config.empty() ? "{}" : start.config, &config_yaml_, &why) ||
        !Create(start, &why)) {
      Disable("creating run " + start.run_id + " on W&B: " + why);
      return true;
    }
    OpenSpool();
    if (!output_lines_.Open(&why) || !history_lines_.Open(&why)) {
      Disable("streaming run " + run_id_ + " to W&B: " + why);
      return true;
    }
    // Finish waits this long for W&B to take the run's tail; then the process exits anyway.
    client_->SetCancelled([this] { return cancelled_.load(); });
    Info("View run %s at %s", run_id_.c_str(),
         RunUrl(WandbAppUrl(client_->options().base_url, GetEnv("WANDB_APP_URL")), entity_,
                project_, run_id_)
             .c_str());
    sender_ = std::thread([this] {
      SendLoop();
      std::lock_guard<std::mutex> lock(mu_);
      sender_done_ = true;
      sender_done_cv_.notify_all();
    });
    return true;
  }

  bool Output(OutputStream stream, std::string_view data, std::string* err) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (disabled_) {
      return true;
    }
    if (spool_fd_ >= 0 && !WriteAllFd(spool_fd_, data)) {
      // output.log is then not uploaded; the stream still carries the lines.
      close(spool_fd_);
      spool_fd_ = -1;
      unlink(spool_path_.c_str());
      spool_path_.clear();
    }
    std::string& partial = stream == OutputStream::kStderr ? partial_err_ : partial_out_;
    partial.append(data);
    // Lines are taken in place; only the unfinished last line moves to the front, once.
    size_t start = 0, newline;
    while ((newline = partial.find('\n', start)) != std::string::npos) {
      AddLineLocked(stream, std::string_view(partial).substr(start, newline - start));
      start = newline + 1;
    }
    partial.erase(0, start);
    if (partial.size() >= kMaxRequestBytes) {  // a line without end: sent in pieces
      AddLineLocked(stream, partial);
      partial.clear();
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
      } else if (it.key() == "_step" || it.key() == "_runtime" || it.key() == "_timestamp") {
        last_row_meta_[it.key()] = *it;
      }
    }
    std::string line = row.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
    pending_bytes_ += line.size();
    if (!history_lines_.Append(line, err)) {
      disabled_ = true;  // the disk is full: reporting goes, the program runs on
      return false;
    }
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
    // What the SDK's upsert_run sends beside: where the run ran and what it ran.
    vars["host"] = HostName();
    if (!start.argv.empty()) {
      vars["program"] = start.argv[0];
    }
    if (!start.git_commit.empty()) {
      vars["commit"] = start.git_commit;
    }
    if (!start.git_remote.empty()) {
      vars["repo"] = start.git_remote;
    }
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

  void AddLineLocked(OutputStream stream, std::string_view line) {
    std::string text = (stream == OutputStream::kStderr ? "ERROR " : "") +
                       Rfc3339Micro(options_.now()) + " ";
    text.append(line);
    pending_bytes_ += text.size();
    std::string err;
    if (!output_lines_.Append(text, &err) && !spool_warned_) {
      Warning("spooling the output of run %s: %s; lines are lost", run_id_.c_str(), err.c_str());
      spool_warned_ = true;
    }
  }

  /// Gives the warning once and drops everything from now on.
  void Disable(const std::string& why) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!disabled_) {
      Warning("%s; the run goes on without being reported", why.c_str());
    }
    disabled_ = true;
    output_lines_.Drop();
    history_lines_.Drop();
    pending_bytes_ = 0;
  }

  /// Takes at most about kMaxRequestBytes of pending lines; the summary when it changed; the
  /// exit code once nothing else is left.
  Batch TakeLocked() {
    Batch batch;
    batch.output_offset = output_sent_;
    batch.history_offset = history_sent_;
    size_t bytes = 0;
    std::string err;
    if (!history_lines_.Take(kMaxRequestBytes, &batch.history, &bytes, &err) ||
        !output_lines_.Take(kMaxRequestBytes, &batch.output, &bytes, &err)) {
      Warning("streaming run %s to W&B: %s; the run goes on without being reported",
              run_id_.c_str(), err.c_str());
      disabled_ = true;
      output_lines_.Drop();
      history_lines_.Drop();
    }
    pending_bytes_ = output_lines_.Pending() + history_lines_.Pending();
    output_sent_ += static_cast<int>(batch.output.size());
    history_sent_ += static_cast<int>(batch.history.size());
    if (summary_dirty_) {
      batch.summary = MergedSummaryLocked().dump();
      summary_dirty_ = false;
    }
    if (complete_ && output_lines_.Pending() == 0 && history_lines_.Pending() == 0) {
      batch.complete = true;
      batch.exit_code = exit_code_;
      // wandb-summary.json as the SDK writes it at the end: with the last row's _step,
      // _runtime and _timestamp, and _wandb.runtime in whole seconds.
      ordered_json summary = last_row_meta_;
      ordered_json merged = MergedSummaryLocked();
      for (auto it = merged.begin(); it != merged.end(); ++it) {
        summary[it.key()] = *it;
      }
      summary["_wandb"] = {{"runtime", static_cast<int64_t>(options_.now() - started_at_)}};
      batch.final_summary = summary.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
    }
    return batch;
  }

  /// The resumed run's summary, then the last history values, then explicit summary values.
  ordered_json MergedSummaryLocked() const {
    ordered_json summary = previous_summary_;
    for (const ordered_json* layer : {&last_history_, &summary_}) {
      for (auto it = layer->begin(); it != layer->end(); ++it) {
        summary[it.key()] = *it;
      }
    }
    return summary;
  }

  bool Send(const Batch& batch, const std::vector<std::string>& uploaded, std::string* err) {
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
    if (!uploaded.empty()) {
      body["uploaded"] = uploaded;
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
    // The files the SDK saves when a run starts; their names go with the next request.
    std::vector<std::string> uploaded = UploadFiles(
        {{"wandb-metadata.json", metadata_, ""}, {"config.yaml", config_yaml_, ""}});
    const auto interval = std::chrono::duration<double>(options_.flush_seconds);
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait_for(lock, interval,
                   [this] { return stop_ || complete_ || pending_bytes_ >= options_.flush_bytes; });
      bool finishing = stop_ || complete_;
      Batch batch = TakeLocked();
      if (!disabled_ && (!batch.Empty() || !uploaded.empty())) {
        lock.unlock();
        if (batch.complete) {
          // The files the SDK saves when a run ends, before the request that completes it.
          std::vector<std::string> more = UploadFiles(
              {{"wandb-summary.json", batch.final_summary, ""}, {"output.log", "", spool_path_}});
          uploaded.insert(uploaded.end(), more.begin(), more.end());
        }
        std::string err;
        bool ok = Send(batch, uploaded, &err);
        uploaded.clear();
        if (!ok && cancelled_) {
          return;  // Stop() says what was left unsent
        }
        if (!ok) {
          Disable("streaming run " + run_id_ + " to W&B: " + err);
        }
        lock.lock();
      }
      if (finishing &&
          (disabled_ || batch.complete ||
           (!complete_ && output_lines_.Pending() == 0 && history_lines_.Pending() == 0))) {
        return;
      }
    }
  }

  /// A run file: its name and content, in memory or in a file.
  struct RunFile {
    std::string name, content, path;
  };

  /// createRunFiles, then a PUT of each file to its URL. A failure is a warning, once: the run
  /// itself goes on streaming. Returns the names uploaded.
  std::vector<std::string> UploadFiles(const std::vector<RunFile>& files) {
    std::vector<std::string> names;
    for (const RunFile& f : files) {
      bool spool_lost = f.name == "output.log" && f.path.empty();
      if (!spool_lost) {
        names.push_back(f.name);
      }
    }
    std::string err;
    if (names.empty() || UploadFilesOrFail(files, names, &err)) {
      return names;
    }
    if (!upload_warned_) {
      Warning("uploading the files of run %s to W&B: %s", run_id_.c_str(), err.c_str());
      upload_warned_ = true;
    }
    return {};
  }

  bool UploadFilesOrFail(const std::vector<RunFile>& files, const std::vector<std::string>& names,
                         std::string* err) {
    ordered_json vars = {
        {"entity", entity_}, {"project", project_}, {"run", run_id_}, {"files", names}};
    std::string data;
    if (!client_->Graphql("CreateRunFiles", kCreateRunFiles, vars.dump(), &data, err)) {
      return false;
    }
    ordered_json j = ordered_json::parse(data, nullptr, false);
    ordered_json::json_pointer payload("/createRunFiles");
    if (!j.is_object() || !j.contains(payload) || !j[payload].is_object() ||
        !j[payload].contains("files") || !j[payload]["files"].is_array()) {
      *err = "W&B's reply to createRunFiles is damaged";
      return false;
    }
    HttpHeaders headers;
    if (j[payload].contains("uploadHeaders") && j[payload]["uploadHeaders"].is_array()) {
      for (const ordered_json& h : j[payload]["uploadHeaders"]) {
        std::string line = h.is_string() ? h.get<std::string>() : "";
        size_t colon = line.find(':');
        if (colon != std::string::npos) {
          size_t value = line.find_first_not_of(' ', colon + 1);
          headers.emplace_back(line.substr(0, colon),
                               value == std::string::npos ? "" : line.substr(value));
        }
      }
    }
    for (const RunFile& f : files) {
      std::string url;
      for (const ordered_json& node : j[payload]["files"]) {
        if (node.is_object() && node.value("name", "") == f.name &&
            node.contains("uploadUrl") && node["uploadUrl"].is_string()) {
          url = node["uploadUrl"].get<std::string>();
        }
      }
      if (url.empty()) {
        continue;  // not asked for, or the server needs no upload
      }
      HttpRequest request;
      request.method = "PUT";
      request.url = url;
      request.headers = headers;
      if (f.path.empty()) {
        request.body = f.content;
      } else {
        request.body_file = f.path;
      }
      HttpResponse response;
      if (!client_->Send(nullptr, request, RequestKind::kUpload, "uploading " + f.name,
                         &response, err)) {
        return false;
      }
    }
    return true;
  }

  /// A private file that keeps the program's output for output.log; none when it cannot be
  /// made (the lines still stream).
  void OpenSpool() {
    std::string tmp = GetEnv("TMPDIR");
    std::string path = (tmp.empty() ? std::string("/tmp") : tmp) + "/wandb-job-output.XXXXXX";
    int fd = mkstemp(path.data());
    if (fd >= 0) {
      fcntl(fd, F_SETFD, FD_CLOEXEC);
      spool_fd_ = fd;
      spool_path_ = path;
    }
  }

  /// Ends the sender: it sends what is left, for at most exit_flush_seconds; then its request
  /// is cancelled (within about a second), so a stalled server never holds the program's exit.
  void Stop() {
    std::unique_lock<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_one();
    if (!sender_.joinable()) {
      return;
    }
    auto bound = std::chrono::duration<double>(options_.exit_flush_seconds);
    if (!sender_done_cv_.wait_for(lock, bound, [this] { return sender_done_; })) {
      cancelled_ = true;
      Warning(
          "W&B did not take the end of run %s within %g s (WANDB_JOB_EXIT_FLUSH_SECONDS); "
          "its last output and metrics are not sent and it may stay running on W&B",
          run_id_.c_str(), options_.exit_flush_seconds);
    }
    lock.unlock();
    sender_.join();
  }

  std::unique_ptr<WandbClient> client_;
  WandbRunReporterOptions options_;
  std::string entity_, project_, run_id_;
  double started_at_ = 0;
  std::string metadata_, config_yaml_;  // wandb-metadata.json and config.yaml
  int spool_fd_ = -1;                   // the program's output, for output.log
  std::string spool_path_;
  bool upload_warned_ = false;          // sender thread only
  std::thread sender_;
  std::atomic<bool> cancelled_{false};  // the exit bound passed: requests stop

  std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  bool disabled_ = false, stop_ = false, complete_ = false;
  int exit_code_ = 0;
  std::string partial_out_, partial_err_;
  LineSpool output_lines_, history_lines_;  // taken by the sender in batches
  bool spool_warned_ = false;
  std::condition_variable sender_done_cv_;
  bool sender_done_ = false;
  size_t pending_bytes_ = 0;
  int output_sent_ = 0, history_sent_ = 0;
  bool summary_dirty_ = false;
  ordered_json previous_summary_ = ordered_json::object();
  ordered_json summary_ = ordered_json::object();
  ordered_json last_history_ = ordered_json::object();
  ordered_json last_row_meta_ = ordered_json::object();  // the last row's _step, _runtime, ...
};

}  // namespace

double ExitFlushSecondsFromEnv() {
  std::string text = GetEnv("WANDB_JOB_EXIT_FLUSH_SECONDS");
  char* end = nullptr;
  double seconds = text.empty() ? -1 : strtod(text.c_str(), &end);
  if (text.empty() || end == nullptr || *end != '\0' || !(seconds >= 0) || seconds > 1e6) {
    if (!text.empty()) {
      Warning("WANDB_JOB_EXIT_FLUSH_SECONDS=%s is not a number of seconds; using 30", text.c_str());
    }
    return 30;
  }
  return seconds;
}

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

std::string RunMetadataJson(const RunStart& start, double started_at) {
  ordered_json m = ordered_json::object();
  struct utsname u;
  if (uname(&u) == 0) {
    m["os"] = std::string(u.sysname) + "-" + u.release + "-" + u.machine;
  }
  m["heartbeatAt"] = IsoFormatUtc(started_at);
  m["startedAt"] = IsoFormatUtc(started_at);
  std::string docker = GetEnv("WANDB_DOCKER");
  m["docker"] = docker.empty() ? ordered_json(nullptr) : ordered_json(docker);
  m["args"] = start.argv.empty()
                  ? ordered_json::array()
                  : ordered_json(std::vector<std::string>(start.argv.begin() + 1, start.argv.end()));
  m["state"] = "running";
  if (!start.argv.empty()) {
    m["program"] = start.argv[0];
  }
  if (!start.git_remote.empty() || !start.git_commit.empty()) {
    m["git"] = {{"remote", start.git_remote}, {"commit", start.git_commit}};
  }
  std::string root = start.workdir;
  if (root.empty()) {
    char cwd[4096];
    root = getcwd(cwd, sizeof(cwd)) != nullptr ? cwd : "";
  }
  m["root"] = root;
  m["host"] = HostName();
  std::string user = GetEnv("USER");
  if (struct passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_name != nullptr) {
    user = pw->pw_name;
  }
  m["username"] = user;
  if (!start.argv.empty()) {
    m["executable"] = start.argv[0];
  }
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus > 0) {
    m["cpu_count"] = cpus;
    m["cpu_count_logical"] = cpus;
  }
  return m.dump(4, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

bool RunConfigYaml(const std::string& config_json, std::string* out, std::string* err) {
  ordered_json config = ordered_json::parse(config_json, nullptr, false);
  if (!config.is_object()) {
    *err = "the run config is not a JSON object";
    return false;
  }
  std::string yaml = "wandb_version: 1\n";
  for (auto it = config.begin(); it != config.end(); ++it) {
    yaml += "\n" + YamlKey(it.key()) + ":\n  desc: null\n  value:";
    AppendYaml(*it, 4, &yaml);
  }
  *out = std::move(yaml);
  return true;
}

std::string RunUrl(const std::string& app_url, const std::string& entity,
                   const std::string& project, const std::string& run_id) {
  return app_url + "/" + UrlEncode(entity) + "/" + UrlEncode(project) + "/runs/" +
         UrlEncode(run_id);
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
