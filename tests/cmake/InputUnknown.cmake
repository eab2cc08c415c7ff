wandb_add_job(train CONFIG lr=0.1 INPUT rate HELP "Learning rate")
