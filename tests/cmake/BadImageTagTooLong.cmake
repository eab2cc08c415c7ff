string(REPEAT t 129 tag)
wandb_add_job(train IMAGE train:${tag})
