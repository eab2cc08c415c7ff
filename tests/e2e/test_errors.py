"""Errors of the capture step: it fails with exactly one clear line, exits non-zero and leaves no
bundle behind; building again fails again (a failed step is never taken as up to date)."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def expect_failure(ctx, name, job_args, words, extra_files=None, remote=None):
    repo = ctx.new_repo(name, h.project_files(job_args, extra_files=extra_files), remote=remote)
    if remote:
        repo.tracking_ref()
    build = os.path.join(os.path.dirname(repo.path), "build")
    ctx.configure(repo.path, build)
    for attempt in ("first", "second"):
        proc = ctx.build(build, "train-wandb-job", check=False)
        out = proc.stdout + proc.stderr
        h.check(proc.returncode != 0, "%s build succeeded:\n%s" % (attempt, out))
        errors = [l for l in out.splitlines() if l.startswith("wandb-job: error:")]
        h.check_equal(len(errors), 1, "number of 'wandb-job: error:' lines (%s build)\n%s"
                      % (attempt, out))
        tool_lines = [l for l in out.splitlines() if l.startswith("wandb-job:")]
        h.check(tool_lines[-1] == errors[0], "the error is not the tool's last line:\n" + out)
        for w in words:
            h.check(w in errors[0], "the error does not mention %r: %s" % (w, errors[0]))
        jobs = os.path.join(build, "wandb-jobs", "train")
        bundle = h.bundle_dir(build)
        h.check(not os.path.exists(bundle) or not os.listdir(bundle),
                "something was left in the bundle dir: %s" % h.list_files(bundle))
        leftovers = [f for f in os.listdir(jobs) if f.startswith("bundle") and f != "bundle"
                     and not f.endswith(".d")]
        h.check(not leftovers, "temporary bundle directories left behind: %s" % leftovers)
    return errors[0]


def args_unknown_key(ctx):
    expect_failure(ctx, "args-key", "CONFIG lr=0.1 ARGS --lr {lr} --depth {depth}",
                   ["depth", "ARGS"])


def config_file_not_object(ctx):
    expect_failure(ctx, "config-file", "CONFIG_FILE params.json", ["CONFIG_FILE", "JSON object"],
                   extra_files={"params.json": json.dumps([1, 2, 3]) + "\n"})


def config_file_not_json(ctx):
    expect_failure(ctx, "config-file-syntax", "CONFIG_FILE params.json", ["CONFIG_FILE"],
                   extra_files={"params.json": "{lr: 0.1,}\n"})


def repo_without_remote(ctx):
    expect_failure(ctx, "repo-no-remote", "SOURCE repo", ["SOURCE repo", "remote"])


def dockerfile_collision(ctx):
    expect_failure(ctx, "dockerfile-collision", "", ["Dockerfile.wandb"],
                   extra_files={"Dockerfile.wandb": "FROM scratch\n"})


CASES = [
    ("ARGS naming a key not in CONFIG", args_unknown_key),
    ("CONFIG_FILE not a JSON object", config_file_not_object),
    ("CONFIG_FILE not JSON", config_file_not_json),
    ("SOURCE repo without a remote", repo_without_remote),
    ("generated Dockerfile.wandb collision", dockerfile_collision),
]

if __name__ == "__main__":
    h.main("errors", CASES, setup=lambda ctx: ctx.require_tool())
