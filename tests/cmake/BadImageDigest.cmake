wandb_add_job(train IMAGE train@sha256:abc)
