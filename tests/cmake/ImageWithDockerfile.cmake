file(WRITE ${CMAKE_CURRENT_SOURCE_DIR}/Dockerfile "FROM scratch\n")
wandb_add_job(train SOURCE image IMAGE train:1 DOCKERFILE Dockerfile)
