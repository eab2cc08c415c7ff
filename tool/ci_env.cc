#include "ci_env.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "file_util.h"
#include "remote_url.h"
#include "wandb_types.h"

namespace wandb_job {
namespace {

std::string TrimSlashes(std::string s) {
  while (!s.empty() && s.back() == '/') {
    s.pop_back();
  }
  return s;
}

// "https://host/g/p" -> "https://host/g/p.git", credentials removed.
std::string CloneUrl(const std::string& url) {
  std::string clean = TrimSlashes(StripUrlCredentials(TrimSlashes(url)));
  if (clean.empty()) {
    return "";
  }
  if (clean.size() < 4 || clean.compare(clean.size() - 4, 4, ".git") != 0) {
    clean += ".git";
  }
  return clean;
}

// repository.default_branch of a GitHub event payload; "" when unreadable.
std::string DefaultBranchFromEvent(const std::string& path) {
  if (path.empty()) {
    return "";
  }
  std::string text, ignored;
  if (!ReadFile(path, &text, &ignored)) {
    return "";
  }
  nlohmann::json event = nlohmann::json::parse(text, nullptr, false);
  if (event.is_discarded() || !event.is_object()) {
    return "";
  }
  auto repo = event.find("repository");
  if (repo == event.end() || !repo->is_object()) {
    return "";
  }
  auto branch = repo->find("default_branch");
  return branch != repo->end() && branch->is_string() ? branch->get<std::string>() : "";
}

void ReadGitHub(const EnvLookup& env, CiEnvironment* ci) {
  ci->provider = CiProvider::kGitHub;
  std::string server = env("GITHUB_SERVER_URL");
  std::string repo = env("GITHUB_REPOSITORY");
  if (!server.empty() && !repo.empty()) {
    ci->remote_url = CloneUrl(TrimSlashes(server) + "/" + repo);
  }
  ci->commit = env("GITHUB_SHA");
  ci->short_commit = ci->commit.substr(0, 7);
  std::string event = env("GITHUB_EVENT_NAME");
  ci->pull_request = event.rfind("pull_request", 0) == 0;
  std::string ref_type = env("GITHUB_REF_TYPE");
  std::string ref_name = env("GITHUB_REF_NAME");
  if (!ci->pull_request) {
    if (ref_type == "tag") {
      ci->tag = ref_name;
    } else if (ref_type == "branch") {
      ci->branch = ref_name;
    }
  }
  ci->default_branch = DefaultBranchFromEvent(env("GITHUB_EVENT_PATH"));
}

void ReadGitLab(const EnvLookup& env, CiEnvironment* ci) {
  ci->provider = CiProvider::kGitLab;
  ci->remote_url = CloneUrl(env("CI_PROJECT_URL"));
  ci->commit = env("CI_COMMIT_SHA");
  ci->short_commit = env("CI_COMMIT_SHORT_SHA");
  if (ci->short_commit.empty()) {
    ci->short_commit = ci->commit.substr(0, 8);
  }
  ci->pull_request = !env("CI_MERGE_REQUEST_IID").empty();
  ci->tag = env("CI_COMMIT_TAG");
  ci->branch = ci->tag.empty() ? env("CI_COMMIT_BRANCH") : "";
  ci->default_branch = env("CI_DEFAULT_BRANCH");
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](const char* name) { return GetEnv(name); };
}

CiEnvironment ReadCiEnvironment(const EnvLookup& env) {
  CiEnvironment ci;
  if (env("GITHUB_ACTIONS") == "true") {
    ReadGitHub(env, &ci);
  } else if (env("GITLAB_CI") == "true") {
    ReadGitLab(env, &ci);
  }
  return ci;
}

bool CiAliases(const CiEnvironment& ci, const std::string& default_branch,
               std::vector<std::string>* aliases, std::string* err) {
  if (ci.provider == CiProvider::kNone) {
    *err = "no CI found (neither GITHUB_ACTIONS=true nor GITLAB_CI=true is set)";
    return false;
  }
  if (ci.pull_request) {
    *err = std::string(ci.provider == CiProvider::kGitHub ? "a pull request" : "a merge request") +
           " build is not published under CI aliases; bundle it (job-bundle) or use --dry-run";
    return false;
  }
  if (ci.short_commit.empty()) {
    *err = std::string(ci.provider == CiProvider::kGitHub ? "GITHUB_SHA" : "CI_COMMIT_SHA") +
           " is not set";
    return false;
  }
  std::vector<std::string> out;
  if (!ci.tag.empty()) {
    out.push_back(ci.tag);
  } else if (!ci.branch.empty()) {
    std::string def = !default_branch.empty() ? default_branch : ci.default_branch;
    if (def.empty()) {
      *err = ci.provider == CiProvider::kGitHub
                 ? "the default branch is unknown (GITHUB_EVENT_PATH names no "
                   "repository.default_branch); pass --default-branch"
                 : "the default branch is unknown (CI_DEFAULT_BRANCH is not set); pass "
                   "--default-branch";
      return false;
    }
    if (ci.branch == def) {
      out.push_back("latest");
    }
    out.push_back(ci.branch);
  } else {
    *err = std::string("neither a branch nor a tag was built (") +
           (ci.provider == CiProvider::kGitHub ? "GITHUB_REF_TYPE/GITHUB_REF_NAME"
                                               : "CI_COMMIT_BRANCH/CI_COMMIT_TAG") +
           " unset)";
    return false;
  }
  out.push_back(ci.short_commit);
  aliases->clear();
  for (const std::string& a : out) {
    std::string alias = SanitizeAlias(a);
    if (!alias.empty() && std::find(aliases->begin(), aliases->end(), alias) == aliases->end()) {
      aliases->push_back(alias);
    }
  }
  return true;
}

std::string WhyWandbIsRequired(const EnvLookup& env, bool ci_aliases) {
  if (env("GITHUB_ACTIONS") == "true") {
    return "GITHUB_ACTIONS=true (a CI build)";
  }
  if (env("GITLAB_CI") == "true") {
    return "GITLAB_CI=true (a CI build)";
  }
  std::string ci = env("CI");
  std::string lower;
  for (char c : ci) {
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (!ci.empty() && lower != "0" && lower != "false") {
    return "CI=" + ci + " (a CI build)";
  }
  std::string mode = env("WANDB_MODE");
  if (mode == "online" || mode == "run") {
    return "WANDB_MODE=" + mode;
  }
  if (ci_aliases) {
    return "--ci-aliases";
  }
  return "";
}

const char* CiProviderName(CiProvider provider) {
  switch (provider) {
    case CiProvider::kGitHub:
      return "GitHub Actions";
    case CiProvider::kGitLab:
      return "GitLab CI";
    case CiProvider::kNone:
      break;
  }
  return "no CI";
}

}  // namespace wandb_job
