#!/usr/bin/env bash
# Makes the debian:12 base image the launch tests build on, without a registry: debootstrap
# --variant=minbase bookworm from this machine's own Debian mirror (read from apt's sources), kept
# as a tarball outside the repository, imported into podman as localhost/debian:12 and tagged
# docker.io/library/debian:12 (what `FROM debian:12` resolves to with short-name search).
#
#   base_image.sh                 prints the image's tag once podman has it
#   base_image.sh --print-mirror  prints the Debian mirror it would use
#
# The mirror is the first bookworm "deb" source of apt's configuration (${WANDB_JOB_TEST_APT_ETC:-
# /etc/apt}: sources.list.d/*.sources, then sources.list and sources.list.d/*.list), or
# $WANDB_JOB_TEST_DEBIAN_MIRROR.
# The tarball is keyed by mirror and day, in ${WANDB_JOB_TEST_CACHE:-${XDG_CACHE_HOME:-~/.cache}/
# wandb-job-tests}; a second run with the image already in podman's storage takes a second.
# Exits 125 when not root or when podman or debootstrap is missing (the tests then skip).
set -euo pipefail

apt_etc="${WANDB_JOB_TEST_APT_ETC:-/etc/apt}"
if [ "${1:-}" != "" ] && [ "$1" != "--print-mirror" ]; then
  echo "base_image.sh: unknown argument '$1'; use no argument or --print-mirror" >&2
  exit 2
fi

if [ "${1:-}" != "--print-mirror" ] && [ "$(id -u)" -ne 0 ]; then
  echo "base_image.sh: debootstrap needs root" >&2
  exit 125
fi

# The first bookworm "deb" source of apt's configuration, deb822 (*.sources) or one-line form.
mirror_from_apt() {
  local f
  for f in "$apt_etc"/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && suites ~ /(^| )bookworm( |$)/ && uri != "") {
          print uri; found = 1; exit
        }
        types = ""; suites = ""; uri = ""
      }
      /^[[:space:]]*$/ { flush(); next }
      /^Types:/ { sub(/^Types:[[:space:]]*/, ""); types = $0 }
      /^Suites:/ { sub(/^Suites:[[:space:]]*/, ""); suites = $0 }
      /^URIs:/ { sub(/^URIs:[[:space:]]*/, ""); split($0, u, " "); uri = u[1] }
      END { if (!found) flush() }' "$f"
  done
  for f in "$apt_etc"/sources.list "$apt_etc"/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [options] URI suite components...
    sed -E 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && $3 == "bookworm" { print $2 }'
  done
}

mirror="${WANDB_JOB_TEST_DEBIAN_MIRROR:-$(mirror_from_apt | head -n 1)}"
if [ -z "$mirror" ]; then
  echo "base_image.sh: no Debian bookworm source in $apt_etc/sources.list*;" \
       "set WANDB_JOB_TEST_DEBIAN_MIRROR to a Debian mirror URL" >&2
  exit 1
fi
if [ "${1:-}" = "--print-mirror" ]; then
  echo "$mirror"
  exit 0
fi
for tool in podman debootstrap; do
  if ! command -v "$tool" >/dev/null; then
    echo "base_image.sh: $tool not found (scripts/install-deps.sh installs it)" >&2
    exit 125
  fi
done

cache="${WANDB_JOB_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wandb-job-tests}"
key="$(date -u +%Y%m%d)-$(printf '%s' "$mirror" | md5sum | cut -c1-12)"
tarball="$cache/debian-12-$key.tar"
label="org.wandb-job.tests.base-key"

have="$(podman image inspect --format "{{index .Labels \"$label\"}}" localhost/debian:12 \
  2>/dev/null || true)"
if [ "$have" != "$key" ]; then
  mkdir -p "$cache"
  # One debootstrap at a time per cache; a waiting run then finds the tarball made.
  exec 9>"$cache/lock"
  flock 9
  if [ ! -f "$tarball" ]; then
    work="$(mktemp -d "$cache/debootstrap.XXXXXX")"
    trap 'rm -rf "$work"' EXIT
    echo "base_image.sh: debootstrap bookworm from $mirror" >&2
    if ! debootstrap --variant=minbase bookworm "$work/root" "$mirror" >"$work/log" 2>&1; then
      tail -n 20 "$work/log" >&2
      echo "base_image.sh: debootstrap from $mirror failed (its log above); check the mirror" \
           "or set WANDB_JOB_TEST_DEBIAN_MIRROR" >&2
      exit 1
    fi
    # apt in the image fetches from the same mirror, over http like the host does.
    rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
    tar --numeric-owner -C "$work/root" -cf "$work/image.tar" .
    mv "$work/image.tar" "$tarball"
    # Older days' tarballs of this cache are dead weight.
    find "$cache" -maxdepth 1 -name 'debian-12-*.tar' ! -name "debian-12-$key.tar" -delete
  fi
  podman import --quiet --change "LABEL $label=$key" --change 'CMD ["bash"]' \
    "$tarball" localhost/debian:12 >/dev/null
fi
podman tag localhost/debian:12 docker.io/library/debian:12
echo localhost/debian:12
