wandb_add_job(train IMAGE train:1 IMAGE_WORKING_DIR work)
