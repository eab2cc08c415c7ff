wandb_add_job(train IMAGE :v1)
