wandb_add_job(train CONFIG lr=2 INPUT lr TEXT "rate")
