"""Reproducibility: the same commit (and the same dirty edits) captured in two build directories
at different absolute paths, by a different user with a different HOME at a later moment, gives
byte-identical bundles; no path, user or host name of the machine appears in them."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

USER_A = "reprouseralpha"
USER_B = "reprouserbravo"


def make_repo(ctx):
    extra_cmake = ("add_library(mathlib SHARED mathlib.cpp)\n"
                   "target_link_libraries(train PRIVATE mathlib)\n"
                   "add_executable(evaluate train.cpp)\n"
                   "wandb_add_job(evaluate SOURCE artifact CONFIG batch=32 ARGS --batch {batch})\n")
    files = h.project_files(
        "CONFIG lr=0.01 model.depth=3 sizes=[64,128] ARGS --lr {lr} ALIASES nightly",
        extra_cmake=extra_cmake,
        extra_files={"mathlib.cpp": "int mathlib_answer() { return 42; }\n",
                     "requirements.txt": "numpy==1.26.4\n",
                     "vcpkg.json": '{"name": "demo", "dependencies": []}\n',
                     "data/params.txt": "alpha\n"})
    repo = ctx.new_repo("repro", files, remote="https://github.com/acme/trainer.git")
    repo.tracking_ref()
    repo.write("data/params.txt", "alpha, dirty\n")   # diff.patch
    repo.write("scratch/untracked.txt", "scratch\n")  # in the code artifact
    return repo


def reproducible(ctx):
    repo = make_repo(ctx)
    gen = ctx.generator()
    build_a = os.path.join(ctx.fresh_dir("first"), "build")
    home_a = ctx.make_home("home-a")
    env_a = ctx.make_env(home_a, USER_A)
    ctx.configure(repo.path, build_a, generator=gen, env=env_a)
    ctx.build(build_a, "job-bundle", env=env_a)

    # Later, elsewhere, as someone else.
    time.sleep(2.1)
    build_b = os.path.join(ctx.fresh_dir("second-run"), "deeper", "build-two")
    home_b = ctx.make_home("home-b")
    env_b = ctx.make_env(home_b, USER_B)
    ctx.configure(repo.path, build_b, generator=gen, env=env_b)
    ctx.build(build_b, "job-bundle", env=env_b)

    forbidden = [build_a, build_b, repo.path, ctx.root, home_a, home_b, USER_A, USER_B]
    forbidden += ctx.identity_strings()
    for target, source_type in (("train", "repo"), ("evaluate", "artifact")):
        a = h.Bundle(h.bundle_dir(build_a, target))
        b = h.Bundle(h.bundle_dir(build_b, target))
        a.verify()
        b.verify()
        h.check_equal(a.meta["source_type"], source_type, "%s source_type" % target)
        files_a, files_b = a.files(), b.files()
        h.check_equal(files_b, files_a, "%s: file lists of the two bundles" % target)
        differing = [f for f in files_a if a.read(f) != b.read(f)]
        h.check(not differing, "%s: files differ between the two bundles: %s\n%s" %
                (target, differing, describe_diff(a, b, differing)))
        for bundle in (a, b):
            hits = h.find_in_tree(bundle.path, forbidden)
            h.check(not hits, "%s: machine-specific strings in %s: %s" %
                    (target, bundle.path, hits))
    train = h.Bundle(h.bundle_dir(build_a, "train"))
    h.check(train.exists("job", "diff.patch"), "the dirty edit gave no diff.patch")
    evaluate = h.Bundle(h.bundle_dir(build_a, "evaluate"))
    h.check("scratch/untracked.txt" in evaluate.code_files(), "untracked file not packaged")


def describe_diff(a, b, files):
    out = []
    for f in files[:3]:
        la = a.read(f).decode("utf-8", "replace").splitlines()
        lb = b.read(f).decode("utf-8", "replace").splitlines()
        for i, (x, y) in enumerate(zip(la, lb)):
            if x != y:
                out.append("%s line %d:\n  - %s\n  + %s" % (f, i + 1, x, y))
                break
        else:
            out.append("%s: %d vs %d lines" % (f, len(la), len(lb)))
    return "\n".join(out)


def same_build_twice(ctx):
    """Re-capturing in the same build dir after deleting the bundle gives the same bytes."""
    repo = make_repo(ctx)
    build = os.path.join(ctx.fresh_dir("again"), "build")
    ctx.configure(repo.path, build)
    ctx.build(build, "job-bundle")
    first = {t: h.snapshot_tree(h.bundle_dir(build, t)) for t in ("train", "evaluate")}
    time.sleep(1.1)
    for t in first:
        os.remove(os.path.join(h.bundle_dir(build, t), "bundle.json"))
    ctx.build(build, "job-bundle")
    for t, snap in first.items():
        h.check(h.snapshot_tree(h.bundle_dir(build, t)) == snap, "%s: bundle changed" % t)


# An image job whose program and libraries record their source paths: __FILE__ through assert()
# and a logging macro, in the program, a static library linked after wandb_add_job() and a shared
# library in a subdirectory that the static one links; one source is generated in the build dir.
IMAGE_CMAKE = """cmake_minimum_required(VERSION 3.25)
project(traced LANGUAGES C CXX)
include(WandbJob)
add_executable(train train.cpp)
wandb_add_job(train IMAGE registry.example.com/acme/traced:1 %s)
add_subdirectory(logging)
add_library(model STATIC model.c ${CMAKE_BINARY_DIR}/generated.cpp)
target_link_libraries(model PUBLIC logging)
target_link_libraries(train PRIVATE model)
file(WRITE ${CMAKE_BINARY_DIR}/generated.cpp
  "const char* generated_where() { return __FILE__; }\\n")
"""
IMAGE_FILES = {
    "train.cpp": ('#include <cassert>\n#include <cstdio>\n'
                  'extern "C" int model_depth();\nconst char* generated_where();\n'
                  'int main(int argc, char**) {\n  assert(argc > 0);\n'
                  '  std::printf("%s %s %d\\n", __FILE__, generated_where(), model_depth());\n}\n'),
    "model.c": ('#include "logging/log.h"\n'
                'int model_depth(void) { LOG("depth"); return 3; }\n'),
    "logging/CMakeLists.txt": ("add_library(logging SHARED log.c)\n"
                               "target_include_directories(logging PUBLIC ${PROJECT_SOURCE_DIR})\n"),
    "logging/log.h": ('#define LOG(msg) log_at(__FILE__, __LINE__, msg)\n'
                      'void log_at(const char* file, int line, const char* msg);\n'),
    "logging/log.c": ('#include <stdio.h>\n#include "log.h"\n'
                      'void log_at(const char* file, int line, const char* msg) {\n'
                      '  fprintf(stderr, "%s:%d %s (%s)\\n", file, line, msg, __FILE__);\n}\n'),
}


def image_digest(build):
    lock = json.loads(h.read_text(os.path.join(h.bundle_dir(build), "job",
                                               "wandb-job.image.json")))
    return lock["layout_manifest_digest"]


def image_from_two_checkouts(ctx, job_args):
    """Image digests of the job built from two clones at different paths, each in a build
    directory of its own (one inside its tree), with debug information."""
    files = dict(IMAGE_FILES)
    files["CMakeLists.txt"] = IMAGE_CMAKE % job_args
    repo = ctx.new_repo("traced", files, remote="https://github.com/acme/traced.git")
    repo.tracking_ref()
    other = os.path.join(ctx.fresh_dir("elsewhere"), "deeper", "checkout")
    ctx.run(["git", "clone", "-q", repo.path, other])
    ctx.run(["git", "-C", other, "remote", "set-url", "origin",
             "https://github.com/acme/traced.git"])
    ctx.run(["git", "-C", other, "update-ref", "refs/remotes/origin/main", "HEAD"])
    digests, builds = [], []
    for src, build in ((repo.path, os.path.join(ctx.fresh_dir("b1"), "build")),
                       (other, os.path.join(other, "build"))):
        ctx.configure(src, build, args=["-DCMAKE_BUILD_TYPE=RelWithDebInfo"])
        ctx.build(build, "train-wandb-job")
        digests.append(image_digest(build))
        builds.append(build)
    return digests, builds


def image_any_build_dir(ctx):
    digests, builds = image_from_two_checkouts(ctx, "")
    h.check_equal(digests[1], digests[0], "image digest from the second checkout")
    # The program records its paths relative to the tree; nothing of either checkout's path.
    for build in builds:
        program = h.read_bytes(os.path.join(build, "train"))
        h.check(b"./train.cpp" in program, "__FILE__ is not ./train.cpp in %s" % build)
        h.check(ctx.root.encode() not in program, "a path below %s in the program" % ctx.root)


def image_prefix_map_off(ctx):
    """FILE_PREFIX_MAP OFF keeps the absolute paths, so the two checkouts differ: the case above
    would fail without the map."""
    digests, _ = image_from_two_checkouts(ctx, "FILE_PREFIX_MAP OFF")
    h.check(digests[0] != digests[1], "FILE_PREFIX_MAP OFF gave one digest from two paths")


CASES = [
    ("two build dirs, two users, two moments", reproducible),
    ("same build dir twice", same_build_twice),
    ("image job from two checkouts: one digest", image_any_build_dir),
    ("image job with FILE_PREFIX_MAP OFF", image_prefix_map_off),
]

if __name__ == "__main__":
    h.main("reproducible", CASES, setup=lambda ctx: ctx.require_tool())
