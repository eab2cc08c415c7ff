"""End-to-end tests of `wandb-job exec` (the entrypoint shim) and `wandb-job run` (launching a
stored job locally with the launch agent's environment). Python 3 standard library only.

    python3 test_run.py <wandb-job tool> <wandb-job source dir> <wandb-job build dir> <case>...

Cases: exec, artifact, repo, trainer. Each case uses a temporary HOME and WANDB_JOB_STORE, a
fresh CMake project configured with -DWANDB_JOB_TOOL=<tool>, and never rebuilds the tool.
Exits 0 (pass), 1 (fail) or 125 (skipped: cmake, ninja, git or c++ missing).
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
CHUNK = 32670  # the launch agent's environment value limit

PROGRAM = r"""// A job program: prints what it got, logs metrics through wandb::Run, exits as told.
#include <wandb/job.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);
  wandb::Config config = wandb::Config::FromEnvironment(
      argc, argv,
      R"({"lr": 0.1, "epochs": 2, "exit_code": 0, "sleep": 0, "note": "hi"})");
  std::printf("lr=%g epochs=%d\n", config.get<double>("lr"), config.get<int>("epochs"));
  std::printf("note_length=%zu\n", config.get<std::string>("note").size());
  std::printf("argv_note_length=%zu\n", argc > 10 ? std::string(argv[10]).size() : 0);
  for (const char* name : {"WANDB_RUN_ID", "WANDB_LAUNCH", "WANDB_PROJECT", "WANDB_ENTITY",
                           "WANDB_ARTIFACTS"}) {
    const char* value = std::getenv(name);
    std::printf("%s=%s\n", name, value ? value : "(unset)");
  }
  std::printf("chunked=%d\n", std::getenv("WANDB_CONFIG_0") != nullptr);
  std::printf("config_file=%s\n", std::getenv("WANDB_JOB_CONFIG_FILE") ? "set" : "unset");
  std::printf("@VARIANT@\n");
  wandb::Run run = wandb::Run::FromEnvironment();
  for (int epoch = 1; epoch <= config.get<int>("epochs"); ++epoch) {
    run.log({{"loss", 1.0 / epoch}, {"epoch", epoch}});
    std::printf("epoch %d\n", epoch);
  }
  run.summary({{"best", 42}});
  std::fprintf(stderr, "a line on stderr\n");
  if (int seconds = config.get<int>("sleep"); seconds > 0) {
    std::printf("sleeping\n");
    std::fflush(stdout);
    sleep(seconds);
  }
  return config.get<int>("exit_code");
}
"""

PROJECT = r"""cmake_minimum_required(VERSION 3.25)
project(runjob CXX)
set(CMAKE_CXX_STANDARD 17)
find_package(nlohmann_json 3.9 REQUIRED)
include(@SRC@/cmake/WandbJob.cmake)
add_executable(prog prog.cc)
target_include_directories(prog PRIVATE @SRC@/include)
target_link_libraries(prog PRIVATE nlohmann_json::nlohmann_json)
wandb_add_job(prog NAME prog-job PROJECT e2e-run SOURCE @SOURCE@
  CONFIG lr=0.1 epochs=2 exit_code=0 sleep=0 note=hi
  ARGS --lr {lr} --epochs {epochs} --exit_code {exit_code} --sleep {sleep} --note {note})
"""


class Skip(Exception):
    pass


class Failure(AssertionError):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def require(*programs):
    for p in programs:
        if shutil.which(p) is None:
            raise Skip("%s not found" % p)


class Env:
    """A temporary HOME, store and work directory, with no WANDB_* leaking in."""

    def __init__(self, tool, src):
        self.tool = tool
        self.src = src
        self.root = tempfile.mkdtemp(prefix="wandb-job-e2e-run.")
        self.store = os.path.join(self.root, "store")
        # CI variables too: a CI running the suite must not make every publish a W&B one.
        env = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith(
            ("WANDB_", "GIT_", "CMAKE_", "XDG_", "CI_", "GITHUB_", "GITLAB_"))}
        env.update({
            "HOME": os.path.join(self.root, "home"),
            "WANDB_JOB_STORE": self.store,
            "WANDB_MODE": "offline",
            "GIT_AUTHOR_NAME": "E2E", "GIT_AUTHOR_EMAIL": "e2e@example.invalid",
            "GIT_COMMITTER_NAME": "E2E", "GIT_COMMITTER_EMAIL": "e2e@example.invalid",
            "GIT_CONFIG_NOSYSTEM": "1",
            "TMPDIR": os.path.join(self.root, "tmp"),
        })
        os.makedirs(env["HOME"])
        os.makedirs(env["TMPDIR"])
        self.env = env

    def close(self):
        if os.environ.get("WANDB_JOB_E2E_KEEP") != "1":
            shutil.rmtree(self.root, ignore_errors=True)
        else:
            print("kept", self.root)

    def run(self, args, cwd=None, check_rc=0, env=None, timeout=600):
        e = dict(self.env)
        e.update(env or {})
        p = subprocess.run(args, cwd=cwd or self.root, env=e, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout)
        if check_rc is not None and p.returncode != check_rc:
            raise Failure("%s: exit code %d, expected %d\nstdout:\n%s\nstderr:\n%s" % (
                " ".join(args)[:300], p.returncode, check_rc, p.stdout[-3000:],
                p.stderr[-3000:]))
        return p

    def wj(self, *args, **kw):
        return self.run([self.tool] + list(args), **kw)

    def show(self, job):
        return json.loads(self.wj("show", job, "--json").stdout)


def git(env, cwd, *args):
    env.run(["git"] + list(args), cwd=cwd)


def make_project(env, source, variant="original"):
    """A git repository with the job program; returns its directory."""
    proj = os.path.join(env.root, "proj")
    os.makedirs(proj)
    with open(os.path.join(proj, "prog.cc"), "w") as f:
        f.write(PROGRAM.replace("@VARIANT@", variant))
    with open(os.path.join(proj, "CMakeLists.txt"), "w") as f:
        f.write(PROJECT.replace("@SRC@", env.src).replace("@SOURCE@", source))
    git(env, proj, "init", "-q", "-b", "main")
    git(env, proj, "add", "-A")
    git(env, proj, "commit", "-q", "-m", "job program")
    return proj


def publish(env, proj):
    build = os.path.join(env.root, "build")
    env.run(["cmake", "-S", proj, "-B", build, "-G", "Ninja", "-DWANDB_JOB_TOOL=" + env.tool])
    env.run(["cmake", "--build", build, "--target", "prog-wandb-job"])
    env.wj("publish", os.path.join(build, "wandb-jobs", "prog", "bundle"))


def lines(text):
    return text.splitlines()


def the_run(env, job, run_id):
    runs = [r for r in env.show(job)["runs"] if r["id"] == run_id]
    check(len(runs) == 1, "run %s not listed under %s: %r" % (run_id, job, env.show(job)["runs"]))
    return runs[0]


def check_run_cases(env, job):
    """Runs shared by the artifact and repo cases."""
    # Overrides change the program's behaviour; the agent's environment is complete.
    p = env.wj("run", job, "-c", "lr=0.2", "-c", "epochs=3", "--run-id", "ok000001")
    out = lines(p.stdout)
    check("lr=0.2 epochs=3" in out, "config line: %r" % out)
    check(["epoch 1", "epoch 2", "epoch 3"] == [l for l in out if l.startswith("epoch ")],
          "epochs: %r" % out)
    check("WANDB_RUN_ID=ok000001" in out and "WANDB_LAUNCH=True" in out, out)
    check("WANDB_PROJECT=e2e-run" in out and "WANDB_ENTITY=local" in out, out)
    check('WANDB_ARTIFACTS={"_wandb_job":"local/e2e-run/prog-job:latest"}' in out, out)
    check("config_file=set" in out and "chunked=0" in out, out)
    check("a line on stderr" in p.stderr, "stderr not passed through: %r" % p.stderr[-500:])
    run = the_run(env, job, "ok000001")
    check(run["state"] == "finished" and run["exit_code"] == 0 and run["version"] == "v0", run)
    check(run["config"] == {"lr": 0.2, "epochs": 3, "exit_code": 0, "sleep": 0, "note": "hi"},
          run["config"])
    check(run["summary"] == {"best": 42, "loss": 1.0 / 3, "epoch": 3}, run["summary"])
    run_dir = os.path.join(env.store, "entities/local/projects/e2e-run/runs/ok000001")
    with open(os.path.join(run_dir, "output.log")) as f:
        log = f.read()
    check("epoch 3" in log and "a line on stderr" in log, "output.log: %r" % log[-500:])
    with open(os.path.join(run_dir, "history.jsonl")) as f:
        history = [json.loads(l) for l in f]
    check([h["_step"] for h in history] == [0, 1, 2], history)
    text = env.wj("show", job).stdout
    check(re.search(r"ok000001 .*finished +v0 +exit 0", text), "show text: %s" % text)
    check('"lr":0.2' in text, "config not shown: %s" % text)

    # A config larger than one environment variable travels in chunks.
    note = "x" * 40000
    p = env.wj("run", job, "-c", "note=" + note, "--run-id", "big00001")
    out = lines(p.stdout)
    check("note_length=40000" in out and "argv_note_length=40000" in out, out[:4])
    check("chunked=1" in out, "the shim did not chunk WANDB_CONFIG: %r" % out)
    check(the_run(env, job, "big00001")["config"]["note"] == note, "big config not recorded")

    # A failing program: its exit code, the run failed.
    p = env.wj("run", job, "-c", "exit_code=3", "--run-id", "fail0001", check_rc=3)
    run = the_run(env, job, "fail0001")
    check(run["state"] == "failed" and run["exit_code"] == 3, run)

    # SIGTERM to wandb-job is forwarded; the program dies of it; the run is killed.
    e = dict(env.env)
    proc = subprocess.Popen([env.tool, "run", job, "-c", "sleep=60", "--run-id", "kill0001"],
                            cwd=env.root, env=e, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, universal_newlines=True)
    deadline = time.time() + 300
    for line in proc.stdout:
        if line.strip() == "sleeping":
            break
        check(time.time() < deadline, "the program never slept")
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=30)
    check(rc == 128 + signal.SIGTERM, "exit code after SIGTERM: %d" % rc)
    run = the_run(env, job, "kill0001")
    check(run["state"] == "killed" and run["exit_code"] == 143, run)

    # An unknown key is refused with the known ones listed, before anything is built.
    p = env.wj("run", job, "-c", "bogus=1", check_rc=2)
    err = p.stderr.strip().splitlines()
    check(len(err) == 1, "expected one line: %r" % err)
    check("unknown config key 'bogus' for job prog-job (known: lr, epochs, exit_code, sleep, "
          "note)" in err[0], err[0])

    # A value that does not fit its input's type: one line, nothing built or run.
    p = env.wj("run", job, "-c", "epochs=abc", "--run-id", "badtype1", check_rc=2)
    err = p.stderr.strip().splitlines()
    check(len(err) == 1, "expected one line: %r" % err)
    check("epochs is a number input of job prog-job, and 'abc' is not one" in err[0], err[0])
    check(not os.path.exists(os.path.join(env.store, "entities/local/projects/e2e-run/runs/"
                                                     "badtype1")), "a run was recorded")


def case_exec(env):
    """The shim alone: config precedence, ARGS, env, disabled mode, missing program."""
    script = os.path.join(env.root, "prog.sh")
    with open(script, "w") as f:
        f.write('echo "args: $*"\necho "config: $WANDB_CONFIG"\ncat "$WANDB_JOB_CONFIG_FILE"\n'
                'echo \'{"history": {"acc": 0.5}}\' >> "$WANDB_JOB_METRICS_FILE"\nexit 5\n')
    p = env.wj("exec", "--defaults", '{"lr": 0.1, "m": {"h": 3, "k": 1}}', "-c", "lr=0.5",
               "--job", "local/p/some-job:latest", "--run-id", "exec0001", "--",
               "sh", script, "--lr", "{lr}", "--h", "{m.h}",
               env={"WANDB_CONFIG_0": '{"m": {"h"', "WANDB_CONFIG_1": ': 4}}',
                    "WANDB_PROJECT": "p"}, check_rc=5)
    out = lines(p.stdout)
    check(out[0] == "args: --lr 0.5 --h 4", out)
    check(json.loads(out[1][len("config: "):]) == {"lr": 0.5, "m": {"h": 4, "k": 1}}, out)
    path = os.path.join(env.store, "entities/local/projects/p/runs/exec0001/run.json")
    with open(path) as f:
        run = json.load(f)
    check(run["state"] == "failed" and run["exit_code"] == 5, run)
    check(run["job"] == "some-job" and run["summary"] == {"acc": 0.5}, run)

    # Disabled: the program runs with its config, nothing is recorded.
    p = env.wj("exec", "-c", "a=1", "--run-id", "dis00001", "--", "sh", "-c",
               'echo "$WANDB_CONFIG"', env={"WANDB_MODE": "disabled"})
    check(p.stdout.strip() == '{"a":1}', p.stdout)
    check(not os.path.exists(os.path.join(env.store, "entities/local/projects/uncategorized/runs/"
                                                     "dis00001")), "disabled mode recorded")

    # A store that cannot be written: a warning, and the program runs all the same.
    blocker = os.path.join(env.root, "a-file")
    with open(blocker, "w") as f:
        f.write("not a directory\n")
    p = env.wj("exec", "-c", "a=1", "--", "sh", "-c", 'echo "ran with $WANDB_CONFIG"; exit 3',
               env={"WANDB_JOB_STORE": os.path.join(blocker, "store")}, check_rc=3)
    check(p.stdout.strip() == 'ran with {"a":1}', p.stdout)
    check("not reporting the run" in p.stderr and "running the program unreported" in p.stderr,
          p.stderr)
    # A bad run ID or job reference is refused before the program runs.
    p = env.wj("exec", "--run-id", "../x", "--", "true", check_rc=2)
    check("invalid run ID '../x'" in p.stderr, p.stderr)
    p = env.wj("exec", "--job", "a/b/c/d", "--", "true", check_rc=2)
    check("job a/b/c/d: " in p.stderr, p.stderr)
    # A program that cannot start: exit 127 and one error line.
    p = env.wj("exec", "--", os.path.join(env.root, "missing"), check_rc=127)
    check("cannot run" in p.stderr, p.stderr)
    # ARGS naming an unknown key: a usage error.
    p = env.wj("exec", "--defaults", '{"lr": 1}', "--", "true", "{epochs}", check_rc=2)
    check("known: lr" in p.stderr, p.stderr)


def case_artifact(env):
    proj = make_project(env, "artifact")
    publish(env, proj)
    check_run_cases(env, "prog-job")


def case_repo(env):
    proj = make_project(env, "repo")
    origin = os.path.join(env.root, "origin.git")
    git(env, env.root, "init", "-q", "--bare", origin)
    # The job must name a remote the agent can clone; git's url.<base>.insteadOf maps it to the
    # local bare repository for the clone (set only after capture, which must see the https URL).
    url = "https://git.example.invalid/acme/prog.git"
    git(env, proj, "remote", "add", "origin", url)
    git(env, proj, "push", "-q", origin, "main:main")
    git(env, proj, "update-ref", "refs/remotes/origin/main", "HEAD")
    # Uncommitted changes travel as diff.patch, applied with patch -p1.
    with open(os.path.join(proj, "prog.cc")) as f:
        text = f.read()
    with open(os.path.join(proj, "prog.cc"), "w") as f:
        f.write(text.replace('printf("original', 'printf("patched'))
    publish(env, proj)
    git(env, env.root, "config", "--global", "url.%s.insteadOf" % origin, url)
    p = env.wj("run", "prog-job", "--run-id", "repo0001")
    check("patched" in lines(p.stdout), "diff.patch not applied: %r" % p.stdout)
    check_run_cases(env, "prog-job")


def case_trainer(env):
    """The example trainer as a job: overrides change its behaviour; the run shows under it."""
    build = os.path.join(env.root, "build")
    env.run(["cmake", "-S", env.src, "-B", build, "-G", "Ninja", "-DWANDB_JOB_BUILD_TOOL=OFF",
             "-DWANDB_JOB_BUILD_TESTS=OFF", "-DWANDB_JOB_TOOL=" + env.tool])
    env.run(["cmake", "--build", build, "--target", "train-wandb-job"])
    env.wj("publish", os.path.join(build, "wandb-jobs", "train", "bundle"))
    p = env.wj("run", "trainer", "-c", "lr=0.2", "-c", "epochs=3", "--run-id", "train001",
               "--cmake-arg=-DWANDB_JOB_BUILD_TOOL=OFF", "--cmake-arg=-DWANDB_JOB_BUILD_TESTS=OFF")
    out = lines(p.stdout)
    config = [l for l in out if l.startswith("config: ")]
    check(len(config) == 1, out)
    got = json.loads(config[0][len("config: "):])
    check(got["lr"] == 0.2 and got["epochs"] == 3 and got["optimizer"] == "sgd", got)
    check([l.split(" ")[1] for l in out if l.startswith("epoch ")] == ["1/3", "2/3", "3/3"], out)
    run = the_run(env, "trainer", "train001")
    check(run["state"] == "finished" and run["exit_code"] == 0, run)
    check(run["config"]["lr"] == 0.2 and run["config"]["epochs"] == 3, run["config"])


CASES = {"exec": case_exec, "artifact": case_artifact, "repo": case_repo,
         "trainer": case_trainer}


def main():
    if len(sys.argv) < 5:
        print(__doc__)
        return 2
    tool, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    cases = sys.argv[4:]
    only = os.environ.get("WANDB_JOB_E2E_CASES")
    if only:
        cases = [c for c in cases if c in only.split(",")]
    try:
        require("cmake", "ninja", "git", "c++", "patch")
    except Skip as e:
        print("SKIP:", e)
        return SKIP
    failed = 0
    for name in cases:
        env = Env(tool, src)
        start = time.time()
        try:
            CASES[name](env)
            print("PASS %s (%.1fs)" % (name, time.time() - start))
        except Skip as e:
            print("SKIP %s: %s" % (name, e))
        except Exception:
            failed += 1
            print("FAIL %s" % name)
            traceback.print_exc()
        finally:
            env.close()
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
