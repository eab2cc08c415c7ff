# find_package(WandbJob) from an install tree laid out as the top-level CMakeLists.txt installs it,
# with a stub helper as the imported WandbJob::wandb-job; neither WANDB_JOB_TOOL nor the module
# of the source tree is set up beforehand (RunCase.cmake -DINCLUDE_MODULE=OFF).
include(CMakePackageConfigHelpers)
set(prefix ${CMAKE_BINARY_DIR}/prefix)
set(cmakedir ${prefix}/lib/cmake/WandbJob)
cmake_path(GET WANDB_JOB_TEST_MODULE PARENT_PATH module_dir)
set(CMAKE_INSTALL_DATADIR share)
configure_package_config_file(${module_dir}/WandbJobConfig.cmake.in ${cmakedir}/WandbJobConfig.cmake
  INSTALL_DESTINATION lib/cmake/WandbJob INSTALL_PREFIX ${prefix} PATH_VARS CMAKE_INSTALL_DATADIR)
unset(CMAKE_INSTALL_DATADIR)
file(COPY_FILE ${WANDB_JOB_TEST_MODULE} ${cmakedir}/WandbJob.cmake)
file(MAKE_DIRECTORY ${prefix}/bin)
file(COPY_FILE ${WANDB_JOB_TEST_STUB} ${prefix}/bin/wandb-job)
file(CHMOD ${prefix}/bin/wandb-job FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE)
file(WRITE ${cmakedir}/WandbJobTargets.cmake "add_executable(WandbJob::wandb-job IMPORTED)
set_target_properties(WandbJob::wandb-job PROPERTIES IMPORTED_LOCATION ${prefix}/bin/wandb-job)
")
file(WRITE ${prefix}/share/wandb-job/templates/Dockerfile.in "FROM scratch\n")
file(MAKE_DIRECTORY ${prefix}/share/wandb-job/source)

find_package(WandbJob CONFIG REQUIRED PATHS ${prefix} NO_DEFAULT_PATH)
if(DEFINED WANDB_JOB_TOOL)
  message(FATAL_ERROR "the package set WANDB_JOB_TOOL")
endif()
wandb_add_job(train)
