wandb_add_job(train PROJECT p FOO)
