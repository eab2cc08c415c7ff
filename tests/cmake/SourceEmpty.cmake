# SOURCE "" (a variable that is empty, quoted) is the default: chosen by the helper, or an image
# job with IMAGE.
set(source_choice "")
wandb_add_job(train SOURCE "${source_choice}")
add_executable(eval main.cpp)
wandb_add_job(eval SOURCE "${source_choice}" IMAGE eval:1)
