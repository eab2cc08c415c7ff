wandb_add_job(train CONFIG opt=adam INPUT opt ENUM sgd rmsprop)
