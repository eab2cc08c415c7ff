wandb_add_job(train NAME)
