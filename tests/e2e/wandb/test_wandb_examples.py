"""End to end: this repository's examples (examples/trainer, examples/evaluator), copied into a
fresh git repository, captured with `job-bundle` and published to the fake W&B server twice: the
second publish creates no version and uploads nothing.

    python3 test_wandb_examples.py <wandb-job tool> <wandb-job source dir>

Exits 125 (skip) when cmake, git, ninja or graphql-core is missing.
"""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_wandb_publish as base  # noqa: E402  (World, check, KEY, ENTITY, PROJECT)

TOP = """cmake_minimum_required(VERSION 3.25)
project(wandb-job-examples LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 17)
find_package(nlohmann_json 3.9 REQUIRED)
add_library(wandb_job_api INTERFACE)
target_include_directories(wandb_job_api INTERFACE ${CMAKE_CURRENT_SOURCE_DIR}/include)
target_link_libraries(wandb_job_api INTERFACE nlohmann_json::nlohmann_json)
include(${CMAKE_CURRENT_SOURCE_DIR}/cmake/WandbJob.cmake)
add_subdirectory(examples)
"""


def main(argv):
    tool, source_dir = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    for prog in ("cmake", "git", "ninja"):
        if shutil.which(prog) is None:
            print("skipped: %s not found" % prog)
            return base.SKIP
    sys.path.insert(0, os.path.join(source_dir, "tests", "fake_wandb"))
    import fake_wandb
    if fake_wandb.graphql is None:
        print("skipped: graphql-core is not importable (Debian: python3-graphql-core)")
        return base.SKIP
    w = base.World(tool, source_dir)
    w.fake = fake_wandb.FakeWandb(base.KEY, entity="viewer-entity").start()
    try:
        os.makedirs(w.src)
        for part in ("examples", "include", "cmake", "templates"):
            shutil.copytree(os.path.join(source_dir, part), os.path.join(w.src, part))
        w.write("CMakeLists.txt", TOP)
        w.git("init", "-q", "-b", "main")
        w.commit("examples")
        # The copy holds the module but not the helper's sources, which artifact jobs carry to
        # build the run shim in the agent's image: name the real tree.
        w.run(["cmake", "-S", w.src, "-B", w.build, "-G", "Ninja", "-DWANDB_JOB_TOOL=" + tool,
               "-DWANDB_JOB_SOURCE_DIR=" + source_dir])
        w.run(["cmake", "--build", w.build, "--target", "job-bundle"])
        bundles = [os.path.join(w.build, "wandb-jobs", t, "bundle") for t in ("train", "evaluate")]
        env = w.wandb_env()
        first = w.run([tool, "publish", "--json"] + bundles, extra_env=env)
        jobs = base.json.loads(first.stdout)
        base.check([j["new"] for j in jobs] == [True, True], "both examples new: %s" % jobs)
        base.check(jobs[0]["name"] == "trainer", "the trainer's NAME: %s" % jobs[0]["name"])
        uploaded = len(w.fake.puts)
        base.check(uploaded > 0, "the first publish uploads files")
        w.fake.reset_stats()
        second = w.run([tool, "publish", "--json"] + bundles, extra_env=env)
        again = base.json.loads(second.stdout)
        base.check([j["new"] for j in again] == [False, False], "nothing new: %s" % again)
        base.check([j["version"] for j in again] == [j["version"] for j in jobs],
                   "same versions: %s vs %s" % (again, jobs))
        base.check(w.fake.puts == [], "nothing uploaded the second time: %s" % w.fake.puts)
        base.check(len(w.fake.versions("trainer", entity=base.ENTITY)) == 1, "one trainer version")
        for text in w.outputs:
            base.check(base.KEY not in text, "the key appears in an output")
        print("ok   examples published twice (%d files the first time, none the second)"
              % uploaded)
        return 0
    except base.Failure as e:
        print("FAIL %s" % e)
        return 1
    finally:
        w.fake.stop()
        shutil.rmtree(w.root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
