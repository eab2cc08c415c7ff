add_library(lib STATIC main.cpp)
wandb_add_job(lib)
