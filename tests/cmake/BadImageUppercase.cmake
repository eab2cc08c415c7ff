wandb_add_job(train IMAGE ghcr.io/Org/train:1)
