"""Incremental builds with Ninja: the capture step runs when, and only when, something it read
changed (a commit, a packaged file, the target, the wandb_add_job call)."""

import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

REMOTE = "https://github.com/acme/trainer.git"
TARGET = "train-wandb-job"


class Tree:
    """A repo-job project (plus an artifact-job target) built with Ninja."""

    def __init__(self, ctx, name, config="lr=0.01"):
        self.ctx = ctx
        self.config = config
        extra = ("add_executable(evaluate train.cpp)\n"
                 "wandb_add_job(evaluate SOURCE artifact)\n")
        self.files = lambda cfg: h.project_files("CONFIG %s" % cfg, extra_cmake=extra,
                                                 extra_files={"data/notes.txt": "notes\n"})
        self.repo = ctx.new_repo(name, self.files(config), remote=REMOTE)
        self.repo.tracking_ref()
        self.build = os.path.join(os.path.dirname(self.repo.path), "build")
        ctx.configure(self.repo.path, self.build, generator="Ninja")

    def ninja_dry(self, target=TARGET):
        proc = self.ctx.run(["ninja", "-C", self.build, "-n", target])
        return proc.stdout

    def assert_no_work(self, why, target=TARGET):
        out = self.ninja_dry(target)
        h.check("no work to do" in out, "%s: `ninja -n %s` wants to work:\n%s" % (why, target, out))

    def bundle_id(self, target="train"):
        return h.file_identity(os.path.join(h.bundle_dir(self.build, target), "bundle.json"))

    def build_target(self, target=TARGET):
        # Ninja compares nanosecond mtimes; a short pause keeps an edit made right after a build
        # from sharing its timestamp on coarse file systems.
        time.sleep(0.05)
        return self.ctx.build(self.build, target)

    def assert_reran(self, why, target="train"):
        before = self.bundle_id(target)
        self.build_target("%s-wandb-job" % target)
        h.check(self.bundle_id(target) != before, "%s: the capture step did not re-run" % why)
        self.assert_no_work("%s, then a no-op" % why, "%s-wandb-job" % target)
        return h.Bundle(h.bundle_dir(self.build, target))

    def assert_not_rerun(self, why, target="train"):
        before = self.bundle_id(target)
        self.build_target("%s-wandb-job" % target)
        h.check(self.bundle_id(target) == before, "%s: the capture step re-ran" % why)


def noop_builds(ctx):
    t = Tree(ctx, "noop")
    t.build_target()
    t.assert_no_work("right after the first build")
    t.assert_not_rerun("second build")
    t.assert_not_rerun("third build")
    t.assert_no_work("after two no-op builds")


def new_commit(ctx):
    t = Tree(ctx, "commit")
    t.build_target()
    t.assert_no_work("first build")
    commit = t.repo.commit("empty", allow_empty=True)
    t.repo.tracking_ref()
    b = t.assert_reran("new empty commit")
    h.check_equal(b.meta["git"]["commit"], commit, "commit after re-run")
    # A commit that changes a file the target does not compile.
    t.repo.write("data/notes.txt", "more notes\n")
    commit = t.repo.commit("notes")
    t.repo.tracking_ref()
    b = t.assert_reran("commit changing data/notes.txt")
    h.check_equal(b.meta["git"]["commit"], commit, "commit after second re-run")
    h.check_equal(b.meta["git"]["dirty"], False, "dirty after committing")


def plumbing_commit(repo, branch):
    """A commit that writes nothing but the branch's loose ref: no index, no reflog."""
    tree = repo.git("rev-parse", "HEAD^{tree}")
    commit = repo.git("commit-tree", tree, "-p", "HEAD", "-m", "plumbing")
    repo.git("update-ref", "refs/heads/" + branch, commit)
    return commit


def commit_on_packed_refs(ctx):
    t = Tree(ctx, "packed-refs")
    # Without reflogs a commit changes only the loose ref, which pack-refs removed.
    t.repo.git("config", "core.logAllRefUpdates", "false")
    shutil.rmtree(os.path.join(t.repo.path, ".git", "logs"))
    t.repo.git("pack-refs", "--all")
    t.build_target()
    t.assert_no_work("first build with packed refs")
    commit = plumbing_commit(t.repo, "main")
    b = t.assert_reran("new commit after pack-refs (only the loose ref written)")
    h.check_equal(b.meta["git"]["commit"], commit, "commit after re-run")
    # A branch whose name has a slash: pack-refs removes its empty directory.
    t.repo.git("checkout", "-q", "-b", "feature/x")
    t.repo.git("pack-refs", "--all")
    t.build_target()
    t.assert_no_work("build on feature/x with packed refs")
    commit = plumbing_commit(t.repo, "feature/x")
    b = t.assert_reran("new commit on feature/x after pack-refs")
    h.check_equal(b.meta["git"]["commit"], commit, "commit on feature/x after re-run")
    # And the porcelain way.
    t.repo.git("pack-refs", "--all")
    t.build_target()
    t.repo.commit("empty", allow_empty=True)
    b = t.assert_reran("git commit after pack-refs")
    h.check_equal(b.meta["git"]["commit"], t.repo.head(), "commit after git commit")


def checkout_elsewhere(ctx):
    t = Tree(ctx, "checkout")
    first = t.repo.head()
    t.repo.write("data/notes.txt", "second\n")
    second = t.repo.commit("second")
    t.repo.tracking_ref()
    t.build_target()
    t.assert_no_work("first build")
    t.repo.git("checkout", "-q", "--detach", first)
    b = t.assert_reran("detached checkout of the previous commit")
    h.check_equal(b.meta["git"]["commit"], first, "commit after the checkout")
    t.repo.git("checkout", "-q", "-b", "topic", second)
    b = t.assert_reran("checkout of a new branch")
    h.check_equal(b.meta["git"]["branch"], "topic", "branch after the checkout")


def worktree_commit(ctx):
    t = Tree(ctx, "worktree-main")
    wt = h.Repo(ctx, os.path.join(os.path.dirname(t.repo.path), "wt"))
    t.repo.git("worktree", "add", "-q", "-b", "feature", wt.path)
    build = os.path.join(os.path.dirname(t.repo.path), "build-wt")
    ctx.configure(wt.path, build, generator="Ninja")
    t.build = build
    t.repo = wt
    t.build_target()
    t.assert_no_work("first build in the worktree")
    commit = wt.commit("feature", allow_empty=True)
    b = t.assert_reran("new commit in the linked worktree")
    h.check_equal(b.meta["git"]["commit"], commit, "commit after the worktree commit")


def dirty_edit(ctx):
    t = Tree(ctx, "dirty")
    t.build_target("job-bundle")
    t.assert_no_work("first build", "job-bundle")
    # A tracked file of the repo job's tree (not compiled into the target).
    t.repo.write("data/notes.txt", "notes, edited\n")
    b = t.assert_reran("dirty edit of data/notes.txt")
    h.check(b.exists("job", "diff.patch"), "diff.patch missing after the dirty edit")
    # The same edit re-runs the artifact job, whose code artifact holds the file.
    ev = t.assert_reran("dirty edit of data/notes.txt (artifact job)", "evaluate")
    h.check_equal(ev.read("code", "data", "notes.txt"), b"notes, edited\n",
                  "code artifact after the edit")
    # A second edit re-runs again, reverting it too.
    t.repo.write("data/notes.txt", "notes\n")
    b = t.assert_reran("edit reverted")
    h.check(not b.exists("job", "diff.patch"), "diff.patch left after reverting the edit")


def new_untracked_file(ctx):
    t = Tree(ctx, "untracked")
    t.build_target("evaluate-wandb-job")
    t.assert_no_work("first build", "evaluate-wandb-job")
    t.repo.write("data/new-file.txt", "new\n")
    ev = t.assert_reran("new untracked file in the artifact job's code dir", "evaluate")
    h.check("data/new-file.txt" in ev.code_files(), "new file missing from the code artifact")


def target_rebuilt(ctx):
    t = Tree(ctx, "rebuild")
    t.build_target()
    t.assert_no_work("first build")
    t.repo.write("train.cpp", h.TRAIN_CPP + "// a change that changes the binary\n"
                 "int unused_symbol_for_e2e() { return 42; }\n")
    t.assert_reran("train.cpp edited, target rebuilt")
    # Touch alone: the object is recompiled and relinked, so the step runs again.
    time.sleep(0.05)
    os.utime(os.path.join(t.repo.path, "train.cpp"))
    t.assert_reran("train.cpp touched")


def call_changed(ctx):
    t = Tree(ctx, "call")
    t.build_target()
    t.assert_no_work("first build")
    t.repo.write_files(t.files("lr=0.5"))
    t.repo.commit("new lr")
    t.repo.tracking_ref()
    ctx.configure(t.repo.path, t.build, generator="Ninja")
    b = t.assert_reran("CONFIG lr changed and re-configured")
    h.check_equal(b.meta["config"], {"lr": 0.5}, "config after the change")
    # Re-configuring without a change re-runs nothing.
    ctx.configure(t.repo.path, t.build, generator="Ninja")
    t.assert_no_work("re-configure without change")


CASES = [
    ("no-op builds", noop_builds),
    ("new commit", new_commit),
    ("new commit with packed refs", commit_on_packed_refs),
    ("checkout of another commit and branch", checkout_elsewhere),
    ("new commit in a linked worktree", worktree_commit),
    ("dirty edit of a packaged file", dirty_edit),
    ("new untracked file in an artifact job", new_untracked_file),
    ("target rebuilt", target_rebuilt),
    ("wandb_add_job call changed", call_changed),
]


def setup(ctx):
    ctx.require_tool()
    ctx.require("ninja")


if __name__ == "__main__":
    h.main("incremental", CASES, setup=setup)
