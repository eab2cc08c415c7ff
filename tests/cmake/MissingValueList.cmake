wandb_add_job(train CONFIG)
