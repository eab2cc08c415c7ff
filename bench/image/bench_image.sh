#!/bin/sh
# A fresh image build of an image job (`cmake --build` of its capture target) against `buildah
# bud` + push to an oci: directory and the `tar | sha256sum` floor of the same files, CPU times in
# one run (bench_image.py says more). Not part of the test suite.
# usage: bench_image.sh <wandb-job tool> <wandb-job source dir> [SIZE_MB] [RUNS]
exec python3 "$(dirname "$0")/bench_image.py" "$@"
