string(REPEAT a 129 alias)
wandb_add_job(train ALIASES ok ${alias})
