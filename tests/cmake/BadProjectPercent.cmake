wandb_add_job(train PROJECT "50%")
