wandb_add_job(train IMAGE org//train)
