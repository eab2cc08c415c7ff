"""End-to-end tests of reporting runs to W&B: `wandb-job exec` against the fake W&B server of
tests/fake_wandb over real HTTP, and `wandb-job run` of an image job pushed to a local registry.

    python3 test_run_online.py <wandb-job tool> <wandb-job source dir> <wandb-job build dir> <case>

Cases:
  exec         the run is upserted with WANDB_RUN_ID, its config, the job from WANDB_ARTIFACTS is
               used by it, output, history and summary (from wandb::Run) reach file_stream, and
               the run completes with exit code 0; the key is printed nowhere
               and the run files W&B's SDK uploads (wandb-metadata.json, config.yaml,
               wandb-summary.json, output.log) arrive through createRunFiles; the run's URL is
               printed
  exec_failed  a program exiting 3: the run completes with exit code 3, exec exits 3
  agent_check  W&B's launch agent's own check that the launched run called init
               (LaunchAgent._check_run_exists_and_inited of SDK 0.18.7, WANDB_JOB_SDK_DIR) is
               false before `wandb-job exec` and true after it
  resume       the same run ID launched twice: the second attempt's history and output follow
               the first's on file_stream
  unreachable  a W&B server that does not answer: one warning, the program runs, its code stays
  stalled      a W&B server that holds every file_stream request: the program runs to its end,
               exec exits with its code after the exit flush bound
               (WANDB_JOB_EXIT_FLUSH_SECONDS) while the server still holds the request, with one
               warning naming the bound
  image        wandb_add_job(... IMAGE 127.0.0.1:<port>/acme/prog:1.0 ...) published to a local
               docker-registry and the local store, then `wandb-job run <job> -c key=value` runs
               it in runc: the output shows the override and the exit code comes back

Needs graphql-core for the fake server (Debian: python3-graphql-core), a C++ compiler; the image
case root, cmake, ninja, git, docker-registry, skopeo, umoci and runc. Exits 125 (skipped) when
they are missing. WANDB_GRAPHQL_SCHEMA makes the fake validate every document against a schema.
"""

import json
import os
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "fake_wandb"))
import harness as h  # noqa: E402

try:
    import fake_wandb  # noqa: E402
except Exception:  # pragma: no cover
    fake_wandb = None

SKIP = 125
KEY = "e2e-" + "k3y" * 14  # 46 characters, the "<prefix>-<key>" form
RUN_ID = "ab12cd34"

PROGRAM = r"""// A job program: prints its config and argv, logs metrics through wandb::Run.
#include <wandb/job.h>

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);
  wandb::Config config = wandb::Config::FromEnvironment(
      argc, argv, R"({"lr": 0.1, "epochs": 2, "exit_code": 0})");
  std::printf("lr=%g epochs=%d\n", config.get<double>("lr"), config.get<int>("epochs"));
  std::printf("argv:");
  for (int i = 1; i < argc; ++i) std::printf(" %s", argv[i]);
  std::printf("\n");
  const char* id = std::getenv("WANDB_RUN_ID");
  std::printf("run=%s\n", id ? id : "(unset)");
  wandb::Run run = wandb::Run::FromEnvironment();
  for (int epoch = 1; epoch <= config.get<int>("epochs"); ++epoch) {
    run.log({{"loss", 1.0 / epoch}, {"epoch", epoch}});
    std::printf("epoch %d\n", epoch);
  }
  run.summary({{"best", 42}});
  std::fprintf(stderr, "a line on stderr\n");
  return config.get<int>("exit_code");
}
"""


def compile_program(ctx):
    ctx.require("c++")
    d = ctx.fresh_dir("prog")
    src = os.path.join(d, "prog.cc")
    h.write_file(src, PROGRAM)
    exe = os.path.join(d, "prog")
    ctx.run(["c++", "-std=c++17", "-O0", "-I", os.path.join(ctx.source_dir, "include"), src,
             "-o", exe])
    return exe


def start_fake():
    if fake_wandb is None or fake_wandb.graphql is None:
        raise h.Skip("graphql-core is not importable (Debian: python3-graphql-core)")
    return fake_wandb.FakeWandb(api_key=KEY, entity="viewer-team").start()


def online_env(ctx, fake, **extra):
    env = dict(ctx.env)
    env.pop("WANDB_MODE", None)
    env.update({
        "WANDB_BASE_URL": fake.url if fake else "http://127.0.0.1:%d" % h.free_port(),
        "WANDB_API_KEY": KEY,
        "WANDB_RUN_ID": RUN_ID,
        "WANDB_ENTITY": "acme",
        "WANDB_PROJECT": "vision",
        "WANDB_LAUNCH": "True",
        "WANDB_ARTIFACTS": json.dumps({"_wandb_job": "acme/jobs/job-prog:latest"}),
        "WANDB_CONFIG": json.dumps({"epochs": 3}),
        "WANDB_JOB_RETRY_BASE_MS": "10",
    })
    env.update(extra)
    return env


def check_no_key(proc):
    text = proc.stdout + proc.stderr
    h.check(KEY not in text and KEY[4:] not in text, "the API key was printed:\n" + text)


def exec_online(ctx, exit_code):
    ctx.require_tool()
    prog = compile_program(ctx)
    fake = start_fake()
    try:
        job = fake.seed_artifact("acme", "jobs", "job", "job-prog", aliases=["v1.0"])
        fake.seed_artifact("acme", "jobs", "job", "job-prog")  # v1 takes "latest"
        env = online_env(ctx, fake)
        spec = ctx.path("job-spec.json")
        h.write_file(spec, json.dumps({"config": {"lr": 0.1, "epochs": 2, "exit_code": 0},
                                       "git": {"remote": "https://github.com/acme/prog.git",
                                               "commit": "c0ffee" * 6 + "c0ff"}}))
        proc = ctx.run([ctx.tool, "exec", "--job-spec", spec, "-c", "lr=0.5",
                        "-c", "exit_code=%d" % exit_code,
                        "--", prog, "--lr", "{lr}"], env=env, check=False, timeout=120)
        text = proc.stdout + proc.stderr
        h.check_equal(proc.returncode, exit_code, "exit code of exec:\n" + text)
        check_no_key(proc)
        h.check("lr=0.5 epochs=3\n" in proc.stdout, "the program's output:\n" + text)
        h.check("argv: --lr 0.5\n" in proc.stdout, "rendered ARGS:\n" + text)
        h.check("warning" not in proc.stderr, "warnings:\n" + proc.stderr)

        run = fake.run("acme", "vision", RUN_ID)
        h.check(run is not None, "no run %s upserted; runs: %s" % (RUN_ID, fake.runs))
        h.check_equal(run["config"], {"lr": {"value": 0.5}, "epochs": {"value": 3},
                                      "exit_code": {"value": exit_code}}, "the run's config")
        h.check_equal([u["name"] for u in run["used"]], ["job-prog:v1"], "jobs used by the run")
        h.check(job["id"] not in [u["artifact"] for u in run["used"]], "used the old version")
        out = run["files"].get("output.log", [])
        h.check(any(line.endswith(" lr=0.5 epochs=3") for line in out), "output.log: %s" % out)
        h.check(any(line.startswith("ERROR ") and line.endswith(" a line on stderr")
                    for line in out), "stderr in output.log: %s" % out)
        history = [json.loads(line) for line in run["files"].get("wandb-history.jsonl", [])]
        h.check_equal([(r["_step"], r["epoch"]) for r in history], [(0, 1), (1, 2), (2, 3)],
                      "history rows")
        h.check(abs(history[-1]["loss"] - 1.0 / 3) < 1e-9, "history: %s" % history)
        summary = json.loads(run["files"]["wandb-summary.json"][-1])
        h.check_equal(summary.get("best"), 42, "summary best")
        h.check_equal(summary.get("epoch"), 3, "summary epoch (the last history value)")
        h.check(run["complete"], "the run was not completed: %s" % fake.file_streams)
        h.check_equal(run["exitcode"], exit_code, "the run's exit code")
        h.check(not os.path.exists(os.path.join(env["WANDB_JOB_STORE"], "entities")),
                "an online run was also written to the local store")
        check_run_files(run, prog, exit_code)
        h.check("View run %s at %s/acme/vision/runs/%s" % (RUN_ID, fake.url, RUN_ID)
                in proc.stderr, "the run's URL:\n" + proc.stderr)
        h.check_equal(fake.run_state(run), "finished" if exit_code == 0 else "failed",
                      "the run's state")
    finally:
        fake.stop()


def check_run_files(run, prog, exit_code):
    """The files W&B's SDK uploads for a run, as it writes them."""
    files = run["run_files"]
    h.check_equal(sorted(files), ["config.yaml", "output.log", "wandb-metadata.json",
                                  "wandb-summary.json"], "run files uploaded")
    h.check_equal(sorted(run["uploaded"]), sorted(files), "run files named in file_stream")
    h.check_equal(run.get("jobProgram"), prog, "upsertBucket's program")
    h.check_equal(run.get("commit"), "c0ffee" * 6 + "c0ff", "upsertBucket's commit")
    h.check(run.get("host"), "upsertBucket's host")
    meta = json.loads(files["wandb-metadata.json"])
    h.check_equal(meta["program"], prog, "metadata program")
    h.check_equal(meta["args"], ["--lr", "0.5"], "metadata args")
    h.check_equal(meta["git"], {"remote": "https://github.com/acme/prog.git",
                                "commit": "c0ffee" * 6 + "c0ff"}, "metadata git")
    for key in ("os", "host", "startedAt", "root", "username", "cpu_count"):
        h.check(meta.get(key), "metadata %s: %s" % (key, meta))
    h.check(meta["startedAt"].startswith(time.strftime("%Y-")), meta["startedAt"])
    config = files["config.yaml"].decode()
    h.check(config.startswith("wandb_version: 1\n"), "config.yaml:\n" + config)
    h.check("\nlr:\n  desc: null\n  value: 0.5\n" in config, "config.yaml:\n" + config)
    try:
        import yaml
    except ImportError:
        yaml = None
    if yaml is not None:
        h.check_equal(yaml.safe_load(config), {
            "wandb_version": 1, "lr": {"desc": None, "value": 0.5},
            "epochs": {"desc": None, "value": 3},
            "exit_code": {"desc": None, "value": exit_code}}, "config.yaml parsed")
    summary = json.loads(files["wandb-summary.json"])
    h.check_equal((summary["best"], summary["epoch"], summary["_step"]), (42, 3, 2),
                  "wandb-summary.json: %s" % summary)
    for key in ("_runtime", "_timestamp"):
        h.check(key in summary, "wandb-summary.json %s: %s" % (key, summary))
    h.check("runtime" in summary.get("_wandb", {}), "wandb-summary.json _wandb: %s" % summary)
    output = files["output.log"].decode()
    h.check("lr=0.5 epochs=3\n" in output and "a line on stderr\n" in output,
            "output.log:\n" + output)


def case_exec(ctx):
    exec_online(ctx, 0)


def case_exec_failed(ctx):
    exec_online(ctx, 3)


def case_resume(ctx):
    """The same run ID twice (a resumed launch): the second attempt appends to the run."""
    ctx.require_tool()
    prog = compile_program(ctx)
    fake = start_fake()
    try:
        env = online_env(ctx, fake, WANDB_ARTIFACTS="")
        for epochs in (2, 3):
            ctx.run([ctx.tool, "exec", "-c", "epochs=%d" % epochs, "--", prog], env=env,
                    timeout=120)
        run = fake.run("acme", "vision", RUN_ID)
        h.check_equal(run["upserts"], 2, "upserts of the run")
        history = [json.loads(line) for line in run["files"]["wandb-history.jsonl"]]
        h.check_equal([r["epoch"] for r in history], [1, 2, 1, 2, 3], "history of both attempts")
        out = run["files"]["output.log"]
        h.check_equal(len([line for line in out if line.endswith(" epoch 1")]), 2,
                      "output of both attempts: %s" % out)
        h.check(run["complete"] and run["exitcode"] == 0, "not completed")
        h.check_equal(run["config"], {"epochs": {"value": 3}}, "the config of the last attempt")
    finally:
        fake.stop()


AGENT_CHECK = r"""
import logging, sys
from wandb.apis.internal import Api
from wandb.sdk.launch.agent.agent import LaunchAgent

class Agent:  # what the check uses of the agent: its API client and its logger
    _api = Api()
    _internal_logger = logging.getLogger("agent")

entity, project, run_id = sys.argv[1:4]
print(LaunchAgent._check_run_exists_and_inited(Agent(), entity, project, run_id, "rqi-1"))
"""


def agent_check(ctx, fake, entity, project, run_id):
    """True when W&B's launch agent (SDK 0.18.7) finds that the run called init."""
    tmp = ctx.fresh_dir("wandb-sdk")
    env = dict(ctx.env, PYTHONPATH=ctx.sdk_dir, WANDB__REQUIRE_LEGACY_SERVICE="true",
               WANDB_ERROR_REPORTING="false", WANDB_DIR=tmp, WANDB_CACHE_DIR=tmp,
               WANDB_CONFIG_DIR=tmp, WANDB_DATA_DIR=tmp, WANDB_BASE_URL=fake.url,
               WANDB_API_KEY=KEY, WANDB_SILENT="true")
    env.pop("WANDB_MODE", None)
    proc = subprocess.run(["/usr/bin/python3", "-c", AGENT_CHECK, entity, project, run_id],
                          env=env, capture_output=True, text=True, timeout=120)
    h.check_equal(proc.returncode, 0, "the SDK's check failed to run:\n" + proc.stderr)
    answer = proc.stdout.strip().splitlines()[-1]
    h.check(answer in ("True", "False"), "the SDK's check printed:\n" + proc.stdout)
    return answer == "True"


def case_agent_check(ctx):
    ctx.require_tool()
    ctx.sdk_dir = os.environ.get("WANDB_JOB_SDK_DIR", "")
    if not os.path.isfile(os.path.join(ctx.sdk_dir, "wandb", "__init__.py")):
        raise h.Skip("W&B's SDK 0.18.7 is not at WANDB_JOB_SDK_DIR=%r" % ctx.sdk_dir)
    if not os.path.exists("/usr/bin/python3"):
        raise h.Skip("no /usr/bin/python3 for W&B's SDK")
    prog = compile_program(ctx)
    fake = start_fake()
    try:
        fake.seed_artifact("acme", "jobs", "job", "job-prog")
        env = online_env(ctx, fake)
        h.check(not agent_check(ctx, fake, "acme", "vision", RUN_ID),
                "the agent's check passed before any run")
        ctx.run([ctx.tool, "exec", "--", prog], env=env, timeout=120)
        h.check(agent_check(ctx, fake, "acme", "vision", RUN_ID),
                "the agent's check did not find the launched run")
        run = fake.run("acme", "vision", RUN_ID)
        h.check(run["complete"] and run["exitcode"] == 0, "the run did not complete")
        h.check_equal([u["name"] for u in run["used"]], ["job-prog:v0"], "jobs used by the run")
    finally:
        fake.stop()


def case_unreachable(ctx):
    ctx.require_tool()
    prog = compile_program(ctx)
    env = online_env(ctx, None, WANDB_JOB_RETRY_MAX="1")
    start = time.monotonic()
    proc = ctx.run([ctx.tool, "exec", "-c", "exit_code=4", "--", prog], env=env, check=False,
                   timeout=120)
    text = proc.stdout + proc.stderr
    h.check_equal(proc.returncode, 4, "exit code:\n" + text)
    h.check("lr=0.1 epochs=3\n" in proc.stdout, "the program did not run:\n" + text)
    warnings = [line for line in proc.stderr.splitlines() if "warning:" in line]
    h.check_equal(len(warnings), 1, "warning lines in:\n" + proc.stderr)
    h.check("creating run %s on W&B" % RUN_ID in warnings[0], warnings[0])
    check_no_key(proc)
    h.check(time.monotonic() - start < 60, "too slow without a server")


def case_stalled(ctx):
    ctx.require_tool()
    prog = compile_program(ctx)
    fake = start_fake()
    try:
        fake.add_fault("file_stream", "stall", times=10**6)
        env = online_env(ctx, fake, WANDB_ARTIFACTS="", WANDB_JOB_EXIT_FLUSH_SECONDS="1")
        proc = ctx.run([ctx.tool, "exec", "-c", "exit_code=5", "--", prog], env=env,
                       check=False, timeout=120)
        # Checked before anything is released: the shim is gone, the request is still held.
        held = fake.stalled
        text = proc.stdout + proc.stderr
        h.check_equal(proc.returncode, 5, "exit code:\n" + text)
        h.check(held >= 1, "no file_stream request was held by the server when exec exited")
        h.check("epoch 3\n" in proc.stdout, "the program did not run to its end:\n" + text)
        warnings = [line for line in proc.stderr.splitlines() if "warning:" in line]
        h.check_equal(len(warnings), 1, "warning lines in:\n" + proc.stderr)
        h.check("WANDB_JOB_EXIT_FLUSH_SECONDS" in warnings[0], warnings[0])
        h.check_equal(fake.run("acme", "vision", RUN_ID)["upserts"], 1, "upserts of the run")
        check_no_key(proc)
    finally:
        fake.release_stalled()
        fake.stop()


# --- image jobs ---------------------------------------------------------------------------------

IMAGE_PROJECT = """cmake_minimum_required(VERSION 3.25)
project(acme LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 17)
include("%(src)s/cmake/WandbJob.cmake")
add_executable(prog prog.cc)
target_include_directories(prog PRIVATE "%(src)s/include")
wandb_add_job(prog IMAGE %(image)s CONFIG lr=0.1 epochs=2 exit_code=0
  ARGS --lr {lr} --epochs {epochs})
"""


def case_image(ctx):
    ctx.require_tool()
    ctx.require("docker-registry", "skopeo", "umoci", "runc", "ninja", "c++")
    if os.geteuid() != 0:
        raise h.Skip("runc needs root here")
    reg = h.Registry(ctx, "registry")
    try:
        image = "%s/acme/prog:1.0" % reg.host
        repo = ctx.new_repo("acme", {
            "CMakeLists.txt": IMAGE_PROJECT % {"src": ctx.source_dir, "image": image},
            "prog.cc": PROGRAM}, remote="https://github.com/acme/prog.git")
        store = ctx.path("store")
        env = dict(ctx.env, WANDB_JOB_STORE=store)
        build = os.path.join(ctx.fresh_dir("b"), "build")
        ctx.run(["cmake", "-S", repo.path, "-B", build, "-G", "Ninja",
                 "-DCMAKE_BUILD_TYPE=Release", "-DWANDB_JOB_TOOL=%s" % ctx.tool], env=env)
        ctx.build(build, target="job-publish", env=env)
        job = "acme/job-127.0.0.1_%d_acme_prog" % reg.port

        proc = ctx.run([ctx.tool, "run", job, "-c", "lr=0.75", "--run-id", "imgrun01"],
                       env=env, check=False, timeout=600)
        text = proc.stdout + proc.stderr
        h.check_equal(proc.returncode, 0, "wandb-job run of the image job:\n" + text)
        h.check("lr=0.75 epochs=2\n" in proc.stdout, "the override in the output:\n" + text)
        # The image's entrypoint is the shim, which renders ARGS again with the override.
        h.check("argv: --lr 0.75 --epochs 2\n" in proc.stdout, "ARGS re-rendered:\n" + text)
        h.check("run=imgrun01\n" in proc.stdout, "WANDB_RUN_ID in the container:\n" + text)
        h.check("epoch 2\n" in proc.stdout, "the program's output:\n" + text)
        runs = os.path.join(store, "entities", "local", "projects", "acme", "runs", "imgrun01")
        record = json.loads(h.read_text(os.path.join(runs, "run.json")))
        h.check_equal(record.get("state"), "finished", "the run record's state")
        history = h.read_text(os.path.join(runs, "history.jsonl")).splitlines()
        h.check_equal(len(history), 2, "history rows recorded from inside the container")

        proc = ctx.run([ctx.tool, "run", job, "-c", "exit_code=5"], env=env, check=False,
                       timeout=600)
        h.check_equal(proc.returncode, 5, "the program's exit code through runc:\n" +
                      proc.stdout + proc.stderr)
    finally:
        reg.stop()


CASES = {"exec": case_exec, "exec_failed": case_exec_failed, "agent_check": case_agent_check,
         "stalled": case_stalled,
         "resume": case_resume,
         "unreachable": case_unreachable, "image": case_image}


def main():
    ctx = h.Context("run-online")
    cases = ctx.extra_args or sorted(CASES)
    only = os.environ.get("WANDB_JOB_E2E_CASES")
    if only:
        cases = [c for c in cases if c in only.split(",")]
    failed = skipped = 0
    try:
        for name in cases:
            start = time.time()
            try:
                CASES[name](ctx)
                print("PASS %s (%.1fs)" % (name, time.time() - start))
            except h.Skip as e:
                skipped += 1
                print("SKIP %s: %s" % (name, e))
            except Exception:
                failed += 1
                print("FAIL %s" % name)
                traceback.print_exc()
            sys.stdout.flush()
    finally:
        ctx.cleanup()
    if failed:
        return 1
    return SKIP if skipped == len(cases) else 0


if __name__ == "__main__":
    sys.exit(main())
