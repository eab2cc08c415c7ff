"""End to end: the CI templates (templates/ci) run in a simulated CI against the fake W&B server.

    python3 test_ci_templates.py <wandb-job tool> <wandb-job source dir> <case>

The build and publish commands are extracted from the templates themselves with a line-based
reader (GitHub: the `run:` of named steps; GitLab: the `script:` of a job), so the test runs
exactly what a user copies; the install step and the CI's own `if:`/`rules:` are not run. Each
case clones a small project shallowly (depth 1), detaches HEAD, gives the clone a token-bearing
origin or none, sets the CI's variables, runs the commands, and checks the published job's remote,
commit and aliases, the summary, and that the token appears nowhere (outputs, summary, build
directory, everything uploaded). Exits 125 (skip) when cmake, git, ninja or graphql-core is
missing.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

SKIP = 125
KEY = "ciKey" + "0123456789abcdefghij" * 2 + "XYZW"
TOKEN = "glcbt-SECRETtoken0123456789"
ENTITY = "ci-team"


class Failure(AssertionError):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


# --- a tiny line-based reader of the two templates ------------------------------------------

def _indent(line):
    return len(line) - len(line.lstrip(" "))


def _block(lines, i, parent_indent):
    """The lines of a block scalar ("|" or ">-") after line i, dedented."""
    body = []
    while i + 1 < len(lines) and (not lines[i + 1].strip() or
                                  _indent(lines[i + 1]) > parent_indent):
        i += 1
        body.append(lines[i])
    width = min((_indent(b) for b in body if b.strip()), default=0)
    return [b[width:] for b in body], i


def github_steps(path):
    """{step name: shell script} of the steps with a `run:`."""
    lines = open(path).read().splitlines()
    steps, name = {}, None
    for i, line in enumerate(lines):
        s = line.strip()
        if s.startswith("- "):
            name = None
        if s.startswith("- name:") or s.startswith("name:") and name is None:
            name = s.split(":", 1)[1].strip()
        if s.startswith("run:") and name:
            value = s[4:].strip()
            if value in ("|", "|-"):
                body, _ = _block(lines, i, _indent(line))
                steps[name] = "\n".join(body) + "\n"
            else:
                steps[name] = value + "\n"
    return steps


def gitlab_script(path, job):
    """The `script:` of a top-level job, one command per list item (">-" items folded)."""
    lines = open(path).read().splitlines()
    start = lines.index(job + ":")
    i = start + 1
    while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
        if lines[i].strip() == "script:":
            indent = _indent(lines[i])
            cmds = []
            while i + 1 < len(lines) and (not lines[i + 1].strip() or
                                          _indent(lines[i + 1]) > indent):
                i += 1
                item = lines[i].strip()
                if not item.startswith("- "):
                    continue
                item = item[2:]
                if item == ">-":
                    body, i = _block(lines, i, _indent(lines[i]))
                    item = " ".join(b.strip() for b in body if b.strip())
                cmds.append(item)
            return "".join(c + "\n" for c in cmds)
        i += 1
    raise Failure("no script: in job %s of %s" % (job, path))


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


def setup_upstream(w):
    src = w.upstream
    os.makedirs(src)
    files = {
        "CMakeLists.txt":
            "cmake_minimum_required(VERSION 3.25)\n"
            "project(citest LANGUAGES CXX)\n"
            "set(WANDB_JOB_TOOL \"%s\" CACHE FILEPATH \"\")\n"
            "include(\"%s/cmake/WandbJob.cmake\")\n"
            "add_executable(train train.cpp)\n"
            "wandb_add_job(train DOCKERFILE Dockerfile BASE_IMAGE debian:12 CONFIG lr=0.01 "
            "ARGS --lr {lr})\n"
            % (w.tool, w.source_dir),
        "train.cpp": "int main() { return 0; }\n",
        # A repo job needs a Dockerfile in the commit (README "Sources of a job").
        "Dockerfile": "FROM debian:12\n",
    }
    for rel, text in files.items():
        with open(os.path.join(src, rel), "w") as f:
            f.write(text)
    w.git(src, "init", "-q", "-b", "main")
    w.git(src, "add", "-A")
    w.git(src, "commit", "-q", "-m", "one")
    with open(os.path.join(src, "train.cpp"), "a") as f:
        f.write("// two\n")
    w.git(src, "commit", "-q", "-am", "two")
    w.git(src, "tag", "v1.0")


def checkout(w, name, origin):
    """A CI checkout: shallow, detached; origin is a URL, or None for no remote."""
    work = os.path.join(w.root, name)
    w.git(w.root, "clone", "-q", "--depth", "1", "file://" + w.upstream, work)
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


def gitlab_env(w, work, sha, branch=None, tag=None):
    env = {"GITLAB_CI": "true", "CI": "true",
           "CI_PROJECT_URL": "https://gitlab.example.com/g/p", "CI_PROJECT_DIR": work,
           "CI_COMMIT_SHA": sha, "CI_COMMIT_SHORT_SHA": sha[:8], "CI_DEFAULT_BRANCH": "main",
           "CI_PIPELINE_SOURCE": "push", "CI_JOB_TOKEN": TOKEN}
    if branch:
        env["CI_COMMIT_BRANCH"] = branch
    if tag:
        env["CI_COMMIT_TAG"] = tag
    return env


def wandb_env(w, project):
    return {"WANDB_BASE_URL": w.fake.url + "/", "WANDB_API_KEY": KEY, "WANDB_ENTITY": ENTITY,
            "WANDB_PROJECT": project}


def template(w, name):
    return os.path.join(w.source_dir, "templates", "ci", name)


def run_script(w, work, script, env):
    return w.run("set -euo pipefail\n" + script, cwd=work, extra_env=env, shell=True)


def published_jobs(w, project):
    return [a for a in w.fake.artifacts.values()
            if a["project"] == project and a["state"] == "COMMITTED" and a["type"] == "job"]


def check_published(w, work, project, sha, remote, aliases, summary_path):
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
    check(s["url"] in w.outputs[-1], "the job's link is printed")
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

def case_github_push(w):
    """Default branch: shallow, detached, origin with a token; latest, main, short commit."""
    work, sha = checkout(w, "gh-push", "https://x-access-token:%s@github.com/o/r.git" % TOKEN)
    steps = github_steps(template(w, "github-actions.yml"))
    check(set(steps) >= {"Install dependencies", "Configure", "Bundle", "Publish"},
          "steps: %s" % sorted(steps))
    env = github_env(w, work, sha, "branch", "main")
    env.update(wandb_env(w, "gh-push"))
    for step in ("Configure", "Bundle", "Publish"):
        p = run_script(w, work, steps[step], env)
    check("on no remote-tracking branch" not in "".join(w.outputs[-3:]),
          "no unpushed warning: %s" % p.stderr)
    check_published(w, work, "gh-push", sha, "https://github.com/o/r.git",
                    ["latest", "main", sha[:7]], os.path.join(work, "build",
                                                              "wandb-job-summary.json"))


def case_github_tag_no_origin(w):
    """A tag, no origin at all: the remote comes from GITHUB_SERVER_URL + GITHUB_REPOSITORY."""
    work, sha = checkout(w, "gh-tag", None)
    steps = github_steps(template(w, "github-actions.yml"))
    env = github_env(w, work, sha, "tag", "v1.0")
    env.update(wandb_env(w, "gh-tag"))
    for step in ("Configure", "Bundle", "Publish"):
        run_script(w, work, steps[step], env)
    # "latest" is the bundle's own alias (W&B keeps it on the newest version).
    check_published(w, work, "gh-tag", sha, "https://github.com/o/r.git",
                    ["latest", "v1.0", sha[:7]], os.path.join(work, "build",
                                                              "wandb-job-summary.json"))


def case_github_pull_request(w):
    """A pull request bundles and publishes nothing."""
    work, sha = checkout(w, "gh-pr", "https://github.com/o/r.git")
    steps = github_steps(template(w, "github-actions.yml"))
    env = github_env(w, work, sha, "branch", "7/merge", event="pull_request")
    env.update(wandb_env(w, "gh-pr"))
    for step in ("Configure", "Bundle"):
        run_script(w, work, steps[step], env)
    bundle = os.path.join(work, "build", "wandb-jobs", "train", "bundle", "bundle.json")
    with open(bundle) as f:
        check(json.load(f)["git"]["remote"] == "https://github.com/o/r.git", "bundle remote")
    check(published_jobs(w, "gh-pr") == [], "nothing published")
    # --ci-aliases refuses to publish a pull request.
    p = w.run(["cmake", "--build", "build", "--target", "job-publish"], cwd=work, extra_env=env,
              check_rc=False)
    check(p.returncode != 0 and "pull request build is not published" in p.stdout + p.stderr,
          "publishing a pull request fails: %s" % p.stdout)
    check(published_jobs(w, "gh-pr") == [], "still nothing published")


def case_gitlab_push(w):
    """Default branch: GitLab's token URL as origin, shallow, detached."""
    origin = "https://gitlab-ci-token:%s@gitlab.example.com/g/p.git" % TOKEN
    work, sha = checkout(w, "gl-push", origin)
    script = gitlab_script(template(w, "gitlab-ci.yml"), "wandb-job-publish")
    check("job-publish" in script, "publish script: %s" % script)
    env = gitlab_env(w, work, sha, branch="main")
    env.update(wandb_env(w, "gl-push"))
    run_script(w, work, script, env)
    check("on no remote-tracking branch" not in w.outputs[-1], "no unpushed warning")
    check_published(w, work, "gl-push", sha, "https://gitlab.example.com/g/p.git",
                    ["latest", "main", sha[:8]], os.path.join(work, "wandb-job-summary.json"))


def case_gitlab_no_origin_tag(w):
    """A tag, no origin: the remote comes from CI_PROJECT_URL."""
    work, sha = checkout(w, "gl-tag", None)
    script = gitlab_script(template(w, "gitlab-ci.yml"), "wandb-job-publish")
    env = gitlab_env(w, work, sha, tag="v1.0")
    env.update(wandb_env(w, "gl-tag"))
    run_script(w, work, script, env)
    check_published(w, work, "gl-tag", sha, "https://gitlab.example.com/g/p.git",
                    ["latest", "v1.0", sha[:8]], os.path.join(work, "wandb-job-summary.json"))


def case_gitlab_merge_request(w):
    work, sha = checkout(w, "gl-mr", "https://gitlab-ci-token:%s@gitlab.example.com/g/p.git"
                         % TOKEN)
    script = gitlab_script(template(w, "gitlab-ci.yml"), "wandb-job-bundle")
    check("job-publish" not in script, "the merge request job does not publish")
    env = gitlab_env(w, work, sha)
    env.update({"CI_MERGE_REQUEST_IID": "3", "CI_PIPELINE_SOURCE": "merge_request_event"})
    env.update(wandb_env(w, "gl-mr"))
    run_script(w, work, script, env)
    check(published_jobs(w, "gl-mr") == [], "nothing published")
    check_no_token(w, work)


CASES = [case_github_push, case_github_tag_no_origin, case_github_pull_request,
         case_gitlab_push, case_gitlab_no_origin_tag, case_gitlab_merge_request]


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    tool, source_dir = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    only = argv[3:] or [c for c in os.environ.get("WANDB_JOB_E2E_CASES", "").split(",") if c]
    for prog in ("cmake", "git", "ninja", "bash"):
        if shutil.which(prog) is None:
            print("skipped: %s not found" % prog)
            return SKIP
    sys.path.insert(0, os.path.join(source_dir, "tests", "fake_wandb"))
    import fake_wandb
    if fake_wandb.graphql is None:
        print("skipped: graphql-core is not importable (Debian: python3-graphql-core)")
        return SKIP
    w = World(tool, source_dir)
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
