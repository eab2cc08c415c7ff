"""Capture of a tree that holds what a code artifact must never take, or what the build tools
cannot name: links out of the tree, a FIFO, a socket, a 3 GiB sparse file, file names with a
newline, quotes, backslashes, '#', '$', ':' and spaces, and the leftovers of a killed capture.
docs/bundle.md says what capture does with each."""

import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

OUTSIDE_SECRET = "-----BEGIN OPENSSH PRIVATE KEY----- outside the tree"
ODD_NAMES = ["new\nline.txt", "quo'te.txt", 'dq"uote.txt', "back\\slash.txt", "ha#sh.txt",
             "dol$lar.txt", "sp ace.txt", "co:lon.txt", "star*.txt", "semi;colon.txt"]
# A capture that hangs fails the case instead of the whole suite's timeout.
BUILD_TIMEOUT = 300


def project(ctx, name, job_args="", extra_files=None):
    repo = ctx.new_repo(name, h.project_files(job_args, extra_files=extra_files))
    build = os.path.join(os.path.dirname(repo.path), "build")
    return repo, build


def build_job(ctx, build, check=True):
    return ctx.run(["cmake", "--build", build, "--target", "train-wandb-job"], check=check,
                   timeout=BUILD_TIMEOUT)


def warnings_of(proc):
    return [l for l in (proc.stdout + proc.stderr).splitlines() if "wandb-job: warning" in l]


def links_fifo_socket(ctx):
    repo, build = project(ctx, "links")
    home = ctx.fresh_dir("elsewhere")
    h.write_file(os.path.join(home, ".ssh", "id_rsa"), OUTSIDE_SECRET + "\n")
    os.symlink(os.path.join(home, ".ssh", "id_rsa"), os.path.join(repo.path, "notes.txt"))
    os.symlink("../../%s/.ssh/id_rsa" % os.path.basename(home),
               os.path.join(repo.path, "relative-notes.txt"))
    os.symlink("/etc/passwd", os.path.join(repo.path, "users.txt"))
    os.symlink("train.cpp", os.path.join(repo.path, "alias.cpp"))
    os.symlink(".env", os.path.join(repo.path, "env-alias.txt"))
    repo.write(".env", "WANDB_API_KEY=not-a-real-key\n")
    os.mkfifo(os.path.join(repo.path, "pipe"))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(os.path.join(repo.path, "sock"))
    sock.close()
    # Tracked too: a committed link out of the tree is as dangerous as an untracked one.
    repo.git("add", "notes.txt", "alias.cpp")
    repo.commit("links", add_all=False)
    ctx.configure(repo.path, build)
    proc = build_job(ctx, build)
    b = h.Bundle(h.bundle_dir(build))
    b.verify()
    h.check_equal(b.meta["source_type"], "artifact", "source type")
    code = b.code_files()
    h.check("alias.cpp" in code, "a link to a file in the tree is not taken: %s" % code)
    h.check_equal(b.read("code", "alias.cpp"), b.read("code", "train.cpp"),
                  "the link is stored as a copy of its target")
    for name in ("notes.txt", "relative-notes.txt", "users.txt", "env-alias.txt", "pipe", "sock",
                 ".env"):
        h.check(name not in code, "%s is in the code artifact" % name)
    hits = h.find_in_tree(b.path, ["OPENSSH PRIVATE KEY", "root:x:0:0", "not-a-real-key"])
    h.check(not hits, "content from outside the tree or a secret in the bundle: %s" % hits)
    warnings = warnings_of(proc)
    for name, why in (("notes.txt", "a symlink out of the code directory"),
                      ("relative-notes.txt", "a symlink out of the code directory"),
                      ("users.txt", "a symlink out of the code directory"),
                      ("env-alias.txt", "a symlink to .env, which is not taken itself")):
        h.check(any(name + " is left out" in w and why in w for w in warnings),
                "no warning for %s (%s):\n%s" % (name, why, "\n".join(warnings)))


def fifo_outside_git(ctx):
    """A plain directory walk (no git) sees FIFOs and sockets: they are left out, not opened."""
    repo = ctx.new_repo("fifo", h.project_files(), init=False)
    build = os.path.join(os.path.dirname(repo.path), "build")
    os.mkfifo(os.path.join(repo.path, "pipe"))
    os.mkfifo(os.path.join(repo.path, ".wandbignore"))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(os.path.join(repo.path, "sock"))
    sock.close()
    ctx.configure(repo.path, build)
    proc = build_job(ctx, build)
    b = h.Bundle(h.bundle_dir(build))
    b.verify()
    code = b.code_files()
    for name in ("pipe", ".wandbignore", "sock"):
        h.check(name not in code, "%s is in the code artifact" % name)
    warnings = warnings_of(proc)
    for name, why in (("pipe", "a FIFO"), (".wandbignore", "a FIFO"), ("sock", "a socket")):
        h.check(any(name + " is left out" in w and why in w for w in warnings),
                "no warning for %s:\n%s" % (name, "\n".join(warnings)))
    h.check("train.cpp" in code, "train.cpp missing: %s" % code)


def big_sparse_file(ctx):
    repo, build = project(ctx, "sparse")
    big = os.path.join(repo.path, "data", "checkpoint.bin")
    os.makedirs(os.path.dirname(big))
    with open(big, "wb") as f:
        f.truncate(3 << 30)  # 3 GiB of length, no blocks
    ctx.configure(repo.path, build)
    proc = build_job(ctx, build, check=False)
    out = proc.stdout + proc.stderr
    h.check(proc.returncode != 0, "a 3 GiB file was taken:\n" + out)
    errors = [l for l in out.splitlines() if l.startswith("wandb-job: error:")]
    h.check_equal(len(errors), 1, "error lines\n" + out)
    for words in ("data/checkpoint.bin is 3221225472 bytes", "limit of 104857600 bytes",
                  "EXCLUDE", "MAX_FILE_SIZE"):
        h.check(words in errors[0], "the error does not say %r: %s" % (words, errors[0]))
    bundle = h.bundle_dir(build)
    h.check(not os.path.exists(bundle) or not os.listdir(bundle), "a bundle was written")
    leftovers = [f for f in os.listdir(os.path.join(build, "wandb-jobs", "train"))
                 if ".tmp." in f]
    h.check(not leftovers, "temporary directories left: %s" % leftovers)
    # Left out, it is no obstacle.
    repo.write(".wandbignore", "data/\n")
    build_job(ctx, build)
    b = h.Bundle(h.bundle_dir(build))
    h.check("data/checkpoint.bin" not in b.code_files(), "the ignored big file was taken")


def max_file_size_keyword(ctx):
    repo, build = project(ctx, "limit", "MAX_FILE_SIZE 1K",
                          extra_files={"weights.bin": "w" * 2000})
    ctx.configure(repo.path, build)
    proc = build_job(ctx, build, check=False)
    h.check(proc.returncode != 0 and "weights.bin is 2000 bytes, over the limit of 1024 bytes"
            in proc.stdout + proc.stderr, "MAX_FILE_SIZE 1K not applied:\n" + proc.stdout)
    ctx.configure(repo.path, build, args=["-DWANDB_JOB_MAX_FILE_SIZE=0"])  # the keyword wins
    h.check(build_job(ctx, build, check=False).returncode != 0, "the variable beat the keyword")


def odd_names(ctx, generator):
    repo, build = project(ctx, "odd-" + generator.split()[-1].lower())
    for name in ODD_NAMES:
        repo.write(name, "content of %r\n" % name)
    repo.commit("odd names")
    ctx.configure(repo.path, build, generator=generator)
    build_job(ctx, build)
    b = h.Bundle(h.bundle_dir(build))
    b.verify()
    code = b.code_files()
    for name in ODD_NAMES:
        h.check(name in code, "%r missing from the code artifact: %s" % (name, code))
    stamp = h.file_identity(b.file("bundle.json"))
    build_job(ctx, build)
    h.check_equal(h.file_identity(b.file("bundle.json")), stamp,
                  "a second build re-ran the capture (an input the depfile misnames)")
    # A change to any odd-named file re-runs it and the bundle holds the new content.
    for name in ODD_NAMES:
        repo.write(name, "changed %r\n" % name)
        build_job(ctx, build)
        h.check_equal(h.read_bytes(b.file("code", name)).decode(), "changed %r\n" % name,
                      "change to %r not captured" % name)
    stamp = h.file_identity(b.file("bundle.json"))
    os.remove(os.path.join(repo.path, ODD_NAMES[0]))
    build_job(ctx, build)
    h.check(stamp != h.file_identity(b.file("bundle.json")), "removing a file did not re-run")
    h.check(ODD_NAMES[0] not in h.Bundle(b.path).code_files(), "the removed file is still there")


def odd_names_ninja(ctx):
    ctx.require("ninja")
    odd_names(ctx, "Ninja")


def odd_names_make(ctx):
    ctx.require("make")
    odd_names(ctx, "Unix Makefiles")


def interrupted_capture(ctx):
    """What a killed capture leaves (bundle.tmp.<pid>.<n> of a process that is gone, or an older
    helper's bundle.tmp.<n>) is gone after the next capture."""
    repo, build = project(ctx, "interrupted")
    ctx.configure(repo.path, build)
    build_job(ctx, build)
    jobs = os.path.join(build, "wandb-jobs", "train")
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    for stale in ("bundle.tmp.%d.1234" % pid, "bundle.tmp.31415926535897932384"):
        h.write_file(os.path.join(jobs, stale, "job", "wandb-job.json"), "{}")
    repo.write("train.cpp", h.TRAIN_CPP + "// changed\n")
    repo.commit("change")
    build_job(ctx, build)
    leftovers = [f for f in os.listdir(jobs) if ".tmp." in f]
    h.check(not leftovers, "stale temporary directories survived the next capture: %s"
            % leftovers)


CASES = [
    ("links FIFO and socket in a git tree", links_fifo_socket),
    ("FIFO and socket outside git", fifo_outside_git),
    ("3 GiB sparse file", big_sparse_file),
    ("MAX_FILE_SIZE", max_file_size_keyword),
    ("odd file names with Ninja", odd_names_ninja),
    ("odd file names with Makefiles", odd_names_make),
    ("interrupted capture", interrupted_capture),
]

if __name__ == "__main__":
    h.main("hostile-tree", CASES, setup=lambda ctx: ctx.require_tool())
