"""End to end: a small CMake project (include(<src>/cmake/WandbJob.cmake), -DWANDB_JOB_TOOL=<the
built helper>) published to the fake W&B server of tests/fake_wandb over real HTTP.

    python3 test_wandb_publish.py <wandb-job tool> <wandb-job source dir> <wandb-job build dir>

Cases: first publish through the CMake target; a second publish uploads nothing; a third sends
no request at all (its publish receipt) unless --force; one changed
source uploads only that file (and the job's wandb-job.json); retried faults; interrupted
publishes that converge; two concurrent publishers of one bundle; key errors; netrc; WANDB_MODE;
ls/show against W&B; the key in no output or build file; identical files uploaded once, and
--progress=plain lines. Exits 125 (skip) when cmake, git, a generator or graphql-core is missing.
WANDB_GRAPHQL_SCHEMA, when set, makes the fake validate every document against that schema.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

SKIP = 125
KEY = "e2eKey" + "0123456789abcdefghij" * 2 + "XYZ"  # 49 characters, a plausible W&B key
ENTITY = "e2e-team"
PROJECT = "wandb-e2e"
JOB = "job-e2e-train"
CODE = "source-wandbe2e-train"


class Failure(AssertionError):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


class World:
    def __init__(self, tool, source_dir):
        self.tool = tool
        self.source_dir = source_dir
        self.root = os.path.realpath(tempfile.mkdtemp(prefix="wandb-e2e-publish-"))
        self.home = os.path.join(self.root, "home")
        os.makedirs(self.home)
        self.src = os.path.join(self.root, "src")
        self.build = os.path.join(self.root, "build")
        self.outputs = []  # every stdout/stderr, for the key leak check
        # CI variables too: a CI running the suite must not make every publish a W&B one.
        self.env = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith(
            ("WANDB_", "GIT_", "NETRC", "CMAKE_", "XDG_", "CI_", "GITHUB_", "GITLAB_"))}
        self.env.update({"HOME": self.home, "LC_ALL": "C", "TZ": "UTC",
                         "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "E2E",
                         "GIT_AUTHOR_EMAIL": "e2e@example.invalid", "GIT_COMMITTER_NAME": "E2E",
                         "GIT_COMMITTER_EMAIL": "e2e@example.invalid",
                         "GIT_CEILING_DIRECTORIES": self.root,
                         "WANDB_JOB_STORE": os.path.join(self.home, "store"),
                         "WANDB_JOB_RETRY_BASE_MS": "20"})
        self.fake = None

    def run(self, cmd, cwd=None, extra_env=None, check_rc=True, timeout=600):
        env = dict(self.env)
        env.update(extra_env or {})
        env = {k: v for k, v in env.items() if v is not None}
        p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=timeout)
        self.outputs.append(p.stdout + p.stderr)
        if check_rc and p.returncode != 0:
            raise Failure("command failed (%d): %s\n--- stdout\n%s\n--- stderr\n%s"
                          % (p.returncode, " ".join(cmd), p.stdout, p.stderr))
        return p

    def wandb_env(self, key=KEY):
        return {"WANDB_BASE_URL": self.fake.url + "/", "WANDB_API_KEY": key,
                "WANDB_ENTITY": ENTITY, "WANDB_PROJECT": PROJECT}

    def write(self, rel, text):
        path = os.path.join(self.src, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def git(self, *args):
        return self.run(["git"] + list(args), cwd=self.src).stdout.strip()

    def commit(self, message):
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)

    def bundle(self):
        return os.path.join(self.build, "wandb-jobs", "train", "bundle")

    def capture(self):
        self.run(["cmake", "--build", self.build, "--target", "train-wandb-job"])

    def publish(self, extra_env=None, check_rc=True, args=()):
        env = self.wandb_env()
        env.update(extra_env or {})
        return self.run([self.tool, "publish"] + list(args) + [self.bundle()], extra_env=env,
                        check_rc=check_rc)

    def counts(self):
        return (len(self.fake.versions(JOB, entity=ENTITY)),
                len(self.fake.versions(CODE, entity=ENTITY)))


def setup_project(w):
    os.makedirs(w.src)
    w.write("CMakeLists.txt",
            "cmake_minimum_required(VERSION 3.25)\n"
            "project(wandbe2e LANGUAGES CXX)\n"
            "include(%s/cmake/WandbJob.cmake)\n"
            "add_executable(train train.cpp)\n"
            "wandb_add_job(train NAME %s SOURCE artifact ALIASES nightly\n"
            "  CONFIG lr=0.01 epochs=3 ARGS --lr {lr} --epochs {epochs})\n"
            % (w.source_dir.replace("\\", "/"), JOB))
    w.write("train.cpp", "#include <cstdio>\nint main(int argc, char** argv) {\n"
                         "  for (int i = 1; i < argc; ++i) std::printf(\"%s\\n\", argv[i]);\n"
                         "  return 0;\n}\n")
    for i in range(12):
        w.write("data/part%02d.txt" % i, ("row %d\n" % i) * (200 + 50 * i))
    w.write("README.md", "# e2e\n")
    w.git("init", "-q", "-b", "main")
    w.commit("initial")
    gen = "Ninja" if shutil.which("ninja") else "Unix Makefiles"
    w.run(["cmake", "-S", w.src, "-B", w.build, "-G", gen, "-DWANDB_JOB_TOOL=%s" % w.tool])


def put_names(fake, kind="file"):
    return sorted(p["name"] for p in fake.puts if p["kind"] == kind)


# --- cases -------------------------------------------------------------------------------------

def case_first_publish(w):
    """Through the CMake publish target, like a user would."""
    w.run(["cmake", "--build", w.build, "--target", "train-wandb-publish"],
          extra_env=w.wandb_env())
    check(w.counts() == (1, 1), "one job and one code version expected, got %s" % (w.counts(),))
    job = w.fake.versions(JOB)[0]
    check(sorted(job["aliases"]) == ["latest", "nightly"], "job aliases %s" % job["aliases"])
    check(job["type"] == "job" and w.fake.versions(CODE)[0]["type"] == "code", "types")
    schemas = json.loads(job["metadata"])["input_schemas"]
    check(schemas == {"@wandb.config": {"type": "object", "properties": {
        "lr": {"type": "number", "default": 0.01},
        "epochs": {"type": "integer", "default": 3}}}},
          "the job's input_schemas metadata: %s" % schemas)
    job_json = json.loads(w.fake.blobs[job["manifestContents"]["wandb-job.json"]["digest"]])
    code_id = w.fake.versions(CODE)[0]["id"]
    check(job_json["source"]["artifact"] == "wandb-artifact://_id/" + code_id,
          "wandb-job.json names the code artifact by ID: %s" % job_json["source"])
    code_files = len(w.fake.versions(CODE)[0]["manifestContents"])
    check(len(put_names(w.fake)) == code_files + len(job["manifestContents"]),
          "every file uploaded once: %s" % put_names(w.fake))
    check(put_names(w.fake, "manifest") == ["wandb_manifest.json"] * 2, "two manifests")
    check(w.fake.storage_auth_rejected == 0, "no Authorization header on storage URLs")
    runs = list(w.fake.runs.values())
    check(len(runs) == 1 and runs[0]["jobType"] == "cli_create_job", "one hidden run: %s" % runs)
    check(runs[0]["deleted"], "the hidden run is deleted after publishing")
    check([s[3] for s in w.fake.file_streams] == [{"complete": True, "exitcode": 0}],
          "file_stream complete: %s" % w.fake.file_streams)
    ops = w.fake.operations
    check(ops.index("UpsertBucket") < ops.index("CreateArtifact") and ops[-1] == "DeleteRun",
          "operation order: %s" % ops)


def case_unchanged(w):
    w.fake.reset_stats()
    p = w.publish()
    check(w.counts() == (1, 1), "no new version: %s" % (w.counts(),))
    check(w.fake.puts == [], "nothing uploaded: %s" % w.fake.puts)
    check("unchanged" in p.stdout, "reported unchanged: %s" % p.stdout)
    check("CreateArtifactFiles" not in w.fake.operations, "no createArtifactFiles")


def case_receipt(w):
    """An unchanged job published here before sends nothing at all (its publish receipt);
    --force asks the server again."""
    w.fake.reset_stats()
    p = w.publish()
    check(w.fake.operations == [], "a receipted publish sent requests: %s" % w.fake.operations)
    check("unchanged since their receipted publish" in p.stderr, "receipt line: %s" % p.stderr)
    check("unchanged" in p.stdout, "reported unchanged: %s" % p.stdout)
    p = w.publish(args=("--force",))
    check("CreateArtifact" in w.fake.operations, "--force asked the server: %s"
          % w.fake.operations)
    check(w.counts() == (1, 1) and "unchanged" in p.stdout, "--force: still no new version")


def case_one_change(w):
    w.write("data/part03.txt", "changed\n")
    w.commit("change one file")
    w.capture()
    w.fake.reset_stats()
    w.publish()
    check(w.counts() == (2, 2), "one new version each: %s" % (w.counts(),))
    check(put_names(w.fake) == ["data/part03.txt", "wandb-job.json"],
          "only the changed file and the job's wandb-job.json: %s" % put_names(w.fake))
    latest = w.fake.versions(JOB)[-1]
    check("latest" in latest["aliases"] and "nightly" in latest["aliases"], "aliases moved")
    check(w.fake.versions(JOB)[0]["aliases"] == [], "old version lost its aliases")


def case_faults(w):
    w.write("data/part04.txt", "changed for faults\n")
    w.commit("faults")
    w.capture()
    w.fake.reset_stats()
    f = w.fake
    f.add_fault("graphql:CreateArtifactFiles", "status", status=503, times=2)
    f.add_fault("graphql:UpsertBucket", "status", status=409, times=1)
    f.add_fault("put:file", "status", status=429, retry_after=1, times=1)
    f.add_fault("put:file", "reset", times=1)
    f.add_fault("put:manifest", "status", status=500, times=1)
    f.add_fault("graphql:CommitArtifact", "slow", delay=1.5, times=1)
    f.add_fault("file_stream", "status", status=502, times=1)
    before = w.counts()
    started = time.time()
    p = w.publish()
    f.clear_faults()
    check(w.counts() == (before[0] + 1, before[1] + 1), "one new version each after faults")
    check(time.time() - started >= 1.0, "Retry-After: 1 was obeyed")
    check("retrying" in p.stderr, "retries are reported: %s" % p.stderr)
    check(not w.fake.pending(JOB) and not w.fake.pending(CODE), "nothing left pending")


def interrupt_and_resume(w, label, fault_where, fault_kw):
    w.write("data/part05.txt", "interrupt %s\n" % label)
    w.commit("interrupt " + label)
    w.capture()
    before = w.counts()
    w.fake.add_fault(fault_where, **fault_kw)
    p = w.publish(check_rc=False, extra_env={"WANDB_JOB_RETRY_MAX": "1"})
    w.fake.clear_faults()
    check(p.returncode == 1, "%s: the interrupted publish fails (rc %d)\n%s"
          % (label, p.returncode, p.stderr))
    w.publish()
    after = w.counts()
    check(after[0] == before[0] + 1 and after[1] == before[1] + 1,
          "%s: exactly one new version each: %s -> %s" % (label, before, after))
    check(not w.fake.pending(JOB) and not w.fake.pending(CODE), "%s: nothing pending" % label)


def case_interrupted(w):
    points = [
        ("manifest", "graphql:CreateArtifactManifest", {"kind": "status", "status": 400}),
        ("files", "graphql:CreateArtifactFiles", {"kind": "status", "status": 422}),
        ("put", "put:file", {"kind": "status", "status": 403}),
        ("manifest-put", "put:manifest", {"kind": "status", "status": 404}),
        ("commit", "graphql:CommitArtifact", {"kind": "status", "status": 400}),
        # The job's commit only: the code version is already committed when it fails.
        ("job-commit", "graphql:CommitArtifact", {"kind": "status", "status": 400, "after": 1}),
        ("resets", "put:file", {"kind": "reset", "times": 5}),
    ]
    for label, where, kw in points:
        interrupt_and_resume(w, label, where, kw)


def case_killed(w):
    """SIGKILL while uploading, then a clean re-run: one new version, no duplicate."""
    w.write("data/part06.txt", "killed\n")
    w.commit("killed")
    w.capture()
    before = w.counts()
    w.fake.add_fault("put:file", "slow", delay=3, times=100)
    env = dict(w.env)
    env.update(w.wandb_env())
    proc = subprocess.Popen([w.tool, "publish", w.bundle()], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)
    deadline = time.time() + 30
    while "CreateArtifactFiles" not in w.fake.operations[-3:] and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate()
    w.outputs.append(out + err)
    w.fake.clear_faults()
    # The killed client's uploads still sleep in the fake; they belong to this case, not to the
    # next one that counts requests.
    check(w.fake.wait_idle(), "the fake finished the killed client's requests")
    w.publish()
    after = w.counts()
    check(after == (before[0] + 1, before[1] + 1), "killed: one new version each: %s -> %s"
          % (before, after))


def case_bad_key(w):
    bad = "wrongKey" + "9" * 40
    p = w.publish(check_rc=False, extra_env={"WANDB_API_KEY": bad})
    line = "W&B rejected the API key (HTTP 401); check WANDB_API_KEY or ~/.netrc"
    check(p.returncode == 1 and line in p.stderr, "401 message: %s" % p.stderr)
    check(bad not in p.stdout + p.stderr, "the rejected key is not printed")
    p = w.publish(check_rc=False, extra_env={"WANDB_API_KEY": "short"})
    check(p.returncode == 1 and "at least 40" in p.stderr and "short" not in p.stderr,
          "malformed key: %s" % p.stderr)


def case_graphql_error(w):
    w.fake.add_fault("graphql:CreateArtifact", "status", status=200,
                     body={"data": None, "errors": [{"message": "quota exceeded for e2e"}]})
    p = w.publish(check_rc=False, args=("--force",))  # Past the receipt, to the server.
    w.fake.clear_faults()
    check(p.returncode == 1 and "CreateArtifact: quota exceeded for e2e" in p.stderr,
          "GraphQL error names operation and message: %s" % p.stderr)
    check("retrying" not in p.stderr, "GraphQL errors are not retried")


def case_netrc(w):
    host = w.fake.url.split("://", 1)[1]
    netrc = os.path.join(w.home, ".netrc")
    with open(netrc, "w") as f:
        f.write("machine api.wandb.ai login user password %s\nmachine %s\n  login user\n"
                "  password %s\n" % ("x" * 40, host, KEY))
    os.chmod(netrc, 0o600)
    try:
        w.fake.reset_stats()
        p = w.publish(extra_env={"WANDB_API_KEY": None}, args=("--force",))
        check("unchanged" in p.stdout, "netrc key works: %s" % p.stdout)
        check("CreateArtifact" in w.fake.operations, "the netrc key reached the server")
    finally:
        os.remove(netrc)


def case_modes(w):
    w.fake.reset_stats()
    p = w.publish(extra_env={"WANDB_MODE": "disabled"})
    check(w.fake.operations == [] and "nothing published" in p.stderr, "disabled: nothing")
    w.publish(extra_env={"WANDB_MODE": "offline"})
    check(w.fake.operations == [], "offline: nothing sent to W&B")
    check(os.path.isdir(os.path.join(w.home, "store")), "offline: the local store is written")
    p = w.publish(extra_env={"WANDB_API_KEY": None})  # no key: local store
    check(w.fake.operations == [], "no key: nothing sent to W&B")


def case_dry_run(w):
    """A dry run reads and sends nothing that writes: no PUT, no mutation, no file_stream,
    neither for an unchanged job nor for a changed one (whose code would be uploaded)."""
    check(w.fake.wait_idle(), "the fake is idle before the dry run")
    w.fake.reset_stats()
    p = w.publish(args=["--dry-run"])
    check("unchanged" in p.stdout, "dry run of an unchanged job: %s" % p.stdout)
    check(w.fake.writes == [] and w.fake.puts == [], "dry run writes nothing: %s" % w.fake.writes)
    check(w.fake.operations != [], "the dry run asked W&B: %s" % w.fake.operations)
    w.write("data/part07.txt", "dry run\n")
    w.commit("dry run")
    w.capture()
    before = w.counts()
    w.fake.reset_stats()
    p = w.publish(args=["--dry-run"])
    check("would publish" in p.stdout and "new" in p.stdout, "dry run of a change: %s" % p.stdout)
    check(w.fake.writes == [] and w.fake.puts == [], "dry run of a change writes nothing: %s"
          % w.fake.writes)
    check(w.counts() == before, "no version created: %s -> %s" % (before, w.counts()))


def case_concurrent(w):
    """Two publishers of the same bundle at once (two CI pipelines for one commit) leave one
    version each, with the aliases on it. The commits are slowed so both are in flight together;
    the clientID both send is derived from the content, so they fill the same PENDING version."""
    w.write("data/part08.txt", "concurrent\n")
    w.commit("concurrent")
    w.capture()
    check(w.fake.wait_idle(), "the fake is idle before the concurrent publishes")
    before = w.counts()
    w.fake.add_fault("graphql:CommitArtifact", "slow", delay=1.0, times=2)
    env = dict(w.env)
    env.update(w.wandb_env())
    procs = [subprocess.Popen([w.tool, "publish", w.bundle()], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True) for _ in range(2)]
    results = [p.communicate(timeout=600) + (p.returncode,) for p in procs]
    w.fake.clear_faults()
    for out, err, rc in results:
        w.outputs.append(out + err)
        check(rc == 0, "both publishers succeed (rc %d)\n%s" % (rc, err))
    check(w.counts() == (before[0] + 1, before[1] + 1),
          "one new version each: %s -> %s" % (before, w.counts()))
    check(not w.fake.pending(JOB) and not w.fake.pending(CODE), "nothing left pending")
    for name in (JOB, CODE):
        versions = w.fake.versions(name)
        holders = [v["versionIndex"] for v in versions if "latest" in v["aliases"]]
        check(holders == [versions[-1]["versionIndex"]], "%s: latest on the new version only: %s"
              % (name, holders))
    check("nightly" in w.fake.versions(JOB)[-1]["aliases"], "the job's alias on the new version")


def case_ls_show(w):
    env = w.wandb_env()
    p = w.run([w.tool, "ls", "--json"], extra_env=env)
    jobs = json.loads(p.stdout)
    check([j["name"] for j in jobs] == [JOB], "ls lists the job: %s" % p.stdout)
    n = len(w.fake.versions(JOB, entity=ENTITY))
    check(jobs[0]["versions"] == n and jobs[0]["entity"] == ENTITY, "ls fields: %s" % jobs[0])
    p = w.run([w.tool, "show", "%s/%s/%s:latest" % (ENTITY, PROJECT, JOB), "--json"],
              extra_env=env)
    shown = json.loads(p.stdout)
    text = json.dumps(shown)
    check(JOB in text and "wandb-job.json" in text and "lr" in text, "show: %s" % text[:400])
    p = w.run([w.tool, "show", JOB], extra_env=env)
    check("v%d" % (n - 1) in p.stdout and "v0" in p.stdout, "show text: %s" % p.stdout[:400])
    p = w.run([w.tool, "show", "nope"], extra_env=env, check_rc=False)
    check(p.returncode == 1 and "unknown job" in p.stderr, "unknown job: %s" % p.stderr)


def case_viewer_entity(w):
    """Without WANDB_ENTITY the viewer's default entity is used."""
    p = w.publish(extra_env={"WANDB_ENTITY": None})
    check("viewer-entity/%s/%s:v0 new" % (PROJECT, JOB) in p.stdout, "viewer: %s" % p.stdout)
    check(len(w.fake.versions(JOB, entity="viewer-entity")) == 1, "published to viewer-entity")
    check("Viewer" in w.fake.operations, "the viewer was asked")


def case_no_key_anywhere(w):
    for text in w.outputs:
        check(KEY not in text, "the key appears in an output:\n%s" % text[:2000])
    for base in (w.build, w.home):
        for dirpath, _, files in os.walk(base):
            for name in files:
                path = os.path.join(dirpath, name)
                try:
                    with open(path, "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                check(KEY.encode() not in data, "the key is in %s" % path)


# A progress line of --progress=plain: the same figures on every line (files, bytes, rate and
# ETA while running, the time taken at the end).
SIZE = r"\d+(\.\d+)? (B|KiB|MiB|GiB)"
PROGRESS_LINE = re.compile(
    r"^wandb-job: uploading (?P<name>[\w.-]+): (?P<done>\d+)/(?P<total>\d+) files, "
    r"%s/%s, (rate -, ETA -|%s/s, ETA \d+ s|done in \d+\.\d s)$" % (SIZE, SIZE, SIZE))


def case_duplicates_and_progress(w):
    """Files of identical content in one artifact go up once (counted in PUTs); the upload
    reports its progress in plain lines of one form, and none with --progress=none or -q."""
    same = "the same bytes in three files\n" * 50
    for rel in ("data/dup-a.txt", "data/dup-b.txt", "data/sub/dup-c.txt"):
        w.write(rel, same)
    w.commit("three identical files")
    w.capture()
    w.fake.reset_stats()
    before = w.counts()
    p = w.publish(args=["--progress=plain"])
    check(w.counts() == (before[0] + 1, before[1] + 1),
          "one new version of each: %s -> %s" % (before, w.counts()))
    code = w.fake.versions(CODE)[-1]["manifestContents"]
    digests = {code[rel]["digest"] for rel in
               ("data/dup-a.txt", "data/dup-b.txt", "data/sub/dup-c.txt")}
    check(len(digests) == 1, "the three files differ in the manifest: %s" % digests)
    dup_puts = [n for n in put_names(w.fake) if "dup-" in n]
    check(len(dup_puts) == 1, "identical content uploaded %d times: %s" % (len(dup_puts),
                                                                        dup_puts))
    check("2 duplicate(s) of another file" in p.stderr, "summary line: %s" % p.stderr)
    lines = [l for l in p.stderr.splitlines() if l.startswith("wandb-job: uploading ")]
    check(lines, "no progress lines with --progress=plain:\n" + p.stderr)
    for line in lines:
        check(PROGRESS_LINE.match(line), "progress line of an unexpected form: %r" % line)
    matches = [PROGRESS_LINE.match(l) for l in lines]
    names = {m.group("name") for m in matches}
    check(CODE in names, "no progress of the code artifact: %s" % names)
    last = [m for m in matches if m.group("name") == CODE][-1]
    check(last.group(0).endswith(" s") and "done in" in last.group(0)
          and last.group("done") == last.group("total"), "the last line: %s" % last.group(0))
    # Quiet or none: no progress at all.
    for args in (["--progress=none"], ["-q"]):
        w.write("data/part05.txt", "changed for %s\n" % args[0])
        w.commit("change for %s" % args[0])
        w.capture()
        p = w.publish(args=args)
        check("wandb-job: uploading" not in p.stderr, "progress with %s:\n%s" % (args[0],
                                                                               p.stderr))


CASES = [case_first_publish, case_unchanged, case_receipt, case_one_change, case_faults,
         case_interrupted, case_killed, case_bad_key, case_graphql_error, case_netrc, case_modes,
         case_dry_run, case_concurrent, case_ls_show, case_viewer_entity, case_no_key_anywhere,
         case_duplicates_and_progress]


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    tool, source_dir = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    for prog in ("cmake", "git"):
        if shutil.which(prog) is None:
            print("skipped: %s not found" % prog)
            return SKIP
    if not (shutil.which("ninja") or shutil.which("make")):
        print("skipped: neither ninja nor make found")
        return SKIP
    sys.path.insert(0, os.path.join(source_dir, "tests", "fake_wandb"))
    import fake_wandb
    if fake_wandb.graphql is None:
        print("skipped: graphql-core is not importable (Debian: python3-graphql-core)")
        return SKIP
    w = World(tool, source_dir)
    w.fake = fake_wandb.FakeWandb(KEY, entity="viewer-entity").start()
    only = [c for c in os.environ.get("WANDB_JOB_E2E_CASES", "").split(",") if c]
    failed = 0
    try:
        setup_project(w)
        for case in CASES:
            if only and case.__name__[5:] not in only and case.__name__ != "case_first_publish":
                continue
            try:
                case(w)
                print("ok   %s" % case.__name__[5:], flush=True)
            except Exception:  # noqa: BLE001 - report every case
                failed += 1
                print("FAIL %s\n%s" % (case.__name__[5:], traceback.format_exc()), flush=True)
    finally:
        w.fake.stop()
        if os.environ.get("WANDB_JOB_E2E_KEEP") == "1":
            print("kept %s" % w.root)
        else:
            shutil.rmtree(w.root, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
