# Runs an example program, prints its output and then "exit code: <n>", so that a test's
# PASS_REGULAR_EXPRESSION checks both (ctest ignores the exit code once such a regex is set).
#   cmake -P run_example.cmake -- <program> <arg>...
set(command "")
set(after_separator FALSE)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
  if(after_separator)
    list(APPEND command "${CMAKE_ARGV${i}}")
  elseif(CMAKE_ARGV${i} STREQUAL "--")
    set(after_separator TRUE)
  endif()
endforeach()
if(NOT command)
  message(FATAL_ERROR "usage: cmake -P run_example.cmake -- <program> <arg>...")
endif()
execute_process(COMMAND ${command} RESULT_VARIABLE code OUTPUT_VARIABLE output
  ERROR_VARIABLE output)
message("${output}exit code: ${code}")
