wandb_add_job(train IMAGE train:1 CMAKE_ARGS -DX=1)
