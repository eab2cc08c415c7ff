wandb_add_job(train CMAKE_ARGS -DBUILD_EXAMPLES=ON --fresh)
