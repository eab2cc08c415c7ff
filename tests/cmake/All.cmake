# ALL puts the capture step into the default target.
wandb_add_job(train ALL)
