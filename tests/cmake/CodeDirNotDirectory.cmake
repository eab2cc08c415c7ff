wandb_add_job(train CODE_DIR main.cpp)
