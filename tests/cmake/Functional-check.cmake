# Runs the builds of Functional.cmake with ${GENERATOR}: nothing runs the helper by default, a
# second build does nothing, and the depfile input, the helper, an extra file and the CONFIG
# values re-run it; the publish targets pass the bundles.
if(GENERATOR MATCHES "Multi-Config")
  set(config_dir Debug/)
  set(build_type Debug)
  set(config_args --config Debug)
  set(ninja_file build-Debug.ninja)
else()
  set(config_dir "")
  set(build_type "")
  set(config_args "")
  set(ninja_file build.ninja)
endif()
set(train_bundle "${bin}/wandb-jobs/train/${config_dir}bundle")
set(eval_bundle "${bin}/wandb-jobs/eval/${config_dir}bundle")

# Builds `target` and checks that the helper ran `runs` times in all for `train`.
function(build_and_count target runs what)
  run(out ${CMAKE_COMMAND} --build ${bin} ${config_args} --target ${target})
  count_stub_runs("bundle --spec ${bin}/wandb-jobs/train/spec.json" actual)
  assert_equal(${actual} ${runs} "helper runs after ${what}\n${out}\n")
endfunction()

# Checks that nothing is left to do for train-wandb-job.
function(expect_up_to_date what)
  build_and_count(train-wandb-job ${ARGN} "${what}")
  if(GENERATOR MATCHES "Ninja")
    run(out ninja -C ${bin} -f ${ninja_file} -n -d explain train-wandb-job)
    if(NOT out MATCHES "no work to do")
      message(FATAL_ERROR "${CASE}: ninja has work left after ${what}:\n${out}")
    endif()
  endif()
endfunction()

build_and_count(all 0 "a default build")
if(EXISTS "${train_bundle}")
  message(FATAL_ERROR "${CASE}: a default build made a bundle")
endif()

build_and_count(train-wandb-job 1 "the first build")
file(READ "${train_bundle}/bundle.json" bundle)
assert_equal("${bundle}" "{\"build_type\":\"${build_type}\",\"cxx_standard\":\"17\"}\n"
  "bundle.json written by the stub")

run(out ${CMAKE_COMMAND} ${bin})
expect_up_to_date("a second build and a configure" 1)

file(TOUCH "${src}/input.txt")
build_and_count(train-wandb-job 2 "touching the depfile input")
expect_up_to_date("the rebuild after touching the input" 2)

file(TOUCH "${work}/wandb-job")
build_and_count(train-wandb-job 3 "touching the helper")

file(TOUCH "${src}/extra.txt")
build_and_count(train-wandb-job 4 "touching an extra file")

file(WRITE "${src}/params.cmake" "set(LR 0.02)\n")
build_and_count(train-wandb-job 5 "changing CONFIG")
file(READ "${bin}/wandb-jobs/train/spec.json" spec)
string(JSON lr GET "${spec}" config 0)
assert_equal("${lr}" "lr=0.02" "CONFIG in the spec after the change")
expect_up_to_date("the rebuild after changing CONFIG" 5)

build_and_count(job-publish 5 "publishing")
count_stub_runs("publish --dry-run --entity=e ${train_bundle} ${eval_bundle}" runs)
assert_equal(${runs} 1 "aggregate publish commands")
count_stub_runs("bundle --spec ${bin}/wandb-jobs/eval/spec.json" runs)
assert_equal(${runs} 1 "captures of eval for job-publish")

build_and_count(eval-wandb-publish 5 "publishing eval")
count_stub_runs("publish --dry-run --entity=e ${eval_bundle}" runs)
assert_equal(${runs} 1 "publish commands of eval")
