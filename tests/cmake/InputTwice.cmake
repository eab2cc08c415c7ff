wandb_add_job(train CONFIG lr=0.1 INPUT lr HELP a INPUT lr HELP b)
