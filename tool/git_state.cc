#include "git_state.h"

#include <git2.h>
#include <sys/stat.h>

#include <algorithm>
#include <cinttypes>
#include <cstdlib>
#include <memory>
#include <set>

#include "file_util.h"
#include "log.h"
#include "remote_url.h"

namespace wandb_job {
namespace {

template <typename T, void (*Free)(T*)>
struct GitDeleter {
  void operator()(T* p) const { Free(p); }
};
using RepoPtr = std::unique_ptr<git_repository, GitDeleter<git_repository, git_repository_free>>;
using RefPtr = std::unique_ptr<git_reference, GitDeleter<git_reference, git_reference_free>>;
using ObjectPtr = std::unique_ptr<git_object, GitDeleter<git_object, git_object_free>>;
using CommitPtr = std::unique_ptr<git_commit, GitDeleter<git_commit, git_commit_free>>;
using TreePtr = std::unique_ptr<git_tree, GitDeleter<git_tree, git_tree_free>>;
using DiffPtr = std::unique_ptr<git_diff, GitDeleter<git_diff, git_diff_free>>;
using PatchPtr = std::unique_ptr<git_patch, GitDeleter<git_patch, git_patch_free>>;
using IndexPtr = std::unique_ptr<git_index, GitDeleter<git_index, git_index_free>>;
using ConfigPtr = std::unique_ptr<git_config, GitDeleter<git_config, git_config_free>>;
using StatusPtr =
    std::unique_ptr<git_status_list, GitDeleter<git_status_list, git_status_list_free>>;
using RefIterPtr = std::unique_ptr<git_reference_iterator,
                                   GitDeleter<git_reference_iterator, git_reference_iterator_free>>;

/// git_buf that disposes itself.
struct Buf {
  git_buf buf = GIT_BUF_INIT;
  Buf() = default;
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  ~Buf() { git_buf_dispose(&buf); }
  std::string str() const { return buf.ptr ? std::string(buf.ptr, buf.size) : std::string(); }
};

/// libgit2 is initialised once, on first use: main() also does it, unit tests do not.
void EnsureLibgit2() {
  static const int init = [] {
    int rc = git_libgit2_init();
    // A partial clone (git clone --filter) marks its repository with extensions.partialClone,
    // which libgit2 refuses to open by default. Reading it is safe: nothing here fetches, and a
    // blob the clone lacks is never needed (see SkipWorktreePaths).
    const char* extensions[] = {"partialclone", "worktreeconfig"};
    git_libgit2_opts(GIT_OPT_SET_EXTENSIONS, extensions, sizeof extensions / sizeof *extensions);
    return rc;
  }();
  (void)init;
}

/// Converts a libgit2 return code: false for success, else sets `*err` to "what: message".
bool GitFailed(int rc, const char* what, std::string* err) {
  if (rc >= 0) {
    return false;
  }
  const git_error* e = git_error_last();
  std::string message =
      e != nullptr && e->message != nullptr ? e->message : "libgit2 error " + std::to_string(rc);
  git_error_clear();
  *err = std::string(what) + ": " + message;
  return true;
}

/// Forgets a libgit2 failure that is expected and handled (not found, unknown ancestry).
void IgnoreGitError() { git_error_clear(); }

std::string OidHex(const git_oid* oid) {
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof hex, oid);
  return hex;
}

std::string Short(const std::string& hex) { return hex.substr(0, 7); }

std::string StripTrailingSlash(std::string path) {
  while (path.size() > 1 && path.back() == '/') {
    path.pop_back();
  }
  return path;
}

/// Opens exactly the repository at `dir` (no upward search): submodules and ListWorkTreeFiles.
int OpenHere(const std::string& dir, RepoPtr* repo) {
  git_repository* raw = nullptr;
  int rc = git_repository_open_ext(&raw, dir.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr);
  repo->reset(raw);
  return rc;
}

bool ReadHead(git_repository* repo, GitState* state, std::string* err) {
  state->unborn = git_repository_head_unborn(repo) == 1;
  if (state->unborn) {
    git_reference* raw = nullptr;
    if (GitFailed(git_reference_lookup(&raw, repo, "HEAD"), "reading HEAD", err)) {
      return false;
    }
    RefPtr head(raw);
    const char* target = git_reference_symbolic_target(head.get());
    std::string name = target != nullptr ? target : "";
    const std::string kHeads = "refs/heads/";
    state->branch = name.compare(0, kHeads.size(), kHeads) == 0 ? name.substr(kHeads.size()) : name;
    return true;
  }
  git_reference* raw = nullptr;
  if (GitFailed(git_repository_head(&raw, repo), "reading HEAD", err)) {
    return false;
  }
  RefPtr head(raw);
  state->detached = git_repository_head_detached(repo) == 1;
  if (!state->detached && git_reference_is_branch(head.get())) {
    state->branch = git_reference_shorthand(head.get());
  }
  git_object* obj = nullptr;
  if (GitFailed(git_reference_peel(&obj, head.get(), GIT_OBJECT_COMMIT), "resolving HEAD", err)) {
    return false;
  }
  ObjectPtr commit(obj);
  state->commit = OidHex(git_object_id(commit.get()));
  state->commit_time = git_commit_time(reinterpret_cast<git_commit*>(commit.get()));
  return true;
}

/// Names of the remotes configured with a url or pushurl, sorted. (Not git_remote_list: in
/// libgit2 1.5 its regular expression leaks memory on every config entry it does not match.)
bool ListRemotes(git_config* config, std::vector<std::string>* remotes, std::string* err) {
  git_config_iterator* raw = nullptr;
  if (GitFailed(git_config_iterator_new(&raw, config), "listing remotes", err)) {
    return false;
  }
  std::unique_ptr<git_config_iterator, GitDeleter<git_config_iterator, git_config_iterator_free>>
      iter(raw);
  git_config_entry* entry = nullptr;
  while (git_config_next(&entry, iter.get()) == 0) {
    std::string name = entry->name;  // "remote.<name>.url": section and key are lower-case
    size_t dot = name.rfind('.');
    std::string key = dot == std::string::npos ? "" : name.substr(dot + 1);
    if (name.rfind("remote.", 0) == 0 && dot > 7 && (key == "url" || key == "pushurl")) {
      remotes->push_back(name.substr(7, dot - 7));
    }
  }
  IgnoreGitError();
  std::sort(remotes->begin(), remotes->end());
  remotes->erase(std::unique(remotes->begin(), remotes->end()), remotes->end());
  return true;
}

bool ChooseRemote(git_repository* repo, const GitOptions& options, GitState* state,
                  std::string* err) {
  // The raw configured URL, as W&B records it: no url.<base>.insteadOf rewriting.
  git_config* raw = nullptr;
  if (GitFailed(git_repository_config_snapshot(&raw, repo), "reading git config", err)) {
    return false;
  }
  ConfigPtr config(raw);
  std::vector<std::string> remotes;
  if (!ListRemotes(config.get(), &remotes, err)) {
    return false;
  }
  auto has = [&](const std::string& name) {
    return std::binary_search(remotes.begin(), remotes.end(), name);
  };
  std::string chosen;
  if (!options.remote.empty()) {
    if (!has(options.remote)) {
      *err = "no remote named '" + options.remote + "'";
      return false;
    }
    chosen = options.remote;
  }
  if (chosen.empty() && !state->branch.empty()) {
    Buf upstream;
    std::string ref = "refs/heads/" + state->branch;
    if (git_branch_upstream_remote(&upstream.buf, repo, ref.c_str()) == 0 && has(upstream.str())) {
      chosen = upstream.str();
    }
    IgnoreGitError();
  }
  if (chosen.empty() && has("origin")) {
    chosen = "origin";
  }
  if (chosen.empty() && !remotes.empty()) {
    chosen = remotes.front();
    if (remotes.size() > 1) {
      std::string others;
      for (size_t i = 1; i < remotes.size(); ++i) {
        others += (i > 1 ? ", " : "") + remotes[i];
      }
      Warning(
          "several git remotes and none is 'origin' or the branch's upstream: recording '%s' "
          "(not %s); choose one explicitly to change this",
          chosen.c_str(), others.c_str());
    }
  }
  if (chosen.empty()) {
    return true;
  }
  Buf url;
  std::string key = "remote." + chosen + ".url";
  if (git_config_get_string_buf(&url.buf, config.get(), key.c_str()) < 0) {
    IgnoreGitError();  // a remote with only a pushurl: recorded without URL
  }
  state->remote_name = chosen;
  state->remote_url = StripUrlCredentials(url.str());
  return true;
}

/// diff.patch under construction: the text, the size cap and whether anything differs.
struct PatchText {
  uint64_t max_bytes = 0;
  std::string text;
  bool over = false;
  bool dirty = false;

  void Append(const std::string& more) {
    if (over) {
      return;
    }
    if (text.size() + more.size() > max_bytes) {
      over = true;
      text.clear();
      text.shrink_to_fit();
      return;
    }
    text += more;
  }
};

bool DiffAgainstTree(git_repository* repo, git_tree* base, const std::string& prefix,
                     PatchText* out, std::string* err);
bool DiffDeltas(git_repository* repo, git_diff* diff, bool skip_worktree_only,
                const std::set<std::string>& skip_worktree, const std::string& prefix,
                PatchText* out, size_t* taken, std::string* err);

/// Index entries marked skip-worktree (a sparse checkout, or git update-index --skip-worktree):
/// git takes their work tree state to be the index's, so they are absent on purpose. libgit2
/// would diff them as deleted, and in a sparse partial clone their blobs are not even there.
bool SkipWorktreePaths(git_repository* repo, git_index** index, std::set<std::string>* paths,
                       std::string* err) {
  if (GitFailed(git_repository_index(index, repo), "reading the index", err)) {
    return false;
  }
  size_t count = git_index_entrycount(*index);
  for (size_t i = 0; i < count; ++i) {
    const git_index_entry* entry = git_index_get_byindex(*index, i);
    if (entry->flags_extended & GIT_INDEX_ENTRY_SKIP_WORKTREE) {
      paths->insert(entry->path);
    }
  }
  return true;
}

/// `git diff --submodule=diff` for one gitlink: the submodule's own diff from the recorded
/// commit to its work tree, with paths prefixed by the submodule path.
bool DiffSubmodule(git_repository* repo, const git_diff_delta* delta, const std::string& prefix,
                   PatchText* out, std::string* err) {
  std::string path = delta->new_file.path;
  bool had_old = delta->old_file.mode == GIT_FILEMODE_COMMIT;
  std::string old_hex = had_old ? OidHex(&delta->old_file.id) : std::string(40, '0');
  std::string header = "Submodule " + prefix + path + " " + Short(old_hex);
  if (delta->new_file.mode != GIT_FILEMODE_COMMIT) {
    out->Append(header + "...0000000 (submodule deleted)\n");
    return true;
  }
  RepoPtr sub;
  if (OpenHere(JoinPath(git_repository_workdir(repo), path), &sub) < 0) {
    IgnoreGitError();
    out->Append(header + "...0000000 (not checked out)\n");
    Warning("submodule %s%s changed but is not checked out: diff.patch cannot show its content",
            prefix.c_str(), path.c_str());
    return true;
  }
  TreePtr base;
  if (had_old) {
    git_commit* commit = nullptr;
    git_tree* tree = nullptr;
    if (git_commit_lookup(&commit, sub.get(), &delta->old_file.id) < 0 ||
        git_commit_tree(&tree, commit) < 0) {
      IgnoreGitError();
      git_commit_free(commit);
      Warning(
          "submodule %s%s: recorded commit %s is missing from its repository; its changes "
          "are left out of diff.patch",
          prefix.c_str(), path.c_str(), Short(old_hex).c_str());
      return true;
    }
    git_commit_free(commit);
    base.reset(tree);
  }
  std::string new_hex(40, '0');
  git_oid head;
  if (git_reference_name_to_id(&head, sub.get(), "HEAD") == 0) {
    new_hex = OidHex(&head);
  }
  IgnoreGitError();
  out->Append(header + ".." + Short(new_hex) + ":\n");
  return DiffAgainstTree(sub.get(), base.get(), prefix + path + "/", out, err);
}

/// Tracked differences between `base` (nullptr: the empty tree) and index + work tree, as a
/// git patch with a/ b/ prefixes (whatever diff.noprefix says), recursing into submodules.
bool DiffAgainstTree(git_repository* repo, git_tree* base, const std::string& prefix,
                     PatchText* out, std::string* err) {
  std::string old_prefix = "a/" + prefix;
  std::string new_prefix = "b/" + prefix;
  git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
  opts.old_prefix = old_prefix.c_str();
  opts.new_prefix = new_prefix.c_str();
  // A submodule counts when its HEAD moved or its tracked files changed, not for untracked files.
  opts.ignore_submodules = GIT_SUBMODULE_IGNORE_UNTRACKED;
  std::set<std::string> skip_worktree;
  git_index* raw_index = nullptr;
  bool read_index = SkipWorktreePaths(repo, &raw_index, &skip_worktree, err);
  IndexPtr index(raw_index);
  if (!read_index) {
    return false;
  }
  git_diff* raw = nullptr;
  if (GitFailed(git_diff_tree_to_workdir_with_index(&raw, repo, base, &opts),
                "comparing HEAD with the work tree", err)) {
    return false;
  }
  DiffPtr diff(raw);
  // Skip-worktree entries compare HEAD with the index, as git does: only a staged change counts.
  DiffPtr staged(nullptr);
  if (!skip_worktree.empty()) {
    if (GitFailed(git_diff_tree_to_index(&raw, repo, base, index.get(), &opts),
                  "comparing HEAD with the index", err)) {
      return false;
    }
    staged.reset(raw);
  }
  size_t taken = 0;
  for (git_diff* from : {diff.get(), staged.get()}) {
    if (from != nullptr && !DiffDeltas(repo, from, from == staged.get(), skip_worktree, prefix,
                                       out, &taken, err)) {
      return false;
    }
  }
  out->dirty = out->dirty || taken > 0;
  return true;
}

/// Appends the deltas of `diff` to `out`: those of skip-worktree paths only when
/// `skip_worktree_only`, the others otherwise. Counts them in `taken`.
bool DiffDeltas(git_repository* repo, git_diff* diff, bool skip_worktree_only,
                const std::set<std::string>& skip_worktree, const std::string& prefix,
                PatchText* out, size_t* taken, std::string* err) {
  size_t count = git_diff_num_deltas(diff);
  for (size_t i = 0; i < count && !out->over; ++i) {
    const git_diff_delta* delta = git_diff_get_delta(diff, i);
    bool skipped = skip_worktree.count(delta->old_file.path) > 0 ||
                   skip_worktree.count(delta->new_file.path) > 0;
    if (skipped != skip_worktree_only) {
      continue;
    }
    ++*taken;
    if (delta->old_file.mode == GIT_FILEMODE_COMMIT ||
        delta->new_file.mode == GIT_FILEMODE_COMMIT) {
      if (!DiffSubmodule(repo, delta, prefix, out, err)) {
        return false;
      }
      continue;
    }
    git_patch* raw_patch = nullptr;
    if (GitFailed(git_patch_from_diff(&raw_patch, diff, i), "computing diff", err)) {
      return false;
    }
    PatchPtr patch(raw_patch);
    if (git_patch_get_delta(patch.get())->flags & GIT_DIFF_FLAG_BINARY) {
      Warning(
          "binary file %s%s has uncommitted changes: diff.patch only says that it differs, and "
          "W&B's agent cannot restore it (commit it to include it)",
          prefix.c_str(), delta->new_file.path);
    }
    Buf text;
    if (GitFailed(git_patch_to_buf(&text.buf, patch.get()), "formatting diff", err)) {
      return false;
    }
    out->Append(text.str());
  }
  return true;
}

bool ReadDiff(git_repository* repo, const GitOptions& options, GitState* state, std::string* err) {
  TreePtr head_tree;
  if (!state->unborn) {
    git_object* obj = nullptr;
    if (GitFailed(git_revparse_single(&obj, repo, "HEAD^{tree}"), "reading HEAD's tree", err)) {
      return false;
    }
    head_tree.reset(reinterpret_cast<git_tree*>(obj));
  }
  PatchText patch;
  patch.max_bytes = options.max_patch_bytes;
  if (!DiffAgainstTree(repo, head_tree.get(), "", &patch, err)) {
    return false;
  }
  state->dirty = patch.dirty;
  if (state->unborn && !state->dirty) {
    git_index* raw = nullptr;
    if (GitFailed(git_repository_index(&raw, repo), "reading the index", err)) {
      return false;
    }
    IndexPtr index(raw);
    state->dirty = git_index_entrycount(index.get()) > 0;
  }
  if (patch.over) {
    state->patch_truncated = true;
    Warning("uncommitted changes exceed the diff.patch limit of %" PRIu64
            " bytes: they are left out, so the job runs the committed sources",
            options.max_patch_bytes);
  } else {
    state->patch = std::move(patch.text);
  }
  return true;
}

/// True when HEAD is reachable from some refs/remotes/* or refs/tags/* commit. An ancestry
/// question that cannot be answered (shallow history) counts as "no", without failing.
bool OnRemoteBranch(git_repository* repo, const std::string& commit_hex, int64_t commit_time) {
  git_oid head;
  git_reference_iterator* raw = nullptr;
  if (git_oid_fromstr(&head, commit_hex.c_str()) < 0 ||
      git_reference_iterator_new(&raw, repo) < 0) {
    IgnoreGitError();
    return false;
  }
  RefIterPtr iter(raw);
  // Remote-tracking branches first (the usual answer), then tags; each commit once.
  std::vector<git_oid> remotes;
  std::vector<git_oid> tags;
  git_reference* raw_ref = nullptr;
  while (git_reference_next(&raw_ref, iter.get()) == 0) {
    RefPtr ref(raw_ref);
    std::string name = git_reference_name(ref.get());
    bool remote = name.rfind("refs/remotes/", 0) == 0;
    if (!remote && name.rfind("refs/tags/", 0) != 0) {
      continue;
    }
    git_object* obj = nullptr;
    if (git_reference_peel(&obj, ref.get(), GIT_OBJECT_COMMIT) < 0) {
      IgnoreGitError();  // a tag of a tree or blob, a dangling symbolic ref
      continue;
    }
    ObjectPtr target(obj);
    // A descendant is (up to clock skew) not older than HEAD: skipping old tags keeps the
    // check cheap for an unpushed commit in a repository with thousands of tags.
    constexpr int64_t kSkew = 24 * 3600;
    if (git_commit_time(reinterpret_cast<git_commit*>(target.get())) + kSkew < commit_time) {
      continue;
    }
    (remote ? remotes : tags).push_back(*git_object_id(target.get()));
  }
  IgnoreGitError();
  auto less = [](const git_oid& a, const git_oid& b) { return git_oid_cmp(&a, &b) < 0; };
  auto same = [](const git_oid& a, const git_oid& b) { return git_oid_equal(&a, &b) != 0; };
  for (std::vector<git_oid>* tips : {&remotes, &tags}) {
    std::sort(tips->begin(), tips->end(), less);
    tips->erase(std::unique(tips->begin(), tips->end(), same), tips->end());
    for (const git_oid& tip : *tips) {
      if (git_oid_equal(&tip, &head) || git_graph_descendant_of(repo, &tip, &head) == 1) {
        return true;
      }
      IgnoreGitError();  // missing parents in a shallow clone: unknown
    }
  }
  return false;
}

// The directory whose mtime changes when the loose ref `ref` (below `common`) is created: its
// deepest existing parent, up to refs/. A packed ref has no loose file and a commit on it writes
// one, so without this the commit would change no input; the missing file itself can't be
// listed, as ninja treats a missing input as always dirty.
std::string LooseRefWatchDir(const std::string& common, const std::string& ref) {
  std::string refs = NormalizePath(common + "refs");
  std::string dir = NormalizePath(common + ref);
  while (dir.size() > refs.size() && IsWithin(dir, refs)) {
    dir = dir.substr(0, dir.rfind('/'));
    if (IsDirectory(dir)) {
      return dir;
    }
  }
  return "";
}

void CollectInputs(git_repository* repo, GitState* state) {
  std::string gitdir = git_repository_path(repo);  // both end in '/'
  std::string common = git_repository_commondir(repo);
  std::vector<std::string> candidates = {gitdir + "HEAD"};
  std::vector<std::string> refs;
  if (!state->branch.empty()) {
    refs.push_back("refs/heads/" + state->branch);
  }
  candidates.push_back(common + "packed-refs");
  candidates.push_back(gitdir + "index");
  candidates.push_back(common + "shallow");
  candidates.push_back(gitdir + "shallow");
  // The remote's URL and the branch's upstream are read from here.
  candidates.push_back(common + "config");
  if (!state->remote_name.empty() && !state->branch.empty()) {
    refs.push_back("refs/remotes/" + state->remote_name + "/" + state->branch);
  }
  for (const std::string& ref : refs) {
    std::string loose = NormalizePath(common + ref);
    if (FileExists(loose)) {
      candidates.push_back(loose);
      continue;
    }
    std::string dir = LooseRefWatchDir(common, ref);
    if (!dir.empty() &&
        std::find(state->input_dirs.begin(), state->input_dirs.end(), dir) ==
            state->input_dirs.end()) {
      state->input_dirs.push_back(dir);
    }
  }
  for (const std::string& path : candidates) {
    std::string normal = NormalizePath(path);
    if (FileExists(normal) && !IsDirectory(normal) &&
        std::find(state->inputs.begin(), state->inputs.end(), normal) == state->inputs.end()) {
      state->inputs.push_back(normal);
    }
  }
}

/// The first ".git" in `dir` or above it (up to a ceiling directory), or "". Used only after
/// libgit2 found no repository: such a ".git" is broken.
std::string FindDotGit(const std::string& dir, const std::string& ceilings) {
  std::string path;
  std::string unused;
  if (!RealPath(dir, &path, &unused)) {
    return "";
  }
  std::string list = ":" + ceilings + ":";
  while (true) {
    std::string candidate = JoinPath(path, ".git");
    if (FileExists(candidate)) {
      return candidate;
    }
    size_t slash = path.rfind('/');
    if (path == "/" || slash == std::string::npos) {
      return "";
    }
    path = slash == 0 ? "/" : path.substr(0, slash);
    if (list.find(":" + path + ":") != std::string::npos) {
      return "";
    }
  }
}

}  // namespace

void WarnIfUnpushed(const GitState& state) {
  if (!state.commit.empty() && !state.on_remote_branch && !state.remote_name.empty()) {
    Warning(
        "commit %s is on no remote-tracking branch or tag: W&B's agent cannot clone it "
        "from %s until it is pushed (git push %s %s)",
        Short(state.commit).c_str(), state.remote_name.c_str(), state.remote_name.c_str(),
        state.branch.empty() ? "HEAD:<branch>" : state.branch.c_str());
  }
}

GitStatus ReadGitState(const std::string& dir, const GitOptions& options, GitState* out,
                       std::string* err) {
  EnsureLibgit2();
  if (!IsDirectory(dir)) {
    *err = "no such directory: " + dir;
    return GitStatus::kError;
  }
  std::string ceiling = GetEnv("GIT_CEILING_DIRECTORIES");
  git_repository* raw = nullptr;
  int rc =
      git_repository_open_ext(&raw, dir.c_str(), 0, ceiling.empty() ? nullptr : ceiling.c_str());
  RepoPtr repo(raw);
  if (rc == GIT_ENOTFOUND) {
    IgnoreGitError();
    std::string broken = FindDotGit(dir, ceiling);
    if (!broken.empty()) {
      Warning(
          "%s is not a usable git repository (a dangling worktree or submodule?): %s is read "
          "as a plain directory",
          broken.c_str(), dir.c_str());
    }
    return GitStatus::kNotARepository;
  }
  if (GitFailed(rc, "opening git repository", err)) {
    return GitStatus::kError;
  }
  if (git_repository_is_bare(repo.get())) {
    *err = std::string("bare repository without a work tree: ") + git_repository_path(repo.get());
    return GitStatus::kError;
  }
  GitState state;
  state.root = StripTrailingSlash(git_repository_workdir(repo.get()));
  state.worktree = git_repository_is_worktree(repo.get()) == 1;
  state.shallow = git_repository_is_shallow(repo.get()) == 1;
  IgnoreGitError();
  if (!ReadHead(repo.get(), &state, err) || !ChooseRemote(repo.get(), options, &state, err) ||
      !ReadDiff(repo.get(), options, &state, err)) {
    return GitStatus::kError;
  }
  if (!state.commit.empty()) {
    state.on_remote_branch = OnRemoteBranch(repo.get(), state.commit, state.commit_time);
    if (!state.on_remote_branch && !options.pushed_commit.empty() &&
        state.commit == options.pushed_commit) {
      state.on_remote_branch = true;  // The CI says it built this commit from the remote.
    }
  }
  CollectInputs(repo.get(), &state);
  *out = std::move(state);
  return GitStatus::kOk;
}

namespace {

bool InScope(const std::string& path, const std::string& scope) {
  return scope.empty() || path == scope ||
         (path.size() > scope.size() && path.compare(0, scope.size(), scope) == 0 &&
          path[scope.size()] == '/');
}

/// Adds the files of the repository at `root` below `scope` ("" for all), each as
/// `out_prefix` + its path in that repository.
bool ListRepoFiles(git_repository* repo, const std::string& root, const std::string& scope,
                   const std::string& out_prefix, std::vector<std::string>* files,
                   std::string* err) {
  git_index* raw_index = nullptr;
  if (GitFailed(git_repository_index(&raw_index, repo), "reading the index", err)) {
    return false;
  }
  IndexPtr index(raw_index);
  size_t count = git_index_entrycount(index.get());
  for (size_t i = 0; i < count; ++i) {
    const git_index_entry* entry = git_index_get_byindex(index.get(), i);
    std::string path = entry->path;
    if (entry->mode == GIT_FILEMODE_COMMIT) {
      std::string sub_scope;
      if (InScope(scope, path) && scope != path) {
        sub_scope = scope.substr(path.size() + 1);  // the scope lies inside the submodule
      } else if (!InScope(path, scope)) {
        continue;
      }
      RepoPtr sub;
      if (OpenHere(root + "/" + path, &sub) < 0) {
        IgnoreGitError();
        Warning(
            "submodule %s%s is not initialised: its files are left out (git submodule update "
            "--init)",
            out_prefix.c_str(), path.c_str());
        continue;
      }
      if (!ListRepoFiles(sub.get(), root + "/" + path, sub_scope, out_prefix + path + "/", files,
                         err)) {
        return false;
      }
      continue;
    }
    struct stat st;
    if (!InScope(path, scope) || lstat((root + "/" + path).c_str(), &st) != 0 ||
        S_ISDIR(st.st_mode)) {
      continue;  // outside the scope, deleted in the work tree, or replaced by a directory
    }
    files->push_back(out_prefix + path);
  }

  git_status_options opts = GIT_STATUS_OPTIONS_INIT;
  opts.show = GIT_STATUS_SHOW_WORKDIR_ONLY;
  opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
               GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
  git_status_list* raw_status = nullptr;
  if (GitFailed(git_status_list_new(&raw_status, repo, &opts), "listing untracked files", err)) {
    return false;
  }
  StatusPtr status(raw_status);
  size_t entries = git_status_list_entrycount(status.get());
  for (size_t i = 0; i < entries; ++i) {
    const git_status_entry* entry = git_status_byindex(status.get(), i);
    if (!(entry->status & GIT_STATUS_WT_NEW) || entry->index_to_workdir == nullptr) {
      continue;
    }
    std::string path = entry->index_to_workdir->new_file.path;
    // A directory entry is a nested repository that is not a submodule: not ours to list.
    if (!path.empty() && path.back() != '/' && InScope(path, scope)) {
      files->push_back(out_prefix + path);
    }
  }
  return true;
}

}  // namespace

bool ListWorkTreeFiles(const std::string& root, const std::string& subdir,
                       std::vector<std::string>* files, std::string* err) {
  EnsureLibgit2();
  std::string real_root;
  std::string real_subdir;
  if (!RealPath(root, &real_root, err) || !RealPath(subdir, &real_subdir, err)) {
    return false;
  }
  if (!IsWithin(real_subdir, real_root)) {
    *err = subdir + " is outside the work tree " + root;
    return false;
  }
  std::string scope = RelativePath(real_subdir, real_root);
  if (scope == ".") {
    scope.clear();
  }
  RepoPtr repo;
  if (GitFailed(OpenHere(real_root, &repo), "opening git repository", err)) {
    return false;
  }
  std::vector<std::string> list;
  if (!ListRepoFiles(repo.get(), real_root, scope, "", &list, err)) {
    return false;
  }
  std::sort(list.begin(), list.end());
  list.erase(std::unique(list.begin(), list.end()), list.end());
  *files = std::move(list);
  return true;
}

std::string DescribeRemoteBranch(const GitState& state) {
  if (state.remote_name.empty()) {
    return "";
  }
  if (!state.branch.empty()) {
    return state.remote_name + "/" + state.branch;
  }
  return state.remote_name + " (detached at " + Short(state.commit) + ")";
}

}  // namespace wandb_job
