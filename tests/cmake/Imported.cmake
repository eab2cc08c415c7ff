add_executable(imp IMPORTED)
wandb_add_job(imp)
