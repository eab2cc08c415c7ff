wandb_add_job(train CONFIG optimizer..lr=2)
