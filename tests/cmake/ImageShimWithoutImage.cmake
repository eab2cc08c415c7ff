wandb_add_job(train SOURCE artifact IMAGE_SHIM OFF)
