#!/bin/sh
# Capture (`wandb-job bundle` of an artifact job) on generated git trees, each figure against its
# baseline measured in the same run (CPU time = user + system of the process and its children):
#   fresh capture            vs single-core `md5sum` of the same files        goal <= 2
#   re-capture, 1 file changed vs `git status` of the tree                   goal <= 2
#   bytes written by that re-capture vs the changed file's size              goal O(changed)
#   disk of 20 bundles of the tree vs the tree itself                        goal ~1 copy
#   RSS of a fresh capture at 100k files, and of a 2 GB tree, vs 64 MiB      goal <= 1
# Prints one line per figure: figure<TAB>wandb-job<TAB>baseline<TAB>ratio<TAB>goal.
# usage: bench_capture.sh <wandb-job> [wandb-job source dir]
# Sizes (environment): BENCH_CAPTURE_MB=1024 BENCH_CAPTURE_FILES=20000 BENCH_CAPTURE_MANY=100000
# BENCH_CAPTURE_BIG_MB=2048; BENCH_CAPTURE_DIR keeps the generated trees there.
set -eu
tool=$(realpath "$1")
src=$(realpath "${2:-$(dirname "$0")/../..}")
for t in python3 cmake ninja git md5sum; do
  command -v "$t" >/dev/null || { echo "skipping: $t not found" >&2; exit 125; }
done
if [ -n "${BENCH_CAPTURE_DIR:-}" ]; then
  work=$BENCH_CAPTURE_DIR
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
fi
exec python3 - "$tool" "$src" "$work" <<'PY'
import os, random, resource, shutil, subprocess, sys

tool, src, work = sys.argv[1:4]
MB = int(os.environ.get("BENCH_CAPTURE_MB", "1024"))
FILES = int(os.environ.get("BENCH_CAPTURE_FILES", "20000"))
MANY = int(os.environ.get("BENCH_CAPTURE_MANY", "100000"))
BIG_MB = int(os.environ.get("BENCH_CAPTURE_BIG_MB", "2048"))
ENV = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@b", GIT_COMMITTER_NAME="b",
           GIT_COMMITTER_EMAIL="b@b")


def run(cmd, cwd=None, shell=False):
    """Runs cmd; returns (cpu seconds, max RSS bytes, bytes written to storage)."""
    p = subprocess.Popen(cmd, cwd=cwd, shell=shell, env=ENV, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    if status != 0:
        sys.exit("failed (%d): %s" % (status, cmd))
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024, ru.ru_oublock * 512


def best(n, cmd, **kw):
    return min((run(cmd, **kw) for _ in range(n)), key=lambda r: r[0])


def make_tree(name, files, total_bytes):
    """A git repository with a CMake project and `files` committed files of random bytes."""
    root = os.path.join(work, name)
    repo, build = os.path.join(root, "repo"), os.path.join(root, "build")
    if os.path.exists(os.path.join(build, "done")):
        return repo, build
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(repo)
    rnd = random.Random(name)
    size = max(1, total_bytes // files)
    for i in range(files):
        d = os.path.join(repo, "data", "d%03d" % (i % 500))
        os.makedirs(d, exist_ok=True)
        n = rnd.randint(size // 2, size * 3 // 2) if size > 1 else 1
        with open(os.path.join(d, "f%06d.bin" % i), "wb") as f:
            f.write(os.urandom(n))
    with open(os.path.join(repo, "CMakeLists.txt"), "w") as f:
        f.write("cmake_minimum_required(VERSION 3.25)\nproject(bench LANGUAGES CXX)\n"
                "include(WandbJob)\nadd_executable(prog prog.cpp)\n"
                "wandb_add_job(prog SOURCE artifact)\n")
    with open(os.path.join(repo, "prog.cpp"), "w") as f:
        f.write("int main() { return 0; }\n")
    git = lambda *a: subprocess.run(["git", "-c", "core.looseCompression=0", "-c",
                                     "core.compression=0", *a], cwd=repo, env=ENV, check=True,
                                    stdout=subprocess.DEVNULL)
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "tree")
    subprocess.run(["cmake", "-S", repo, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                    "-DCMAKE_MODULE_PATH=" + os.path.join(src, "cmake"),
                    "-DWANDB_JOB_TOOL=" + tool], env=ENV, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build, "--target", "prog"], env=ENV, check=True,
                    stdout=subprocess.DEVNULL)
    open(os.path.join(build, "done"), "w").close()
    return repo, build


def capture_cmd(build, out):
    return [tool, "bundle", "--spec", os.path.join(build, "wandb-jobs", "prog", "spec.json"),
            "--out", out, "--target-file", os.path.join(build, "prog"), "--build-type=Release"]


def clean(build):
    for d in ["wandb-jobs/.content", "wandb-jobs/prog/bundle"] + [
            "bench/b%02d" % i for i in range(20)]:
        p = os.path.join(build, d)
        if os.path.exists(p):
            subprocess.run(["chmod", "-R", "u+w", p])
            shutil.rmtree(p)


def du(path):
    out = subprocess.run(["du", "-sk", path], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0]) * 1024


rows = []


def row(figure, ours, base, goal, unit="s"):
    fmt = (lambda v: "%.3fs" % v) if unit == "s" else (lambda v: "%.1fMiB" % (v / 2**20))
    rows.append("%s\t%s\t%s\t%.2f\t%s" % (figure, fmt(ours), fmt(base), ours / base, goal))
    print(rows[-1], flush=True)


print("figure\twandb-job\tbaseline\tratio\tgoal", flush=True)
repo, build = make_tree("tree", FILES, MB << 20)
bundle = os.path.join(build, "wandb-jobs", "prog", "bundle")
listing = "git ls-files -z data | xargs -0 -n 1000000 md5sum >/dev/null"
md5 = best(3, listing, cwd=repo, shell=True)
fresh = []
for _ in range(3):
    clean(build)
    fresh.append(run(capture_cmd(build, bundle)))
fresh = min(fresh, key=lambda r: r[0])
row("fresh capture %d MB / %d files (CPU) vs md5sum" % (MB, FILES), fresh[0], md5[0], "<=2")

# One changed file (same size, new bytes), then a re-capture over the existing bundle.
changed = os.path.join(repo, "data", "d007", "f000007.bin")
recap, status = [], []
for i in range(3):
    size = os.path.getsize(changed)
    os.chmod(changed, 0o644)
    with open(changed, "wb") as f:
        f.write(os.urandom(size))
    recap.append(run(capture_cmd(build, bundle)))
    status.append(run(["git", "status", "--porcelain"], cwd=repo))
recap = min(recap, key=lambda r: r[0])
status = min(status, key=lambda r: r[0])
row("re-capture after 1 changed file (CPU) vs git status", recap[0], status[0], "<=2")
rows.append("re-capture bytes written vs changed bytes\t%d\t%d\t%.2f\tO(changed)" % (
    recap[2], size, recap[2] / max(size, 1)))
print(rows[-1], flush=True)

# Twenty jobs' bundles of the same tree.
os.makedirs(os.path.join(build, "bench"), exist_ok=True)
for i in range(19):
    run(capture_cmd(build, os.path.join(build, "bench", "b%02d" % i)))
tree_bytes = du(os.path.join(repo, "data"))
row("disk of 20 bundles + cache vs the tree", du(os.path.join(build, "wandb-jobs")) +
    du(os.path.join(build, "bench")), tree_bytes, "~1 copy", unit="b")

# Memory at 100k files and at 2 GB.
for name, files, size in (("many", MANY, MANY * 1024), ("big", FILES, BIG_MB << 20)):
    _, b = make_tree(name, files, size)
    clean(b)
    r = run(capture_cmd(b, os.path.join(b, "wandb-jobs", "prog", "bundle")))
    row("capture RSS, %d files / %d MB vs 64 MiB" % (files, size >> 20), r[1], 64 << 20,
        "<=1", unit="b")
PY
