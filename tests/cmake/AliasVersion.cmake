wandb_add_job(train ALIASES stable v12)
