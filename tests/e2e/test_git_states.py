"""Git states of the project, each captured into a bundle and checked there: remotes in every
form (credentials stripped, kept clonable), no remote, dirty trees, untracked files, detached and
unborn HEAD, no repository, shallow clones, linked worktrees, submodules, several remotes, local
path remotes and unpushed commits."""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

TOKEN = "ghp_E2eS3cretT0kenValue42"
UNPUSHED = "remote-tracking"  # words of the warning about a commit no remote branch contains


def build_job(ctx, repo, job_args="", target="train-wandb-job", files=None, expect_ok=True,
              build_subdir=None):
    """Writes the project (unless files is False), configures and builds `target` in a build
    dir beside the repo. Returns (build dir, combined output)."""
    if files is not False:
        repo.write_files(files or h.project_files(job_args))
    build = build_subdir or os.path.join(os.path.dirname(repo.path), "build")
    ctx.configure(repo.path, build)
    proc = ctx.build(build, target, check=expect_ok)
    return build, proc.stdout + proc.stderr


def committed_project(ctx, name, remote=None, job_args="", pushed=True):
    repo = ctx.new_repo(name, h.project_files(job_args), remote=remote)
    if remote and pushed:
        repo.tracking_ref()
    return repo


def no_token_anywhere(build, bundle):
    for root in (bundle.path, os.path.join(build, "wandb-jobs")):
        hits = h.find_in_tree(root, [TOKEN, "s3cret"])
        h.check(not hits, "credential found in %s: %s" % (root, hits))


def check_repo_job(bundle, repo, remote, target_path="train"):
    bundle.verify()
    h.check_equal(bundle.meta["source_type"], "repo", "source_type")
    h.check_equal(bundle.meta["git"]["remote"], remote, "bundle.json git.remote")
    h.check_equal(bundle.meta["git"]["commit"], repo.head(), "bundle.json git.commit")
    h.check_equal(bundle.job["source"]["git"], {"remote": remote, "commit": repo.head()},
                  "wandb-job.json source.git")
    h.check_equal(bundle.meta["job"]["name"],
                  h.make_artifact_name_safe("job-%s_%s" % (remote, target_path)), "job name")


def check_artifact_job(bundle, must_have=(), must_not_have=()):
    bundle.verify()
    h.check_equal(bundle.meta["source_type"], "artifact", "source_type")
    h.check_equal(bundle.job["source"]["artifact"],
                  "wandb-artifact://_id/@WANDB_JOB_CODE_ARTIFACT_ID@", "source.artifact")
    h.check_equal(bundle.job["source"].get("dockerfile"), "Dockerfile.wandb", "source.dockerfile")
    code = bundle.code_files()
    for f in ("Dockerfile.wandb",) + tuple(must_have):
        h.check(f in code, "%s missing from the code artifact %s" % (f, code))
    for f in must_not_have:
        h.check(f not in code, "%s must not be in the code artifact %s" % (f, code))
    h.check(not bundle.exists("job", "diff.patch"), "artifact job with a diff.patch")


# --- remotes ---------------------------------------------------------------------------------

def https_token_remote(ctx):
    remote = "https://e2euser:%s@github.com/acme/trainer.git" % TOKEN
    repo = committed_project(ctx, "https-token", remote=remote)
    build, out = build_job(ctx, repo, files=False)
    b = h.Bundle(h.bundle_dir(build))
    check_repo_job(b, repo, "https://github.com/acme/trainer.git")
    no_token_anywhere(build, b)
    h.check(TOKEN not in out, "the token was printed by the build")
    h.check(UNPUSHED not in out, "pushed commit reported as unpushed:\n" + out)


def https_token_only_remote(ctx):
    remote = "https://%s@github.com/acme/trainer.git" % TOKEN
    repo = committed_project(ctx, "https-token-only", remote=remote)
    build, out = build_job(ctx, repo, files=False)
    b = h.Bundle(h.bundle_dir(build))
    check_repo_job(b, repo, "https://github.com/acme/trainer.git")
    no_token_anywhere(build, b)


def ssh_remote(ctx):
    for name, remote, recorded in [
            ("ssh", "ssh://git@github.com/acme/trainer.git",
             "ssh://git@github.com/acme/trainer.git"),
            ("ssh-password", "ssh://git:%s@github.com:22/acme/trainer.git" % TOKEN,
             "ssh://git@github.com:22/acme/trainer.git"),
            ("scp", "git@github.com:acme/trainer.git", "git@github.com:acme/trainer.git")]:
        repo = committed_project(ctx, name, remote=remote)
        build, _ = build_job(ctx, repo, files=False)
        b = h.Bundle(h.bundle_dir(build))
        check_repo_job(b, repo, recorded)
        no_token_anywhere(build, b)


def no_remote(ctx):
    repo = committed_project(ctx, "no-remote")
    build, out = build_job(ctx, repo, files=False)
    b = h.Bundle(h.bundle_dir(build))
    check_artifact_job(b, must_have=("CMakeLists.txt", "train.cpp", "README.md"))
    h.check_equal(b.meta["git"]["commit"], repo.head(), "git.commit")
    h.check_equal(b.meta["git"]["remote"], "", "git.remote")
    h.check_equal(b.meta["job"]["name"], "job-source-demo-train", "job name")
    # The generated Dockerfile builds the target from the code artifact's root.
    dockerfile = b.read("code", "Dockerfile.wandb").decode()
    h.check("--target train" in dockerfile, "Dockerfile.wandb does not build train")
    h.check("@" + "TARGET@" not in dockerfile and "@PROGRAM@" not in dockerfile,
            "unexpanded template variables in Dockerfile.wandb")


def several_remotes(ctx):
    # origin wins over others.
    repo = committed_project(ctx, "remotes-origin", remote="https://github.com/me/fork.git")
    repo.git("remote", "add", "upstream", "https://github.com/acme/trainer.git")
    repo.git("remote", "add", "backup", "https://gitlab.com/me/trainer.git")
    build, _ = build_job(ctx, repo, files=False)
    check_repo_job(h.Bundle(h.bundle_dir(build)), repo, "https://github.com/me/fork.git")

    # The branch's upstream remote wins over origin.
    repo = committed_project(ctx, "remotes-upstream", remote="https://github.com/me/fork.git")
    repo.git("remote", "add", "upstream", "https://github.com/acme/trainer.git")
    repo.tracking_ref("upstream")
    repo.git("config", "branch.main.remote", "upstream")
    repo.git("config", "branch.main.merge", "refs/heads/main")
    build, _ = build_job(ctx, repo, files=False)
    check_repo_job(h.Bundle(h.bundle_dir(build)), repo, "https://github.com/acme/trainer.git")

    # Neither: the first by name, with a warning naming the others.
    repo = committed_project(ctx, "remotes-none-origin")
    repo.git("remote", "add", "beta", "https://github.com/beta/trainer.git")
    repo.git("remote", "add", "alpha", "https://github.com/alpha/trainer.git")
    repo.tracking_ref("alpha")
    build, out = build_job(ctx, repo, files=False)
    check_repo_job(h.Bundle(h.bundle_dir(build)), repo, "https://github.com/alpha/trainer.git")
    h.check("warning" in out and "beta" in out,
            "no warning naming the remote not chosen (beta):\n" + out)


def local_path_remote(ctx):
    other = ctx.new_repo("local-origin", {"x.txt": "x\n"})
    repo = committed_project(ctx, "local-remote", remote=other.path)
    repo.tracking_ref()
    build, out = build_job(ctx, repo, files=False)
    b = h.Bundle(h.bundle_dir(build))
    check_artifact_job(b, must_have=("train.cpp",))
    h.check("wandb-job: warning" in out and "origin" in out and "cloned" in out,
            "no warning that the local remote can't be cloned by W&B's agent:\n" + out)
    # A file:// URL is a local path too.
    repo.git("remote", "set-url", "origin", "file://" + other.path)
    ctx.build(build, "train-wandb-job")
    b = h.Bundle(h.bundle_dir(build))
    h.check_equal(b.meta["source_type"], "artifact", "source_type with a file:// remote")


def unpushed_commit(ctx):
    repo = committed_project(ctx, "unpushed", remote="https://github.com/acme/trainer.git",
                             pushed=False)
    build, out = build_job(ctx, repo, files=False)
    b = h.Bundle(h.bundle_dir(build))
    check_repo_job(b, repo, "https://github.com/acme/trainer.git")
    h.check("wandb-job: warning" in out and UNPUSHED in out and repo.head()[:7] in out,
            "no warning that commit %s is on no remote-tracking branch:\n%s"
            % (repo.head()[:7], out))
    # An artifact job carries its code: where the commit is does not matter, no warning.
    build, out = build_job(ctx, repo, job_args="SOURCE artifact")
    b = h.Bundle(h.bundle_dir(build))
    h.check_equal(b.meta["source_type"], "artifact", "source_type with SOURCE artifact")
    h.check(UNPUSHED not in out, "an artifact job warns of an unpushed commit:\n" + out)


# --- work tree states ------------------------------------------------------------------------

def dirty_tracked_edit(ctx):
    remote = "https://github.com/acme/trainer.git"
    files = h.project_files(extra_files={"data/params.txt": "alpha\nbeta\n"})
    repo = ctx.new_repo("dirty", files, remote=remote)
    repo.tracking_ref()
    commit = repo.head()
    # An unstaged edit, a staged edit and an untracked file.
    repo.write("README.md", "# demo\n\nA small trainer, edited.\n")
    repo.write("data/params.txt", "alpha\ngamma\n")
    repo.git("add", "data/params.txt")
    repo.write("notes-untracked.txt", "scratch notes\n")
    build, out = build_job(ctx, repo, files=False)
    b = h.Bundle(h.bundle_dir(build))
    check_repo_job(b, repo, remote)
    h.check_equal(b.meta["git"]["dirty"], True, "git.dirty")
    h.check(b.exists("job", "diff.patch"), "no job/diff.patch for a dirty tree")
    patch = b.read("job", "diff.patch").decode()
    h.check("a/README.md" in patch and "b/data/params.txt" in patch,
            "diff.patch lacks the staged or unstaged edit:\n" + patch)
    h.check("notes-untracked" not in patch, "untracked file in diff.patch")
    # patch -p1 applies it to a clean checkout of the commit, giving the dirty tree.
    ctx.require("patch")
    clean = os.path.join(os.path.dirname(repo.path), "clean")
    ctx.run(["git", "clone", "-q", repo.path, clean])
    ctx.run(["git", "checkout", "-q", commit], cwd=clean)
    ctx.run(["patch", "-p1", "--batch", "-i", b.file("job", "diff.patch")], cwd=clean)
    for rel in ("README.md", "data/params.txt", "train.cpp", "CMakeLists.txt"):
        h.check_equal(h.read_bytes(os.path.join(clean, rel)),
                      h.read_bytes(os.path.join(repo.path, rel)), "patched %s" % rel)
    # A clean tree has no diff.patch.
    os.remove(os.path.join(repo.path, "notes-untracked.txt"))
    repo.commit("edits")
    repo.tracking_ref()
    ctx.build(build, "train-wandb-job")
    b = h.Bundle(h.bundle_dir(build))
    h.check(not b.exists("job", "diff.patch"), "diff.patch left after the tree became clean")
    h.check_equal(b.meta["git"]["dirty"], False, "git.dirty of a clean tree")


def untracked_files(ctx):
    # Two jobs of one project: `train` is a repo job, `evaluate` an artifact job.
    files = h.project_files(
        extra_cmake="add_executable(evaluate train.cpp)\nwandb_add_job(evaluate SOURCE artifact)\n",
        extra_files={".gitignore": "*.log\nignored-dir/\n"})
    repo = ctx.new_repo("untracked", files, remote="https://github.com/acme/trainer.git")
    repo.tracking_ref()
    repo.write("README.md", "# demo, edited\n")
    repo.write("extra/untracked.txt", "not committed yet\n")
    repo.write("run.log", "ignored\n")
    repo.write("ignored-dir/big.bin", "ignored\n")
    build, _ = build_job(ctx, repo, target="job-bundle", files=False)
    train = h.Bundle(h.bundle_dir(build, "train"))
    check_repo_job(train, repo, "https://github.com/acme/trainer.git")
    patch = train.read("job", "diff.patch").decode()
    h.check("README.md" in patch, "diff.patch lacks the tracked edit")
    h.check("untracked" not in patch, "untracked file in diff.patch:\n" + patch)
    evaluate = h.Bundle(h.bundle_dir(build, "evaluate"))
    check_artifact_job(evaluate, must_have=("extra/untracked.txt", "README.md", ".gitignore"),
                       must_not_have=("run.log", "ignored-dir/big.bin"))
    h.check_equal(evaluate.read("code", "README.md"), b"# demo, edited\n",
                  "code artifact has the work tree's README.md")
    h.check_equal(evaluate.read("code", "extra", "untracked.txt"), b"not committed yet\n",
                  "untracked file content")


def detached_head(ctx):
    repo = committed_project(ctx, "detached", remote="https://github.com/acme/trainer.git")
    first = repo.head()
    repo.write("README.md", "second\n")
    repo.commit("second")
    repo.tracking_ref()
    repo.git("checkout", "-q", "--detach", first)
    build, out = build_job(ctx, repo, files=False)
    b = h.Bundle(h.bundle_dir(build))
    check_repo_job(b, repo, "https://github.com/acme/trainer.git")
    h.check_equal(b.meta["git"]["commit"], first, "detached commit")
    h.check_equal(b.meta["git"]["branch"], "", "branch of a detached HEAD")
    h.check(UNPUSHED not in out, "commit reachable from origin/main reported unpushed:\n" + out)


def unborn_head(ctx):
    d = ctx.fresh_dir("unborn")
    repo = h.Repo(ctx, os.path.join(d, "src"))
    os.makedirs(repo.path)
    repo.git("init", "-q", "-b", "main")
    repo.git("remote", "add", "origin", "https://github.com/acme/trainer.git")
    repo.write_files(h.project_files())
    build, _ = build_job(ctx, repo, files=False)
    b = h.Bundle(h.bundle_dir(build))
    check_artifact_job(b, must_have=("CMakeLists.txt", "train.cpp", "README.md"))
    h.check_equal(b.meta["git"]["commit"], "", "commit of an unborn HEAD")


def not_a_repo(ctx):
    d = ctx.fresh_dir("plain")
    src = os.path.join(d, "src")
    for rel, content in h.project_files().items():
        h.write_file(os.path.join(src, rel), content)
    build = os.path.join(d, "build")
    ctx.configure(src, build)
    ctx.build(build, "train-wandb-job")
    b = h.Bundle(h.bundle_dir(build))
    check_artifact_job(b, must_have=("CMakeLists.txt", "train.cpp", "README.md"))
    h.check_equal(b.meta["git"], {"remote": "", "commit": "", "branch": "", "dirty": False},
                  "git of a plain directory")
    h.check_equal(b.meta["job"]["name"], "job-source-demo-train", "job name")


def shallow_clone(ctx):
    origin = ctx.new_repo("shallow-origin", h.project_files())
    for i in range(3):
        origin.write("history.txt", "commit %d\n" % i)
        origin.commit("history %d" % i)
    d = ctx.fresh_dir("shallow")
    clone = h.Repo(ctx, os.path.join(d, "src"))
    ctx.run(["git", "clone", "-q", "--depth", "1", "file://" + origin.path, clone.path])
    h.check_equal(clone.git("rev-parse", "--is-shallow-repository"), "true", "clone is shallow")
    clone.git("remote", "set-url", "origin", "https://github.com/acme/shallow.git")
    build, out = build_job(ctx, clone, files=False)
    b = h.Bundle(h.bundle_dir(build))
    check_repo_job(b, clone, "https://github.com/acme/shallow.git")
    h.check_equal(b.meta["git"]["commit"], origin.head(), "commit of the shallow clone")
    h.check(UNPUSHED not in out, "shallow clone's HEAD (on origin/main) reported unpushed:\n"
            + out)


def check_clean_sparse(ctx, clone, remote, what):
    build, out = build_job(ctx, clone, files=False)
    b = h.Bundle(h.bundle_dir(build))
    check_repo_job(b, clone, remote)
    h.check_equal(b.meta["git"]["dirty"], False, "%s: bundle.json git.dirty" % what)
    h.check(not b.exists("job", "diff.patch"), "%s: a diff.patch:\n%s"
            % (what, b.read("job", "diff.patch").decode() if b.exists("job", "diff.patch")
               else ""))
    # An edit inside the sparse set is still a change, and the only one.
    clone.write("train.cpp", h.TRAIN_CPP + "// edited\n")
    build, out = build_job(ctx, clone, files=False)
    b = h.Bundle(h.bundle_dir(build))
    h.check_equal(b.meta["git"]["dirty"], True, "%s: dirty after an edit" % what)
    patch = b.read("job", "diff.patch").decode()
    h.check("+// edited" in patch and "deleted file" not in patch and "docs/" not in patch,
            "%s: diff.patch of one edit:\n%s" % (what, patch))


def sparse_origin(ctx, name):
    files = h.project_files(extra_files={"docs/guide.md": "guide\n", "data/table.csv": "1,2\n"})
    origin = ctx.new_repo(name, files)
    origin.git("config", "uploadpack.allowFilter", "true")
    return origin


def sparse_checkout(ctx):
    """Skip-worktree files are absent on purpose: not dirty, and diff.patch deletes nothing."""
    repo = sparse_origin(ctx, "sparse")
    repo.git("remote", "add", "origin", "https://github.com/acme/sparse.git")
    repo.tracking_ref()
    repo.git("sparse-checkout", "set", "--cone", "nothing-here")
    h.check(not os.path.exists(os.path.join(repo.path, "docs", "guide.md")),
            "the sparse checkout left docs/ in place")
    # Marked by hand and changed on disk: git shows nothing for it either.
    repo.git("update-index", "--skip-worktree", "README.md")
    repo.write("README.md", "# local notes, not part of the job\n")
    check_clean_sparse(ctx, repo, "https://github.com/acme/sparse.git", "sparse checkout")


def partial_clone(ctx):
    """git clone --filter=blob:none --sparse: the blobs outside the sparse set are not there."""
    origin = sparse_origin(ctx, "partial-origin")
    clone = h.Repo(ctx, os.path.join(ctx.fresh_dir("partial"), "src"))
    ctx.run(["git", "clone", "-q", "--filter=blob:none", "--sparse", "file://" + origin.path,
             clone.path])
    h.check_equal(clone.git("config", "remote.origin.promisor"), "true", "a partial clone")
    clone.git("remote", "set-url", "origin", "https://github.com/acme/partial.git")
    # As older git wrote it, and git still reads it: a version-1 repository naming its promisor
    # remote in extensions.partialClone.
    clone.git("config", "core.repositoryformatversion", "1")
    clone.git("config", "extensions.partialClone", "origin")
    check_clean_sparse(ctx, clone, "https://github.com/acme/partial.git", "partial clone")


def linked_worktree(ctx):
    repo = committed_project(ctx, "worktree-main", remote="https://github.com/acme/trainer.git")
    wt = h.Repo(ctx, os.path.join(os.path.dirname(repo.path), "wt"))
    repo.git("worktree", "add", "-q", "-b", "feature", wt.path)
    wt.write("README.md", "feature work\n")
    wt.commit("feature")
    wt.git("update-ref", "refs/remotes/origin/feature", "HEAD")
    build = os.path.join(os.path.dirname(repo.path), "build-wt")
    ctx.configure(wt.path, build)
    ctx.build(build, "train-wandb-job")
    b = h.Bundle(h.bundle_dir(build))
    check_repo_job(b, wt, "https://github.com/acme/trainer.git")
    h.check_equal(b.meta["git"]["branch"], "feature", "branch of the worktree")
    h.check(b.meta["git"]["commit"] != repo.head(), "the main work tree's commit was recorded")
    # A dirty edit in the worktree shows up in its diff.patch.
    wt.write("README.md", "feature work, dirty\n")
    ctx.build(build, "train-wandb-job")
    b = h.Bundle(h.bundle_dir(build))
    h.check(b.exists("job", "diff.patch") and b"feature work, dirty" in b.read("job", "diff.patch"),
            "diff.patch of the worktree's edit missing")


def submodules(ctx):
    lib = ctx.new_repo("submodule-lib", {"lib.txt": "library v1\n", "include/lib.h": "// lib\n"})
    repo = ctx.new_repo("with-submodule", h.project_files())
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", lib.path, "extern/lib")
    repo.commit("add submodule")
    # Artifact job (no remote): the submodule's files are in the code artifact.
    build, _ = build_job(ctx, repo, files=False)
    b = h.Bundle(h.bundle_dir(build))
    check_artifact_job(b, must_have=("extern/lib/lib.txt", "extern/lib/include/lib.h",
                                     ".gitmodules", "train.cpp"))
    h.check_equal(b.read("code", "extern", "lib", "lib.txt"), b"library v1\n", "submodule file")
    # Repo job: an edit inside the submodule is in diff.patch (git diff --submodule=diff).
    repo.git("remote", "add", "origin", "https://github.com/acme/trainer.git")
    repo.tracking_ref()
    repo.write("extern/lib/lib.txt", "library v1, patched\n")
    ctx.build(build, "train-wandb-job")
    b = h.Bundle(h.bundle_dir(build))
    check_repo_job(b, repo, "https://github.com/acme/trainer.git")
    h.check(b.exists("job", "diff.patch"), "no diff.patch for a dirty submodule")
    patch = b.read("job", "diff.patch").decode()
    h.check("extern/lib/lib.txt" in patch and "patched" in patch,
            "diff.patch lacks the submodule edit:\n" + patch)


CASES = [
    ("https remote with user:token@", https_token_remote),
    ("https remote with token@", https_token_only_remote),
    ("ssh and scp-like remotes", ssh_remote),
    ("no remote", no_remote),
    ("several remotes", several_remotes),
    ("local-path remote", local_path_remote),
    ("commit on no remote-tracking branch", unpushed_commit),
    ("dirty tracked edit", dirty_tracked_edit),
    ("untracked files", untracked_files),
    ("detached HEAD", detached_head),
    ("unborn HEAD", unborn_head),
    ("not a git repository", not_a_repo),
    ("shallow clone", shallow_clone),
    ("sparse checkout", sparse_checkout),
    ("partial sparse clone", partial_clone),
    ("linked worktree", linked_worktree),
    ("submodules", submodules),
]

if __name__ == "__main__":
    h.main("git-states", CASES, setup=lambda ctx: ctx.require_tool())
