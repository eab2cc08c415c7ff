"""`wandb-job store verify` over a store made by job-publish: clean as published (temporary files
of interrupted writes are ignored), and each kind of damage gives a non-zero exit and a line
naming the damaged file: a blob's bytes corrupted, a blob truncated, a blob missing, a blob with a
bad name, a version file with a wrong digest or unreadable, an alias naming no version."""

import json
import os
import shutil
import stat
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import publish_util as u  # noqa: E402
from publish_util import check, check_equal, h  # noqa: E402


def published_store(ctx):
    """A store with train-job and eval-job published (v0 and v1 of train-job), once per script."""
    if not hasattr(ctx, "_verify_store"):
        case = u.Case(ctx, "published")
        p = u.two_job_project(case)
        p.build("job-publish")
        p.edit_and_commit("train/main.cpp", u.MAIN_CPP % 3)
        p.build("job-publish")
        case.verify_clean()
        ctx._verify_store = case.store.root
    return ctx._verify_store


def damaged_copy(ctx, name):
    case = u.Case(ctx, name)
    shutil.rmtree(case.store_root, ignore_errors=True)
    shutil.copytree(published_store(ctx), case.store_root, symlinks=True)
    return case, case.store


def writable(path):
    os.chmod(path, os.stat(path).st_mode | stat.S_IWUSR)
    return path


def expect_damage(case, rel, what):
    """verify fails and prints a line naming `rel` (relative to the store root)."""
    proc = case.tool("store", "verify", check=False)
    out = proc.stdout + proc.stderr
    check(proc.returncode != 0, "%s: store verify exited 0:\n%s" % (what, out))
    named = [l for l in out.splitlines() if rel in l]
    check(named, "%s: no line of store verify names %s:\n%s" % (what, rel, out))
    return named


def code_blob(store):
    """The blob of train/main.cpp as v0 had it (only train's code artifact v0 names it)."""
    hexd = u.b64_to_hex(h.md5_b64((u.MAIN_CPP % 0).encode()))
    check(hexd in store.blobs(), "no blob for train's first main.cpp")
    return hexd


def clean_as_published(ctx):
    case, store = damaged_copy(ctx, "clean")
    proc = case.verify_clean()
    check(proc.stdout.strip(), "store verify printed nothing")
    # Leftovers of interrupted writes are not damage.
    h.write_file(os.path.join(store.blob_dir(), ".tmp.12345.abc"), b"partial")
    versions = os.path.join(store.job("train-job").path, "versions")
    h.write_file(os.path.join(versions, ".tmp.v2.json.999"), b"{\"index\": ")
    case.verify_clean(what=" with .tmp. files")
    jobs = case.tool_json("ls", "--json")
    check_equal(sorted((j["name"], j["versions"]) for j in jobs),
                [("eval-job", 1), ("train-job", 2)], "ls --json with .tmp. files")


def corrupted_blob(ctx):
    case, store = damaged_copy(ctx, "corrupt-blob")
    hexd = code_blob(store)
    path = writable(store.blob_path(hexd))
    data = bytearray(h.read_bytes(path))
    data[len(data) // 2] ^= 0xFF
    h.write_file(path, bytes(data))
    expect_damage(case, "blobs/md5/" + hexd, "a corrupted blob")


def truncated_blob(ctx):
    case, store = damaged_copy(ctx, "truncate-blob")
    hexd = u.b64_to_hex(h.md5_b64(u.SHARED_DATA))
    path = writable(store.blob_path(hexd))
    h.write_file(path, h.read_bytes(path)[:1000])
    expect_damage(case, "blobs/md5/" + hexd, "a truncated blob")


def missing_blob(ctx):
    case, store = damaged_copy(ctx, "missing-blob")
    hexd = code_blob(store)
    os.remove(store.blob_path(hexd))
    lines = expect_damage(case, "versions/v0.json", "a missing blob")
    check(any(hexd in l or "main.cpp" in l for l in lines),
          "no line names the missing blob %s or its file main.cpp: %s" % (hexd, lines))


def misnamed_blob(ctx):
    case, store = damaged_copy(ctx, "misnamed-blob")
    h.write_file(os.path.join(store.blob_dir(), "not-a-digest"), b"x")
    expect_damage(case, "blobs/md5/not-a-digest", "a blob with a bad name")


def version_wrong_digest(ctx):
    case, store = damaged_copy(ctx, "version-digest")
    job = store.job("train-job")
    path = writable(os.path.join(job.path, "versions", "v0.json"))
    v = json.loads(h.read_text(path))
    v["digest"] = "0" * 32
    h.write_file(path, json.dumps(v, indent=2))
    rel = os.path.relpath(path, store.root)
    expect_damage(case, rel, "a version with a wrong digest")


def version_garbage(ctx):
    case, store = damaged_copy(ctx, "version-garbage")
    job = store.job("eval-job")
    path = writable(os.path.join(job.path, "versions", "v0.json"))
    h.write_file(path, b"\x00garbage{")
    rel = os.path.relpath(path, store.root)
    expect_damage(case, rel, "an unreadable version file")


def alias_to_nothing(ctx):
    case, store = damaged_copy(ctx, "alias")
    job = store.job("eval-job")
    path = writable(os.path.join(job.path, "aliases.json"))
    h.write_file(path, json.dumps({"latest": 0, "prod": 7}))
    expect_damage(case, os.path.relpath(path, store.root), "an alias naming no version")
    # Readers ignore it.
    jobs = case.tool_json("ls", "--json")
    check_equal([j["aliases"] for j in jobs if j["name"] == "eval-job"], [["latest"]],
                "ls aliases of eval-job with a dangling alias")


CASES = [
    ("clean as published", clean_as_published),
    ("corrupted blob", corrupted_blob),
    ("truncated blob", truncated_blob),
    ("missing blob", missing_blob),
    ("blob with a bad name", misnamed_blob),
    ("version with a wrong digest", version_wrong_digest),
    ("unreadable version file", version_garbage),
    ("alias naming no version", alias_to_nothing),
]

if __name__ == "__main__":
    u.main("publish-verify", CASES)
