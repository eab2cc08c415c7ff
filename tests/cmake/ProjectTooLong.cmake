string(REPEAT p 129 project)
wandb_add_job(train PROJECT ${project})
