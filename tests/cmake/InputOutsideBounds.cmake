wandb_add_job(train CONFIG lr=2 INPUT lr MINIMUM 0 MAXIMUM 1)
