wandb_add_job(train NAME job/train)
