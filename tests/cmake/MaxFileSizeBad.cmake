wandb_add_job(train MAX_FILE_SIZE 10MB)
