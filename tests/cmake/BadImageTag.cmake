wandb_add_job(train IMAGE train:-1)
