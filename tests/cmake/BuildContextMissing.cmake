wandb_add_job(train BUILD_CONTEXT docker)
