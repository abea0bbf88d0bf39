#!/usr/bin/env bash
# A C project outside the tree built against a staged install
# (DESTDIR=STAGE meson install) with pkg-config, as the README's install
# section says, then run; its output must equal fm-generate's.
#   run.sh STAGE MODEL FM_GENERATE
set -euo pipefail
stage=$(cd "$1" && pwd) model=$2 fm_generate=$3
here=$(cd "$(dirname "$0")/.." && pwd)
pcdir=$(dirname "$(find "$stage" -name fm.pc | head -1)")
libdir=$(dirname "$(find "$stage" -name 'libfm.so' | head -1)")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$stage"
cc -std=c11 -Wall -Wextra -Werror "$here/demo.c" $(pkg-config --cflags --libs fm) -o "$out/demo"
got=$(LD_LIBRARY_PATH="$libdir" "$out/demo" "$model" "Once upon a time" 16)
want=$("$fm_generate" -m "$model" -p "Once upon a time" -n 16 --temp 0 2>/dev/null)
if [ "$got" != "$want" ]; then
  printf 'pkg-config consumer: got\n%s\nwant\n%s\n' "$got" "$want" >&2
  exit 1
fi
echo "pkg-config consumer: $(pkg-config --modversion fm), output equals fm-generate's"
