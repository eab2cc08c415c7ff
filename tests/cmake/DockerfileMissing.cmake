wandb_add_job(train DOCKERFILE docker/Dockerfile)
