#include "cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "atomic_file.h"
#include "bundle.h"
#include "ci_env.h"
#include "exec_shim.h"
#include "file_util.h"
#include "hash.h"
#include "job_runner.h"
#include "job_spec.h"
#include "job_store.h"
#include "job_views.h"
#include "launch_queue.h"
#include "log.h"
#include "progress.h"
#include "publish.h"
#include "publish_receipt.h"
#include "run_reporter_guard.h"
#include "run_store.h"
#include "version.h"
#include "wandb_client.h"
#include "wandb_credentials.h"
#include "wandb_graphql.h"
#include "wandb_jobs_reader.h"
#include "wandb_sink.h"
#include "wandb_types.h"

namespace wandb_job {
namespace {

using Args = std::vector<std::string>;

struct Command {
  const char* name;
  const char* description;
  int (*run)(const Args& args);
};

int Fail(const std::string& message) {
  fprintf(stderr, "wandb-job: error: %s\n", message.c_str());
  return 1;
}

int UsageError(const std::string& command, const std::string& message) {
  fprintf(stderr, "wandb-job: error: %s%s%s (see 'wandb-job %s--help')\n", command.c_str(),
          command.empty() ? "" : ": ", message.c_str(), command.empty() ? "" : (command + " ").c_str());
  return 2;
}

/// Parses `args` with `app`. Returns -1 to go on, else the exit code (help printed: 0; bad: 2).
int Parse(CLI::App& app, const std::string& command, const Args& args) {
  // "--opt=" with an empty value (an empty $<CONFIG> from CMake) would make CLI11 take the next
  // argument as the value; split it into "--opt" and an explicit empty argument.
  std::vector<std::string> split;
  for (const std::string& arg : args) {
    if (arg.size() > 3 && arg.compare(0, 2, "--") == 0 && arg.back() == '=' &&
        arg.find('=') == arg.size() - 1) {
      split.push_back(arg.substr(0, arg.size() - 1));
      split.emplace_back();
    } else {
      split.push_back(arg);
    }
  }
  std::vector<std::string> reversed(split.rbegin(), split.rend());  // CLI11 pops from the back.
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    printf("%s", app.help().c_str());
    return 0;
  } catch (const CLI::ParseError& e) {
    return UsageError(command, e.what());
  }
  return -1;
}

/// The "Examples:" footer of a command's --help, one command line a line.
void Examples(CLI::App& app, std::initializer_list<const char*> lines) {
  std::string footer = "\nExamples:\n";
  for (const char* line : lines) {
    footer += std::string("  ") + line + "\n";
  }
  app.footer(footer);
}

std::string StoreRootOption(const std::string& given) {
  return given.empty() ? DefaultStoreRoot() : given;
}

// --- bundle -------------------------------------------------------------------------------

int CmdBundle(const Args& args) {
  CLI::App app{"Capture a job bundle for a CMake target (run by the <target>-wandb-job target).",
               "wandb-job bundle"};
  BundleOptions o;
  app.add_option("--spec", o.spec_path, "job spec written by wandb_add_job()")->required();
  app.add_option("--out", o.out_dir, "bundle directory to write")->required();
  app.add_option("--depfile", o.depfile, "depfile listing every input read");
  app.add_option("--target-file", o.target_file, "the built target ($<TARGET_FILE>)")->required();
  app.add_option("--build-type", o.build_type, "the build configuration ($<CONFIG>)");
  app.add_option("--cxx-standard", o.cxx_standard, "the target's C++ standard");
  Examples(app, {"wandb-job bundle --spec build/wandb-jobs/train/spec.json "
                 "--out build/wandb-jobs/train/bundle --target-file build/train"});
  if (int rc = Parse(app, "bundle", args); rc >= 0) {
    return rc;
  }
  std::string err;
  if (!WriteBundle(o, &err)) {
    return Fail(err);
  }
  return 0;
}

// --- publish ------------------------------------------------------------------------------

/// "vN"; only for a version whose index is known.
std::string VersionName(const PublishedArtifact& a) {
  return "v" + std::to_string(a.version_index);
}

std::string Join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const std::string& s : items) {
    out += (out.empty() ? "" : sep) + s;
  }
  return out;
}

nlohmann::ordered_json ArtifactJson(const PublishedArtifact& a) {
  nlohmann::ordered_json j;
  j["id"] = a.id;
  j["version"] = a.version_index >= 0 ? nlohmann::ordered_json(VersionName(a)) : nullptr;
  j["aliases"] = a.aliases;
  j["digest"] = a.digest;
  j["new"] = a.created;
  return j;
}

int CmdPublish(const Args& args) {
  CLI::App app{"Publish job bundles: to W&B when an API key is found, else to the local store.",
               "wandb-job publish"};
  std::vector<std::string> bundles;
  PublishOptions options;
  bool json = false;
  std::string store_root;
  app.add_option("bundles", bundles, "bundle directories")->required();
  bool force = false;
  app.add_flag("--dry-run", options.dry_run, "say what would happen; write nothing");
  app.add_flag("--force", force,
               "publish even bundles whose publish receipt says they are published here "
               "unchanged (checks the destination again)");
  app.add_flag("--json", json, "print a machine-readable summary on stdout");
  app.add_option("--store", store_root, "local store directory (default: $WANDB_JOB_STORE)");
  std::vector<std::string> aliases;
  bool ci_aliases = false, detailed_exitcode = false;
  std::string default_branch, summary_path;
  app.add_option("--alias", aliases, "add this alias to every job (repeatable)")
      ->allow_extra_args(false);
  app.add_flag("--ci-aliases", ci_aliases,
               "add the CI alias convention (docs/ci.md): latest and the branch on the default "
               "branch, the tag on tags, the short commit always");
  app.add_option("--default-branch", default_branch,
                 "the default branch for --ci-aliases (default: what the CI says)");
  app.add_option("--summary", summary_path, "write a JSON summary of what was published here");
  app.add_flag("--detailed-exitcode", detailed_exitcode,
               "exit 0 when nothing changed, 2 when a version was created, 1 on failure");
  Examples(app, {"wandb-job publish build/wandb-jobs/*/bundle",
                 "wandb-job publish --dry-run build/wandb-jobs/train/bundle",
                 "wandb-job publish --ci-aliases --summary publish.json --progress=plain "
                 "build/wandb-jobs/*/bundle",
                 "wandb-job publish --store ./store --json build/wandb-jobs/train/bundle"});
  if (int rc = Parse(app, "publish", args); rc >= 0) {
    return rc;
  }
  std::string err;
  for (const std::string& alias : aliases) {
    if (!ValidateAlias(alias, &err)) {
      return UsageError("publish", "--alias '" + alias + "': " + err);
    }
  }
  options.extra_aliases = aliases;
  WandbCredentials creds;
  if (!LoadWandbCredentials(&creds, &err)) {
    return Fail(err);
  }
  // In CI (or when asked for W&B) a missing key must not quietly fill a local store that
  // disappears with the runner; only --store or WANDB_MODE=offline choose the store there.
  if (store_root.empty() && !creds.UseWandb() && creds.mode == WandbMode::kOnline) {
    std::string why = WhyWandbIsRequired(ProcessEnv(), ci_aliases);
    if (!why.empty()) {
      return Fail("no W&B API key found, and " + why + " means publishing to W&B: set "
                  "WANDB_API_KEY (a CI secret) or a netrc entry for " +
                  NetrcMachine(creds.base_url) +
                  "; to publish to a local store instead, pass --store DIR or set "
                  "WANDB_MODE=offline");
    }
  }
  if (ci_aliases) {
    std::vector<std::string> from_ci;
    if (!CiAliases(ReadCiEnvironment(ProcessEnv()), default_branch, &from_ci, &err)) {
      return Fail("--ci-aliases: " + err);
    }
    for (const std::string& alias : from_ci) {
      if (std::find(options.extra_aliases.begin(), options.extra_aliases.end(), alias) ==
          options.extra_aliases.end()) {
        options.extra_aliases.push_back(alias);
      }
    }
  }
  if (creds.mode == WandbMode::kDisabled) {
    Info("WANDB_MODE=disabled: nothing published");
    if (json) {
      printf("[]\n");
    }
    if (!summary_path.empty() &&
        !WriteFileAtomic(summary_path, PublishSummaryJson({}, "", "", options.dry_run), &err)) {
      return Fail("writing summary " + summary_path + ": " + err);
    }
    return 0;
  }
  // Every bundle is read and checked before anything is published.
  std::vector<Bundle> loaded(bundles.size());
  for (size_t i = 0; i < bundles.size(); ++i) {
    if (!LoadBundle(bundles[i], &loaded[i], &err)) {
      return Fail(err);
    }
  }
  // W&B when a key is found and WANDB_MODE is not offline, unless --store names a local store.
  std::unique_ptr<JobStore> store;
  std::unique_ptr<WandbClient> client;
  std::unique_ptr<WandbSink> wandb;
  ArtifactSink* sink = nullptr;
  if (store_root.empty() && creds.UseWandb()) {
    WandbClientOptions client_options;
    client_options.base_url = creds.base_url;
    client_options.api_key = creds.api_key;
    client_options.read_only = options.dry_run;
    client = std::make_unique<WandbClient>(std::move(client_options));
    wandb = std::make_unique<WandbSink>(client.get());
    sink = wandb.get();
  } else {
    if (!JobStore::Open(StoreRootOption(store_root), &store, &err)) {
      return Fail(err);
    }
    sink = store.get();
  }
  // The hidden W&B run is finished and deleted whatever happened.
  auto finish = [&wandb]() {
    std::string finish_err;
    if (wandb != nullptr && !wandb->Finish(&finish_err)) {
      Warning("%s", finish_err.c_str());
    }
  };
  // Links: the W&B app for W&B, `wandb-job show` for the store.
  std::string app_url =
      wandb != nullptr ? WandbAppUrl(creds.base_url, GetEnv("WANDB_APP_URL")) : "";
  // Receipts: a bundle published unchanged to this destination before is not published again
  // (no network, no store reads beyond a stat), unless --force or the store lost the version.
  std::string receipt_destination =
      wandb != nullptr ? "wandb " + creds.base_url + " key-sha256 " + Sha256Hex(creds.api_key)
                       : sink->Destination();
  int receipted = 0;
  std::vector<JobPublishResult> results;
  nlohmann::ordered_json summary = nlohmann::ordered_json::array();
  for (const Bundle& bundle : loaded) {
    JobPublishResult r;
    std::string key = options.dry_run ? "" : ReceiptKey(bundle, receipt_destination, options);
    std::vector<std::string> stamps;
    if (!force && ReadReceipt(bundle, key, &r, &stamps) &&
        stamps == CurrentStamps(sink, bundle, r)) {
      ++receipted;
    } else if (!PublishBundle(bundle, sink, options, &r, &err)) {
      finish();
      return Fail(err);
    } else if (!key.empty() &&
               !WriteReceipt(bundle, key, r, CurrentStamps(sink, bundle, r), &err)) {
      Warning("%s: no publish receipt (%s): the next publish checks it again", bundle.dir.c_str(),
              err.c_str());
    }
    results.push_back(r);
    std::string full = r.entity + "/" + r.project + "/" + r.name;
    if (!json) {
      // A dry run cannot always tell the number a new version would get: it says so in words.
      std::string what =
          r.known && r.job.version_index >= 0
              ? VersionName(r.job) + (r.job.created ? " new" : " unchanged")
              : std::string(" new version") + (r.known ? "" : " (code artifact first)");
      printf("%s%s:%s, aliases: %s\n", options.dry_run ? "would publish " : "", full.c_str(),
             what.c_str(), Join(r.job.aliases, ", ").c_str());
      std::string link = MakeJobLinks(r, app_url).version;
      if (!link.empty() && !options.dry_run) {
        printf("  %s\n", link.c_str());
      }
      fflush(stdout);
    }
    nlohmann::ordered_json j;
    j["schema_version"] = kJsonSchemaVersion;
    j["name"] = r.name;
    j["entity"] = r.entity;
    j["project"] = r.project;
    j["version"] = r.known && r.job.version_index >= 0 ? nlohmann::ordered_json(VersionName(r.job))
                                                      : nullptr;
    j["aliases"] = r.job.aliases;
    j["digest"] = r.job.digest;
    j["new"] = r.job.created;
    j["destination"] = r.destination;
    j["source_type"] = bundle.source_type;
    j["code"] = r.has_code ? ArtifactJson(r.code) : nullptr;
    if (r.has_code) {
      j["code"]["name"] = r.code_name;
    }
    j["image"] = nullptr;
    if (r.has_image) {
      j["image"] = {{"reference", r.image.reference},
                    {"tags", r.image.tags},
                    {"pinned", r.image.pinned.empty() ? nlohmann::ordered_json(nullptr)
                                                      : nlohmann::ordered_json(r.image.pinned)},
                    {"digest", r.image.digest}};
    }
    j["dry_run"] = options.dry_run;
    summary.push_back(j);
  }
  finish();
  if (json) {
    printf("%s\n", summary.dump(2).c_str());
  } else {
    if (receipted > 0) {
      Info("%d job(s) unchanged since their receipted publish here; --force checks them again",
           receipted);
    }
    Info("%s: %s", options.dry_run ? "nothing written" : "published to",
         sink->Destination().c_str());
    std::vector<std::string> pages;
    for (const JobPublishResult& r : results) {
      std::string page = MakeJobLinks(r, app_url).jobs;
      if (!page.empty() && std::find(pages.begin(), pages.end(), page) == pages.end()) {
        pages.push_back(page);
        Info("jobs of %s/%s: %s", r.entity.c_str(), r.project.c_str(), page.c_str());
      }
    }
  }
  if (!summary_path.empty() &&
      !WriteFileAtomic(summary_path,
                       PublishSummaryJson(results, sink->Destination(), app_url, options.dry_run),
                       &err)) {
    return Fail("writing summary " + summary_path + ": " + err);
  }
  if (wandb != nullptr && !options.dry_run) {
    const UploadStats& st = wandb->stats();
    Info(
        "uploaded %d file(s), %llu bytes; %d file(s) already stored, %d duplicate(s) of "
        "another file",
        st.files_uploaded, static_cast<unsigned long long>(st.bytes_uploaded), st.files_skipped,
        st.files_deduplicated);
  }
  if (detailed_exitcode &&
      std::any_of(results.begin(), results.end(), PublishChangedAnything)) {
    return 2;
  }
  return 0;
}

// --- views -------------------------------------------------------------------------------

bool OpenStore(const std::string& given, std::unique_ptr<JobStore>* store, std::string* err) {
  return JobStore::Open(StoreRootOption(given), store, err);
}

int CmdList(const Args& args) {
  CLI::App app{"List jobs: name, entity, project, latest version, aliases, number of versions.",
               "wandb-job ls"};
  bool json = false;
  std::string store_root, entity, project;
  app.add_flag("--json", json, "print JSON (fields in the README)");
  app.add_option("--entity,-e", entity, "only this entity");
  app.add_option("--project,-p", project, "only this project");
  app.add_option("--store", store_root, "local store directory (default: $WANDB_JOB_STORE)");
  bool use_wandb = false;
  app.add_flag("--wandb", use_wandb,
               "read W&B (the default when an API key is found and --store is not given)");
  Examples(app, {"wandb-job ls", "wandb-job ls --project demo --json",
                 "wandb-job ls --wandb --entity acme"});
  if (int rc = Parse(app, "ls", args); rc >= 0) {
    return rc;
  }
  std::vector<StoredCollection> jobs;
  std::string err;
  WandbReadTarget wandb;
  if (!OpenWandbReader(use_wandb, !store_root.empty(), entity, project, &wandb, &err)) {
    return Fail(err);
  }
  if (wandb.use) {
    if (!ListWandbJobs(wandb.client.get(), wandb.entity, wandb.project, &jobs, &err)) {
      return Fail(err);
    }
    printf("%s", RenderJobList(jobs, json ? ViewFormat::kJson : ViewFormat::kText).c_str());
    return 0;
  }
  std::unique_ptr<JobStore> store;
  if (!OpenStore(store_root, &store, &err) || !store->List("job", &jobs, &err)) {
    return Fail(err);
  }
  jobs.erase(std::remove_if(jobs.begin(), jobs.end(),
                            [&](const StoredCollection& c) {
                              return (!entity.empty() && c.entity != entity) ||
                                     (!project.empty() && c.project != project);
                            }),
             jobs.end());
  printf("%s", RenderJobList(jobs, json ? ViewFormat::kJson : ViewFormat::kText).c_str());
  return 0;
}

int CmdShow(const Args& args) {
  CLI::App app{"Show a job: details, versions (aliases, digest, input and output types, files) "
               "and runs.",
               "wandb-job show"};
  bool json = false;
  std::string store_root, ref_text;
  app.add_option("job", ref_text, "[[ENTITY/]PROJECT/]NAME[:ALIAS|:vN]")->required();
  app.add_flag("--json", json, "print JSON (fields in the README)");
  app.add_option("--store", store_root, "local store directory (default: $WANDB_JOB_STORE)");
  bool use_wandb = false;
  std::string entity, project;
  app.add_flag("--wandb", use_wandb,
               "read W&B (the default when an API key is found and --store is not given)");
  app.add_option("--entity,-e", entity, "W&B entity when the job names none");
  app.add_option("--project,-p", project, "W&B project when the job names none");
  Examples(app, {"wandb-job show train-job", "wandb-job show acme/demo/train-job:v3 --json"});
  if (int rc = Parse(app, "show", args); rc >= 0) {
    return rc;
  }
  JobRef ref;
  std::string err;
  if (!ParseJobRef(ref_text, &ref, &err)) {
    return UsageError("show", err);
  }
  WandbReadTarget wandb;
  if (!OpenWandbReader(use_wandb, !store_root.empty(), !ref.entity.empty() ? ref.entity : entity,
                       !ref.project.empty() ? ref.project : project, &wandb, &err)) {
    return Fail(err);
  }
  if (wandb.use) {
    StoredCollection remote;
    WandbClient* client = wandb.client.get();
    std::string shown;
    if (!GetWandbJob(client, wandb.entity, wandb.project, ref.name, &remote, &err) ||
        !FetchWandbJobRuns(client, &remote, &err) ||
        !RenderJobShow(
            remote, ref.selector,
            [client](const StoredVersion& v, const std::string& path, std::string* contents,
                     std::string* read_err) {
              return ReadWandbFile(client, v, path, contents, read_err);
            },
            json ? ViewFormat::kJson : ViewFormat::kText, &shown, &err)) {
      return Fail(err);
    }
    printf("%s", shown.c_str());
    return 0;
  }
  std::unique_ptr<JobStore> store;
  StoredCollection job;
  if (!OpenStore(store_root, &store, &err) || !FindJob(*store, ref, &job, &err)) {
    return Fail(err);
  }
  const JobStore* reader = store.get();
  std::string out;
  if (!RenderJobShow(
          job, ref.selector,
          [reader](const StoredVersion& v, const std::string& path, std::string* contents,
                   std::string* read_err) { return reader->ReadFile(v, path, contents, read_err); },
          json ? ViewFormat::kJson : ViewFormat::kText, &out, &err)) {
    return Fail(err);
  }
  printf("%s", out.c_str());
  return 0;
}

// --- launch and describe: W&B only ---------------------------------------------------------

/// A W&B client for `command`, which only W&B can serve: errors when WANDB_MODE is not online or
/// no key is found. The entity and project resolve as for `show`.
bool OpenWandbOnly(const std::string& command, const std::string& entity,
                   const std::string& project, WandbReadTarget* out, std::string* err) {
  WandbCredentials creds;
  if (!LoadWandbCredentials(&creds, err)) {
    return false;
  }
  if (creds.mode != WandbMode::kOnline) {
    *err = command + " needs W&B, but WANDB_MODE is not online; unset WANDB_MODE";
    return false;
  }
  if (!creds.UseWandb()) {
    *err = command + " needs W&B: no API key found; set WANDB_API_KEY or a netrc entry for " +
           NetrcMachine(creds.base_url) + " (`wandb login`)";
    return false;
  }
  return OpenWandbReader(true, false, entity, project, out, err);
}

int CmdLaunch(const Args& args) {
  CLI::App app{
      "Add a W&B job to a W&B launch queue, as `wandb launch -j JOB -q QUEUE` does; "
      "a launch agent on the queue runs it.",
      "wandb-job launch"};
  std::string ref_text, queue, config_file, entity, project, priority_text;
  std::vector<std::string> set;
  bool wait = false;
  app.add_option("job", ref_text, "[[ENTITY/]PROJECT/]NAME[:ALIAS|:vN]")->required();
  app.add_option("--queue,-q", queue, "the launch queue")->required();
  app.add_option("-c", set, "override a config input (key=value, repeatable)")
      ->allow_extra_args(false);
  app.add_option("--config", config_file,
                 "a JSON file: an object of config inputs (-c goes "
                 "over it)");
  app.add_option("--entity,-e", entity,
                 "the entity of the queue and the run (default: your default entity, as "
                 "`wandb launch`)");
  app.add_option("--project,-p", project, "the run's project (default: the job's)");
  app.add_option("--priority", priority_text, "critical, high, medium or low");
  app.add_flag("--wait", wait, "wait for the run to start and finish; print its URL and state");
  if (int rc = Parse(app, "launch", args); rc >= 0) {
    return rc;
  }
  JobRef ref;
  std::string err;
  int priority = -1;
  if (!ParseJobRef(ref_text, &ref, &err)) {
    return UsageError("launch", err);
  }
  if (!priority_text.empty() && !ParseLaunchPriority(priority_text, &priority, &err)) {
    return UsageError("launch", err);
  }
  std::vector<std::string> pairs;
  if (!LaunchConfigPairs(config_file, set, &pairs, &err)) {
    return UsageError("launch", err);
  }
  WandbReadTarget wandb;
  if (!OpenWandbOnly("launch", !ref.entity.empty() ? ref.entity : entity,
                     !ref.project.empty() ? ref.project : project, &wandb, &err)) {
    return Fail(err);
  }
  WandbClient* client = wandb.client.get();
  std::string job_entity = wandb.entity;
  // The queue's and the run's entity: as `wandb launch`, --entity, else the viewer's default
  // entity (not WANDB_ENTITY).
  std::string run_entity = entity;
  if (run_entity.empty() && !client->ViewerEntity(&run_entity, &err)) {
    return Fail("finding the default entity: " + err);
  }
  StoredCollection job;
  const StoredVersion* version = nullptr;
  std::string text;
  JobDefinition definition;
  if (!GetWandbJob(client, job_entity, wandb.project, ref.name, &job, &err) ||
      !SelectVersion(job, ref.selector, &version, &err) ||
      !ReadWandbFile(client, *version, "wandb-job.json", &text, &err) ||
      !JobDefinition::FromJson(text, &definition, &err)) {
    return Fail(err);
  }
  // Only the job's inputs: the agent would silently drop anything else.
  LaunchSpecInput spec;
  switch (OverridesFromPairs(pairs, ref.name, definition.input_types, &spec.run_config, &err)) {
    case RunJobStatus::kRan:
      break;
    case RunJobStatus::kUsageError:
      return UsageError("launch", err);
    case RunJobStatus::kError:
      return Fail(err);
  }
  spec.job = job_entity + "/" + wandb.project + "/" + ref.name +
             (ref.selector.empty() ? "" : ":" + ref.selector);
  spec.entity = run_entity;
  spec.project = !project.empty() ? project : wandb.project;
  std::string item_id;
  if (!PushToLaunchQueue(client, run_entity, queue, LaunchSpecJson(spec), priority, &item_id,
                         &err)) {
    return Fail(err);
  }
  printf("added %s to launch queue %s of %s (queue item %s)\n", spec.job.c_str(), queue.c_str(),
         run_entity.c_str(), item_id.c_str());
  fflush(stdout);
  if (!wait) {
    return 0;
  }
  std::string poll_ms = GetEnv("WANDB_JOB_LAUNCH_POLL_MS");
  int interval_ms = poll_ms.empty() ? 5000 : std::max(1, std::atoi(poll_ms.c_str()));
  QueuedRunOutcome outcome;
  bool announced = false;
  auto wait_a_while = [&]() {
    if (!announced) {
      Info("waiting for a launch agent on queue %s to run it", queue.c_str());
      announced = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  };
  if (!WaitForQueuedRun(client, run_entity, queue, item_id, spec.entity, spec.project, wait_a_while,
                        &outcome, &err)) {
    return Fail(err);
  }
  std::string app_url = WandbAppUrl(client->options().base_url, GetEnv("WANDB_APP_URL"));
  printf("run %s: %s\n  %s/%s/%s/runs/%s\n", outcome.run_id.c_str(), outcome.state.c_str(),
         app_url.c_str(), spec.entity.c_str(), spec.project.c_str(), outcome.run_id.c_str());
  return outcome.state == "finished" ? 0 : 1;
}

int CmdDescribe(const Args& args) {
  CLI::App app{"Set a W&B job's description (what W&B's Job details show).", "wandb-job describe"};
  std::string ref_text, description, entity, project;
  app.add_option("job", ref_text, "[[ENTITY/]PROJECT/]NAME[:ALIAS|:vN]")->required();
  app.add_option("--description", description, "the new description")->required();
  app.add_option("--entity,-e", entity, "W&B entity when the job names none");
  app.add_option("--project,-p", project, "W&B project when the job names none");
  if (int rc = Parse(app, "describe", args); rc >= 0) {
    return rc;
  }
  JobRef ref;
  std::string err;
  if (!ParseJobRef(ref_text, &ref, &err)) {
    return UsageError("describe", err);
  }
  WandbReadTarget wandb;
  StoredCollection job;
  const StoredVersion* version = nullptr;
  if (!OpenWandbOnly("describe", !ref.entity.empty() ? ref.entity : entity,
                     !ref.project.empty() ? ref.project : project, &wandb, &err) ||
      !GetWandbJob(wandb.client.get(), wandb.entity, wandb.project, ref.name, &job, &err) ||
      !SelectVersion(job, ref.selector, &version, &err) ||
      !SetWandbJobDescription(wandb.client.get(), *version, description, &err)) {
    return Fail(err);
  }
  printf("%s/%s/%s:v%d: description set\n", wandb.entity.c_str(), wandb.project.c_str(),
         ref.name.c_str(), version->index);
  return 0;
}

int CmdStore(const Args& args) {
  CLI::App app{"Maintain the local job store.", "wandb-job store"};
  std::string store_root;
  app.add_option("--store", store_root, "local store directory (default: $WANDB_JOB_STORE)");
  CLI::App* verify = app.add_subcommand("verify", "re-hash every blob and check every version");
  // The README writes `store verify --store DIR`; `store --store DIR verify` works as well.
  verify->add_option("--store", store_root, "local store directory (default: $WANDB_JOB_STORE)");
  app.require_subcommand(1);
  Examples(app, {"wandb-job store verify", "wandb-job store verify --store ./store"});
  if (int rc = Parse(app, "store", args); rc >= 0) {
    return rc;
  }
  std::unique_ptr<JobStore> store;
  std::string err;
  if (!OpenStore(store_root, &store, &err)) {
    return Fail(err);
  }
  if (verify->parsed()) {
    std::vector<std::string> problems;
    if (!store->Verify(&problems, &err)) {
      return Fail(err);
    }
    for (const std::string& p : problems) {
      printf("%s\n", p.c_str());
    }
    if (!problems.empty()) {
      return Fail("store " + store->root() + " is damaged: " + std::to_string(problems.size()) +
                  " problem(s)");
    }
    printf("store %s: ok\n", store->root().c_str());
  }
  return 0;
}

// --- exec and run ----------------------------------------------------------------------------

/// The path of this executable, for the jobs `run` builds (-DWANDB_JOB_TOOL).
std::string SelfPath() {
  std::string path, err;
  return RealPath("/proc/self/exe", &path, &err) ? path : "";
}

int CmdExec(const Args& args) {
  CLI::App app{"Run a job's program as its entrypoint: assemble the config (defaults, then "
               "WANDB_CONFIG, then -c), render ARGS, report the run (W&B when a key is found, "
               "else the local store), "
               "forward signals, exit with the program's code.",
               "wandb-job exec [options] -- PROGRAM ARGS..."};
  ExecOptions options;
  std::string store_root;
  app.add_option("--defaults", options.defaults, "the job's default config (JSON object)");
  app.add_option("--job-spec", options.job_spec_path,
                 "a JSON file with \"config\" (defaults) and \"args\" (ARGS template), e.g. a "
                 "bundle.json");
  app.add_option("-c,--config", options.set, "override a config value (key=value)")
      ->allow_extra_args(false);
  app.add_option("--job", options.job,
                 "the job used, ENTITY/PROJECT/NAME[:ALIAS] (default: WANDB_ARTIFACTS)");
  app.add_option("--run-id", options.run_id, "the run ID (default: WANDB_RUN_ID, else new)");
  app.add_option("--store", store_root, "local store directory (default: $WANDB_JOB_STORE)");
  auto separator = std::find(args.begin(), args.end(), "--");
  Examples(app, {"wandb-job exec --job-spec .wandb-job/job.json -- ./train",
                 "wandb-job exec --defaults '{\"lr\": 0.1}' -c lr=0.5 -- ./train --lr {lr}"});
  if (int rc = Parse(app, "exec", Args(args.begin(), separator)); rc >= 0) {
    return rc;
  }
  if (separator == args.end() || separator + 1 == args.end()) {
    return UsageError("exec", "no program given (wandb-job exec [options] -- PROGRAM ARGS...)");
  }
  options.command.assign(separator + 1, args.end());
  ExecPlan plan;
  std::string err;
  if (!PlanExec(options, &plan, &err)) {
    return UsageError("exec", err);
  }
  // Inputs are checked here, so that whatever fails later in reporting only turns it off.
  JobRef job_ref;
  if (!ValidateRunId(plan.run_id, &err)) {
    return UsageError("exec", err);
  }
  if (!plan.job.empty() && !ParseJobRef(plan.job, &job_ref, &err)) {
    return UsageError("exec", "job " + plan.job + ": " + err);
  }
  std::unique_ptr<JobStore> store;
  std::unique_ptr<RunReporter> reporter;
  // Under another shim (an image job's entrypoint in `wandb-job run`), the outer one records
  // the run, from a store that holds the job; this one only passes the metrics file on.
  bool nested = plan.metrics_inherited;
  // Reporting is a side show: when it cannot start, the program still runs.
  if (!nested && !OpenRunReporter(ReportTarget::kWandbOrStore, StoreRootOption(store_root), &store,
                                  &reporter, &err)) {
    Warning("not reporting the run: %s; running the program unreported", err.c_str());
    reporter.reset();
  }
  if (reporter != nullptr) {
    reporter = GuardReporter(std::move(reporter));
  }
  RunOutcome outcome;
  if (!RunProgram(plan, reporter.get(), &outcome, &err)) {
    Fail(err);
    return 127;
  }
  return outcome.exit_code;
}

int CmdRun(const Args& args) {
  CLI::App app{"Launch a job of the local store on this machine as W&B's launch agent would: "
               "build its code in a temporary directory and run it under `wandb-job exec`.",
               "wandb-job run"};
  RunJobOptions options;
  std::string store_root;
  app.add_option("job", options.job_ref, "[[ENTITY/]PROJECT/]NAME[:ALIAS|:vN]")->required();
  app.add_option("-c,--config", options.set, "override a config input (key=value)")
      ->allow_extra_args(false);
  app.add_option("--cmake-arg", options.cmake_args, "an extra argument for configuring the code")
      ->allow_extra_args(false);
  app.add_option("--source-dir", options.source_subdir,
                 "the CMake project's directory inside the code (default: its root)");
  app.add_option("--run-id", options.run_id, "the run ID (default: a new one)");
  app.add_flag("--keep", options.keep, "keep the temporary directory");
  app.add_option("--store", store_root, "local store directory (default: $WANDB_JOB_STORE)");
  Examples(app, {"wandb-job run train-job",
                 "wandb-job run demo/train-job:v2 -c epochs=3 -c layers=[64,32]",
                 "wandb-job run train-job --keep   (keeps the build directory, e.g. of a failed "
                 "build)"});
  if (int rc = Parse(app, "run", args); rc >= 0) {
    return rc;
  }
  options.store_root = StoreRootOption(store_root);
  options.tool_path = SelfPath();
  int exit_code = 0;
  std::string err;
  switch (RunJob(options, &exit_code, &err)) {
    case RunJobStatus::kRan:
      return exit_code;
    case RunJobStatus::kUsageError:
      return UsageError("run", err);
    case RunJobStatus::kError:
      break;
  }
  return Fail(err);
}

// --- image-archive ------------------------------------------------------------------------

int CmdImageArchive(const Args& args) {
  CLI::App app{"Write an image job's image as a tarball that 'docker load' reads.",
               "wandb-job image-archive"};
  std::string bundle_dir, out;
  std::vector<std::string> tags;
  app.add_option("bundle", bundle_dir, "the image job's bundle directory")->required();
  app.add_option("out", out, "the tarball to write")->required();
  app.add_option("--tag", tags, "a repository:tag to name the image (default: its IMAGE)");
  Examples(app, {"wandb-job image-archive build/wandb-jobs/train/bundle train.tar"});
  if (int rc = Parse(app, "image-archive", args); rc >= 0) {
    return rc;
  }
  Bundle bundle;
  std::string err;
  if (!LoadBundle(bundle_dir, &bundle, &err) ||
      !WriteBundleImageArchive(bundle, tags, out, &err)) {
    return Fail(err);
  }
  return 0;
}

// --- dockerfile ---------------------------------------------------------------------------

int CmdDockerfile(const Args& args) {
  CLI::App app{"Write the Dockerfile.wandb and .wandb-job/ that a repo job's repository must hold "
               "for W&B's agent to build it; commit them and pass DOCKERFILE Dockerfile.wandb.",
               "wandb-job dockerfile"};
  std::string bundle_dir, out_dir;
  app.add_option("--bundle", bundle_dir, "the repo job's bundle directory")->required();
  app.add_option("--out-dir", out_dir, "the root of the repository (the agent's build context)")
      ->required();
  Examples(app, {"wandb-job dockerfile --bundle build/wandb-jobs/train/bundle --out-dir ."});
  if (int rc = Parse(app, "dockerfile", args); rc >= 0) {
    return rc;
  }
  std::vector<std::string> written;
  std::string err;
  if (!WriteRepoLaunchFiles(bundle_dir, out_dir, &written, &err)) {
    return Fail(err);
  }
  for (const std::string& rel : written) {
    printf("wrote %s\n", JoinPath(out_dir, rel).c_str());
  }
  Info("commit %s and %s/ and pass DOCKERFILE %s to wandb_add_job()", "Dockerfile.wandb",
       ".wandb-job", "Dockerfile.wandb");
  return 0;
}

// --- the table ------------------------------------------------------------------------------

int CmdVersion(const Args& args) {
  CLI::App app{"Print the version of wandb-job.", "wandb-job version"};
  if (int rc = Parse(app, "version", args); rc >= 0) {
    return rc;
  }
  printf("wandb-job %s\n", WANDB_JOB_VERSION);
  return 0;
}

const Command kCommands[] = {
    {"bundle", "capture a job bundle for a CMake target (build step)", CmdBundle},
    {"publish", "publish bundles to W&B or the local store", CmdPublish},
    {"ls", "list jobs", CmdList},
    {"show", "show a job's details, versions and runs", CmdShow},
    {"launch", "add a W&B job to a W&B launch queue", CmdLaunch},
    {"describe", "set a W&B job's description", CmdDescribe},
    {"store", "maintain the local store (verify)", CmdStore},
    {"exec", "run a job's program as its entrypoint (the run shim)", CmdExec},
    {"run", "launch a job locally as the launch agent would", CmdRun},
    {"dockerfile", "write the Dockerfile a repo job's repository must hold", CmdDockerfile},
    {"image-archive", "write an image job's image as a docker load tarball", CmdImageArchive},
    {"version", "print the version", CmdVersion},
};

void PrintUsage(FILE* out) {
  fprintf(out,
          "usage: wandb-job [global options] <command> [options]\n\n"
          "Turns CMake targets into W&B Launch jobs. Commands:\n");
  for (const Command& c : kCommands) {
    fprintf(out, "  %-13s %s\n", c.name, c.description);
  }
  fprintf(out,
          "\nGlobal options (before or after the command, as in git and cargo):\n"
          "  -v, --verbose         say more\n"
          "  -q, --quiet           only errors (no progress, no warnings)\n"
          "  --progress=MODE       tty (a live bar), plain (a line every few seconds, for CI "
          "logs)\n"
          "                        or none; default: tty on a terminal, else plain\n"
          "\nExamples:\n"
          "  cmake --build build --target job-publish   capture and publish every job\n"
          "  wandb-job publish --dry-run build/wandb-jobs/train/bundle\n"
          "  wandb-job ls --json\n"
          "  wandb-job show demo/train-job:latest\n"
          "  wandb-job run train-job -c epochs=3 --keep\n"
          "\nEnvironment:\n"
          "  WANDB_API_KEY         W&B API key (else the netrc entry of the base URL's host)\n"
          "  WANDB_BASE_URL        W&B server (default https://api.wandb.ai)\n"
          "  WANDB_MODE            offline: the local store; disabled: publish nothing\n"
          "  WANDB_ENTITY, WANDB_PROJECT   defaults for where jobs go\n"
          "  WANDB_JOB_STORE       local store directory\n"
          "  WANDB_JOB_PUBLISH_ARGS  extra arguments of every job-publish\n"
          "  DOCKER_CONFIG         registry credentials of image jobs\n"
          "  CI, GITHUB_ACTIONS, GITLAB_CI   CI detection (aliases, no local-store fallback)\n"
          "\nExit codes: 0 success, 1 failure, 2 usage error; publish --detailed-exitcode: "
          "2 when a version was created;\nexec and run: the program's exit code.\n"
          "\n'wandb-job <command> --help' describes a command. Full reference: README.md.\n");
}

/// Edit distance with adjacent transpositions counted once (optimal string alignment), so
/// "pubilsh" is one edit from "publish".
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) {
    d[i][0] = i;
  }
  for (size_t j = 0; j <= b.size(); ++j) {
    d[0][j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

/// The command `name` was probably meant to be, or null when none is close: at most one edit
/// per three characters of the command (at least one), as git's and cargo's suggestions.
const Command* ClosestCommand(const std::string& name) {
  const Command* closest = nullptr;
  size_t best = 0;
  for (const Command& c : kCommands) {
    size_t d = EditDistance(name, c.name);
    size_t allowed = std::max<size_t>(1, strlen(c.name) / 3);
    if (d <= allowed && (closest == nullptr || d < best)) {
      closest = &c;
      best = d;
    }
  }
  return closest;
}

/// Takes the global options out of `args`, wherever they stand before a "--" (the rest is a
/// program's command line). Returns -1 to go on, else the exit code of a usage error.
int TakeGlobalOptions(Args* args) {
  Args rest;
  std::string command;  // the first word that is not an option
  for (size_t i = 0; i < args->size(); ++i) {
    const std::string& a = (*args)[i];
    if (a == "--") {
      rest.insert(rest.end(), args->begin() + i, args->end());
      break;
    }
    if (command.empty() && !a.empty() && a[0] != '-') {
      command = a;
    }
    if (a == "-v" || a == "--verbose") {
      SetVerbosity(Verbosity::kVerbose);
    } else if (a == "-q" && command == "launch") {
      rest.push_back(a);  // launch's -q is its queue, as in `wandb launch -q QUEUE`
    } else if (a == "-q" || a == "--quiet") {
      SetVerbosity(Verbosity::kQuiet);
    } else if (a == "--progress" || a.rfind("--progress=", 0) == 0) {
      std::string value;
      if (a == "--progress") {
        if (i + 1 == args->size()) {
          return UsageError("", "--progress needs a value: tty, plain or none");
        }
        value = (*args)[++i];
      } else {
        value = a.substr(strlen("--progress="));
      }
      ProgressMode mode;
      if (!ParseProgressMode(value, &mode)) {
        return UsageError("", "--progress " + value + ": expected tty, plain or none");
      }
      SetDefaultProgressMode(mode);
    } else {
      rest.push_back(a);
    }
  }
  *args = std::move(rest);
  return -1;
}

}  // namespace

int RunGuarded(const char* command, const std::function<int()>& run) {
  std::string what;
  try {
    return run();
  } catch (const std::bad_alloc&) {
    what = "out of memory";
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    what = "an unknown exception";
  }
  fprintf(stderr,
          "wandb-job: error: %s: unexpected failure: %s (an input is damaged or this is a bug; "
          "please report it with the command line)\n",
          command, OneLine(what, 300).c_str());
  return 1;
}

int RunCli(int argc, char** argv) {
  Args args(argv + 1, argv + argc);
  if (int rc = TakeGlobalOptions(&args); rc >= 0) {
    return rc;
  }
  if (args.empty()) {
    PrintUsage(stderr);
    return 2;
  }
  const std::string& name = args[0];
  if (name == "-h" || name == "--help" || name == "help") {
    if (name == "help" && args.size() > 1) {
      return RunCli(3, std::array<char*, 3>{argv[0], args[1].data(),
                                            const_cast<char*>("--help")}.data());
    }
    PrintUsage(stdout);
    return 0;
  }
  if (name == "--version") {
    return CmdVersion({});
  }
  for (const Command& c : kCommands) {
    if (name == c.name) {
      Args rest(args.begin() + 1, args.end());
      return RunGuarded(c.name, [&] { return c.run(rest); });
    }
  }
  const Command* closest = ClosestCommand(name);
  std::string hint =
      closest != nullptr ? std::string("; did you mean '") + closest->name + "'?" : "";
  fprintf(stderr, "wandb-job: error: unknown command '%s'%s (see 'wandb-job --help')\n",
          name.c_str(), hint.c_str());
  return 2;
}

}  // namespace wandb_job
