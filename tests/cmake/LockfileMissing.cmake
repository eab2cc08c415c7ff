file(WRITE ${CMAKE_CURRENT_SOURCE_DIR}/vcpkg.json "{}")
wandb_add_job(train LOCKFILES vcpkg.json conan.lock)
