#!/usr/bin/env bash
# Installs what building and testing wandb-job needs on Debian 12 (bookworm), from Debian's own
# packages. Safe to run again. Runs apt-get through sudo when not root.
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
  # scripts/fuzz-and-sanitize.sh: clang with libFuzzer and the sanitizer runtimes
  clang-14 libclang-rt-14-dev
  # launch conformance: W&B's SDK with Debian's python3, podman as its `docker`, debootstrap
  # for the debian:12 base image
  podman podman-docker debootstrap
  python3-requests python3-click python3-git python3-yaml python3-psutil python3-sentry-sdk
  python3-setproctitle python3-dockerpycreds python3-platformdirs python3-protobuf
  python3-typing-extensions python3-six
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
