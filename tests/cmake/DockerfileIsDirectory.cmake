wandb_add_job(train DOCKERFILE .)
