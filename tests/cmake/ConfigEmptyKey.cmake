wandb_add_job(train CONFIG =1)
