wandb_add_job(train)
wandb_add_job(train PROJECT p)
