# Multi-config generators: one spec, one bundle per configuration.
wandb_add_job(train)
wandb_job_get_bundle_dir(train bundle_dir)
get_target_property(property train WANDB_JOB_BUNDLE_DIR)
file(WRITE ${CMAKE_BINARY_DIR}/expected.cmake
  "set(exp_bundle_dir [[${bundle_dir}]])\nset(exp_property [[${property}]])\n")
