wandb_add_job(train CONFIG "l r=2")
