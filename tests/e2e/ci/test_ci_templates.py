"""End to end: the CI templates (templates/ci) run by real runners against the fake W&B server.

    python3 test_ci_templates.py <wandb-job tool> <wandb-job source dir> <case>

GitLab: the project commits templates/ci/gitlab-ci.yml as its .gitlab-ci.yml and gitlab-ci-local
(npm) runs the pipeline with its shell executor: its rules pick the jobs, before_script, script
and artifacts run as GitLab's runner runs them. GitHub: action-validator (npm) checks the workflow
against GitHub's schema, and the job runs as the runner runs it: its `if:`, env and step `if:`
expressions evaluated, every `run:` step executed with `bash --noprofile --norc -eo pipefail`,
$GITHUB_ENV carried between steps. In both, `apt-get` (and `sudo`) are stubs that check that each
package asked for is installed here and change nothing. Each case clones a small project shallowly
(depth 1), detaches HEAD, gives the clone a token-bearing origin or none, sets the CI's variables,
and checks the published job's remote, commit and aliases, the summary, and that the token appears
nowhere (outputs, summary, build directory, everything uploaded). Exits 125 (skip) when a runner,
cmake, git, ninja, ccache, rsync, PyYAML or graphql-core is missing.
"""

import json
import os
import shutil
import subprocess
import sys
import re
import tempfile
import traceback

try:
    import yaml
except ImportError:  # Debian: python3-yaml
    yaml = None

SKIP = 125
KEY = "ciKey" + "0123456789abcdefghij" * 2 + "XYZW"
TOKEN = "glcbt-SECRETtoken0123456789"
ENTITY = "ci-team"


class Failure(AssertionError):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


# --- the templates, read as their runners read them -------------------------------------------

def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


_GH_TOKEN = re.compile(r"\s*('[^']*'|&&|\|\||==|!=|!|\(|\)|[A-Za-z_][\w.-]*(?:\(\))?)")


def gh_eval(expr, ctx):
    """Evaluates a GitHub Actions expression of the forms the workflow uses (contexts, string
    literals, ==, !=, !, &&, ||, parentheses, always(), success())."""
    expr = expr.strip()
    if expr.startswith("${{") and expr.endswith("}}"):
        expr = expr[3:-2]
    out, pos = [], 0
    while pos < len(expr.rstrip()):
        m = _GH_TOKEN.match(expr, pos)
        check(m is not None, "expression not understood at %r" % expr[pos:])
        t, pos = m.group(1), m.end()
        if t in ("&&", "||", "!"):
            out.append({"&&": " and ", "||": " or ", "!": " not "}[t])
        elif t in ("==", "!=", "(", ")"):
            out.append(t)
        elif t.startswith("'"):
            out.append(repr(t[1:-1]))
        elif t == "always()":
            out.append("True")
        elif t == "success()":
            out.append(repr(not ctx["failed"]))
        elif t in ("true", "false"):
            out.append(repr(t == "true"))
        else:
            value = ctx
            for part in t.split("."):
                value = value.get(part, "") if isinstance(value, dict) else ""
            out.append(repr(value))
    return eval("".join(out), {"__builtins__": {}})  # noqa: S307 - tokens checked above


def gh_interpolate(value, ctx):
    """A string with ${{ }} parts, as the runner renders it (true/false for booleans)."""
    def one(m):
        v = gh_eval(m.group(1), ctx)
        return ("true" if v else "false") if isinstance(v, bool) else str(v)
    return re.sub(r"\$\{\{(.*?)\}\}", one, str(value), flags=re.S)


def write_stubs(w):
    """`sudo` runs its command; `apt-get` installs nothing but checks that every package it is
    asked for is installed here (the runner's image is Ubuntu 24.04 or Debian 12, this machine
    Debian 12), so the install steps run without changing the machine or reaching a mirror."""
    stubs = os.path.join(w.root, "stubs")
    os.makedirs(stubs)
    with open(os.path.join(stubs, "sudo"), "w") as f:
        f.write('#!/bin/sh\nexec "$@"\n')
    with open(os.path.join(stubs, "apt-get"), "w") as f:
        f.write('#!/bin/bash\n'
                'echo "apt-get $*" >> "%s"\n'
                '[ "$1" = update ] && exit 0\n'
                'while [ $# -gt 0 ]; do\n'
                '  case "$1" in\n'
                '    -o) shift ;;\n'
                '    -*|install) ;;\n'
                '    *) dpkg-query -W -f=\'${Status}\' "$1" 2>/dev/null | grep -q "ok installed" ||'
                ' { echo "apt-get stub: $1 is not installed here" >&2; exit 100; } ;;\n'
                '  esac\n'
                '  shift\n'
                'done\n' % os.path.join(w.root, "apt-get.log"))
    for name in ("sudo", "apt-get"):
        os.chmod(os.path.join(stubs, name), 0o755)
    w.env["PATH"] = stubs + os.pathsep + w.env["PATH"]


class GithubRun:
    """One run of the workflow's job, as the runner does it: the job's `if:`, the env of the
    workflow, job and step with their expressions, each step's `if:`, `run:` steps with the
    `shell: bash` command line and $GITHUB_ENV. `uses:` steps are recorded, not run: the test has
    checked out already, and caches and artifacts are the runner's services."""

    def __init__(self, w, work, github, secrets, vars_):
        self.w, self.work = w, work
        self.workflow = load_yaml(template(w, "github-actions.yml"))
        self.job = self.workflow["jobs"]["wandb-job"]
        self.ctx = {"github": github, "secrets": secrets, "vars": vars_, "env": {},
                    "failed": False}
        self.uses, self.ran, self.outputs = [], [], ""

    def job_runs(self):
        return bool(gh_eval(self.job.get("if", "true"), self.ctx))

    def cancel_in_progress(self):
        return gh_interpolate(self.job["concurrency"]["cancel-in-progress"], self.ctx)

    def run(self, ci_env, until=None):
        check(self.job_runs(), "the job does not run for this event")
        check(self.workflow["defaults"]["run"]["shell"] == "bash", "shell: bash")
        env = dict(ci_env)
        for scope in (self.workflow.get("env", {}), self.job.get("env", {})):
            for k, v in scope.items():
                self.ctx["env"] = env
                env[k] = gh_interpolate(v, self.ctx)
        github_env = os.path.join(self.w.root, "github-env-%s" % os.path.basename(self.work))
        open(github_env, "w").close()
        env["GITHUB_ENV"] = github_env
        for step in self.job["steps"]:
            self.ctx["env"] = env
            if not gh_eval(step.get("if", "success()"), self.ctx):
                continue
            if "uses" in step:
                self.uses.append(step)
                continue
            step_env = dict(env)
            for k, v in step.get("env", {}).items():
                step_env[k] = gh_interpolate(v, self.ctx)
            script = os.path.join(self.w.root, "step.sh")
            with open(script, "w") as f:
                f.write(step["run"])
            # GitHub's command line for `shell: bash`.
            p = self.w.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", script],
                           cwd=self.work, extra_env=step_env, check_rc=False)
            self.outputs += p.stdout + p.stderr
            self.ran.append(step["name"])
            if p.returncode != 0:
                self.ctx["failed"] = True
                self.failure = "step %s failed (%d):\n%s%s" % (step["name"], p.returncode,
                                                              p.stdout, p.stderr)
            with open(github_env) as f:
                for line in f.read().splitlines():
                    if "=" in line:
                        k, v = line.split("=", 1)
                        env[k] = v
            if step["name"] == until:
                break
        return not self.ctx["failed"]


def github_context(event, ref_type, ref_name, fork=False):
    repo = "o/r"
    github = {"event_name": event, "ref_type": ref_type, "ref_name": ref_name,
              "ref": ("refs/tags/" if ref_type == "tag" else "refs/heads/") + ref_name,
              "repository": repo, "sha": "",
              "event": {"repository": {"default_branch": "main"}}}
    if event == "pull_request":
        github["ref"] = "refs/pull/7/merge"
        github["event"]["pull_request"] = {"head": {"repo": {"full_name":
                                                             "fork/r" if fork else repo}}}
    return github


def gitlab_ci_local_cmd(w, options, variables, unset=()):
    """gitlab-ci-local with `options`, the CI/CD `variables` (allowed to override predefined
    ones) and the predefined variables to `unset`."""
    cmd = ["gitlab-ci-local"] + options + ["--home", os.path.join(w.root, "gcl-home"),
                                           "--ignore-predefined-vars", ",".join(sorted(variables))]
    for k, v in sorted(variables.items()):
        cmd += ["--variable", "%s=%s" % (k, v)]
    for k in unset:
        cmd += ["--unset-variable", k]
    return cmd


def gitlab_ci_local(w, work, job, variables, unset=()):
    """Runs the pipeline, or only `job`, of the committed .gitlab-ci.yml with gitlab-ci-local's
    shell executor in the checkout. Returns (process, log)."""
    cmd = gitlab_ci_local_cmd(w, ["--force-shell-executor"], variables, unset)
    p = w.run(cmd + ([job] if job else []), cwd=work, check_rc=False)
    return p, p.stdout + p.stderr


def gitlab_jobs(w, work, variables, unset=()):
    """The jobs of the pipeline that gitlab-ci-local's rules evaluation starts."""
    p = w.run(gitlab_ci_local_cmd(w, ["--list-json"], variables, unset), cwd=work)
    return sorted(j["name"] for j in json.loads(p.stdout) if j["when"] != "never")


# --- the world --------------------------------------------------------------------------------

class World:
    def __init__(self, tool, source_dir):
        self.tool = tool
        self.source_dir = source_dir
        self.root = os.path.realpath(tempfile.mkdtemp(prefix="wandb-e2e-ci-"))
        self.outputs = []
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("WANDB_", "GIT_", "GITHUB_", "GITLAB_", "CI_", "CI",
                                         "RUNNER_", "NETRC", "CMAKE_", "XDG_"))}
        self.env.update({"HOME": os.path.join(self.root, "home"), "LC_ALL": "C", "TZ": "UTC",
                         "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "E2E",
                         "GIT_AUTHOR_EMAIL": "e2e@example.invalid", "GIT_COMMITTER_NAME": "E2E",
                         "GIT_COMMITTER_EMAIL": "e2e@example.invalid",
                         "GIT_CEILING_DIRECTORIES": self.root,
                         "WANDB_JOB_RETRY_BASE_MS": "20"})
        os.makedirs(self.env["HOME"])
        self.fake = None
        self.upstream = os.path.join(self.root, "upstream")

    def run(self, cmd, cwd=None, extra_env=None, check_rc=True, shell=False):
        env = dict(self.env)
        env.update(extra_env or {})
        p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=900, shell=shell,
                           executable="/bin/bash" if shell else None)
        self.outputs.append(p.stdout + p.stderr)
        if check_rc and p.returncode != 0:
            raise Failure("command failed (%d): %s\n--- stdout\n%s\n--- stderr\n%s"
                          % (p.returncode, cmd, p.stdout, p.stderr))
        return p

    def git(self, cwd, *args):
        return self.run(["git"] + list(args), cwd=cwd).stdout.strip()


def setup_upstream(w, src=None, package=False):
    """The project: a repo job, with both templates committed where users put them. `package`:
    it finds the installed WandbJob package instead of naming the helper."""
    src = src or w.upstream
    os.makedirs(src)
    if package:
        consume = "find_package(WandbJob CONFIG REQUIRED)\n"
    else:
        consume = ("set(WANDB_JOB_TOOL \"%s\" CACHE FILEPATH \"\")\n"
                   "include(\"%s/cmake/WandbJob.cmake\")\n" % (w.tool, w.source_dir))
    files = {
        "CMakeLists.txt":
            "cmake_minimum_required(VERSION 3.25)\n"
            "project(citest LANGUAGES CXX)\n" + consume +
            "add_executable(train train.cpp)\n"
            "wandb_add_job(train DOCKERFILE Dockerfile BASE_IMAGE debian:12 CONFIG lr=0.01 "
            "ARGS --lr {lr})\n",
        "train.cpp": "int main() { return 0; }\n",
        # A repo job needs a Dockerfile in the commit (README "Sources of a job").
        "Dockerfile": "FROM debian:12\n",
    }
    with open(template(w, "gitlab-ci.yml")) as f:
        files[".gitlab-ci.yml"] = f.read()
    with open(template(w, "github-actions.yml")) as f:
        files[".github/workflows/wandb-job.yml"] = f.read()
    for rel, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(src, rel)), exist_ok=True)
        with open(os.path.join(src, rel), "w") as f:
            f.write(text)
    w.git(src, "init", "-q", "-b", "main")
    w.git(src, "add", "-A")
    w.git(src, "commit", "-q", "-m", "one")
    with open(os.path.join(src, "train.cpp"), "a") as f:
        f.write("// two\n")
    w.git(src, "commit", "-q", "-am", "two")
    w.git(src, "tag", "v1.0")


def checkout(w, name, origin, upstream=None):
    """A CI checkout: shallow, detached; origin is a URL, or None for no remote."""
    work = os.path.join(w.root, name)
    w.git(w.root, "clone", "-q", "--depth", "1", "file://" + (upstream or w.upstream), work)
    check(w.git(work, "rev-parse", "--is-shallow-repository") == "true", "shallow clone")
    w.git(work, "checkout", "-q", "--detach")
    if origin is None:
        w.git(work, "remote", "remove", "origin")
    else:
        w.git(work, "remote", "set-url", "origin", origin)
    return work, w.git(work, "rev-parse", "HEAD")


def github_env(w, work, sha, ref_type, ref_name, event="push"):
    event_path = os.path.join(w.root, "event-%s.json" % os.path.basename(work))
    with open(event_path, "w") as f:
        json.dump({"repository": {"default_branch": "main"}}, f)
    return {"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": "o/r", "GITHUB_SHA": sha, "GITHUB_REF_TYPE": ref_type,
            "GITHUB_REF_NAME": ref_name, "GITHUB_EVENT_NAME": event,
            "GITHUB_EVENT_PATH": event_path, "GITHUB_WORKSPACE": work,
            "RUNNER_TEMP": os.path.join(w.root, "runner-temp")}


def wandb_env(w, project):
    return {"WANDB_BASE_URL": w.fake.url + "/", "WANDB_API_KEY": KEY, "WANDB_ENTITY": ENTITY,
            "WANDB_PROJECT": project}


def template(w, name):
    return os.path.join(w.source_dir, "templates", "ci", name)


def published_jobs(w, project):
    return [a for a in w.fake.artifacts.values()
            if a["project"] == project and a["state"] == "COMMITTED" and a["type"] == "job"]


def check_published(w, work, project, sha, remote, aliases, summary_path, output):
    """`aliases` is a function of the commit; `output` the runner's output."""
    aliases = aliases(sha)
    jobs = published_jobs(w, project)
    check(len(jobs) == 1, "one job published in %s: %d" % (project, len(jobs)))
    job = jobs[0]
    check(sorted(job["aliases"]) == sorted(aliases),
          "aliases %s, expected %s" % (job["aliases"], aliases))
    spec = json.loads(w.fake.blobs[job["manifestContents"]["wandb-job.json"]["digest"]])
    git = spec["source"]["git"]
    check(git["remote"] == remote, "remote %s, expected %s" % (git["remote"], remote))
    check(git["commit"] == sha, "commit %s, expected %s" % (git["commit"], sha))
    with open(summary_path) as f:
        summary = json.load(f)
    check(summary["published"] is True and len(summary["jobs"]) == 1, "summary %s" % summary)
    s = summary["jobs"][0]
    check(s["artifact_id"] == job["id"] and s["version"] == "v0" and s["new"] is True,
          "summary job %s vs %s" % (s, job["id"]))
    check(sorted(s["aliases"]) == sorted(aliases), "summary aliases %s" % s["aliases"])
    check(s["entity"] == ENTITY and s["project"] == project, "summary names %s" % s)
    check(s["url"] == "%s/%s/%s/artifacts/job/%s/v0" % (w.fake.url, ENTITY, project, s["name"]),
          "summary url %s" % s["url"])
    check(s["url"] in output, "the job's link is printed")
    check_no_token(w, work, summary_path)


def check_no_token(w, work, *paths):
    needle = TOKEN.encode()
    for out in w.outputs:
        check(TOKEN not in out, "token in a command's output")
    for blob in w.fake.blobs.values():
        data = blob if isinstance(blob, bytes) else str(blob).encode()
        check(needle not in data, "token in an uploaded file")
    roots = [os.path.join(work, "build")] + list(paths)
    for root in roots:
        walk = [(root, [], [""])] if os.path.isfile(root) else os.walk(root)
        for d, _, files in walk:
            for name in files:
                path = os.path.join(d, name) if name else d
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                with open(path, "rb") as f:
                    check(needle not in f.read(), "token in %s" % path)


# --- cases ------------------------------------------------------------------------------------

SHA_PIN = re.compile(r"^\s*(?:- )?uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40}) # v\d+(\.\d+)*$")


def case_github_static(w):
    """The workflow passes action-validator (which rejects a broken copy), pins every action by
    commit SHA with its version in a comment, and its expressions say: same-repo pull requests
    are left to their push, publishing runs are serialised per ref and never cancelled, runs
    that only bundle are."""
    path = template(w, "github-actions.yml")
    w.run(["action-validator", path])
    broken = os.path.join(w.root, "broken.yml")
    with open(path) as f:
        text = f.read()
    with open(broken, "w") as f:
        f.write(text.replace("timeout-minutes: 45", "timeout-minutes: soon"))
    p = w.run(["action-validator", broken], check_rc=False)
    check(p.returncode != 0, "action-validator accepted timeout-minutes: soon")
    uses = [line for line in text.splitlines() if "uses:" in line]
    check(len(uses) >= 4, "uses: lines %s" % uses)
    for line in uses:
        check(SHA_PIN.match(line), "not pinned by SHA with a version comment: %r" % line)
    wf = load_yaml(path)
    job = wf["jobs"]["wandb-job"]
    check(isinstance(job.get("timeout-minutes"), int), "job timeout-minutes")
    check("github.ref" in job["concurrency"]["group"], "concurrency group per ref")
    cases = [  # event, ref type, ref name, fork: job runs, cancel-in-progress
        (("push", "branch", "main", False), True, "false"),
        (("push", "tag", "v1.0", False), True, "false"),
        (("push", "branch", "feature", False), True, "true"),
        (("pull_request", "branch", "7/merge", False), False, None),
        (("pull_request", "branch", "7/merge", True), True, "true"),
    ]
    for args, runs, cancel in cases:
        r = GithubRun(w, w.root, github_context(*args), {}, {})
        check(r.job_runs() == runs, "job runs for %s: %s" % (args, not runs))
        if runs:
            check(r.cancel_in_progress() == cancel, "cancel-in-progress for %s" % (args,))
    upload = [s for s in job["steps"] if "upload-artifact" in s.get("uses", "")][0]
    check("always()" in upload["if"], "the summary is uploaded on failure too")
    check(upload["with"].get("retention-days"), "the summary artifact expires")
    cached = " ".join(s["with"]["path"] for s in job["steps"] if "actions/cache" in
                      s.get("uses", ""))
    for what in ("wandb-job-apt", "ccache", "wandb-job-prefix"):
        check(what in cached, "%s is cached" % what)


def github_case(w, name, origin, args, project, expect_publish, aliases=None, upstream=None,
                prefix=None):
    work, sha = checkout(w, name, origin, upstream)
    github = github_context(*args)
    github["sha"] = sha
    env = github_env(w, work, sha, args[1], args[2], event=args[0])
    env.update({k: v for k, v in wandb_env(w, project).items()
                if k not in ("WANDB_API_KEY", "WANDB_ENTITY", "WANDB_PROJECT")})
    r = GithubRun(w, work, github, {"WANDB_API_KEY": KEY},
                  {"WANDB_ENTITY": ENTITY, "WANDB_PROJECT": project})
    if prefix:
        # A restored cache of the installed helper (the step builds it on a miss).
        r.workflow["env"]["WANDB_JOB_REF"] = "v-test"
        r.workflow["env"]["WANDB_JOB_GIT"] = "file:///nonexistent"
        shutil.copytree(prefix, os.path.join(w.env["HOME"], ".cache", "wandb-job-prefix",
                                             "v-test"), symlinks=True)
    ok = r.run(env)
    check(ok, getattr(r, "failure", "failed"))
    for step in ("Install dependencies", "Configure", "Bundle"):
        check(step in r.ran, "step %s ran: %s" % (step, r.ran))
    check(("Install wandb-job" in r.ran) == bool(prefix), "Install wandb-job ran: %s" % r.ran)
    with open(os.path.join(w.root, "apt-get.log")) as f:
        check("install" in f.read(), "the install step called apt-get install")
    check(("Publish" in r.ran) == expect_publish, "Publish ran: %s" % r.ran)
    uploaded = [s for s in r.uses if "upload-artifact" in s["uses"]]
    check(bool(uploaded) == expect_publish, "summary upload: %s" % uploaded)
    if expect_publish:
        summary = os.path.join(work, "build", "wandb-job-summary.json")
        check_published(w, work, project, sha, "https://github.com/o/r.git", aliases, summary,
                        output=r.outputs)
        check(os.path.exists(os.path.join(work, "build", "wandb-job-publish.log")),
              "publish log")
        check("on no remote-tracking branch" not in r.outputs, "no unpushed warning")
        # The summary path in the cache is relative: it follows the build directory.
        with open(os.path.join(work, "build", "CMakeCache.txt")) as f:
            check("--summary;wandb-job-summary.json\n" in f.read(), "relative --summary")
    else:
        check(published_jobs(w, project) == [], "nothing published")
    return work, r


def case_github_push(w):
    """Default branch: shallow, detached, origin with a token; latest, main, short commit."""
    github_case(w, "gh-push", "https://x-access-token:%s@github.com/o/r.git" % TOKEN,
                ("push", "branch", "main"), "gh-push", True,
                aliases=lambda sha: ["latest", "main", sha[:7]])


def case_github_tag_no_origin(w):
    """A tag, no origin at all: the remote comes from GITHUB_SERVER_URL + GITHUB_REPOSITORY;
    "latest" is the bundle's own alias (W&B keeps it on the newest version)."""
    github_case(w, "gh-tag", None, ("push", "tag", "v1.0"), "gh-tag", True,
                aliases=lambda sha: ["latest", "v1.0", sha[:7]])


def case_github_pull_request(w):
    """A pull request from a fork bundles and publishes nothing; --ci-aliases refuses it."""
    work, _ = github_case(w, "gh-pr", "https://github.com/o/r.git",
                          ("pull_request", "branch", "7/merge", True), "gh-pr", False)
    bundle = os.path.join(work, "build", "wandb-jobs", "train", "bundle", "bundle.json")
    with open(bundle) as f:
        check(json.load(f)["git"]["remote"] == "https://github.com/o/r.git", "bundle remote")
    sha = w.git(work, "rev-parse", "HEAD")
    env = github_env(w, work, sha, "branch", "7/merge", event="pull_request")
    env.update(wandb_env(w, "gh-pr"))
    p = w.run(["cmake", "--build", "build", "--target", "job-publish"], cwd=work, extra_env=env,
              check_rc=False)
    check(p.returncode != 0 and "pull request build is not published" in p.stdout + p.stderr,
          "publishing a pull request fails: %s" % p.stdout)
    check(published_jobs(w, "gh-pr") == [], "still nothing published")


def case_github_installed(w):
    """The installed-package path: WANDB_JOB_REF set, the helper's prefix restored from the
    cache, the project uses find_package(WandbJob)."""
    prefix = os.path.join(w.root, "prefix")
    w.run(["cmake", "--install", os.path.dirname(os.path.dirname(w.tool)), "--prefix", prefix])
    upstream = os.path.join(w.root, "upstream-pkg")
    setup_upstream(w, upstream, package=True)
    github_case(w, "gh-pkg", "https://github.com/o/r.git", ("push", "branch", "main"),
                "gh-pkg", True, aliases=lambda sha: ["latest", "main", sha[:7]],
                upstream=upstream, prefix=prefix)


def gitlab_case(w, name, origin, variables, expected_jobs, unset=(), upstream=None):
    work, sha = checkout(w, name, origin, upstream)
    variables = dict(variables)
    variables.update({"GITLAB_CI": "true", "CI_PROJECT_URL": "https://gitlab.example.com/g/p",
                      "CI_DEFAULT_BRANCH": "main", "CI_COMMIT_SHA": sha,
                      "CI_COMMIT_SHORT_SHA": sha[:8], "CI_JOB_TOKEN": TOKEN})
    variables.update(wandb_env(w, name))
    jobs = gitlab_jobs(w, work, variables, unset)
    check(jobs == expected_jobs, "jobs of the pipeline: %s, expected %s" % (jobs, expected_jobs))
    p, log = gitlab_ci_local(w, work, None, variables, unset)
    check(p.returncode == 0, "gitlab-ci-local failed (%d):\n%s" % (p.returncode, log[-6000:]))
    for job in expected_jobs:
        # gitlab-ci-local pads job names to the longest one.
        check(re.search(r"^%s +starting shell" % re.escape(job), log, re.M),
              "%s ran:\n%s" % (job, log[-3000:]))
    return work, sha, log


def case_gitlab_static(w):
    """The publish job is serialised per ref (resource_group), never interrupted, keeps its
    summary and log as artifacts even on failure for a while; the bundle job is interruptible;
    both time out and cache apt, ccache and the installed helper."""
    ci = load_yaml(template(w, "gitlab-ci.yml"))
    base, bundle, publish = ci[".wandb-job"], ci["wandb-job-bundle"], ci["wandb-job-publish"]
    check("$CI_COMMIT_REF_SLUG" in publish["resource_group"], "resource_group per ref")
    check(publish["interruptible"] is False and bundle["interruptible"] is True,
          "interruptible")
    check(publish["artifacts"]["when"] == "always" and publish["artifacts"]["expire_in"],
          "artifacts when: always, expire_in")
    check(base["timeout"], "timeout")
    cached = " ".join(p for c in base["cache"] for p in c["paths"])
    for what in ("wandb-job-apt", "ccache", "wandb-job-prefix"):
        check(what in cached, "%s is cached" % what)


def case_gitlab_push(w):
    """Default branch, run by gitlab-ci-local: GitLab's token URL as origin, shallow, detached."""
    origin = "https://gitlab-ci-token:%s@gitlab.example.com/g/p.git" % TOKEN
    work, sha, log = gitlab_case(w, "gl-push", origin, {"CI_COMMIT_BRANCH": "main",
                                                         "CI_PIPELINE_SOURCE": "push"},
                                 ["wandb-job-publish"])
    check("on no remote-tracking branch" not in log, "no unpushed warning")
    check_published(w, work, "gl-push", sha, "https://gitlab.example.com/g/p.git",
                    lambda sha: ["latest", "main", sha[:8]],
                    os.path.join(work, "build", "wandb-job-summary.json"), output=log)
    artifacts = os.path.join(work, ".gitlab-ci-local", "artifacts", "wandb-job-publish",
                             "build")
    for f in ("wandb-job-summary.json", "wandb-job-publish.log"):
        check(os.path.exists(os.path.join(artifacts, f)), "artifact %s" % f)
    with open(os.path.join(w.root, "apt-get.log")) as f:
        check("install" in f.read(), "before_script called apt-get install")


def case_gitlab_no_origin_tag(w):
    """A tag, no origin: the remote comes from CI_PROJECT_URL."""
    work, sha, log = gitlab_case(w, "gl-tag", None, {"CI_COMMIT_TAG": "v1.0",
                                                      "CI_PIPELINE_SOURCE": "push"},
                                 ["wandb-job-publish"], unset=["CI_COMMIT_BRANCH"])
    check_published(w, work, "gl-tag", sha, "https://gitlab.example.com/g/p.git",
                    lambda sha: ["latest", "v1.0", sha[:8]],
                    os.path.join(work, "build", "wandb-job-summary.json"), output=log)


def case_gitlab_merge_request(w):
    """A merge request pipeline bundles only."""
    origin = "https://gitlab-ci-token:%s@gitlab.example.com/g/p.git" % TOKEN
    variables = {"CI_MERGE_REQUEST_IID": "3", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature",
                 "CI_PIPELINE_SOURCE": "merge_request_event"}
    # Merge request pipelines have no CI_COMMIT_BRANCH.
    work, _, _ = gitlab_case(w, "gl-mr", origin, variables, ["wandb-job-bundle"],
                             unset=["CI_COMMIT_BRANCH"])
    check(os.path.exists(os.path.join(work, "build", "wandb-jobs", "train", "bundle",
                                      "bundle.json")), "bundled")
    check(published_jobs(w, "gl-mr") == [], "nothing published")
    check_no_token(w, work)


def case_gitlab_publish_fails(w):
    """A failing publish (wrong key) fails the job and still keeps the log as an artifact."""
    origin = "https://gitlab.example.com/g/p.git"
    work, sha = checkout(w, "gl-fail", origin)
    variables = {"GITLAB_CI": "true", "CI_PROJECT_URL": "https://gitlab.example.com/g/p",
                 "CI_DEFAULT_BRANCH": "main", "CI_COMMIT_BRANCH": "main",
                 "CI_PIPELINE_SOURCE": "push"}
    variables.update(wandb_env(w, "gl-fail"))
    variables["WANDB_API_KEY"] = "wrong" + KEY[5:]
    p, log = gitlab_ci_local(w, work, "wandb-job-publish", variables)
    check(p.returncode != 0, "the job failed")
    log_artifact = os.path.join(work, ".gitlab-ci-local", "artifacts", "wandb-job-publish",
                                "build", "wandb-job-publish.log")
    check(os.path.exists(log_artifact), "the publish log is kept on failure")
    check(published_jobs(w, "gl-fail") == [], "nothing published")


CASES = [case_github_static, case_github_push, case_github_tag_no_origin,
         case_github_pull_request, case_github_installed, case_gitlab_static, case_gitlab_push,
         case_gitlab_no_origin_tag, case_gitlab_merge_request, case_gitlab_publish_fails]

def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    tool, source_dir = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    only = argv[3:] or [c for c in os.environ.get("WANDB_JOB_E2E_CASES", "").split(",") if c]
    # gitlab-ci-local and action-validator come from npm (scripts/install-deps.sh).
    for prog in ("cmake", "git", "ninja", "bash", "ccache", "rsync", "gitlab-ci-local",
                 "action-validator"):
        if shutil.which(prog) is None:
            print("skipped: %s not found (scripts/install-deps.sh installs it)" % prog)
            return SKIP
    if yaml is None:
        print("skipped: PyYAML is not importable (Debian: python3-yaml)")
        return SKIP
    sys.path.insert(0, os.path.join(source_dir, "tests", "fake_wandb"))
    import fake_wandb
    if fake_wandb.graphql is None:
        print("skipped: graphql-core is not importable (Debian: python3-graphql-core)")
        return SKIP
    w = World(tool, source_dir)
    write_stubs(w)
    w.fake = fake_wandb.FakeWandb(KEY, entity="viewer-entity").start()
    failed = 0
    try:
        setup_upstream(w)
        for case in CASES:
            if only and case.__name__[5:] not in only:
                continue
            try:
                case(w)
                print("ok   %s" % case.__name__[5:], flush=True)
            except Exception:  # noqa: BLE001 - report every case
                failed += 1
                print("FAIL %s\n%s" % (case.__name__[5:], traceback.format_exc()), flush=True)
    finally:
        w.fake.stop()
        if os.environ.get("WANDB_JOB_E2E_KEEP") == "1":
            print("kept %s" % w.root)
        else:
            shutil.rmtree(w.root, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
