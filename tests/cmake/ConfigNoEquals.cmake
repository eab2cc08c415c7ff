wandb_add_job(train CONFIG lr=1 epochs)
