set(WANDB_JOB_TOOL wandb-job)
wandb_add_job(train)
