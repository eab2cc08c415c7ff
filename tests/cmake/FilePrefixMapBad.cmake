wandb_add_job(train IMAGE train:1 FILE_PREFIX_MAP no)
