"""Shared helpers of the benchmarks under bench/: CPU time of child processes, generated CMake
projects that use wandb-job, and the result lines bench/run collects into its table.

A benchmark prints, besides whatever it explains, one line per figure:

    RESULT<TAB>figure<TAB>wandb-job<TAB>baseline<TAB>ratio<TAB>goal

which bench/run turns into a table. CPU times (user + system of the children, from getrusage)
are used rather than wall times: the machine running them is usually shared.
"""

import os
import resource
import shutil
import subprocess
import sys

GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
           "GIT_AUTHOR_DATE": "@1700000000 +0000", "GIT_COMMITTER_DATE": "@1700000000 +0000"}


def clean_env(**extra):
    """The environment of a measured command: no W&B key or CI variables of the caller."""
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("WANDB_") or k in ("CI", "GITHUB_ACTIONS", "GITLAB_CI"):
            del env[k]
    env.update(GIT_ENV)
    env.update(extra)
    return env


def cpu(cmd, env=None, cwd=None, check=True):
    """CPU seconds (user + system) that `cmd` and its children used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if check and proc.returncode != 0:
        sys.exit("bench: %s failed (%d): %s" % (" ".join(cmd), proc.returncode,
                                                proc.stderr.strip()[-2000:]))
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best_cpu(cmd, runs=5, env=None, cwd=None, before=None):
    """The smallest CPU time of `runs` runs (`before()` is called, unmeasured, before each)."""
    best = None
    for _ in range(runs):
        if before is not None:
            before()
        t = cpu(cmd, env=env, cwd=cwd)
        best = t if best is None else min(best, t)
    return best


def run(cmd, env=None, cwd=None):
    proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        sys.exit("bench: %s failed (%d):\n%s" % (" ".join(cmd), proc.returncode,
                                                 proc.stdout[-4000:]))
    return proc.stdout


def require(*tools):
    """Exits with 125 (skipped) when a tool is missing."""
    for t in tools:
        if shutil.which(t) is None:
            print("skipping: %s not found" % t)
            sys.exit(125)


def result(figure, ours, baseline, goal):
    """Prints the table line of one figure; `ours` and `baseline` are strings."""
    print("RESULT\t%s\t%s\t%s\t%s\t%s" % (figure, ours, baseline,
                                          _ratio(ours, baseline), goal), flush=True)


def _ratio(ours, baseline):
    try:
        a, b = float(ours.split()[0]), float(baseline.split()[0])
    except (ValueError, IndexError):
        return "-"
    return "%.2f" % (a / b) if b > 0 else "-"


TRAIN_CC = "#include <cstdio>\nint main(int argc, char** argv) { std::puts(\"%s\"); return 0; }\n"


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def make_project(root, source_dir, tool, jobs=1, job_args="SOURCE artifact", files=0):
    """A git repository at root/src with `jobs` executables, each with wandb_add_job(), and
    `files` extra tracked files; configured (Ninja) in root/build. Returns (src, build)."""
    src = os.path.join(root, "src")
    build = os.path.join(root, "build")
    lines = ["cmake_minimum_required(VERSION 3.25)", "project(bench LANGUAGES CXX)",
             "include(WandbJob)"]
    for i in range(jobs):
        write(os.path.join(src, "train%d.cc" % i), TRAIN_CC % i)
        lines.append("add_executable(train%d train%d.cc)" % (i, i))
        lines.append("wandb_add_job(train%d %s)" % (i, job_args))
    write(os.path.join(src, "CMakeLists.txt"), "\n".join(lines) + "\n")
    for i in range(files):
        write(os.path.join(src, "data", "d%03d" % (i // 1000), "f%06d.txt" % i), "file %d\n" % i)
    env = clean_env()
    run(["git", "init", "-q", "-b", "main"], env=env, cwd=src)
    run(["git", "add", "-A"], env=env, cwd=src)
    run(["git", "commit", "-q", "-m", "bench"], env=env, cwd=src)
    run(["cmake", "-S", src, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
         "-DCMAKE_MODULE_PATH=%s" % os.path.join(source_dir, "cmake"),
         "-DWANDB_JOB_TOOL=%s" % tool], env=env)
    return src, build


def fake_wandb(source_dir, key):
    """A started fake W&B server (tests/fake_wandb) in this process, or None without it."""
    sys.path.insert(0, os.path.join(source_dir, "tests", "fake_wandb"))
    try:
        import fake_wandb as fw  # noqa: E402
    except ImportError:
        return None
    if getattr(fw, "graphql", None) is None:
        return None
    return fw.FakeWandb(api_key=key).start()
