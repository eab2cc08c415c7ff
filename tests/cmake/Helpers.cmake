# Unit tests of the module's pure helper functions, run with `cmake -DMODULE=<WandbJob.cmake> -P`.
# Rejections are covered by the <Case>.cmake tests; here valid input must pass and round-trip.
cmake_minimum_required(VERSION 3.25)
include(${MODULE})

function(assert_equal actual expected what)
  if(NOT "${actual}" STREQUAL "${expected}")
    message(FATAL_ERROR "${what}:\n  actual:   '${actual}'\n  expected: '${expected}'")
  endif()
endfunction()

# Image references that W&B and registries accept.
string(REPEAT 0123456789abcdef 4 hex)
string(REPEAT a 255 long_path)
string(REPEAT T 128 long_tag)
foreach(ref IN ITEMS ubuntu ubuntu:22.04 python:3.11-slim library/python ghcr.io/org/train:v1.0
    localhost/train localhost:5000/ml/train:latest registry.example.com:443/a/b/c:1.0
    my-registry.io/a__b/c.d/e-f--g:_tag train@sha256:${hex} org/train:v1.0@sha256:${hex}
    ${long_path} train:${long_tag} 127.0.0.1:5000/train)
  _wandb_job_check_image_ref(test IMAGE "${ref}")
endforeach()
# A base image's tag becomes no alias: a version-index tag is fine there.
_wandb_job_check_image_ref(test BASE_IMAGE ghcr.io/org/base:v1)

# JSON string literals: parse back to the same value.
string(ASCII 1 soh)
string(ASCII 27 esc)
string(ASCII 31 us)
foreach(value IN ITEMS "" plain "quote \" backslash \\ slash /" "tab\tnew\nline\rret"
    "controls ${soh}${esc}${us}" "unicode é ✓" "dollar $<CONFIG> $ <" "a\\;b")
  _wandb_job_json_quote(quoted "${value}")
  string(JSON parsed GET "{\"k\":${quoted}}" k)
  assert_equal("${parsed}" "${value}" "round trip of ${quoted}")
endforeach()
_wandb_job_json_quote(quoted "${esc}")
assert_equal("${quoted}" "\"\\u001b\"" "escaped ESC")

# JSON arrays keep empty and ;-holding elements.
set(list "a" "" "b\\;c" "d")
_wandb_job_json_array(array "${list}")
assert_equal("${array}" "[\"a\",\"\",\"b;c\",\"d\"]" "array")
_wandb_job_json_array(array "")
assert_equal("${array}" "[]" "empty array")
