# The capture step runs the built helper and depends on it (Ninja build file).
file(READ "${bin}/build.ninja" ninja)
set(output wandb-jobs/train/bundle/bundle.json)
set(inputs "train wandb-job wandb-jobs/train/spec.json")
foreach(text IN ITEMS "build ${output} | \${cmake_ninja_workdir}${output}: CUSTOM_COMMAND ${inputs}"
    "COMMAND = cd ${bin} && ${bin}/wandb-job bundle --spec ${bin}/wandb-jobs/train/spec.json"
    "COMMAND = cd ${bin} && ${bin}/wandb-job publish ${bin}/wandb-jobs/train/bundle\n")
  string(FIND "${ninja}" "${text}" at)
  if(at LESS 0)
    message(FATAL_ERROR "${CASE}: build.ninja has no\n  ${text}")
  endif()
endforeach()
string(FIND "${ninja}" "${work}/wandb-job" at)
assert_equal(${at} -1 "position of WANDB_JOB_TOOL in build.ninja")
