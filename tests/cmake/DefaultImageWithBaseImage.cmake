wandb_add_job(train IMAGE train:1 BASE_IMAGE ubuntu:22.04)
