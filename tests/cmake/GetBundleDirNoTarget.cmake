wandb_job_get_bundle_dir(nosuch dir)
