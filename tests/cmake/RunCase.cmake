# Runs one module test case (RunCMake style), with `cmake -P`:
#   -DCASE=<Case> -DCASE_DIR=<this dir> -DMODULE=<WandbJob.cmake> -DWORK_ROOT=<dir>
#   -DGENERATOR=<generator> [-DSUFFIX=<name suffix>] [-DINCLUDE_MODULE=OFF]
# Writes a tiny project in <WORK_ROOT>/<Case><SUFFIX>/src that makes the executable `train`, sets
# WANDB_JOB_TOOL to a stub of the helper and includes the module (unless INCLUDE_MODULE is OFF;
# WANDB_JOB_TEST_MODULE and WANDB_JOB_TEST_STUB name both), includes <Case>.cmake, and
# configures it with a `git` on the PATH that fails and leaves a mark, so that no case may run git.
# With <Case>-stderr.txt the configure must fail and its stderr match that regex; otherwise it
# must succeed and <Case>-check.cmake, if any, is included here to check the result.
cmake_minimum_required(VERSION 3.25)

foreach(var IN ITEMS CASE CASE_DIR MODULE WORK_ROOT GENERATOR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "RunCase.cmake: -D${var}=... is required")
  endif()
endforeach()

set(work "${WORK_ROOT}/${CASE}${SUFFIX}")
set(src "${work}/src")
set(bin "${work}/build")
file(REMOVE_RECURSE "${work}")
file(MAKE_DIRECTORY "${src}" "${work}/path")

file(WRITE "${work}/git.sh" "#!/bin/sh\ntouch '${work}/git-was-run'\nexit 1\n")
file(COPY_FILE "${work}/git.sh" "${work}/path/git")
file(CHMOD "${work}/path/git" FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE)
set(tool "${work}/wandb-job")
file(COPY_FILE "${CASE_DIR}/stub-wandb-job.sh" "${tool}")
file(CHMOD "${tool}" FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE)

file(WRITE "${src}/main.cpp" "int main() { return 0; }\n")
file(WRITE "${src}/input.txt" "an input the stub helper lists in its depfile\n")
if(INCLUDE_MODULE STREQUAL "OFF")
  set(setup "")
else()
  set(setup "set(WANDB_JOB_TOOL \"${tool}\")\ninclude(\"${MODULE}\")\n")
endif()
file(WRITE "${src}/CMakeLists.txt" "cmake_minimum_required(VERSION 3.25)
project(t CXX)
set(WANDB_JOB_TEST_MODULE \"${MODULE}\")
set(WANDB_JOB_TEST_STUB \"${CASE_DIR}/stub-wandb-job.sh\")
${setup}add_executable(train main.cpp)
include(\"${CASE_DIR}/${CASE}.cmake\")
")

# Fails the test with `what`, showing both sides.
function(assert_equal actual expected what)
  if(NOT "${actual}" STREQUAL "${expected}")
    message(FATAL_ERROR "${CASE}: ${what}:\n  actual:   '${actual}'\n  expected: '${expected}'")
  endif()
endfunction()

# Runs a command; fails the test unless it exits with 0. Sets `out_var` to stdout and stderr.
function(run out_var)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    string(JOIN " " command ${ARGN})
    message(FATAL_ERROR "${CASE}: '${command}' failed (${rc}):\n${out}")
  endif()
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()

# Sets `out_var` to the number of lines of the stub helper's log that start with `prefix`.
function(count_stub_runs prefix out_var)
  set(count 0)
  if(EXISTS "${work}/stub.log")
    file(STRINGS "${work}/stub.log" lines)
    foreach(line IN LISTS lines)
      string(FIND "${line}" "${prefix}" at)
      if(at EQUAL 0)
        math(EXPR count "${count} + 1")
      endif()
    endforeach()
  endif()
  set(${out_var} ${count} PARENT_SCOPE)
endfunction()

execute_process(
  COMMAND ${CMAKE_COMMAND} -E env "PATH=${work}/path:$ENV{PATH}"
    "GIT_CEILING_DIRECTORIES=${WORK_ROOT}"
    ${CMAKE_COMMAND} -S "${src}" -B "${bin}" -G "${GENERATOR}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr)

if(EXISTS "${work}/git-was-run")
  message(FATAL_ERROR "${CASE}: git was run at configure time")
endif()

if(EXISTS "${CASE_DIR}/${CASE}-stderr.txt")
  file(READ "${CASE_DIR}/${CASE}-stderr.txt" expected)
  string(REGEX REPLACE "\n+$" "" expected "${expected}")
  if(rc EQUAL 0)
    message(FATAL_ERROR "${CASE}: configure succeeded, expected an error matching\n"
      "  ${expected}\nstdout:\n${stdout}\nstderr:\n${stderr}")
  endif()
  # CMake reflows long messages (wrapped, indented, two spaces after a '.'); undo that.
  string(REGEX REPLACE "[ \n]+" " " flat "${stderr}")
  if(NOT stderr MATCHES "${expected}" AND NOT flat MATCHES "${expected}")
    message(FATAL_ERROR "${CASE}: stderr does not match\n  ${expected}\nstderr:\n${stderr}")
  endif()
  # Exactly one error, and it is ours.
  string(REGEX MATCHALL "CMake Error" errors "${stderr}")
  list(LENGTH errors count)
  assert_equal(${count} 1 "number of 'CMake Error' in stderr:\n${stderr}\n")
else()
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${CASE}: configure failed:\n${stdout}\n${stderr}")
  endif()
  if(stderr MATCHES "CMake (Warning|Deprecation)")
    message(FATAL_ERROR "${CASE}: configure warned:\n${stderr}")
  endif()
  if(EXISTS "${CASE_DIR}/${CASE}-check.cmake")
    include("${CASE_DIR}/${CASE}-check.cmake")
  endif()
endif()
