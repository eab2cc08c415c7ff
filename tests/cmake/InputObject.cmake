wandb_add_job(train CONFIG model.depth=2 INPUT model HELP "The model")
