#!/usr/bin/env python3
"""No-op publish (issue 12, item 1): in a project of JOBS artifact jobs (default 20) that are
built, captured and published, `cmake --build build --target job-publish` against
`cmake --build build` with nothing to do, in the same tree: to a local store, and with a key to
the fake W&B server (tests/fake_wandb; its CPU is not counted). Then the helper's start-up:
`wandb-job --version` against a C++ hello world linking only libc and libstdc++.
CPU times (user + system of the children), the best of RUNS runs (default 10).

usage: bench_noop.py <wandb-job tool> <wandb-job source dir> [JOBS] [RUNS]
"""

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402

KEY = "n" * 40
HELLO = '#include <iostream>\nint main() { std::cout << "hello 0.1.0" << std::endl; }\n'


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    tool = os.path.realpath(sys.argv[1])
    source_dir = os.path.realpath(sys.argv[2])
    jobs = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    benchlib.require("cmake", "ninja", "git", "c++")
    work = tempfile.mkdtemp(prefix="bench-noop-")
    server = None
    try:
        _, build = benchlib.make_project(work, source_dir, tool, jobs=jobs)
        store_env = benchlib.clean_env(WANDB_JOB_STORE=os.path.join(work, "store"))
        build_all = ["cmake", "--build", build]
        publish = ["cmake", "--build", build, "--target", "job-publish"]
        benchlib.run(build_all, env=store_env)
        benchlib.run(publish, env=store_env)
        noop_build = benchlib.best_cpu(build_all, runs=runs, env=store_env)
        noop_store = benchlib.best_cpu(publish, runs=runs, env=store_env)
        print("%d jobs: no-op cmake --build %.1f ms CPU; no-op job-publish to a local store "
              "%.1f ms" % (jobs, noop_build * 1e3, noop_store * 1e3))
        benchlib.result("no-op job-publish, %d jobs, local store (CPU ms)" % jobs,
                        "%.1f" % (noop_store * 1e3), "%.1f" % (noop_build * 1e3), "<= 1.5")
        server = benchlib.fake_wandb(source_dir, KEY)
        if server is None:
            print("note: no fake W&B server (python3-graphql-core missing): W&B row skipped")
        else:
            wandb_env = benchlib.clean_env(WANDB_BASE_URL=server.url, WANDB_API_KEY=KEY)
            benchlib.run(publish, env=wandb_env)
            noop_wandb = benchlib.best_cpu(publish, runs=runs, env=wandb_env)
            noop_build = benchlib.best_cpu(build_all, runs=runs, env=wandb_env)
            print("no-op job-publish to W&B %.1f ms CPU (cmake --build %.1f ms)" %
                  (noop_wandb * 1e3, noop_build * 1e3))
            benchlib.result("no-op job-publish, %d jobs, W&B (CPU ms)" % jobs,
                            "%.1f" % (noop_wandb * 1e3), "%.1f" % (noop_build * 1e3), "<= 1.5")
        hello = os.path.join(work, "hello")
        benchlib.write(hello + ".cc", HELLO)
        benchlib.run(["c++", "-O2", hello + ".cc", "-o", hello])
        version = benchlib.best_cpu([tool, "--version"], runs=runs * 2)
        baseline = benchlib.best_cpu([hello], runs=runs * 2)
        print("wandb-job --version %.2f ms CPU; C++ hello world %.2f ms" %
              (version * 1e3, baseline * 1e3))
        benchlib.result("start-up: wandb-job --version vs hello world (CPU ms)",
                        "%.2f" % (version * 1e3), "%.2f" % (baseline * 1e3), "close to 1")
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
