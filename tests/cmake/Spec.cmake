# Every keyword, relative paths, a job in a subdirectory and extra files set after the call.
set(s ${CMAKE_CURRENT_SOURCE_DIR})
file(WRITE ${s}/params.json "{\"epochs\": 3}\n")
file(WRITE ${s}/deps/vcpkg.json "{}\n")
file(WRITE ${s}/conan.lock "{}\n")
file(WRITE ${s}/docker/Dockerfile "FROM scratch\n")
file(MAKE_DIRECTORY ${s}/code ${s}/tpl)
file(WRITE ${s}/sub/p.json "{}\n")
file(WRITE ${s}/sub/CMakeLists.txt
  "add_executable(eval ../main.cpp)\nwandb_add_job(eval CONFIG_FILE p.json)\n")
set_target_properties(train PROPERTIES CXX_STANDARD 17)
set(FETCHCONTENT_BASE_DIR ${CMAKE_BINARY_DIR}/fc)
set(WANDB_JOB_TEMPLATES_DIR ${s}/tpl)

wandb_add_job(train NAME train-job ENTITY team PROJECT mnist SOURCE artifact ALIASES stable best
  DESCRIPTION "Trains \"mnist\"; keeps $<CONFIG> and \\ as they are\nsecond line"
  ARGS --lr {lr} "--tags=a;b" --out $<TARGET_FILE:train>
  CONFIG lr=0.01 optimizer.momentum=0.9 "name=a b=c" empty= _x-y.z_1=1
  CONFIG_FILE params.json LOCKFILES deps/vcpkg.json ./deps/../conan.lock
  CODE_DIR code/ EXCLUDE "*.o" "build/" MAX_FILE_SIZE 2G
  DOCKERFILE docker/Dockerfile BUILD_CONTEXT . BASE_IMAGE ubuntu:22.04 IMAGE ghcr.io/org/train:v1.0
  CMAKE_ARGS -DBUILD_EXAMPLES=ON "-DGREETING:STRING=a b" PACKAGES libeigen3-dev g++-12
  INPUT lr HELP "Learning rate; small" MINIMUM 0 MAXIMUM 1 INPUT optimizer.momentum ENUM 0.9 0.99)
set_property(TARGET train PROPERTY WANDB_JOB_EXTRA_FILES ${s}/a.txt
  $<TARGET_PROPERTY:train,SOURCE_DIR>/b.txt)
set(WANDB_JOB_MAX_FILE_SIZE 0)
add_subdirectory(sub)

wandb_job_get_bundle_dir(train bundle_dir)
file(WRITE ${CMAKE_BINARY_DIR}/expected.cmake "
set(exp_bundle_dir [[${bundle_dir}]])
set(exp_compiler_id [[${CMAKE_CXX_COMPILER_ID}]])
set(exp_compiler_version [[${CMAKE_CXX_COMPILER_VERSION}]])
set(exp_system_name [[${CMAKE_SYSTEM_NAME}]])
set(exp_system_processor [[${CMAKE_SYSTEM_PROCESSOR}]])
")
