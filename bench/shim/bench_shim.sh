#!/bin/sh
# CPU cost of `wandb-job exec` for a program that logs many metrics: N wandb::Run::log() calls
# (default 1e5) under the shim (reporting offline to a temporary local store), against the same
# program writing its metrics file itself. Prints both CPU times (user + system, the shim's
# children included) and their ratio. Not part of the test suite.
# usage: bench_shim.sh <wandb-job tool> <wandb-job source dir> [N]
# Measure a Release build of the tool (-DCMAKE_BUILD_TYPE=Release): the default has no -O.
set -eu
tool=$(realpath "$1")
src=$(realpath "$2")
n=${3:-100000}
for t in c++ python3; do
  command -v "$t" >/dev/null || { echo "skipping: $t not found"; exit 125; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/prog.cc" <<'CC'
#include <wandb/job.h>
#include <cstdlib>
int main(int argc, char** argv) {
  long n = argc > 1 ? std::atol(argv[1]) : 100000;
  wandb::Run run = wandb::Run::FromEnvironment();
  for (long i = 0; i < n; ++i) {
    run.log({{"loss", 1.0 / static_cast<double>(i + 1)}, {"epoch", i}});
  }
  run.summary({{"done", true}});
  return 0;
}
CC
c++ -std=c++17 -O2 -I "$src/include" "$work/prog.cc" -o "$work/prog"
python3 - "$tool" "$work" "$n" <<'PY'
import os, resource, subprocess, sys
tool, work, n = sys.argv[1], sys.argv[2], sys.argv[3]

def cpu(cmd, env):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

base = dict(os.environ, WANDB_MODE="offline", WANDB_RUN_ID="benchrun",
            WANDB_JOB_STORE=os.path.join(work, "store"))
base.pop("WANDB_API_KEY", None)
best_alone = best_shim = None
for attempt in range(3):
    metrics = os.path.join(work, "metrics-%d.jsonl" % attempt)
    open(metrics, "w").close()
    alone = cpu([os.path.join(work, "prog"), n], dict(base, WANDB_JOB_METRICS_FILE=metrics))
    shim = cpu([tool, "exec", "--run-id", "bench%03d" % attempt, "--",
                os.path.join(work, "prog"), n], base)
    best_alone = alone if best_alone is None else min(best_alone, alone)
    best_shim = shim if best_shim is None else min(best_shim, shim)
print("%s log() calls: program alone %.3fs CPU, under wandb-job exec %.3fs CPU, ratio %.2f"
      % (n, best_alone, best_shim, best_shim / max(best_alone, 1e-6)))
PY
