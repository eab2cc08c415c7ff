"""End to end: launch queues and the Jobs page read back, against the fake W&B server of
tests/fake_wandb over real HTTP. A small CMake project's job is published to the fake first.

    python3 test_wandb_launch.py <wandb-job tool> <wandb-job source dir> <wandb-job build dir>

Cases:
  push          `wandb-job launch JOB --queue Q -c k=v --config FILE --priority high` pushes the
                SDK's launch spec (overrides.run_config, job, entity, project, docker, resource,
                git) to the queue, into W&B's queue project model-registry
  default_entity
                without --entity the queue and the run are the viewer's entity's, as in
                `wandb launch`
  refused_key   a -c key that is no input of the job: one line naming it, nothing pushed
  errors        unknown queue (the queues that exist are named), a queue the user may not push
                to, no API key, WANDB_MODE=offline, a bad --priority, an unknown job: one line
                each, nothing pushed
  wait          --wait follows the item: an agent (this test) claims it and runs the job's
                program under `wandb-job exec` with the agent's environment; launch prints the
                run's state and URL
  wait_errors   --wait on an item the agent fails, or that is deleted: one error line, exit 1
  show_runs     `show` lists the run the shim made under the agent's environment: run, state,
                job version, creator, creation date, config; and the job's input defaults and
                ARGS template
  pages         `show` with more runs and `ls` with more jobs than one page (100) of W&B's
  describe      `describe JOB --description TEXT` sets what `show` reports; an unknown job is
                one line
  sdk_conformance
                the queue item of `wandb-job launch` equals the one `wandb launch -q Q -j JOB
                -c config.json` of W&B's SDK 0.18.7 pushes for the same job and config (needs
                WANDB_JOB_SDK_DIR and WANDB_GRAPHQL_SCHEMA: the SDK asks the schema)

Exits 125 (skip) when cmake, git, a generator or graphql-core is missing.
"""

import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "fake_wandb"))
import harness as h  # noqa: E402

try:
    import fake_wandb  # noqa: E402
except Exception:  # pragma: no cover
    fake_wandb = None

KEY = "e2eLaunch" + "0123456789abcdefghij" * 2  # 49 characters
ENTITY = "acme"
PROJECT = "vision"
JOB = "job-launch-train"
QUEUE = "gpu"
RUN_ID = "q1run000"

STATE = {}


def env(ctx, **extra):
    e = dict(ctx.env)
    e.pop("WANDB_MODE", None)
    e.update({"WANDB_BASE_URL": STATE["fake"].url, "WANDB_API_KEY": KEY,
              "WANDB_ENTITY": ENTITY, "WANDB_PROJECT": PROJECT,
              "WANDB_JOB_RETRY_BASE_MS": "10", "WANDB_JOB_LAUNCH_POLL_MS": "50"})
    e.update(extra)
    return {k: v for k, v in e.items() if v is not None}


def tool(ctx, *args, check=True, **extra):
    proc = ctx.run([ctx.tool] + list(args), env=env(ctx, **extra), check=False, timeout=300)
    text = proc.stdout + proc.stderr
    h.check(KEY not in text, "the API key was printed:\n" + text)
    if check:
        h.check_equal(proc.returncode, 0, "exit code of %s:\n%s" % (" ".join(args), text))
    return proc


def launch(ctx, *args, **kw):
    """`wandb-job launch ARGS --entity acme`: the queues of the tests are acme's."""
    return tool(ctx, "launch", *(list(args) + ["--entity", ENTITY]), **kw)


def one_error_line(proc, code, *needles):
    lines = proc.stderr.strip().splitlines()
    h.check_equal(proc.returncode, code, "exit code:\n" + proc.stdout + proc.stderr)
    h.check(len(lines) == 1 and lines[0].startswith("wandb-job: error:"),
            "not one error line:\n" + proc.stderr)
    for n in needles:
        h.check(n in lines[0], "%r not in the error:\n%s" % (n, lines[0]))


def items(queue=QUEUE):
    return STATE["fake"].queue_items(queue, entity=ENTITY)


def setup(ctx):
    ctx.require_tool()
    if fake_wandb is None or fake_wandb.graphql is None:
        raise h.Skip("graphql-core is not importable (Debian: python3-graphql-core)")
    gen = ctx.generator()
    fake = fake_wandb.FakeWandb(api_key=KEY, entity="viewer-team").start()
    STATE["fake"] = fake
    src = ctx.fresh_dir("src")
    h.write_file(os.path.join(src, "CMakeLists.txt"),
                 "cmake_minimum_required(VERSION 3.25)\n"
                 "project(launche2e LANGUAGES CXX)\n"
                 "include(%s/cmake/WandbJob.cmake)\n"
                 "add_executable(train train.cpp)\n"
                 "wandb_add_job(train NAME %s SOURCE artifact\n"
                 "  CONFIG lr=0.01 epochs=3 note=hi ARGS --lr {lr} --epochs {epochs})\n"
                 % (ctx.source_dir, JOB))
    h.write_file(os.path.join(src, "train.cpp"),
                 "#include <cstdio>\nint main(int argc, char** argv) {\n"
                 "  for (int i = 1; i < argc; ++i) std::printf(\"%s\\n\", argv[i]);\n"
                 "  return 0;\n}\n")
    ctx.run(["git", "init", "-q"], cwd=src)
    ctx.run(["git", "add", "-A"], cwd=src)
    ctx.run(["git", "commit", "-q", "-m", "initial"], cwd=src)
    build = os.path.join(ctx.root, "build")
    ctx.run(["cmake", "-S", src, "-B", build, "-G", gen, "-DWANDB_JOB_TOOL=%s" % ctx.tool])
    ctx.run(["cmake", "--build", build, "--target", "train", "train-wandb-job"])
    STATE["build"] = build
    STATE["bundle"] = os.path.join(build, "wandb-jobs", "train", "bundle")
    tool(ctx, "publish", STATE["bundle"])
    h.check(len(fake.versions(JOB, entity=ENTITY)) == 1, "the job was published")
    fake.seed_queue(QUEUE, entity=ENTITY)
    fake.seed_queue("cpu", entity=ENTITY)
    fake.seed_queue("locked", entity=ENTITY, deny=True)


def expected_spec(run_config):
    spec = {"job": "%s/%s/%s:latest" % (ENTITY, PROJECT, JOB), "entity": ENTITY,
            "project": PROJECT, "docker": {}, "resource": None, "git": {},
            "overrides": {"run_config": run_config} if run_config else {}}
    return spec


def case_push(ctx):
    before = len(items())
    cfg = ctx.path("launch-config.json")
    h.write_file(cfg, json.dumps({"epochs": 5, "lr": 0.2}))
    proc = launch(ctx, "%s:latest" % JOB, "--queue", QUEUE, "-c", "lr=0.5",
                "--config", cfg, "--priority", "high")
    pushed = items()
    h.check_equal(len(pushed), before + 1, "items in the queue")
    item = pushed[-1]
    h.check_equal(item["runSpec"], expected_spec({"epochs": 5, "lr": 0.5}), "the launch spec")
    h.check_equal(item["priority"], 1, "priority high")
    h.check(item["id"] in proc.stdout and QUEUE in proc.stdout, "the output:\n" + proc.stdout)
    # A string input keeps its text; no -c: empty overrides.
    launch(ctx, "%s:latest" % JOB, "-q", QUEUE, "-c", "note=42")
    h.check_equal(items()[-1]["runSpec"], expected_spec({"note": "42"}), "string input")
    launch(ctx, "%s:latest" % JOB, "-q", QUEUE)
    h.check_equal(items()[-1]["runSpec"], expected_spec({}), "no overrides")
    h.check_equal(items()[-1]["priority"], None, "no priority")


def case_default_entity(ctx):
    """As `wandb launch`: without --entity, the viewer's entity (not WANDB_ENTITY) owns the
    queue and the run; the job keeps its own entity."""
    fake = STATE["fake"]
    fake.seed_queue(QUEUE, entity="viewer-team")
    tool(ctx, "launch", "%s:latest" % JOB, "--queue", QUEUE)
    pushed = fake.queue_items(QUEUE, entity="viewer-team")
    h.check_equal(len(pushed), 1, "items in viewer-team's queue")
    spec = expected_spec({})
    spec["entity"] = "viewer-team"
    h.check_equal(pushed[0]["runSpec"], spec, "the launch spec")


def case_refused_key(ctx):
    before = len(items())
    proc = launch(ctx, JOB, "--queue", QUEUE, "-c", "momentum=0.9", check=False)
    one_error_line(proc, 2, "unknown config key 'momentum'", "known: ", "lr")
    cfg = ctx.path("bad-config.json")
    h.write_file(cfg, json.dumps({"dropout": 0.1}))
    proc = launch(ctx, JOB, "--queue", QUEUE, "--config", cfg, check=False)
    one_error_line(proc, 2, "unknown config key 'dropout'")
    h.check_equal(len(items()), before, "nothing pushed")


def case_errors(ctx):
    before = {q: len(items(q)) for q in (QUEUE, "cpu", "locked")}
    proc = launch(ctx, JOB, "--queue", "nope", check=False)
    one_error_line(proc, 1, "unknown launch queue 'nope'", "queues: cpu, gpu, locked")
    proc = launch(ctx, JOB, "--queue", "locked", check=False)
    one_error_line(proc, 1, "launch queue 'locked'", "permission denied")
    proc = launch(ctx, JOB, "--queue", QUEUE, check=False, WANDB_API_KEY=None)
    one_error_line(proc, 1, "no API key found", "WANDB_API_KEY")
    proc = launch(ctx, JOB, "--queue", QUEUE, check=False, WANDB_MODE="offline")
    one_error_line(proc, 1, "WANDB_MODE")
    proc = launch(ctx, JOB, "--queue", QUEUE, "--priority", "urgent", check=False)
    one_error_line(proc, 2, "--priority 'urgent'", "critical, high, medium or low")
    proc = launch(ctx, "no-such-job", "--queue", QUEUE, check=False)
    one_error_line(proc, 1, "unknown job 'no-such-job'")
    proc = launch(ctx, JOB, check=False)
    h.check_equal(proc.returncode, 2, "--queue is required:\n" + proc.stderr)
    h.check_equal({q: len(items(q)) for q in before}, before, "nothing pushed")


def agent(ctx, errors):
    """What a launch agent does with the next item: claim it, run the job under the shim."""
    fake = STATE["fake"]
    try:
        def ours():
            return [i for i in items() if i["state"] == "PENDING" and
                    i["runSpec"]["overrides"].get("run_config") == {"epochs": 1}]
        deadline = time.time() + 120
        while time.time() < deadline and not ours():
            time.sleep(0.05)
        item = ours()[-1]
        fake.claim_item(item["id"], RUN_ID)
        spec = item["runSpec"]
        agent_env = env(ctx, WANDB_RUN_ID=RUN_ID, WANDB_LAUNCH="True",
                        WANDB_ENTITY=spec["entity"], WANDB_PROJECT=spec["project"],
                        WANDB_ARTIFACTS=json.dumps({"_wandb_job": spec["job"]}),
                        WANDB_CONFIG=json.dumps(spec["overrides"]["run_config"]),
                        WANDB_LAUNCH_QUEUE_NAME=QUEUE)
        proc = ctx.run([ctx.tool, "exec", "--job-spec",
                        os.path.join(STATE["bundle"], "bundle.json"), "--",
                        os.path.join(STATE["build"], "train")],
                       env=agent_env, check=False, timeout=120)
        if proc.returncode != 0 or "--epochs\n1\n" not in proc.stdout:
            errors.append("exec failed:\n" + proc.stdout + proc.stderr)
    except Exception as e:  # noqa: BLE001 - reported by the case
        errors.append(repr(e))


def case_wait(ctx):
    errors = []
    thread = threading.Thread(target=agent, args=(ctx, errors))
    thread.start()
    proc = launch(ctx, JOB, "--queue", QUEUE, "-c", "epochs=1", "--wait", check=False)
    thread.join()
    h.check(not errors, "the agent: %s" % errors)
    h.check_equal(proc.returncode, 0, "launch --wait:\n" + proc.stdout + proc.stderr)
    h.check("run %s: finished" % RUN_ID in proc.stdout, "state:\n" + proc.stdout)
    url = "%s/%s/%s/runs/%s" % (STATE["fake"].url, ENTITY, PROJECT, RUN_ID)
    h.check(url in proc.stdout, "run URL %s:\n%s" % (url, proc.stdout))


def follow_and(ctx, action, args):
    """launch --wait while `action(item id)` happens to the pushed item; the launch process."""
    fake = STATE["fake"]
    before = {i["id"] for i in items()}
    launch = subprocess.Popen([ctx.tool, "launch", JOB, "--queue", QUEUE, "--wait",
                               "--entity", ENTITY] + args,
                              env=env(ctx), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True)
    deadline = time.time() + 120
    while time.time() < deadline and not [i for i in items() if i["id"] not in before]:
        time.sleep(0.05)
    new = [i for i in items() if i["id"] not in before]
    h.check(new, "nothing was pushed")
    action(new[0]["id"])
    out, err = launch.communicate(timeout=120)
    return launch.returncode, out, err


def case_wait_errors(ctx):
    fake = STATE["fake"]
    rc, out, err = follow_and(ctx, fake.fail_item, ["-c", "epochs=2"])
    h.check(rc == 1 and err.strip().splitlines()[-1].startswith("wandb-job: error:") and
            "failed queue item" in err, "a failed item:\n" + out + err)
    rc, out, err = follow_and(ctx, fake.delete_item, ["-c", "epochs=2"])
    h.check(rc == 1 and "is gone from launch queue" in err, "a deleted item:\n" + out + err)


def case_show_runs(ctx):
    if STATE["fake"].run(ENTITY, PROJECT, RUN_ID) is None:
        raise h.Failure("no run from the wait case")
    shown = json.loads(tool(ctx, "show", JOB, "--json").stdout)
    runs = [r for r in shown["runs"] if r["id"] == RUN_ID]
    h.check_equal(len(runs), 1, "the shim's run in show: %s" % shown["runs"])
    r = runs[0]
    h.check_equal((r["state"], r["version"], r["creator"]), ("finished", "v0", "viewer-team"),
                  "run fields")
    h.check(r["created_at"], "creation date: %s" % r)
    h.check_equal(r["config"].get("epochs"), 1, "config column epochs: %s" % r)
    version = shown["versions"][0]
    h.check_equal(version["input_defaults"], {"lr": 0.01, "epochs": 3, "note": "hi"},
                  "input defaults")
    h.check_equal(version["args"], ["--lr", "{lr}", "--epochs", "{epochs}"], "ARGS template")
    text = tool(ctx, "show", JOB).stdout
    h.check("ARGS:" in text and "--lr '{lr}' --epochs '{epochs}'" in text, "ARGS:\n" + text)
    h.check("Input defaults:" in text and "lr: 0.01" in text, "defaults:\n" + text)
    line = [x for x in text.splitlines() if RUN_ID in x]
    h.check(line and "finished" in line[0] and "v0" in line[0] and "viewer-team" in line[0],
            "show text:\n" + text)
    h.check("no runs recorded" not in text, "show text:\n" + text)


def case_pages(ctx):
    fake = STATE["fake"]
    v0 = fake.versions(JOB, entity=ENTITY)[0]
    existing = len(json.loads(tool(ctx, "show", JOB, "--json").stdout)["runs"])
    for i in range(130):
        fake.seed_run(ENTITY, PROJECT, "many%03d" % i, config={"lr": i / 100.0}, used=v0)
    runs = json.loads(tool(ctx, "show", JOB, "--json").stdout)["runs"]
    h.check_equal(len(runs), existing + 130, "runs over two pages")
    h.check_equal(len({r["id"] for r in runs}), len(runs), "no run twice")
    for i in range(105):
        fake.seed_artifact(ENTITY, "crowded", "job", "job-%03d" % i)
    jobs = json.loads(tool(ctx, "ls", "--project", "crowded", "--json").stdout)
    h.check_equal([j["name"] for j in jobs], ["job-%03d" % i for i in range(105)],
                  "ls over two pages")


def case_describe(ctx):
    proc = tool(ctx, "describe", JOB, "--description", "Trains the launch model.")
    h.check("%s/%s/%s:v0" % (ENTITY, PROJECT, JOB) in proc.stdout, "describe:\n" + proc.stdout)
    shown = json.loads(tool(ctx, "show", JOB, "--json").stdout)
    h.check_equal(shown["description"], "Trains the launch model.", "show's description")
    h.check_equal(STATE["fake"].versions(JOB, entity=ENTITY)[-1]["description"],
                  "Trains the launch model.", "the fake's version")
    proc = tool(ctx, "describe", "nope", "--description", "x", check=False)
    one_error_line(proc, 1, "unknown job 'nope'")
    proc = tool(ctx, "describe", JOB, "--description", "x", check=False, WANDB_API_KEY=None)
    one_error_line(proc, 1, "describe needs W&B", "no API key found")


def case_sdk_conformance(ctx):
    sdk = os.environ.get("WANDB_JOB_SDK_DIR", "")
    if not os.path.isfile(os.path.join(sdk, "wandb", "__init__.py")):
        raise h.Skip("W&B's SDK 0.18.7 is not at WANDB_JOB_SDK_DIR=%r" % sdk)
    if STATE["fake"].schema is None:
        raise h.Skip("the SDK asks the server's schema: set WANDB_GRAPHQL_SCHEMA")
    if not os.path.exists("/usr/bin/python3"):
        raise h.Skip("no /usr/bin/python3 for W&B's SDK")
    run_config = {"lr": 0.3, "epochs": 7}
    job = "%s/%s/%s:latest" % (ENTITY, PROJECT, JOB)
    cfg = ctx.path("sdk-config.json")
    h.write_file(cfg, json.dumps({"overrides": {"run_config": run_config}}))
    tmp = ctx.fresh_dir("wandb-sdk")
    sdk_env = env(ctx, PYTHONPATH=sdk, WANDB__REQUIRE_LEGACY_SERVICE="true",
                  WANDB_ERROR_REPORTING="false", WANDB_DIR=tmp, WANDB_CACHE_DIR=tmp,
                  WANDB_CONFIG_DIR=tmp, WANDB_DATA_DIR=tmp, WANDB_SILENT="true")
    proc = ctx.run(["/usr/bin/python3", "-m", "wandb", "launch", "-q", "cpu", "-j", job,
                    "-e", ENTITY, "-c", cfg, "--priority", "low"], env=sdk_env, check=False, timeout=300)
    h.check_equal(proc.returncode, 0, "wandb launch:\n" + proc.stdout + proc.stderr)
    ours_cfg = ctx.path("ours-config.json")
    h.write_file(ours_cfg, json.dumps(run_config))
    launch(ctx, job, "--queue", "cpu", "--config", ours_cfg, "--priority", "low")
    sdk_item, ours = items("cpu")[-2:]
    h.check_equal(ours["runSpec"], sdk_item["runSpec"], "runSpec of wandb-job launch vs the SDK")
    h.check_equal(json.loads(json.dumps(ours["runSpec"])), sdk_item["runSpec"], "runSpec")
    h.check_equal((ours["priority"], ours["templateVariableValues"]),
                  (sdk_item["priority"], sdk_item["templateVariableValues"]), "priority")
    # The same keys in the same order, as json.dumps of the SDK writes them.
    raw = {i["id"]: i for i in STATE["fake"].queues[(ENTITY, "model-registry", "cpu")]["items"]}
    h.check_equal(list(json.loads(raw[ours["id"]]["runSpec"])),
                  list(json.loads(raw[sdk_item["id"]]["runSpec"])), "key order")


CASES = [("push", case_push), ("default_entity", case_default_entity), ("refused_key", case_refused_key), ("errors", case_errors),
         ("wait", case_wait), ("wait_errors", case_wait_errors), ("show_runs", case_show_runs), ("pages", case_pages),
         ("describe", case_describe), ("sdk_conformance", case_sdk_conformance)]


if __name__ == "__main__":
    try:
        h.main("wandb-launch", CASES, setup=setup)
    finally:
        if "fake" in STATE:
            STATE["fake"].stop()
