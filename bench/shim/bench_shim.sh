#!/bin/sh
# What `wandb-job exec` costs the program it runs (issue 12, item 4), each figure against its
# baseline measured in the same run:
#   - CPU of N wandb::Run::log() calls (default 1e5) under the shim, reporting offline to a
#     temporary local store, against the program writing its metrics file itself (goal 1.5x);
#   - the program's own wall time while printing L lines (default 2e5) under the shim reporting
#     online to the fake W&B server (tests/fake_wandb) that delays every file_stream request,
#     against the same under the offline shim (goal 1.2x);
#   - how long the shim outlives that program (flushing the spooled tail), against the bound
#     WANDB_JOB_EXIT_FLUSH_SECONDS, for the slow server and for one that stalls every request;
#   - the peak RSS of the shim with the slow server against the offline shim.
# Prints one line per figure: figure<TAB>wandb-job<TAB>baseline<TAB>ratio<TAB>goal.
# Not part of the test suite; needs c++, python3 and graphql-core (for the fake).
# usage: bench_shim.sh <wandb-job tool> <wandb-job source dir> [N] [L]
# Measure a Release build of the tool (-DCMAKE_BUILD_TYPE=Release): the default has no -O.
set -eu
tool=$(realpath "$1")
src=$(realpath "$2")
n=${3:-100000}
lines=${4:-200000}
for t in c++ python3; do
  command -v "$t" >/dev/null || { echo "skipping: $t not found"; exit 125; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/prog.cc" <<'CC'
#include <wandb/job.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
// prog log N: N log() calls. prog print L: L printed lines; its own wall time goes to the
// file named by BENCH_ELAPSED_FILE.
int main(int argc, char** argv) {
  auto start = std::chrono::steady_clock::now();
  long n = argc > 2 ? std::atol(argv[2]) : 100000;
  if (argc > 1 && std::strcmp(argv[1], "print") == 0) {
    for (long i = 0; i < n; ++i) {
      std::printf("step %ld loss %.6f and some more text to make a log line\n", i, 1.0 / (i + 1));
    }
    std::fflush(stdout);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (const char* f = std::getenv("BENCH_ELAPSED_FILE")) {
      if (FILE* out = std::fopen(f, "w")) {
        std::fprintf(out, "%.6f\n", s);
        std::fclose(out);
      }
    }
    return 3;  // the exit code must come through
  }
  wandb::Run run = wandb::Run::FromEnvironment();
  for (long i = 0; i < n; ++i) {
    run.log({{"loss", 1.0 / static_cast<double>(i + 1)}, {"epoch", i}});
  }
  run.summary({{"done", true}});
  return 0;
}
CC
c++ -std=c++17 -O2 -I "$src/include" "$work/prog.cc" -o "$work/prog"
python3 - "$tool" "$work" "$n" "$lines" "$src" <<'PY'
import os, resource, subprocess, sys, time
tool, work, n, lines, src = sys.argv[1:6]
prog = os.path.join(work, "prog")

def measure(cmd, env, expect=0):
    """CPU seconds and peak RSS (KiB) of the command and what it waited for, wall seconds."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != expect:
        sys.exit("%s exited %d, not %d:\n%s" % (cmd, code, expect, err.decode(errors="replace")))
    return usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss

def row(figure, ours, base, goal, fmt="%.3f"):
    ratio = ours / max(base, 1e-6)
    print("%s\t%s\t%s\t%.2f\t%s" % (figure, fmt % ours, fmt % base, ratio, goal), flush=True)

offline = dict(os.environ, WANDB_MODE="offline", WANDB_RUN_ID="benchrun",
               WANDB_JOB_STORE=os.path.join(work, "store"))
offline.pop("WANDB_API_KEY", None)

# 1. log() calls: CPU under the shim against the program alone (best of 3).
best_alone = best_shim = None
for attempt in range(3):
    metrics = os.path.join(work, "metrics-%d.jsonl" % attempt)
    open(metrics, "w").close()
    alone = measure([prog, "log", n], dict(offline, WANDB_JOB_METRICS_FILE=metrics))[0]
    shim = measure([tool, "exec", "--run-id", "bench%03d" % attempt, "--", prog, "log", n],
                   offline)[0]
    best_alone = alone if best_alone is None else min(best_alone, alone)
    best_shim = shim if best_shim is None else min(best_shim, shim)
row("exec: %s log() calls, CPU s (program alone)" % n, best_shim, best_alone, "<=1.5")

# 2. printed lines, online to a slow and to a stalled fake W&B against offline.
sys.path.insert(0, os.path.join(src, "tests", "fake_wandb"))
try:
    import fake_wandb
    if fake_wandb.graphql is None:
        raise ImportError("graphql-core")
except Exception as e:  # noqa: BLE001
    print("skipping the online figures: the fake W&B server needs graphql-core (%s)" % e)
    sys.exit(0)

bound = 5.0
elapsed = os.path.join(work, "elapsed")

def print_run(env, run_id):
    cpu, wall, rss = measure([tool, "exec", "--run-id", run_id, "--", prog, "print", lines],
                             dict(env, BENCH_ELAPSED_FILE=elapsed), expect=3)
    with open(elapsed) as f:
        program = float(f.read())
    return program, wall, rss

key = "bench-" + "k3y" * 14
def online(fake):
    env = dict(os.environ, WANDB_BASE_URL=fake.url, WANDB_API_KEY=key, WANDB_ENTITY="bench",
               WANDB_PROJECT="shim", WANDB_JOB_EXIT_FLUSH_SECONDS=str(bound),
               WANDB_JOB_STORE=os.path.join(work, "store"))
    env.pop("WANDB_MODE", None)
    return env

off_prog, off_wall, off_rss = min(print_run(offline, "off%d" % i) for i in range(3))
slow = fake_wandb.FakeWandb(api_key=key).start()
slow.add_fault("file_stream", "slow", delay=0.5, times=10**9)
slow_prog, slow_wall, slow_rss = min(print_run(online(slow), "slow%d" % i) for i in range(3))
slow.stop()
stalled = fake_wandb.FakeWandb(api_key=key).start()
stalled.add_fault("file_stream", "stall", times=10**9)
st_prog, st_wall, st_rss = print_run(online(stalled), "stalled")
stalled.release_stalled()
stalled.stop()
row("exec: %s printed lines, program wall s, W&B delaying file_stream 0.5 s (offline)" % lines,
    slow_prog, off_prog, "<=1.2")
row("exec: same, program wall s, W&B stalling file_stream (offline)", st_prog, off_prog,
    "<=1.2")
row("exec: exit after the program, s, slow W&B (bound WANDB_JOB_EXIT_FLUSH_SECONDS)",
    max(0.0, slow_wall - slow_prog), bound, "<=1 (+1 s)")
row("exec: exit after the program, s, stalled W&B (bound)", max(0.0, st_wall - st_prog), bound,
    "<=1 (+1 s)")
row("exec: peak RSS KiB, slow W&B (offline)", slow_rss, off_rss, "<=2", "%d")
PY
