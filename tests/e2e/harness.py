"""Shared helpers of the end-to-end tests: temporary git repositories, CMake configure and build,
reading job bundles and re-checking their W&B manifests. Python 3 standard library only.

Every test script is run by ctest as

    python3 <script> <wandb-job tool> <wandb-job source dir> <wandb-job build dir> [extra...]

and exits 0 (pass), 1 (fail) or 125 (skipped: a prerequisite such as cmake or git is missing).
"""

import base64
import hashlib
import json
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import traceback

SKIP = 125

# A fixed identity and clock for git, so that commits (and so bundles) are reproducible.
GIT_NAME = "E2E Tester"
GIT_EMAIL = "e2e@example.invalid"
GIT_EPOCH = 1704067200  # 2024-01-01T00:00:00Z

# Environment variables that would change what the tests assert on: git's and W&B's settings, the
# clock, the generator and build type, install redirection and make's jobserver. The compiler
# (CC, CXX, flags) and where dependencies are found (CMAKE_PREFIX_PATH, PKG_CONFIG_PATH) are kept.
_DROPPED_ENV_PREFIXES = ("WANDB_", "GIT_", "SOURCE_DATE_EPOCH", "XDG_", "LD_LIBRARY_PATH",
                         "LD_PRELOAD", "CMAKE_GENERATOR", "CMAKE_BUILD_TYPE",
                         "CMAKE_CONFIGURATION_TYPES", "CMAKE_BUILD_PARALLEL_LEVEL",
                         "CMAKE_EXPORT_COMPILE_COMMANDS", "CMAKE_INSTALL_PREFIX", "CTEST_",
                         "DESTDIR", "NINJA_STATUS", "MAKEFLAGS", "MFLAGS", "MAKELEVEL",
                         # A CI running the suite must not make every publish a W&B one.
                         "CI_", "GITHUB_", "GITLAB_")
_DROPPED_ENV_NAMES = ("CI",)


class Skip(Exception):
    """A prerequisite is missing: the test is skipped (exit 125)."""


class Failure(AssertionError):
    pass


# An artifact job's entrypoint: the run shim with the job spec its code carries, then the program.
def shim_entrypoint(program):
    return ["/usr/local/bin/wandb-job", "exec", "--job-spec", "/src/.wandb-job/job.json", "--",
            "/usr/local/bin/" + program]


def check(condition, message):
    if not condition:
        raise Failure(message)


def check_equal(actual, expected, what):
    if actual != expected:
        raise Failure("%s: expected %r, got %r" % (what, expected, actual))


def make_artifact_name_safe(name):
    """wandb.util.make_artifact_name_safe."""
    safe = re.sub(r"[^a-zA-Z0-9_\-.]", "_", name)
    if len(safe) <= 128:
        return safe
    return safe[:63] + ".." + safe[-63:]


def wb_type(value):
    """W&B type JSON of a JSON value (wandb-protocol.md section 2.1, wandb-core's rules): a list's
    element type is that of its last element of each type name, several names give a union listed
    in order of first appearance; "_wandb" keys are dropped."""
    if isinstance(value, dict):
        return {"wb_type": "typedDict",
                "params": {"type_map": {k: wb_type(v) for k, v in value.items()
                                        if k != "_wandb"}}}
    if isinstance(value, bool):
        return {"wb_type": "boolean"}
    if isinstance(value, (int, float)):
        return {"wb_type": "number"}
    if isinstance(value, str):
        return {"wb_type": "string"}
    if value is None:
        return {"wb_type": "none"}
    if isinstance(value, list):
        by_name = {}
        for v in value:
            t = wb_type(v)
            by_name[t["wb_type"]] = t  # keeps the first position, takes the last value
        if not by_name:
            element = {"wb_type": "unknown"}
        elif len(by_name) == 1:
            element = next(iter(by_name.values()))
        else:
            element = {"wb_type": "union", "params": {"allowed_types": list(by_name.values())}}
        return {"wb_type": "list", "params": {"element_type": element, "length": len(value)}}
    raise TypeError(value)


def render_arg(arg, config):
    """One ARGS item with each "{key}" (dotted for nesting) replaced by the config value: strings
    as they are, anything else as compact JSON; "{{" and "}}" are literal braces."""
    def value_of(m):
        if m.group(0) in ("{{", "}}"):
            return m.group(0)[0]
        value = config
        for part in m.group(1).split("."):
            value = value[part]
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return re.sub(r"\{\{|\}\}|\{([^{}]+)\}", value_of, arg)


def md5_b64(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def artifact_digest(contents):
    """W&B's artifact digest of a manifest's contents ({path: {"digest": b64, ...}})."""
    h = hashlib.md5()
    h.update(b"wandb-artifact-manifest-v1\n")
    for path in sorted(contents):
        h.update(("%s:%s\n" % (path, contents[path]["digest"])).encode("utf-8"))
    return h.hexdigest()


def python_indent4(text):
    """What Python's json.dumps(indent=4) gives for the JSON `text` (key order kept)."""
    return json.dumps(json.loads(text), indent=4)


def list_files(root):
    """Every regular file (and symlink) below `root`, relative, "/"-separated, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            full = os.path.join(dirpath, name)
            out.append(os.path.relpath(full, root).replace(os.sep, "/"))
    return sorted(out)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def read_text(path):
    with open(path, "r", encoding="utf-8") as f:
        return f.read()


def write_file(path, content, mode=None):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    with open(path, "wb") as f:
        f.write(data)
    if mode is not None:
        os.chmod(path, mode)


class CommandError(Failure):
    def __init__(self, cmd, proc):
        self.proc = proc
        super().__init__("command failed (exit %d): %s\n--- stdout ---\n%s\n--- stderr ---\n%s" %
                         (proc.returncode, " ".join(cmd), proc.stdout, proc.stderr))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    """docker-registry on 127.0.0.1:<free port>, its storage in the test's temp dir."""

    def __init__(self, ctx, name, auth=None):
        self.port = free_port()
        self.host = "127.0.0.1:%d" % self.port
        root = ctx.fresh_dir(name)
        config = {"version": 0.1, "log": {"level": "error"},
                  "storage": {"filesystem": {"rootdirectory": os.path.join(root, "data")}},
                  "http": {"addr": self.host}}
        if auth:
            config["auth"] = auth
        path = os.path.join(root, "config.yml")
        write_file(path, json.dumps(config))  # YAML is a superset of JSON
        self.log = open(os.path.join(root, "log"), "w")
        self.proc = subprocess.Popen(["docker-registry", "serve", path], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        for _ in range(100):
            if self.proc.poll() is not None:
                raise Failure("docker-registry exited early (see %s)" % root)
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        raise Failure("docker-registry does not listen on %s" % self.host)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()


class Context:
    """One test script's world: paths given by ctest, a temporary root, a clean environment."""

    def __init__(self, name, argv=None):
        argv = sys.argv[1:] if argv is None else argv
        if len(argv) < 3:
            sys.stderr.write("usage: %s <wandb-job tool> <source dir> <build dir> [args...]\n"
                             % name)
            sys.exit(2)
        self.name = name
        self.tool = os.path.abspath(argv[0])
        self.source_dir = os.path.abspath(argv[1])
        self.build_dir = os.path.abspath(argv[2])
        self.extra_args = argv[3:]
        self.keep = os.environ.get("WANDB_JOB_E2E_KEEP") == "1"
        # realpath: /tmp may be a symlink, and the tool records resolved paths.
        self.root = os.path.realpath(tempfile.mkdtemp(prefix="wandb-e2e-%s-" % name))
        self._prefix = None
        self._counter = 0
        self.home = self.make_home("home")
        self.env = self.make_env(self.home, "e2etester")

    # --- environment ---------------------------------------------------------------------

    def make_home(self, dirname):
        home = os.path.join(self.root, dirname)
        os.makedirs(home, exist_ok=True)
        write_file(os.path.join(home, ".gitconfig"),
                   "[user]\n\tname = %s\n\temail = %s\n"
                   "[init]\n\tdefaultBranch = main\n"
                   "[advice]\n\tdetachedHead = false\n"
                   "[commit]\n\tgpgsign = false\n"
                   "[protocol \"file\"]\n\tallow = always\n" % (GIT_NAME, GIT_EMAIL))
        return home

    def make_env(self, home, user):
        env = {k: v for k, v in os.environ.items()
               if k not in _DROPPED_ENV_NAMES
               and not any(k.startswith(p) for p in _DROPPED_ENV_PREFIXES)}
        env.update({
            "HOME": home,
            "USER": user,
            "LOGNAME": user,
            "LC_ALL": "C",
            "LANG": "C",
            "TZ": "UTC",
            "GIT_CONFIG_NOSYSTEM": "1",
            # Never find a repository above the temporary root.
            "GIT_CEILING_DIRECTORIES": self.root,
            "GIT_AUTHOR_NAME": GIT_NAME,
            "GIT_AUTHOR_EMAIL": GIT_EMAIL,
            "GIT_COMMITTER_NAME": GIT_NAME,
            "GIT_COMMITTER_EMAIL": GIT_EMAIL,
            "GIT_TERMINAL_PROMPT": "0",
            # The store a publish would use, should anything publish by accident.
            "WANDB_JOB_STORE": os.path.join(home, "store"),
            "WANDB_MODE": "offline",
        })
        return env

    def require(self, *programs):
        for p in programs:
            if shutil.which(p, path=self.env.get("PATH")) is None:
                raise Skip("%s not found on PATH" % p)

    def generator(self):
        """Ninja when available, else Unix Makefiles; Skip when neither is."""
        if shutil.which("ninja", path=self.env.get("PATH")):
            return "Ninja"
        if shutil.which("make", path=self.env.get("PATH")):
            return "Unix Makefiles"
        raise Skip("neither ninja nor make found")

    def require_tool(self):
        self.require("cmake", "git")
        if not os.access(self.tool, os.X_OK):
            raise Failure("the wandb-job helper %s is not built; build target wandb-job first"
                          % self.tool)

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def fresh_dir(self, name):
        self._counter += 1
        d = os.path.join(self.root, "%02d-%s" % (self._counter, name))
        os.makedirs(d)
        return d

    # --- processes -----------------------------------------------------------------------

    def run(self, cmd, cwd=None, check=True, env=None, extra_env=None, timeout=900):
        e = dict(self.env if env is None else env)
        if extra_env:
            e.update(extra_env)
        proc = subprocess.run(cmd, cwd=cwd, env=e, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise CommandError(cmd, proc)
        return proc

    # --- the helper, installed -----------------------------------------------------------

    def install_prefix(self):
        """`cmake --install <wandb-job build dir> --prefix <tmp>`, once per script."""
        if self._prefix is None:
            self.require_tool()
            prefix = self.path("prefix")
            self.run(["cmake", "--install", self.build_dir, "--prefix", prefix])
            check(os.path.exists(os.path.join(prefix, "bin", "wandb-job")),
                  "cmake --install did not install bin/wandb-job")
            self._prefix = prefix
        return self._prefix

    # --- git -----------------------------------------------------------------------------

    def new_repo(self, name, files=None, remote=None, commit=True, init=True):
        d = self.fresh_dir(name)
        repo = Repo(self, os.path.join(d, "src"))
        os.makedirs(repo.path)
        if init:
            repo.git("init", "-q", "-b", "main")
        if files:
            repo.write_files(files)
        if remote:
            repo.git("remote", "add", "origin", remote)
        if commit and init:
            repo.commit("initial")
        return repo

    # --- CMake ---------------------------------------------------------------------------

    def consume_args(self, mode):
        """-D arguments that make the module available to a project written by project_files()
        with the same `mode`."""
        if mode == "module":
            self.require_tool()
            return ["-DCMAKE_MODULE_PATH=%s" % os.path.join(self.source_dir, "cmake"),
                    "-DWANDB_JOB_TOOL=%s" % self.tool]
        if mode == "package":
            return ["-DCMAKE_PREFIX_PATH=%s" % self.install_prefix()]
        if mode in ("subdirectory", "fetchcontent"):
            return ["-DWANDB_JOB_SOURCE_DIR=%s" % self.source_dir]
        raise ValueError(mode)

    def configure(self, src, build, generator=None, args=(), mode="module", check=True,
                  env=None):
        cmd = ["cmake", "-S", src, "-B", build, "-G", generator or self.generator()]
        cmd += self.consume_args(mode) + list(args)
        return self.run(cmd, check=check, env=env)

    def build(self, build, target=None, config=None, check=True, env=None, jobs=2, timeout=900):
        cmd = ["cmake", "--build", build, "-j", str(jobs)]
        if config:
            cmd += ["--config", config]
        if target:
            cmd += ["--target", target]
        return self.run(cmd, check=check, env=env, timeout=timeout)

    def cleanup(self):
        if self.keep:
            sys.stderr.write("kept %s\n" % self.root)
            return
        shutil.rmtree(self.root, ignore_errors=True)

    # --- machine identity, for leak checks -----------------------------------------------

    def identity_strings(self):
        """Strings of this machine that must not appear in a bundle: the real user name and
        host name (when long enough to search for), and the temp root."""
        # Generic words a bundle may contain for other reasons ("cmake --build", "ubuntu:24.04")
        # say nothing about a leak; the tests set distinctive $USER values of their own.
        generic = {"root", "build", "builder", "user", "ubuntu", "debian", "admin", "ci", "dev",
                   "docker", "jenkins", "runner", "localhost", "src", "main"}
        out = [self.root]
        try:
            user = pwd.getpwuid(os.getuid()).pw_name
            if len(user) >= 3 and user.lower() not in generic:
                out.append(user)
        except KeyError:
            pass
        host = socket.gethostname()
        if len(host) >= 4 and host.lower() not in generic:
            out.append(host)
        return out


class Repo:
    """A work tree driven by the git CLI with a fixed identity and a fixed, advancing clock."""

    _clock = 0

    def __init__(self, ctx, path):
        self.ctx = ctx
        self.path = path

    def git(self, *args, check=True, extra_env=None, cwd=None):
        Repo._clock += 1
        stamp = "@%d +0000" % (GIT_EPOCH + 60 * Repo._clock)
        env = {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        if extra_env:
            env.update(extra_env)
        proc = self.ctx.run(["git"] + list(args), cwd=cwd or self.path, check=check,
                            extra_env=env)
        return proc.stdout.strip() if check else proc

    def write(self, rel, content, mode=None):
        write_file(os.path.join(self.path, rel), content, mode)

    def write_files(self, files):
        for rel, content in sorted(files.items()):
            self.write(rel, content)

    def commit(self, message="change", add_all=True, allow_empty=False):
        if add_all:
            self.git("add", "-A")
        args = ["commit", "-q", "-m", message]
        if allow_empty:
            args.append("--allow-empty")
        self.git(*args)
        return self.head()

    def head(self):
        return self.git("rev-parse", "HEAD")

    def tracking_ref(self, remote="origin", branch="main"):
        """Makes HEAD look pushed: refs/remotes/<remote>/<branch> points at HEAD."""
        self.git("update-ref", "refs/remotes/%s/%s" % (remote, branch), "HEAD")


# --- project fixtures ------------------------------------------------------------------------

TRAIN_CPP = """#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::printf("%s\\n", argv[i]);
  }
  return EXIT_SUCCESS;
}
"""


def consume_block(mode):
    """CMake text that makes wandb_add_job() available, for consume_args(mode)."""
    if mode == "module":
        return "include(WandbJob)\n"
    if mode == "package":
        return "find_package(WandbJob CONFIG REQUIRED)\n"
    if mode == "subdirectory":
        return "add_subdirectory(${WANDB_JOB_SOURCE_DIR} _wandb_job EXCLUDE_FROM_ALL)\n"
    if mode == "fetchcontent":
        return ("include(FetchContent)\n"
                "FetchContent_Declare(wandbjob SOURCE_DIR ${WANDB_JOB_SOURCE_DIR})\n"
                "FetchContent_MakeAvailable(wandbjob)\n")
    raise ValueError(mode)


def project_files(job_args="", mode="module", name="demo", extra_cmake="", extra_files=None):
    """A one-executable CMake project `train` with wandb_add_job(train <job_args>)."""
    files = {
        "CMakeLists.txt": ("cmake_minimum_required(VERSION 3.25)\n"
                           "project(%s LANGUAGES CXX)\n%s"
                           "add_executable(train train.cpp)\n"
                           "wandb_add_job(train %s)\n%s" %
                           (name, consume_block(mode), job_args, extra_cmake)),
        "train.cpp": TRAIN_CPP,
        "README.md": "# demo\n\nA small trainer.\n",
    }
    if extra_files:
        files.update(extra_files)
    return files


def bundle_dir(build, target="train", config=None):
    if config:
        return os.path.join(build, "wandb-jobs", target, config, "bundle")
    return os.path.join(build, "wandb-jobs", target, "bundle")


class Bundle:
    """A bundle directory as docs/bundle.md describes it."""

    def __init__(self, path):
        self.path = path
        check(os.path.isfile(os.path.join(path, "bundle.json")), "no bundle.json in %s" % path)
        self.meta = json.loads(read_text(os.path.join(path, "bundle.json")))
        self.job_text = read_text(os.path.join(path, "job", "wandb-job.json"))
        self.job = json.loads(self.job_text)

    def file(self, *rel):
        return os.path.join(self.path, *rel)

    def exists(self, *rel):
        return os.path.exists(self.file(*rel))

    def read(self, *rel):
        return read_bytes(self.file(*rel))

    def files(self):
        return list_files(self.path)

    def job_files(self):
        return list_files(self.file("job"))

    def code_files(self):
        d = self.file("code")
        return list_files(d) if os.path.isdir(d) else []

    def manifest(self, which):
        return json.loads(read_text(self.file("%s.manifest.json" % which)))

    def lock(self):
        return json.loads(read_text(self.file("job", "wandb-job.lock.json")))

    def digest(self, which):
        return artifact_digest(self.manifest(which)["contents"])

    def verify(self):
        """The structural contract every bundle meets: manifests list exactly the files, with
        base64 MD5 digests and sizes; JSON files rendered as W&B's SDK renders them."""
        check_equal(self.meta.get("format"), "wandb-job-bundle/1", "bundle.json format")
        st = self.meta["source_type"]
        check(st in ("repo", "artifact", "image"), "bad source_type %r" % st)
        check_equal(self.job.get("source_type"), st, "wandb-job.json source_type")
        check_equal(self.job_text, python_indent4(self.job_text),
                    "wandb-job.json rendered like json.dumps(indent=4)")
        check(self.exists("job", "requirements.frozen.txt"), "requirements.frozen.txt missing")
        check(self.exists("job", "wandb-job.lock.json"), "job/wandb-job.lock.json missing")
        self._verify_artifact("job", "job")
        if st == "artifact":
            check("code" in self.meta, "artifact job without a code entry in bundle.json")
            self._verify_artifact("code", "code")
        else:
            check("code" not in self.meta, "%s job with a code entry in bundle.json" % st)
            check(not self.exists("code"), "%s job with a code/ directory" % st)
            check(not self.exists("code.manifest.json"), "%s job with code.manifest.json" % st)

    def _verify_artifact(self, key, which):
        entry = self.meta[key]
        check_equal(entry.get("type"), which, "%s artifact type" % which)
        check_equal(entry.get("files"), which, "%s files dir" % which)
        check_equal(entry.get("manifest"), "%s.manifest.json" % which, "%s manifest" % which)
        text = read_text(self.file("%s.manifest.json" % which))
        check_equal(text, python_indent4(text), "%s.manifest.json rendered with indent 4" % which)
        m = json.loads(text)
        check_equal(m.get("version"), 1, "%s manifest version" % which)
        check_equal(m.get("storagePolicy"), "wandb-storage-policy-v1", "storagePolicy")
        check_equal(m.get("storagePolicyConfig"), {"storageLayout": "V2"}, "storagePolicyConfig")
        contents = m["contents"]
        files = list_files(self.file(which))
        check_equal(sorted(contents), files, "%s manifest paths vs files on disk" % which)
        for rel in files:
            data = read_bytes(self.file(which, rel))
            e = contents[rel]
            check_equal(e.get("digest"), md5_b64(data), "digest of %s/%s" % (which, rel))
            check_equal(e.get("size"), len(data), "size of %s/%s" % (which, rel))
            check("birthArtifactID" not in e, "%s/%s has a birthArtifactID before publishing"
                  % (which, rel))


def snapshot_tree(root):
    """{relpath: bytes} of every file below root."""
    return {rel: read_bytes(os.path.join(root, rel)) for rel in list_files(root)}


def find_in_tree(root, needles):
    """[(relpath, needle)] for each needle (str) found in a file's bytes or path below root."""
    hits = []
    for rel in list_files(root):
        data = read_bytes(os.path.join(root, rel))
        for n in needles:
            b = n.encode("utf-8")
            if b in data or n in rel:
                hits.append((rel, n))
    return hits


def file_identity(path):
    """(inode, mtime_ns) of a file: changes whenever the bundle step rewrites it."""
    st = os.stat(path)
    return (st.st_ino, st.st_mtime_ns)


# --- running cases ---------------------------------------------------------------------------

def main(name, cases, setup=None):
    """Runs `cases` ([(case name, fn(ctx))]) in order, each independent; reports each; exits
    0 when all passed, 125 when skipped, 1 otherwise. Selects cases by name with
    WANDB_JOB_E2E_CASES=a,b."""
    ctx = Context(name)
    wanted = os.environ.get("WANDB_JOB_E2E_CASES")
    if wanted:
        keep = set(wanted.split(","))
        cases = [c for c in cases if c[0] in keep]
    failed = []
    try:
        try:
            if setup:
                setup(ctx)
        except Skip as e:
            print("SKIP %s: %s" % (name, e))
            sys.exit(SKIP)
        for case_name, fn in cases:
            start = time.monotonic()
            try:
                fn(ctx)
            except Skip as e:
                print("SKIP %s (%s)" % (case_name, e))
                if len(cases) == 1:
                    sys.exit(SKIP)
                continue
            except Exception:  # noqa: BLE001 - report every case, then fail
                failed.append(case_name)
                print("FAIL %s (%.1fs)" % (case_name, time.monotonic() - start))
                traceback.print_exc(file=sys.stdout)
                sys.stdout.flush()
                continue
            print("PASS %s (%.1fs)" % (case_name, time.monotonic() - start))
            sys.stdout.flush()
    finally:
        ctx.cleanup()
    if failed:
        print("%d of %d cases failed: %s" % (len(failed), len(cases), ", ".join(failed)))
        sys.exit(1)
    sys.exit(0)
