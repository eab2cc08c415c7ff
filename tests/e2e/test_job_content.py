"""What a bundle holds: wandb-job.json exactly as W&B's SDK writes it (keys per source type,
json.dumps(indent=4) bytes, input_types from CONFIG and CONFIG_FILE), requirements.frozen.txt, the
native lock (toolchain, FetchContent, runtime closure), ecosystem lockfiles, W&B job names and
aliases, and the code artifact's selection (secrets, .wandbignore, EXCLUDE)."""

import glob
import hashlib
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

REMOTE = "https://github.com/acme/trainer.git"
EMPTY_TYPES = {"wb_type": "typedDict", "params": {"type_map": {}}}
CODE_ID = "wandb-artifact://_id/@WANDB_JOB_CODE_ARTIFACT_ID@"

CONFIG_FILE = {
    "optimizer": {"name": "adam", "lr": 0.001, "betas": [0.9, 0.999]},
    "epochs": 10,
    "layers": [64, 128, 256],
    "tags": ["baseline", "cpp"],
    "use_amp": False,
    "seed": None,
    "schedule": {"warmup": {"steps": 100, "enabled": True}},
    "gr\u00f6\u00dfe": 3,  # a non-ASCII key: wandb-job.json escapes it as json.dumps does
}
CONFIG_PAIRS = "lr=0.01 optimizer.lr=0.005 run_name=first batch_size=32 verbose=true"
# CONFIG merged over CONFIG_FILE: base keys keep their places, new keys follow in CONFIG order.
MERGED = {
    "optimizer": {"name": "adam", "lr": 0.005, "betas": [0.9, 0.999]},
    "epochs": 10,
    "layers": [64, 128, 256],
    "tags": ["baseline", "cpp"],
    "use_amp": False,
    "seed": None,
    "schedule": {"warmup": {"steps": 100, "enabled": True}},
    "gr\u00f6\u00dfe": 3,
    "lr": 0.01,
    "run_name": "first",
    "batch_size": 32,
    "verbose": True,
}
ARGS = ["--lr", "{lr}", "--opt-lr", "{optimizer.lr}", "--name", "{run_name}", "--layers",
        "{layers}"]
RENDERED = ["--lr", "0.01", "--opt-lr", "0.005", "--name", "first", "--layers", "[64,128,256]"]

BUNDLE_KEYS = ["format", "source_type", "entity", "project", "cmake_project", "job", "config",
               "args", "entrypoint", "git", "image"]
ARTIFACT_KEYS = ["name", "type", "description", "metadata", "aliases", "files", "manifest"]
TOP_KEYS = ["_version", "source_type", "source", "input_types", "output_types", "runtime"]


def ordered(value):
    """JSON text with key order kept: compares values and their key order."""
    return json.dumps(value)


DEP_CMAKE = "add_library(dep INTERFACE)\n"

MAIN_CMAKE = """cmake_minimum_required(VERSION 3.25)
project(content LANGUAGES CXX)
include(WandbJob)
include(FetchContent)
FetchContent_Declare(dep GIT_REPOSITORY ${E2E_DEP_REPO} GIT_TAG ${E2E_DEP_COMMIT})
FetchContent_MakeAvailable(dep)

add_library(mathlib SHARED mathlib.cpp)
add_executable(train train.cpp)
target_link_libraries(train PRIVATE mathlib dep)
set_target_properties(train PROPERTIES CXX_STANDARD 17)
wandb_add_job(train
  ENTITY acme-team PROJECT mnist
  DESCRIPTION "Trains the demo model"
  CONFIG_FILE config.json
  CONFIG %(pairs)s
  ARGS %(args)s
  ALIASES stable nightly
  DOCKERFILE docker/Dockerfile
  BASE_IMAGE debian:12-slim
  INPUT lr HELP "Learning rate" MINIMUM 0 MAXIMUM 1
  INPUT optimizer.name HELP Optimizer ENUM adam sgd
  LOCKFILES deps/extra.lock)

add_executable(pack simple.cpp)
wandb_add_job(pack SOURCE artifact PROJECT mnist EXCLUDE "scratch/" "*.tmp")

add_executable(infer simple.cpp)
wandb_add_job(infer NAME my-infer-job BASE_IMAGE ubuntu:24.04)

add_subdirectory(apps/eval)
""" % {"pairs": CONFIG_PAIRS, "args": " ".join(ARGS)}


def make_project(ctx):
    dep = ctx.new_repo("dep", {"CMakeLists.txt": DEP_CMAKE, "dep.h": "// dep\n"})
    files = {
        "CMakeLists.txt": MAIN_CMAKE,
        "train.cpp": "int mathlib_answer();\nint main() { return mathlib_answer() == 42 ? 0 : 1; }\n",
        "mathlib.cpp": "int mathlib_answer() { return 42; }\n",
        "simple.cpp": h.TRAIN_CPP,
        "config.json": json.dumps(CONFIG_FILE, indent=2) + "\n",
        "docker/Dockerfile": "FROM debian:12\n",
        "deps/extra.lock": "extra-dep 1.2.3\n",
        "vcpkg.json": '{"name": "content", "dependencies": ["fmt"]}\n',
        "conan.lock": '{"version": "0.5", "requires": []}\n',
        "requirements.txt": "numpy==1.26.4\nprotobuf==4.25.3\n",
        "apps/eval/CMakeLists.txt": "add_executable(evaluate eval.cpp)\nwandb_add_job(evaluate)\n",
        "apps/eval/eval.cpp": "int main() { return 0; }\n",
        ".wandbignore": "data/raw/\n*.log\n",
        "data/raw/big.csv": "1,2,3\n",
        "data/keep.csv": "4,5,6\n",
        "README.md": "# content\n",
    }
    repo = ctx.new_repo("content", files, remote=REMOTE)
    repo.tracking_ref()
    # Untracked files a user might have lying around.
    repo.write(".env", "WANDB_API_KEY=not-a-real-key\n")
    repo.write("certs/server.pem", "-----BEGIN PRIVATE KEY-----\n")
    repo.write("keys/id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\n")
    repo.write("train.log", "log\n")
    repo.write("scratch/notes.txt", "scratch\n")
    repo.write("model.tmp", "tmp\n")
    build = os.path.join(os.path.dirname(repo.path), "build")
    ctx.configure(repo.path, build, args=["-DE2E_DEP_REPO=file://" + dep.path,
                                          "-DE2E_DEP_COMMIT=" + dep.head()])
    proc = ctx.build(build, "job-bundle")
    return repo, dep, build, proc.stdout + proc.stderr


class Fixture:
    loaded = None
    error = None


def fixture(ctx):
    """The shared project, built once; its failure fails every case that needs it."""
    if Fixture.error is not None:
        raise h.Failure("the shared project failed to build (see the first failure)")
    if Fixture.loaded is None:
        try:
            Fixture.loaded = make_project(ctx)
        except Exception as e:
            Fixture.error = e
            raise
    return Fixture.loaded


def repo_job_file(ctx):
    repo, _, build, out = fixture(ctx)
    b = h.Bundle(h.bundle_dir(build, "train"))
    b.verify()
    job = b.job
    h.check_equal(list(job), TOP_KEYS, "wandb-job.json keys")
    h.check_equal(job["_version"], "0.17.0", "_version with a dockerfile")
    h.check_equal(job["source_type"], "repo", "source_type")
    # No source.base_image although the job has a BASE_IMAGE: with one, W&B's agent would skip
    # building the DOCKERFILE and run the entrypoint in the bare base image.
    h.check_equal(list(job["source"]), ["git", "entrypoint", "notebook", "dockerfile"],
                  "source keys")
    h.check_equal(list(job["source"]["git"]), ["remote", "commit"], "source.git keys")
    h.check_equal(job["source"]["git"], {"remote": REMOTE, "commit": repo.head()}, "source.git")
    h.check_equal(job["source"]["notebook"], False, "notebook")
    h.check_equal(job["source"]["dockerfile"], "docker/Dockerfile", "source.dockerfile")
    # The program runs under the shim, which renders ARGS from the job spec the repository
    # holds: `wandb-job dockerfile` writes it from the bundle's launch/.
    h.check_equal(job["source"]["entrypoint"], h.shim_entrypoint("train"), "entrypoint")
    with open(b.file("launch", ".wandb-job", "job.json")) as f:
        spec = json.load(f)
    h.check_equal(ordered(spec["config"]), ordered(MERGED), "the job spec's default config")
    h.check_equal(spec["args"], ARGS, "the job spec's ARGS template")
    with open(b.file("launch", "Dockerfile.wandb")) as f:
        dockerfile = f.read()
    h.check("ENTRYPOINT " + json.dumps(h.shim_entrypoint("train")).replace(", ", ",")
            in dockerfile, "launch/Dockerfile.wandb's entrypoint:\n" + dockerfile)
    # docker/Dockerfile builds neither program nor shim, and the repository has no job spec.
    for warning in ("never names /usr/local/bin", "never names wandb-job or /src",
                    ".wandb-job/job.json is not in the repository"):
        h.check(any("train: " in l and warning in l for l in out.splitlines()),
                "no warning %r for train:\n%s" % (warning, out))
    h.check_equal(ordered(job["input_types"]), ordered(h.wb_type(MERGED)), "input_types")
    h.check_equal(job["output_types"], EMPTY_TYPES, "output_types")
    h.check(isinstance(job["runtime"], str), "runtime is a string")
    # Exactly json.dumps(indent=4) of the same document (no trailing newline, ASCII escapes).
    h.check_equal(b.job_text, json.dumps(json.loads(b.job_text), indent=4),
                  "wandb-job.json bytes")
    h.check("\\u00f6" in b.job_text, "non-ASCII key not escaped as json.dumps does")


def other_source_keys(ctx):
    repo, _, build, _ = fixture(ctx)
    ev = h.Bundle(h.bundle_dir(build, "evaluate"))
    ev.verify()
    h.check_equal(list(ev.job), TOP_KEYS, "evaluate: wandb-job.json keys")
    h.check_equal(ev.job["_version"], "v0", "evaluate: _version")
    h.check_equal(list(ev.job["source"]), ["git", "entrypoint", "notebook"], "evaluate: source")
    h.check_equal(ev.job["input_types"], EMPTY_TYPES, "evaluate: input_types without config")

    # BASE_IMAGE without DOCKERFILE: a repo job would run in the bare base image, so the default
    # source packages the code, and the generated Dockerfile builds FROM BASE_IMAGE.
    infer = h.Bundle(h.bundle_dir(build, "infer"))
    infer.verify()
    h.check_equal(infer.job["source_type"], "artifact", "infer: source_type with base_image only")
    h.check_equal(list(infer.job["source"]), ["entrypoint", "notebook", "artifact", "dockerfile"],
                  "infer: source keys")
    with open(infer.file("code", "Dockerfile.wandb")) as f:
        h.check("\nFROM ubuntu:24.04\n" in f.read(), "infer: the generated Dockerfile's FROM")

    pack = h.Bundle(h.bundle_dir(build, "pack"))
    pack.verify()
    h.check_equal(list(pack.job), TOP_KEYS, "pack: wandb-job.json keys")
    h.check_equal(pack.job["_version"], "0.17.0", "pack: _version (generated Dockerfile)")
    h.check_equal(list(pack.job["source"]), ["entrypoint", "notebook", "artifact", "dockerfile"],
                  "pack: source keys")
    h.check_equal(pack.job["source"]["artifact"], CODE_ID, "pack: source.artifact")
    h.check_equal(pack.job["source"]["dockerfile"], "Dockerfile.wandb", "pack: dockerfile")
    h.check("git" not in pack.job["source"], "pack: an artifact job has no source.git")


def bundle_json(ctx):
    repo, _, build, _ = fixture(ctx)
    b = h.Bundle(h.bundle_dir(build, "train"))
    h.check_equal(list(b.meta), BUNDLE_KEYS, "bundle.json keys of a repo job")
    h.check_equal(list(b.meta["job"]), ARTIFACT_KEYS, "bundle.json job keys")
    h.check_equal(b.meta["entity"], "acme-team", "entity")
    h.check_equal(b.meta["project"], "mnist", "project")
    h.check_equal(b.meta["cmake_project"], "content", "cmake_project")
    h.check_equal(b.meta["job"]["description"], "Trains the demo model", "description")
    h.check_equal(ordered(b.meta["config"]), ordered(MERGED), "config (values and key order)")
    h.check_equal(b.meta["args"], ARGS, "args template")
    h.check_equal(b.meta["entrypoint"], b.job["source"]["entrypoint"], "entrypoint")
    h.check_equal(b.meta["git"], {"remote": REMOTE, "commit": repo.head(), "branch": "main",
                                  "dirty": False}, "git")
    h.check_equal(b.meta["image"], "", "image")
    pack = h.Bundle(h.bundle_dir(build, "pack"))
    keys = list(BUNDLE_KEYS)
    keys.insert(keys.index("job") + 1, "code")
    h.check_equal(list(pack.meta), keys, "bundle.json keys of an artifact job")
    h.check_equal(list(pack.meta["code"]), ARTIFACT_KEYS, "bundle.json code keys")
    h.check_equal(pack.meta["entity"], "", "entity left to the publisher")


def meta_schema(ctx):
    """W&B's META_SCHEMA (wandb/sdk/launch/inputs/schema.py of SDK 0.18.7), loaded from its file
    alone, and jsonschema; None when either is missing."""
    sdk = os.environ.get("WANDB_JOB_TEST_WANDB_SDK") or os.path.join(
        ctx.source_dir, "..", "shared", "third_party", "wandb-sdk-0.18.7")
    path = os.path.join(sdk, "wandb", "sdk", "launch", "inputs", "schema.py")
    try:
        import importlib.util
        import jsonschema
    except ImportError:
        return None
    if not os.path.isfile(path):
        return None
    spec = importlib.util.spec_from_file_location("wandb_launch_schema", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return jsonschema.Draft202012Validator(module.META_SCHEMA)


def input_schemas(ctx):
    """INPUT's descriptions, enums and bounds in the job's input_schemas metadata."""
    _, _, build, _ = fixture(ctx)
    b = h.Bundle(h.bundle_dir(build, "train"))
    schema = b.meta["job"]["metadata"]["input_schemas"]["@wandb.config"]
    h.check_equal(schema["type"], "object", "input schema type")
    lr = schema["properties"]["lr"]
    h.check_equal(lr, {"type": "number", "default": 0.01, "description": "Learning rate",
                       "minimum": 0, "maximum": 1}, "input schema of lr")
    name = schema["properties"]["optimizer"]["properties"]["name"]
    h.check_equal(name, {"type": "string", "default": "adam", "description": "Optimizer",
                         "enum": ["adam", "sgd"]}, "input schema of optimizer.name")
    pack = h.Bundle(h.bundle_dir(build, "pack"))
    h.check_equal(pack.meta["job"]["metadata"], None, "metadata of a job without INPUT")
    validator = meta_schema(ctx)
    if validator is None:
        print("W&B's SDK 0.18.7 or jsonschema is missing: META_SCHEMA not checked")
        return
    # The SDK's own check of a schema (`wandb job create --schema`): every keyword INPUT adds is
    # one it accepts. "default" is left out here: its META_SCHEMA does not list it (it warns),
    # though the schemas it derives from pydantic models carry it.
    for key, leaf in (("lr", lr), ("optimizer.name", name)):
        leaf = {k: v for k, v in leaf.items() if k != "default"}
        errors = [e.message for e in validator.iter_errors(leaf)]
        h.check_equal(errors, [], "W&B's META_SCHEMA on the schema of %s" % key)


def names_and_aliases(ctx):
    repo, _, build, _ = fixture(ctx)
    expect = {
        "train": ("job-https___github.com_acme_trainer.git_train", ["stable", "nightly", "latest"]),
        "evaluate": ("job-https___github.com_acme_trainer.git_apps_eval_evaluate", ["latest"]),
        "infer": ("my-infer-job", ["latest"]),
        "pack": ("job-source-mnist-pack", ["latest"]),
    }
    for target, (name, aliases) in expect.items():
        b = h.Bundle(h.bundle_dir(build, target))
        h.check_equal(b.meta["job"]["name"], name, "%s: job name" % target)
        h.check_equal(b.meta["job"]["aliases"], aliases, "%s: aliases" % target)
        h.check_equal(b.meta["job"]["type"], "job", "%s: artifact type" % target)
    pack = h.Bundle(h.bundle_dir(build, "pack"))
    h.check_equal(pack.meta["code"]["name"], "source-mnist-pack", "code artifact name")
    h.check_equal(pack.meta["code"]["type"], "code", "code artifact type")


def requirements_and_lockfiles(ctx):
    repo, _, build, _ = fixture(ctx)
    b = h.Bundle(h.bundle_dir(build, "train"))
    src = lambda rel: h.read_bytes(os.path.join(repo.path, rel))  # noqa: E731
    h.check_equal(b.read("job", "requirements.frozen.txt"), src("requirements.txt"),
                  "requirements.frozen.txt is the project's requirements.txt")
    want = {"lockfiles/vcpkg.json": "vcpkg.json", "lockfiles/conan.lock": "conan.lock",
            "lockfiles/requirements.txt": "requirements.txt",
            "lockfiles/deps/extra.lock": "deps/extra.lock"}
    for rel, orig in want.items():
        h.check(b.exists("job", rel), "%s missing from the job artifact: %s" % (rel, b.job_files()))
        h.check_equal(b.read("job", rel), src(orig), "content of %s" % rel)
    locked = lock_lockfiles(b.lock())
    for rel, orig in want.items():
        name = rel[len("lockfiles/"):]
        h.check(name in locked, "native lock does not pin %s: %s" % (name, locked))
        h.check_equal(locked[name], hashlib.sha256(src(orig)).hexdigest(),
                      "sha256 of %s in the native lock" % name)


def requirements_always_present(ctx):
    repo = ctx.new_repo("no-requirements", h.project_files("SOURCE artifact"))
    build = os.path.join(os.path.dirname(repo.path), "build")
    ctx.configure(repo.path, build)
    ctx.build(build, "train-wandb-job")
    b = h.Bundle(h.bundle_dir(build))
    h.check_equal(b.read("job", "requirements.frozen.txt"), b"", "requirements.frozen.txt")
    h.check_equal(sorted(b.manifest("job")["contents"]),
                  ["requirements.frozen.txt", "wandb-job.json", "wandb-job.lock.json"],
                  "job artifact files")


def lock_lockfiles(lock):
    entries = lock.get("lockfiles")
    h.check(entries is not None, "native lock has no lockfiles entry: %s" % sorted(lock))
    if isinstance(entries, dict):
        return entries
    out = {}
    for e in entries:
        h.check(isinstance(e, dict), "lockfiles entries are objects: %r" % (e,))
        out[e.get("path", e.get("relpath"))] = e.get("sha256")
    return out


def native_lock(ctx):
    repo, dep, build, _ = fixture(ctx)
    b = h.Bundle(h.bundle_dir(build, "train"))
    text = b.read("job", "wandb-job.lock.json").decode()
    lock = json.loads(text)
    h.check_equal(text, json.dumps(lock, indent=2, sort_keys=True) + "\n",
                  "native lock is canonical (sorted keys, indent 2, newline)")
    # Toolchain: what CMake configured.
    found = glob.glob(os.path.join(build, "CMakeFiles", "*", "CMakeCXXCompiler.cmake"))
    h.check(found, "no CMakeCXXCompiler.cmake in the build dir")
    compiler = h.read_text(found[0])
    cmake_vars = lambda name: re.search(r'set\(%s "([^"]*)"\)' % name, compiler).group(1)  # noqa
    system = glob.glob(os.path.join(build, "CMakeFiles", "*", "CMakeSystem.cmake"))
    system_text = h.read_text(system[0])
    system_name = re.search(r'set\(CMAKE_SYSTEM_NAME "([^"]*)"\)', system_text).group(1)
    processor = re.search(r'set\(CMAKE_SYSTEM_PROCESSOR "([^"]*)"\)', system_text).group(1)
    cmake_version = ctx.run(["cmake", "--version"]).stdout.split()[2]
    h.check_equal(lock.get("toolchain"), {
        "build_type": "",
        "cmake_version": cmake_version,
        "compiler_id": cmake_vars("CMAKE_CXX_COMPILER_ID"),
        "compiler_version": cmake_vars("CMAKE_CXX_COMPILER_VERSION"),
        "cxx_standard": "17",
        "generator": ctx.generator(),
        "system": "%s-%s" % (system_name, processor),
    }, "native lock toolchain")
    h.check_equal(lock.get("target"), "train", "native lock target")


def native_lock_dependencies(ctx):
    repo, dep, build, _ = fixture(ctx)
    b = h.Bundle(h.bundle_dir(build, "train"))
    text = b.read("job", "wandb-job.lock.json").decode()
    lock = json.loads(text)
    # FetchContent.
    fc = lock.get("fetchcontent")
    h.check(isinstance(fc, list) and fc, "native lock lacks fetchcontent entries: %s" % text)
    dep_entry = [e for e in fc if e.get("name") == "dep"]
    h.check(dep_entry, "no FetchContent entry named dep: %r" % fc)
    h.check_equal(dep_entry[0].get("method"), "git", "dep method")
    h.check_equal(dep_entry[0].get("reference"), dep.head(), "dep reference")
    h.check_equal(dep_entry[0].get("url"), "file://" + dep.path, "dep url")
    # Runtime closure.
    runtime = lock.get("runtime")
    h.check(isinstance(runtime, list) and runtime, "native lock lacks runtime entries")
    by_soname = {e.get("soname"): e for e in runtime}
    ml = by_soname.get("libmathlib.so")
    h.check(ml is not None, "the project's shared library is not in the closure: %r" %
            sorted(by_soname))
    h.check_equal(ml.get("path"), "<build>/libmathlib.so", "path of the project's library")
    h.check(not ml.get("sha256"), "the project's library is hashed: %r" % ml)
    libc = [e for s, e in by_soname.items() if s and s.startswith("libc.so")]
    h.check(libc, "libc is not in the closure: %r" % sorted(by_soname))
    for e in runtime:
        if e is ml:
            continue
        h.check(e.get("path", "").startswith("/"), "system library path %r" % e)
        h.check(re.fullmatch(r"[0-9a-f]{64}", e.get("sha256") or ""),
                "system library %s has no sha256" % e.get("soname"))


def code_selection(ctx):
    repo, _, build, out = fixture(ctx)
    pack = h.Bundle(h.bundle_dir(build, "pack"))
    code = pack.code_files()
    for f in ("CMakeLists.txt", "train.cpp", "config.json", "data/keep.csv", "apps/eval/eval.cpp",
              "docker/Dockerfile", "Dockerfile.wandb"):
        h.check(f in code, "%s missing from the code artifact: %s" % (f, code))
    for f, why in ((".env", "secret"), ("certs/server.pem", "secret"), ("keys/id_rsa", "secret"),
                   ("data/raw/big.csv", ".wandbignore"), ("train.log", ".wandbignore"),
                   ("scratch/notes.txt", "EXCLUDE"), ("model.tmp", "EXCLUDE")):
        h.check(f not in code, "%s (%s) is in the code artifact" % (f, why))
    h.check(not any(f.startswith(".git/") for f in code), ".git in the code artifact")
    warnings = [l for l in out.splitlines() if "wandb-job: warning" in l and "secret" in l]
    h.check(warnings, "no warning about secrets:\n" + out)
    for f in (".env", "certs/server.pem", "keys/id_rsa"):
        h.check(any(f in w for w in warnings), "the secrets warning does not name %s: %s"
                % (f, warnings))
    # No secret content anywhere in any bundle.
    for target in ("train", "pack", "infer", "evaluate"):
        hits = h.find_in_tree(h.bundle_dir(build, target),
                              ["not-a-real-key", "BEGIN PRIVATE KEY", "OPENSSH PRIVATE"])
        h.check(not hits, "secret content in the %s bundle: %s" % (target, hits))


def publish_digest(ctx):
    """The publisher's digest of the job artifact is the one computed from job.manifest.json."""
    _, _, build, _ = fixture(ctx)
    b = h.Bundle(h.bundle_dir(build, "train"))
    proc = ctx.run([ctx.tool, "publish", "--dry-run", "--json", "--store",
                    ctx.path("dry-run-store"), b.path])
    result = json.loads(proc.stdout)
    h.check_equal(len(result), 1, "one job in the dry run")
    h.check_equal(result[0]["name"], "job-https___github.com_acme_trainer.git_train", "name")
    h.check_equal(result[0]["digest"], b.digest("job"), "job artifact digest")
    h.check(not os.path.exists(ctx.path("dry-run-store")), "the dry run wrote a store")


CASES = [
    ("wandb-job.json of a repo job", repo_job_file),
    ("wandb-job.json of other sources", other_source_keys),
    ("bundle.json", bundle_json),
    ("input schemas", input_schemas),
    ("names and aliases", names_and_aliases),
    ("requirements and lockfiles", requirements_and_lockfiles),
    ("requirements.frozen.txt always present", requirements_always_present),
    ("native lock: toolchain", native_lock),
    ("native lock: FetchContent and runtime closure", native_lock_dependencies),
    ("code selection", code_selection),
    ("publish dry-run digest", publish_digest),
]

if __name__ == "__main__":
    h.main("job-content", CASES, setup=lambda ctx: ctx.require_tool())
