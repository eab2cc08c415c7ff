include(${CASE_DIR}/SpecCheck.cmake)
set(prefix ${bin}/prefix)
read_spec(train spec)
expect_string("${spec}" "cmake;templates_dir" ${prefix}/share/wandb-job/templates)
# Artifact jobs carry the installed module and the helper's sources.
expect_string("${spec}" "cmake;module_file" ${prefix}/lib/cmake/WandbJob/WandbJob.cmake)
expect_string("${spec}" "cmake;tool_source_dir" ${prefix}/share/wandb-job/source)

run(out ${CMAKE_COMMAND} --build ${bin} --target train-wandb-job)
set(work ${prefix}/bin)
count_stub_runs("bundle --spec ${bin}/wandb-jobs/train/spec.json" runs)
assert_equal(${runs} 1 "runs of the installed helper")

# The Dockerfile template is an input of the capture step.
file(TOUCH ${prefix}/share/wandb-job/templates/Dockerfile.in)
run(out ${CMAKE_COMMAND} --build ${bin} --target train-wandb-job)
count_stub_runs("bundle --spec ${bin}/wandb-jobs/train/spec.json" runs)
assert_equal(${runs} 2 "runs of the installed helper after touching the template")
