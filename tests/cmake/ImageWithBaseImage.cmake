wandb_add_job(train SOURCE image IMAGE train:1 BASE_IMAGE ubuntu:22.04)
