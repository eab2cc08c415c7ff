wandb_add_job(train IMAGE train:1 IMAGE_ENV LD_LIBRARY_PATH=/opt/lib)
