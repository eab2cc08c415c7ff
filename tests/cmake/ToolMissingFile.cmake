set(WANDB_JOB_TOOL ${CMAKE_CURRENT_BINARY_DIR}/no-such-tool)
wandb_add_job(train)
