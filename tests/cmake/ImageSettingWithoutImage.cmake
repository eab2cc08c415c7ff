wandb_add_job(train SOURCE artifact IMAGE_ENV A=1)
