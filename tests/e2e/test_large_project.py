"""A project no one here wrote: generated, with 10+ targets across subdirectories, three shared
libraries depending on each other, a static library, an executable per subdirectory, CMake's
default RPATH and an install() rule. Two executables get jobs; job-bundle captures both."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

REMOTE = "git@github.com:acme/bigproject.git"

# name: (kind, dir, dependencies)
LIBS = {
    "core": ("SHARED", "libs/core", []),
    "tensor": ("SHARED", "libs/tensor", ["core"]),
    "model": ("SHARED", "libs/model", ["tensor", "util"]),
    "util": ("STATIC", "libs/util", []),
}
# executable: (dir, dependencies)
EXES = {
    "train": ("apps/trainer", ["model"]),
    "evaluate": ("apps/evaluator", ["tensor"]),
    "bench": ("apps/bench", ["core"]),
    "convert": ("tools/convert", ["util"]),
    "inspect": ("tools/inspect", ["model", "util"]),
    "serve": ("services/serve", ["model"]),
}


def generate():
    files = {}
    subdirs = []
    for name, (kind, d, deps) in LIBS.items():
        subdirs.append(d)
        calls = " + ".join("%s_value()" % dep for dep in deps) or "0"
        decls = "".join("int %s_value();\n" % dep for dep in deps)
        files["%s/include/%s.h" % (d, name)] = "#pragma once\nint %s_value();\n" % name
        files["%s/src/%s.cpp" % (d, name)] = (
            '#include "%s.h"\n%sint %s_value() { return 1 + %s; }\n' % (name, decls, name, calls))
        cmake = ("add_library(%s %s src/%s.cpp)\n"
                 "target_include_directories(%s PUBLIC include)\n" % (name, kind, name, name))
        if kind == "STATIC":
            cmake += "set_target_properties(%s PROPERTIES POSITION_INDEPENDENT_CODE ON)\n" % name
        if name == "tensor":
            cmake += "set_target_properties(tensor PROPERTIES VERSION 1.2.0 SOVERSION 1)\n"
        if deps:
            cmake += "target_link_libraries(%s PRIVATE %s)\n" % (name, " ".join(deps))
        files["%s/CMakeLists.txt" % d] = cmake
    for exe, (d, deps) in EXES.items():
        subdirs.append(d)
        decls = "".join("int %s_value();\n" % dep for dep in deps)
        calls = " + ".join("%s_value()" % dep for dep in deps)
        files["%s/main.cpp" % d] = "%sint main() { return (%s) > 0 ? 0 : 1; }\n" % (decls, calls)
        cmake = ("add_executable(%s main.cpp)\ntarget_link_libraries(%s PRIVATE %s)\n"
                 % (exe, exe, " ".join(deps)))
        if exe == "train":
            cmake += "wandb_add_job(train CONFIG epochs=5 ARGS --epochs {epochs})\n"
        if exe == "evaluate":
            cmake += "wandb_add_job(evaluate SOURCE artifact)\n"
        files["%s/CMakeLists.txt" % d] = cmake
    files["CMakeLists.txt"] = (
        "cmake_minimum_required(VERSION 3.25)\n"
        "project(bigproject VERSION 2.0 LANGUAGES CXX)\n"
        "include(GNUInstallDirs)\n"
        "include(WandbJob)\n" +
        "".join("add_subdirectory(%s)\n" % d for d in subdirs) +
        "add_library(bigproject_options INTERFACE)\n"
        "add_custom_target(docs COMMAND ${CMAKE_COMMAND} -E echo docs)\n"
        "install(TARGETS %s core tensor model)\n" % " ".join(EXES))
    files["README.md"] = "# bigproject\n"
    files[".gitignore"] = "/build*/\n"
    return files


def large_project(ctx):
    repo = ctx.new_repo("bigproject", generate(), remote=REMOTE)
    repo.tracking_ref()
    build = os.path.join(repo.path, "build")  # inside the work tree, ignored by git
    ctx.configure(repo.path, build)
    ctx.build(build, "job-bundle")
    # All executables build, and the project installs, as before the jobs were added.
    ctx.build(build)
    ctx.run(["cmake", "--install", build, "--prefix", ctx.path("big-install")])

    train = h.Bundle(h.bundle_dir(build, "train"))
    train.verify()
    h.check_equal(train.meta["source_type"], "repo", "train source_type")
    h.check_equal(train.meta["job"]["name"],
                  "job-git_github.com_acme_bigproject.git_apps_trainer_train", "train job name")
    h.check_equal(train.job["source"]["git"]["remote"], REMOTE, "scp-like remote kept")
    h.check_equal(train.job["source"]["entrypoint"], h.shim_entrypoint("train"),
                  "train entrypoint")
    spec = json.loads(train.read("launch", ".wandb-job", "job.json"))
    h.check_equal(spec, {"config": {"epochs": 5}, "args": ["--epochs", "{epochs}"]},
                  "train CONFIG and ARGS in the job spec to commit")
    configure = json.loads(train.read("launch", ".wandb-job", "configure.json"))
    h.check_equal(configure["source_subdir"], "", "the project is the repository root")
    closure = {e.get("soname"): e for e in train.lock().get("runtime", [])}
    for soname, path in (("libcore.so", "<build>/libs/core/libcore.so"),
                         ("libtensor.so.1", "<build>/libs/tensor/libtensor.so.1"),
                         ("libmodel.so", "<build>/libs/model/libmodel.so")):
        h.check(soname in closure, "train's closure lacks %s: %s" % (soname, sorted(closure)))
        h.check_equal(closure[soname].get("path"), path, "path of %s" % soname)
        h.check(not closure[soname].get("sha256"), "%s is hashed" % soname)
    h.check(not any("util" in (s or "") for s in closure), "the static library in the closure")

    evaluate = h.Bundle(h.bundle_dir(build, "evaluate"))
    evaluate.verify()
    h.check_equal(evaluate.meta["source_type"], "artifact", "evaluate source_type")
    h.check_equal(evaluate.meta["job"]["name"], "job-source-bigproject-apps_evaluator_evaluate",
                  "evaluate job name")
    closure = {e.get("soname") for e in evaluate.lock().get("runtime", [])}
    h.check({"libtensor.so.1", "libcore.so"} <= closure, "evaluate's closure: %s" % closure)
    h.check("libmodel.so" not in closure, "evaluate does not need libmodel.so")
    code = evaluate.code_files()
    for exe, (d, _) in EXES.items():
        h.check("%s/main.cpp" % d in code, "%s/main.cpp missing from the code artifact" % d)
    h.check(not any(f.startswith("build/") for f in code), "the build dir is in the code artifact")
    dockerfile = evaluate.read("code", "Dockerfile.wandb").decode()
    h.check("apps/evaluator/evaluate" in dockerfile,
            "Dockerfile.wandb does not install the target from its build path:\n" + dockerfile)

    # No other target got a job (.content is the bundles' shared content cache).
    jobs = sorted(os.listdir(os.path.join(build, "wandb-jobs")))
    h.check(".content" in jobs, "no shared content cache in wandb-jobs/")
    jobs.remove(".content")
    h.check_equal(jobs, ["evaluate", "train"], "job directories")


if __name__ == "__main__":
    h.main("large-project", [("generated project", large_project)],
           setup=lambda ctx: ctx.require_tool())
