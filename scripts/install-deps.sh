#!/usr/bin/env bash
# Installs the build and test dependencies on Debian/Ubuntu (uses sudo when
# not root). The one list of system packages libfm needs.
set -euo pipefail
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
  meson ninja-build pkg-config gcc libc6-dev binutils python3 zstd \
  libopenblas-dev libzstd-dev libutf8proc-dev
