add_custom_target(job-publish)
wandb_add_job(train)
