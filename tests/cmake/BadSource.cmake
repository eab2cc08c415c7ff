wandb_add_job(train SOURCE git)
