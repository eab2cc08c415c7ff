#!/usr/bin/env python3
"""End-to-end tests of daemonless images: build from real executables, validate with skopeo and
umoci, run with runc, push to a real docker-registry (plain, htpasswd basic auth, Bearer tokens).

usage: test_image.py <case> <image_tool> <source_dir>
Cases: layout, push, auth, base, archive, third_party. Exits 125 when a needed tool is missing.
WANDB_JOB_E2E_KEEP=1 keeps the temporary directory. third_party builds a project whose program
links shared libraries of its own: zlib (`example` links its libz.so) cloned from
$WANDB_JOB_ZLIB_SOURCE (a path or URL) when set, else GoogleTest from /usr/src/googletest
(`sample1_unittest` links its libgtest.so and libgtest_main.so), which runs offline.
"""
import base64
import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

SKIP = 125
CASE, TOOL, SOURCE_DIR = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
WORK = tempfile.mkdtemp(prefix="wandb-job-image-")


def need(*tools):
    for t in tools:
        if shutil.which(t) is None:
            print(f"skipping: {t} not found")
            sys.exit(SKIP)


def run(cmd, cwd=None, env=None, check=True, input=None):
    p = subprocess.run(cmd, cwd=cwd, env=env, input=input, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def check_equal(a, b, what):
    if a != b:
        raise AssertionError(f"{what}: {a!r} != {b!r}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc):
    for _ in range(100):
        if proc.poll() is not None:
            raise AssertionError("registry exited early")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


class Registry:
    """docker-registry serve on 127.0.0.1:<free port>, storage in the work dir."""

    def __init__(self, name, auth=None):
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        root = os.path.join(WORK, name)
        os.makedirs(root)
        config = {
            "version": 0.1,
            "log": {"level": "error"},
            "storage": {"filesystem": {"rootdirectory": os.path.join(root, "data")}},
            "http": {"addr": self.host},
        }
        if auth:
            config["auth"] = auth
        path = os.path.join(root, "config.yml")
        with open(path, "w") as f:
            json.dump(config, f)  # YAML is a superset of JSON
        self.log = open(os.path.join(root, "log"), "w")
        self.proc = subprocess.Popen(["docker-registry", "serve", path], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


SAMPLE_CMAKE = """cmake_minimum_required(VERSION 3.16)
project(sample C CXX)
add_library(greet SHARED greet.cc)
set_target_properties(greet PROPERTIES VERSION 1.2.0 SOVERSION 1)
add_executable(hello hello.cc)
target_link_libraries(hello PRIVATE greet)
"""
SAMPLE_GREET = """#include <string>
std::string Greeting() { return "hello from libgreet"; }
"""
SAMPLE_HELLO = """#include <iostream>
#include <string>
std::string Greeting();
int main(int argc, char** argv) {
  std::cout << Greeting() << VARIANT;
  for (int i = 1; i < argc; ++i) std::cout << " " << argv[i];
  std::cout << std::endl;
}
"""


def sample_project(variant=""):
    src = os.path.join(WORK, "sample")
    os.makedirs(src, exist_ok=True)
    for name, text in (("CMakeLists.txt", SAMPLE_CMAKE), ("greet.cc", SAMPLE_GREET),
                       ("hello.cc", SAMPLE_HELLO.replace("VARIANT", f'"{variant}"'))):
        with open(os.path.join(src, name), "w") as f:
            f.write(text)
    return src


def cmake_build(src, build, *defs):
    run(["cmake", "-S", src, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", *defs])
    run(["cmake", "--build", build])


def build_image(exe, binary_dir, out, *extra):
    run([TOOL, "build", "--target-file", exe, "--binary-dir", binary_dir, "--out", out,
         "--created", "1700000000", "--image", "localhost/sample:v1",
         "--source", "https://github.com/example/sample", "--revision", "0123abcd" * 5, *extra])
    with open(os.path.join(out, "index.json")) as f:
        return json.load(f)["manifests"][0]["digest"]


def run_layout(layout, ref="v1"):
    """umoci unpack + runc run; returns stdout."""
    bundle = os.path.join(WORK, "bundle-" + hashlib.sha1(layout.encode()).hexdigest()[:8])
    shutil.rmtree(bundle, ignore_errors=True)
    run(["umoci", "unpack", "--image", f"{layout}:{ref}", bundle])
    cfg_path = os.path.join(bundle, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["process"]["terminal"] = False
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    p = run(["runc", "run", f"wandb-job-test-{os.getpid()}-{time.time_ns()}"], cwd=bundle)
    return p.stdout


def need_runtime():
    need("skopeo", "umoci", "runc", "cmake", "ninja")
    if os.geteuid() != 0:
        print("skipping: runc needs root here")
        sys.exit(SKIP)


def case_layout():
    need_runtime()
    src = sample_project()
    # Same source, two build directories (same path length: the linker's string table keeps
    # its size), one image digest: RUNPATH is removed and the build ID recomputed.
    digests = []
    for b in ("build-aa", "build-bb"):
        build = os.path.join(WORK, b)
        cmake_build(src, build)
        digests.append(build_image(os.path.join(build, "hello"), build,
                                   os.path.join(WORK, "img-" + b), "--arg", "--lr",
                                   "--arg", "0.1"))
    check_equal(digests[0], digests[1], "image digest across build directories")
    # Any lengths with $ORIGIN-relative build RPATHs.
    more = []
    for b in ("x", "a-much-longer-build-directory"):
        build = os.path.join(WORK, "origin-" + b)
        cmake_build(src, build, "-DCMAKE_BUILD_RPATH_USE_ORIGIN=ON")
        more.append(build_image(os.path.join(build, "hello"), build,
                                os.path.join(WORK, "img-origin-" + b)))
    check_equal(more[0], more[1], "image digest with BUILD_RPATH_USE_ORIGIN")

    layout = os.path.join(WORK, "img-build-aa")
    run(["skopeo", "copy", f"oci:{layout}:v1", f"dir:{os.path.join(WORK, 'copied')}"])
    inspect = json.loads(run(["skopeo", "inspect", f"oci:{layout}:v1"]).stdout)
    check_equal(inspect["Labels"]["org.opencontainers.image.revision"], "0123abcd" * 5, "revision")
    check_equal(inspect["Created"], "2023-11-14T22:13:20Z", "created")
    check_equal(len(inspect["Layers"]), 3, "layers (system libs, project libs, program)")
    out = run_layout(layout)
    check_equal(out, "hello from libgreet --lr 0.1\n", "program output")

    # Tar entries: sorted, uid/gid 0, fixed mtime; no build path anywhere in the program.
    manifest = json.load(open(os.path.join(layout, "blobs/sha256", digests[0][7:])))
    for layer in manifest["layers"]:
        listing = run(["tar", "-tvzf", os.path.join(layout, "blobs/sha256", layer["digest"][7:]),
                       "--numeric-owner"]).stdout.splitlines()
        names = [line.split()[-1] for line in listing if "->" not in line]
        check_equal(names, sorted(names), "sorted entries")
        for line in listing:
            check_equal(line.split()[1], "0/0", "owner")
            check_equal(line.split()[3], "2023-11-14", "mtime")
    bundle_exe = [os.path.join(r, f) for r, _, fs in os.walk(WORK) for f in fs
                  if f == "hello" and "/rootfs/usr/local/bin" in r][0]
    with open(bundle_exe, "rb") as f:
        data = f.read()
    if WORK.encode() in data:
        raise AssertionError("the image's program still names the build directory")

    # A rebuild that changed only the program re-compresses only its layer (layer cache).
    cache = os.path.join(WORK, "cache")
    build = os.path.join(WORK, "build-aa")
    build_image(os.path.join(build, "hello"), build, os.path.join(WORK, "c1"), "--cache", cache)
    sample_project(variant="!")
    cmake_build(src, build)
    build_image(os.path.join(build, "hello"), build, os.path.join(WORK, "c2"), "--cache", cache)
    m1 = layers_of(os.path.join(WORK, "c1"))
    m2 = layers_of(os.path.join(WORK, "c2"))
    check_equal(m1[:2], m2[:2], "unchanged library layers")
    if m1[2] == m2[2]:
        raise AssertionError("program layer did not change")
    for d in m2[:2]:
        a = os.stat(os.path.join(WORK, "c2/blobs/sha256", d[7:]))
        b = os.stat(os.path.join(cache, "blobs/sha256", d[7:]))
        check_equal(a.st_ino, b.st_ino, "unchanged layer linked from the cache")
    check_equal(run_layout(os.path.join(WORK, "c2")), "hello from libgreet!\n", "rebuilt output")


def layers_of(layout):
    index = json.load(open(os.path.join(layout, "index.json")))
    m = json.load(open(os.path.join(layout, "blobs/sha256", index["manifests"][0]["digest"][7:])))
    return [l["digest"] for l in m["layers"]]


def built_sample():
    src = sample_project()
    build = os.path.join(WORK, "build")
    cmake_build(src, build)
    layout = os.path.join(WORK, "img")
    build_image(os.path.join(build, "hello"), build, layout, "--arg", "--epochs", "--arg", "3")
    return layout


def push(layout, ref, *extra, env=None, check=True):
    p = run([TOOL, "push", layout, ref, *extra], env=env, check=check)
    return p


def pull_and_run(ref, tls="--src-tls-verify=false", creds=()):
    pulled = os.path.join(WORK, "pulled-" + str(time.time_ns()))
    run(["skopeo", "copy", tls, *creds, f"docker://{ref}", f"oci:{pulled}:v1"])
    return run_layout(pulled)


def case_push():
    need_runtime()
    need("docker-registry")
    layout = built_sample()
    reg = Registry("registry")
    try:
        ref = f"{reg.host}/team/sample"
        p = push(layout, ref + ":v1", "--tag", "v1", "--tag", "latest", "--tag", "prod")
        pinned = p.stdout.strip()
        if not pinned.startswith(ref + "@sha256:"):
            raise AssertionError(f"pinned reference {pinned}")
        tags = json.loads(run(["skopeo", "list-tags", "--tls-verify=false",
                               f"docker://{ref}"]).stdout)["Tags"]
        check_equal(sorted(tags), ["latest", "prod", "v1"], "tags")
        inspect = json.loads(run(["skopeo", "inspect", "--tls-verify=false",
                                  f"docker://{ref}:prod"]).stdout)
        check_equal(inspect["Digest"], pinned.split("@")[1], "pushed digest")
        # Again: every blob is there already (HEAD before upload).
        p = push(layout, ref + ":v1")
        if "uploaded 0 blobs" not in p.stderr:
            raise AssertionError(p.stderr)
        # Another repository on the same registry: layers mounted, not uploaded.
        p = push(layout, f"{reg.host}/other/sample:v1", "--mount-from", "team/sample")
        if "mounted 3" not in p.stderr:
            raise AssertionError(p.stderr)
        # Chunked uploads into a fresh repository.
        p = push(layout, f"{reg.host}/chunked/sample:v1", "--chunk", "65536")
        if "uploaded 4 blobs" not in p.stderr:
            raise AssertionError(p.stderr)
        check_equal(pull_and_run(f"{reg.host}/chunked/sample:v1"),
                    "hello from libgreet --epochs 3\n", "output of the chunked push")
        check_equal(pull_and_run(ref + ":prod"), "hello from libgreet --epochs 3\n",
                    "output of the pulled image")
        # Only the program changed: one layer and the config go up.
        src = sample_project(variant="?")
        cmake_build(src, os.path.join(WORK, "build"))
        layout2 = os.path.join(WORK, "img2")
        build_image(os.path.join(WORK, "build", "hello"), os.path.join(WORK, "build"), layout2)
        p = push(layout2, ref + ":v2")
        if "uploaded 2 blobs" not in p.stderr or "skipped 2" not in p.stderr:
            raise AssertionError(p.stderr)
        # Plain HTTP only for localhost unless asked.
        p = push(layout, "registry.invalid:5000/x:v1", check=False)
        if "https://registry.invalid:5000" not in p.stderr:
            raise AssertionError("non-local registry not spoken to over https: " + p.stderr)
    finally:
        reg.stop()


def docker_config(d, entries):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(entries, f)


def case_auth():
    need_runtime()
    need("docker-registry", "htpasswd", "openssl")
    layout = built_sample()
    htpasswd = os.path.join(WORK, "htpasswd")
    run(["htpasswd", "-Bbc", htpasswd, "alice", "s3cret"])
    reg = Registry("basic", auth={"htpasswd": {"realm": "test", "path": htpasswd}})
    env = dict(os.environ)
    try:
        ref = f"{reg.host}/secure/sample:v1"
        env["DOCKER_CONFIG"] = os.path.join(WORK, "noauth")
        p = push(layout, ref, env=env, check=False)
        if p.returncode == 0 or "no credentials" not in p.stderr:
            raise AssertionError("push without credentials: " + p.stderr)
        env["DOCKER_CONFIG"] = os.path.join(WORK, "wrong")
        docker_config(env["DOCKER_CONFIG"], {"auths": {reg.host: {
            "auth": base64.b64encode(b"alice:wrong").decode()}}})
        p = push(layout, ref, env=env, check=False)
        if p.returncode == 0 or "401" not in p.stderr:
            raise AssertionError("push with a wrong password: " + p.stderr)
        env["DOCKER_CONFIG"] = os.path.join(WORK, "basic")
        docker_config(env["DOCKER_CONFIG"], {"auths": {"http://" + reg.host: {
            "auth": base64.b64encode(b"alice:s3cret").decode()}}})
        push(layout, ref, env=env)
        # A credential helper (credHelpers) instead of a stored password.
        bindir = os.path.join(WORK, "bin")
        os.makedirs(bindir)
        helper = os.path.join(bindir, "docker-credential-fake")
        with open(helper, "w") as f:
            f.write("#!/bin/sh\nread server\n[ \"$1\" = get ] || exit 1\n"
                    "echo '{\"ServerURL\":\"'$server'\",\"Username\":\"alice\","
                    "\"Secret\":\"s3cret\"}'\n")
        os.chmod(helper, 0o755)
        env["PATH"] = bindir + ":" + env["PATH"]
        env["DOCKER_CONFIG"] = os.path.join(WORK, "helper")
        docker_config(env["DOCKER_CONFIG"], {"credHelpers": {reg.host: "fake"}})
        push(layout, f"{reg.host}/secure/sample:v2", env=env)
        check_equal(pull_and_run(f"{reg.host}/secure/sample:v2",
                                 creds=("--src-creds", "alice:s3cret")),
                    "hello from libgreet --epochs 3\n", "output")
    finally:
        reg.stop()
    bearer_flow(layout, env)


def bearer_flow(layout, env):
    """A registry with token auth and a tiny token server signing JWTs with openssl."""
    key = os.path.join(WORK, "token.key")
    cert = os.path.join(WORK, "token.crt")
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
         "-days", "2", "-subj", "/CN=token-issuer"])
    der_bytes = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"],
                               capture_output=True).stdout
    x5c = base64.b64encode(der_bytes).decode()
    token_port = free_port()
    seen = []

    def b64url(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    class TokenHandler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            q = urllib.parse.urlparse(self.path)
            params = urllib.parse.parse_qs(q.query)
            auth = self.headers.get("Authorization", "")
            if auth != "Basic " + base64.b64encode(b"bob:hunter2").decode():
                self.send_response(401)
                self.end_headers()
                return
            seen.append(params.get("scope", []))
            access = []
            for scope in params.get("scope", []):
                kind, name, actions = scope.split(":")
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
            now = int(time.time())
            header = {"typ": "JWT", "alg": "RS256", "x5c": [x5c]}
            claims = {"iss": "test-issuer", "sub": "bob", "aud": params["service"][0],
                      "exp": now + 600, "nbf": now - 10, "iat": now, "jti": str(now),
                      "access": access}
            signing_input = (b64url(json.dumps(header).encode()) + "." +
                             b64url(json.dumps(claims).encode()))
            sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key],
                                 input=signing_input.encode(), capture_output=True).stdout
            body = json.dumps({"token": signing_input + "." + b64url(sig)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", token_port), TokenHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    reg = Registry("bearer", auth={"token": {
        "realm": f"http://127.0.0.1:{token_port}/token", "service": "test-registry",
        "issuer": "test-issuer", "rootcertbundle": cert}})
    try:
        env["DOCKER_CONFIG"] = os.path.join(WORK, "bearer")
        docker_config(env["DOCKER_CONFIG"], {"auths": {reg.host: {
            "auth": base64.b64encode(b"bob:hunter2").decode()}}})
        push(layout, f"{reg.host}/tok/sample:v1", env=env)
        if not any("repository:tok/sample:pull,push" in s for s in seen):
            raise AssertionError(f"token scopes asked for: {seen}")
        p = push(layout, f"{reg.host}/tok/other:v1", "--mount-from", "tok/sample", env=env)
        if "mounted 3" not in p.stderr:
            raise AssertionError(p.stderr)
    finally:
        reg.stop()
        server.shutdown()


def case_base():
    need_runtime()
    need("docker-registry")
    # A base image made by us and pushed to a "base" registry; the job image goes to another.
    src = sample_project()
    build = os.path.join(WORK, "build")
    cmake_build(src, build)
    base_reg = Registry("base-registry")
    reg = Registry("registry")
    try:
        base_layout = os.path.join(WORK, "base")
        extra = os.path.join(WORK, "motd")
        with open(extra, "w") as f:
            f.write("base image file\n")
        build_image(os.path.join(build, "hello"), build, base_layout, "--file",
                    extra + "=/etc/motd", "--env", "FROM_BASE=1")
        push(base_layout, f"{base_reg.host}/base/img:1")
        layout = os.path.join(WORK, "img")
        build_image(os.path.join(build, "hello"), build, layout, "--base",
                    f"{base_reg.host}/base/img:1", "--arg", "x")
        p = push(layout, f"{reg.host}/job/img:v1")
        if "copied 4" not in p.stderr:
            raise AssertionError("base layers not streamed across registries: " + p.stderr)
        inspect = json.loads(run(["skopeo", "inspect", "--tls-verify=false",
                                  f"docker://{reg.host}/job/img:v1"]).stdout)
        check_equal(len(inspect["Layers"]), 7, "base layers below ours")
        if "FROM_BASE=1" not in inspect["Env"]:
            raise AssertionError(f"base Env lost: {inspect['Env']}")
        check_equal(pull_and_run(f"{reg.host}/job/img:v1"), "hello from libgreet x\n", "output")
        # Same registry as the base: layers are mounted, never uploaded.
        p = push(layout, f"{base_reg.host}/job/img:v1")
        if "mounted 4" not in p.stderr:
            raise AssertionError(p.stderr)
    finally:
        reg.stop()
        base_reg.stop()


def case_archive():
    need_runtime()
    layout = built_sample()
    tarball = os.path.join(WORK, "image.tar")
    run([TOOL, "archive", layout, tarball, "localhost/sample:v1"])
    run(["skopeo", "inspect", f"docker-archive:{tarball}"])
    out = os.path.join(WORK, "from-archive")
    run(["skopeo", "copy", f"docker-archive:{tarball}", f"oci:{out}:v1"])
    check_equal(run_layout(out), "hello from libgreet --epochs 3\n", "output via docker-archive")
    run(["skopeo", "copy", f"oci-archive:{tarball}", f"oci:{out}-2:v1"])


GTEST_SOURCE = "/usr/src/googletest"


def case_third_party():
    need_runtime()
    if "WANDB_JOB_ZLIB_SOURCE" not in os.environ:
        third_party_gtest()
        return
    need("git")
    origin = os.environ["WANDB_JOB_ZLIB_SOURCE"]
    src = os.path.join(WORK, "zlib")
    p = run(["git", "clone", "-q", *([] if os.path.exists(origin) else ["--depth", "1"]), origin,
             src], check=False)
    if p.returncode != 0:
        print("skipping: no zlib source (set WANDB_JOB_ZLIB_SOURCE to a clone)")
        sys.exit(SKIP)
    build = os.path.join(WORK, "zlib-build")
    cmake_build(src, build)
    exe = os.path.join(build, "example")
    version = run([exe], env=dict(os.environ, LD_LIBRARY_PATH=build)).stdout.splitlines()[0]
    layout = os.path.join(WORK, "zlib-img")
    build_image(exe, build, layout, "--arg", "/tmp/foo.gz")
    out = run_layout(layout)
    check_equal(out.splitlines()[0], version, "zlib version line (the project's libz)")
    if "gzread(): hello, hello!" not in out:
        raise AssertionError(out)


def third_party_gtest():
    """GoogleTest as Debian ships its sources (libgtest-dev): sample1_unittest links the
    project's own libgtest.so and libgtest_main.so. Offline."""
    if not os.path.isfile(os.path.join(GTEST_SOURCE, "CMakeLists.txt")):
        print(f"skipping: no {GTEST_SOURCE} (install libgtest-dev) and no WANDB_JOB_ZLIB_SOURCE")
        sys.exit(SKIP)
    src = os.path.join(WORK, "googletest")
    shutil.copytree(GTEST_SOURCE, src, symlinks=True)
    build = os.path.join(WORK, "googletest-build")
    cmake_build(src, build, "-DBUILD_SHARED_LIBS=ON", "-Dgtest_build_samples=ON",
                "-DBUILD_GMOCK=OFF")
    exe = [os.path.join(r, f) for r, _, fs in os.walk(build) for f in fs
           if f == "sample1_unittest"][0]
    layout = os.path.join(WORK, "gtest-img")
    build_image(exe, build, layout, "--arg", "--gtest_color=no")
    out = run_layout(layout)
    if "[  PASSED  ]" not in out or "FAILED" in out:
        raise AssertionError(out)


def main():
    if not os.path.exists(TOOL):
        print(f"{TOOL} not built")
        return 1
    try:
        globals()["case_" + CASE]()
    finally:
        if os.environ.get("WANDB_JOB_E2E_KEEP") != "1":
            shutil.rmtree(WORK, ignore_errors=True)
        else:
            print("kept", WORK)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
