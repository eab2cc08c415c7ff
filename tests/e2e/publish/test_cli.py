"""Help and errors of the publishing commands: --help of the tool and of each command (examples,
environment, exit codes), --version, global options anywhere, an unknown command with a
suggestion only when close; failures with exactly one clear line on stderr, a non-zero
exit and the store unchanged (a missing or damaged bundle, an unwritable store, show of an unknown
job, alias or a bad reference); no W&B API key in any output or stored file."""

import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import publish_util as u  # noqa: E402
from publish_util import check, check_equal, h  # noqa: E402

COMMANDS = ["bundle", "publish", "ls", "show", "store", "version"]
FAKE_KEY = "e2efakeapikey" + "5ec7e7" * 4 + "0badc0de0bad"  # 49 characters, easy to find
NETRC_KEY = "e2enetrckey" + "7e57ab1e" * 5  # 51 characters


def check_help(proc, what):
    check_equal(proc.returncode, 0, "exit code of %s" % what)
    check(re.search(r"^usage:", proc.stdout, re.I | re.M), "%s prints no usage line:\n%s"
          % (what, proc.stdout))
    check_equal(proc.stderr, "", "stderr of %s" % what)


def help_and_version(ctx):
    case = u.Case(ctx, "help")
    for args in (["--help"], ["-h"], ["help"]):
        proc = case.tool(*args, check=False)
        check_help(proc, "wandb-job %s" % " ".join(args))
        for c in COMMANDS:
            check(re.search(r"^\s+%s\s" % c, proc.stdout, re.M), "wandb-job %s does not list %s"
                  % (" ".join(args), c))
    failures = []
    for c in COMMANDS:
        for args in ([c, "--help"], ["help", c]):
            proc = case.tool(*args, check=False)
            try:
                check_help(proc, "wandb-job %s" % " ".join(args))
            except u.Failure as e:
                failures.append(str(e).splitlines()[0] + " " + u.one_line(proc.stdout.strip()))
    proc = case.tool("store", "verify", "--help", check=False)
    check_help(proc, "wandb-job store verify --help")
    check(not failures, "; ".join(failures))
    version = case.tool("--version")
    check(re.match(r"^wandb-job \d+\.\d+\.\d+\S*\n$", version.stdout),
          "--version prints %r" % version.stdout)
    check_equal(case.tool("version").stdout, version.stdout, "wandb-job version")


def unknown_command(ctx):
    case = u.Case(ctx, "unknown")
    for typo, meant in (("pubilsh", "publish"), ("lss", "ls"), ("shwo", "show"),
                        ("stor", "store"), ("bundel", "bundle")):
        proc = case.tool(typo, check=False)
        check_equal(proc.returncode, 2, "exit code of wandb-job %s" % typo)
        lines = proc.stderr.strip().splitlines()
        check_equal(len(lines), 1, "stderr lines of wandb-job %s: %r" % (typo, lines))
        check("'%s'" % meant in lines[0] and typo in lines[0],
              "wandb-job %s does not suggest %s: %s" % (typo, meant, lines[0]))
        check_equal(proc.stdout, "", "stdout of wandb-job %s" % typo)
    # Far from every command: no suggestion (git and cargo suggest only close names).
    for far in ("foo", "frobnicate"):
        proc = case.tool(far, check=False)
        check_equal(proc.returncode, 2, "exit code of wandb-job %s" % far)
        check("did you mean" not in proc.stderr, "wandb-job %s suggests: %s" % (far, proc.stderr))
    proc = case.tool("frobnicate-everything", check=False)
    check_equal(proc.returncode, 2, "exit code of an unknown command")
    check_equal(len(proc.stderr.strip().splitlines()), 1, "stderr lines of an unknown command")
    proc = case.tool(check=False)
    check(proc.returncode != 0, "wandb-job without a command exits 0")


def help_sections(ctx):
    """--help: examples, the environment variables that matter, exit codes; each command's help
    has examples."""
    case = u.Case(ctx, "help-sections")
    out = case.tool("--help").stdout
    for words in ("Examples:", "Environment:", "WANDB_API_KEY", "WANDB_JOB_STORE", "WANDB_MODE",
                  "Exit codes:", "2 usage error", "--progress=MODE"):
        check(words in out, "wandb-job --help lacks %r:\n%s" % (words, out))
    for c in ("publish", "ls", "show", "run", "exec"):
        out = case.tool(c, "--help").stdout
        check(re.search(r"^Examples:\n  wandb-job %s\b" % c, out, re.M),
              "wandb-job %s --help has no examples:\n%s" % (c, out))


def global_options_anywhere(ctx):
    """-v, -q and --progress before or after the command, as git, cargo and gh take them."""
    case, p = published_case(ctx, "global-options")
    plain = case.tool("ls").stdout
    for args in (["-v", "ls"], ["ls", "-v"], ["ls", "--quiet"], ["ls", "--progress=plain"],
                 ["ls", "--progress", "none"]):
        proc = case.tool(*args, check=False)
        check_equal(proc.returncode, 0, "exit code of wandb-job %s: %s" % (" ".join(args),
                                                                          proc.stderr))
        check_equal(proc.stdout, plain, "stdout of wandb-job %s" % " ".join(args))
    proc = case.tool("show", "train-job", "-q", check=False)
    check_equal((proc.returncode, proc.stderr), (0, ""), "show train-job -q")
    one_error(case.tool("ls", "--progress=fancy", check=False), "ls --progress=fancy",
              ["--progress", "tty, plain or none"])
    # publish --dry-run -q: the job lines on stdout, nothing on stderr.
    proc = case.tool("publish", p.bundle("train"), "--dry-run", "-q")
    check_equal(proc.stderr, "", "stderr of publish --dry-run -q")
    check(u.publish_lines(proc.stdout), "publish --dry-run -q printed no job line")


def one_error(proc, what, words=()):
    """A failure: non-zero exit, exactly one line on stderr, naming `words`."""
    lines = proc.stderr.strip().splitlines()
    check(proc.returncode != 0, "%s: exit 0 (stdout %r)" % (what, proc.stdout))
    check_equal(len(lines), 1, "stderr lines of %s: %r" % (what, lines))
    check(lines[0].startswith("wandb-job: error: "), "%s: %r" % (what, lines[0]))
    for w in words:
        check(w in lines[0], "%s: the error does not mention %r: %s" % (what, w, lines[0]))
    return lines[0]


def published_case(ctx, name):
    """A case with the two-job project built and published once."""
    case = u.Case(ctx, name)
    p = u.two_job_project(case)
    p.build("job-publish")
    return case, p


def broken_bundle(case, p, name, damage):
    """A copy of train's bundle damaged by damage(path)."""
    path = u.copy_tree(p.bundle("train"), case.path("broken-%s" % name))
    damage(path)
    return path


def publish_errors(ctx):
    case, p = published_case(ctx, "publish-errors")
    store = case.store
    before = store.snapshot()

    def truncate_code_file(path):
        f = os.path.join(path, "code", "main.cpp")
        h.write_file(f, h.read_bytes(f)[:-3])

    def garbage(path):
        h.write_file(os.path.join(path, "bundle.json"), b"\x89PNG not json {{{")

    def remove(rel):
        return lambda path: os.remove(os.path.join(path, rel))

    # Train's content is changed first, so each broken bundle would make a new version.
    p.edit_and_commit("train/main.cpp", u.MAIN_CPP % 5)
    p.build("job-bundle")
    cases = [
        ("a missing bundle dir", case.path("no-such-bundle"), ["no-such-bundle"]),
        ("bundle.json garbage", broken_bundle(case, p, "garbage", garbage), ["bundle.json"]),
        ("a code file truncated", broken_bundle(case, p, "truncated", truncate_code_file),
         ["main.cpp"]),
        ("code.manifest.json missing", broken_bundle(case, p, "no-code-manifest",
                                                     remove("code.manifest.json")), []),
        ("job.manifest.json missing", broken_bundle(case, p, "no-job-manifest",
                                                    remove("job.manifest.json")), []),
        ("bundle.json missing", broken_bundle(case, p, "no-bundle-json", remove("bundle.json")),
         ["bundle.json"]),
    ]
    failures = []
    for what, bundle, words in cases:
        for args in ([bundle], ["--json", bundle], [p.bundle("train"), bundle]):
            try:
                proc = case.tool("publish", *args, check=False)
                one_error(proc, "publish of %s" % what, words)
                check_equal(proc.stdout.strip() in ("", "[]"), True,
                            "publish of %s printed on stdout: %r" % (what, proc.stdout))
                u.check_store_unchanged(before, store, "publish of %s" % what)
            except u.Failure as e:
                failures.append(str(e))
    check(not failures, "\n".join(failures))


def same_size_corruption(ctx):
    """A file whose bytes changed but not its size is found only while publishing: nothing may
    be published then either, neither the job nor its code artifact."""
    case = u.Case(ctx, "same-size")
    p = u.two_job_project(case)
    p.build("job-bundle")
    failures = []
    for which in ("code/main.cpp", "job/wandb-job.lock.json"):
        store = u.Store(case.path("store-" + which.split("/")[0]))
        env = case.env_with(WANDB_JOB_STORE=store.root)

        def flip(path):
            f = os.path.join(path, which)
            data = bytearray(h.read_bytes(f))
            data[len(data) // 2] = ord("#") if data[len(data) // 2] != ord("#") else ord("%")
            h.write_file(f, bytes(data))
        bundle = broken_bundle(case, p, which.replace("/", "-"), flip)
        try:
            proc = case.tool("publish", bundle, env=env, check=False)
            one_error(proc, "publish with %s changed" % which, [os.path.basename(which)])
            metadata = store.metadata_snapshot()
            check_equal(sorted(k for k in metadata if k not in ("store.json", ".lock")), [],
                        "store files (but blobs) after publish with %s changed" % which)
            check_equal(case.tool_json("ls", "--json", env=env), [],
                        "jobs after publish with %s changed" % which)
            case.verify_clean(env=env, what=" after publish with %s changed" % which)
        except u.Failure as e:
            failures.append(str(e))
    check(not failures, "\n".join(failures))


def unwritable_store(ctx):
    case, p = published_case(ctx, "unwritable")
    blocker = case.path("a-file")
    h.write_file(blocker, b"not a directory\n")
    for root in (os.path.join(blocker, "store"), os.path.join(blocker, "deeper", "store")):
        env = case.env_with(WANDB_JOB_STORE=root)
        proc = case.tool("publish", p.bundle("train"), env=env, check=False)
        one_error(proc, "publish into %s" % root,
                  ["cannot write the job store", root, "WANDB_JOB_STORE"])
        check_equal(h.read_bytes(blocker), b"not a directory\n", "the file in the way")
        proc = p.build("job-publish", env=env, check=False)
        check(proc.returncode != 0, "job-publish into an unwritable store succeeded")
    # --store given on the command line, with a good WANDB_JOB_STORE: --store wins and fails.
    before = case.store.snapshot()
    proc = case.tool("publish", "--store", os.path.join(blocker, "s"), p.bundle("train"),
                     check=False)
    one_error(proc, "publish --store <unwritable>", ["cannot write the job store"])
    u.check_store_unchanged(before, case.store, "publish --store <unwritable>")


def show_errors(ctx):
    case, p = published_case(ctx, "show-errors")
    before = case.store.snapshot()
    for args, words in (
            (["show", "no-such-job"], ["no-such-job", "wandb-job ls"]),
            (["show", "--json", "no-such-job"], ["no-such-job"]),
            (["show", "mnist/no-such-job"], ["no-such-job", "mnist"]),
            (["show", "other/train-job"], ["train-job", "other"]),
            (["show", "train-job:nope"], ["nope", "latest", "stable"]),
            (["show", "train-job:v9"], ["v9"]),
            (["show", "a/b/c/d"], ["a/b/c/d"]),
            (["show", "train-job:"], ["train-job:"]),
            (["show", ":v0"], [":v0"]),
            (["show", "train job"], ["train job"]),
            (["show"], []),
            (["ls", "--no-such-flag"], ["--no-such-flag"]),
            (["publish"], []),
            (["store", "frobnicate"], [])):
        proc = case.tool(*args, check=False)
        one_error(proc, "wandb-job %s" % " ".join(args), words)
        check_equal(proc.stdout, "", "stdout of wandb-job %s" % " ".join(args))
    u.check_store_unchanged(before, case.store, "failed show and ls")


def damaged_store_files(ctx):
    """Store files of the wrong types (a run record with "id": null, an alias that is no index)
    are named with their field, never an abort."""
    case, p = published_case(ctx, "damaged-types")
    run_dir = os.path.join(case.store.root, "entities", "local", "projects", "mnist", "runs",
                           "run00001")
    os.makedirs(run_dir)
    h.write_file(os.path.join(run_dir, "run.json"),
                 '{"id": null, "job": "train-job", "state": "finished"}\n')
    # A damaged run is skipped with a warning naming its field; the job is still shown.
    proc = case.tool("show", "train-job", check=False)
    check_equal(proc.returncode, 0, "exit code of show with a damaged run record")
    warnings = proc.stderr.strip().splitlines()
    check(warnings and all("run00001" in w and "field id must be a string" in w
                           for w in warnings), "show's warnings: %r" % warnings)
    check("train-job" in proc.stdout, proc.stdout)
    os.remove(os.path.join(run_dir, "run.json"))
    aliases = os.path.join(case.store.job("train-job").path, "aliases.json")
    h.write_file(aliases, '{"latest": null}\n')
    proc = case.tool("show", "train-job", check=False)
    one_error(proc, "show with a damaged aliases.json", ["aliases.json", "latest"])
    check_equal(proc.returncode, 1, "exit code of show with a damaged aliases.json")


def ci_without_key(ctx):
    """In CI, with WANDB_MODE=online or --ci-aliases, a missing API key is an error naming the
    fix, never a publish into a local store that is thrown away with the runner."""
    case = u.Case(ctx, "ci-no-key")
    p = u.two_job_project(case)
    p.build("job-bundle")
    bundle = p.bundle("train")
    store = u.Store(case.path("store-ci"))
    failures = []
    for what, changes, extra in (
            ("GITHUB_ACTIONS=true", {"GITHUB_ACTIONS": "true"}, []),
            ("GITLAB_CI=true", {"GITLAB_CI": "true"}, []),
            ("CI=true", {"CI": "true"}, []),
            ("WANDB_MODE=online", {"WANDB_MODE": "online"}, []),
            ("--ci-aliases", {}, ["--ci-aliases", "--default-branch", "main"])):
        env = case.env_with(**dict({"WANDB_MODE": None, "WANDB_API_KEY": None,
                                    "WANDB_JOB_STORE": store.root}, **changes))
        try:
            proc = case.tool("publish", *(extra + [bundle]), env=env, check=False)
            line = one_error(proc, "publish with %s and no key" % what,
                             [what.split(" ")[0], "WANDB_API_KEY", "--store", "WANDB_MODE=offline"])
            check_equal(proc.returncode, 1, "exit code of publish with %s and no key: %s"
                        % (what, line))
            check(not store.exists() or not store.collections(), "publish with %s and no key "
                  "wrote the local store" % what)
        except u.Failure as e:
            failures.append(str(e))
    check(not failures, "\n".join(failures))
    # Choosing the local store on purpose still works in CI.
    ci = case.env_with(WANDB_MODE=None, WANDB_API_KEY=None, GITHUB_ACTIONS="true")
    case.tool("publish", "--store", store.root, bundle, env=ci)
    check_equal(len(store.collections("job")), 1, "jobs published with --store in CI")
    offline = case.env_with(WANDB_MODE="offline", WANDB_API_KEY=None, CI="true",
                            WANDB_JOB_STORE=case.path("store-offline"))
    case.tool("publish", bundle, env=offline)
    check_equal(len(u.Store(case.path("store-offline")).collections("job")), 1,
                "jobs published with WANDB_MODE=offline in CI")


def no_secret(ctx):
    case = u.Case(ctx, "secret")
    env = case.env_with(WANDB_API_KEY=FAKE_KEY, WANDB_MODE="offline")
    p = u.two_job_project(case)
    outputs = []

    def keep(proc, what):
        outputs.append((what, proc.stdout + proc.stderr))
        return proc

    keep(p.build("job-publish", env=env), "job-publish")
    bundles = [p.bundle("train"), p.bundle("eval")]
    keep(case.tool("publish", "--json", *bundles, env=env), "publish --json")
    keep(case.tool("-v", "publish", *bundles, env=env), "publish -v")
    keep(case.tool("publish", "--dry-run", "--json", *bundles, env=env), "publish --dry-run")
    keep(case.tool("ls", env=env), "ls")
    keep(case.tool("ls", "--json", env=env), "ls --json")
    keep(case.tool("show", "train-job", env=env), "show")
    keep(case.tool("show", "--json", "eval-job", env=env), "show --json")
    keep(case.tool("store", "verify", env=env), "store verify")
    keep(case.tool("publish", case.path("missing"), env=env, check=False), "failed publish")
    keep(case.tool("show", "nope", env=env, check=False), "failed show")
    # The key without WANDB_MODE=offline: whatever happens, the key is not printed.
    # (WANDB_BASE_URL is a closed local port: this fails quickly, without the network.)
    # Retries are cut short; whatever is printed within 20 s is checked.
    online = case.env_with(WANDB_API_KEY=FAKE_KEY, WANDB_MODE=None,
                           WANDB_JOB_STORE=case.path("store-online"), WANDB_JOB_RETRY_MAX="1",
                           WANDB_JOB_RETRY_BASE_MS="10")
    for args in (["publish"], ["-v", "publish", "--json"]):
        try:
            proc = case.tool(*(args + bundles), env=online, check=False, timeout=20)
            outputs.append(("%s with a key, online" % " ".join(args), proc.stdout + proc.stderr))
        except subprocess.TimeoutExpired as e:
            outputs.append(("%s with a key, online (timed out)" % " ".join(args),
                            (e.stdout or b"").decode("utf-8", "replace") +
                            (e.stderr or b"").decode("utf-8", "replace")))
    # A key in ~/.netrc for the W&B host, with WANDB_MODE=offline: the local store, no key shown.
    h.write_file(os.path.join(case.home, ".netrc"), "machine %s login user password %s\n"
                 % (case.dead_url.split("//")[1], NETRC_KEY), mode=0o600)
    env_netrc = case.env_with(WANDB_MODE="offline", WANDB_JOB_STORE=case.path("store-netrc"))
    keep(case.tool("-v", "publish", "--json", *bundles, env=env_netrc), "publish, netrc key")
    keep(case.tool("show", "train-job", env=env_netrc), "show, netrc key")
    check_equal(len(u.Store(case.path("store-netrc")).collections("job")), 2,
                "jobs published offline with a netrc key")
    leaks = [what for what, text in outputs
             if any(k in text for k in (FAKE_KEY, FAKE_KEY[:20], NETRC_KEY))]
    check(not leaks, "the API key is printed by: %s" % ", ".join(leaks))
    check(case.store.exists(), "nothing was published")
    keys = [FAKE_KEY, FAKE_KEY[:20], NETRC_KEY]
    for root in (case.store.root, case.path("store-online"), case.path("store-netrc")):
        if os.path.exists(root):
            hits = h.find_in_tree(root, keys)
            check(not hits, "the API key is in the store: %s" % hits)
    hits = h.find_in_tree(os.path.join(p.build_dir, "wandb-jobs"), keys)
    check(not hits, "the API key is in a bundle: %s" % hits)


CASES = [
    ("help and version", help_and_version),
    ("unknown command", unknown_command),
    ("help sections", help_sections),
    ("global options anywhere", global_options_anywhere),
    ("publish errors leave the store unchanged", publish_errors),
    ("same-size corruption publishes nothing", same_size_corruption),
    ("unwritable store", unwritable_store),
    ("show errors", show_errors),
    ("damaged store files of wrong types", damaged_store_files),
    ("CI without an API key is an error", ci_without_key),
    ("no secret printed or stored", no_secret),
]

if __name__ == "__main__":
    u.main("publish-cli", CASES)
