"""The job views over a store filled by job-publish: `wandb-job ls` (a table NAME ENTITY PROJECT
LATEST ALIASES VERSIONS, and --json), `wandb-job show` of JOB, JOB:v0, JOB:latest, JOB:<alias>,
PROJECT/NAME and ENTITY/PROJECT/NAME (text sections "Job details", "Version details", "Runs",
and --json); the input types shown are those of the CONFIG and CONFIG_FILE given."""

import json
import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import publish_util as u  # noqa: E402
from publish_util import check, check_equal, h  # noqa: E402

CMAKE = """set(TRAIN_ALIASES "" CACHE STRING "extra aliases of train-job")
set(train_aliases "")
if(TRAIN_ALIASES)
  set(train_aliases ALIASES ${TRAIN_ALIASES})
endif()
add_executable(train train/main.cpp)
wandb_add_job(train NAME train-job PROJECT mnist SOURCE artifact CODE_DIR train ${train_aliases}
  DESCRIPTION "trains the model"
  CONFIG lr=0.01 epochs=10 name=resnet flag=true optimizer.name=adam optimizer.momentum=0.9
    layers=[64,32]
  CONFIG_FILE train/extra.json
  ARGS --lr {lr} --epochs {epochs})
add_executable(eval eval/main.cpp)
wandb_add_job(eval NAME eval-job ENTITY acme SOURCE artifact CODE_DIR eval CONFIG k=5)
"""

CONFIG_FILE = {"mixed": [1, "a"], "stages": [{"n": 1, "tag": "x"}], "extra": {},
               "nested": {"deep": {"x": None}}, "lr": 0.5}
CONFIG = {"lr": 0.01, "epochs": 10, "name": "resnet", "flag": True,
          "optimizer": {"name": "adam", "momentum": 0.9}, "layers": [64, 32]}


def expected_config():
    merged = dict(CONFIG_FILE)
    merged.update(CONFIG)
    return merged


# What the flattened types must be, written out (and cross-checked with the computed ones).
EXPECTED_TYPES = {
    "lr": "number", "epochs": "number", "name": "string", "flag": "boolean",
    "optimizer.name": "string", "optimizer.momentum": "number", "layers": "list<number>",
    "mixed": "list<union<number, string>>", "stages": "list<{n: number, tag: string}>",
    "extra": "dict", "nested.deep.x": "none",
}

LS_COLUMNS = ["NAME", "ENTITY", "PROJECT", "LATEST", "ALIASES", "VERSIONS"]
SHOW_FIELDS = ["schema_version", "name", "entity", "project", "full_name", "description", "created_at", "versions",
               "runs"]
VERSION_FIELDS = ["version", "aliases", "digest", "created_at", "source_type", "entrypoint",
                  "input_types", "output_types", "files"]


def published(ctx):
    """train-job v0 (stable) and v1 (prod) in local/mnist, eval-job v0 in acme/demo; built once
    per script. Returns (case, project)."""
    if not hasattr(ctx, "_views"):
        case = u.Case(ctx, "views")
        files = {
            "train/main.cpp": u.MAIN_CPP % 0,
            "train/extra.json": json.dumps(CONFIG_FILE) + "\n",
            "eval/main.cpp": u.MAIN_CPP % 1,
        }
        p = case.project("views", CMAKE, files)
        p.configure("-DTRAIN_ALIASES=stable")
        p.build("job-publish")
        p.edit_and_commit("train/main.cpp", u.MAIN_CPP % 2)
        p.configure("-DTRAIN_ALIASES=prod")
        lines = u.publish_lines(p.build("job-publish").stdout)
        u.check_job_line(lines, "train-job", "v1", "new", ["latest", "prod"])
        u.check_job_line(lines, "eval-job", "v0", "unchanged", ["latest"], entity="acme",
                         project="demo")
        ctx._views = (case, p)
    return ctx._views


def ls_text(ctx):
    case, _ = published(ctx)
    out = case.tool("ls").stdout
    lines = [l for l in out.splitlines() if l.strip()]
    check_equal(lines[0].split(), LS_COLUMNS, "ls header")
    offsets = [m.start() for m in re.finditer(r"\S+", lines[0])]
    rows = []
    for line in lines[1:]:
        cells = list(re.finditer(r"\S+", line))
        check_equal([m.start() for m in cells], offsets, "column positions of ls row %r" % line)
        rows.append([m.group(0) for m in cells])
    check_equal(rows, [["eval-job", "acme", "demo", "v0", "latest", "1"],
                       ["train-job", "local", "mnist", "v1", "latest,prod", "2"]], "ls rows")


def ls_json(ctx):
    case, _ = published(ctx)
    jobs = case.tool_json("ls", "--json")
    for j in jobs:
        check_equal(sorted(j), sorted(["schema_version", "name", "entity", "project",
                                       "latest_version", "aliases", "versions"]),
                    "fields of an ls --json entry")
    check_equal(jobs, [
        {"schema_version": 1, "name": "eval-job", "entity": "acme", "project": "demo",
         "latest_version": "v0", "aliases": ["latest"], "versions": 1},
        {"schema_version": 1, "name": "train-job", "entity": "local", "project": "mnist",
         "latest_version": "v1", "aliases": ["latest", "prod"], "versions": 2},
    ], "ls --json")
    check_equal([j["name"] for j in case.tool_json("ls", "--json", "--entity", "acme")],
                ["eval-job"], "ls --json --entity acme")
    check_equal([j["name"] for j in case.tool_json("ls", "--json", "--project", "mnist")],
                ["train-job"], "ls --json --project mnist")
    check_equal(case.tool_json("ls", "--json", "--project", "nothing"), [],
                "ls --json --project nothing")


def check_show_json(case, p, shown, versions):
    """`shown` is show --json of train-job holding exactly `versions` (["v1", "v0"]...)."""
    for f in SHOW_FIELDS:
        check(f in shown, "show --json lacks %r" % f)
    store = case.store
    job = store.job("train-job")
    check_equal((shown["name"], shown["entity"], shown["project"], shown["full_name"],
                 shown["description"]),
                ("train-job", "local", "mnist", "local/mnist/train-job", "trains the model"),
                "show --json (name, entity, project, full_name, description)")
    check(u.RFC3339.match(shown["created_at"]), "created_at %r" % shown["created_at"])
    check_equal(shown["created_at"], job.meta()["created_at"], "created_at vs collection.json")
    check_equal(shown["runs"], [], "runs")
    check_equal([v["version"] for v in shown["versions"]], versions, "versions shown")
    aliases = job.aliases()
    bundle = h.Bundle(p.bundle("train"))
    stored = job.versions()
    for v in shown["versions"]:
        for f in VERSION_FIELDS:
            check(f in v, "show --json: version %s lacks %r" % (v.get("version"), f))
        index = int(v["version"][1:])
        s = stored[index]
        check_equal(v["aliases"], sorted((a for a, i in aliases.items() if i == index),
                                         key=lambda a: (a != "latest", a)),
                    "aliases of %s" % v["version"])
        check_equal(v["digest"], s["digest"], "digest of %s" % v["version"])
        check_equal(v["created_at"], s["created_at"], "created_at of %s" % v["version"])
        check(u.RFC3339.match(v["created_at"]), "created_at %r" % v["created_at"])
        check_equal(v["source_type"], "artifact", "source_type of %s" % v["version"])
        check_equal(v["entrypoint"], bundle.meta["entrypoint"], "entrypoint of %s"
                    % v["version"])
        check_equal(v["input_types"], EXPECTED_TYPES, "input_types of %s" % v["version"])
        check_equal(v["output_types"], {}, "output_types of %s" % v["version"])
        files = [{"path": path, "size": e["size"], "digest": e["digest"]}
                 for path, e in sorted(s["manifest"]["contents"].items())]
        check_equal([{k: f.get(k) for k in ("path", "size", "digest")} for f in v["files"]],
                    files, "files of %s" % v["version"])


def show_json(ctx):
    case, p = published(ctx)
    # The expected types are those of the config given, as the bundle recorded it.
    check_equal(u.expected_input_types(expected_config()), EXPECTED_TYPES,
                "flattened types computed from the config")
    check_equal(h.Bundle(p.bundle("train")).meta["config"], expected_config(),
                "the bundle's config")
    every = case.tool_json("show", "--json", "train-job")
    check_show_json(case, p, every, ["v1", "v0"])
    for ref, versions in (("train-job:v0", ["v0"]), ("train-job:v1", ["v1"]),
                          ("train-job:latest", ["v1"]), ("train-job:prod", ["v1"]),
                          ("train-job:stable", ["v0"]), ("mnist/train-job:stable", ["v0"]),
                          ("local/mnist/train-job:v0", ["v0"])):
        check_show_json(case, p, case.tool_json("show", "--json", ref), versions)
    for ref in ("mnist/train-job", "local/mnist/train-job"):
        check_equal(case.tool_json("show", "--json", ref), every, "show --json %s" % ref)
    # The job of another entity, by each form of its name.
    first = None
    for ref in ("eval-job", "demo/eval-job", "acme/demo/eval-job", "acme/demo/eval-job:latest"):
        shown = case.tool_json("show", "--json", ref)
        check_equal((shown["full_name"], [v["version"] for v in shown["versions"]]),
                    ("acme/demo/eval-job", ["v0"]), "show --json %s" % ref)
        check_equal(shown["versions"][0]["input_types"], {"k": "number"},
                    "input_types of eval-job")
        first = first or shown
        check_equal(shown, first, "show --json %s vs eval-job" % ref)


def text_sections(out):
    """{section title: [lines]} of show's text, in order."""
    sections, order, current = {}, [], None
    for line in out.splitlines():
        if line and not line[0].isspace():
            current = line.strip()
            order.append(current)
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return order, sections


def input_types_of_block(lines):
    """The `key: type` rows under "Input types:" in show's text (the first version shown)."""
    rows, inside, indent = {}, False, None
    for line in lines:
        stripped = line.strip()
        if stripped == "Input types:":
            inside, indent = True, len(line) - len(line.lstrip())
            continue
        if inside:
            if len(line) - len(line.lstrip()) <= indent:
                break
            key, _, value = stripped.partition(": ")
            rows[key] = value
    return rows


def show_text(ctx):
    case, _ = published(ctx)
    out = case.tool("show", "train-job").stdout
    order, sections = text_sections(out)
    check_equal(order, ["Job details", "Version details", "Runs"], "sections of show")
    details = "\n".join(sections["Job details"])
    for word in ("train-job", "local/mnist/train-job", "trains the model"):
        check(word in details, "Job details lacks %r:\n%s" % (word, details))
    versions = "\n".join(sections["Version details"])
    check(re.search(r"^\s+v1\b.*latest.*prod", versions, re.M) and
          re.search(r"^\s+v0\b.*stable", versions, re.M),
          "Version details lack v1 (latest, prod) or v0 (stable):\n" + versions)
    check(versions.index("v1") < re.search(r"^\s+v0\b", versions, re.M).start(),
          "v1 is not shown before v0:\n" + versions)
    check_equal(input_types_of_block(sections["Version details"]), EXPECTED_TYPES,
                "Input types in show's text")
    digest = case.store.job("train-job").versions()[1]["digest"]
    check(digest in versions, "the digest of v1 is not shown")
    for ref, shown, hidden in (("train-job:stable", "v0", "v1"), ("train-job:latest", "v1", "v0"),
                               ("local/mnist/train-job:v0", "v0", "v1"),
                               ("mnist/train-job:prod", "v1", "v0")):
        order, sections = text_sections(case.tool("show", ref).stdout)
        check_equal(order, ["Job details", "Version details", "Runs"], "sections of show %s"
                    % ref)
        text = "\n".join(sections["Version details"])
        check(re.search(r"^\s+%s\b" % shown, text, re.M), "show %s lacks %s:\n%s"
              % (ref, shown, text))
        check(not re.search(r"^\s+%s\b" % hidden, text, re.M), "show %s shows %s too:\n%s"
              % (ref, hidden, text))
    order, sections = text_sections(case.tool("show", "acme/demo/eval-job").stdout)
    check_equal(input_types_of_block(sections["Version details"]), {"k": "number"},
                "Input types of eval-job in show's text")


def same_name_two_projects(ctx):
    case, p = published(ctx)
    # eval-job names no PROJECT: WANDB_PROJECT at publish time puts it into a second project.
    env = case.env_with(WANDB_JOB_STORE=case.path("store-two"))
    case.tool("publish", p.bundle("eval"), env=env)
    case.tool("publish", p.bundle("eval"), env=case.env_with(WANDB_JOB_STORE=case.path(
        "store-two"), WANDB_PROJECT="other"))
    check_equal([(j["entity"], j["project"], j["name"]) for j in case.tool_json("ls", "--json",
                                                                               env=env)],
                [("acme", "demo", "eval-job"), ("acme", "other", "eval-job")], "ls --json")
    proc = case.tool("show", "eval-job", env=env, check=False)
    errors = proc.stderr.strip().splitlines()
    check(proc.returncode != 0, "show of an ambiguous name succeeded:\n" + proc.stdout)
    check_equal(len(errors), 1, "stderr lines of an ambiguous show: %r" % errors)
    check("acme/demo/eval-job" in errors[0] and "acme/other/eval-job" in errors[0],
          "the error does not name both jobs: " + errors[0])
    for ref, project in (("other/eval-job", "other"), ("demo/eval-job", "demo"),
                         ("acme/other/eval-job", "other")):
        check_equal(case.tool_json("show", "--json", ref, env=env)["project"], project,
                    "project of show %s" % ref)


CASES = [
    ("ls", ls_text),
    ("ls --json", ls_json),
    ("show --json of every kind of reference", show_json),
    ("show text", show_text),
    ("one name in two projects", same_name_two_projects),
]

if __name__ == "__main__":
    u.main("publish-views", CASES)
