#include "git_state.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>

#include "file_util.h"
#include "log.h"
#include "test_util.h"

namespace wandb_job {
namespace {

constexpr int64_t kCommitTime = 1704164645;  // 2024-01-02T03:04:05Z, fixed by RunShell

std::string Real(const std::string& path) {
  std::string out;
  std::string err;
  EXPECT_TRUE(RealPath(path, &out, &err)) << err;
  return out;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

std::string Contents(const std::string& path) {
  std::string contents;
  std::string err;
  EXPECT_TRUE(ReadFile(path, &contents, &err)) << err;
  return contents;
}

GitState Read(const std::string& dir, const GitOptions& options = GitOptions()) {
  GitState state;
  std::string err;
  EXPECT_EQ(ReadGitState(dir, options, &state, &err), GitStatus::kOk) << err;
  return state;
}

std::vector<std::string> List(const std::string& root, const std::string& subdir) {
  std::vector<std::string> files;
  std::string err;
  EXPECT_TRUE(ListWorkTreeFiles(root, subdir, &files, &err)) << err;
  return files;
}

/// Warnings issued since `start` (an index into WarningsIssued()) that contain `needle`.
int WarningsWith(size_t start, const std::string& needle) {
  const std::vector<std::string>& all = WarningsIssued();
  return static_cast<int>(std::count_if(all.begin() + start, all.end(), [&](const std::string& w) {
    return w.find(needle) != std::string::npos;
  }));
}

bool Contains(const std::vector<std::string>& v, const std::string& item) {
  return std::find(v.begin(), v.end(), item) != v.end();
}

/// Applies `patch` with `patch -p1` to a fresh export of HEAD of `repo` (plus, for each
/// submodule path given, an export of that submodule's HEAD) and returns the copy's path.
std::string ApplyToFreshCopy(const ScopedTempDir& tmp, const std::string& repo,
                             const std::string& patch,
                             const std::vector<std::string>& submodules = {}) {
  std::string copy = tmp.Join("copy");
  std::string err;
  EXPECT_TRUE(MakeDirs(copy, &err)) << err;
  RunShell(repo, "git archive HEAD | tar -x -C '" + copy + "'");
  for (const std::string& sub : submodules) {
    RunShell(repo + "/" + sub, "mkdir -p '" + copy + "/" + sub +
                                   "' && git archive HEAD | tar -x -C '" + copy + "/" + sub + "'");
  }
  WriteTestFile(tmp.path(), "diff.patch", patch);
  RunShell(copy, "patch -p1 -s < '" + tmp.Join("diff.patch") + "'");
  return copy;
}

TEST(GitStateTest, CleanRepo) {
  ScopedTempDir tmp;
  MakeTestRepo(tmp.path(), {{"src/main.cc", "int main() {}\n"}, {"README", "hi\n"}});
  size_t start = WarningsIssued().size();
  GitState state = Read(tmp.Join("src"));  // found by searching upwards
  EXPECT_EQ(state.root, Real(tmp.path()));
  EXPECT_EQ(state.commit, Trim(RunShell(tmp.path(), "git rev-parse HEAD")));
  EXPECT_EQ(state.commit.size(), 40u);
  EXPECT_EQ(state.commit_time, kCommitTime);
  EXPECT_EQ(state.branch, "main");
  EXPECT_FALSE(state.detached);
  EXPECT_FALSE(state.unborn);
  EXPECT_FALSE(state.shallow);
  EXPECT_FALSE(state.worktree);
  EXPECT_FALSE(state.dirty);
  EXPECT_EQ(state.patch, "");
  EXPECT_FALSE(state.patch_truncated);
  EXPECT_EQ(state.remote_name, "");
  EXPECT_EQ(state.remote_url, "");
  EXPECT_FALSE(state.on_remote_branch);
  EXPECT_EQ(DescribeRemoteBranch(state), "");
  EXPECT_EQ(WarningsIssued().size(), start);
  std::string git = Real(tmp.Join(".git"));
  EXPECT_TRUE(Contains(state.inputs, git + "/HEAD"));
  EXPECT_TRUE(Contains(state.inputs, git + "/index"));
  EXPECT_TRUE(Contains(state.inputs, git + "/refs/heads/main"));
  EXPECT_FALSE(Contains(state.inputs, git + "/packed-refs"));
  EXPECT_FALSE(Contains(state.inputs, git + "/shallow"));
  for (const std::string& input : state.inputs) {
    EXPECT_TRUE(FileExists(input)) << input;
  }
}

TEST(GitStateTest, InputsFollowPackedRefs) {
  ScopedTempDir tmp;
  MakeTestRepo(tmp.path(), {{"a", "a\n"}});
  RunShell(tmp.path(), "git pack-refs --all");
  GitState state = Read(tmp.path());
  std::string git = Real(tmp.Join(".git"));
  EXPECT_FALSE(Contains(state.inputs, git + "/refs/heads/main"));
  EXPECT_TRUE(Contains(state.inputs, git + "/packed-refs"));
  for (const std::string& input : state.inputs) {
    EXPECT_TRUE(FileExists(input)) << input;
  }
  // A commit writes the loose ref again: the directory it appears in is an input.
  EXPECT_EQ(state.input_dirs, std::vector<std::string>{git + "/refs/heads"});

  // The same for a branch whose name has a slash (pack-refs removed its empty directory) and its
  // remote-tracking ref.
  RunShell(tmp.path(),
           "git checkout -q -b feature/x && git remote add origin https://example.com/r.git && "
           "git update-ref refs/remotes/origin/feature/x HEAD && git pack-refs --all");
  ASSERT_FALSE(FileExists(git + "/refs/heads/feature"));
  state = Read(tmp.path());
  EXPECT_FALSE(Contains(state.inputs, git + "/refs/heads/feature/x"));
  EXPECT_EQ(state.input_dirs,
            (std::vector<std::string>{git + "/refs/heads", git + "/refs/remotes"}));
  RunShell(tmp.path(), "git commit -q --allow-empty -m next");
  state = Read(tmp.path());
  EXPECT_TRUE(Contains(state.inputs, git + "/refs/heads/feature/x"));
  EXPECT_EQ(state.input_dirs, std::vector<std::string>{git + "/refs/remotes"});
}

TEST(GitStateTest, DirtyPatchAppliesWithPatchP1) {
  ScopedTempDir tmp;
  std::string repo = tmp.Join("repo");
  MakeTestRepo(repo, {{"src/main.cc", "int main() {\n  return 0;\n}\n"},
                      {"gone.txt", "bye\n"},
                      {"keep.txt", "same\n"}});
  // The user's diff.noprefix must not leak into diff.patch.
  RunShell(repo, "git config diff.noprefix true");
  WriteTestFile(repo, "src/main.cc", "int main() {\n  return 1;\n}\n");
  WriteTestFile(repo, "staged.txt", "new\n");
  WriteTestFile(repo, "untracked.txt", "not in the patch\n");
  RunShell(repo, "git rm -q gone.txt && git add staged.txt");
  GitState state = Read(repo);
  EXPECT_TRUE(state.dirty);
  EXPECT_NE(state.patch.find("diff --git a/src/main.cc b/src/main.cc\n"), std::string::npos)
      << state.patch;
  EXPECT_NE(state.patch.find("+++ b/staged.txt"), std::string::npos);
  EXPECT_EQ(state.patch.find("untracked"), std::string::npos);
  std::string copy = ApplyToFreshCopy(tmp, repo, state.patch);
  EXPECT_EQ(Contents(copy + "/src/main.cc"), "int main() {\n  return 1;\n}\n");
  EXPECT_EQ(Contents(copy + "/staged.txt"), "new\n");
  EXPECT_EQ(Contents(copy + "/keep.txt"), "same\n");
  EXPECT_FALSE(FileExists(copy + "/gone.txt"));
  EXPECT_FALSE(FileExists(copy + "/untracked.txt"));
}

TEST(GitStateTest, StagedNewFileIsDirty) {
  ScopedTempDir tmp;
  MakeTestRepo(tmp.path(), {{"a", "a\n"}});
  WriteTestFile(tmp.path(), "b", "b\n");
  RunShell(tmp.path(), "git add b");
  GitState state = Read(tmp.path());
  EXPECT_TRUE(state.dirty);
  EXPECT_NE(state.patch.find("new file mode 100644"), std::string::npos) << state.patch;
  EXPECT_NE(state.patch.find("+b\n"), std::string::npos);
}

TEST(GitStateTest, UntrackedAndIgnoredFiles) {
  ScopedTempDir tmp;
  MakeTestRepo(tmp.path(), {{".gitignore", "build/\n*.o\n"}, {"src/a.cc", "a\n"}, {"b", "b\n"}});
  WriteTestFile(tmp.path(), "src/new/deep.cc", "untracked\n");
  WriteTestFile(tmp.path(), "src/a.o", "ignored\n");
  WriteTestFile(tmp.path(), "build/out", "ignored\n");
  RunShell(tmp.path(), "git rm -q --cached b && rm -f b");  // staged delete, gone from disk
  GitState state = Read(tmp.path());
  EXPECT_EQ(state.patch.find("deep.cc"), std::string::npos);
  std::vector<std::string> expected = {".gitignore", "src/a.cc", "src/new/deep.cc"};
  EXPECT_EQ(List(tmp.path(), tmp.path()), expected);
  std::vector<std::string> src = {"src/a.cc", "src/new/deep.cc"};
  EXPECT_EQ(List(tmp.path(), tmp.Join("src")), src);
}

TEST(GitStateTest, UntrackedOnlyIsClean) {
  ScopedTempDir tmp;
  MakeTestRepo(tmp.path(), {{"a", "a\n"}});
  WriteTestFile(tmp.path(), "notes.txt", "x\n");
  GitState state = Read(tmp.path());
  EXPECT_FALSE(state.dirty);
  EXPECT_EQ(state.patch, "");
}

TEST(GitStateTest, DeletedTrackedFileIsNotListed) {
  ScopedTempDir tmp;
  MakeTestRepo(tmp.path(), {{"a", "a\n"}, {"b", "b\n"}});
  RunShell(tmp.path(), "rm b");
  std::vector<std::string> expected = {"a"};
  EXPECT_EQ(List(tmp.path(), tmp.path()), expected);
  EXPECT_TRUE(Read(tmp.path()).dirty);
}

TEST(GitStateTest, ListWorkTreeFilesErrors) {
  ScopedTempDir tmp;
  ScopedTempDir other;
  MakeTestRepo(tmp.path(), {{"a", "a\n"}});
  std::vector<std::string> files;
  std::string err;
  EXPECT_FALSE(ListWorkTreeFiles(tmp.path(), other.path(), &files, &err));
  EXPECT_NE(err.find("outside the work tree"), std::string::npos) << err;
  err.clear();
  EXPECT_FALSE(ListWorkTreeFiles(tmp.path(), tmp.Join("missing"), &files, &err));
  EXPECT_FALSE(err.empty());
  err.clear();
  EXPECT_FALSE(ListWorkTreeFiles(other.path(), other.path(), &files, &err));
  EXPECT_NE(err.find("opening git repository"), std::string::npos) << err;
}

TEST(GitStateTest, BinaryChangeWarns) {
  ScopedTempDir tmp;
  MakeTestRepo(tmp.path(), {{"weights.bin", std::string("\0\1\2\3", 4)}});
  WriteTestFile(tmp.path(), "weights.bin", std::string("\0\1\2\4", 4));
  size_t start = WarningsIssued().size();
  GitState state = Read(tmp.path());
  EXPECT_TRUE(state.dirty);
  EXPECT_NE(state.patch.find("Binary files a/weights.bin and b/weights.bin differ"),
            std::string::npos)
      << state.patch;
  EXPECT_EQ(WarningsWith(start, "weights.bin"), 1);
}

TEST(GitStateTest, PatchOverTheCapIsLeftOut) {
  ScopedTempDir tmp;
  MakeTestRepo(tmp.path(), {{"a", "a\n"}});
  WriteTestFile(tmp.path(), "a", std::string(1000, 'x') + "\n");
  GitOptions options;
  options.max_patch_bytes = 500;
  size_t start = WarningsIssued().size();
  GitState state = Read(tmp.path(), options);
  EXPECT_TRUE(state.dirty);
  EXPECT_TRUE(state.patch_truncated);
  EXPECT_EQ(state.patch, "");
  EXPECT_EQ(WarningsWith(start, "diff.patch limit of 500 bytes"), 1);
  options.max_patch_bytes = 5000;
  state = Read(tmp.path(), options);
  EXPECT_FALSE(state.patch_truncated);
  EXPECT_NE(state.patch, "");
}

TEST(GitStateTest, DetachedHead) {
  ScopedTempDir tmp;
  MakeTestRepo(tmp.path(), {{"a", "a\n"}});
  RunShell(tmp.path(),
           "git remote add origin https://github.com/acme/t.git && "
           "git update-ref refs/remotes/origin/main HEAD && git checkout -q --detach");
  GitState state = Read(tmp.path());
  EXPECT_TRUE(state.detached);
  EXPECT_EQ(state.branch, "");
  EXPECT_EQ(state.commit.size(), 40u);
  EXPECT_TRUE(state.on_remote_branch);
  EXPECT_EQ(state.remote_name, "origin");
  EXPECT_EQ(DescribeRemoteBranch(state), "origin (detached at " + state.commit.substr(0, 7) + ")");
}

TEST(GitStateTest, UnbornHead) {
  ScopedTempDir tmp;
  RunShell(tmp.path(), "git init -q -b trunk .");
  WriteTestFile(tmp.path(), "untracked", "x\n");
  GitState state = Read(tmp.path());
  EXPECT_TRUE(state.unborn);
  EXPECT_FALSE(state.detached);
  EXPECT_EQ(state.branch, "trunk");
  EXPECT_EQ(state.commit, "");
  EXPECT_EQ(state.commit_time, 0);
  EXPECT_FALSE(state.dirty);
  EXPECT_EQ(state.patch, "");
  EXPECT_FALSE(state.on_remote_branch);
  std::string git = Real(tmp.Join(".git"));
  EXPECT_TRUE(Contains(state.inputs, git + "/HEAD"));
  EXPECT_FALSE(Contains(state.inputs, git + "/refs/heads/trunk"));
  std::vector<std::string> expected = {"untracked"};
  EXPECT_EQ(List(tmp.path(), tmp.path()), expected);
}

TEST(GitStateTest, UnbornHeadWithStagedFiles) {
  ScopedTempDir tmp;
  RunShell(tmp.path(), "git init -q -b main .");
  WriteTestFile(tmp.path(), "src/a.cc", "int a;\n");
  RunShell(tmp.path(), "git add src/a.cc");
  GitState state = Read(tmp.path());
  EXPECT_TRUE(state.unborn);
  EXPECT_TRUE(state.dirty);
  EXPECT_NE(state.patch.find("new file mode"), std::string::npos) << state.patch;
  EXPECT_NE(state.patch.find("+++ b/src/a.cc"), std::string::npos);
  EXPECT_TRUE(Contains(state.inputs, Real(tmp.Join(".git")) + "/index"));
  ScopedTempDir copy;
  WriteTestFile(copy.path(), "diff.patch", state.patch);
  RunShell(copy.path(), "patch -p1 -s < diff.patch");
  EXPECT_EQ(Contents(copy.Join("src/a.cc")), "int a;\n");
}

TEST(GitStateTest, RemoteChoice) {
  ScopedTempDir tmp;
  MakeTestRepo(tmp.path(), {{"a", "a\n"}});
  RunShell(tmp.path(),
           "git remote add zeta https://z.example.com/r.git && "
           "git remote add alpha https://a.example.com/r.git");
  size_t start = WarningsIssued().size();
  GitState state = Read(tmp.path());
  EXPECT_EQ(state.remote_name, "alpha");  // first in name order, with a warning
  EXPECT_EQ(WarningsWith(start, "zeta"), 1);

  RunShell(tmp.path(), "git remote add origin https://o.example.com/r.git");
  start = WarningsIssued().size();
  state = Read(tmp.path());
  EXPECT_EQ(state.remote_name, "origin");
  EXPECT_EQ(state.remote_url, "https://o.example.com/r.git");
  EXPECT_EQ(WarningsWith(start, "several git remotes"), 0);

  // The branch's upstream remote wins over origin.
  RunShell(tmp.path(),
           "git config branch.main.remote zeta && "
           "git config branch.main.merge refs/heads/main");
  state = Read(tmp.path());
  EXPECT_EQ(state.remote_name, "zeta");
  EXPECT_EQ(DescribeRemoteBranch(state), "zeta/main");

  GitOptions options;
  options.remote = "alpha";
  EXPECT_EQ(Read(tmp.path(), options).remote_name, "alpha");
  options.remote = "nope";
  GitState unused;
  std::string err;
  EXPECT_EQ(ReadGitState(tmp.path(), options, &unused, &err), GitStatus::kError);
  EXPECT_EQ(err, "no remote named 'nope'");
}

TEST(GitStateTest, OnlyRemoteIsChosen) {
  ScopedTempDir tmp;
  MakeTestRepo(tmp.path(), {{"a", "a\n"}});
  RunShell(tmp.path(), "git remote add mine git@github.com:acme/t.git");
  GitState state = Read(tmp.path());
  EXPECT_EQ(state.remote_name, "mine");
  EXPECT_EQ(state.remote_url, "git@github.com:acme/t.git");
}

TEST(GitStateTest, CredentialsStrippedFromRawUrl) {
  ScopedTempDir tmp;
  MakeTestRepo(tmp.path(), {{"a", "a\n"}});
  RunShell(tmp.path(),
           "git remote add origin https://gitlab-ci-token:SECRET@GitLab.com/g/p.git && "
           "git config url.https://mirror.example.com/.insteadOf https://gitlab.com/");
  GitState state = Read(tmp.path());
  EXPECT_EQ(state.remote_url, "https://gitlab.com/g/p.git");
  EXPECT_TRUE(Contains(state.inputs, Real(tmp.Join(".git")) + "/config"));
}

TEST(GitStateTest, NotARepository) {
  ScopedTempDir tmp;
  std::string old = GetEnv("GIT_CEILING_DIRECTORIES");
  setenv("GIT_CEILING_DIRECTORIES", Real(tmp.path()).c_str(), 1);
  std::string err;
  GitState state;
  WriteTestFile(tmp.path(), "plain/file", "x");
  EXPECT_EQ(ReadGitState(tmp.Join("plain"), GitOptions(), &state, &err),
            GitStatus::kNotARepository);
  EXPECT_EQ(err, "");
  if (old.empty()) {
    unsetenv("GIT_CEILING_DIRECTORIES");
  } else {
    setenv("GIT_CEILING_DIRECTORIES", old.c_str(), 1);
  }
  EXPECT_EQ(ReadGitState(tmp.Join("missing"), GitOptions(), &state, &err), GitStatus::kError);
  EXPECT_NE(err.find("no such directory"), std::string::npos) << err;
}

TEST(GitStateTest, DanglingDotGitFileWarns) {
  ScopedTempDir tmp;
  WriteTestFile(tmp.path(), "wt/.git", "gitdir: " + tmp.Join("pruned/.git/worktrees/wt") + "\n");
  WriteTestFile(tmp.path(), "wt/src/a.cc", "a\n");
  size_t start = WarningsIssued().size();
  GitState state;
  std::string err;
  EXPECT_EQ(ReadGitState(tmp.Join("wt/src"), GitOptions(), &state, &err),
            GitStatus::kNotARepository);
  EXPECT_EQ(WarningsWith(start, Real(tmp.Join("wt/.git")) + " is not a usable git repository"), 1);
}

TEST(GitStateTest, HeadOnMissingCommitIsAnError) {
  ScopedTempDir tmp;
  MakeTestRepo(tmp.path(), {{"a", "a\n"}});
  WriteTestFile(tmp.path(), ".git/refs/heads/main", std::string(40, '1') + "\n");
  GitState state;
  std::string err;
  EXPECT_EQ(ReadGitState(tmp.path(), GitOptions(), &state, &err), GitStatus::kError);
  EXPECT_EQ(err.rfind("resolving HEAD: ", 0), 0u) << err;
}

TEST(GitStateTest, BareRepositoryIsAnError) {
  ScopedTempDir tmp;
  RunShell(tmp.path(), "git init -q --bare bare.git");
  GitState state;
  std::string err;
  EXPECT_EQ(ReadGitState(tmp.Join("bare.git"), GitOptions(), &state, &err), GitStatus::kError);
  EXPECT_NE(err.find("bare repository"), std::string::npos) << err;
}

TEST(GitStateTest, ShallowClone) {
  ScopedTempDir tmp;
  std::string src = tmp.Join("src");
  MakeTestRepo(src, {{"a", "1\n"}});
  RunShell(src, "echo 2 > a && git commit -qam second && echo 3 > a && git commit -qam third");
  RunShell(tmp.path(), "git clone -q --depth 1 file://" + src + " clone");
  std::string clone = tmp.Join("clone");
  GitState state = Read(clone);
  EXPECT_TRUE(state.shallow);
  EXPECT_TRUE(state.on_remote_branch);
  EXPECT_EQ(state.remote_url, "file://" + src);
  EXPECT_TRUE(Contains(state.inputs, Real(clone + "/.git") + "/shallow"));
  EXPECT_EQ(DescribeRemoteBranch(state), "origin/main");

  // A local commit: the ancestry walk hits the shallow boundary and must not fail.
  RunShell(clone, "echo 4 > a && git commit -qam local");
  size_t start = WarningsIssued().size();
  state = Read(clone);
  WarnIfUnpushed(state);
  EXPECT_FALSE(state.on_remote_branch);
  EXPECT_EQ(WarningsWith(start, "cannot clone"), 1);
}

TEST(GitStateTest, CommitNotPushedWarns) {
  ScopedTempDir tmp;
  std::string repo = tmp.Join("repo");
  MakeTestRepo(repo, {{"a", "1\n"}});
  RunShell(tmp.path(), "git clone -q --bare repo remote.git");
  RunShell(repo, "git remote add origin ../remote.git && git fetch -q origin");
  size_t start = WarningsIssued().size();
  GitState state = Read(repo);
  WarnIfUnpushed(state);
  EXPECT_TRUE(state.on_remote_branch);
  EXPECT_EQ(WarningsWith(start, "cannot clone"), 0);

  RunShell(repo, "echo 2 > a && git commit -qam second");
  start = WarningsIssued().size();
  state = Read(repo);
  // Reading the state warns of nothing: only a repo job's capture asks (WarnIfUnpushed).
  EXPECT_EQ(WarningsWith(start, "cannot clone"), 0);
  WarnIfUnpushed(state);
  EXPECT_FALSE(state.on_remote_branch);
  EXPECT_EQ(WarningsWith(start, "cannot clone"), 1);
  EXPECT_EQ(WarningsWith(start, state.commit.substr(0, 7)), 1);

  // Older commits are reachable from the remote-tracking branch; tags count too.
  RunShell(repo, "git checkout -q --detach HEAD~1");
  EXPECT_TRUE(Read(repo).on_remote_branch);
  RunShell(repo, "git checkout -q main && git tag v1");
  EXPECT_TRUE(Read(repo).on_remote_branch);
}

TEST(GitStateTest, LinkedWorktree) {
  ScopedTempDir tmp;
  std::string repo = tmp.Join("repo");
  MakeTestRepo(repo, {{"a", "1\n"}});
  RunShell(repo, "git worktree add -q ../wt -b feature");
  std::string wt = tmp.Join("wt");
  WriteTestFile(wt, "a", "2\n");
  GitState state = Read(wt);
  EXPECT_TRUE(state.worktree);
  EXPECT_EQ(state.root, Real(wt));
  EXPECT_EQ(state.branch, "feature");
  EXPECT_TRUE(state.dirty);
  EXPECT_NE(state.patch.find("+2\n"), std::string::npos);
  std::string git = Real(repo + "/.git");
  EXPECT_TRUE(Contains(state.inputs, git + "/worktrees/wt/HEAD"));
  EXPECT_TRUE(Contains(state.inputs, git + "/worktrees/wt/index"));
  EXPECT_TRUE(Contains(state.inputs, git + "/refs/heads/feature"));
  EXPECT_FALSE(Contains(state.inputs, git + "/HEAD"));
  for (const std::string& input : state.inputs) {
    EXPECT_TRUE(FileExists(input)) << input;
  }
  std::vector<std::string> expected = {"a"};
  EXPECT_EQ(List(state.root, state.root), expected);
  EXPECT_FALSE(Read(repo).worktree);
}

TEST(GitStateTest, Submodules) {
  ScopedTempDir tmp;
  std::string lib = tmp.Join("lib");
  std::string repo = tmp.Join("repo");
  MakeTestRepo(lib, {{"lib.txt", "one\n"}, {"inc/lib.h", "int f();\n"}});
  MakeTestRepo(repo, {{"main.cc", "int main() {}\n"}});
  RunShell(repo, "git -c protocol.file.allow=always submodule add -q '" + lib +
                     "' third_party/lib && git commit -qm 'add lib'");
  EXPECT_FALSE(Read(repo).dirty);

  // Untracked files inside the submodule do not make it dirty, but they are listed.
  WriteTestFile(repo, "third_party/lib/scratch", "x\n");
  EXPECT_FALSE(Read(repo).dirty);
  std::vector<std::string> expected = {".gitmodules", "main.cc", "third_party/lib/inc/lib.h",
                                       "third_party/lib/lib.txt", "third_party/lib/scratch"};
  EXPECT_EQ(List(repo, repo), expected);
  std::vector<std::string> inside = {"third_party/lib/inc/lib.h"};
  EXPECT_EQ(List(repo, repo + "/third_party/lib/inc"), inside);

  // A tracked change inside the submodule is dirty, and diff.patch carries its content.
  WriteTestFile(repo, "third_party/lib/lib.txt", "two\n");
  GitState state = Read(repo);
  EXPECT_TRUE(state.dirty);
  EXPECT_NE(state.patch.find("Submodule third_party/lib "), std::string::npos) << state.patch;
  EXPECT_NE(state.patch.find("diff --git a/third_party/lib/lib.txt b/third_party/lib/lib.txt"),
            std::string::npos)
      << state.patch;
  EXPECT_EQ(state.patch.find("Subproject commit"), std::string::npos);
  std::string copy = ApplyToFreshCopy(tmp, repo, state.patch, {"third_party/lib"});
  EXPECT_EQ(Contents(copy + "/third_party/lib/lib.txt"), "two\n");

  // A new commit in the submodule, not yet recorded in the superproject.
  RunShell(repo + "/third_party/lib", "git commit -qam two && echo three > lib.txt");
  state = Read(repo);
  EXPECT_TRUE(state.dirty);
  EXPECT_NE(state.patch.find("+three"), std::string::npos) << state.patch;
  EXPECT_NE(state.patch.find("-one"), std::string::npos) << state.patch;

  // A clone without --recurse-submodules: the submodule is skipped with a warning.
  RunShell(tmp.path(), "git clone -q repo plain");
  std::string plain = tmp.Join("plain");
  size_t start = WarningsIssued().size();
  std::vector<std::string> top = {".gitmodules", "main.cc"};
  EXPECT_EQ(List(plain, plain), top);
  EXPECT_EQ(WarningsWith(start, "third_party/lib is not initialised"), 1);
  EXPECT_FALSE(Read(plain).dirty);

  // A staged gitlink change in a submodule that is not checked out: dirty, with a warning.
  RunShell(plain,
           "git update-index --cacheinfo 160000," + std::string(40, 'a') + ",third_party/lib");
  start = WarningsIssued().size();
  state = Read(plain);
  EXPECT_TRUE(state.dirty);
  EXPECT_NE(state.patch.find("(not checked out)"), std::string::npos) << state.patch;
  EXPECT_EQ(WarningsWith(start, "third_party/lib changed but is not checked out"), 1);
}

TEST(GitStateTest, SubmoduleRecordedCommitMissingOrDeleted) {
  ScopedTempDir tmp;
  std::string lib = tmp.Join("lib");
  std::string repo = tmp.Join("repo");
  MakeTestRepo(lib, {{"lib.txt", "one\n"}});
  MakeTestRepo(repo, {{"main.cc", "int main() {}\n"}});
  RunShell(repo, "git -c protocol.file.allow=always submodule add -q '" + lib +
                     "' sub && git commit -qm 'add lib'");
  // HEAD records a commit the submodule's repository does not have.
  RunShell(repo, "git update-index --cacheinfo 160000," + std::string(40, 'b') +
                     ",sub && git commit -qm bogus && git reset -q");
  size_t start = WarningsIssued().size();
  GitState state = Read(repo);
  EXPECT_TRUE(state.dirty);
  EXPECT_EQ(WarningsWith(start, "recorded commit bbbbbbb is missing"), 1);

  RunShell(repo, "git reset -q --hard HEAD~1 && git rm -q sub");
  state = Read(repo);
  EXPECT_TRUE(state.dirty);
  EXPECT_NE(state.patch.find("Submodule sub "), std::string::npos) << state.patch;
  EXPECT_NE(state.patch.find("(submodule deleted)"), std::string::npos) << state.patch;
  EXPECT_NE(state.patch.find("diff --git a/.gitmodules b/.gitmodules"), std::string::npos);
}

// A sparse checkout leaves skip-worktree files out of the work tree on purpose: git calls that
// clean, so must the job, and diff.patch must not delete them.
TEST(GitStateTest, SparseCheckoutIsClean) {
  ScopedTempDir tmp;
  std::string repo = tmp.Join("repo");
  MakeTestRepo(repo, {{"app/main.cc", "m\n"}, {"docs/a.md", "a\n"}, {"data/b.csv", "b\n"},
                      {"top.txt", "t\n"}});
  RunShell(repo, "git sparse-checkout set app");
  ASSERT_FALSE(FileExists(repo + "/docs/a.md"));  // the setup did what it should
  GitState state = Read(repo);
  EXPECT_FALSE(state.dirty);
  EXPECT_EQ(state.patch, "");
  EXPECT_EQ(List(repo, repo), (std::vector<std::string>{"app/main.cc", "top.txt"}));

  // A real change is still seen, and only it; the patch applies to a full checkout.
  WriteTestFile(repo, "app/main.cc", "m2\n");
  state = Read(repo);
  EXPECT_TRUE(state.dirty);
  EXPECT_EQ(state.patch.find("deleted file"), std::string::npos) << state.patch;
  EXPECT_EQ(state.patch.find("docs/a.md"), std::string::npos) << state.patch;
  std::string copy = ApplyToFreshCopy(tmp, repo, state.patch);
  EXPECT_EQ(Contents(copy + "/app/main.cc"), "m2\n");
  EXPECT_EQ(Contents(copy + "/docs/a.md"), "a\n");
}

// Skip-worktree set by hand (git update-index --skip-worktree), with the file changed on disk:
// git shows nothing for it, nor does diff.patch; a staged change of it still counts.
TEST(GitStateTest, SkipWorktreeEntryFollowsTheIndex) {
  ScopedTempDir tmp;
  std::string repo = tmp.Join("repo");
  MakeTestRepo(repo, {{"a.txt", "a\n"}, {"b.txt", "b\n"}});
  RunShell(repo, "git update-index --skip-worktree a.txt && echo local > a.txt");
  GitState state = Read(repo);
  EXPECT_FALSE(state.dirty);
  EXPECT_EQ(state.patch, "");
  RunShell(repo, "git update-index --no-skip-worktree a.txt && git add a.txt && "
                 "git update-index --skip-worktree a.txt && rm a.txt");
  state = Read(repo);
  EXPECT_TRUE(state.dirty);
  EXPECT_NE(state.patch.find("+local"), std::string::npos) << state.patch;
  EXPECT_EQ(state.patch.find("deleted file"), std::string::npos) << state.patch;
}

// A partial clone (blobs fetched on demand) of a local repository, also sparse: the blobs of
// files outside the sparse set are not in it, and nothing may need them.
TEST(GitStateTest, PartialCloneIsClean) {
  ScopedTempDir tmp;
  std::string origin = tmp.Join("origin");
  MakeTestRepo(origin, {{"app/main.cc", "m\n"}, {"docs/a.md", "a\n"}, {"top.txt", "t\n"}});
  RunShell(origin, "git config uploadpack.allowFilter true && "
                   "git config uploadpack.allowAnySHA1InWant true");
  std::string url = "file://" + Real(origin);
  RunShell(tmp.path(), "git clone -q --filter=blob:none '" + url + "' full && "
                       "git clone -q --filter=blob:none --sparse '" + url + "' sparse && "
                       "git -C sparse sparse-checkout set app");
  ASSERT_EQ(Trim(RunShell(tmp.Join("full"), "git config remote.origin.promisor")), "true");
  // What git before 2.2x wrote (and git still honours): a version-1 repository whose
  // extensions.partialClone names the promisor remote. libgit2 refuses unknown extensions.
  RunShell(tmp.path(), "git clone -q --filter=blob:none '" + url + "' versioned && "
                       "git -C versioned config core.repositoryformatversion 1 && "
                       "git -C versioned config extensions.partialClone origin");
  for (const char* clone : {"full", "sparse", "versioned"}) {
    SCOPED_TRACE(clone);
    std::string dir = tmp.Join(clone);
    GitState state = Read(dir);
    EXPECT_FALSE(state.dirty);
    EXPECT_EQ(state.patch, "");
    EXPECT_EQ(state.remote_url, url);
    EXPECT_TRUE(state.on_remote_branch);
    WriteTestFile(dir, "app/main.cc", "m3\n");
    state = Read(dir);
    EXPECT_TRUE(state.dirty);
    EXPECT_EQ(state.patch.find("deleted file"), std::string::npos) << state.patch;
    EXPECT_NE(state.patch.find("+m3"), std::string::npos) << state.patch;
  }
}

}  // namespace
}  // namespace wandb_job
