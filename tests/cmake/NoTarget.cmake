wandb_add_job(nosuch)
