wandb_add_job(train ENTITY "a:b")
