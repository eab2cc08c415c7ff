# A `wandb-job` target in the build tree (add_subdirectory/FetchContent) wins over WANDB_JOB_TOOL.
add_executable(wandb-job main.cpp)
wandb_add_job(train)
