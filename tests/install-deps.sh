#!/usr/bin/env bash
# System packages and data the test suite needs, on Debian 12, as root.
# Safe to run again: it only fetches what is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

corpus=${PYBUILD_TEST_CORPUS:-/var/cache/pybuild-tests/corpus}

apt-get update -qq

# ShellCheck: pybuild lint runs it on RUN scripts, as hadolint does.
command -v shellcheck >/dev/null || apt-get install -y -qq --no-install-recommends shellcheck >/dev/null

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
