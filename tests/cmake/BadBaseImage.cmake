wandb_add_job(train SOURCE repo BASE_IMAGE "Ubuntu:22.04")
