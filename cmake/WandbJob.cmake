# This file is part of wandb-job and is distributed under the same license as the project.

#[===[.rst:
WandbJob
--------

Turn a CMake executable target into a Weights & Biases Launch job.

The module only validates arguments, computes paths, writes a job input spec and declares build
steps. Nothing is done at configure time: no git, no hashing, no network, no file reads beyond
existence checks. At build time the ``wandb-job`` helper captures the job into a *bundle* directory
(git state, code, lockfiles, the runtime closure of the target) and, on request only, publishes it.

.. code-block:: cmake

  find_package(WandbJob CONFIG REQUIRED)   # or add_subdirectory/FetchContent, or include(WandbJob)
  add_executable(train train.cpp)
  wandb_add_job(train PROJECT mnist CONFIG lr=0.01 batch_size=32
                ARGS --lr {lr} --batch {batch_size})

.. code-block:: sh

  cmake --build build --target train-wandb-job   # capture, offline
  cmake --build build --target job-publish       # publish every job of the project

.. command:: wandb_add_job

  .. code-block:: cmake

    wandb_add_job(<target>
                  [NAME <name>] [ENTITY <entity>] [PROJECT <project>]
                  [SOURCE repo|artifact|image] [ALIASES <alias>...]
                  [DESCRIPTION <text>] [ARGS <arg>...]
                  [CONFIG <key>=<value>...] [CONFIG_FILE <file.json>]
                  [LOCKFILES <file>...] [CODE_DIR <dir>] [EXCLUDE <glob>...]
                  [MAX_FILE_SIZE <size>]
                  [DOCKERFILE <path>] [BUILD_CONTEXT <dir>] [BASE_IMAGE <ref>]
                  [CMAKE_ARGS <-Dvar=value>...] [PACKAGES <debian-package>...]
                  [INPUT <key> [HELP <text>] [ENUM <value>...]
                         [MINIMUM <n>] [MAXIMUM <n>]]...
                  [IMAGE <ref>] [IMAGE_FILES <src>=<dest>...]
                  [IMAGE_ENV <name>=<value>...] [IMAGE_WORKING_DIR <dir>]
                  [IMAGE_USER <user>[:<group>]] [IMAGE_SHIM ON|OFF]
                  [FILE_PREFIX_MAP ON|OFF] [ALL])

  Declares a job for the executable ``<target>``, which must already exist and must not be
  imported or an alias. Each target can have one job. Relative paths are relative to
  ``CMAKE_CURRENT_SOURCE_DIR``. Values are taken literally: generator expressions in them are not
  evaluated. Argument values that equal one of the keywords below are read as that keyword.

  ``NAME <name>``
    The job artifact name. Only ``A-Z a-z 0-9 _ . -``, at most 128 characters. Default: the name
    W&B's SDK would give (``job-<remote>_<path>``, ``job-<code artifact>`` or ``job-<image>``).

  ``ENTITY <entity>``
    The W&B entity (user or team). Default: the publisher's default entity.

  ``PROJECT <project>``
    The W&B project: at most 128 characters, none of ``/ \ # ? % :``. Default: the
    ``WANDB_PROJECT`` environment variable at publish time, else the CMake project name.

  ``SOURCE repo|artifact|image``
    What the job points to: a git commit (``repo``), a code artifact with a Dockerfile that
    rebuilds the target (``artifact``) or an OCI image (``image``). Default: ``image`` when
    ``IMAGE`` is given, else chosen by the helper. ``SOURCE ""`` (an empty variable, quoted) is
    the default too.

  ``ALIASES <alias>...``
    Extra aliases for each published version. Not empty, at most 128 characters, no ``/`` or
    ``:``, and not ``v<digits>`` (W&B reads that as a version index).

  ``DESCRIPTION <text>``
    The job artifact's description.

  ``ARGS <arg>...``
    The command-line template passed to the target. ``{key}`` is replaced by the config value of
    ``key`` when the job runs.

  ``CONFIG <key>=<value>...``
    Default hyperparameters, the job's typed inputs. Keys are ``[A-Za-z_][A-Za-z0-9_-]*``
    segments joined by ``.`` for nesting (``optimizer.lr=0.1``); each key once.

  ``INPUT <key> [HELP <text>] [ENUM <value>...] [MINIMUM <n>] [MAXIMUM <n>]``
    Describes the config value ``<key>`` (a ``CONFIG`` or ``CONFIG_FILE`` key, dotted when
    nested) for W&B's launch drawer: a description (``HELP``), the allowed values (each read like a
    ``CONFIG`` value: valid JSON keeps its type, anything else is a string) and numeric bounds.
    Repeat ``INPUT`` once per value. The job artifact's metadata carries them in
    ``input_schemas``, the JSON schema ``wandb job create --schema`` writes. An unknown key, an
    ``ENUM`` without the default and bounds that exclude it are configure errors.

  ``CONFIG_FILE <file.json>``
    A JSON object of default hyperparameters, merged under ``CONFIG``. Must exist; at most
    1 MiB and 64 levels of nesting.

  ``LOCKFILES <file>...``
    Dependency lockfiles to pin in the job (``vcpkg.json``, ``conan.lock``, ...). Must exist.

  ``CODE_DIR <dir>``
    The root of the code artifact for ``artifact`` jobs. Default: the git work tree root.

  ``EXCLUDE <glob>...``
    gitignore-style patterns of files left out of the code artifact.

  ``MAX_FILE_SIZE <size>``
    The largest file the code artifact of an ``artifact`` job may hold, in bytes or with a
    ``K``, ``M`` or ``G`` suffix (powers of 1024); ``0`` for no limit. A larger file stops the
    capture with a line naming it: leave it out with ``EXCLUDE`` or ``.wandbignore``, or raise
    the limit. Default: ``WANDB_JOB_MAX_FILE_SIZE`` if set, else ``100M``.

  ``DOCKERFILE <path>``
    A Dockerfile that builds the job (``source.dockerfile``). Must exist. Not for image jobs.

  ``BUILD_CONTEXT <dir>``
    The Docker build context (``source.build_context``). Must be a directory. Not for image
    jobs.

  ``BASE_IMAGE <ref>``
    For artifact jobs without ``DOCKERFILE``, the ``FROM`` of the generated ``Dockerfile.wandb``
    (default ``debian:12``; it must be Debian-like, with ``apt-get``); without ``DOCKERFILE``
    the default source is then ``artifact``, and ``SOURCE repo`` is an error (the agent would
    run the job in the bare image). For repo jobs with ``DOCKERFILE``, the ``FROM`` of the
    Dockerfile ``wandb-job dockerfile`` writes. Never the job's ``source.base_image``, with
    which W&B's agent would skip the build.
    For image jobs, the base of the built image: its
    layers go below ours and its config (``Env``, labels, ports...) is merged in. It is
    resolved when publishing, never while building; without it the image starts from scratch
    (``docs/image.md``).

  ``CMAKE_ARGS <-Dvar=value>...``
    Cache entries the job's build configures with, for targets that need them
    (``-DBUILD_EXAMPLES=ON``); used by artifact jobs' generated Dockerfile, not for image jobs. Each is ``-D<var>[:<type>]=<value>``; the build type,
    the toolchain file and the module's own variables are recorded by the capture and may not
    be given here. They go into the code artifact's ``.wandb-job/configure.json``, which the
    generated Dockerfile and ``wandb-job run`` configure with.

  ``PACKAGES <debian-package>...``
    Debian packages the job's build needs (``libeigen3-dev``), installed by the generated
    Dockerfile of an artifact job after its defaults (a compiler, CMake, Ninja, git
    and what the run shim needs). Names as ``apt-get install`` takes them.

  ``IMAGE <ref>``
    The OCI image reference to build, ``[registry[:port]/]path[:tag][@sha256:<64 hex>]`` in
    lowercase (the tag may use upper case). Its tag becomes an alias, so it cannot be
    ``v<digits>``, a W&B version index. Required for ``image`` jobs.

  ``IMAGE_FILES <src>=<dest>...``
    Image jobs only: more files in the image. ``<src>`` is a file or a directory (copied
    recursively), relative to ``CMAKE_CURRENT_SOURCE_DIR``, and must exist; ``<dest>`` is an
    absolute path inside the image. The files are inputs of the capture step.

  ``IMAGE_ENV <name>=<value>...``
    Image jobs only: environment variables of the image, after ``PATH`` and
    ``LD_LIBRARY_PATH``, which the image sets itself and which may not be given here. Names are
    ``[A-Za-z_][A-Za-z0-9_]*``, each once.

  ``IMAGE_WORKING_DIR <dir>``
    Image jobs only: the absolute working directory of the program. Default: ``/``.

  ``IMAGE_USER <user>[:<group>]``
    Image jobs only: the user (name or number, and optionally group) the program runs as.
    Default: root.

  ``IMAGE_SHIM ON|OFF``
    Image jobs only: whether the image runs the program under the run shim, ``wandb-job exec``
    (``/usr/local/bin/wandb-job`` with its shared libraries, in a layer of its own shared by
    every job). With it (the default), the image takes the launch config (``WANDB_CONFIG``),
    renders ``ARGS`` with it and records the run; ``OFF`` makes the program itself the
    entrypoint, with ``ARGS`` rendered with the default config (``docs/image.md``).

  ``FILE_PREFIX_MAP ON|OFF``
    Image jobs only: whether the job's target and the libraries of this project it links
    (directly or through other libraries, as ``target_link_libraries`` says at the end of the
    top-level ``CMakeLists.txt``) are compiled with
    ``-ffile-prefix-map=${CMAKE_SOURCE_DIR}=.`` and ``-ffile-prefix-map=${CMAKE_BINARY_DIR}=.``,
    with GCC 8 or Clang 10 and newer. Paths the compiler records (``__FILE__`` in asserts and
    logging, debug information) then do not depend on where the tree and the build directory
    lie, so two checkouts give one image digest, as ko's ``-trimpath`` does for Go. Default:
    ``ON``; ``OFF`` when a program needs its absolute source paths.

  For image jobs the module sets the target property ``BUILD_RPATH_USE_ORIGIN`` to ``ON``
  unless the project set it (or ``CMAKE_BUILD_RPATH_USE_ORIGIN``): the image holds the program
  with its build ``RUNPATH`` removed, but the string table keeps the removed path's length, so
  only ``$ORIGIN``-relative paths give the same image from build directories of any path
  length.

  ``ALL``
    Capture the job as part of the default build target. Publishing is never part of it.

  Targets created:

  ``<target>-wandb-job``
    Captures the bundle ``${CMAKE_BINARY_DIR}/wandb-jobs/<target>/bundle`` (``.../<config>/bundle``
    with multi-config generators). Offline. In ``ALL`` only with the ``ALL`` keyword.

  ``<target>-wandb-publish``
    Publishes this job's bundle. Never in ``ALL``.

  ``job-bundle``, ``job-publish``
    Capture, and publish, every job of the build tree. Never in ``ALL``.

  The helper is found in this order: the ``wandb-job`` target of this build tree, the
  ``WANDB_JOB_TOOL`` variable, the ``WandbJob::wandb-job`` imported target of the installed
  package, a ``wandb-job`` program on the ``PATH``.

  The target property ``WANDB_JOB_EXTRA_FILES`` may list more input files of the job as absolute
  paths (the ``UseSWIG`` pattern). It is read at generate time, so it can be set after
  ``wandb_add_job``, and may hold generator expressions. The files are dependencies of the
  capture step (they may be outputs of other custom commands) and are added to the code
  artifact. The paths must not contain ``"`` or ``\`` and must not depend on the
  configuration.

.. command:: wandb_job_get_bundle_dir

  .. code-block:: cmake

    wandb_job_get_bundle_dir(<target> <out_var>)

  Sets ``<out_var>`` to the bundle directory of ``<target>``'s job (the target property
  ``WANDB_JOB_BUNDLE_DIR``). With multi-config generators it contains ``$<CONFIG>``.

.. variable:: WANDB_JOB_TOOL

  Path of the ``wandb-job`` helper, used when the build tree has no ``wandb-job`` target.

.. variable:: WANDB_JOB_TEMPLATES_DIR

  Directory of the Dockerfile templates. Default: ``templates`` beside this module's directory;
  the installed package sets it.

.. variable:: WANDB_JOB_SOURCE_DIR

  The wandb-job source tree (``CMakeLists.txt``, ``cmake/``, ``include/``, ``tool/``) that artifact
  jobs carry so that their image builds the run shim. Default: the parent of this module's
  directory; the installed package sets it.

.. variable:: WANDB_JOB_CAPTURE

  ``ON`` by default. When ``OFF``, ``wandb_add_job`` still checks its arguments but creates no
  targets and needs no helper: the generated ``Dockerfile.wandb`` configures with it ``OFF``, so an
  image build needs only the job's own dependencies.

.. variable:: WANDB_JOB_MAX_FILE_SIZE

  The default ``MAX_FILE_SIZE`` of the jobs declared after it is set.

.. variable:: WANDB_JOB_PUBLISH_ARGS

  A list of extra arguments passed to every ``wandb-job publish`` command (cache ``STRING``).
  The publish commands run in the top-level build directory, so a relative path in them (such as
  ``--summary;wandb-job-summary.json``) stays inside the build directory wherever that is.
#]===]

include_guard(GLOBAL)

block(SCOPE_FOR POLICIES)
cmake_policy(VERSION 3.25)

set(WANDB_JOB_PUBLISH_ARGS "" CACHE STRING "Extra arguments of every 'wandb-job publish' (a list)")
option(WANDB_JOB_CAPTURE "Declare the capture and publish targets of wandb_add_job()" ON)

function(wandb_add_job target)
  set(one_value NAME ENTITY PROJECT SOURCE DESCRIPTION CONFIG_FILE CODE_DIR DOCKERFILE
    BUILD_CONTEXT BASE_IMAGE IMAGE IMAGE_WORKING_DIR IMAGE_USER IMAGE_SHIM MAX_FILE_SIZE
    FILE_PREFIX_MAP)
  set(multi_value ALIASES ARGS CONFIG LOCKFILES EXCLUDE IMAGE_FILES IMAGE_ENV CMAKE_ARGS
    PACKAGES INPUT)
  cmake_parse_arguments(PARSE_ARGV 1 arg "ALL" "${one_value}" "${multi_value}")
  set(fn wandb_add_job)

  _wandb_job_check_target(${fn} "${target}")
  if(arg_UNPARSED_ARGUMENTS)
    list(GET arg_UNPARSED_ARGUMENTS 0 first)
    message(FATAL_ERROR "${fn}: unknown argument '${first}'; see the keywords of wandb_add_job "
      "in WandbJob.cmake")
  endif()
  if(arg_KEYWORDS_MISSING_VALUES)
    list(GET arg_KEYWORDS_MISSING_VALUES 0 first)
    message(FATAL_ERROR "${fn}: ${first} needs a value; give one or drop the keyword")
  endif()
  get_target_property(previous ${target} _WANDB_JOB_SPEC)
  if(previous)
    message(FATAL_ERROR "${fn}: target '${target}' already has a job; call wandb_add_job once "
      "per target")
  endif()

  _wandb_job_check_names(${fn} "${arg_NAME}" "${arg_ENTITY}" "${arg_PROJECT}" "${arg_ALIASES}")
  _wandb_job_check_config(${fn} "${arg_CONFIG}")

  # Source and images. IMAGE makes an image job unless SOURCE says otherwise.
  set(source "${arg_SOURCE}")
  if(source STREQUAL "" AND DEFINED arg_IMAGE)
    set(source image)
  endif()
  _wandb_job_check_source(${fn} "${source}")
  foreach(kw IN ITEMS IMAGE BASE_IMAGE)
    if(DEFINED arg_${kw})
      _wandb_job_check_image_ref(${fn} ${kw} "${arg_${kw}}")
    endif()
  endforeach()
  # Without a Dockerfile the agent runs a repo job's entrypoint in the bare BASE_IMAGE, where
  # neither the program nor the run shim is built.
  if(source STREQUAL "repo" AND DEFINED arg_BASE_IMAGE AND NOT DEFINED arg_DOCKERFILE)
    message(FATAL_ERROR "${fn}: SOURCE repo with BASE_IMAGE needs DOCKERFILE: W&B's agent can't "
      "build the target in a bare base image; commit the Dockerfile 'wandb-job dockerfile' writes "
      "and pass DOCKERFILE, or use SOURCE artifact (its generated Dockerfile builds FROM BASE_IMAGE)")
  endif()

  # Paths, relative to the calling directory; the helper makes them relative to the repo.
  foreach(kw IN ITEMS CONFIG_FILE DOCKERFILE)
    if(DEFINED arg_${kw})
      _wandb_job_absolute(${fn} ${kw} FILE "${arg_${kw}}" arg_${kw})
    endif()
  endforeach()
  foreach(kw IN ITEMS CODE_DIR BUILD_CONTEXT)
    if(DEFINED arg_${kw})
      _wandb_job_absolute(${fn} ${kw} DIRECTORY "${arg_${kw}}" arg_${kw})
    endif()
  endforeach()
  # INPUT groups, from the raw arguments: cmake_parse_arguments joins repeated INPUTs into one
  # list, which loses where each starts.
  set(inputs "{}")
  if(DEFINED arg_INPUT)
    set(group "")
    math(EXPR last "${ARGC} - 1")
    foreach(i RANGE 1 ${last})
      set(token "${ARGV${i}}")
      if(token STREQUAL "INPUT" OR token IN_LIST one_value OR token IN_LIST multi_value OR
         token STREQUAL "ALL")
        if(NOT group STREQUAL "")
          _wandb_job_input(${fn} inputs "${group}")
        endif()
        set(group "")
        set(in_input FALSE)
        if(token STREQUAL "INPUT")
          set(in_input TRUE)
        endif()
      elseif(in_input)
        # A ';' in a value would split the group list: carried as ASCII RS, restored later.
        string(ASCII 30 rs)
        string(REPLACE ";" "${rs}" token "${token}")
        list(APPEND group "${token}")
      endif()
    endforeach()
    if(NOT group STREQUAL "")
      _wandb_job_input(${fn} inputs "${group}")
    endif()
  endif()

  set(lockfiles "")
  foreach(file IN LISTS arg_LOCKFILES)
    _wandb_job_absolute(${fn} LOCKFILES FILE "${file}" abs)
    list(APPEND lockfiles "${abs}")
  endforeach()
  _wandb_job_check_image_settings(${fn} "${source}" image_files image_file_sources)
  _wandb_job_max_file_bytes(${fn} max_file_bytes)
  _wandb_job_check_build_settings(${fn} "${source}")
  if(source STREQUAL "image")
    get_property(rpath_set TARGET ${target} PROPERTY BUILD_RPATH_USE_ORIGIN SET)
    if(NOT rpath_set)
      set_property(TARGET ${target} PROPERTY BUILD_RPATH_USE_ORIGIN ON)
    endif()
    if(NOT arg_FILE_PREFIX_MAP STREQUAL "OFF")
      # Deferred: the libraries the target links may be named after this call. EVAL, because a
      # deferred call expands its arguments only when it runs.
      cmake_language(EVAL CODE "cmake_language(DEFER DIRECTORY [[${CMAKE_SOURCE_DIR}]]
        CALL _wandb_job_map_file_prefixes [[${target}]])")
    endif()
  endif()

  # Building a job's own image (the generated Dockerfile) needs the targets, not the capture.
  if(NOT WANDB_JOB_CAPTURE)
    return()
  endif()

  _wandb_job_find_tool(${fn} tool tool_depends)
  if(DEFINED WANDB_JOB_TEMPLATES_DIR)
    set(templates_dir "${WANDB_JOB_TEMPLATES_DIR}")
  else()
    cmake_path(SET templates_dir NORMALIZE "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/../templates")
  endif()

  # Paths of this job.
  set(job_dir "${CMAKE_BINARY_DIR}/wandb-jobs/${target}")
  set(spec "${job_dir}/spec.json")
  get_property(multi_config GLOBAL PROPERTY GENERATOR_IS_MULTI_CONFIG)
  if(multi_config)
    set(bundle "${job_dir}/$<CONFIG>/bundle")
  else()
    set(bundle "${job_dir}/bundle")
  endif()

  # The spec.
  _wandb_job_spec_json(json)
  file(GENERATE OUTPUT "${spec}" CONTENT "${json}\n")
  set_target_properties(${target} PROPERTIES _WANDB_JOB_SPEC "${spec}"
    WANDB_JOB_BUNDLE_DIR "${bundle}")

  # Capture.
  set(input_depends ${arg_CONFIG_FILE} ${lockfiles} ${arg_DOCKERFILE} ${image_file_sources})
  if(EXISTS "${templates_dir}/Dockerfile.in")
    list(APPEND input_depends "${templates_dir}/Dockerfile.in")
  endif()
  add_custom_command(OUTPUT "${bundle}/bundle.json"
    COMMAND ${tool} bundle --spec "${spec}" --out "${bundle}" --depfile "${bundle}.d"
      --target-file "$<TARGET_FILE:${target}>" "--build-type=$<CONFIG>"
      "--cxx-standard=$<TARGET_PROPERTY:${target},CXX_STANDARD>"
    DEPENDS ${target} ${tool_depends} "${spec}" ${input_depends}
      "$<TARGET_GENEX_EVAL:${target},$<TARGET_PROPERTY:${target},WANDB_JOB_EXTRA_FILES>>"
    DEPFILE "${bundle}.d"
    COMMENT "Capturing W&B job for ${target}"
    VERBATIM COMMAND_EXPAND_LISTS)
  if(arg_ALL)
    set(all ALL)
  else()
    set(all "")
  endif()
  add_custom_target(${target}-wandb-job ${all} DEPENDS "${bundle}/bundle.json")

  # Publish.
  add_custom_target(${target}-wandb-publish
    COMMAND ${tool} publish ${WANDB_JOB_PUBLISH_ARGS} "${bundle}"
    WORKING_DIRECTORY "${CMAKE_BINARY_DIR}"  # relative paths of WANDB_JOB_PUBLISH_ARGS
    COMMENT "Publishing W&B job for ${target}"
    USES_TERMINAL VERBATIM COMMAND_EXPAND_LISTS)
  add_dependencies(${target}-wandb-publish ${target}-wandb-job)

  _wandb_job_add_to_aggregates(${fn} ${target} "${tool}" "${bundle}")
endfunction()

function(wandb_job_get_bundle_dir target out_var)
  if(NOT TARGET "${target}")
    message(FATAL_ERROR "wandb_job_get_bundle_dir: no target named '${target}'")
  endif()
  get_target_property(dir ${target} WANDB_JOB_BUNDLE_DIR)
  if(NOT dir)
    message(FATAL_ERROR "wandb_job_get_bundle_dir: target '${target}' has no job; call "
      "wandb_add_job(${target} ...) first")
  endif()
  set(${out_var} "${dir}" PARENT_SCOPE)
endfunction()

# Fails unless `target` is a real, non-imported executable target.
function(_wandb_job_check_target fn target)
  if(NOT TARGET "${target}")
    message(FATAL_ERROR "${fn}: no target named '${target}'; call ${fn} after "
      "add_executable(${target} ...)")
  endif()
  get_target_property(aliased ${target} ALIASED_TARGET)
  if(aliased)
    message(FATAL_ERROR "${fn}: '${target}' is an alias; pass the target itself, '${aliased}'")
  endif()
  get_target_property(type ${target} TYPE)
  get_target_property(imported ${target} IMPORTED)
  if(NOT type STREQUAL "EXECUTABLE" OR imported)
    if(imported)
      set(type "imported ${type}")
    endif()
    message(FATAL_ERROR "${fn}: target '${target}' (${type}) is not an executable built here; "
      "jobs run executables made with add_executable(${target} ...)")
  endif()
endfunction()

# NAME is a ready W&B artifact name; ENTITY and PROJECT are at most 128 characters, none of
# / \ # ? % : ; aliases are not empty, have no / or :, and are not version indexes.
function(_wandb_job_check_names fn name entity project aliases)
  string(LENGTH "${name}" len)
  if(NOT name STREQUAL "" AND (NOT name MATCHES "^[A-Za-z0-9_.-]+$" OR len GREATER 128))
    message(FATAL_ERROR "${fn}: bad NAME '${name}'; use 1 to 128 characters of [A-Za-z0-9_.-]")
  endif()
  foreach(keyword IN ITEMS ENTITY PROJECT)
    string(TOLOWER ${keyword} var)
    string(LENGTH "${${var}}" len)
    if(len GREATER 128 OR "${${var}}" MATCHES "[/\\#?%:]")
      message(FATAL_ERROR "${fn}: bad ${keyword} '${${var}}'; use at most 128 characters and "
        "none of / \\ # ? % :")
    endif()
  endforeach()
  foreach(alias IN LISTS aliases)
    string(LENGTH "${alias}" len)
    if(alias STREQUAL "" OR alias MATCHES "[/:]" OR len GREATER 128)
      message(FATAL_ERROR "${fn}: bad alias '${alias}'; aliases are 1 to 128 characters "
        "without '/' or ':'")
    endif()
    if(alias MATCHES "^v[0-9]+$")
      message(FATAL_ERROR "${fn}: alias '${alias}' looks like a version index, which W&B "
        "assigns itself; choose another alias")
    endif()
  endforeach()
endfunction()

# CONFIG: key=value pairs with [A-Za-z_][A-Za-z0-9_-]* key segments joined by '.', each key once.
function(_wandb_job_check_config fn pairs)
  set(keys "")
  set(segment "[A-Za-z_][A-Za-z0-9_-]*")
  foreach(pair IN LISTS pairs)
    string(FIND "${pair}" "=" eq)
    if(eq LESS 0)
      message(FATAL_ERROR "${fn}: CONFIG '${pair}' is not key=value; write it as ${pair}=<value>")
    endif()
    string(SUBSTRING "${pair}" 0 ${eq} key)
    if(NOT key MATCHES "^${segment}(\\.${segment})*$")
      message(FATAL_ERROR "${fn}: bad CONFIG key '${key}' in '${pair}'; keys are "
        "[A-Za-z_][A-Za-z0-9_-]* segments joined by '.'")
    endif()
    if(key IN_LIST keys)
      message(FATAL_ERROR "${fn}: CONFIG key '${key}' is given twice; keep one")
    endif()
    list(APPEND keys "${key}")
  endforeach()
endfunction()

# A CONFIG value or enum word as JSON: valid JSON keeps its type, anything else is a string, as
# the helper reads CONFIG.
function(_wandb_job_json_value out_var text)
  string(JSON type ERROR_VARIABLE error TYPE "${text}")
  if(error OR text STREQUAL "")
    _wandb_job_json_quote(text "${text}")
  endif()
  set(${out_var} "${text}" PARENT_SCOPE)
endfunction()

# One `INPUT <key> [HELP <text>] [ENUM <value>...] [MINIMUM <n>] [MAXIMUM <n>]` group, added
# to the JSON object in `inputs_var` (key -> {description, enum, minimum, maximum}) after checking
# it against the job's defaults (CONFIG, else CONFIG_FILE; the caller's arg_* variables).
function(_wandb_job_input fn inputs_var group)
  string(ASCII 30 rs)
  list(POP_FRONT group key)
  set(what "${fn}: INPUT ${key}")
  set(field "")
  set(given "")
  foreach(word IN LISTS group)
    string(REPLACE "${rs}" ";" word "${word}")
    if(word MATCHES "^(HELP|ENUM|MINIMUM|MAXIMUM)$")
      if(field AND NOT field IN_LIST given)
        message(FATAL_ERROR "${what}: ${field} needs a value; give one or drop the keyword")
      endif()
      set(field "${word}")
    elseif(field STREQUAL "" OR (field IN_LIST given AND NOT field STREQUAL "ENUM"))
      message(FATAL_ERROR "${what}: unexpected '${word}'; an INPUT takes HELP <text>, "
        "ENUM <value>..., MINIMUM <n> and MAXIMUM <n>")
    else()
      list(APPEND given ${field})
      if(field STREQUAL "ENUM")
        string(REPLACE ";" "${rs}" word "${word}")
        list(APPEND in_ENUM "${word}")
      else()
        set(in_${field} "${word}")
      endif()
    endif()
  endforeach()
  if(field AND NOT field IN_LIST given)
    message(FATAL_ERROR "${what}: ${field} needs a value; give one or drop the keyword")
  endif()
  string(JSON seen ERROR_VARIABLE absent GET "${${inputs_var}}" "${key}")
  if(NOT absent)
    message(FATAL_ERROR "${what} is given twice; keep one")
  endif()

  # The default: CONFIG wins over CONFIG_FILE, as when the helper merges them.
  set(default "")
  set(object FALSE)
  foreach(pair IN LISTS arg_CONFIG)
    string(FIND "${pair}" "=" eq)
    string(SUBSTRING "${pair}" 0 ${eq} pair_key)
    if(pair_key STREQUAL key)
      math(EXPR eq "${eq} + 1")
      string(SUBSTRING "${pair}" ${eq} -1 value)
      _wandb_job_json_value(default "${value}")
    else()
      string(FIND "${pair_key}" "${key}." prefix)
      if(prefix EQUAL 0)
        set(object TRUE)
      endif()
    endif()
  endforeach()
  if(default STREQUAL "" AND NOT object AND DEFINED arg_CONFIG_FILE)
    file(READ "${arg_CONFIG_FILE}" file_json)
    string(REPLACE "." ";" path "${key}")
    string(JSON type ERROR_VARIABLE error TYPE "${file_json}" ${path})
    if(NOT error)
      if(type STREQUAL "OBJECT")
        set(object TRUE)
      else()
        string(JSON default GET "${file_json}" ${path})
        if(type STREQUAL "STRING")
          _wandb_job_json_quote(default "${default}")
        endif()
      endif()
    endif()
  endif()
  if(object OR default STREQUAL "")
    message(FATAL_ERROR "${what}: no such config value; INPUT names a value of CONFIG or "
      "CONFIG_FILE by its key (dotted for nested values)")
  endif()

  set(doc "{}")
  if(DEFINED in_HELP)
    _wandb_job_json_quote(text "${in_HELP}")
    string(JSON doc SET "${doc}" description "${text}")
  endif()
  if(DEFINED in_ENUM)
    set(found FALSE)
    set(enum "[]")
    set(index 0)
    foreach(word IN LISTS in_ENUM)
      string(REPLACE "${rs}" ";" word "${word}")
      _wandb_job_json_value(value "${word}")
      string(JSON enum SET "${enum}" ${index} "${value}")
      math(EXPR index "${index} + 1")
      string(JSON same EQUAL "${value}" "${default}")
      if(same)
        set(found TRUE)
      endif()
    endforeach()
    if(NOT found)
      list(JOIN in_ENUM ", " words)
      string(REPLACE "${rs}" ";" words "${words}")
      message(FATAL_ERROR "${what}: the default ${default} is not one of ENUM ${words}; add it "
        "to ENUM or change the default")
    endif()
    string(JSON doc SET "${doc}" enum "${enum}")
  endif()
  foreach(bound IN ITEMS MINIMUM MAXIMUM)
    if(DEFINED in_${bound})
      string(JSON type ERROR_VARIABLE error TYPE "${in_${bound}}")
      if(error OR NOT type STREQUAL "NUMBER")
        message(FATAL_ERROR "${what}: ${bound} '${in_${bound}}' is not a number")
      endif()
      string(JSON type ERROR_VARIABLE error TYPE "${default}")
      if(error OR NOT type STREQUAL "NUMBER")
        message(FATAL_ERROR "${what}: ${bound} needs a number, but the default is ${default}")
      endif()
      string(TOLOWER "${bound}" field)
      string(JSON doc SET "${doc}" ${field} "${in_${bound}}")
    endif()
  endforeach()
  if((DEFINED in_MINIMUM AND default LESS in_MINIMUM) OR
     (DEFINED in_MAXIMUM AND default GREATER in_MAXIMUM))
    message(FATAL_ERROR "${what}: the default ${default} is outside MINIMUM..MAXIMUM; widen the "
      "bounds or change the default")
  endif()
  string(JSON ${inputs_var} SET "${${inputs_var}}" "${key}" "${doc}")
  set(${inputs_var} "${${inputs_var}}" PARENT_SCOPE)
endfunction()

# SOURCE (after IMAGE's default) is one of repo, artifact, image; image jobs need IMAGE and take
# no Docker build settings. Reads the caller's arg_* variables.
function(_wandb_job_check_source fn source)
  if(NOT source MATCHES "^(repo|artifact|image|)$")
    message(FATAL_ERROR "${fn}: SOURCE '${source}' is not one of repo, artifact, image")
  endif()
  if(source STREQUAL "image")
    if(NOT DEFINED arg_IMAGE)
      message(FATAL_ERROR "${fn}: SOURCE image needs IMAGE <ref>; add IMAGE or choose another "
        "SOURCE")
    endif()
    foreach(kw IN ITEMS DOCKERFILE BUILD_CONTEXT)
      if(DEFINED arg_${kw})
        message(FATAL_ERROR "${fn}: ${kw} does not apply to image jobs (SOURCE image, the "
          "default with IMAGE); drop ${kw} or use SOURCE repo or artifact")
      endif()
    endforeach()
  endif()
endfunction()

# IMAGE_FILES, IMAGE_ENV, IMAGE_WORKING_DIR, IMAGE_USER and IMAGE_SHIM: image jobs only, each
# well-formed.
# Sets `files_var` to a JSON array of [<absolute src>, <dest>] pairs and `sources_var` to the
# sources.
# Reads the caller's arg_* variables.
function(_wandb_job_check_image_settings fn source files_var sources_var)
  if(NOT source STREQUAL "image")
    foreach(kw IN ITEMS IMAGE_FILES IMAGE_ENV IMAGE_WORKING_DIR IMAGE_USER IMAGE_SHIM
        FILE_PREFIX_MAP)
      if(DEFINED arg_${kw})
        message(FATAL_ERROR "${fn}: ${kw} applies to image jobs only (IMAGE <ref>, SOURCE "
          "image); drop ${kw} or add IMAGE")
      endif()
    endforeach()
  endif()
  set(files "[]")
  set(sources "")
  foreach(pair IN LISTS arg_IMAGE_FILES)
    string(FIND "${pair}" "=" eq)
    if(eq LESS 1)
      message(FATAL_ERROR "${fn}: IMAGE_FILES '${pair}' is not <src>=<dest>; write it as "
        "path/in/source=/path/in/image")
    endif()
    string(SUBSTRING "${pair}" 0 ${eq} src)
    math(EXPR after "${eq} + 1")
    string(SUBSTRING "${pair}" ${after} -1 dest)
    if(NOT dest MATCHES "^/")
      message(FATAL_ERROR "${fn}: IMAGE_FILES '${pair}': the destination '${dest}' must be an "
        "absolute path in the image")
    endif()
    cmake_path(ABSOLUTE_PATH src BASE_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" NORMALIZE)
    string(REGEX REPLACE "(.)/$" "\\1" src "${src}")
    if(NOT EXISTS "${src}")
      message(FATAL_ERROR "${fn}: IMAGE_FILES '${pair}': '${src}' does not exist; relative "
        "paths are relative to ${CMAKE_CURRENT_SOURCE_DIR}")
    endif()
    _wandb_job_json_quote(quoted_src "${src}")
    _wandb_job_json_quote(quoted_dest "${dest}")
    string(JSON length LENGTH "${files}")
    string(JSON files SET "${files}" ${length} "[${quoted_src},${quoted_dest}]")
    list(APPEND sources "${src}")
  endforeach()
  set(names "")
  foreach(pair IN LISTS arg_IMAGE_ENV)
    string(FIND "${pair}" "=" eq)
    set(name "")
    if(eq GREATER 0)
      string(SUBSTRING "${pair}" 0 ${eq} name)
    endif()
    if(NOT name MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
      message(FATAL_ERROR "${fn}: IMAGE_ENV '${pair}' is not NAME=value with a name of "
        "[A-Za-z_][A-Za-z0-9_]*")
    endif()
    if(name MATCHES "^(PATH|LD_LIBRARY_PATH)$")
      message(FATAL_ERROR "${fn}: IMAGE_ENV may not set ${name}: the image sets it to where it "
        "puts the program and its libraries")
    endif()
    if(name IN_LIST names)
      message(FATAL_ERROR "${fn}: IMAGE_ENV sets '${name}' twice; keep one")
    endif()
    list(APPEND names "${name}")
  endforeach()
  if(DEFINED arg_IMAGE_WORKING_DIR AND NOT arg_IMAGE_WORKING_DIR MATCHES "^/")
    message(FATAL_ERROR "${fn}: IMAGE_WORKING_DIR '${arg_IMAGE_WORKING_DIR}' must be an "
      "absolute path in the image")
  endif()
  if(DEFINED arg_IMAGE_USER AND
      NOT arg_IMAGE_USER MATCHES "^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$")
    message(FATAL_ERROR "${fn}: bad IMAGE_USER '${arg_IMAGE_USER}'; write <user>[:<group>], "
      "names or numbers of [A-Za-z0-9_.-]")
  endif()
  foreach(kw IN ITEMS IMAGE_SHIM FILE_PREFIX_MAP)
    if(DEFINED arg_${kw} AND NOT arg_${kw} MATCHES "^(ON|OFF)$")
      message(FATAL_ERROR "${fn}: ${kw} '${arg_${kw}}' must be ON or OFF")
    endif()
  endforeach()
  set(${files_var} "${files}" PARENT_SCOPE)
  set(${sources_var} "${sources}" PARENT_SCOPE)
endfunction()

# Image jobs (FILE_PREFIX_MAP): adds -ffile-prefix-map for the source and build directories to
# `target` and to every library of this project in its link closure, when the compiler has the
# option. Runs deferred, at the end of the top-level directory.
function(_wandb_job_map_file_prefixes target)
  set(options "")
  foreach(lang IN ITEMS C CXX)
    set(id "${CMAKE_${lang}_COMPILER_ID}")
    set(version "${CMAKE_${lang}_COMPILER_VERSION}")
    if((id STREQUAL "GNU" AND version VERSION_GREATER_EQUAL 8) OR
        (id MATCHES "^(Clang|AppleClang)$" AND version VERSION_GREATER_EQUAL 10))
      # The build directory last: GCC takes the last matching map, so a build directory inside
      # the source tree maps to "." too.
      foreach(dir IN ITEMS "${CMAKE_SOURCE_DIR}" "${CMAKE_BINARY_DIR}")
        list(APPEND options "$<$<COMPILE_LANGUAGE:${lang}>:-ffile-prefix-map=${dir}=.>")
      endforeach()
    endif()
  endforeach()
  if(options STREQUAL "")
    return()
  endif()
  set(pending "${target}")
  while(NOT pending STREQUAL "")
    list(POP_FRONT pending name)
    get_target_property(done ${name} _WANDB_JOB_PREFIX_MAPPED)
    if(done)
      continue()
    endif()
    set_property(TARGET ${name} PROPERTY _WANDB_JOB_PREFIX_MAPPED TRUE)
    get_target_property(type ${name} TYPE)
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      set_property(TARGET ${name} APPEND PROPERTY COMPILE_OPTIONS ${options})
    endif()
    foreach(property IN ITEMS LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
      get_target_property(libraries ${name} ${property})
      foreach(library IN LISTS libraries)
        if(library MATCHES "^\\$<LINK_ONLY:([^<>]+)>$")
          set(library "${CMAKE_MATCH_1}")
        endif()
        if(NOT TARGET "${library}")
          continue()  # a system library, a flag, or another generator expression
        endif()
        get_target_property(aliased ${library} ALIASED_TARGET)
        if(aliased)
          set(library ${aliased})
        endif()
        get_target_property(imported ${library} IMPORTED)
        get_target_property(type ${library} TYPE)
        if(NOT imported AND type MATCHES "LIBRARY$")
          list(APPEND pending ${library})
        endif()
      endforeach()
    endforeach()
  endwhile()
endfunction()

# Sets `out_var` to MAX_FILE_SIZE (else WANDB_JOB_MAX_FILE_SIZE, else 100M) in bytes. Reads the
# caller's arg_MAX_FILE_SIZE.
function(_wandb_job_max_file_bytes fn out_var)
  set(size 100M)
  set(keyword MAX_FILE_SIZE)
  if(DEFINED arg_MAX_FILE_SIZE)
    set(size "${arg_MAX_FILE_SIZE}")
  elseif(DEFINED WANDB_JOB_MAX_FILE_SIZE)
    set(size "${WANDB_JOB_MAX_FILE_SIZE}")
    set(keyword WANDB_JOB_MAX_FILE_SIZE)
  endif()
  set(digits "")
  if(size MATCHES "^0*([0-9]+)([KMG]?)$")
    set(digits "${CMAKE_MATCH_1}")
    set(unit "${CMAKE_MATCH_2}")
  endif()
  string(LENGTH "${digits}" len)
  # At most 12 digits keeps a G multiple within CMake's 64-bit math.
  if(len EQUAL 0 OR len GREATER 12)
    message(FATAL_ERROR "${fn}: bad ${keyword} '${size}'; write a number of bytes, optionally "
      "with K, M or G (powers of 1024), or 0 for no limit")
  endif()
  set(shift_ 0)
  set(shift_K 10)
  set(shift_M 20)
  set(shift_G 30)
  math(EXPR bytes "${digits} << ${shift_${unit}}")
  set(${out_var} "${bytes}" PARENT_SCOPE)
endfunction()

# CMAKE_ARGS and PACKAGES: repo and artifact jobs only, each well-formed. CMAKE_ARGS may not set
# what the capture records itself. Reads the caller's arg_* variables.
function(_wandb_job_check_build_settings fn source)
  foreach(kw IN ITEMS CMAKE_ARGS PACKAGES)
    if(source STREQUAL "image" AND DEFINED arg_${kw})
      message(FATAL_ERROR "${fn}: ${kw} applies to repo and artifact jobs, whose image is built "
        "from the code; an image job's image holds the program built here; drop ${kw}")
    endif()
  endforeach()
  foreach(arg IN LISTS arg_CMAKE_ARGS)
    if(NOT arg MATCHES "^-D([A-Za-z_][A-Za-z0-9_.+-]*)(:[A-Z]+)?=")
      message(FATAL_ERROR "${fn}: CMAKE_ARGS '${arg}' is not -D<var>[:<type>]=<value>; give "
        "cache entries only, e.g. -DBUILD_EXAMPLES=ON")
    endif()
    if(CMAKE_MATCH_1 MATCHES "^(CMAKE_BUILD_TYPE|CMAKE_TOOLCHAIN_FILE|WANDB_JOB_.*|WandbJob_DIR)$")
      message(FATAL_ERROR "${fn}: CMAKE_ARGS may not set ${CMAKE_MATCH_1}: the capture records "
        "it from this build; drop '${arg}'")
    endif()
  endforeach()
  foreach(package IN LISTS arg_PACKAGES)
    if(NOT package MATCHES "^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?$")
      message(FATAL_ERROR "${fn}: PACKAGES '${package}' is not a Debian package name "
        "([a-z0-9][a-z0-9+.-]+, optionally :<arch>)")
    endif()
  endforeach()
endfunction()

# An OCI image reference: [registry[:port]/]path[:tag][@sha256:<64 hex>], path in lowercase.
function(_wandb_job_check_image_ref fn keyword ref)
  set(why "")
  set(tag "")
  set(rest "${ref}")
  string(FIND "${rest}" "@" at REVERSE)
  if(at GREATER_EQUAL 0)
    math(EXPR after "${at} + 1")
    string(SUBSTRING "${rest}" ${after} -1 digest)
    string(SUBSTRING "${rest}" 0 ${at} rest)
    string(LENGTH "${digest}" len)
    if(NOT digest MATCHES "^sha256:[0-9a-f]+$" OR NOT len EQUAL 71)
      set(why "the digest must be sha256:<64 lowercase hex digits>")
    endif()
  endif()
  string(FIND "${rest}" ":" colon REVERSE)
  string(FIND "${rest}" "/" slash REVERSE)
  if(why STREQUAL "" AND colon GREATER slash)
    math(EXPR after "${colon} + 1")
    string(SUBSTRING "${rest}" ${after} -1 tag)
    string(SUBSTRING "${rest}" 0 ${colon} rest)
    string(LENGTH "${tag}" len)
    if(NOT tag MATCHES "^[A-Za-z0-9_][A-Za-z0-9_.-]*$" OR len GREATER 128)
      set(why "the tag must be [A-Za-z0-9_][A-Za-z0-9_.-]*, at most 128 characters")
    endif()
  endif()
  string(LENGTH "${rest}" len)
  if(why STREQUAL "" AND (rest STREQUAL "" OR len GREATER 255))
    set(why "the repository path must be 1 to 255 characters")
  endif()
  if(why STREQUAL "")
    string(REPLACE "/" ";" components "${rest}")
    list(LENGTH components count)
    list(GET components 0 first)
    if(count GREATER 1 AND (first MATCHES "[.:]" OR first STREQUAL "localhost"))
      list(POP_FRONT components registry)
      set(label "[a-z0-9]([a-z0-9-]*[a-z0-9])?")
      if(NOT registry MATCHES "^${label}(\\.${label})*(:[0-9]+)?$")
        set(why "the registry must be a lowercase host name with an optional :port")
      endif()
    endif()
    foreach(component IN LISTS components)
      if(NOT component MATCHES "^[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*$")
        set(why "path components are [a-z0-9]+ joined by '.', '_', '__' or dashes")
      endif()
    endforeach()
  endif()
  if(NOT why STREQUAL "")
    message(FATAL_ERROR "${fn}: bad ${keyword} '${ref}': ${why}; write "
      "[registry[:port]/]path[:tag][@sha256:<digest>]")
  endif()
  # The job's image tag becomes one of its aliases, and W&B refuses a version index as one.
  if(keyword STREQUAL "IMAGE" AND tag MATCHES "^v[0-9]+$")
    message(FATAL_ERROR "${fn}: bad IMAGE '${ref}': its tag becomes an alias of the job, and "
      "'${tag}' looks like a version index, which W&B assigns itself; choose another tag "
      "(such as ${tag}.0)")
  endif()
endfunction()

# Makes `path` absolute against CMAKE_CURRENT_SOURCE_DIR and checks that it is a FILE or a
# DIRECTORY.
function(_wandb_job_absolute fn keyword kind path out_var)
  cmake_path(ABSOLUTE_PATH path BASE_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" NORMALIZE)
  if(path MATCHES "./$")
    string(REGEX REPLACE "/$" "" path "${path}")
  endif()
  if(kind STREQUAL "DIRECTORY")
    if(NOT IS_DIRECTORY "${path}")
      message(FATAL_ERROR "${fn}: ${keyword} '${path}' is not a directory; relative paths are "
        "relative to ${CMAKE_CURRENT_SOURCE_DIR}")
    endif()
  elseif(NOT EXISTS "${path}" OR IS_DIRECTORY "${path}")
    message(FATAL_ERROR "${fn}: ${keyword} '${path}' is not an existing file; relative paths "
      "are relative to ${CMAKE_CURRENT_SOURCE_DIR}")
  endif()
  set(${out_var} "${path}" PARENT_SCOPE)
endfunction()

# Sets `command_var` to the command that runs the helper and `depends_var` to what the custom
# commands must depend on so that a rebuilt or replaced helper re-runs them.
function(_wandb_job_find_tool fn command_var depends_var)
  if(TARGET wandb-job)
    set(command "$<TARGET_FILE:wandb-job>")
    set(depends wandb-job)
  elseif(WANDB_JOB_TOOL)
    if(NOT IS_ABSOLUTE "${WANDB_JOB_TOOL}" OR NOT EXISTS "${WANDB_JOB_TOOL}")
      message(FATAL_ERROR "${fn}: WANDB_JOB_TOOL '${WANDB_JOB_TOOL}' is not an existing "
        "absolute path; set it to the wandb-job helper, or leave it empty to search the PATH")
    endif()
    set(command "${WANDB_JOB_TOOL}")
    set(depends "${WANDB_JOB_TOOL}")
  elseif(TARGET WandbJob::wandb-job)
    set(command "$<TARGET_FILE:WandbJob::wandb-job>")
    set(depends "$<TARGET_FILE:WandbJob::wandb-job>")
  else()
    find_program(found NAMES wandb-job NO_CACHE)
    if(NOT found)
      message(FATAL_ERROR "${fn}: the wandb-job helper was not found; build this project with "
        "the wandb-job sources (add_subdirectory/FetchContent), use find_package(WandbJob), put "
        "wandb-job on the PATH or set WANDB_JOB_TOOL")
    endif()
    set(command "${found}")
    set(depends "${found}")
  endif()
  set(${command_var} "${command}" PARENT_SCOPE)
  set(${depends_var} "${depends}" PARENT_SCOPE)
endfunction()

# Sets `out_var` to `value` as a JSON string literal.
function(_wandb_job_json_quote out_var value)
  string(REPLACE "\\" "\\\\" value "${value}")
  string(REPLACE "\"" "\\\"" value "${value}")
  string(REPLACE "\n" "\\n" value "${value}")
  string(REPLACE "\t" "\\t" value "${value}")
  string(REPLACE "\r" "\\r" value "${value}")
  # The other control characters; NUL cannot occur in a CMake string.
  string(ASCII 1 first)
  string(ASCII 31 last)
  if(value MATCHES "[${first}-${last}]")
    set(digits 0123456789abcdef)
    foreach(code RANGE 1 31)
      math(EXPR high "${code} / 16")
      math(EXPR low "${code} % 16")
      string(SUBSTRING ${digits} ${low} 1 low)
      string(ASCII ${code} char)
      string(REPLACE "${char}" "\\u00${high}${low}" value "${value}")
    endforeach()
  endif()
  set(${out_var} "\"${value}\"" PARENT_SCOPE)
endfunction()

# Sets `out_var` to a JSON array of the strings in the list `list`.
function(_wandb_job_json_array out_var list)
  set(array "")
  foreach(item IN LISTS list)
    _wandb_job_json_quote(quoted "${item}")
    if(NOT array STREQUAL "")
      string(APPEND array ",")
    endif()
    string(APPEND array "${quoted}")
  endforeach()
  set(${out_var} "[${array}]" PARENT_SCOPE)
endfunction()

# Sets each <key>=<variable> pair into the JSON object held in `json_var`: the caller's variable
# as a JSON string (STRING) or its list as an array of strings (ARRAY). Locals are prefixed so that
# they never hide a caller variable being read.
function(_wandb_job_json_set_each json_var kind)
  set(_wandb_job_each_json "${${json_var}}")
  foreach(_wandb_job_each_kv IN LISTS ARGN)
    string(REPLACE "=" ";" _wandb_job_each_kv "${_wandb_job_each_kv}")
    list(GET _wandb_job_each_kv 0 _wandb_job_each_key)
    list(GET _wandb_job_each_kv 1 _wandb_job_each_var)
    if(kind STREQUAL "ARRAY")
      _wandb_job_json_array(_wandb_job_each_value "${${_wandb_job_each_var}}")
    else()
      _wandb_job_json_quote(_wandb_job_each_value "${${_wandb_job_each_var}}")
    endif()
    string(JSON _wandb_job_each_json SET "${_wandb_job_each_json}" ${_wandb_job_each_key}
      "${_wandb_job_each_value}")
  endforeach()
  set(${json_var} "${_wandb_job_each_json}" PARENT_SCOPE)
endfunction()

# Sets `out_var` to the spec.json text. A macro's caller variables (arg_*, target, source, ...)
# are read here, so this is a macro with `_wandb_job_`-prefixed locals.
macro(_wandb_job_spec_json out_var)
  set(_wandb_job_json "{\"format\":1}")
  _wandb_job_json_set_each(_wandb_job_json STRING target=target name=arg_NAME entity=arg_ENTITY
    project=arg_PROJECT source=source description=arg_DESCRIPTION config_file=arg_CONFIG_FILE
    code_dir=arg_CODE_DIR dockerfile=arg_DOCKERFILE build_context=arg_BUILD_CONTEXT
    base_image=arg_BASE_IMAGE image=arg_IMAGE image_working_dir=arg_IMAGE_WORKING_DIR
    image_user=arg_IMAGE_USER)
  _wandb_job_json_set_each(_wandb_job_json ARRAY aliases=arg_ALIASES args=arg_ARGS
    config=arg_CONFIG lockfiles=lockfiles exclude=arg_EXCLUDE image_env=arg_IMAGE_ENV
    cmake_args=arg_CMAKE_ARGS packages=arg_PACKAGES)
  string(JSON _wandb_job_json SET "${_wandb_job_json}" image_files "${image_files}")
  string(JSON _wandb_job_json SET "${_wandb_job_json}" inputs "${inputs}")
  string(JSON _wandb_job_json SET "${_wandb_job_json}" max_file_size "${max_file_bytes}")
  if(arg_IMAGE_SHIM STREQUAL "OFF")
    string(JSON _wandb_job_json SET "${_wandb_job_json}" image_shim false)
  else()
    string(JSON _wandb_job_json SET "${_wandb_job_json}" image_shim true)
  endif()

  get_property(_wandb_job_languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  set(_wandb_job_compiler_id "")
  set(_wandb_job_compiler_version "")
  foreach(_wandb_job_lang IN ITEMS CXX C)
    if(_wandb_job_lang IN_LIST _wandb_job_languages)
      set(_wandb_job_compiler_id "${CMAKE_${_wandb_job_lang}_COMPILER_ID}")
      set(_wandb_job_compiler_version "${CMAKE_${_wandb_job_lang}_COMPILER_VERSION}")
      break()
    endif()
  endforeach()
  if(DEFINED FETCHCONTENT_BASE_DIR)
    set(_wandb_job_fetchcontent "${FETCHCONTENT_BASE_DIR}")
  else()
    set(_wandb_job_fetchcontent "${CMAKE_BINARY_DIR}/_deps")
  endif()
  get_target_property(_wandb_job_target_source_dir ${target} SOURCE_DIR)
  # The code artifact carries this module and the helper's sources (.wandb-job/), so that its
  # Dockerfile builds without anything from outside the artifact.
  set(_wandb_job_module_file "${CMAKE_CURRENT_FUNCTION_LIST_FILE}")  # wandb_add_job's file
  if(DEFINED WANDB_JOB_SOURCE_DIR)
    set(_wandb_job_tool_source_dir "${WANDB_JOB_SOURCE_DIR}")
  else()
    cmake_path(GET CMAKE_CURRENT_FUNCTION_LIST_DIR PARENT_PATH _wandb_job_tool_source_dir)
  endif()
  set(_wandb_job_cmake "{}")
  _wandb_job_json_set_each(_wandb_job_cmake STRING source_dir=CMAKE_SOURCE_DIR
    binary_dir=CMAKE_BINARY_DIR target_source_dir=_wandb_job_target_source_dir
    project_name=CMAKE_PROJECT_NAME version=CMAKE_VERSION generator=CMAKE_GENERATOR
    cxx_compiler_id=_wandb_job_compiler_id cxx_compiler_version=_wandb_job_compiler_version
    system_name=CMAKE_SYSTEM_NAME system_processor=CMAKE_SYSTEM_PROCESSOR
    fetchcontent_base_dir=_wandb_job_fetchcontent templates_dir=templates_dir
    toolchain_file=CMAKE_TOOLCHAIN_FILE module_file=_wandb_job_module_file
    tool_source_dir=_wandb_job_tool_source_dir)
  string(JSON _wandb_job_json SET "${_wandb_job_json}" cmake "${_wandb_job_cmake}")

  # file(GENERATE) evaluates generator expressions: neutralize every "$<" of the values, then
  # add the one expression that is meant, the extra files.
  string(REPLACE "$<" "$<1:$><" _wandb_job_json "${_wandb_job_json}")
  string(JSON _wandb_job_json SET "${_wandb_job_json}" extra_files
    "\"$<TARGET_GENEX_EVAL:${target},$<TARGET_PROPERTY:${target},WANDB_JOB_EXTRA_FILES>>\"")
  set(${out_var} "${_wandb_job_json}")
endmacro()

# Adds the job to the aggregate targets job-bundle and job-publish, creating them on first use.
function(_wandb_job_add_to_aggregates fn target tool bundle)
  foreach(aggregate IN ITEMS job-bundle job-publish)
    if(TARGET ${aggregate})
      get_target_property(ours ${aggregate} _WANDB_JOB_AGGREGATE)
      if(NOT ours)
        message(FATAL_ERROR "${fn}: a target named '${aggregate}' exists and was not made by "
          "wandb_add_job; rename it")
      endif()
    endif()
  endforeach()
  if(NOT TARGET job-bundle)
    add_custom_target(job-bundle)
    add_custom_target(job-publish
      COMMAND ${tool} publish ${WANDB_JOB_PUBLISH_ARGS}
        "$<GENEX_EVAL:$<TARGET_PROPERTY:job-publish,_WANDB_JOB_BUNDLES>>"
      WORKING_DIRECTORY "${CMAKE_BINARY_DIR}"
      COMMENT "Publishing W&B jobs"
      USES_TERMINAL VERBATIM COMMAND_EXPAND_LISTS)
    set_target_properties(job-bundle job-publish PROPERTIES _WANDB_JOB_AGGREGATE TRUE)
  endif()
  set_property(TARGET job-publish APPEND PROPERTY _WANDB_JOB_BUNDLES "${bundle}")
  add_dependencies(job-bundle ${target}-wandb-job)
  add_dependencies(job-publish ${target}-wandb-job)
endfunction()

endblock()
