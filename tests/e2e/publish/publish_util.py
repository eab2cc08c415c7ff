"""Helpers of the publishing end-to-end tests (the local job store, job-publish, ls, show): one
HOME and store per case, projects with several jobs, running the helper, reading the store as
docs/store.md lays it out. Python 3 standard library only; builds on ../harness.py.
"""

import base64
import fcntl
import json
import os
import random
import re
import shutil
import socket
import stat
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness as h  # noqa: E402

check = h.check
check_equal = h.check_equal
Failure = h.Failure

# One line of `wandb-job publish` (and so of the job-publish target) per job; a dry run that
# cannot tell a new version's number says "new version" (no version group).
PUBLISH_LINE = re.compile(
    r"^(?P<dry>would publish )?(?P<entity>[^/\s]+)/(?P<project>[^/\s]+)/(?P<name>[^:\s]+):"
    r"(?:(?P<version>v\d+) | )"
    r"(?P<state>new|unchanged|new version|new version \(code artifact first\)), "
    r"aliases: (?P<aliases>.*)$")

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")

CMAKE_HEADER = ("cmake_minimum_required(VERSION 3.25)\n"
                "project(demo LANGUAGES CXX)\n"
                "%s"
                "include(WandbJob)\n")

MAIN_CPP = "int main() { return %d; }\n"


def b64_to_hex(digest):
    return base64.b64decode(digest).hex()


def one_line(text):
    return text.replace("\n", "\\n")


def deterministic_bytes(size, seed):
    """`size` pseudo-random bytes, the same for the same seed (incompressible test data)."""
    return random.Random(seed).randbytes(size)


def closed_port():
    """A local TCP port nothing listens on (just released by the kernel)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Case:
    """A case's own world: its HOME and WANDB_JOB_STORE below the script's temporary root."""

    def __init__(self, ctx, name):
        self.ctx = ctx
        self.dir = ctx.fresh_dir(name)
        self.home = os.path.join(self.dir, "home")
        os.makedirs(self.home)
        gitconfig = os.path.join(ctx.env.get("HOME", ""), ".gitconfig")
        if os.path.isfile(gitconfig):
            shutil.copy(gitconfig, os.path.join(self.home, ".gitconfig"))
        # The script's clean environment (harness.Context) with this case's HOME and store.
        self.env = dict(ctx.env)
        self.env["HOME"] = self.home
        self.env.pop("NETRC", None)
        # Should anything try W&B, it meets a closed local port rather than the internet.
        self.dead_url = "http://127.0.0.1:%d" % closed_port()
        self.env["WANDB_BASE_URL"] = self.dead_url
        self.store_root = os.path.join(self.dir, "store")
        self.env["WANDB_JOB_STORE"] = self.store_root
        self.env["WANDB_MODE"] = "offline"
        self.store = Store(self.store_root)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def env_with(self, **changes):
        """The case's environment with variables set (value None: removed)."""
        env = dict(self.env)
        for k, v in changes.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def tool(self, *args, env=None, check=True, timeout=300):
        cmd = [self.ctx.tool] + list(args)
        proc = subprocess.run(cmd, env=self.env if env is None else env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise h.CommandError(cmd, proc)
        return proc

    def tool_json(self, *args, env=None):
        proc = self.tool(*args, env=env)
        try:
            return json.loads(proc.stdout)
        except ValueError as e:
            raise Failure("wandb-job %s printed no JSON (%s):\n%s" % (" ".join(args), e,
                                                                       proc.stdout))

    def verify_clean(self, env=None, what=""):
        proc = self.tool("store", "verify", env=env, check=False)
        check(proc.returncode == 0, "store verify found problems%s (exit %d):\n%s%s"
              % (what, proc.returncode, proc.stdout, proc.stderr))
        return proc

    def project(self, name, cmake_body, files, cxx_standard=True, build_type="Release"):
        return Project(self, name, cmake_body, files, cxx_standard, build_type)


class Project:
    """A CMake project in a fresh git repository, configured with the module and the helper of
    the build tree under test (-DWANDB_JOB_TOOL, include(WandbJob))."""

    def __init__(self, case, name, cmake_body, files, cxx_standard, build_type):
        self.case = case
        self.ctx = case.ctx
        self.cxx_standard = cxx_standard
        self.build_type = build_type
        all_files = dict(files)
        all_files["CMakeLists.txt"] = self.cmake_text(cmake_body)
        self.repo = self.ctx.new_repo(name, all_files)
        self.src = self.repo.path
        self.build_dir = os.path.join(os.path.dirname(self.src), "build")
        self.cache_args = []

    def cmake_text(self, body):
        std = "set(CMAKE_CXX_STANDARD 17)\n" if self.cxx_standard else ""
        return CMAKE_HEADER % std + body

    def configure(self, *cache_args):
        """Configures (again); cache_args such as -DTRAIN_ALIASES=stable stay for later runs."""
        self.cache_args = list(cache_args)
        args = list(cache_args)
        if self.build_type is not None:
            args.append("-DCMAKE_BUILD_TYPE=%s" % self.build_type)
        self.ctx.configure(self.src, self.build_dir, args=args, env=self.case.env)

    def build(self, target, env=None, jobs=2, check=True):
        return self.ctx.build(self.build_dir, target, env=self.case.env if env is None else env,
                              jobs=jobs, check=check)

    def bundle(self, target):
        return h.bundle_dir(self.build_dir, target)

    def edit_and_commit(self, rel, content, message="change"):
        self.repo.write(rel, content)
        return self.repo.commit(message)


def publish_lines(text):
    """{name: match} of the per-job lines in `text` (a publish's or a build's stdout); fails on
    a job printed twice."""
    out = {}
    for line in text.splitlines():
        m = PUBLISH_LINE.match(line.strip())
        if m:
            check(m.group("name") not in out, "job %s printed twice:\n%s" % (m.group("name"),
                                                                           text))
            out[m.group("name")] = m
    return out


def aliases_of(match):
    return [a.strip() for a in match.group("aliases").split(",") if a.strip()]


class Collection:
    def __init__(self, path, entity, project, type_, name):
        self.path = path
        self.entity, self.project, self.type, self.name = entity, project, type_, name

    def version_files(self):
        d = os.path.join(self.path, "versions")
        if not os.path.isdir(d):
            return []
        return sorted(f for f in os.listdir(d) if not f.startswith(".tmp."))

    def versions(self):
        """{index: parsed vN.json}."""
        out = {}
        for f in self.version_files():
            m = re.match(r"^v(\d+)\.json$", f)
            check(m is not None, "unexpected file %s in %s/versions" % (f, self.path))
            out[int(m.group(1))] = json.loads(h.read_text(os.path.join(self.path, "versions", f)))
        return out

    def version_bytes(self, index):
        return h.read_bytes(os.path.join(self.path, "versions", "v%d.json" % index))

    def aliases(self):
        p = os.path.join(self.path, "aliases.json")
        return json.loads(h.read_text(p)) if os.path.exists(p) else {}

    def meta(self):
        return json.loads(h.read_text(os.path.join(self.path, "collection.json")))


class Store:
    """The local job store at `root`, read directly from its files."""

    def __init__(self, root):
        self.root = root

    def exists(self):
        return os.path.exists(self.root)

    def blob_dir(self):
        return os.path.join(self.root, "blobs", "md5")

    def blob_files(self):
        """Every file under blobs/ (temporary ones included), relative to blobs/."""
        d = os.path.join(self.root, "blobs")
        return h.list_files(d) if os.path.isdir(d) else []

    def blobs(self):
        """Hex names of the stored blobs (temporary files left out)."""
        d = self.blob_dir()
        if not os.path.isdir(d):
            return []
        return sorted(f for f in os.listdir(d) if not f.startswith(".tmp."))

    def blob_path(self, hexdigest):
        return os.path.join(self.blob_dir(), hexdigest)

    def collections(self, type_=None):
        """{(entity, project, type, name): Collection} of every collection directory."""
        out = {}
        ents = os.path.join(self.root, "entities")
        if not os.path.isdir(ents):
            return out
        for e in sorted(os.listdir(ents)):
            projs = os.path.join(ents, e, "projects")
            for p in sorted(os.listdir(projs)) if os.path.isdir(projs) else []:
                colls = os.path.join(projs, p, "collections")
                for t in sorted(os.listdir(colls)) if os.path.isdir(colls) else []:
                    if type_ is not None and t != type_:
                        continue
                    for n in sorted(os.listdir(os.path.join(colls, t))):
                        if n.startswith(".tmp."):
                            continue
                        out[(e, p, t, n)] = Collection(os.path.join(colls, t, n), e, p, t, n)
        return out

    def collection(self, entity, project, type_, name):
        key = (entity, project, type_, name)
        colls = self.collections()
        check(key in colls, "no collection %s in the store; it has %s"
              % ("/".join(key), sorted("/".join(k) for k in colls)))
        return colls[key]

    def job(self, name, entity="local", project="mnist"):
        return self.collection(entity, project, "job", name)

    def referenced_blobs(self):
        """Hex digests named by any manifest entry of any version."""
        out = set()
        for c in self.collections().values():
            for v in c.versions().values():
                for e in v["manifest"]["contents"].values():
                    out.add(b64_to_hex(e["digest"]))
        return out

    def tmp_files(self):
        if not self.exists():
            return []
        return [f for f in h.list_files(self.root) if os.path.basename(f).startswith(".tmp.")]

    def snapshot(self):
        """Every entry below the root (directories too) with type, mode, size, mtime and bytes:
        equal snapshots mean nothing was written. None when the root does not exist."""
        if not os.path.lexists(self.root):
            return None
        out = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in dirnames + filenames:
                full = os.path.join(dirpath, name)
                st = os.lstat(full)
                rel = os.path.relpath(full, self.root)
                data = h.read_bytes(full) if stat.S_ISREG(st.st_mode) else None
                out[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_size,
                            st.st_mtime_ns, data)
        st = os.lstat(self.root)
        out["."] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), None, st.st_mtime_ns,
                    None)
        return out

    def metadata_snapshot(self):
        """{relpath: bytes} of every file but the blobs: what versions, aliases and collections
        there are."""
        if not self.exists():
            return {}
        return {rel: h.read_bytes(os.path.join(self.root, rel))
                for rel in h.list_files(self.root) if not rel.startswith("blobs/")}


def diff_snapshots(before, after):
    """A short description of how two Store.snapshot() values differ ("" when equal)."""
    if before == after:
        return ""
    if before is None or after is None:
        return "store %s" % ("created" if before is None else "removed")
    lines = []
    for rel in sorted(set(before) | set(after)):
        if rel not in before:
            lines.append("added %s" % rel)
        elif rel not in after:
            lines.append("removed %s" % rel)
        elif before[rel] != after[rel]:
            b, a = before[rel], after[rel]
            what = [n for n, x, y in zip(("type", "mode", "size", "mtime", "bytes"), b, a)
                    if x != y]
            lines.append("changed %s (%s)" % (rel, ", ".join(what)))
    return "; ".join(lines[:20]) + ("; ..." if len(lines) > 20 else "")


def check_store_unchanged(before, store, what):
    d = diff_snapshots(before, store.snapshot())
    check(not d, "%s changed the store: %s" % (what, d))


# --- W&B types, flattened as `show` renders them (docs/store.md) -----------------------------

def render_type(t):
    w = t["wb_type"]
    if w == "list":
        return "list<%s>" % render_type(t["params"]["element_type"])
    if w == "union":
        return "union<%s>" % ", ".join(render_type(a) for a in t["params"]["allowed_types"])
    if w == "typedDict":
        m = t["params"]["type_map"]
        if not m:
            return "dict"
        return "{%s}" % ", ".join("%s: %s" % (k, render_type(v)) for k, v in m.items())
    return w


def flatten_types(t, prefix=""):
    if t["wb_type"] == "typedDict":
        m = t["params"]["type_map"]
        if not m:
            return {prefix: "dict"} if prefix else {}
        out = {}
        for k, v in m.items():
            out.update(flatten_types(v, prefix + "." + k if prefix else k))
        return out
    return {prefix: render_type(t)}


def expected_input_types(config):
    """The flattened input types of a job whose config is `config` (a dict)."""
    return flatten_types(h.wb_type(config))


# --- processes started at the same moment ----------------------------------------------------

_GATE = ("import fcntl, os, sys\n"
         "f = open(sys.argv[1])\n"
         "fcntl.flock(f, fcntl.LOCK_SH)\n"
         "f.close()\n"
         "os.execv(sys.argv[2], sys.argv[2:])\n")


def run_together(cmds, env, gate_path, timeout=300):
    """Starts every command of `cmds`, holds them at a gate until all exist, releases them at
    once and waits. Returns [(returncode, stdout, stderr)] in the order of `cmds`."""
    h.write_file(gate_path, "")
    gate = open(gate_path)
    fcntl.flock(gate, fcntl.LOCK_EX)
    procs = []
    try:
        for cmd in cmds:
            procs.append(subprocess.Popen([sys.executable, "-c", _GATE, gate_path] + cmd,
                                          env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, universal_newlines=True))
        time.sleep(0.5)  # let each reach the gate
    finally:
        fcntl.flock(gate, fcntl.LOCK_UN)
        gate.close()
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=timeout)
        out.append((p.returncode, stdout, stderr))
    return out


def copy_tree(src, dst):
    shutil.copytree(src, dst, symlinks=True)
    return dst


def main(name, cases):
    h.main(name, cases, setup=lambda ctx: ctx.require_tool())


# --- the two-job project most cases use ------------------------------------------------------

TWO_JOBS_CMAKE = """set(TRAIN_ALIASES "" CACHE STRING "extra aliases of train-job")
set(train_aliases "")
if(TRAIN_ALIASES)
  set(train_aliases ALIASES ${TRAIN_ALIASES})
endif()
add_executable(train train/main.cpp)
wandb_add_job(train NAME train-job PROJECT mnist SOURCE artifact CODE_DIR train ${train_aliases}
  DESCRIPTION "trains the model" CONFIG lr=0.01 epochs=10 ARGS --lr {lr} --epochs {epochs})
add_executable(eval eval/main.cpp)
wandb_add_job(eval NAME eval-job PROJECT mnist SOURCE artifact CODE_DIR eval CONFIG k=5)
"""

SHARED_DATA = deterministic_bytes(64 * 1024, 1)


def two_job_files():
    """train/ and eval/ each hold a main.cpp of their own and the same shared.dat."""
    return {
        "train/main.cpp": MAIN_CPP % 0,
        "train/shared.dat": SHARED_DATA,
        "eval/main.cpp": MAIN_CPP % 1,
        "eval/shared.dat": SHARED_DATA,
        "README.md": "# demo\n",
    }


def two_job_project(case, name="two-jobs", train_aliases="stable", **kwargs):
    """Two artifact jobs in project mnist: train-job (code dir train/, extra aliases from the
    TRAIN_ALIASES cache variable) and eval-job (code dir eval/). Configured, not built."""
    p = case.project(name, TWO_JOBS_CMAKE, two_job_files(), **kwargs)
    p.configure("-DTRAIN_ALIASES=%s" % train_aliases)
    return p


def check_job_line(lines, name, version, state, aliases, entity="local", project="mnist",
                   dry=False):
    check(name in lines, "no line for job %s in the output (lines for %s)" % (name, sorted(lines)))
    m = lines[name]
    check_equal((m.group("entity"), m.group("project")), (entity, project),
                "entity/project of %s" % name)
    check_equal(m.group("version"), version, "version printed for %s" % name)
    check_equal(m.group("state"), state, "state printed for %s" % name)
    if aliases is not None:
        got = aliases_of(m)
        check_equal(sorted(got), sorted(aliases), "aliases printed for %s" % name)
        check(not got or got[0] == "latest" or "latest" not in got,
              "latest is not the first alias printed for %s: %s" % (name, got))
    check_equal(bool(m.group("dry")), dry, "'would publish' prefix for %s" % name)
