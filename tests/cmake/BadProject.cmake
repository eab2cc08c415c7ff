wandb_add_job(train PROJECT "team/mnist")
