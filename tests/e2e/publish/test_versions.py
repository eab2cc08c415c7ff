"""Versions as W&B makes them, end to end through `cmake --build build --target job-publish`: the
same content publishes no new version (same digest, "unchanged") and moves the requested aliases
to it; changed content makes v1, which takes `latest`; a custom alias moves from v0 to v1; content
going back to v0's moves `latest` back to v0; blobs are stored once by content, shared between
jobs, versions and entities."""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import publish_util as u  # noqa: E402
from publish_util import check, check_equal, h  # noqa: E402


def check_blobs_exact(store, what):
    """Every blob is named by some version and every named content has its one blob."""
    blobs = set(store.blobs())
    referenced = store.referenced_blobs()
    check_equal(sorted(blobs - referenced), [], "%s: blobs no version names" % what)
    check_equal(sorted(referenced - blobs), [], "%s: contents without a blob" % what)
    check_equal(len(store.blob_files()), len(blobs), "%s: files under blobs/ vs blobs" % what)


def version_bytes(store):
    """{(collection, index): bytes of vN.json} of every version in the store."""
    out = {}
    for key, c in store.collections().items():
        for i in c.versions():
            out[("/".join(key), i)] = c.version_bytes(i)
    return out


def ls_entry(case, name, entity="local"):
    jobs = case.tool_json("ls", "--json")
    found = [j for j in jobs if j["name"] == name and j["entity"] == entity]
    check_equal(len(found), 1, "ls --json entries for %s/%s" % (entity, name))
    return found[0]


def versions_and_aliases(ctx):
    case = u.Case(ctx, "versions")
    store = case.store
    p = u.two_job_project(case, train_aliases="stable")

    # A. First publish: v0 of both, "stable" on train-job's v0.
    lines = u.publish_lines(p.build("job-publish").stdout)
    u.check_job_line(lines, "train-job", "v0", "new", ["latest", "stable"])
    u.check_job_line(lines, "eval-job", "v0", "new", ["latest"])
    train, evalj = store.job("train-job"), store.job("eval-job")
    digest0 = train.versions()[0]["digest"]
    check_blobs_exact(store, "first publish")
    blobs_a = store.blob_files()
    shared_hex = u.b64_to_hex(h.md5_b64(u.SHARED_DATA))
    check(shared_hex in store.blobs(), "shared.dat has no blob")
    for name in ("train", "eval"):
        code = store.collection("local", "mnist", "code", h.Bundle(p.bundle(name)).meta["code"]
                                ["name"])
        entry = code.versions()[0]["manifest"]["contents"].get("shared.dat")
        check(entry is not None, "code artifact of %s lacks shared.dat" % name)
        check_equal(u.b64_to_hex(entry["digest"]), shared_hex, "shared.dat digest (%s)" % name)
    versions_a = version_bytes(store)

    # B. The same content again: no new version, same digest, no new blob, no file rewritten.
    lines = u.publish_lines(p.build("job-publish").stdout)
    u.check_job_line(lines, "train-job", "v0", "unchanged", ["latest", "stable"])
    u.check_job_line(lines, "eval-job", "v0", "unchanged", ["latest"])
    check_equal(store.blob_files(), blobs_a, "blob files after republishing unchanged jobs")
    check_equal(version_bytes(store), versions_a, "version files after republishing")
    out = case.tool_json("publish", "--json", p.bundle("train"))
    check_equal((out[0]["version"], out[0]["digest"], out[0]["new"]), ("v0", digest0, False),
                "publish --json of an unchanged job (version, digest, new)")

    # C. Same content with another alias: it joins v0; "stable" stays where it is.
    p.configure("-DTRAIN_ALIASES=candidate")
    lines = u.publish_lines(p.build("job-publish").stdout)
    u.check_job_line(lines, "train-job", "v0", "unchanged", ["latest", "stable", "candidate"])
    check_equal(train.aliases(), {"latest": 0, "stable": 0, "candidate": 0},
                "train-job aliases.json after adding 'candidate'")
    check_equal(train.versions()[0]["digest"], digest0, "train-job v0 digest")
    check_equal(store.blob_files(), blobs_a, "blob files after an alias-only publish")
    check_equal(version_bytes(store), versions_a, "version files after an alias-only publish")

    # D. A source file edited and committed: v1 takes latest, and "stable" moves from v0 to v1.
    p.edit_and_commit("train/main.cpp", u.MAIN_CPP % 42, "train: new main")
    p.configure("-DTRAIN_ALIASES=stable")
    lines = u.publish_lines(p.build("job-publish").stdout)
    u.check_job_line(lines, "train-job", "v1", "new", ["latest", "stable"])
    u.check_job_line(lines, "eval-job", "v0", "unchanged", ["latest"])
    check_equal(sorted(train.versions()), [0, 1], "train-job versions")
    check_equal(sorted(evalj.versions()), [0], "eval-job versions")
    check_equal(train.aliases(), {"latest": 1, "stable": 1, "candidate": 0},
                "train-job aliases.json after v1")
    check(train.versions()[1]["digest"] != digest0, "v1 has v0's digest")
    check_equal(train.version_bytes(0), versions_a[("local/mnist/job/train-job", 0)],
                "v0.json after v1 was published")
    e = ls_entry(case, "train-job")
    check_equal((e["latest_version"], e["aliases"], e["versions"]), ("v1", ["latest", "stable"], 2),
                "ls --json train-job (latest_version, aliases, versions)")
    shown = case.tool_json("show", "--json", "train-job:v0")
    check_equal([(v["version"], v["aliases"]) for v in shown["versions"]], [("v0", ["candidate"])],
                "show train-job:v0 after 'stable' moved")
    check_blobs_exact(store, "after v1")
    new_blobs = set(store.blob_files()) - set(blobs_a)
    check_equal(len(store.blob_files()), len(blobs_a) + len(new_blobs), "blob count after v1")
    check(new_blobs, "v1 added no blob")
    # v1 of the code artifact: unchanged files were born in v0, the edited one in v1.
    code = store.collection("local", "mnist", "code", h.Bundle(p.bundle("train")).meta["code"]
                            ["name"])
    cv = code.versions()
    check_equal(sorted(cv), [0, 1], "train's code artifact versions")
    for path, entry in cv[1]["manifest"]["contents"].items():
        born = cv[0]["id"] if path in ("shared.dat", "Dockerfile.wandb") else cv[1]["id"]
        if path in ("shared.dat", "Dockerfile.wandb", "main.cpp"):
            check_equal(entry.get("birthArtifactID"), born, "birthArtifactID of code v1 %s" % path)
    blobs_d = store.blob_files()

    # E. Back to v0's content, no custom alias: no v2; latest moves back to v0, stable stays on v1.
    p.edit_and_commit("train/main.cpp", u.MAIN_CPP % 0, "train: back to the first main")
    p.configure("-DTRAIN_ALIASES=")
    lines = u.publish_lines(p.build("job-publish").stdout)
    u.check_job_line(lines, "train-job", "v0", "unchanged", ["latest", "candidate"])
    check_equal(sorted(train.versions()), [0, 1], "train-job versions after going back")
    check_equal(train.versions()[0]["digest"], digest0, "digest of the content of v0, again")
    check_equal(train.aliases(), {"latest": 0, "candidate": 0, "stable": 1},
                "train-job aliases.json after going back to v0's content")
    check_equal(store.blob_files(), blobs_d, "blob files after going back to v0's content")
    e = ls_entry(case, "train-job")
    check_equal((e["latest_version"], e["versions"]), ("v0", 2),
                "ls --json train-job (latest_version, versions) after going back")
    shown = case.tool_json("show", "--json", "train-job:latest")
    check_equal(shown["versions"][0]["version"], "v0", "show train-job:latest")
    case.verify_clean()


def blobs_shared(ctx):
    case = u.Case(ctx, "blobs-shared")
    store = case.store
    p = u.two_job_project(case)
    p.build("job-bundle")
    bundles = [p.bundle("train"), p.bundle("eval")]
    case.tool("publish", bundles[0])
    after_train = set(store.blob_files())
    referenced_train = store.referenced_blobs()
    # eval-job shares shared.dat with train-job: its publish adds a blob only for new content.
    case.tool("publish", bundles[1])
    added = set(store.blob_files()) - after_train
    check_equal(len(added), len(store.referenced_blobs() - referenced_train),
                "blobs added by a second job")
    check(u.b64_to_hex(h.md5_b64(u.SHARED_DATA)) not in added,
          "the shared file was stored again")
    check_blobs_exact(store, "two jobs")
    # The same jobs under another entity (same store): only contents new to the store are added.
    before_blobs, before_refs = set(store.blob_files()), store.referenced_blobs()
    env = case.env_with(WANDB_ENTITY="team2")
    case.tool("publish", *bundles, env=env)
    check_equal(sorted(k[0] for k in store.collections("job")), ["local", "local", "team2",
                                                                "team2"], "job entities")
    added = set(store.blob_files()) - before_blobs
    check_equal(len(added), len(store.referenced_blobs() - before_refs),
                "blobs added by the same jobs under another entity")
    check_blobs_exact(store, "two entities")
    # Republishing everything: not one more file under blobs/.
    before = store.blob_files()
    case.tool("publish", *bundles)
    case.tool("publish", *bundles, env=env)
    check_equal(store.blob_files(), before, "blob files after republishing everything")
    case.verify_clean()


CASES = [
    ("versions, digests and aliases", versions_and_aliases),
    ("blobs stored once, shared", blobs_shared),
]

if __name__ == "__main__":
    u.main("publish-versions", CASES)
