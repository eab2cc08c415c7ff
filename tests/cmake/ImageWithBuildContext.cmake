wandb_add_job(train SOURCE image IMAGE train:1 BUILD_CONTEXT .)
