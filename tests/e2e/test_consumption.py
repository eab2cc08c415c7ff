"""Consuming the module: find_package after `cmake --install` (Ninja, Unix Makefiles, Ninja
Multi-Config), add_subdirectory of the source tree, and FetchContent with a local SOURCE_DIR.
Each builds `train-wandb-job` and checks the bundle. Vendored (a plain add_subdirectory, as a user
writes it, and FetchContent), wandb-job is a guest: the consumer's `all` does not compile the
helper, its `cmake --install` installs nothing of wandb-job, and WANDB_JOB_INSTALL=ON asks for the
install rules.

    test_consumption.py <tool> <source dir> <build dir> package|subdirectory|fetchcontent
"""

import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

# The getter: the bundle directory as the module reports it, written at generate time.
GETTER = ('wandb_job_get_bundle_dir(train train_bundle_dir)\n'
          'file(GENERATE OUTPUT "${CMAKE_BINARY_DIR}/bundle-dir-$<CONFIG>.txt" '
          'CONTENT "${train_bundle_dir}")\n')


def make_project(ctx, mode):
    # No remote: an artifact job, so the code artifact and the generated Dockerfile are checked.
    # The consumer installs its own program.
    files = h.project_files(job_args="PROJECT mnist CONFIG lr=0.01 epochs=3 ARGS --lr {lr}",
                            mode=mode, name="consumer",
                            extra_cmake=GETTER + "install(TARGETS train)\n")
    # A plain add_subdirectory, without EXCLUDE_FROM_ALL: keeping the helper out of `all` is
    # wandb-job's job, not the consumer's.
    files["CMakeLists.txt"] = files["CMakeLists.txt"].replace(" _wandb_job EXCLUDE_FROM_ALL)",
                                                              " _wandb_job)")
    return ctx.new_repo("consumer-%s" % mode, files)


def helper_outputs(build):
    """The helper's object files and binary in a consumer's build tree."""
    found = []
    for d, _, files in os.walk(build):
        rel = os.path.relpath(d, build).split(os.sep)
        if "tool" in rel and ("_wandb_job" in rel or "wandbjob-build" in rel):
            found += [os.path.join(d, f) for f in files
                      if f.endswith(".o") or f in ("wandb-job", "wandb_job_test")]
    return found


def installed_files(prefix):
    return sorted(os.path.relpath(os.path.join(d, f), prefix)
                  for d, _, files in os.walk(prefix) for f in files)


def check_guest(ctx, build):
    """Before any job target is built: `all` builds the consumer's program only, and its install
    holds only the consumer's program."""
    ctx.build(build)
    h.check(os.path.exists(os.path.join(build, "train")), "all did not build train")
    outputs = helper_outputs(build)
    h.check(not outputs, "the consumer's all compiled the helper: %s" % outputs[:5])
    with open(os.path.join(build, "build.ninja")) as f:
        h.check("wandb_job_test" not in f.read(), "the helper's unit tests are in the build")
    prefix = os.path.join(os.path.dirname(build), "install-guest")
    ctx.run(["cmake", "--install", build, "--prefix", prefix])
    h.check_equal(installed_files(prefix), ["bin/train"], "files of the consumer's install")


def check_install_asked(ctx, build):
    """WANDB_JOB_INSTALL=ON: the consumer's install carries wandb-job's package too."""
    ctx.run(["cmake", "-DWANDB_JOB_INSTALL=ON", build])
    ctx.build(build)
    prefix = os.path.join(os.path.dirname(build), "install-asked")
    ctx.run(["cmake", "--install", build, "--prefix", prefix])
    files = installed_files(prefix)
    for f in ("bin/train", "bin/wandb-job"):
        h.check(f in files, "%s not installed with WANDB_JOB_INSTALL=ON: %s" % (f, files[:20]))
    h.check(any(f.endswith("/cmake/WandbJob/WandbJobConfig.cmake") for f in files),
            "no WandbJobConfig.cmake installed with WANDB_JOB_INSTALL=ON: %s" % files[:20])


def check_bundle(ctx, repo, build, config=None, genex_config=None):
    """Checks the bundle of `config` (multi-config) and the getter's output, written per
    $<CONFIG> (`genex_config`, which is CMAKE_BUILD_TYPE in single-config builds)."""
    b = h.Bundle(h.bundle_dir(build, "train", config))
    b.verify()
    h.check_equal(b.meta["source_type"], "artifact", "source_type")
    h.check_equal(b.meta["project"], "mnist", "project")
    h.check_equal(b.meta["cmake_project"], "consumer", "cmake_project")
    h.check_equal(b.meta["job"]["name"], "job-source-mnist-train", "job name")
    h.check_equal(b.meta["code"]["name"], "source-mnist-train", "code artifact name")
    h.check_equal(b.meta["config"], {"lr": 0.01, "epochs": 3}, "config")
    h.check_equal(b.meta["git"]["commit"], repo.head(), "git commit")
    code = b.code_files()
    for f in ("CMakeLists.txt", "train.cpp", "README.md", "Dockerfile.wandb"):
        h.check(f in code, "%s missing from the code artifact: %s" % (f, code))
    h.check_equal(b.job["source"].get("dockerfile"), "Dockerfile.wandb", "source.dockerfile")
    # The run shim renders ARGS when the job runs, from the spec the code carries.
    h.check_equal(b.job["source"]["entrypoint"], h.shim_entrypoint("train"), "entrypoint")
    spec = json.loads(b.read("code", ".wandb-job", "job.json"))
    h.check_equal(spec["args"], ["--lr", "{lr}"], "ARGS template in .wandb-job/job.json")
    h.check_equal(spec["config"], {"lr": 0.01, "epochs": 3}, "defaults in .wandb-job/job.json")
    # Nothing of this machine: not the consumer's paths, the install prefix or the module's
    # source tree.
    hits = h.find_in_tree(b.path, ctx.identity_strings() + [ctx.source_dir, ctx.build_dir])
    h.check(not hits, "machine-specific strings in the bundle: %s" % hits)
    # The getter agrees with where the bundle is.
    genex_config = config if genex_config is None else genex_config
    getter = h.read_text(os.path.join(build, "bundle-dir-%s.txt" % (genex_config or "")))
    h.check_equal(os.path.normpath(getter), b.path, "wandb_job_get_bundle_dir")
    return b


def single_config(ctx, mode, generator, build_type=""):
    repo = make_project(ctx, mode)
    build = os.path.join(os.path.dirname(repo.path), "build")
    ctx.configure(repo.path, build, generator=generator, mode=mode,
                  args=["-DCMAKE_BUILD_TYPE=" + build_type])
    # In-tree consumers compile the helper (its ~40 sources, no tests: WANDB_JOB_BUILD_TESTS
    # is off when vendored) before the first capture; on a loaded machine that alone can take
    # longer than any other build, so it gets most of the test's TIMEOUT.
    in_tree = mode in ("subdirectory", "fetchcontent")
    if in_tree:
        check_guest(ctx, build)
    ctx.build(build, "train-wandb-job", timeout=1400 if in_tree else 900)
    h.check(not in_tree or helper_outputs(build), "the job's target did not build the helper")
    b = check_bundle(ctx, repo, build, genex_config=build_type)
    toolchain = b.lock()["toolchain"]
    h.check_equal(toolchain.get("build_type"), build_type, "lock toolchain.build_type")
    h.check_equal(toolchain.get("generator"), generator, "lock toolchain.generator")
    # The aggregate builds it too, and a second capture of the same state is identical.
    before = h.snapshot_tree(h.bundle_dir(build))
    shutil.rmtree(h.bundle_dir(build))
    ctx.build(build, "job-bundle")
    h.check(h.snapshot_tree(h.bundle_dir(build)) == before,
            "job-bundle gave a different bundle than train-wandb-job")
    if in_tree:
        check_install_asked(ctx, build)


def package_ninja(ctx):
    ctx.require("ninja")
    single_config(ctx, "package", "Ninja")


def package_makefiles(ctx):
    ctx.require("make")
    single_config(ctx, "package", "Unix Makefiles", build_type="Release")


def package_multi_config(ctx):
    ctx.require("ninja")
    repo = make_project(ctx, "package")
    build = os.path.join(os.path.dirname(repo.path), "build")
    ctx.configure(repo.path, build, generator="Ninja Multi-Config", mode="package")
    ctx.build(build, "train-wandb-job", config="Release")
    ctx.build(build, "train-wandb-job", config="Debug")
    release = check_bundle(ctx, repo, build, "Release")
    debug = check_bundle(ctx, repo, build, "Debug")
    h.check(not os.path.exists(h.bundle_dir(build)),
            "a multi-config build wrote the single-config bundle path")
    h.check_equal(release.lock()["toolchain"].get("build_type"), "Release",
                  "lock toolchain.build_type (Release)")
    h.check_equal(debug.lock()["toolchain"].get("build_type"), "Debug",
                  "lock toolchain.build_type (Debug)")
    # The job itself does not depend on the configuration the capture ran in, except through the
    # generated Dockerfile's build type.
    h.check_equal(release.job["source"]["entrypoint"], debug.job["source"]["entrypoint"],
                  "entrypoint of Release vs Debug")


def in_tree(ctx, mode):
    ctx.require("ninja")
    single_config(ctx, mode, "Ninja")


MODES = {
    "package": [("find_package/Ninja", package_ninja),
                ("find_package/Unix Makefiles", package_makefiles),
                ("find_package/Ninja Multi-Config", package_multi_config)],
    "subdirectory": [("add_subdirectory/Ninja", lambda ctx: in_tree(ctx, "subdirectory"))],
    "fetchcontent": [("FetchContent/Ninja", lambda ctx: in_tree(ctx, "fetchcontent"))],
}

if __name__ == "__main__":
    mode = sys.argv[4] if len(sys.argv) > 4 else "package"
    if mode not in MODES:
        sys.exit("unknown mode %r" % mode)
    h.main("consumption-" + mode, MODES[mode],
           setup=lambda ctx: ctx.require("cmake", "git"))
