add_executable(t::train ALIAS train)
wandb_add_job(t::train)
