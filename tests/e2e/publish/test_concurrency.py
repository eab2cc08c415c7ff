"""Concurrent publishing: 8 jobs of one project built and published with
`cmake --build build --target job-publish -j8`, and 8 `wandb-job publish` processes released at
the same moment on the same bundle, on 8 different bundles, on all 8 bundles each, and on two
contents of one job. No job is lost, no content gets two versions, exactly one publisher reports
each version as new, `store verify` is clean and no temporary file is left behind."""

import collections
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import publish_util as u  # noqa: E402
from publish_util import check, check_equal  # noqa: E402

N = 8
ROUNDS = 3


def eight_job_project(case, name="eight-jobs"):
    body = ""
    files = {"data/shared.bin": u.deterministic_bytes(2 * 1000 * 1000, 8)}
    for i in range(N):
        body += ("add_executable(j%d src/j%d.cpp)\n"
                 "wandb_add_job(j%d NAME job-%d PROJECT mnist SOURCE artifact CONFIG idx=%d)\n"
                 % (i, i, i, i, i))
        files["src/j%d.cpp" % i] = u.MAIN_CPP % i
    p = case.project(name, body, files)
    p.configure()
    return p


def built_bundles(ctx):
    """The 8 bundles, and a second content of job-0's, built once per script."""
    if not hasattr(ctx, "_publish_bundles"):
        case = u.Case(ctx, "bundles")
        p = eight_job_project(case)
        p.build("job-bundle", jobs=N)
        bundles = [u.copy_tree(p.bundle("j%d" % i), case.path("bundle-%d" % i))
                   for i in range(N)]
        p.edit_and_commit("src/j0.cpp", u.MAIN_CPP % 100)
        p.build("j0-wandb-job")
        other = u.copy_tree(p.bundle("j0"), case.path("bundle-0b"))
        ctx._publish_bundles = (bundles, other)
    return ctx._publish_bundles


def check_store_sound(case, store, what):
    case.verify_clean(what=" " + what)
    check_equal(store.tmp_files(), [], "%s: temporary files left behind" % what)
    for key, c in store.collections().items():
        versions = c.versions()
        check_equal(sorted(versions), list(range(len(versions))),
                    "%s: version indexes of %s" % (what, "/".join(key)))
        digests = [v["digest"] for v in versions.values()]
        check_equal(len(set(digests)), len(digests), "%s: versions of %s with the same digest"
                    % (what, "/".join(key)))
        check(c.aliases().get("latest") in versions, "%s: latest of %s is %r"
              % (what, "/".join(key), c.aliases().get("latest")))


def race(case, store, argvs, what):
    """Releases `argvs` (publish arguments) at once; all must succeed. Returns their --json."""
    cmds = [[case.ctx.tool, "publish", "--json"] + list(a) for a in argvs]
    results = u.run_together(cmds, case.env_with(WANDB_JOB_STORE=store.root),
                             case.path("gate"))
    outs = []
    for i, (rc, out, err) in enumerate(results):
        check(rc == 0, "%s: publisher %d failed (exit %d): %s" % (what, i, rc, err.strip()))
        outs.append(json.loads(out))
    return outs


def count_new(outs):
    """{job: how many publishers reported a new version}, {code: ...}."""
    jobs, codes = collections.Counter(), collections.Counter()
    for out in outs:
        for j in out:
            jobs[j["name"]] += j["new"]
            if j.get("code"):
                codes[j["code"]["name"]] += j["code"]["new"]
    return jobs, codes


def job_publish_j8(ctx):
    case = u.Case(ctx, "j8")
    p = eight_job_project(case)
    proc = p.build("job-publish", jobs=N)
    lines = u.publish_lines(proc.stdout)
    names = ["job-%d" % i for i in range(N)]
    check_equal(sorted(lines), names, "jobs printed by job-publish -j8")
    for n in names:
        u.check_job_line(lines, n, "v0", "new", ["latest"])
    store = case.store
    check_equal(sorted(k[3] for k in store.collections("job")), names, "job collections")
    check_equal(len(store.collections("code")), N, "code collections")
    for c in store.collections().values():
        check_equal(sorted(c.versions()), [0], "versions of %s" % c.name)
    check_store_sound(case, store, "job-publish -j8")
    jobs = case.tool_json("ls", "--json")
    check_equal(sorted((j["name"], j["versions"]) for j in jobs), [(n, 1) for n in names],
                "ls --json (name, versions)")
    lines = u.publish_lines(p.build("job-publish", jobs=N).stdout)
    for n in names:
        u.check_job_line(lines, n, "v0", "unchanged", ["latest"])


def same_bundle(ctx):
    bundles, _ = built_bundles(ctx)
    case = u.Case(ctx, "same-bundle")
    for r in range(ROUNDS):
        store = u.Store(case.path("store-%d" % r))
        outs = race(case, store, [[bundles[0]]] * N, "round %d" % r)
        digests = set(o[0]["digest"] for o in outs)
        check_equal(len(digests), 1, "round %d: digests reported" % r)
        check_equal(set(o[0]["version"] for o in outs), {"v0"}, "round %d: versions" % r)
        jobs, codes = count_new(outs)
        check_equal(jobs["job-0"], 1, "round %d: publishers reporting job-0 as new" % r)
        check_equal(sum(codes.values()), 1, "round %d: publishers reporting the code "
                    "artifact as new" % r)
        check_equal(len(store.collections()), 2, "round %d: collections" % r)
        for c in store.collections().values():
            check_equal(sorted(c.versions()), [0], "round %d: versions of %s" % (r, c.name))
        check_store_sound(case, store, "round %d" % r)


def different_bundles(ctx):
    bundles, _ = built_bundles(ctx)
    case = u.Case(ctx, "different-bundles")
    for r in range(ROUNDS):
        store = u.Store(case.path("store-%d" % r))
        outs = race(case, store, [[b] for b in bundles], "round %d" % r)
        check_equal([(o[0]["name"], o[0]["version"], o[0]["new"]) for o in outs],
                    [("job-%d" % i, "v0", True) for i in range(N)],
                    "round %d: (name, version, new) per publisher" % r)
        check_equal(sorted(k[3] for k in store.collections("job")),
                    ["job-%d" % i for i in range(N)], "round %d: job collections" % r)
        for c in store.collections().values():
            check_equal(sorted(c.versions()), [0], "round %d: versions of %s" % (r, c.name))
        check_store_sound(case, store, "round %d" % r)


def all_bundles(ctx):
    bundles, _ = built_bundles(ctx)
    case = u.Case(ctx, "all-bundles")
    store = case.store
    argvs = [bundles[i:] + bundles[:i] for i in range(N)]
    outs = race(case, store, argvs, "8 publishers of all 8 bundles")
    jobs, codes = count_new(outs)
    check_equal(dict(jobs), {"job-%d" % i: 1 for i in range(N)},
                "publishers reporting each job as new")
    check_equal(sorted(codes.values()), [1] * N, "publishers reporting each code artifact new")
    for out in outs:
        check_equal(len(out), N, "jobs reported by one publisher")
    check_equal(len(store.collections("job")), N, "job collections")
    for c in store.collections().values():
        check_equal(sorted(c.versions()), [0], "versions of %s" % c.name)
    check_store_sound(case, store, "8 publishers of all 8 bundles")


def two_contents(ctx):
    bundles, other = built_bundles(ctx)
    case = u.Case(ctx, "two-contents")
    for r in range(ROUNDS):
        store = u.Store(case.path("store-%d" % r))
        outs = race(case, store, [[bundles[0]], [other]] * (N // 2), "round %d" % r)
        by_digest = collections.defaultdict(set)
        for o in outs:
            by_digest[o[0]["digest"]].add(o[0]["version"])
        check_equal(len(by_digest), 2, "round %d: digests reported" % r)
        check_equal(sorted(v for s in by_digest.values() for v in s), ["v0", "v1"],
                    "round %d: versions reported per digest (one each)" % r)
        job = store.job("job-0")
        versions = job.versions()
        check_equal(sorted(versions), [0, 1], "round %d: versions of job-0" % r)
        check_equal(sorted(v["digest"] for v in versions.values()), sorted(by_digest),
                    "round %d: stored digests" % r)
        jobs, _ = count_new(outs)
        check_equal(jobs["job-0"], 2, "round %d: publishers reporting a new version" % r)
        check_store_sound(case, store, "round %d" % r)


CASES = [
    ("job-publish -j8 of 8 jobs", job_publish_j8),
    ("8 publishers, one bundle", same_bundle),
    ("8 publishers, 8 bundles", different_bundles),
    ("8 publishers, all 8 bundles each", all_bundles),
    ("8 publishers, two contents of one job", two_contents),
]

if __name__ == "__main__":
    u.main("publish-concurrency", CASES)
