wandb_add_job(train IMAGE train:1 IMAGE_SHIM maybe)
