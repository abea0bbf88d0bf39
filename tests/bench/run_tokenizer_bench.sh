#!/usr/bin/env bash
# The tokenizer benchmark: libfm on every vocabulary, then the npm packages
# tiktoken and gpt-tokenizer on the same files, in one run, same machine.
# The npm packages are installed under BUILD_DIR/npm (network needed once).
# usage: run_tokenizer_bench.sh BUILD_DIR TEST_DATA [REPS]
set -euo pipefail
build=$(cd "$1" && pwd) data=$(cd "$2" && pwd) reps=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
# libfm calls OpenBLAS single-threaded from its own threads; OpenBLAS's
# threaded build would otherwise start workers at load that spin on
# sched_yield for ~0.1 s beside the run (up to a third off a short one).
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; single thread"
FM_TEST_DATA="$data" "$build/tests/bench_tokenizer" -r "$reps"
mkdir -p "$build/npm"
if [ ! -d "$build/npm/node_modules/tiktoken" ] || [ ! -d "$build/npm/node_modules/gpt-tokenizer" ]; then
  [ -f "$build/npm/package.json" ] || echo '{"private":true}' > "$build/npm/package.json"
  npm install --no-audit --no-fund --prefix "$build/npm" tiktoken@1.0.22 gpt-tokenizer@4.0.0 >/dev/null
fi
node "$here/bench_npm_tokenizers.mjs" "$build/npm" "$data/corpus" "$reps"
