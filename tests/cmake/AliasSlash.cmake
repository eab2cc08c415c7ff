wandb_add_job(train ALIASES x/y)
