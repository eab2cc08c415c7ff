wandb_add_job(train CONFIG_FILE params.json)
