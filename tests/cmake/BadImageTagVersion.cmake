wandb_add_job(train IMAGE ghcr.io/acme/train:v1)
