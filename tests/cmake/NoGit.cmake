# Configured with a failing `git` first on the PATH (RunCase.cmake checks that it never ran).
wandb_add_job(train SOURCE repo)
