wandb_add_job(train IMAGE train:1 IMAGE_ENV A=1 B=2 A=3)
