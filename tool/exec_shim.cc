#include "exec_shim.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>

#include "atomic_file.h"
#include "file_util.h"
#include "job_args.h"
#include "job_store.h"
#include "job_views.h"
#include "log.h"
#include "wandb_types.h"

extern char** environ;

namespace wandb_job {
namespace {

using ordered_json = nlohmann::ordered_json;

constexpr int kForwardedSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

bool ParseObject(const std::string& text, const std::string& what, ordered_json* out,
                 std::string* err) {
  *out = ordered_json::parse(text, nullptr, false);
  if (out->is_discarded() || !out->is_object()) {
    *err = what + " is not a JSON object";
    return false;
  }
  return true;
}

/// NAME, else NAME_0, NAME_1, ... concatenated (as include/wandb/job.h reads them).
std::string ReadChunked(const std::string& name, std::string* source) {
  if (const char* whole = getenv(name.c_str())) {
    *source = name;
    return whole;
  }
  std::string text;
  int n = 0;
  while (const char* chunk = getenv((name + "_" + std::to_string(n)).c_str())) {
    text += chunk;
    ++n;
  }
  *source = n == 0 ? "" : name + "_0.." + name + "_" + std::to_string(n - 1);
  return text;
}

// --- signals ------------------------------------------------------------------------------

std::atomic<pid_t> g_child{0};
std::atomic<int> g_forwarded{0};

void ForwardSignal(int signo, siginfo_t* info, void*) {
  // A terminal's ^C or ^\ reaches the whole foreground process group, the program included:
  // forwarding it again would deliver it twice.
  if (info != nullptr && info->si_code == SI_KERNEL) {
    return;
  }
  pid_t child = g_child.load();
  if (child > 0) {
    g_forwarded.store(signo);
    kill(child, signo);
  }
}

/// Installs the forwarding handlers; restores the previous ones on destruction.
class SignalForwarder {
 public:
  SignalForwarder() {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = ForwardSignal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < std::size(kForwardedSignals); ++i) {
      sigaction(kForwardedSignals[i], &sa, &previous_[i]);
    }
    struct sigaction ignore;
    memset(&ignore, 0, sizeof(ignore));
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, &previous_pipe_);
  }
  ~SignalForwarder() {
    for (size_t i = 0; i < std::size(kForwardedSignals); ++i) {
      sigaction(kForwardedSignals[i], &previous_[i], nullptr);
    }
    sigaction(SIGPIPE, &previous_pipe_, nullptr);
    g_child.store(0);
  }

 private:
  struct sigaction previous_[std::size(kForwardedSignals)];
  struct sigaction previous_pipe_;
};

// --- the child ------------------------------------------------------------------------------

struct Pipe {
  int fds[2] = {-1, -1};
  ~Pipe() { CloseBoth(); }
  bool Open(std::string* err) {
    if (pipe2(fds, O_CLOEXEC) != 0) {
      *err = std::string("creating a pipe: ") + strerror(errno);
      return false;
    }
    return true;
  }
  void Close(int i) {
    if (fds[i] >= 0) {
      close(fds[i]);
      fds[i] = -1;
    }
  }
  void CloseBoth() {
    Close(0);
    Close(1);
  }
};

/// The program's environment: ours, without WANDB_CONFIG and its chunks, plus `extra`.
std::vector<std::string> ChildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    bool replaced = name == "WANDB_CONFIG" || name.rfind("WANDB_CONFIG_", 0) == 0;
    for (const auto& [key, value] : extra) {
      replaced = replaced || name == key;
    }
    if (!replaced) {
      env.emplace_back(entry);
    }
  }
  for (const auto& [key, value] : extra) {
    env.push_back(key + "=" + value);
  }
  return env;
}

/// Forks and execs; the child's stdout/stderr go to the pipes' write ends when given. Reports
/// exec failures through a close-on-exec pipe, so "not found" is an error here, not exit 127.
bool Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
           const std::string& workdir, int out_fd, int err_fd, pid_t* pid, std::string* err) {
  std::vector<char*> cargv, cenv;
  for (const std::string& a : argv) {
    cargv.push_back(const_cast<char*>(a.c_str()));
  }
  cargv.push_back(nullptr);
  for (const std::string& e : env) {
    cenv.push_back(const_cast<char*>(e.c_str()));
  }
  cenv.push_back(nullptr);
  Pipe status;
  if (!status.Open(err)) {
    return false;
  }
  // Signals stay blocked until the child's pid is known, so none is lost in between.
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t child = fork();
  if (child == 0) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int signo : kForwardedSignals) {
      sigaction(signo, &dfl, nullptr);
    }
    sigaction(SIGPIPE, &dfl, nullptr);
    sigprocmask(SIG_SETMASK, &old, nullptr);
    if ((out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0) ||
        (err_fd >= 0 && dup2(err_fd, STDERR_FILENO) < 0) ||
        (!workdir.empty() && chdir(workdir.c_str()) != 0)) {
      int e = errno;
      (void)!write(status.fds[1], &e, sizeof(e));
      _exit(127);
    }
    execvpe(cargv[0], cargv.data(), cenv.data());
    int e = errno;
    (void)!write(status.fds[1], &e, sizeof(e));
    _exit(127);
  }
  int fork_errno = errno;
  if (child > 0) {
    g_child.store(child);
  }
  sigprocmask(SIG_SETMASK, &old, nullptr);
  if (child < 0) {
    *err = std::string("fork: ") + strerror(fork_errno);
    return false;
  }
  status.Close(1);
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(status.fds[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof(child_errno))) {
    int ignored;
    while (waitpid(child, &ignored, 0) < 0 && errno == EINTR) {
    }
    g_child.store(0);
    *err = "cannot run " + argv[0] + ": " + strerror(child_errno);
    return false;
  }
  *pid = child;
  return true;
}

}  // namespace

MetricsReader::MetricsReader(std::string path, RunReporter* reporter)
    : path_(std::move(path)), reporter_(reporter) {}

void MetricsReader::Poll() {
  if (reporter_ == nullptr) {
    return;
  }
  int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return;
  }
  if (lseek(fd, offset_, SEEK_SET) == offset_) {
    char buf[1 << 16];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
      pending_.append(buf, static_cast<size_t>(n));
      offset_ += n;
    }
  }
  close(fd);
  // Lines are handled in place; only the unfinished last line moves to the front, once.
  size_t start = 0, newline;
  while ((newline = pending_.find('\n', start)) != std::string::npos) {
    Handle(std::string_view(pending_).substr(start, newline - start));
    start = newline + 1;
  }
  if (start > 0) {
    bytes_moved_ += pending_.size() - start;
    pending_.erase(0, start);
  }
}

void MetricsReader::Handle(std::string_view line) {
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
    return;
  }
  ordered_json j = ordered_json::parse(line, nullptr, false);
  std::string err;
  bool ok = true;
  if (j.is_object() && j.contains("history") && j["history"].is_object()) {
    ordered_json& row = j["history"];
    if (!row.contains("_step") || !row["_step"].is_number_integer()) {
      row["_step"] = next_step_;
    }
    next_step_ = row["_step"].get<int64_t>() + 1;
    ok = reporter_->History(row.dump(), &err);
  } else if (j.is_object() && j.contains("summary") && j["summary"].is_object()) {
    ok = reporter_->Summary(j["summary"].dump(), &err);
  } else {
    std::string shown(line.substr(0, 80));
    Warning("ignoring a malformed line of the metrics file: %s", shown.c_str());
  }
  if (!ok) {
    Warning("recording metrics: %s", err.c_str());
  }
}

namespace {

/// Copies the program's output to ours and to the reporter until both pipes close (or, once the
/// program has exited, until nothing arrives for a while: a daemon it left may hold them).
int Pump(pid_t child, int out_fd, int err_fd, RunReporter* reporter, MetricsReader* metrics) {
  struct pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  const int targets[2] = {STDOUT_FILENO, STDERR_FILENO};
  const OutputStream streams[2] = {OutputStream::kStdout, OutputStream::kStderr};
  int status = 0;
  bool exited = false;
  int idle_after_exit = 0;
  bool warned = false;
  char buf[1 << 15];
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    int ready = poll(fds, 2, 100);
    if (ready < 0 && errno != EINTR) {
      break;
    }
    bool got = false;
    for (int i = 0; i < 2 && ready > 0; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        continue;
      }
      got = true;
      std::string_view data(buf, static_cast<size_t>(n));
      WriteAllFd(targets[i], data);
      std::string err;
      if (reporter != nullptr && !reporter->Output(streams[i], data, &err) && !warned) {
        Warning("recording the program's output: %s", err.c_str());
        warned = true;
      }
    }
    metrics->Poll();
    if (!exited) {
      pid_t r = waitpid(child, &status, WNOHANG);
      exited = r == child;
    } else if (!got && ++idle_after_exit >= 20) {
      break;
    }
  }
  for (struct pollfd& p : fds) {
    if (p.fd >= 0) {
      close(p.fd);
    }
  }
  while (!exited) {
    pid_t r = waitpid(child, &status, 0);
    exited = r == child || (r < 0 && errno != EINTR);
  }
  metrics->Poll();
  return status;
}

// --- the store reporter ---------------------------------------------------------------------

class StoreReporter : public RunReporter {
 public:
  explicit StoreReporter(const JobStore* store) : store_(store) {}
  ~StoreReporter() override {
    for (int fd : {output_fd_, history_fd_}) {
      if (fd >= 0) {
        close(fd);
      }
    }
  }

  bool Start(const RunStart& start, std::string* err) override {
    JobRef ref;
    if (!start.job.empty() && !ParseJobRef(start.job, &ref, err)) {
      *err = "job " + start.job + ": " + *err;
      return false;
    }
    run_.entity = !start.entity.empty() ? start.entity
                  : !ref.entity.empty() ? ref.entity
                                        : "local";
    run_.project = !start.project.empty() ? start.project
                   : !ref.project.empty() ? ref.project
                                          : "uncategorized";
    bool found = false;
    RunRecord existing;
    if (!store_->ReadRun(run_.entity, run_.project, start.run_id, &existing, &found, err)) {
      return false;
    }
    if (found) {  // Resumed: the record keeps its creation time and history.
      run_ = existing;
      history_rows_ = existing.history_rows;
      ordered_json s = ordered_json::parse(existing.summary.empty() ? "{}" : existing.summary,
                                           nullptr, false);
      summary_ = s.is_object() ? s : ordered_json::object();
    } else {
      run_.created_at = NowRfc3339();
      run_.name = start.run_id;
    }
    run_.id = start.run_id;
    run_.state = "running";
    run_.finished_at.clear();
    run_.has_exit_code = false;
    run_.config = start.config;
    if (!ref.name.empty()) {
      run_.job = ref.name;
      run_.version_index = -1;
      StoredCollection job;
      const StoredVersion* version = nullptr;
      std::string why;
      std::string entity = ref.entity.empty() ? run_.entity : ref.entity;
      std::string project = ref.project.empty() ? run_.project : ref.project;
      if (store_->Get(entity, project, "job", ref.name, &job, &why) &&
          SelectVersion(job, ref.selector, &version, &why)) {
        run_.version_index = version->index;
      } else {
        Warning("the run's job is not in the local store: %s", why.c_str());
      }
    }
    std::string dir;
    if (!store_->RunDir(run_.entity, run_.project, run_.id, &dir, err)) {
      return false;
    }
    output_fd_ = open((dir + "/output.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                      0644);
    history_fd_ = open((dir + "/history.jsonl").c_str(),
                       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (output_fd_ < 0 || history_fd_ < 0) {
      *err = "opening the run's files in " + dir + ": " + strerror(errno);
      return false;
    }
    return store_->WriteRun(run_, err);
  }

  bool Output(OutputStream, std::string_view data, std::string* err) override {
    if (!WriteAllFd(output_fd_, data)) {
      *err = std::string("writing output.log: ") + strerror(errno);
      return false;
    }
    return true;
  }

  bool History(const std::string& row_json, std::string* err) override {
    ordered_json row = ordered_json::parse(row_json, nullptr, false);
    if (!row.is_object()) {
      *err = "a history row is not a JSON object";
      return false;
    }
    for (auto it = row.begin(); it != row.end(); ++it) {
      if (it.key().rfind('_', 0) != 0) {
        last_history_[it.key()] = *it;  // W&B's default summary: the last value of each key
      }
    }
    ++history_rows_;
    if (!WriteAllFd(history_fd_, row.dump() + "\n")) {
      *err = std::string("writing history.jsonl: ") + strerror(errno);
      return false;
    }
    return true;
  }

  bool Summary(const std::string& values_json, std::string* err) override {
    ordered_json values = ordered_json::parse(values_json, nullptr, false);
    if (!values.is_object()) {
      *err = "summary values are not a JSON object";
      return false;
    }
    for (auto it = values.begin(); it != values.end(); ++it) {
      summary_[it.key()] = *it;
      last_history_.erase(it.key());
    }
    return true;
  }

  bool Finish(const RunOutcome& outcome, std::string* err) override {
    for (auto it = last_history_.begin(); it != last_history_.end(); ++it) {
      summary_[it.key()] = *it;
    }
    run_.state = outcome.state;
    run_.has_exit_code = true;
    run_.exit_code = outcome.exit_code;
    run_.finished_at = NowRfc3339();
    run_.summary = summary_.dump();
    run_.history_rows = history_rows_;
    return store_->WriteRun(run_, err);
  }

 private:
  const JobStore* store_;
  RunRecord run_;
  int output_fd_ = -1, history_fd_ = -1;
  int history_rows_ = 0;
  ordered_json summary_ = ordered_json::object();
  ordered_json last_history_ = ordered_json::object();
};

}  // namespace

ReportMode ReportModeFromEnvironment() {
  std::string mode = GetEnv("WANDB_MODE");
  if (mode == "disabled") {
    return ReportMode::kDisabled;
  }
  if (mode == "offline" || mode == "dryrun" || GetEnv("WANDB_API_KEY").empty()) {
    return ReportMode::kOffline;
  }
  return ReportMode::kOnline;
}

std::unique_ptr<RunReporter> MakeStoreReporter(const JobStore* store) {
  return std::make_unique<StoreReporter>(store);
}

bool JobFromLaunchArtifacts(const std::string& artifacts_json, std::string* job,
                            std::string* err) {
  job->clear();
  if (artifacts_json.find_first_not_of(" \t\r\n") == std::string::npos) {
    return true;
  }
  ordered_json j;
  if (!ParseObject(artifacts_json, "WANDB_ARTIFACTS", &j, err)) {
    return false;
  }
  auto it = j.find("_wandb_job");
  if (it == j.end()) {
    return true;
  }
  if (!it->is_string()) {
    *err = "WANDB_ARTIFACTS: _wandb_job is not a string";
    return false;
  }
  *job = it->get<std::string>();
  return true;
}

std::vector<std::pair<std::string, std::string>> ChunkedEnv(const std::string& name,
                                                            const std::string& value,
                                                            size_t limit) {
  if (value.size() <= limit) {
    return {{name, value}};
  }
  std::vector<std::pair<std::string, std::string>> chunks;
  for (size_t i = 0; i * limit < value.size(); ++i) {
    chunks.emplace_back(name + "_" + std::to_string(i), value.substr(i * limit, limit));
  }
  return chunks;
}

std::string NewRunId() {
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device device;
  std::mt19937_64 rng((static_cast<uint64_t>(device()) << 32) ^ device() ^
                      static_cast<uint64_t>(getpid()));
  std::string id;
  for (int i = 0; i < 8; ++i) {
    id += kAlphabet[rng() % 36];
  }
  return id;
}

bool PlanExec(const ExecOptions& options, ExecPlan* out, std::string* err) {
  if (options.command.empty()) {
    *err = "no program given (wandb-job exec [options] -- PROGRAM ARGS...)";
    return false;
  }
  ordered_json config = ordered_json::object();
  std::string git_remote, git_commit;
  std::vector<std::string> spec_args;
  bool spec_has_args = false;
  if (!options.job_spec_path.empty()) {
    std::string text;
    ordered_json spec;
    if (!ReadFile(options.job_spec_path, &text, err) ||
        !ParseObject(text, "job spec " + options.job_spec_path, &spec, err)) {
      return false;
    }
    auto c = spec.find("config");
    if (c != spec.end() && !c->is_null()) {
      if (!c->is_object()) {
        *err = "job spec " + options.job_spec_path + ": \"config\" is not an object";
        return false;
      }
      config = *c;
    }
    auto a = spec.find("args");
    if (a != spec.end() && !a->is_null()) {
      if (!a->is_array() || !std::all_of(a->begin(), a->end(),
                                         [](const ordered_json& v) { return v.is_string(); })) {
        *err = "job spec " + options.job_spec_path + ": \"args\" is not a list of strings";
        return false;
      }
      spec_args = a->get<std::vector<std::string>>();
      spec_has_args = true;
    }
    // The code's origin, for the run's metadata: informative only, so a malformed value is
    // ignored rather than stopping the program.
    auto g = spec.find("git");
    if (g != spec.end() && g->is_object()) {
      auto field = [&](const char* key) {
        auto v = g->find(key);
        return v != g->end() && v->is_string() ? v->get<std::string>() : std::string();
      };
      git_remote = field("remote");
      git_commit = field("commit");
    }
  }
  std::string merged = config.dump();
  if (!options.defaults.empty()) {
    ordered_json defaults;
    if (!ParseObject(options.defaults, "--defaults", &defaults, err) ||
        !MergeJsonObjects(merged, options.defaults, &merged, err)) {
      return false;
    }
  }
  std::string source;
  std::string launch = ReadChunked("WANDB_CONFIG", &source);
  if (launch.find_first_not_of(" \t\r\n") != std::string::npos) {
    ordered_json overrides;
    if (!ParseObject(launch, source, &overrides, err) ||
        !MergeJsonObjects(merged, launch, &merged, err)) {
      return false;
    }
  }
  if (!options.set.empty()) {
    std::string pairs;
    if (!ConfigPairsToJson(options.set, &pairs, err)) {
      *err = "-c: " + *err;
      return false;
    }
    if (!MergeJsonObjects(merged, pairs, &merged, err)) {
      return false;
    }
  }
  std::vector<std::string> args_template(options.command.begin() + 1, options.command.end());
  if (args_template.empty() && spec_has_args) {
    args_template = spec_args;
  }
  std::vector<std::string> rendered;
  if (!RenderArgs(args_template, merged, &rendered, err)) {
    return false;
  }
  out->config = ordered_json::parse(merged).dump();
  out->argv = {options.command[0]};
  out->argv.insert(out->argv.end(), rendered.begin(), rendered.end());
  out->run_id = !options.run_id.empty() ? options.run_id : GetEnv("WANDB_RUN_ID");
  if (out->run_id.empty()) {
    out->run_id = NewRunId();
  }
  out->entity = GetEnv("WANDB_ENTITY");
  out->project = GetEnv("WANDB_PROJECT");
  out->job = options.job;
  out->git_remote = git_remote;
  out->git_commit = git_commit;
  out->metrics_file = GetEnv(kMetricsFileEnv);
  out->metrics_inherited = !out->metrics_file.empty();
  if (out->job.empty() && !JobFromLaunchArtifacts(GetEnv("WANDB_ARTIFACTS"), &out->job, err)) {
    return false;
  }
  return true;
}

bool RunProgram(const ExecPlan& plan, RunReporter* reporter, RunOutcome* outcome,
                std::string* err) {
  // The config as a file and the metrics file live in a private directory for this run.
  std::string tmp = GetEnv("TMPDIR");
  std::string dir_template = (tmp.empty() ? std::string("/tmp") : tmp) + "/wandb-job-exec.XXXXXX";
  if (mkdtemp(dir_template.data()) == nullptr) {
    *err = "creating a temporary directory in " + dir_template + ": " + strerror(errno);
    return false;
  }
  const std::string dir = dir_template;
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::string ignored;
      RemoveTree(dir, &ignored);
    }
  } cleanup{dir};
  std::string config_file = dir + "/config.json";
  std::string metrics_file =
      plan.metrics_file.empty() ? dir + "/metrics.jsonl" : plan.metrics_file;
  if (!WriteFileAtomic(config_file, ordered_json::parse(plan.config).dump(2) + "\n", err)) {
    return false;
  }
  int metrics_fd = open(metrics_file.c_str(),
                        O_WRONLY | O_CREAT | O_CLOEXEC | (plan.metrics_inherited ? 0 : O_TRUNC),
                        0666);
  if (metrics_fd < 0 || (!plan.metrics_inherited && fchmod(metrics_fd, 0666) != 0)) {
    *err = "creating " + metrics_file + ": " + strerror(errno);
    if (metrics_fd >= 0) {
      close(metrics_fd);
    }
    return false;
  }
  close(metrics_fd);
  std::vector<std::pair<std::string, std::string>> extra =
      ChunkedEnv("WANDB_CONFIG", plan.config);
  extra.emplace_back(kConfigFileEnv, config_file);
  extra.emplace_back("WANDB_RUN_ID", plan.run_id);
  if (reporter != nullptr) {
    extra.emplace_back(kMetricsFileEnv, metrics_file);
  }
  std::vector<std::string> env = ChildEnvironment(extra);
  if (reporter != nullptr) {
    RunStart start{plan.run_id,     plan.entity,     plan.project,    plan.job,
                   plan.config,     plan.argv,       plan.git_remote, plan.git_commit,
                   plan.workdir};
    if (!reporter->Start(start, err)) {
      *err = "starting the run: " + *err;
      return false;
    }
  }

  SignalForwarder forwarder;
  g_forwarded.store(0);
  pid_t child = 0;
  int status = 0;
  MetricsReader metrics(metrics_file, reporter);
  if (reporter == nullptr) {
    if (!Spawn(plan.argv, env, plan.workdir, -1, -1, &child, err)) {
      return false;
    }
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
  } else {
    Pipe out, errp;
    if (!out.Open(err) || !errp.Open(err)) {
      return false;
    }
    if (!Spawn(plan.argv, env, plan.workdir, out.fds[1], errp.fds[1], &child, err)) {
      RunOutcome failed;
      failed.exit_code = 127;
      failed.state = "failed";
      std::string ignored;
      reporter->Output(OutputStream::kStderr, "wandb-job: " + *err + "\n", &ignored);
      reporter->Finish(failed, &ignored);
      return false;
    }
    out.Close(1);
    errp.Close(1);
    status = Pump(child, out.fds[0], errp.fds[0], reporter, &metrics);
    out.fds[0] = errp.fds[0] = -1;  // closed by Pump
  }
  g_child.store(0);

  RunOutcome result;
  result.forwarded_signal = g_forwarded.load();
  if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
    result.exit_code = 128 + result.signal;
    result.state = "killed";
  } else {
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    result.state = result.exit_code == 0                ? "finished"
                   : result.forwarded_signal != 0 ? "killed"
                                                  : "failed";
  }
  *outcome = result;
  if (reporter != nullptr) {
    std::string why;
    if (!reporter->Finish(result, &why)) {
      Warning("finishing the run: %s", why.c_str());
    }
  }
  return true;
}

}  // namespace wandb_job
