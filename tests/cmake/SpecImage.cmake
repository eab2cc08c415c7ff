# IMAGE without SOURCE makes an image job; a full reference with registry, port, tag and digest,
# a BASE_IMAGE and every image setting. BUILD_RPATH_USE_ORIGIN is turned on unless set. The run
# shim is on unless IMAGE_SHIM OFF.
string(REPEAT 0123456789abcdef 4 hex)
file(WRITE ${CMAKE_CURRENT_SOURCE_DIR}/data/vocab.txt "a b c\n")
wandb_add_job(train IMAGE localhost:5000/ml/train_x:V1.2-rc_3@sha256:${hex} ALIASES latest-x
  BASE_IMAGE debian:12-slim
  IMAGE_FILES input.txt=/etc/train/input.txt data/=/opt/data "./data/vocab.txt=/v=x.txt"
  IMAGE_ENV OMP_NUM_THREADS=4 "GREETING=a b=c" EMPTY=
  IMAGE_WORKING_DIR /work IMAGE_USER 1000:1000)
add_executable(eval main.cpp)
set_target_properties(eval PROPERTIES BUILD_RPATH_USE_ORIGIN OFF)
wandb_add_job(eval IMAGE eval:1 IMAGE_SHIM OFF)
add_executable(plain main.cpp)
wandb_add_job(plain SOURCE artifact)
get_target_property(train_origin train BUILD_RPATH_USE_ORIGIN)
get_target_property(eval_origin eval BUILD_RPATH_USE_ORIGIN)
get_property(plain_origin_set TARGET plain PROPERTY BUILD_RPATH_USE_ORIGIN SET)
file(WRITE ${CMAKE_BINARY_DIR}/rpath.txt "${train_origin};${eval_origin};${plain_origin_set}")
