#!/usr/bin/env python3
"""Per-file CPU cost of publishing an artifact job's bundle whose code artifact has N files, for
N = 1k, 10k, 100k (issue 12, item 3): a first publish to a local store, an unchanged publish
(--force: every file checked again), `store verify` of that store, and a first and an
unchanged publish to the fake W&B server (tests/fake_wandb; only wandb-job's CPU is counted,
the fake runs in this process). The bundle is captured once from a one-file project and then
given N more small files in its code artifact, so capture is not part of the figure.

usage: bench_publish.py <wandb-job tool> <wandb-job source dir> [N...]
Measure a Release build of the tool: the default build has no -O.
"""

import base64
import hashlib
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402

KEY = "b" * 40


def grow_bundle(template, out, n):
    """A copy of `template` whose code artifact has `n` more files, manifest and all."""
    shutil.copytree(template, out, symlinks=True)
    manifest_path = os.path.join(out, "code.manifest.json")
    with open(manifest_path) as f:
        manifest = json.load(f)
    for i in range(n):
        rel = "gen/d%03d/f%06d.txt" % (i // 1000, i)
        data = ("generated file %d\n" % i).encode()
        path = os.path.join(out, "code", rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        manifest["contents"][rel] = {
            "digest": base64.b64encode(hashlib.md5(data).digest()).decode(), "size": len(data)}
    manifest["contents"] = dict(sorted(manifest["contents"].items()))
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=4)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    tool = os.path.realpath(sys.argv[1])
    source_dir = os.path.realpath(sys.argv[2])
    sizes = [int(x) for x in sys.argv[3:]] or [1000, 10000, 100000]
    benchlib.require("cmake", "ninja", "git")
    work = tempfile.mkdtemp(prefix="bench-publish-")
    server = None
    try:
        _, build = benchlib.make_project(work, source_dir, tool)
        benchlib.run(["cmake", "--build", build, "--target", "train0-wandb-job"],
                     env=benchlib.clean_env())
        template = os.path.join(build, "wandb-jobs", "train0", "bundle")
        server = benchlib.fake_wandb(source_dir, KEY)
        if server is None:
            print("note: no fake W&B server (python3-graphql-core missing): W&B rows skipped")
        # --force (re-check everything) where the tool has publish receipts.
        force = ["--force"] if "--force" in benchlib.run([tool, "publish", "--help"]) else []
        rows = []
        for n in sizes:
            bundle = os.path.join(work, "bundle-%d" % n)
            grow_bundle(template, bundle, n)
            store = os.path.join(work, "store-%d" % n)
            env = benchlib.clean_env(WANDB_JOB_STORE=store)
            publish = [tool, "publish", "--store", store, bundle]
            costs = {
                "store, first": benchlib.cpu(publish, env=env),
                "store, unchanged": benchlib.best_cpu(publish + force, runs=2, env=env),
                "store verify": benchlib.best_cpu([tool, "store", "verify", "--store", store],
                                                  runs=2, env=env),
            }
            if server is not None:
                wenv = benchlib.clean_env(WANDB_BASE_URL=server.url, WANDB_API_KEY=KEY,
                                          WANDB_PROJECT="bench-%d" % n)
                wpublish = [tool, "publish", bundle]
                costs["W&B, first"] = benchlib.cpu(wpublish, env=wenv)
                costs["W&B, unchanged"] = benchlib.best_cpu(wpublish + force, runs=2,
                                                            env=wenv)
            rows.append((n, costs))
            print("%d files: " % n + ", ".join("%s %.1f us/file" % (k, c * 1e6 / n)
                                               for k, c in costs.items()), flush=True)
            shutil.rmtree(bundle)
            shutil.rmtree(store)
        names = list(rows[0][1])
        print("CPU per file (microseconds):")
        print("%-18s" % "files" + "".join("%12d" % n for n, _ in rows))
        for name in names:
            print("%-18s" % name + "".join("%12.1f" % (c[name] * 1e6 / n) for n, c in rows))
        by_size = dict(rows)
        if 10000 in by_size and 100000 in by_size:
            for name in names:
                ours = by_size[100000][name] * 1e6 / 100000
                base = by_size[10000][name] * 1e6 / 10000
                benchlib.result("publish linearity: %s (us/file at 100k vs 10k)" % name,
                                "%.1f" % ours, "%.1f" % base, "<= 1.5")
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
