"""Artifact jobs build from their code artifact alone: a project that gets the module with
find_package(WandbJob) and whose target exists only with -DBUILD_EXAMPLES=ON (CMAKE_ARGS)
publishes a job whose code artifact, copied alone into a fresh directory, configures and builds
with the recorded arguments and the package it carries (no install prefix in sight), and
`wandb-job run` of the published job builds and runs it with the launch config.

    test_launch_artifact.py <tool> <source dir> <build dir>
"""

import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

CMAKELISTS = """cmake_minimum_required(VERSION 3.25)
project(optproj LANGUAGES CXX)
find_package(WandbJob 0.1 CONFIG REQUIRED)
option(BUILD_EXAMPLES "Build the example trainer" OFF)
set(GREETING "unset" CACHE STRING "What the trainer says")
if(BUILD_EXAMPLES)
  add_executable(train examples/train.cpp)
  target_compile_definitions(train PRIVATE "GREETING=\\"${GREETING}\\"")
  wandb_add_job(train PROJECT optproj CONFIG lr=0.01 epochs=2 ARGS --lr {lr} --epochs {epochs}
                CMAKE_ARGS -DBUILD_EXAMPLES=ON "-DGREETING:STRING=hello there"
                PACKAGES libeigen3-dev)
endif()
"""

TRAIN = r"""#include <cstdio>
#include <cstring>
int main(int argc, char** argv) {
  const char* lr = "?";
  const char* epochs = "?";
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--lr") == 0) lr = argv[i + 1];
    if (std::strcmp(argv[i], "--epochs") == 0) epochs = argv[i + 1];
  }
  std::printf("lr=%s epochs=%s greeting=%s\n", lr, epochs, GREETING);
  return 0;
}
"""

JOB = "job-source-optproj-train"


def capture(ctx):
    repo = ctx.new_repo("optproj", {"CMakeLists.txt": CMAKELISTS, "examples/train.cpp": TRAIN})
    build = os.path.join(os.path.dirname(repo.path), "build")
    ctx.configure(repo.path, build, mode="package",
                  args=["-DCMAKE_BUILD_TYPE=Release", "-DBUILD_EXAMPLES=ON",
                        "-DGREETING=hello there"])
    ctx.build(build, "train-wandb-job")
    b = h.Bundle(h.bundle_dir(build))
    b.verify()
    return b


def configure_from_record(code, build):
    """The generated Dockerfile's configure and build steps (launch_files.cc), on this host."""
    record = json.loads(h.read_text(os.path.join(code, ".wandb-job", "configure.json")))
    source = os.path.join(code, record["source_subdir"]) if record["source_subdir"] else code
    configure = ["cmake", "-S", source, "-B", build, "-G", "Ninja", "--no-warn-unused-cli",
                 "-DCMAKE_BUILD_TYPE=" + record["build_type"],
                 "-DWandbJob_DIR=" + os.path.join(code, ".wandb-job", "cmake"),
                 "-DWANDB_JOB_CAPTURE=OFF", "-DWANDB_JOB_BUILD_TOOL=OFF",
                 "-DWANDB_JOB_BUILD_TESTS=OFF"] + record["cmake_args"]
    return record, configure, ["cmake", "--build", build, "--target", record["target"]]


def code_builds_alone(ctx):
    ctx.require("ninja")
    b = capture(ctx)
    h.check_equal(b.meta["source_type"], "artifact", "source_type")
    h.check_equal(b.meta["job"]["name"], JOB, "job name")
    h.check_equal(b.job["source"]["entrypoint"], h.shim_entrypoint("train"), "entrypoint")
    h.check("base_image" not in b.job["source"], "source.base_image set: the agent would not build")
    for word in b.job["source"]["entrypoint"]:
        h.check(all(c.isalnum() or c in "_./+=:@-" for c in word), "entrypoint word %r" % word)

    # The code artifact, alone in a fresh directory: nothing of the install prefix is reachable.
    code = os.path.join(ctx.fresh_dir("unpacked"), "src")
    shutil.copytree(b.file("code"), code)
    fresh_build = os.path.join(os.path.dirname(code), "build")
    record, configure, build_cmd = configure_from_record(code, fresh_build)
    h.check_equal(record["cmake_args"], ["-DBUILD_EXAMPLES=ON", "-DGREETING:STRING=hello there"],
                  "recorded CMAKE_ARGS")
    h.check_equal(record["build_type"], "Release", "recorded build type")
    h.check_equal(record["target"], "train", "recorded target")
    dockerfile = b.read("code", "Dockerfile.wandb").decode()
    h.check("-DBUILD_EXAMPLES=ON '-DGREETING:STRING=hello there'" in dockerfile,
            "the Dockerfile does not configure with CMAKE_ARGS:\n" + dockerfile)
    h.check("libeigen3-dev" in dockerfile, "PACKAGES not installed by the Dockerfile")
    shim_at = dockerfile.find("COPY .wandb-job/wandb-job-src.tar")
    h.check(0 < shim_at < dockerfile.find("COPY . /src"),
            "the shim is not built before the job's code is copied:\n" + dockerfile)
    env = {k: v for k, v in ctx.env.items() if k not in ("CMAKE_PREFIX_PATH", "WandbJob_DIR")}
    ctx.run(configure, env=env)
    ctx.run(build_cmd, env=env)
    exe = os.path.join(fresh_build, record["target_relpath"])
    out = ctx.run([exe, "--lr", "0.5", "--epochs", "1"], env=env).stdout
    h.check_equal(out.strip(), "lr=0.5 epochs=1 greeting=hello there", "the program's output")

    # Without the recorded CMAKE_ARGS the target does not exist: the record is what builds it.
    bare = [a for a in configure if a not in record["cmake_args"]]
    bare[bare.index(fresh_build)] = fresh_build + "-bare"
    ctx.run(bare, env=env)
    p = ctx.run(["cmake", "--build", fresh_build + "-bare", "--target", "train"], env=env,
                check=False)
    h.check(p.returncode != 0, "train was built without BUILD_EXAMPLES=ON")

    # The tool's sources the image builds the shim from: no tests, no examples.
    import tarfile
    with tarfile.open(os.path.join(code, ".wandb-job", "wandb-job-src.tar")) as tar:
        names = tar.getnames()
    h.check("tool/exec_shim.cc" in names and "CMakeLists.txt" in names,
            "the shim's sources are incomplete: %s" % names[:20])
    h.check(not any(n.endswith("_test.cc") or n.startswith(("tests/", "examples/"))
                    for n in names), "tests or examples in the shim's sources")


def run_published(ctx):
    ctx.require("ninja")
    b = capture(ctx)
    store = os.path.join(ctx.root, "store-run")
    env = dict(ctx.env)
    env["WANDB_JOB_STORE"] = store
    ctx.run([ctx.tool, "publish", b.path], env=env)
    p = ctx.run([ctx.tool, "run", "optproj/" + JOB, "-c", "lr=0.25", "--run-id", "artrun01"],
                env=env)
    lines = p.stdout.splitlines()
    h.check("lr=0.25 epochs=2 greeting=hello there" in lines,
            "wandb-job run output: %r\nstderr: %s" % (lines, p.stderr[-2000:]))


CASES = [
    ("code artifact configures and builds alone", code_builds_alone),
    ("wandb-job run of the published job", run_published),
]

if __name__ == "__main__":
    h.main("launch_artifact", CASES, setup=lambda ctx: ctx.require_tool())
