# The smallest call: every string is "" and every array [].
wandb_add_job(train)
