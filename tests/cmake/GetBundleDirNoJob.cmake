wandb_job_get_bundle_dir(train dir)
