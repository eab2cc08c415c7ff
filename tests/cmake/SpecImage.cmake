# IMAGE without SOURCE makes an image job; a full reference with registry, port, tag and digest.
string(REPEAT 0123456789abcdef 4 hex)
wandb_add_job(train IMAGE localhost:5000/ml/train_x:V1.2-rc_3@sha256:${hex} ALIASES latest-x)
