#!/usr/bin/env bash
# Installs the build and test dependencies on Debian/Ubuntu (uses sudo when
# not root). The one list of system packages libfm needs (clang and its
# runtime libraries only for the fuzzers).
set -euo pipefail
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
  meson ninja-build pkg-config gcc libc6-dev binutils python3 zstd \
  libopenblas-dev libopenblas-serial-dev libzstd-dev libutf8proc-dev libjansson-dev clang libclang-rt-dev \
  python3-jsonschema python3-venv python3-pip python3-setuptools python3-wheel abigail-tools
# Node runs the regex cross-check of the pre-tokenizers and the npm
# tokenizer benchmark; many images ship it already.
command -v node >/dev/null 2>&1 || $SUDO apt-get install -y -q --no-install-recommends nodejs
command -v npm >/dev/null 2>&1 || $SUDO apt-get install -y -q --no-install-recommends npm
# The Node binding's one dependency (koffi, pinned in package-lock.json),
# from the npm registry; its prebuilt binaries need no install scripts.
(cd "$(dirname "$0")/../bindings/node" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
