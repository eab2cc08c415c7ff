"""Publishing to the local store, end to end: `cmake --build build --target job-publish` stores
each job and its code artifact under $WANDB_JOB_STORE (else $XDG_DATA_HOME/wandb-job/store, else
~/.local/share/wandb-job/store) without a W&B key or with WANDB_MODE=offline, and prints a line
per job; `publish --json` reports each job; `--dry-run` writes nothing; WANDB_MODE=disabled
publishes nothing."""

import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import publish_util as u  # noqa: E402
from publish_util import check, check_equal, h  # noqa: E402

PLACEHOLDER = "@WANDB_JOB_CODE_ARTIFACT_ID@"


def check_stored_like_bundle(store, bundle_path, entity="local", project="mnist"):
    """The job and its code artifact are in the store with exactly the bundle's files; the
    stored wandb-job.json names the stored code artifact's ID. Returns (job v0, code v0)."""
    b = h.Bundle(bundle_path)
    meta = b.meta
    job_coll = store.collection(entity, project, "job", meta["job"]["name"])
    code_coll = store.collection(entity, project, "code", meta["code"]["name"])
    job_v = job_coll.versions()[0]
    code_v = code_coll.versions()[0]
    # The code artifact: every file of the bundle's code/, byte for byte, nothing else.
    code_files = b.code_files()
    check_equal(sorted(code_v["manifest"]["contents"]), code_files, "stored code artifact paths")
    for rel in code_files:
        e = code_v["manifest"]["contents"][rel]
        data = b.read("code", rel)
        check_equal(h.read_bytes(store.blob_path(u.b64_to_hex(e["digest"]))), data,
                    "stored bytes of code file %s" % rel)
        check_equal(e["size"], len(data), "stored size of code file %s" % rel)
    # The job: the bundle's job/ files; wandb-job.json with the code artifact's ID in.
    check_equal(sorted(job_v["manifest"]["contents"]), b.job_files(), "stored job artifact paths")
    for rel in b.job_files():
        e = job_v["manifest"]["contents"][rel]
        data = b.read("job", rel)
        if rel == "wandb-job.json":
            data = data.replace(PLACEHOLDER.encode(), code_v["id"].encode())
            check(code_v["id"].encode() in data, "the bundle's wandb-job.json has no placeholder")
        check_equal(h.read_bytes(store.blob_path(u.b64_to_hex(e["digest"]))), data,
                    "stored bytes of job file %s" % rel)
    stored_job = json.loads(h.read_bytes(store.blob_path(
        u.b64_to_hex(job_v["manifest"]["contents"]["wandb-job.json"]["digest"]))))
    check_equal(stored_job["source"]["artifact"], "wandb-artifact://_id/" + code_v["id"],
                "source.artifact of the stored wandb-job.json")
    check_equal(job_v["digest"], h.artifact_digest(job_v["manifest"]["contents"]),
                "stored job digest vs its manifest")
    check_equal(job_coll.aliases().get("latest"), 0, "latest of %s" % job_coll.name)
    return job_v, code_v


def job_publish_to_store(ctx):
    case = u.Case(ctx, "job-publish")
    p = u.two_job_project(case)
    proc = p.build("job-publish")
    lines = u.publish_lines(proc.stdout)
    check_equal(sorted(lines), ["eval-job", "train-job"], "jobs printed by job-publish")
    u.check_job_line(lines, "train-job", "v0", "new", ["latest", "stable"])
    u.check_job_line(lines, "eval-job", "v0", "new", ["latest"])
    store = case.store
    check_equal(json.loads(h.read_text(os.path.join(store.root, "store.json"))),
                {"format": "wandb-job-store/1"}, "store.json")
    check_stored_like_bundle(store, p.bundle("train"))
    check_stored_like_bundle(store, p.bundle("eval"))
    check_equal(store.job("train-job").aliases(), {"latest": 0, "stable": 0},
                "aliases.json of train-job")
    check_equal(sorted(k[3] for k in store.collections("job")), ["eval-job", "train-job"],
                "job collections")
    case.verify_clean()
    check(not store.tmp_files(), "temporary files left by a finished publish: %s"
          % store.tmp_files())
    # Again: nothing new.
    proc = p.build("job-publish")
    lines = u.publish_lines(proc.stdout)
    u.check_job_line(lines, "train-job", "v0", "unchanged", ["latest", "stable"])
    u.check_job_line(lines, "eval-job", "v0", "unchanged", ["latest"])


def default_store_xdg(ctx):
    case = u.Case(ctx, "xdg")
    xdg = case.path("xdg")
    env = case.env_with(WANDB_JOB_STORE=None, XDG_DATA_HOME=xdg)
    p = u.two_job_project(case)
    p.build("job-publish", env=env)
    store = u.Store(os.path.join(xdg, "wandb-job", "store"))
    check(store.exists(), "no store at $XDG_DATA_HOME/wandb-job/store")
    check(not case.store.exists(), "the store of WANDB_JOB_STORE (unset) was written")
    check(not os.path.exists(os.path.join(case.home, ".local")),
          "~/.local was written although XDG_DATA_HOME is set")
    check_stored_like_bundle(store, p.bundle("train"))
    jobs = json.loads(case.tool("ls", "--json", env=env).stdout)
    check_equal(sorted(j["name"] for j in jobs), ["eval-job", "train-job"],
                "jobs listed from the XDG store")
    case.verify_clean(env=env)


def default_store_home(ctx):
    case = u.Case(ctx, "home-default")
    p = u.two_job_project(case)
    p.build("job-bundle")
    default = u.Store(os.path.join(case.home, ".local", "share", "wandb-job", "store"))
    # Neither WANDB_JOB_STORE nor XDG_DATA_HOME; then a relative XDG_DATA_HOME, which is ignored.
    for what, env in (("unset", case.env_with(WANDB_JOB_STORE=None, XDG_DATA_HOME=None)),
                      ("relative", case.env_with(WANDB_JOB_STORE=None,
                                                 XDG_DATA_HOME="relative/xdg"))):
        proc = p.build("job-publish", env=env)
        check(default.exists(), "XDG_DATA_HOME %s: no store at ~/.local/share/wandb-job/store"
              % what)
        check(len(u.publish_lines(proc.stdout)) == 2, "XDG_DATA_HOME %s: job-publish printed "
              "no line per job:\n%s" % (what, proc.stdout))
        check(not os.path.exists(os.path.join(p.build_dir, "relative")) and
              not os.path.exists(os.path.join(p.src, "relative")),
              "a relative XDG_DATA_HOME was used")
    check_stored_like_bundle(default, p.bundle("eval"))
    check_equal(len(default.job("eval-job").versions()), 1, "versions of eval-job")


def no_key_no_mode(ctx):
    case = u.Case(ctx, "no-key")
    env = case.env_with(WANDB_MODE=None, WANDB_API_KEY=None)
    p = u.two_job_project(case)
    proc = p.build("job-publish", env=env)
    lines = u.publish_lines(proc.stdout)
    u.check_job_line(lines, "train-job", "v0", "new", ["latest", "stable"])
    u.check_job_line(lines, "eval-job", "v0", "new", ["latest"])
    check_stored_like_bundle(case.store, p.bundle("train"))


JSON_FIELDS = ["name", "entity", "project", "version", "aliases", "digest", "new", "destination"]


def check_publish_json(store, out, names, new, entity="local"):
    check(isinstance(out, list), "publish --json printed no array: %r" % out)
    check_equal([j.get("name") for j in out], names, "jobs in publish --json")
    for j in out:
        for f in JSON_FIELDS:
            check(f in j, "publish --json: job %s lacks %r: %s" % (j.get("name"), f, j))
        check_equal((j["entity"], j["project"]), (entity, "mnist"), "entity, project")
        check_equal(j["schema_version"], 1, "schema_version of %s" % j["name"])
        check_equal(j["new"], new, "new of %s" % j["name"])
        coll = store.job(j["name"], entity=entity)
        versions = coll.versions()
        check_equal(j["version"], "v%d" % max(versions), "version of %s" % j["name"])
        stored = versions[max(versions)]
        check_equal(j["digest"], stored["digest"], "digest of %s vs the store" % j["name"])
        check_equal(j["digest"], h.artifact_digest(stored["manifest"]["contents"]),
                    "digest of %s vs its manifest" % j["name"])
        check_equal(j["aliases"][0], "latest", "first alias of %s" % j["name"])
        check_equal(sorted(j["aliases"]),
                    sorted(a for a, i in coll.aliases().items() if i == max(versions)),
                    "aliases of %s vs aliases.json" % j["name"])
        check(store.root in j["destination"], "destination %r does not name the store %s"
              % (j["destination"], store.root))


def publish_json(ctx):
    case = u.Case(ctx, "publish-json")
    p = u.two_job_project(case)
    p.build("job-bundle")
    bundles = [p.bundle("train"), p.bundle("eval")]
    first = case.tool_json("publish", "--json", *bundles)
    check_publish_json(case.store, first, ["train-job", "eval-job"], True)
    second = case.tool_json("publish", "--json", *bundles)
    check_publish_json(case.store, second, ["train-job", "eval-job"], False)
    for a, b in zip(first, second):
        check_equal(b["digest"], a["digest"], "digest of a republished %s" % a["name"])
    # The entity from WANDB_ENTITY, into a store of its own.
    env = case.env_with(WANDB_ENTITY="acme", WANDB_JOB_STORE=case.path("store-acme"))
    out = json.loads(case.tool("publish", "--json", *bundles, env=env).stdout)
    check_publish_json(u.Store(case.path("store-acme")), out, ["train-job", "eval-job"], True,
                       entity="acme")


def dry_run(ctx):
    case = u.Case(ctx, "dry-run")
    p = u.two_job_project(case)
    p.build("job-bundle")
    bundles = [p.bundle("train"), p.bundle("eval")]
    store = case.store
    # Nothing there yet: the store is not even created.
    proc = case.tool("publish", "--dry-run", *bundles)
    lines = u.publish_lines(proc.stdout)
    check_equal(sorted(lines), ["eval-job", "train-job"], "jobs of a dry run")
    check("v?" not in proc.stdout, "a dry run printed 'v?':\n" + proc.stdout)
    for m in lines.values():
        check(m.group("dry"), "a dry run does not say 'would publish': %s" % m.group(0))
        check(m.group("state").startswith("new"), "a dry run into an empty store: %s"
              % m.group(0))
    out = case.tool_json("publish", "--dry-run", "--json", *bundles)
    check_equal([(j["name"], j["new"], j.get("dry_run")) for j in out],
                [("train-job", True, True), ("eval-job", True, True)],
                "(name, new, dry_run) of a dry run --json")
    check(not store.exists(), "a dry run created the store %s" % store.root)
    # Published: a dry run says unchanged and touches nothing.
    case.tool("publish", *bundles)
    before = store.snapshot()
    lines = u.publish_lines(case.tool("publish", "--dry-run", *bundles).stdout)
    u.check_job_line(lines, "train-job", "v0", "unchanged", ["latest", "stable"], dry=True)
    u.check_job_line(lines, "eval-job", "v0", "unchanged", ["latest"], dry=True)
    out = case.tool_json("publish", "--dry-run", "--json", *bundles)
    check_equal([(j["name"], j["version"], j["new"]) for j in out],
                [("train-job", "v0", False), ("eval-job", "v0", False)],
                "(name, version, new) of a dry run --json of published jobs")
    u.check_store_unchanged(before, store, "a dry run of unchanged jobs")
    # Changed content: a dry run says new, writes nothing; the real publish makes v1.
    p.edit_and_commit("train/main.cpp", u.MAIN_CPP % 7)
    p.build("job-bundle")
    proc = case.tool("publish", "--dry-run", *bundles)
    lines = u.publish_lines(proc.stdout)
    check(lines["train-job"].group("state").startswith("new"),
          "dry run of a changed job: %s" % lines["train-job"].group(0))
    check(lines["train-job"].group("version") in ("v1", None),
          "dry run of a changed job: %s" % lines["train-job"].group(0))
    check("v?" not in proc.stdout, "a dry run printed 'v?':\n" + proc.stdout)
    u.check_job_line(lines, "eval-job", "v0", "unchanged", ["latest"], dry=True)
    u.check_store_unchanged(before, store, "a dry run of a changed job")
    # The same through the build: WANDB_JOB_PUBLISH_ARGS=--dry-run.
    p.configure("-DTRAIN_ALIASES=stable", "-DWANDB_JOB_PUBLISH_ARGS=--dry-run")
    proc = p.build("job-publish")
    check(u.publish_lines(proc.stdout)["train-job"].group("dry"),
          "job-publish with --dry-run did not say 'would publish':\n" + proc.stdout)
    u.check_store_unchanged(before, store, "job-publish with WANDB_JOB_PUBLISH_ARGS=--dry-run")
    p.configure("-DTRAIN_ALIASES=stable", "-DWANDB_JOB_PUBLISH_ARGS=")
    lines = u.publish_lines(p.build("job-publish").stdout)
    u.check_job_line(lines, "train-job", "v1", "new", ["latest", "stable"])
    check_equal(sorted(store.job("train-job").versions()), [0, 1], "train-job versions")


def disabled(ctx):
    case = u.Case(ctx, "disabled")
    env = case.env_with(WANDB_MODE="disabled")
    p = u.two_job_project(case)
    proc = p.build("job-publish", env=env)
    check(not u.publish_lines(proc.stdout), "WANDB_MODE=disabled printed published jobs:\n"
          + proc.stdout)
    check(not case.store.exists(), "WANDB_MODE=disabled created the store")
    bundles = [p.bundle("train"), p.bundle("eval")]
    out = json.loads(case.tool("publish", "--json", *bundles, env=env).stdout)
    check_equal(out, [], "publish --json with WANDB_MODE=disabled")
    check(not case.store.exists(), "WANDB_MODE=disabled created the store")
    # With a key too, and over an existing store: still nothing.
    case.tool("publish", *bundles)
    before = case.store.snapshot()
    p.edit_and_commit("eval/main.cpp", u.MAIN_CPP % 9)
    env = case.env_with(WANDB_MODE="disabled", WANDB_API_KEY="0123456789abcdef" * 2 + "01234567")
    proc = p.build("job-publish", env=env)
    check(not u.publish_lines(proc.stdout), "WANDB_MODE=disabled printed published jobs:\n"
          + proc.stdout)
    u.check_store_unchanged(before, case.store, "job-publish with WANDB_MODE=disabled")


def release_without_cxx_standard(ctx):
    """A plain project: CMAKE_BUILD_TYPE=Release, no CXX_STANDARD on the target."""
    case = u.Case(ctx, "release-no-std")
    p = u.two_job_project(case, cxx_standard=False)
    proc = p.build("job-publish", check=False)
    errors = sorted(set(l for l in (proc.stdout + proc.stderr).splitlines()
                        if l.startswith("wandb-job: error:")))
    check(proc.returncode == 0, "job-publish of a Release build without CXX_STANDARD failed "
          "(the capture step gets --cxx-standard= with an empty value): %s" % "; ".join(errors))
    u.check_job_line(u.publish_lines(proc.stdout), "train-job", "v0", "new",
                     ["latest", "stable"])


def no_build_type(ctx):
    """No CMAKE_BUILD_TYPE, CXX_STANDARD 17: the job records an empty build type and C++17."""
    case = u.Case(ctx, "no-build-type")
    p = u.two_job_project(case, build_type=None)
    p.build("job-publish")
    b = h.Bundle(p.bundle("train"))
    toolchain = b.lock().get("toolchain", {})
    check_equal((toolchain.get("build_type"), toolchain.get("cxx_standard")), ("", "17"),
                "toolchain (build_type, cxx_standard) of a build without CMAKE_BUILD_TYPE")
    dockerfile = b.read("code", "Dockerfile.wandb").decode()
    bad = [l.strip() for l in dockerfile.splitlines() if "--cxx-standard" in l]
    check(not bad, "Dockerfile.wandb holds a command-line option: %s" % bad)


CASES = [
    ("job-publish into WANDB_JOB_STORE", job_publish_to_store),
    ("default store under XDG_DATA_HOME", default_store_xdg),
    ("default store under HOME", default_store_home),
    ("no key and no WANDB_MODE: local store", no_key_no_mode),
    ("publish --json", publish_json),
    ("--dry-run writes nothing", dry_run),
    ("WANDB_MODE=disabled publishes nothing", disabled),
    ("Release build without CXX_STANDARD", release_without_cxx_standard),
    ("build without CMAKE_BUILD_TYPE", no_build_type),
]

if __name__ == "__main__":
    u.main("publish-basic", CASES)
