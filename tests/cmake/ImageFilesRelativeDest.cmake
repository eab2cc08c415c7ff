wandb_add_job(train IMAGE train:1 IMAGE_FILES input.txt=etc/input.txt)
