# Helpers for the <Case>-check.cmake scripts that read spec.json, included by them.

# Sets `out_var` to the spec of `target` in ${bin}.
function(read_spec target out_var)
  set(file "${bin}/wandb-jobs/${target}/spec.json")
  if(NOT EXISTS "${file}")
    message(FATAL_ERROR "${CASE}: ${file} was not written")
  endif()
  file(READ "${file}" text)
  set(${out_var} "${text}" PARENT_SCOPE)
endfunction()

# Checks that the JSON object `json` has exactly the members `names...`.
function(expect_members json what)
  string(JSON count LENGTH "${json}")
  set(actual "")
  if(count GREATER 0)
    math(EXPR last "${count} - 1")
    foreach(i RANGE ${last})
      string(JSON name MEMBER "${json}" ${i})
      list(APPEND actual "${name}")
    endforeach()
  endif()
  set(expected ${ARGN})
  list(SORT actual)
  list(SORT expected)
  assert_equal("${actual}" "${expected}" "members of ${what}")
endfunction()

# Checks that the number at `path` (a ;-list of keys) of `json` is `expected`.
function(expect_number json path expected)
  string(JSON type TYPE "${json}" ${path})
  string(JSON value GET "${json}" ${path})
  assert_equal("${type}:${value}" "NUMBER:${expected}" "${path}")
endfunction()

# Checks that the string at `path` (a ;-list of keys) of `json` is `expected`.
function(expect_string json path expected)
  string(JSON type TYPE "${json}" ${path})
  assert_equal("${type}" "STRING" "type of ${path}")
  string(JSON value GET "${json}" ${path})
  assert_equal("${value}" "${expected}" "value of ${path}")
endfunction()

# Checks that `key` of `json` is an array of strings equal to the remaining arguments, taken one
# by one (so that they may hold semicolons).
function(expect_array json key)
  string(JSON type TYPE "${json}" ${key})
  assert_equal("${type}" "ARRAY" "type of ${key}")
  string(JSON length LENGTH "${json}" ${key})
  math(EXPR expected_length "${ARGC} - 2")
  assert_equal("${length}" "${expected_length}" "length of ${key}")
  foreach(i RANGE 2 ${ARGC})
    if(i EQUAL ARGC)
      break()
    endif()
    math(EXPR index "${i} - 2")
    string(JSON value GET "${json}" ${key} ${index})
    assert_equal("${value}" "${ARGV${i}}" "${key}[${index}]")
  endforeach()
endfunction()

set(top_level_members format target name entity project source description aliases args config
  config_file lockfiles code_dir exclude dockerfile build_context base_image image extra_files
  image_files image_env image_working_dir image_user image_shim max_file_size cmake_args
  packages inputs cmake)
set(cmake_members source_dir binary_dir target_source_dir project_name version generator
  cxx_compiler_id cxx_compiler_version system_name system_processor fetchcontent_base_dir
  templates_dir toolchain_file module_file tool_source_dir)
