string(REPEAT x 129 name)
wandb_add_job(train NAME ${name})
