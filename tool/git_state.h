// Everything the helper reads from git, through libgit2 (the only file including <git2.h>):
// the state of the work tree (commit, branch, remote, dirty, diff.patch) and its file list.
// It never writes to the repository and never runs the git command.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wandb_job {

struct GitState {
  std::string root;         // absolute path of the work tree
  std::string commit;       // 40-hex HEAD commit; empty when HEAD is unborn
  int64_t commit_time = 0;  // committer time of HEAD (seconds since the epoch); 0 when unborn
  std::string branch;       // short branch name; empty when detached
  bool detached = false;
  bool unborn = false;
  bool shallow = false;
  bool worktree = false;    // a linked worktree (.git is a file)
  std::string remote_name;  // the remote chosen (see ReadGitState); empty when none
  std::string remote_url;   // its URL with credentials removed (StripUrlCredentials)
  bool dirty = false;       // tracked files differ from HEAD (index or work tree)
  std::string patch;        // `git diff HEAD --submodule=diff` of tracked files, a/ b/ prefixes
  bool patch_truncated = false;   // over the size cap: patch is empty and a warning was issued
  bool on_remote_branch = false;  // HEAD is reachable from some remote-tracking branch or tag
  /// Files that decide this state; a change to any re-runs the bundle step (depfile inputs):
  /// HEAD, the branch's loose ref or packed-refs, the index, shallow, the config (remote URL,
  /// upstream) and the loose remote-tracking ref <remote>/<branch>; only files that exist.
  std::vector<std::string> inputs;
  /// Directories that decide it too (their mtime changes when an entry is added): for a
  /// branch or remote-tracking ref that is only packed, the directory its loose ref would be
  /// created in (or its deepest existing parent below refs/), as a new commit creates it.
  std::vector<std::string> input_dirs;
};

struct GitOptions {
  /// Remote to record; empty: the current branch's upstream remote, else "origin", else the only
  /// remote, else the first in name order (with a warning naming the others).
  std::string remote;
  /// diff.patch larger than this is left out with a warning.
  uint64_t max_patch_bytes = 10u << 20;
  /// A commit known to be on the remote although no remote-tracking ref shows it (the commit a
  /// CI system checked out): HEAD equal to it gets no "unpushed" warning.
  std::string pushed_commit;
};

enum class GitStatus { kOk, kNotARepository, kError };

/// Opens the repository containing `dir` (searching upwards, worktrees and .git files included).
/// kNotARepository is a normal state: the caller falls back to a plain directory. Issues
/// Warning()s for binary changes, an oversized patch and an ambiguous remote.
/// Warns when HEAD is on no remote-tracking branch or tag (W&B's agent cannot clone it): for
/// repo jobs only, which the agent clones.
void WarnIfUnpushed(const GitState& state);

GitStatus ReadGitState(const std::string& dir, const GitOptions& options, GitState* out,
                       std::string* err);

/// Files a checkout of HEAD plus the work tree would give: tracked files (index) and untracked
/// files that are not ignored, below `subdir` (absolute, inside the work tree), recursing into
/// initialised submodules. Relative to the work tree root, sorted, "/"-separated, never .git.
/// Deleted tracked files are left out; symlinks are reported as files.
bool ListWorkTreeFiles(const std::string& root, const std::string& subdir,
                       std::vector<std::string>* files, std::string* err);

/// Ref of remote-tracking branch that would appear in a W&B git job ("origin/main"), for messages;
/// "origin (detached at abc1234)" when detached, "" without a remote.
std::string DescribeRemoteBranch(const GitState& state);

}  // namespace wandb_job
