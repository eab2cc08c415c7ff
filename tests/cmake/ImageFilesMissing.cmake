wandb_add_job(train IMAGE train:1 IMAGE_FILES data/missing.bin=/data/x.bin)
