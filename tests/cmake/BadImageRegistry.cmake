wandb_add_job(train IMAGE -registry.io:5000/train)
