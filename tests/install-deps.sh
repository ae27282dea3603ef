#!/usr/bin/env bash
# System packages and data the test suite needs, on Debian 12, as root,
# and the venv the tests run in: .venv at the top of the clone, made with
# the `python3` first on PATH (Debian's own, which is externally managed
# (PEP 668), or a pyenv one). The README's test command activates it:
#
#   bash tests/install-deps.sh && . .venv/bin/activate && python3 -m pip install -e '.[test]' && python3 -m pytest
#
# Safe to run again: it only fetches and makes what is missing.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive

corpus=${PYBUILD_TEST_CORPUS:-/var/cache/pybuild-tests/corpus}

# arm64 packages are fetched (never installed) for the arm64 busybox base image
# (fixtures/base-images/busybox-arm64.sh): dpkg must know the architecture
# before apt-get update reads its package lists.
dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
apt-get update -qq

# The real components the tests use:
#   ShellCheck       pybuild lint runs it on RUN scripts, as hadolint does
#   runc, crun       the OCI runtimes that run RUN steps (crun with --runtime crun)
#   slirp4netns      the user-mode network stack of RUN steps' own network (the default)
#   docker-registry  the CNCF distribution server, started on 127.0.0.1 by the tests
#   apache2-utils    htpasswd, for the registry with basic auth
#   skopeo, umoci    third-party readers of what pybuild writes
#   busybox-static   a few-MB base image (fixtures/base-images/busybox.sh)
#   debootstrap      the Debian base image of the sshd example
#   zstd             zstd-compressed layers in the tests
#   git              ADD of git sources (the tests serve a repository with git daemon)
#   openssh-client   ssh-agent and ssh-add, for RUN --mount=type=ssh
#   openssl          certificates and signed tokens for the registry auth tests
#   docker.io        dockerd and /usr/bin/docker: `build --load` into a private engine
#   uidmap           newuidmap/newgidmap: the user namespace of rootless builds (tests/rootless)
#   fuse-overlayfs   the overlay of rootless builds where the kernel refuses overlayfs
#   adduser          the unprivileged users the rootless tests make
#   python3-venv     when a python3 lacks ensurepip: the one first on PATH, or Debian's
#                    /usr/bin/python3 (the rootless tests' venv, which that user can read)
#   qemu-user-static, binfmt-support
#                    RUN steps of foreign architectures (multi-platform builds), below
packages="shellcheck runc crun slirp4netns docker-registry apache2-utils skopeo umoci busybox-static debootstrap zstd git openssh-client openssl docker.io uidmap fuse-overlayfs adduser qemu-user-static binfmt-support"
python3 -c 'import ensurepip' 2>/dev/null || packages="$packages python3-venv"
if [ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c 'import ensurepip' 2>/dev/null; then
  packages="$packages python3-venv"
fi
missing=""
for pkg in $packages; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  # shellcheck disable=SC2086  # a list of package names
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# Debian starts the registry's own service on port 5000; the tests start
# private ones, so the system one is not needed.
if command -v systemctl >/dev/null && systemctl is-active -q docker-registry 2>/dev/null; then
  systemctl stop docker-registry || true
fi

# QEMU user emulation for foreign-architecture RUN steps: binfmt_misc must be
# mounted and the qemu-* handlers registered. Debian registers them from the
# packages' postinst through binfmt-support, which does nothing when
# binfmt_misc is not mounted yet (no systemd here to mount it): mount it, then
# (re)enable the handlers the tests use. Debian registers them with the F
# (fix-binary) flag, so they work inside containers.
binfmt=/proc/sys/fs/binfmt_misc
if [ ! -e "$binfmt/status" ]; then
  mount -t binfmt_misc binfmt_misc "$binfmt"
fi
for handler in qemu-aarch64 qemu-arm; do
  [ -e "$binfmt/$handler" ] || update-binfmts --enable "$handler"
done
for handler in qemu-aarch64 qemu-arm; do  # registered but switched off: switch it on
  grep -qx enabled "$binfmt/$handler" || echo 1 >"$binfmt/$handler"
done

# Debian's busybox-static for arm64, fetched once (not installed): the arm64
# base image of the multi-platform tests (fixtures/base-images/busybox-arm64.sh
# takes it from here, so the tests need no network).
debs=${PYBUILD_TEST_DEBS:-/var/cache/pybuild-tests/debs}
if ! ls "$debs"/busybox-static_*_arm64.deb >/dev/null 2>&1; then
  mkdir -p "$debs"
  tmp=$(mktemp -d)
  chown _apt "$tmp" 2>/dev/null || chmod 777 "$tmp"  # apt-get download writes as _apt
  (cd "$tmp" && apt-get download -qq busybox-static:arm64)
  mv "$tmp"/busybox-static_*_arm64.deb "$debs"/
  rm -rf "$tmp"
fi

# Real-world Dockerfiles for the differential parser test: the test data
# that Debian ships with Docker's and openshift/imagebuilder's Go sources.
# Unpacked, not installed, so no Go toolchain comes along.
if [ ! -d "$corpus/usr/share/gocode/src/github.com/openshift/imagebuilder" ] ||
   [ ! -d "$corpus/usr/share/gocode/src/github.com/docker/docker" ]; then
  tmp=$(mktemp -d)
  chown _apt "$tmp" 2>/dev/null || chmod 777 "$tmp"  # apt-get download writes as _apt
  (cd "$tmp" && apt-get download -qq golang-github-openshift-imagebuilder-dev golang-github-docker-docker-dev)
  mkdir -p "$corpus"
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$corpus"; done
  rm -rf "$tmp"
fi
echo "test corpus: $corpus"

# The venv of the tests (a new one when it is missing or its python is gone).
if ! "$repo/.venv/bin/python" -c '' 2>/dev/null; then
  python3 -m venv --clear "$repo/.venv"
fi
echo "venv: $repo/.venv ($("$repo/.venv/bin/python" --version))"
