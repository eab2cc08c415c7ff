file(WRITE ${CMAKE_CURRENT_SOURCE_DIR}/Dockerfile "FROM scratch\n")
wandb_add_job(train IMAGE train:1 DOCKERFILE Dockerfile)
