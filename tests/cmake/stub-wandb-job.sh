#!/bin/sh
# Stands in for the wandb-job helper in the module tests. Logs every call to <work>/stub.log and,
# for `bundle`, writes <out>/bundle.json and a depfile naming <work>/src/input.txt, where <work>
# is three levels above the spec (<work>/build/wandb-jobs/<target>/spec.json).
set -e
echo "$*" >>"$(dirname "$0")/stub.log"
[ "$1" = bundle ] || exit 0
shift
while [ $# -gt 0 ]; do
  case $1 in
    --spec) spec=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --depfile) depfile=$2; shift 2 ;;
    --target-file) target_file=$2; shift 2 ;;
    --build-type=*) build_type=${1#*=}; shift ;;
    --cxx-standard=*) cxx_standard=${1#*=}; shift ;;
    *) echo "stub: unexpected argument '$1'" >&2; exit 2 ;;
  esac
done
work=$(cd "$(dirname "$spec")/../../.." && pwd)
[ -f "$spec" ] || { echo "stub: no spec $spec" >&2; exit 3; }
[ -f "$target_file" ] || { echo "stub: no target file $target_file" >&2; exit 3; }
mkdir -p "$out"
printf '{"build_type":"%s","cxx_standard":"%s"}\n' "$build_type" "$cxx_standard" >"$out/bundle.json"
printf '%s: %s\n' "$out/bundle.json" "$work/src/input.txt" >"$depfile"
