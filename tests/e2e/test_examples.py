"""The examples of this repository, captured in the wandb-job build directory itself: builds target
job-bundle there and inspects the bundles (skipped when the examples define no jobs)."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def examples(ctx):
    ctx.require_tool()
    targets = ctx.run(["cmake", "--build", ctx.build_dir, "--target", "help"], check=False)
    if "job-bundle" not in targets.stdout:
        raise h.Skip("the build dir has no job-bundle target (examples define no jobs, or "
                     "WANDB_JOB_BUILD_EXAMPLES is OFF)")
    ctx.build(ctx.build_dir, "job-bundle")
    jobs_dir = os.path.join(ctx.build_dir, "wandb-jobs")
    train = h.bundle_dir(ctx.build_dir, "train")
    if not os.path.isfile(os.path.join(train, "bundle.json")):
        raise h.Skip("no wandb-jobs/train/bundle/bundle.json after building job-bundle")
    checked = []
    for target in sorted(os.listdir(jobs_dir)):
        d = h.bundle_dir(ctx.build_dir, target)
        if not os.path.isfile(os.path.join(d, "bundle.json")):
            continue  # a multi-config layout or a job that is not captured here
        b = h.Bundle(d)
        b.verify()
        h.check(b.meta["job"]["name"], "%s: empty job name" % target)
        h.check_equal(b.meta["job"]["aliases"][-1], "latest", "%s: last alias" % target)
        config = b.meta["config"]
        h.check_equal(json.dumps(b.job["input_types"]), json.dumps(h.wb_type(config)),
                      "%s: input_types of the config" % target)
        ep = b.job["source"].get("entrypoint", [])
        generated = b.meta["source_type"] == "artifact" and "Dockerfile.wandb" in b.code_files()
        if generated or b.meta["source_type"] == "repo":
            # The run shim renders ARGS from the spec in the code, with the launch config; a repo
            # job's spec is in launch/, for `wandb-job dockerfile` to write into the repository.
            h.check_equal(ep[:-1], h.shim_entrypoint("x")[:-1], "%s: entrypoint" % target)
            spec = json.loads(b.read("code" if generated else "launch", ".wandb-job", "job.json"))
            h.check_equal(spec["args"], b.meta["args"], "%s: ARGS in .wandb-job/job.json" % target)
            h.check_equal(spec["config"], config, "%s: defaults in .wandb-job/job.json" % target)
        elif b.meta["source_type"] != "image":
            h.check(ep and all(isinstance(a, str) for a in ep), "%s: entrypoint %r" % (target, ep))
            args = b.meta["args"]
            h.check(len(ep) >= len(args), "%s: entrypoint shorter than ARGS" % target)
            tail = ep[len(ep) - len(args):]
            for arg, got in zip(args, tail):
                h.check_equal(got, h.render_arg(arg, config),
                              "%s: entrypoint item for ARGS %r" % (target, arg))
        hits = h.find_in_tree(d, [ctx.build_dir, ctx.source_dir])
        h.check(not hits, "%s: absolute paths of this machine in the bundle: %s" % (target, hits))
        checked.append(target)
    print("checked bundles: %s" % ", ".join(checked))
    h.check("train" in checked, "the train bundle was not checked")


if __name__ == "__main__":
    h.main("examples", [("examples", examples)])
