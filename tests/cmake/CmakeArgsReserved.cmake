wandb_add_job(train CMAKE_ARGS -DCMAKE_BUILD_TYPE=Debug)
