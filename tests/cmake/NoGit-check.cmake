# The fake git was the one a configure step would have found.
execute_process(
  COMMAND ${CMAKE_COMMAND} -E env "PATH=${work}/path:$ENV{PATH}" sh -c "command -v git"
  OUTPUT_VARIABLE git OUTPUT_STRIP_TRAILING_WHITESPACE)
assert_equal("${git}" "${work}/path/git" "git on the PATH of the configure step")
if(NOT EXISTS "${bin}/wandb-jobs/train/spec.json")
  message(FATAL_ERROR "${CASE}: no spec.json")
endif()
