#!/bin/sh
# Image build time for one program with a shared-library closure, against `tar | gzip |
# sha256sum` of the same files and `buildah bud` of an equivalent Dockerfile, measured in the
# same run by hyperfine; prints the ratios.
# usage: bench_image.sh <image_tool> [executable]   (default: the image tool itself, ~10 MB)
set -eu
tool=$(realpath "$1")
exe=$(realpath "${2:-$1}")
for t in hyperfine buildah python3; do
  command -v "$t" >/dev/null || { echo "skipping: $t not found"; exit 125; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
# The same files: the program and its libraries (ldd lists what the image holds).
mkdir ctx
cp "$exe" ctx/prog
ldd "$exe" | awk '/=> \//{print $3} /^\t\//{print $1}' | sort -u > libs.txt
while read -r lib; do mkdir -p "ctx$(dirname "$lib")"; cp -L "$lib" "ctx$lib"; done < libs.txt
printf 'FROM scratch\nCOPY . /\nENTRYPOINT ["/prog"]\n' > ctx/Dockerfile
hyperfine --warmup 1 --runs 5 --export-json result.json \
  -n wandb-job "rm -rf img && $tool build --target-file $exe --out img --created 0" \
  -n tar-gzip "tar -C ctx -cf - --sort=name --mtime=@0 --owner=0 --group=0 . | gzip | sha256sum" \
  -n buildah "buildah bud --quiet --layers=false -t bench-image ctx >/dev/null && buildah rmi -f bench-image >/dev/null"
python3 - <<'PY'
import json
r = {x["command"]: x["mean"] for x in json.load(open("result.json"))["results"]}
ours = r["wandb-job"]
print(f"wandb-job {ours:.3f}s; tar|gzip|sha256sum {r['tar-gzip']:.3f}s "
      f"(ratio {ours / r['tar-gzip']:.2f}); buildah bud {r['buildah']:.3f}s "
      f"(ratio {ours / r['buildah']:.2f})")
PY
