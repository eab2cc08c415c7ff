// What a CI system (GitHub Actions, GitLab CI) says about the build through its variables: the
// repository's clonable URL when the checkout has no remote, and the alias convention of
// docs/ci.md. Pure: reads variables through a lookup function, never git or the network.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace wandb_job {

/// Returns the value of an environment variable, "" when unset.
using EnvLookup = std::function<std::string(const char* name)>;
/// The process environment.
EnvLookup ProcessEnv();

enum class CiProvider { kNone, kGitHub, kGitLab };

/// The CI facts wandb-job uses. A provider is recognised only by its own marker variable
/// (GITHUB_ACTIONS=true, GITLAB_CI=true), so stray variables on a workstation change nothing.
struct CiEnvironment {
  CiProvider provider = CiProvider::kNone;
  std::string remote_url;      // clonable https URL, credentials removed; "" when unknown
  std::string commit;          // the commit CI built (GITHUB_SHA, CI_COMMIT_SHA)
  std::string short_commit;    // its first 7 characters (GitLab: CI_COMMIT_SHORT_SHA)
  std::string branch;          // the branch pushed, "" for tags and merge requests
  std::string tag;             // the tag pushed, ""
  std::string default_branch;  // "" when the CI does not say
  bool pull_request = false;   // a pull/merge request build
};

/// Reads the CI variables. GitHub: GITHUB_SERVER_URL + GITHUB_REPOSITORY, GITHUB_SHA,
/// GITHUB_REF_TYPE/GITHUB_REF_NAME, GITHUB_EVENT_NAME, and the default branch from the event
/// payload at GITHUB_EVENT_PATH (repository.default_branch) when it can be read. GitLab:
/// CI_PROJECT_URL, CI_COMMIT_SHA/CI_COMMIT_SHORT_SHA, CI_COMMIT_BRANCH, CI_COMMIT_TAG,
/// CI_DEFAULT_BRANCH, CI_MERGE_REQUEST_IID. Outside CI: provider kNone, everything empty.
CiEnvironment ReadCiEnvironment(const EnvLookup& env);

/// The alias convention (docs/ci.md): on the default branch "latest" and the branch name, on a
/// tag the tag, and the short commit always; each through SanitizeAlias, duplicates dropped.
/// `default_branch` overrides the CI's. Fails outside CI, for pull/merge requests (they are not
/// published), and for a branch build when the default branch is unknown.
bool CiAliases(const CiEnvironment& ci, const std::string& default_branch,
               std::vector<std::string>* aliases, std::string* err);

/// Why publishing must reach W&B rather than a local store nobody will read, or "" when nothing
/// says so: a CI (GITHUB_ACTIONS=true, GITLAB_CI=true, or CI set to anything but "", "0" or
/// "false"), WANDB_MODE=online set explicitly, or `ci_aliases` (--ci-aliases). The text names
/// the variable or flag, for the error that follows when no API key is found.
std::string WhyWandbIsRequired(const EnvLookup& env, bool ci_aliases);

/// The provider's name for messages: "GitHub Actions", "GitLab CI", "no CI".
const char* CiProviderName(CiProvider provider);

}  // namespace wandb_job
