"""Conformance with W&B's own launch code: a job published by wandb-job to the fake W&B server
(tests/fake_wandb) is loaded, prepared and launched by W&B's SDK 0.18.7, the pure-Python release
kept beside this repository (../shared/third_party/wandb-sdk-0.18.7, or $WANDB_JOB_TEST_WANDB_SDK),
run with the Debian interpreter:

  1. wandb.Api().job(...) loads the job;
  2. LaunchProject.from_spec + fetch_and_validate_project make the launch project;
  3. BuildContextManager.create_build_context makes the build context (jobs the agent builds);
  4. the local-container runner's docker command (get_docker_command) runs the job's entrypoint;
  5. `wandb launch -j <job> --resource local-container` runs it with podman as `docker`
     (podman-docker), with a launch override of `lr`.

The fake then must hold the run under the launched run ID, finished with exit code 0, with the
launch config, marked as using the job, and with the program's output showing the override.

    python3 test_launch.py <wandb-job tool> <source dir> <build dir> <case>

Cases: image (pushed to a local docker-registry, pulled by the agent), artifact (the code artifact
built by the agent on debian:12), repo (cloned by the agent from a local bare repository through
git's url.<base>.insteadOf; the job records an https remote). debian:12 is made by base_image.sh
with debootstrap from this machine's Debian mirror and cached outside the repository; the case
base_image checks that script's mirror lookup and its failure.

Skips (125) when not root or when podman, podman-docker, debootstrap, docker-registry,
graphql-core, W&B's SDK or WANDB_GRAPHQL_SCHEMA (the fake answers the SDK's schema introspection
from it) is missing.
"""

import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "fake_wandb"))
import harness as h  # noqa: E402

try:
    import fake_wandb  # noqa: E402
except Exception:  # pragma: no cover
    fake_wandb = None

KEY = "launch" + "0123456789abcdefghij" * 2 + "KEY"  # a plausible 49-character W&B key
ENTITY = "acme"
PROJECT = "launch"
JOB = "launch-train"
REMOTE = "https://github.com/acme/launch-train.git"
PODMAN_DOCKER = "/usr/bin/docker"  # podman-docker's `docker`; /usr/local/bin may hold Docker's
# The environment the test was started with: the base image's cache follows the real user's
# XDG_CACHE_HOME and HOME, which the harness's clean environment replaces.
ORIGINAL_ENV = dict(os.environ)

TRAIN_CC = r"""#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--lr") == 0) std::printf("training with lr=%s\n", argv[i + 1]);
  }
  std::fflush(stdout);
  return 0;
}
"""


def sdk_dir(ctx):
    path = ORIGINAL_ENV.get("WANDB_JOB_TEST_WANDB_SDK") or os.path.join(
        ctx.source_dir, "..", "shared", "third_party", "wandb-sdk-0.18.7")
    if not os.path.isfile(os.path.join(path, "wandb", "__init__.py")):
        raise h.Skip("W&B's SDK 0.18.7 is not at %s (set WANDB_JOB_TEST_WANDB_SDK)" % path)
    return os.path.realpath(path)


class World:
    """The fake W&B server, podman set up as the agent's `docker`, W&B's SDK, a registry."""

    def __init__(self, ctx, registry=False):
        ctx.require_tool()
        ctx.require("ninja", "podman")
        if os.geteuid() != 0:
            raise h.Skip("podman and debootstrap need root here")
        if not os.access(PODMAN_DOCKER, os.X_OK):
            raise h.Skip("%s (podman-docker) is missing" % PODMAN_DOCKER)
        if fake_wandb is None or fake_wandb.graphql is None:
            raise h.Skip("graphql-core is not importable (Debian: python3-graphql-core)")
        if not os.environ.get("WANDB_GRAPHQL_SCHEMA"):
            raise h.Skip("W&B's SDK introspects the server's schema; set WANDB_GRAPHQL_SCHEMA")
        self.ctx = ctx
        self.sdk = sdk_dir(ctx)
        self.registry = None
        self.fake = None
        self.pulled = []
        conf = ctx.fresh_dir("containers")
        h.write_file(os.path.join(conf, "containers.conf"),
                     '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n')
        bin_dir = os.path.join(conf, "bin")
        os.makedirs(bin_dir)
        os.symlink(PODMAN_DOCKER, os.path.join(bin_dir, "docker"))
        self.registries_conf = os.path.join(conf, "registries.conf")
        self.container_env = {
            "CONTAINERS_CONF": os.path.join(conf, "containers.conf"),
            "CONTAINERS_REGISTRIES_CONF": self.registries_conf,
            "PATH": bin_dir + os.pathsep + ctx.env.get("PATH", os.defpath)}
        if registry:
            ctx.require("docker-registry")
            self.registry = h.Registry(ctx, "registry")
        self.write_registries_conf()
        self.fake = fake_wandb.FakeWandb(api_key=KEY, entity=ENTITY).start()
        self.wandb_dir = ctx.fresh_dir("wandb")

    def write_registries_conf(self):
        text = 'unqualified-search-registries = ["docker.io"]\nshort-name-mode = "permissive"\n'
        if self.registry:
            text += '[[registry]]\nlocation = "%s"\ninsecure = true\n' % self.registry.host
        h.write_file(self.registries_conf, text)

    def base_image(self):
        """localhost/debian:12 (and docker.io/library/debian:12) in podman's storage."""
        env = dict(ORIGINAL_ENV, **self.container_env)
        start = time.monotonic()
        proc = subprocess.run([os.path.join(HERE, "base_image.sh")], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=1800)
        if proc.returncode == h.SKIP:
            raise h.Skip(proc.stderr.strip())
        if proc.returncode != 0:
            raise h.Failure("base_image.sh failed:\n" + proc.stderr)
        print("debian:12 base image ready in %.1fs" % (time.monotonic() - start))

    def untag_built_images(self):
        """W&B's builder reuses an image whose tag exists, and the tag hashes only the job's name,
        version and Dockerfile: an image of an earlier run (other code, another wandb-job) would
        be run as is. Untagged, its layers stay as the build cache."""
        proc = self.ctx.run(["podman", "images", "--format", "{{.Repository}}:{{.Tag}}",
                             "--filter", "reference=localhost/%s__%s__%s" % (ENTITY, PROJECT, JOB)],
                            extra_env=self.container_env)
        for ref in proc.stdout.split():
            self.ctx.run(["podman", "untag", ref], extra_env=self.container_env)

    def stop(self):
        self.untag_built_images()
        for ref in self.pulled:
            self.ctx.run(["podman", "rmi", "-f", ref], check=False,
                         extra_env=self.container_env)
        if self.fake:
            self.fake.stop()
        if self.registry:
            self.registry.stop()

    # --- wandb-job -----------------------------------------------------------------------

    def publish_env(self):
        env = dict(self.ctx.env, **self.container_env)
        env.pop("WANDB_MODE", None)
        env.update({"WANDB_BASE_URL": self.fake.url, "WANDB_API_KEY": KEY,
                    "WANDB_ENTITY": ENTITY, "WANDB_PROJECT": PROJECT})
        return env

    def publish(self, repo, job_args):
        """configure + `job-publish` of the project in `repo`: the job JOB on the fake."""
        build = os.path.join(self.ctx.fresh_dir("b"), "build")
        env = self.publish_env()
        self.ctx.run(["cmake", "-S", repo.path, "-B", build, "-G", "Ninja",
                      "-DCMAKE_BUILD_TYPE=Release"] + self.ctx.consume_args("package"), env=env)
        out = self.ctx.build(build, target="job-publish", env=env)
        versions = self.fake.versions(JOB, entity=ENTITY, project=PROJECT)
        h.check(versions, "no job %s on the fake after job-publish:\n%s%s" %
                (JOB, out.stdout, out.stderr))
        return versions[-1]

    # --- W&B's SDK -----------------------------------------------------------------------

    def sdk_env(self):
        env = dict(self.ctx.env, **self.container_env)
        env.pop("WANDB_MODE", None)
        d = self.wandb_dir
        env.update({"PYTHONPATH": self.sdk, "WANDB__REQUIRE_LEGACY_SERVICE": "true",
                    "WANDB_ERROR_REPORTING": "false", "WANDB_DIR": d, "WANDB_CACHE_DIR": d,
                    "WANDB_CONFIG_DIR": d, "WANDB_DATA_DIR": d, "WANDB_SILENT": "true",
                    "WANDB_BASE_URL": self.fake.url, "WANDB_API_KEY": KEY,
                    "WANDB_ENTITY": ENTITY, "WANDB_PROJECT": PROJECT})
        return env

    def sdk_steps(self, run_id, launch_config):
        """sdk_steps.py's JSON; fails naming the SDK step that failed and its error."""
        proc = self.ctx.run(["/usr/bin/python3", os.path.join(HERE, "sdk_steps.py"),
                             "%s/%s/%s:latest" % (ENTITY, PROJECT, JOB), run_id,
                             json.dumps(launch_config)], env=self.sdk_env(), check=False,
                            timeout=600)
        try:
            steps = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise h.Failure("sdk_steps.py gave no result:\n%s%s" % (proc.stdout, proc.stderr))
        h.check_equal(steps.get("version"), "0.18.7", "W&B SDK version")
        failed = steps.get("failed")
        if failed:
            raise h.Failure("W&B's SDK failed at step %r: %s\n%s" %
                            (failed["step"], failed["error"], failed["traceback"]))
        return steps

    def launch(self, run_id, lr):
        """`wandb launch -j <job> --resource local-container` with lr overridden: its output."""
        spec = {"run_id": run_id, "overrides": {"run_config": {"lr": lr}}}
        cmd = ["/usr/bin/python3", "-m", "wandb", "launch",
               "-j", "%s/%s/%s:latest" % (ENTITY, PROJECT, JOB),
               "-e", ENTITY, "-p", PROJECT, "--resource", "local-container",
               "-c", json.dumps(spec), "-R", json.dumps({"local-container": {"network": "host"}})]
        self.untag_built_images()
        start = time.monotonic()
        proc = self.ctx.run(cmd, env=self.sdk_env(), check=False, timeout=1800)
        print("wandb launch: %.1fs" % (time.monotonic() - start))
        text = proc.stdout + proc.stderr
        h.check(KEY not in text.replace("WANDB_API_KEY=" + KEY, ""),
                "the API key was printed outside the docker command")
        if proc.returncode != 0:
            raise h.Failure("wandb launch failed (exit %d):\n%s" % (proc.returncode, text))
        return text

    def check_run(self, run_id, lr, version, launch_output):
        """The launched run on the fake: finished with 0, the launch config, the job used, the
        override in the program's output."""
        run = self.fake.run(ENTITY, PROJECT, run_id)
        h.check(run is not None, "no run %s on the fake; runs: %s\n%s" %
                (run_id, [(r["entity"], r["project"], r["name"])
                          for r in self.fake.runs.values()], launch_output))
        h.check(run["complete"], "run %s was not finished:\n%s" % (run_id, launch_output))
        h.check_equal(run["exitcode"], 0, "the run's exit code")
        config = run["config"] or {}
        h.check_equal(config.get("lr", {}).get("value"), lr, "lr in the run's config %s" % config)
        h.check_equal([u["name"] for u in run["used"]], ["%s:v%d" % (JOB, version)],
                      "jobs used by the run")
        h.check("training with lr=%s" % lr in launch_output,
                "the container's output does not show the override:\n" + launch_output)
        out = run["files"].get("output.log", [])
        h.check(any(line.endswith("training with lr=%s" % lr) for line in out),
                "output.log of the run does not show the override: %s" % out)


def project_repo(ctx, job_args, remote=REMOTE):
    """The README quickstart's project: find_package(WandbJob), one program, one job."""
    cmake = ("cmake_minimum_required(VERSION 3.25)\n"
             "project(launchdemo LANGUAGES CXX)\n%s"
             "add_executable(train train.cc)\n"
             "wandb_add_job(train NAME %s CONFIG lr=0.01 ARGS --lr {lr} %s)\n"
             % (h.consume_block("package"), JOB, job_args))
    return ctx.new_repo("project", {"CMakeLists.txt": cmake, "train.cc": TRAIN_CC},
                        remote=remote)


def run_id_for(case):
    return ("%s%06d" % (case, os.getpid() % 1000000))[:8]


def check_steps(steps, source_type):
    """What the agent's steps made of the job: its source type, and a container command that
    runs the program under the shim (an image job's own entrypoint is the shim)."""
    h.check_equal(steps["job"]["source_type"], source_type, "the job's source_type")
    command = steps["command"]
    h.check("--network" in command and "host" in command, "docker args: %s" % command)
    h.check_equal(steps["env"].get("WANDB_CONFIG"), json.dumps({"lr": 0.5}),
                  "WANDB_CONFIG of the container")
    if source_type == "image":
        h.check_equal(steps["project"]["entrypoint"], None, "the agent's entrypoint")
        h.check("--entrypoint" not in command, "the image's entrypoint replaced: %s" % command)
    else:
        h.check("build_context" in steps, "no build context for a %s job" % source_type)
        entry = steps["project"]["entrypoint"] or []
        h.check(entry[:2] == ["/usr/local/bin/wandb-job", "exec"],
                "the agent's entrypoint does not run the shim: %s" % entry)


LAUNCH_CONFIG = {"overrides": {"run_config": {"lr": 0.5}},
                 "resource_args": {"local-container": {"network": "host"}}}


def case_image(ctx):
    world = World(ctx, registry=True)
    try:
        image = "%s/acme/launch-train:1.0" % world.registry.host
        repo = project_repo(ctx, "IMAGE %s" % image)
        version = world.publish(repo, "")
        world.pulled.append(image)
        run_id = run_id_for("img")
        steps = world.sdk_steps(run_id, LAUNCH_CONFIG)
        check_steps(steps, "image")
        h.check(steps["project"]["docker_image"].startswith(world.registry.host + "/acme/"),
                "the agent's image: %s" % steps["project"]["docker_image"])
        out = world.launch(run_id, 0.5)
        world.check_run(run_id, 0.5, version["versionIndex"], out)
    finally:
        world.stop()


def case_artifact(ctx):
    world = World(ctx)
    try:
        world.base_image()
        repo = project_repo(ctx, "SOURCE artifact")
        version = world.publish(repo, "")
        run_id = run_id_for("art")
        steps = world.sdk_steps(run_id, LAUNCH_CONFIG)
        check_steps(steps, "artifact")
        out = world.launch(run_id, 0.5)
        world.check_run(run_id, 0.5, version["versionIndex"], out)
    finally:
        world.stop()


def case_repo(ctx):
    world = World(ctx)
    try:
        world.base_image()
        repo = project_repo(ctx, "SOURCE repo")
        # README "Sources of a job": the commit holds the Dockerfile.wandb and .wandb-job/ that
        # `wandb-job dockerfile` writes from the job's bundle, and DOCKERFILE names it.
        build = os.path.join(ctx.fresh_dir("bundle"), "build")
        env = world.publish_env()
        ctx.run(["cmake", "-S", repo.path, "-B", build, "-G", "Ninja",
                 "-DCMAKE_BUILD_TYPE=Release"] + ctx.consume_args("package"), env=env)
        ctx.build(build, target="job-bundle", env=env)
        ctx.run([ctx.tool, "dockerfile", "--bundle", h.bundle_dir(build, "train"),
                 "--out-dir", repo.path])
        cmake = h.read_text(os.path.join(repo.path, "CMakeLists.txt"))
        repo.write("CMakeLists.txt",
                   cmake.replace("SOURCE repo", "SOURCE repo DOCKERFILE Dockerfile.wandb"))
        repo.commit("the files wandb-job dockerfile wrote")
        # The agent clones REMOTE; git's insteadOf sends it to a local bare repository.
        bare = os.path.join(ctx.fresh_dir("remote"), "launch-train.git")
        ctx.run(["git", "clone", "-q", "--bare", repo.path, bare])
        repo.git("config", "--global", "url.file://%s.insteadOf" % bare, REMOTE)
        repo.git("fetch", "-q", "origin")
        repo.git("branch", "-q", "--set-upstream-to", "origin/main", "main")
        version = world.publish(repo, "")
        run_id = run_id_for("repo")
        steps = world.sdk_steps(run_id, LAUNCH_CONFIG)
        h.check_equal(steps["job"]["git"]["remote"], REMOTE, "the job's git remote")
        h.check("train.cc" in steps["project"]["files"],
                "the agent's clone lacks the program: %s" % steps["project"]["files"])
        check_steps(steps, "repo")
        out = world.launch(run_id, 0.5)
        world.check_run(run_id, 0.5, version["versionIndex"], out)
    finally:
        world.stop()


def case_base_image(ctx):
    """base_image.sh's mirror comes from apt's sources in either form, and its failures are one
    clear line that leave nothing in the cache."""
    script = os.path.join(HERE, "base_image.sh")

    def mirror(files):
        etc = ctx.fresh_dir("apt")
        for rel, text in files.items():
            h.write_file(os.path.join(etc, rel), text)
        return ctx.run([script, "--print-mirror"], check=False,
                       extra_env={"WANDB_JOB_TEST_APT_ETC": etc})

    deb822 = ("Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n"
              "Components: main\n\n"
              "Types: deb\nURIs: http://security.example/debian-security\n"
              "Suites: bookworm-security\nComponents: main\n\n"
              "Types: deb\nURIs: http://mirror.example/debian http://other.example/debian\n"
              "Suites: bookworm bookworm-updates\nComponents: main\n")
    proc = mirror({"sources.list.d/debian.sources": deb822})
    h.check_equal(proc.stdout, "http://mirror.example/debian\n", "mirror of a deb822 source")
    proc = mirror({"sources.list": "# a comment\ndeb-src http://src.example/debian bookworm main\n"
                                   "deb [signed-by=/k.gpg] http://line.example/debian bookworm "
                                   "main\n"})
    h.check_equal(proc.stdout, "http://line.example/debian\n", "mirror of a one-line source")
    proc = mirror({"sources.list": "deb http://old.example/debian bullseye main\n"})
    h.check(proc.returncode == 1 and proc.stdout == "", "no bookworm source: %r" % (proc,))
    h.check("no Debian bookworm source" in proc.stderr and
            "WANDB_JOB_TEST_DEBIAN_MIRROR" in proc.stderr, proc.stderr)
    proc = ctx.run([script, "--bogus"], check=False)
    h.check(proc.returncode == 2 and "unknown argument '--bogus'" in proc.stderr, proc.stderr)

    if os.geteuid() != 0 or shutil.which("debootstrap") is None or \
            shutil.which("podman") is None:
        raise h.Skip("the failing debootstrap needs root, debootstrap and podman")
    cache = ctx.fresh_dir("cache")
    dead = "http://127.0.0.1:%d/debian" % h.free_port()
    proc = ctx.run([script], check=False, timeout=300,
                   extra_env={"WANDB_JOB_TEST_CACHE": cache, "WANDB_JOB_TEST_DEBIAN_MIRROR": dead})
    h.check_equal(proc.returncode, 1, "exit code with an unreachable mirror:\n" + proc.stderr)
    last = proc.stderr.strip().splitlines()[-1]
    h.check("debootstrap from %s failed" % dead in last and "WANDB_JOB_TEST_DEBIAN_MIRROR" in last,
            "the last line: %r" % last)
    h.check_equal(sorted(os.listdir(cache)), ["lock"], "the cache after a failed debootstrap")


if __name__ == "__main__":
    all_cases = {"image": case_image, "artifact": case_artifact, "repo": case_repo,
                 "base_image": case_base_image}
    picked = sys.argv[4:] or sorted(all_cases)
    h.main("launch", [(c, all_cases[c]) for c in picked])
