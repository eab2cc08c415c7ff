wandb_add_job(train SOURCE repo BASE_IMAGE debian:12)
