#!/usr/bin/env bash
# Installs what building and testing wandb-job needs on Debian 12 (bookworm), from Debian's own
# packages, and the two CI-template runners from npm (pinned). Safe to run again. Runs apt-get and
# `npm install -g` through sudo when not root.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ make pkg-config git patch python3
  libgit2-dev nlohmann-json3-dev libcurl4-openssl-dev libssl-dev libarchive-dev libcli11-dev
  zlib1g-dev libdeflate-dev
  # tests: GoogleTest; a real OCI registry and the tools that check images (skopeo, umoci, runc);
  # buildah and hyperfine for the image benchmark; openssl signs the test registry's tokens
  libgtest-dev docker-registry apache2-utils skopeo umoci runc buildah hyperfine openssl
  # the fake W&B server validates GraphQL documents against W&B's schema
  python3-graphql-core
  # the CI template tests (tests/e2e/ci): the templates' ccache, gitlab-ci-local's rsync, YAML
  ccache rsync python3-yaml
  # scripts/fuzz-and-sanitize.sh: clang with libFuzzer and the sanitizer runtimes
  clang-14 libclang-rt-14-dev
  # launch conformance: W&B's SDK with Debian's python3, podman as its `docker`, debootstrap
  # for the debian:12 base image
  podman podman-docker debootstrap
  python3-requests python3-click python3-git python3-yaml python3-psutil python3-sentry-sdk
  python3-setproctitle python3-dockerpycreds python3-platformdirs python3-protobuf
  python3-typing-extensions python3-six
)

# npm packages, pinned: gitlab-ci-local runs the GitLab template's jobs (4.65.0: the last release
# that runs on Node 18/20), action-validator checks the GitHub workflow.
npm_packages=(gitlab-ci-local@4.65.0 @action-validator/cli@0.6.0)

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi

# npm comes with Debian's nodejs unless a Node.js is there already.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "installed: ${missing[*]}"
fi

installed_npm="$(npm ls -g --depth=0 2>/dev/null || true)"
missing_npm=()
for p in "${npm_packages[@]}"; do
  grep -qF -- "── $p" <<<"$installed_npm" || missing_npm+=("$p")
done
if [ ${#missing_npm[@]} -gt 0 ]; then
  $sudo npm install -g --no-fund --no-audit --loglevel=error "${missing_npm[@]}" >/dev/null
  echo "installed from npm: ${missing_npm[*]}"
fi
