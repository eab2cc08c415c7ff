"""Image jobs end to end, through the CMake module: wandb_add_job(... IMAGE ...) and
`cmake --build <build> --target job-publish` build the image, push it to a real registry
(Debian's docker-registry on 127.0.0.1) tagged with the job's aliases, and publish the job into a
temporary local store. The pushed image is pulled with skopeo, unpacked with umoci and run with
runc. Cases:

  module   the job's name, aliases, metadata and tags; the program's output from the image, run by
           the shim (wandb-job exec) with the default ARGS, and with ARGS rendered from a
           WANDB_CONFIG given to the container; the image config (shim entrypoint, empty Cmd,
           the shim's layer at the bottom); the same commit in two build directories gives one
           digest; a changed program re-uploads only its layer and makes a new job version; a job
           with IMAGE_SHIM OFF runs its program directly
  auth     a registry with htpasswd basic auth: no credentials fail with a clear line and publish
           nothing; credentials from $DOCKER_CONFIG/config.json work
  gtest    a project no one here wrote, linking shared libraries of its own: GoogleTest's sources
           from /usr/src/googletest (libgtest-dev) built with BUILD_SHARED_LIBS=ON, its
           sample1_unittest published as an image job and run from the image under the shim

Skips (125) when not root (runc) or when docker-registry, skopeo, umoci, runc or htpasswd is
missing. Run by ctest as: python3 test_image_jobs.py <wandb-job> <source dir> <build dir> <case>
"""

import base64
import json
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness as h  # noqa: E402

GTEST_SOURCE = "/usr/src/googletest"

SIZE = r"\d+(?:\.\d+)? (?:B|KiB|MiB|GiB)"
# A progress line of a registry push: blobs done of all, bytes, and rate and ETA or the time.
PUSH_PROGRESS = re.compile(
    r"^wandb-job: pushing \S+: (\d+)/(\d+) files, %s/%s, "
    r"(?:rate -, ETA -|%s/s, ETA \d+ s|done in \d+\.\d s)$" % (SIZE, SIZE, SIZE))

TRAIN_CC = r"""#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

std::string Greeting();

int main(int argc, char** argv) {
  std::ifstream vocab("vocab.txt");  // relative: IMAGE_WORKING_DIR is /opt/acme
  std::string words;
  std::getline(vocab, words);
  const char* env = std::getenv("GREETING");
  std::cout << Greeting() << VARIANT << " env=" << (env ? env : "-") << " vocab=" << words;
  for (int i = 1; i < argc; ++i) std::cout << " " << argv[i];
  std::cout << std::endl;
}
"""

GREET_CC = """#include <string>
std::string Greeting() { return "hello from libgreet"; }
"""

EXPECTED = "hello from libgreet env=hi vocab=a b c --lr 0.01 --epochs 3\n"
SHIM_ENTRYPOINT = ["/usr/local/bin/wandb-job", "exec", "--job-spec", "/etc/wandb-job/job.json",
                   "--"]


def require_runtime(ctx):
    ctx.require_tool()
    ctx.require("docker-registry", "skopeo", "umoci", "runc", "ninja")
    if os.geteuid() != 0:
        raise h.Skip("runc needs root here")


def configure_and_publish(ctx, src, build, env=None, check=True, args=()):
    ctx.run(["cmake", "-S", src, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
             "-DWANDB_JOB_TOOL=%s" % ctx.tool, *args], env=env)
    return ctx.build(build, target="job-publish", env=env, check=check)


def skopeo(ctx, *args, env=None):
    return ctx.run(["skopeo", *args], env=env)


def inspect(ctx, ref, creds=()):
    return json.loads(skopeo(ctx, "inspect", "--tls-verify=false", *creds,
                             "docker://" + ref).stdout)


def run_image(ctx, ref, creds=(), env=()):
    """Pulls `ref` into an OCI layout, unpacks it with umoci and runs it with runc, with `env`
    ("NAME=value" entries) added to the container's environment: stdout."""
    d = ctx.fresh_dir("run")
    layout, bundle = os.path.join(d, "layout"), os.path.join(d, "bundle")
    skopeo(ctx, "copy", "--src-tls-verify=false", *creds, "docker://" + ref,
           "oci:%s:run" % layout)
    ctx.run(["umoci", "unpack", "--image", layout + ":run", bundle])
    cfg_path = os.path.join(bundle, "config.json")
    cfg = json.loads(h.read_text(cfg_path))
    cfg["process"]["terminal"] = False
    cfg["process"]["env"] = cfg["process"].get("env", []) + list(env)
    h.write_file(cfg_path, json.dumps(cfg))
    name = "wandb-job-e2e-%d-%d" % (os.getpid(), time.monotonic_ns())
    return ctx.run(["runc", "run", name], cwd=bundle).stdout


def store_job(ctx, store, project, name):
    """(aliases.json, [version JSON...], {path: bytes} of the latest version) of a stored job."""
    d = os.path.join(store, "entities", "local", "projects", project, "collections", "job", name)
    h.check(os.path.isdir(d), "no job %s/%s in the store; it holds: %s" %
            (project, name, h.list_files(store)))
    aliases = json.loads(h.read_text(os.path.join(d, "aliases.json")))
    versions = []
    for i in range(100):
        path = os.path.join(d, "versions", "v%d.json" % i)
        if not os.path.exists(path):
            break
        versions.append(json.loads(h.read_text(path)))
    return aliases, versions


def stored_file(store, version, path):
    entries = version["manifest"]["contents"]
    digest = base64.b64decode(entries[path]["digest"]).hex()
    return h.read_text(os.path.join(store, "blobs", "md5", digest))


def layer_digests(ctx, ref):
    return inspect(ctx, ref)["Layers"]


def image_config(ctx, ref):
    return json.loads(skopeo(ctx, "inspect", "--tls-verify=false", "--config",
                             "docker://" + ref).stdout)


def layout_digest(bundle):
    index = json.loads(h.read_text(os.path.join(bundle, "image", "index.json")))
    return index["manifests"][0]["digest"]


def project(ctx, image, name="acme", extra=""):
    cmake = ("cmake_minimum_required(VERSION 3.25)\n"
             "project(%s LANGUAGES CXX)\n"
             "include(\"%s/cmake/WandbJob.cmake\")\n"
             "add_library(greet SHARED greet.cc)\n"
             "add_executable(train train.cc)\n"
             "target_link_libraries(train PRIVATE greet)\n"
             "wandb_add_job(train IMAGE %s CONFIG lr=0.01 epochs=3\n"
             "  ARGS --lr {lr} --epochs {epochs}\n"
             "  IMAGE_FILES data/vocab.txt=/opt/acme/vocab.txt IMAGE_ENV GREETING=hi\n"
             "  IMAGE_WORKING_DIR /opt/acme)\n%s" % (name, ctx.source_dir, image, extra))
    files = {"CMakeLists.txt": cmake, "greet.cc": GREET_CC,
             "train.cc": TRAIN_CC.replace("VARIANT", '""'), "data/vocab.txt": "a b c\n"}
    repo = ctx.new_repo(name, files, remote="https://github.com/acme/train.git")
    return repo


def case_module(ctx):
    require_runtime(ctx)
    reg = h.Registry(ctx, "registry")
    try:
        module_flow(ctx, reg)
    finally:
        reg.stop()


def module_flow(ctx, reg):
    image = "%s/acme/train:1.0" % reg.host
    direct = "%s/acme/direct:1.0" % reg.host
    repo = project(ctx, image, extra=(
        "add_executable(direct train.cc)\n"
        "target_link_libraries(direct PRIVATE greet)\n"
        "wandb_add_job(direct IMAGE %s CONFIG lr=0.01 epochs=3\n"
        "  ARGS --lr {lr} --epochs {epochs} IMAGE_SHIM OFF\n"
        "  IMAGE_FILES data/vocab.txt=/opt/acme/vocab.txt IMAGE_ENV GREETING=hi\n"
        "  IMAGE_WORKING_DIR /opt/acme)\n" % direct))
    store = ctx.path("store")
    env = dict(ctx.env, WANDB_JOB_STORE=store)
    build = os.path.join(ctx.fresh_dir("b"), "build")
    start = time.monotonic()
    out = configure_and_publish(ctx, repo.path, build, env=env)
    print("first build + publish: %.1fs" % (time.monotonic() - start))

    name = "job-127.0.0.1_%d_acme_train" % reg.port
    aliases, versions = store_job(ctx, store, "acme", name)
    h.check_equal(sorted(aliases), ["1.0", "latest"], "aliases of the stored job")
    h.check_equal(len(versions), 1, "versions")
    job = json.loads(stored_file(store, versions[0], "wandb-job.json"))
    h.check_equal(job["source_type"], "image", "source_type")
    h.check_equal(job["source"]["image"], image, "source.image")

    tags = json.loads(skopeo(ctx, "list-tags", "--tls-verify=false",
                             "docker://%s/acme/train" % reg.host).stdout)["Tags"]
    h.check_equal(sorted(tags), ["1.0", "latest"], "registry tags")
    digest = inspect(ctx, image)["Digest"]
    h.check_equal(inspect(ctx, "%s/acme/train:latest" % reg.host)["Digest"], digest,
                  "latest and 1.0 are one image")
    meta = versions[0]["metadata"]
    h.check_equal(meta["image"], "%s/acme/train@%s" % (reg.host, digest), "pinned image")
    h.check_equal(meta["image_digest"], digest, "image_digest")
    h.check("pushed image %s/acme/train@%s" % (reg.host, digest) in out.stdout + out.stderr,
            "the publish does not say what it pushed:\n" + out.stdout + out.stderr)
    h.check_equal(run_image(ctx, image), EXPECTED, "the program's output from the image")
    # The shim renders ARGS with the launch config over the defaults.
    h.check_equal(run_image(ctx, image, env=['WANDB_CONFIG={"lr": 0.5}']),
                  EXPECTED.replace("--lr 0.01", "--lr 0.5"),
                  "the output with WANDB_CONFIG in the container")
    cfg = image_config(ctx, image)
    h.check_equal(cfg["config"]["Entrypoint"], SHIM_ENTRYPOINT + ["/usr/local/bin/train"],
                  "Entrypoint")
    h.check(not cfg["config"].get("Cmd"), "Cmd: %r" % cfg["config"].get("Cmd"))
    h.check("WANDB_JOB_STORE=/tmp/wandb-job-store" in cfg["config"]["Env"], cfg["config"]["Env"])
    h.check_equal([e["created_by"] for e in cfg["history"]],
                  ["wandb-job: run shim", "wandb-job: shared libraries",
                   "wandb-job: project libraries", "wandb-job: files", "wandb-job: train"],
                  "layers")
    # IMAGE_SHIM OFF: the program is the entrypoint, ARGS rendered at build time; the two
    # images share no shim layer, and the shim's layer is the same in every shim image.
    direct_cfg = image_config(ctx, direct)
    h.check_equal(direct_cfg["config"]["Entrypoint"], ["/usr/local/bin/direct"],
                  "Entrypoint without the shim")
    h.check_equal(direct_cfg["config"]["Cmd"], ["--lr", "0.01", "--epochs", "3"], "Cmd")
    h.check_equal(run_image(ctx, direct, env=['WANDB_CONFIG={"lr": 0.5}']), EXPECTED,
                  "the output without the shim (WANDB_CONFIG is not read)")

    # The same commit in a build directory of another path length: the same image.
    other = os.path.join(ctx.fresh_dir("a-much-longer-build-directory-name"), "build")
    ctx.run(["cmake", "-S", repo.path, "-B", other, "-G", "Ninja",
             "-DCMAKE_BUILD_TYPE=Release", "-DWANDB_JOB_TOOL=%s" % ctx.tool], env=env)
    ctx.build(other, target="train-wandb-job", env=env)
    h.check_equal(layout_digest(h.bundle_dir(other)), layout_digest(h.bundle_dir(build)),
                  "image digest across build directories")
    h.check_equal(layout_digest(h.bundle_dir(build)), digest, "the pushed digest")

    # Publishing again touches nothing (the publish receipts); forced, it pushes nothing new;
    # neither makes a new version.
    out = ctx.build(build, target="job-publish", env=env)
    h.check("2 job(s) unchanged since their receipted publish" in out.stdout + out.stderr and
            "wandb-job: pushing " not in out.stdout + out.stderr, out.stdout + out.stderr)
    out = ctx.run([ctx.tool, "publish", "--force", h.bundle_dir(build),
                   h.bundle_dir(build, "direct")], env=env, cwd=build)
    h.check("0 blob(s) uploaded" in out.stdout + out.stderr, out.stdout + out.stderr)
    # Not a terminal: the push reports progress in plain lines of one form, the last one done.
    pushing = [l for l in (out.stdout + out.stderr).splitlines()
               if l.startswith("wandb-job: pushing ")]
    h.check(pushing, "no progress lines of the push:\n" + out.stdout + out.stderr)
    for line in pushing:
        h.check(PUSH_PROGRESS.match(line), "progress line of an unexpected form: %r" % line)
    h.check("done in" in pushing[-1] and PUSH_PROGRESS.match(pushing[-1]).group(1) ==
            PUSH_PROGRESS.match(pushing[-1]).group(2), "the last line: %r" % pushing[-1])
    h.check_equal(len(store_job(ctx, store, "acme", name)[1]), 1, "versions after a republish")

    # Only the program changes (uncommitted, so the layers keep their timestamps): one layer
    # and the config go up; the job gets a new version pinned to the new image.
    before = layer_digests(ctx, image)
    repo.write("train.cc", TRAIN_CC.replace("VARIANT", '"!"'))
    start = time.monotonic()
    out = ctx.build(build, target="job-publish", env=env)
    print("rebuild + publish after a program change: %.1fs" % (time.monotonic() - start))
    text = out.stdout + out.stderr
    h.check("2 blob(s) uploaded" in text and "4 already there" in text,
            "expected the program layer and the config uploaded, 4 layers kept:\n" + text)
    after = layer_digests(ctx, image)
    h.check_equal(after[:-1], before[:-1], "unchanged layers")
    h.check(after[-1] != before[-1], "the program layer did not change")
    aliases, versions = store_job(ctx, store, "acme", name)
    h.check_equal(len(versions), 2, "a new job version for the new image")
    new_digest = inspect(ctx, image)["Digest"]
    h.check_equal(versions[1]["metadata"]["image_digest"], new_digest, "new pinned digest")
    h.check_equal(aliases.get("latest"), 1, "latest moved to v1")
    h.check_equal(run_image(ctx, image), EXPECTED.replace("libgreet", "libgreet!", 1),
                  "the new program's output")


def case_auth(ctx):
    require_runtime(ctx)
    ctx.require("htpasswd")
    htpasswd = ctx.path("htpasswd")
    ctx.run(["htpasswd", "-Bbc", htpasswd, "alice", "s3cret-pw"])
    reg = h.Registry(ctx, "registry", auth={"htpasswd": {"realm": "test", "path": htpasswd}})
    try:
        image = "%s/secure/train:2.0" % reg.host
        repo = project(ctx, image, name="secure")
        store = ctx.path("store")
        build = os.path.join(ctx.fresh_dir("b"), "build")
        env = dict(ctx.env, WANDB_JOB_STORE=store, DOCKER_CONFIG=ctx.path("no-docker-config"))
        out = configure_and_publish(ctx, repo.path, build, env=env, check=False)
        text = out.stdout + out.stderr
        h.check(out.returncode != 0, "a push without credentials succeeded:\n" + text)
        lines = [line for line in text.splitlines() if "wandb-job: error:" in line]
        h.check_equal(len(lines), 1, "error lines in:\n" + text)
        for needle in ("pushing image %s" % image, "registry %s" % reg.host,
                       "docker login %s" % reg.host, "~/.docker/config.json"):
            h.check(needle in lines[0], "%r not in %r" % (needle, lines[0]))
        h.check(not os.path.exists(os.path.join(store, "entities")),
                "a job was published although its image was not pushed")

        docker = ctx.path("docker")
        h.write_file(os.path.join(docker, "config.json"), json.dumps({"auths": {reg.host: {
            "auth": base64.b64encode(b"alice:s3cret-pw").decode()}}}))
        env["DOCKER_CONFIG"] = docker
        out = ctx.build(build, target="job-publish", env=env)
        text = out.stdout + out.stderr
        h.check("s3cret-pw" not in text and "YWxpY2U6czNjcmV0LXB3" not in text,
                "credentials printed:\n" + text)
        aliases, versions = store_job(ctx, store, "secure",
                                      "job-127.0.0.1_%d_secure_train" % reg.port)
        h.check_equal(sorted(aliases), ["2.0", "latest"], "aliases")
        creds = ("--creds", "alice:s3cret-pw")
        digest = inspect(ctx, image, creds)["Digest"]
        h.check_equal(versions[0]["metadata"]["image_digest"], digest, "pinned digest")
        h.check_equal(run_image(ctx, image, ("--src-creds", "alice:s3cret-pw")), EXPECTED,
                      "output")
    finally:
        reg.stop()


GTEST_WRAPPER = """cmake_minimum_required(VERSION 3.25)
project(gtest_image LANGUAGES C CXX)
include("%s/cmake/WandbJob.cmake")
add_subdirectory(googletest)
wandb_add_job(sample1_unittest IMAGE %s ARGS --gtest_color=no)
"""


def case_gtest(ctx):
    require_runtime(ctx)
    if not os.path.isfile(os.path.join(GTEST_SOURCE, "CMakeLists.txt")):
        raise h.Skip("no %s (install libgtest-dev)" % GTEST_SOURCE)
    reg = h.Registry(ctx, "registry")
    try:
        image = "%s/third/gtest-sample1:1.12" % reg.host
        repo = ctx.new_repo("gtest", {"CMakeLists.txt": GTEST_WRAPPER % (ctx.source_dir, image)},
                            commit=False)
        shutil.copytree(GTEST_SOURCE, os.path.join(repo.path, "googletest"), symlinks=True)
        repo.commit("GoogleTest with a job")
        store = ctx.path("store")
        env = dict(ctx.env, WANDB_JOB_STORE=store)
        build = os.path.join(ctx.fresh_dir("b"), "build")
        start = time.monotonic()
        configure_and_publish(ctx, repo.path, build, env=env,
                              args=("-DBUILD_SHARED_LIBS=ON", "-Dgtest_build_samples=ON",
                                    "-DBUILD_GMOCK=OFF"))
        print("googletest build + publish: %.1fs" % (time.monotonic() - start))
        aliases, versions = store_job(ctx, store, "gtest_image",
                                      "job-127.0.0.1_%d_third_gtest-sample1" % reg.port)
        h.check_equal(sorted(aliases), ["1.12", "latest"], "aliases")
        digest = inspect(ctx, image)["Digest"]
        h.check_equal(versions[0]["metadata"]["image_digest"], digest, "pinned digest")
        # The image holds the project's own libgtest.so and libgtest_main.so.
        exe = os.path.join(build, "googletest", "googletest", "sample1_unittest")
        if not os.path.exists(exe):
            exe = [os.path.join(r, f) for r, _, fs in os.walk(build) for f in fs
                   if f == "sample1_unittest"][0]
        needed = ctx.run(["readelf", "-d", exe], check=False).stdout
        h.check("libgtest.so" in needed and "libgtest_main.so" in needed,
                "sample1_unittest does not link the project's shared gtest:\n" + needed)
        out = run_image(ctx, image)
        h.check("[  PASSED  ]" in out and "FAILED" not in out,
                "gtest did not pass in the image:\n" + out)
    finally:
        reg.stop()


EXAMPLE_TOP = """cmake_minimum_required(VERSION 3.25)
project(wandb-job-examples LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 17)
find_package(nlohmann_json 3.9 REQUIRED)
add_library(wandb_job_api INTERFACE)
target_include_directories(wandb_job_api INTERFACE ${CMAKE_CURRENT_SOURCE_DIR}/include)
target_link_libraries(wandb_job_api INTERFACE nlohmann_json::nlohmann_json)
add_library(wandb_job_examples_warnings INTERFACE)
include(${CMAKE_CURRENT_SOURCE_DIR}/cmake/WandbJob.cmake)
add_subdirectory(examples/trainer)
"""


def case_example(ctx):
    """This repository's trainer example as an image job: pushed, run by runc with the job's
    arguments, and run again with a launch override that the shim applies."""
    require_runtime(ctx)
    reg = h.Registry(ctx, "registry")
    try:
        image = "%s/examples/trainer:1.0" % reg.host
        repo = ctx.new_repo("example", {"CMakeLists.txt": EXAMPLE_TOP}, commit=False)
        for part in ("examples", "include", "cmake", "templates"):
            shutil.copytree(os.path.join(ctx.source_dir, part), os.path.join(repo.path, part))
        # The examples' own call, turned into an image job.
        trainer = os.path.join(repo.path, "examples", "trainer", "CMakeLists.txt")
        text = h.read_text(trainer)
        h.check("  NAME trainer\n" in text, "the trainer example's wandb_add_job changed")
        h.write_file(trainer,
                     text.replace("  NAME trainer\n", "  NAME trainer\n  IMAGE %s\n" % image))
        repo.commit("the trainer example as an image job")
        store = ctx.path("store")
        env = dict(ctx.env, WANDB_JOB_STORE=store)
        build = os.path.join(ctx.fresh_dir("b"), "build")
        configure_and_publish(ctx, repo.path, build, env=env)
        aliases, versions = store_job(ctx, store, "wandb-job-examples", "trainer")
        h.check_equal(sorted(aliases), ["1.0", "latest"], "aliases")
        h.check_equal(versions[0]["metadata"]["image_digest"], inspect(ctx, image)["Digest"],
                      "pinned digest")
        out = run_image(ctx, image)
        h.check('"epochs":20' in out and "epoch 20/20 loss=" in out and "final_loss=" in out,
                "the trainer with the job's default arguments:\n" + out)
        out = run_image(ctx, image, env=['WANDB_CONFIG={"epochs": 3, "lr": 0.1}'])
        h.check('"epochs":3' in out and '"lr":0.1' in out and "epoch 3/3 loss=" in out and
                "epoch 4/" not in out, "the trainer with a launch override:\n" + out)
    finally:
        reg.stop()


if __name__ == "__main__":
    all_cases = {"module": case_module, "auth": case_auth, "gtest": case_gtest,
                 "example": case_example}
    picked = sys.argv[4:] or sorted(all_cases)
    h.main("image-jobs", [(c, all_cases[c]) for c in picked])
