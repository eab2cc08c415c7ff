#!/usr/bin/env python3
"""A fresh image build (issue 12, item 5): `cmake --build build --target train0-wandb-job` of an
image job whose image holds a program, its shared-library closure, the run shim and IMAGE_FILES
of real shared libraries (~SIZE MB in all; default 800), with the bundle and the layer cache
removed first, against the same files (unpacked from the image built) as
  - `buildah bud` of `FROM scratch / COPY . /` plus `buildah push` to an oci: directory, and
  - the floor `tar -cf - . | sha256sum`.
CPU times (user + system of the children) in one run; the best of RUNS runs (default 2).

usage: bench_image.py <wandb-job tool> <wandb-job source dir> [SIZE_MB] [RUNS]
Measure a Release build of the tool: the default build has no -O.
"""

import glob
import json
import os
import shutil
import sys
import tarfile
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402


def fill_payload(directory, megabytes):
    """Copies of this machine's shared libraries, up to `megabytes` in all."""
    os.makedirs(directory)
    total, limit, i = 0, megabytes << 20, 0
    libs = sorted(p for p in glob.glob("/usr/lib/x86_64-linux-gnu/*.so*") + glob.glob("/usr/lib/*/*.so*")
                  if os.path.isfile(p) and not os.path.islink(p))
    while total < limit and libs:
        src = libs[i % len(libs)]
        dst = os.path.join(directory, "%05d-%s" % (i, os.path.basename(src)))
        shutil.copyfile(src, dst)
        total += os.path.getsize(dst)
        i += 1
    return total


def unpack_layout(layout, out):
    """Extracts every layer of the layout's one image into `out`."""
    with open(os.path.join(layout, "index.json")) as f:
        manifest_digest = json.load(f)["manifests"][0]["digest"]

    def blob(digest):
        return os.path.join(layout, "blobs", *digest.split(":"))

    with open(blob(manifest_digest)) as f:
        layers = json.load(f)["layers"]
    os.makedirs(out)
    for layer in layers:
        with tarfile.open(blob(layer["digest"])) as t:
            t.extractall(out, filter="tar") if hasattr(tarfile, "data_filter") else t.extractall(out)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    tool = os.path.realpath(sys.argv[1])
    source_dir = os.path.realpath(sys.argv[2])
    megabytes = int(sys.argv[3]) if len(sys.argv) > 3 else 800
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    benchlib.require("cmake", "ninja", "git", "buildah", "tar", "sha256sum")
    work = tempfile.mkdtemp(prefix="bench-image-")
    tag = "localhost/wandb-job-bench-image-%d" % os.getpid()
    try:
        payload = os.path.join(work, "payload")
        size = fill_payload(payload, megabytes)
        _, build = benchlib.make_project(
            work, source_dir, tool,
            job_args="IMAGE localhost:5000/bench/train:1 IMAGE_FILES %s=/opt/payload" % payload)
        env = benchlib.clean_env()
        bundle = os.path.join(build, "wandb-jobs", "train0", "bundle")

        def fresh():
            for d in (bundle, os.path.join(build, "wandb-jobs", ".layers")):
                shutil.rmtree(d, ignore_errors=True)

        ours = benchlib.best_cpu(["cmake", "--build", build, "--target", "train0-wandb-job"],
                                 runs=runs, env=env, before=fresh)
        ctx = os.path.join(work, "ctx")
        unpack_layout(os.path.join(bundle, "image"), ctx)
        with open(os.path.join(work, "Dockerfile"), "w") as f:
            f.write("FROM scratch\nCOPY . /\n")
        oci = os.path.join(work, "oci")

        def clean_buildah():
            shutil.rmtree(oci, ignore_errors=True)
            benchlib.cpu(["buildah", "rmi", "-f", tag], check=False)

        buildah = benchlib.best_cpu(
            ["sh", "-c", 'buildah bud --quiet --layers=false -f "$1" -t "$2" "$3" && '
             'buildah push --quiet "$2" "oci:$4"', "sh", os.path.join(work, "Dockerfile"), tag,
             ctx, oci], runs=runs, env=env, before=clean_buildah)
        clean_buildah()
        floor = benchlib.best_cpu(
            ["sh", "-c", 'tar -C "$1" -cf - --sort=name . | sha256sum', "sh", ctx], runs=runs)
        print("image of %.0f MB of IMAGE_FILES (plus program, closure, shim): wandb-job %.2f s "
              "CPU, buildah bud + push %.2f s, tar | sha256sum %.2f s" %
              (size / 1e6, ours, buildah, floor))
        benchlib.result("image build vs buildah bud + push oci: (CPU s)", "%.2f" % ours,
                        "%.2f" % buildah, "<= 0.25")
        benchlib.result("image build vs tar | sha256sum (CPU s)", "%.2f" % ours, "%.2f" % floor,
                        "<= 3")
    finally:
        benchlib.cpu(["buildah", "rmi", "-f", tag], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
