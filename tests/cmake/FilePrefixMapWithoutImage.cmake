wandb_add_job(train FILE_PREFIX_MAP OFF)
