"""The launch agent's steps for one job, done with W&B's own SDK code (not this project's): run
with the Debian interpreter and PYTHONPATH naming W&B's SDK. Prints one JSON object: for each step
that ran, what it produced; for the first that failed, its name and error; later steps do not run.

    python3 sdk_steps.py <entity/project/job:alias> <run id> <launch config JSON>

Steps: "job" (wandb.Api().job), "project" (LaunchProject.from_spec + fetch_and_validate_project,
what `wandb launch` does), "build_context" (BuildContextManager.create_build_context, only for
jobs the agent builds) and "command" (the local-container runner's docker command).
"""

import json
import os
import sys
import traceback


def main():
    job_ref, run_id, launch_config = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    import wandb
    from wandb.apis.internal import Api
    from wandb.sdk.launch._project_spec import LaunchProject
    from wandb.sdk.launch.builder.context_manager import BuildContextManager
    from wandb.sdk.launch.runner.local_container import (LocalContainerRunner,
                                                         get_docker_command)
    from wandb.sdk.launch.utils import MAX_ENV_LENGTHS, construct_launch_spec

    out = {"version": wandb.__version__}
    step = "job"
    try:
        job = wandb.Api().job(job_ref, path=os.path.join(os.environ["WANDB_DIR"], "job"))
        out["job"] = {"name": job.name, "source_type": job._job_info.get("source_type"),
                      "git": job._job_info.get("source", {}).get("git"),
                      "entrypoint": job._entrypoint, "input_types": job._input_types.to_json()}

        step = "project"
        api = Api()
        spec = construct_launch_spec(None, job_ref, api, None, None, None, None,
                                     "local-container", None, None, None, launch_config, run_id,
                                     None, author=None)
        project = LaunchProject.from_spec(spec, api)
        project.fetch_and_validate_project()
        entry = project.get_job_entry_point()
        out["project"] = {
            "source": str(project.source), "docker_image": project.docker_image,
            "job_base_image": project.job_base_image,
            "entrypoint": entry.command if entry else None,
            "override_args": project.override_args,
            "override_config": project.override_config,
            "job_dockerfile": project.job_dockerfile,
            "files": sorted(os.path.relpath(os.path.join(d, f), project.project_dir)
                            for d, _, fs in os.walk(project.project_dir) for f in fs)}

        image = project.docker_image or project.job_base_image
        if not image:
            step = "build_context"
            context, tag = BuildContextManager(project).create_build_context("docker")
            with open(os.path.join(context, "Dockerfile.wandb")) as f:
                dockerfile = f.read()
            out["build_context"] = {"tag": tag, "dockerfile": dockerfile,
                                    "files": sorted(os.listdir(context))}
            image = "built:" + tag

        step = "command"
        runner = LocalContainerRunner(api, {}, None, None)
        docker_args = runner._populate_docker_args(project, image)
        env = project.get_env_vars_dict(api, MAX_ENV_LENGTHS["LocalContainerRunner"])
        entry = project.get_job_entry_point()
        out["command"] = get_docker_command(image, env, docker_args=docker_args,
                                            entry_cmd=entry.command if entry else None,
                                            additional_args=project.override_args)
        out["env"] = {k: v for k, v in env.items() if k != "WANDB_API_KEY"}
    except BaseException as e:  # noqa: BLE001 - every failure is the result being reported
        out["failed"] = {"step": step, "error": "%s: %s" % (type(e).__name__, e),
                         "traceback": traceback.format_exc()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
