wandb_add_job(train ALIASES a "" b)
