#include "ci_env.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "publish.h"
#include "test_util.h"

namespace wandb_job {
namespace {

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const char* name) {
    auto it = vars.find(name);
    return it == vars.end() ? std::string() : it->second;
  };
}

const char kSha[] = "0123456789abcdef0123456789abcdef01234567";

std::map<std::string, std::string> GitHubPush(const std::string& type, const std::string& name) {
  return {{"GITHUB_ACTIONS", "true"},       {"GITHUB_SERVER_URL", "https://github.com"},
          {"GITHUB_REPOSITORY", "o/r"},     {"GITHUB_SHA", kSha},
          {"GITHUB_EVENT_NAME", "push"},    {"GITHUB_REF_TYPE", type},
          {"GITHUB_REF_NAME", name}};
}

std::map<std::string, std::string> GitLabPipeline() {
  return {{"GITLAB_CI", "true"},
          {"CI_PROJECT_URL", "https://gitlab.example.com/g/p"},
          {"CI_COMMIT_SHA", kSha},
          {"CI_COMMIT_SHORT_SHA", "01234567"},
          {"CI_DEFAULT_BRANCH", "main"}};
}

std::vector<std::string> Aliases(const CiEnvironment& ci, const std::string& def = "") {
  std::vector<std::string> out;
  std::string err;
  EXPECT_TRUE(CiAliases(ci, def, &out, &err)) << err;
  return out;
}

std::string AliasError(const CiEnvironment& ci, const std::string& def = "") {
  std::vector<std::string> out;
  std::string err;
  EXPECT_FALSE(CiAliases(ci, def, &out, &err));
  return err;
}

TEST(CiEnvTest, NoCiWithoutTheMarkerVariable) {
  auto vars = GitHubPush("branch", "main");
  vars.erase("GITHUB_ACTIONS");
  auto lab = GitLabPipeline();
  vars.insert(lab.begin(), lab.end());
  vars.erase("GITLAB_CI");
  CiEnvironment ci = ReadCiEnvironment(Env(vars));
  EXPECT_EQ(ci.provider, CiProvider::kNone);
  EXPECT_EQ(ci.remote_url, "");
  EXPECT_EQ(ci.commit, "");
  EXPECT_NE(AliasError(ci).find("no CI found"), std::string::npos);
  vars["GITHUB_ACTIONS"] = "1";  // Only "true", as GitHub sets it, counts.
  EXPECT_EQ(ReadCiEnvironment(Env(vars)).provider, CiProvider::kNone);
}

TEST(CiEnvTest, GitHubRemoteFromServerAndRepository) {
  CiEnvironment ci = ReadCiEnvironment(Env(GitHubPush("branch", "main")));
  EXPECT_EQ(ci.provider, CiProvider::kGitHub);
  EXPECT_EQ(ci.remote_url, "https://github.com/o/r.git");
  EXPECT_EQ(ci.commit, kSha);
  EXPECT_EQ(ci.short_commit, "0123456");
  EXPECT_STREQ(CiProviderName(ci.provider), "GitHub Actions");

  auto vars = GitHubPush("branch", "main");
  vars["GITHUB_SERVER_URL"] = "https://x-access-token:secret@ghe.example.com/";
  EXPECT_EQ(ReadCiEnvironment(Env(vars)).remote_url, "https://ghe.example.com/o/r.git");
  vars.erase("GITHUB_REPOSITORY");
  EXPECT_EQ(ReadCiEnvironment(Env(vars)).remote_url, "");
}

TEST(CiEnvTest, GitLabRemoteFromProjectUrl) {
  auto vars = GitLabPipeline();
  CiEnvironment ci = ReadCiEnvironment(Env(vars));
  EXPECT_EQ(ci.provider, CiProvider::kGitLab);
  EXPECT_EQ(ci.remote_url, "https://gitlab.example.com/g/p.git");
  EXPECT_EQ(ci.short_commit, "01234567");
  EXPECT_STREQ(CiProviderName(ci.provider), "GitLab CI");
  vars["CI_PROJECT_URL"] = "https://gitlab-ci-token:glcbt-TOKEN@gitlab.example.com/g/p.git";
  vars.erase("CI_COMMIT_SHORT_SHA");
  ci = ReadCiEnvironment(Env(vars));
  EXPECT_EQ(ci.remote_url, "https://gitlab.example.com/g/p.git");
  EXPECT_EQ(ci.short_commit, "01234567");  // The first 8 of CI_COMMIT_SHA, as GitLab does.
  vars.erase("CI_PROJECT_URL");
  EXPECT_EQ(ReadCiEnvironment(Env(vars)).remote_url, "");
}

TEST(CiEnvTest, GitHubAliasesOnTheDefaultBranchFromTheEventPayload) {
  ScopedTempDir tmp;
  WriteTestFile(tmp.path(), "event.json",
                R"({"ref": "refs/heads/main", "repository": {"default_branch": "main"}})");
  auto vars = GitHubPush("branch", "main");
  vars["GITHUB_EVENT_PATH"] = tmp.Join("event.json");
  CiEnvironment ci = ReadCiEnvironment(Env(vars));
  EXPECT_EQ(ci.default_branch, "main");
  EXPECT_EQ(Aliases(ci), (std::vector<std::string>{"latest", "main", "0123456"}));
  // --default-branch wins over the payload.
  EXPECT_EQ(Aliases(ci, "develop"), (std::vector<std::string>{"main", "0123456"}));
}

TEST(CiEnvTest, GitHubDefaultBranchUnknown) {
  ScopedTempDir tmp;
  WriteTestFile(tmp.path(), "bad.json", "{not json");
  WriteTestFile(tmp.path(), "norepo.json", R"({"repository": "x"})");
  for (std::string path : {std::string(), tmp.Join("missing.json"), tmp.Join("bad.json"),
                           tmp.Join("norepo.json")}) {
    auto vars = GitHubPush("branch", "main");
    vars["GITHUB_EVENT_PATH"] = path;
    CiEnvironment ci = ReadCiEnvironment(Env(vars));
    EXPECT_EQ(ci.default_branch, "") << path;
    EXPECT_NE(AliasError(ci).find("pass --default-branch"), std::string::npos) << path;
    EXPECT_EQ(Aliases(ci, "main"), (std::vector<std::string>{"latest", "main", "0123456"}));
  }
}

TEST(CiEnvTest, OtherBranchGetsNoLatest) {
  CiEnvironment ci = ReadCiEnvironment(Env(GitHubPush("branch", "feature/x:y")));
  EXPECT_EQ(Aliases(ci, "main"), (std::vector<std::string>{"feature-x-y", "0123456"}));
}

TEST(CiEnvTest, TagAliases) {
  CiEnvironment ci = ReadCiEnvironment(Env(GitHubPush("tag", "release/1.2")));
  EXPECT_EQ(ci.tag, "release/1.2");
  EXPECT_EQ(ci.branch, "");
  // A tag build needs no default branch.
  EXPECT_EQ(Aliases(ci), (std::vector<std::string>{"release-1.2", "0123456"}));
  // "v3" is a version index on W&B: sanitised.
  ci = ReadCiEnvironment(Env(GitHubPush("tag", "v3")));
  EXPECT_EQ(Aliases(ci), (std::vector<std::string>{"v3-", "0123456"}));
  ci = ReadCiEnvironment(Env(GitHubPush("tag", std::string(200, 't'))));
  EXPECT_EQ(Aliases(ci)[0], std::string(128, 't'));
}

TEST(CiEnvTest, GitLabAliases) {
  auto vars = GitLabPipeline();
  vars["CI_COMMIT_BRANCH"] = "main";
  EXPECT_EQ(Aliases(ReadCiEnvironment(Env(vars))),
            (std::vector<std::string>{"latest", "main", "01234567"}));
  vars["CI_COMMIT_BRANCH"] = "topic";
  EXPECT_EQ(Aliases(ReadCiEnvironment(Env(vars))),
            (std::vector<std::string>{"topic", "01234567"}));
  vars.erase("CI_COMMIT_BRANCH");
  vars["CI_COMMIT_TAG"] = "1.0";
  EXPECT_EQ(Aliases(ReadCiEnvironment(Env(vars))),
            (std::vector<std::string>{"1.0", "01234567"}));
  vars.erase("CI_COMMIT_TAG");
  vars.erase("CI_DEFAULT_BRANCH");
  vars["CI_COMMIT_BRANCH"] = "main";
  EXPECT_NE(AliasError(ReadCiEnvironment(Env(vars))).find("CI_DEFAULT_BRANCH is not set"),
            std::string::npos);
}

TEST(CiEnvTest, DuplicatesDropped) {
  // A branch named like its short commit gives one alias.
  CiEnvironment ci = ReadCiEnvironment(Env(GitHubPush("branch", "0123456")));
  EXPECT_EQ(Aliases(ci, "main"), (std::vector<std::string>{"0123456"}));
}

TEST(CiEnvTest, PullRequestsAreRefused) {
  auto vars = GitHubPush("branch", "7/merge");
  vars["GITHUB_EVENT_NAME"] = "pull_request";
  CiEnvironment ci = ReadCiEnvironment(Env(vars));
  EXPECT_TRUE(ci.pull_request);
  EXPECT_EQ(ci.branch, "");
  EXPECT_NE(AliasError(ci, "main").find("a pull request build is not published"),
            std::string::npos);
  auto lab = GitLabPipeline();
  lab["CI_MERGE_REQUEST_IID"] = "12";
  EXPECT_NE(AliasError(ReadCiEnvironment(Env(lab))).find("a merge request build"),
            std::string::npos);
}

TEST(CiEnvTest, MissingCommitOrRef) {
  auto vars = GitHubPush("branch", "main");
  vars.erase("GITHUB_SHA");
  EXPECT_EQ(AliasError(ReadCiEnvironment(Env(vars)), "main"), "GITHUB_SHA is not set");
  auto lab = GitLabPipeline();
  lab.erase("CI_COMMIT_SHA");
  lab.erase("CI_COMMIT_SHORT_SHA");
  EXPECT_EQ(AliasError(ReadCiEnvironment(Env(lab))), "CI_COMMIT_SHA is not set");
  vars = GitHubPush("", "");
  EXPECT_NE(AliasError(ReadCiEnvironment(Env(vars)), "main").find("neither a branch nor a tag"),
            std::string::npos);
}

TEST(CiEnvTest, ProcessEnvReadsTheEnvironment) {
  setenv("WANDB_JOB_CI_ENV_TEST", "x", 1);
  EXPECT_EQ(ProcessEnv()("WANDB_JOB_CI_ENV_TEST"), "x");
  unsetenv("WANDB_JOB_CI_ENV_TEST");
  EXPECT_EQ(ProcessEnv()("WANDB_JOB_CI_ENV_TEST"), "");
}

// The results a CI step reads: app URL, links and the --summary document (publish.h).

TEST(CiPublishSummaryTest, AppUrlFromBaseUrl) {
  EXPECT_EQ(WandbAppUrl("https://api.wandb.ai", ""), "https://wandb.ai");
  EXPECT_EQ(WandbAppUrl("https://api.wandb.ai/", ""), "https://wandb.ai");
  EXPECT_EQ(WandbAppUrl("https://api.wandb.test", ""), "https://app.wandb.test");
  EXPECT_EQ(WandbAppUrl("https://api.corp.example.com", ""), "https://app.corp.example.com");
  EXPECT_EQ(WandbAppUrl("http://127.0.0.1:8080/", ""), "http://127.0.0.1:8080");
  EXPECT_EQ(WandbAppUrl("https://api.wandb.ai", "https://ui.example.com/"),
            "https://ui.example.com");
}

JobPublishResult Result(bool created, int version) {
  JobPublishResult r;
  r.name = "job-x";
  r.entity = "e";
  r.project = "p";
  r.source_type = "repo";
  r.job.id = "QXJ0aWZhY3Q6MQ==";
  r.job.version_index = version;
  r.job.created = created;
  r.job.aliases = {"latest", "main"};
  r.job.digest = "abc";
  return r;
}

TEST(CiEnvTest, WhyWandbIsRequired) {
  EXPECT_EQ(WhyWandbIsRequired(Env({}), false), "");
  EXPECT_EQ(WhyWandbIsRequired(Env({{"CI", "false"}, {"WANDB_MODE", "offline"}}), false), "");
  EXPECT_EQ(WhyWandbIsRequired(Env({{"CI", "0"}}), false), "");
  EXPECT_EQ(WhyWandbIsRequired(Env({{"GITHUB_ACTIONS", "false"}}), false), "");
  EXPECT_EQ(WhyWandbIsRequired(Env(GitHubPush("branch", "main")), false),
            "GITHUB_ACTIONS=true (a CI build)");
  EXPECT_EQ(WhyWandbIsRequired(Env(GitLabPipeline()), false), "GITLAB_CI=true (a CI build)");
  EXPECT_EQ(WhyWandbIsRequired(Env({{"CI", "true"}}), false), "CI=true (a CI build)");
  EXPECT_EQ(WhyWandbIsRequired(Env({{"CI", "1"}}), false), "CI=1 (a CI build)");
  EXPECT_EQ(WhyWandbIsRequired(Env({{"WANDB_MODE", "online"}}), false), "WANDB_MODE=online");
  EXPECT_EQ(WhyWandbIsRequired(Env({}), true), "--ci-aliases");
}

TEST(CiPublishSummaryTest, Links) {
  JobLinks w = MakeJobLinks(Result(true, 3), "https://wandb.ai");
  EXPECT_EQ(w.version, "https://wandb.ai/e/p/artifacts/job/job-x/v3");
  EXPECT_EQ(w.jobs, "https://wandb.ai/e/p/jobs");
  JobLinks local = MakeJobLinks(Result(true, 3), "");
  EXPECT_EQ(local.version, "wandb-job show e/p/job-x:v3");
  EXPECT_EQ(local.jobs, "");
  JobPublishResult unknown = Result(true, -1);
  EXPECT_EQ(MakeJobLinks(unknown, "https://wandb.ai").version, "");
  unknown = Result(true, 2);
  unknown.known = false;
  EXPECT_EQ(MakeJobLinks(unknown, "").version, "");
}

TEST(CiPublishSummaryTest, ChangedAnything) {
  EXPECT_TRUE(PublishChangedAnything(Result(true, 0)));
  JobPublishResult r = Result(false, 0);
  EXPECT_FALSE(PublishChangedAnything(r));
  r.has_code = true;
  r.code.created = true;
  EXPECT_TRUE(PublishChangedAnything(r));
}

TEST(CiPublishSummaryTest, SummaryJson) {
  JobPublishResult image = Result(false, 1);
  image.source_type = "image";
  image.has_image = true;
  image.image.reference = "reg.example.com/x";
  image.image.pinned = "reg.example.com/x@sha256:00";
  image.image.digest = "sha256:00";
  image.image.tags = {"latest"};
  JobPublishResult code = Result(true, 0);
  code.has_code = true;
  code.code_name = "source-x";
  code.code.id = "Y29kZQ==";
  code.code.version_index = 0;
  code.code.created = true;
  auto doc = nlohmann::json::parse(
      PublishSummaryJson({image, code}, "https://api.wandb.ai", "https://wandb.ai", false));
  EXPECT_EQ(doc["schema_version"], 1);
  EXPECT_EQ(doc["destination"], "https://api.wandb.ai");
  EXPECT_EQ(doc["published"], true);
  ASSERT_EQ(doc["jobs"].size(), 2u);
  const auto& j0 = doc["jobs"][0];
  EXPECT_EQ(j0["name"], "job-x");
  EXPECT_EQ(j0["version"], "v1");
  EXPECT_EQ(j0["new"], false);
  EXPECT_EQ(j0["artifact_id"], "QXJ0aWZhY3Q6MQ==");
  EXPECT_EQ(j0["aliases"], nlohmann::json({"latest", "main"}));
  EXPECT_EQ(j0["image"]["pinned"], "reg.example.com/x@sha256:00");
  EXPECT_TRUE(j0["code"].is_null());
  EXPECT_EQ(j0["url"], "https://wandb.ai/e/p/artifacts/job/job-x/v1");
  EXPECT_EQ(j0["jobs_url"], "https://wandb.ai/e/p/jobs");
  const auto& j1 = doc["jobs"][1];
  EXPECT_EQ(j1["code"]["artifact_id"], "Y29kZQ==");
  EXPECT_EQ(j1["code"]["version"], "v0");
  EXPECT_TRUE(j1["image"].is_null());

  doc = nlohmann::json::parse(PublishSummaryJson({Result(false, 0)}, "local store /s", "", false));
  EXPECT_EQ(doc["published"], false);
  EXPECT_EQ(doc["jobs"][0]["show"], "wandb-job show e/p/job-x:v0");
  EXPECT_FALSE(doc["jobs"][0].contains("url"));
  // A dry run publishes nothing, whatever it predicts.
  doc = nlohmann::json::parse(PublishSummaryJson({Result(true, -1)}, "d", "", true));
  EXPECT_EQ(doc["published"], false);
  EXPECT_EQ(doc["dry_run"], true);
  EXPECT_TRUE(doc["jobs"][0]["version"].is_null());
  EXPECT_TRUE(doc["jobs"][0]["show"].is_null());
  doc = nlohmann::json::parse(PublishSummaryJson({}, "", "", false));
  EXPECT_TRUE(doc["jobs"].empty());
}

}  // namespace
}  // namespace wandb_job
