#!/usr/bin/env bash
# Builds subproject/ with libfm linked in as subprojects/libfm, checks that
# none of libfm's programs or tests were configured, runs the demo.
#   run.sh MODEL FM_GENERATE
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd) root=$(cd "$(dirname "$0")/../../.." && pwd)
model=$1 fm_generate=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/consumer/subprojects"
cp "$here/meson.build" "$work/consumer/"
cp "$here/../demo.c" "$work/"  # the consumer's meson.build reads ../demo.c
ln -s "$root" "$work/consumer/subprojects/libfm"
meson setup "$work/build" "$work/consumer" > "$work/setup.log"
if meson introspect --targets "$work/build" | python3 -c '
import json, sys
names = [t["name"] for t in json.load(sys.stdin)]
bad = [n for n in names if n.startswith(("fm-", "test_", "bench_", "fuzz_"))]
bad and print(" ".join(bad)); sys.exit(1 if bad else 0)'; then :; else
  echo "subproject consumer: libfm's programs or tests were configured" >&2; exit 1
fi
meson test -C "$work/build" --list 2>/dev/null | grep -q . && { echo "subproject consumer: libfm's tests are registered" >&2; exit 1; }
meson compile -C "$work/build" > "$work/compile.log"
got=$("$work/build/demo" "$model" "Once upon a time" 16)
want=$("$fm_generate" -m "$model" -p "Once upon a time" -n 16 --temp 0 2>/dev/null)
[ "$got" = "$want" ] || { printf 'subproject consumer: got\n%s\nwant\n%s\n' "$got" "$want" >&2; exit 1; }
echo "subproject consumer: built $(ls "$work/build/subprojects/libfm/lib" | grep -c '^libfm') libfm files, no programs or tests, output equals fm-generate's"
