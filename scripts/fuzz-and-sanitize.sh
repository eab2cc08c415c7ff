#!/usr/bin/env bash
# Builds wandb-job with clang, AddressSanitizer and UndefinedBehaviorSanitizer in its own build
# directory, runs the unit tests (GoogleTest) once under them, then runs each libFuzzer target of
# tests/fuzz for a bounded time over its committed seed corpus. Any sanitizer report or fuzzer
# crash fails the script; a crashing input is left in <build dir>/fuzz-artifacts/.
#
#   scripts/fuzz-and-sanitize.sh [build dir]      (default: build-sanitize)
#
# FUZZ_SECONDS (default 20): time per fuzz target. FUZZ_JOBS (default 2): targets run at once.
# CXX: the clang to use (default clang++-14, else clang++).
set -euo pipefail
cd "$(dirname "$0")/.."
src="$(pwd)"
build="${1:-build-sanitize}"
fuzz_seconds="${FUZZ_SECONDS:-20}"
fuzz_jobs="${FUZZ_JOBS:-2}"

cxx="${CXX:-}"
if [ -z "$cxx" ]; then
  cxx="$(command -v clang++-14 || command -v clang++ || true)"
fi
if [ -z "$cxx" ]; then
  echo "fuzz-and-sanitize: clang++ not found; run scripts/install-deps.sh" >&2
  exit 1
fi
cc="${cxx/clang++/clang}"

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
# -O1 and line tables only: quick to build, and still readable sanitizer stacks.
cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_BUILD_TYPE= -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" "${launcher[@]}" \
  -DWANDB_JOB_FUZZ=ON -DWANDB_JOB_BUILD_EXAMPLES=OFF -DWANDB_JOB_BUILD_TESTS=ON >/dev/null
cmake --build "$build" --target wandb-job wandb_job_test wandb_job_api_test fuzz

export ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
# Leaks inside Debian's libgit2 and libarchive are theirs: suppressed by function name only, which
# needs whole allocation stacks (fast_unwind_on_malloc=0: the libraries have no frame pointers).
export LSAN_OPTIONS="suppressions=$src/tests/fuzz/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

echo "== unit tests under ASan/UBSan"
WANDB_JOB_TEST_BINARY="$(pwd)/$build/tool/wandb-job" "$build/tool/wandb_job_test" --gtest_brief=1
"$build/tests/api/wandb_job_api_test" --gtest_brief=1

echo "== fuzzing, ${fuzz_seconds}s per target"
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"
# Inputs the fuzzers find go to a scratch corpus, not into the committed seeds.
fuzz_one() {
  local name="$1"
  local corpus="$build/fuzz-corpus/$name"
  mkdir -p "$corpus"
  if "$build/tests/fuzz/${name}_fuzz" -max_total_time="$fuzz_seconds" -timeout=10 \
      -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$artifacts/${name}-" "$corpus" "$src/tests/fuzz/corpus/$name" \
      >"$build/fuzz-$name.log" 2>&1; then
    echo "fuzz $name: ok ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$build/fuzz-$name.log" | grep -o '[0-9]*$') runs)"
  else
    echo "fuzz $name: FAILED; input in $artifacts/, log:" >&2
    tail -n 60 "$build/fuzz-$name.log" >&2
    return 1
  fi
}
failed=0
running=0
for dir in tests/fuzz/corpus/*/; do
  name="$(basename "$dir")"
  fuzz_one "$name" &
  running=$((running + 1))
  if [ "$running" -ge "$fuzz_jobs" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz-and-sanitize: a fuzz target failed" >&2
  exit 1
fi
echo "fuzz-and-sanitize: all clean"
