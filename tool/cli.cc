#include "cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bundle.h"
#include "file_util.h"
#include "job_store.h"
#include "job_views.h"
#include "log.h"
#include "publish.h"
#include "version.h"

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
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 pops from the back.
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

std::string VersionName(const PublishedArtifact& a) {
  return a.version_index >= 0 ? "v" + std::to_string(a.version_index) : "v?";
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
  app.add_flag("--dry-run", options.dry_run, "say what would happen; write nothing");
  app.add_flag("--json", json, "print a machine-readable summary on stdout");
  app.add_option("--store", store_root, "local store directory (default: $WANDB_JOB_STORE)");
  if (int rc = Parse(app, "publish", args); rc >= 0) {
    return rc;
  }
  std::string mode = GetEnv("WANDB_MODE");
  if (mode == "disabled") {
    Info("WANDB_MODE=disabled: nothing published");
    if (json) {
      printf("[]\n");
    }
    return 0;
  }
  if (mode != "offline" && !GetEnv("WANDB_API_KEY").empty()) {
    return Fail("publishing to W&B is not available in this version; set WANDB_MODE=offline "
                "to publish to the local store");
  }
  // Every bundle is read and checked before anything is published.
  std::vector<Bundle> loaded(bundles.size());
  std::string err;
  for (size_t i = 0; i < bundles.size(); ++i) {
    if (!LoadBundle(bundles[i], &loaded[i], &err)) {
      return Fail(err);
    }
  }
  std::unique_ptr<JobStore> store;
  if (!JobStore::Open(StoreRootOption(store_root), &store, &err)) {
    return Fail(err);
  }
  nlohmann::ordered_json summary = nlohmann::ordered_json::array();
  for (const Bundle& bundle : loaded) {
    JobPublishResult r;
    if (!PublishBundle(bundle, store.get(), options, &r, &err)) {
      return Fail(err);
    }
    std::string full = r.entity + "/" + r.project + "/" + r.name;
    const char* state = !r.known ? "new (code artifact first)"
                        : r.job.created ? "new" : "unchanged";
    if (!json) {
      printf("%s%s:%s %s, aliases: %s\n", options.dry_run ? "would publish " : "", full.c_str(),
             r.known ? VersionName(r.job).c_str() : "v?", state,
             Join(r.job.aliases, ", ").c_str());
      fflush(stdout);
    }
    nlohmann::ordered_json j;
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
    j["dry_run"] = options.dry_run;
    summary.push_back(j);
  }
  if (json) {
    printf("%s\n", summary.dump(2).c_str());
  } else {
    Info("%s: %s", options.dry_run ? "nothing written" : "published to",
         store->Destination().c_str());
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
  if (int rc = Parse(app, "ls", args); rc >= 0) {
    return rc;
  }
  std::unique_ptr<JobStore> store;
  std::vector<StoredCollection> jobs;
  std::string err;
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

// The job a reference names: parts left out match any entity or project, but must leave one.
bool FindJob(const JobStore& store, const JobRef& ref, StoredCollection* out, std::string* err) {
  std::vector<StoredCollection> jobs;
  if (!store.List("job", &jobs, err)) {
    return false;
  }
  std::vector<const StoredCollection*> matches;
  for (const StoredCollection& c : jobs) {
    if (c.name == ref.name && (ref.entity.empty() || c.entity == ref.entity) &&
        (ref.project.empty() || c.project == ref.project)) {
      matches.push_back(&c);
    }
  }
  if (matches.empty()) {
    *err = "unknown job '" + ref.name + "'" +
           (ref.project.empty() ? "" : " in " + (ref.entity.empty() ? "" : ref.entity + "/") +
                                           ref.project) +
           "; `wandb-job ls` lists the jobs";
    return false;
  }
  if (matches.size() > 1) {
    std::string names;
    for (const StoredCollection* c : matches) {
      names += (names.empty() ? "" : ", ") + c->entity + "/" + c->project + "/" + c->name;
    }
    *err = "job '" + ref.name + "' exists in several projects (" + names +
           "); name it as ENTITY/PROJECT/NAME";
    return false;
  }
  *out = *matches[0];
  return true;
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
  if (int rc = Parse(app, "show", args); rc >= 0) {
    return rc;
  }
  JobRef ref;
  std::string err;
  if (!ParseJobRef(ref_text, &ref, &err)) {
    return UsageError("show", err);
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

int CmdStore(const Args& args) {
  CLI::App app{"Maintain the local job store.", "wandb-job store"};
  std::string store_root;
  app.add_option("--store", store_root, "local store directory (default: $WANDB_JOB_STORE)");
  CLI::App* verify = app.add_subcommand("verify", "re-hash every blob and check every version");
  app.require_subcommand(1);
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

// --- the table ------------------------------------------------------------------------------

int CmdVersion(const Args&) {
  printf("wandb-job %s\n", WANDB_JOB_VERSION);
  return 0;
}

const Command kCommands[] = {
    {"bundle", "capture a job bundle for a CMake target (build step)", CmdBundle},
    {"publish", "publish bundles to W&B or the local store", CmdPublish},
    {"ls", "list jobs", CmdList},
    {"show", "show a job's details, versions and runs", CmdShow},
    {"store", "maintain the local store (verify)", CmdStore},
    {"version", "print the version", CmdVersion},
};

void PrintUsage(FILE* out) {
  fprintf(out,
          "usage: wandb-job [--verbose|--quiet] <command> [options]\n\n"
          "Turns CMake targets into W&B Launch jobs. Commands:\n");
  for (const Command& c : kCommands) {
    fprintf(out, "  %-10s %s\n", c.name, c.description);
  }
  fprintf(out, "\n'wandb-job <command> --help' describes a command.\n");
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

int RunCli(int argc, char** argv) {
  Args args(argv + 1, argv + argc);
  while (!args.empty() && (args[0] == "-v" || args[0] == "--verbose" || args[0] == "-q" ||
                           args[0] == "--quiet")) {
    SetVerbosity(args[0] == "-q" || args[0] == "--quiet" ? Verbosity::kQuiet
                                                          : Verbosity::kVerbose);
    args.erase(args.begin());
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
      return c.run(Args(args.begin() + 1, args.end()));
    }
  }
  const Command* closest = nullptr;
  size_t best = 0;
  for (const Command& c : kCommands) {
    size_t d = EditDistance(name, c.name);
    if (closest == nullptr || d < best) {
      closest = &c;
      best = d;
    }
  }
  std::string hint = best <= 3 ? std::string("; did you mean '") + closest->name + "'?" : "";
  fprintf(stderr, "wandb-job: error: unknown command '%s'%s (see 'wandb-job --help')\n",
          name.c_str(), hint.c_str());
  return 2;
}

}  // namespace wandb_job
