"""Publish receipts, end to end through job-publish and `wandb-job publish` to the local store: an
unchanged job published here before is not published again (the receipt line says so, nothing in
the store is written), and is published again when its bundle changed, for another store, another
entity or project, when the store lost its version or its aliases moved, with --force, or when
the receipt is damaged; a dry run never uses them."""

import glob
import os
import shutil
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import publish_util as u  # noqa: E402
from publish_util import check, check_equal  # noqa: E402

RECEIPTED = "unchanged since their receipted publish here"


def published(ctx, name):
    case = u.Case(ctx, name)
    p = u.two_job_project(case)
    lines = u.publish_lines(p.build("job-publish").stdout)
    u.check_job_line(lines, "train-job", "v0", "new", ["latest", "stable"])
    return case, p


def publish(p, env=None):
    proc = p.build("job-publish", env=env)
    return u.publish_lines(proc.stdout), proc.stdout + proc.stderr


def unchanged_job_skips_the_store(ctx):
    case, p = published(ctx, "skip")
    receipts = glob.glob(p.bundle("train") + ".publish-receipts/*.json")
    check_equal(len(receipts), 1, "receipts of train's bundle after one publish")
    before = case.store.snapshot()
    lines, out = publish(p)
    u.check_job_line(lines, "train-job", "v0", "unchanged", ["latest", "stable"])
    u.check_job_line(lines, "eval-job", "v0", "unchanged", ["latest"])
    check("2 job(s) %s" % RECEIPTED in out, "no receipt line:\n%s" % out)
    u.check_store_unchanged(before, case.store, "a receipted publish")
    out = case.tool_json("publish", "--json", p.bundle("train"))
    check_equal((out[0]["version"], out[0]["new"]), ("v0", False), "publish --json (receipt)")
    # --force checks the store again; a dry run ignores receipts.
    proc = case.tool("publish", "--force", p.bundle("train"))
    check(RECEIPTED not in proc.stderr, "--force used the receipt:\n%s" % proc.stderr)
    u.check_job_line(u.publish_lines(proc.stdout), "train-job", "v0", "unchanged", None)
    proc = case.tool("publish", "--dry-run", p.bundle("train"))
    check(RECEIPTED not in proc.stderr, "a dry run used the receipt:\n%s" % proc.stderr)


def changed_bundle_is_published(ctx):
    case, p = published(ctx, "changed")
    p.edit_and_commit("train/main.cpp", u.MAIN_CPP % 7)
    lines, out = publish(p)
    u.check_job_line(lines, "train-job", "v1", "new", ["latest", "stable"])
    # eval-job's bundle changed too: it records the new commit.
    u.check_job_line(lines, "eval-job", "v0", "unchanged", ["latest"])
    check(RECEIPTED not in out, "a receipt stood for a changed bundle:\n%s" % out)
    # New aliases change the bundle too.
    p.configure("-DTRAIN_ALIASES=candidate")
    lines, _ = publish(p)
    u.check_job_line(lines, "train-job", "v1", "unchanged", ["latest", "stable", "candidate"])
    check_equal(case.store.job("train-job").aliases()["candidate"], 1, "candidate on v1")
    # The aliases of a receipted version moved (here: another alias joined it): published.
    case.tool("publish", "--alias", "extra", p.bundle("train"))
    lines, out = publish(p)
    check("1 job(s) %s" % RECEIPTED in out, "train-job's receipt stood:\n%s" % out)
    u.check_job_line(lines, "train-job", "v1", "unchanged", None)


def other_destination_is_published(ctx):
    case, p = published(ctx, "destination")
    other = case.path("other-store")
    lines, out = publish(p, env=case.env_with(WANDB_JOB_STORE=other))
    u.check_job_line(lines, "train-job", "v0", "new", None)
    check(RECEIPTED not in out, "another store used the receipt:\n%s" % out)
    check(os.path.isdir(os.path.join(other, "entities", "local")), "nothing in the other store")
    lines, out = publish(p, env=case.env_with(WANDB_ENTITY="team"))
    u.check_job_line(lines, "train-job", "v0", "new", None, entity="team")
    check(RECEIPTED not in out, "another entity used the receipt:\n%s" % out)
    lines, out = publish(p, env=case.env_with(WANDB_PROJECT="elsewhere"))
    check(RECEIPTED not in out, "another WANDB_PROJECT used the receipt:\n%s" % out)
    # Each destination keeps its own receipt.
    lines, out = publish(p, env=case.env_with(WANDB_JOB_STORE=other))
    check("2 job(s) %s" % RECEIPTED in out, "the other store's receipt:\n%s" % out)
    lines, out = publish(p)
    check("2 job(s) %s" % RECEIPTED in out, "the first store's receipt:\n%s" % out)


def lost_version_is_published(ctx):
    case, p = published(ctx, "lost")
    train = case.store.job("train-job")
    os.remove(os.path.join(train.path, "versions", "v0.json"))
    lines, out = publish(p)
    check("1 job(s) %s" % RECEIPTED in out, "only eval-job is receipted:\n%s" % out)
    u.check_job_line(lines, "train-job", "v0", "new", None)
    case.verify_clean(what=" after publishing the lost version again")
    shutil.rmtree(case.store_root)
    lines, out = publish(p)
    check(RECEIPTED not in out, "a removed store used receipts:\n%s" % out)
    u.check_job_line(lines, "eval-job", "v0", "new", None)
    case.verify_clean(what=" after publishing into a new store")


def damaged_receipt_is_ignored(ctx):
    case, p = published(ctx, "damaged")
    for path in glob.glob(p.bundle("train") + ".publish-receipts/*.json"):
        with open(path, "w") as f:
            f.write("{not json")
    lines, out = publish(p)
    check("1 job(s) %s" % RECEIPTED in out, "the damaged receipt was used:\n%s" % out)
    u.check_job_line(lines, "train-job", "v0", "unchanged", None)
    lines, out = publish(p)
    check("2 job(s) %s" % RECEIPTED in out, "the receipt was not written again:\n%s" % out)


CASES = [
    ("unchanged job skips the store", unchanged_job_skips_the_store),
    ("changed bundle is published", changed_bundle_is_published),
    ("other destination is published", other_destination_is_published),
    ("lost version is published", lost_version_is_published),
    ("damaged receipt is ignored", damaged_receipt_is_ignored),
]

if __name__ == "__main__":
    u.main("publish-receipts", CASES)
