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

# Paired rounds, for figures that one run on a shared machine cannot give
# (its speed drifts by 40 % within minutes): ROUNDS rounds of libfm on the
# whole corpus (every vocabulary, medians of 3) then npm tiktoken
# cl100k_base on the natural files. Each round gives each vocabulary its
# ratio to npm (natural text) and its slowest adversarial file's speed over
# its natural-text speed (measured seconds apart, so in the same state);
# the medians over the rounds are reported.
rounds=${ROUNDS:-5}
[ "$rounds" -gt 0 ] || exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in $(seq "$rounds"); do
  FM_TEST_DATA="$data" "$build/tests/bench_tokenizer" -r 3 | awk -v r="$r" 'NR > 1 {print r, $1, $3, $5}' >> "$tmp/fm"
  node "$here/bench_npm_tokenizers.mjs" "$build/npm" "$data/corpus" 3 text | awk -v r="$r" '{print r, $(NF-1)}' >> "$tmp/npm"
done
echo "$rounds paired rounds (medians; min-max): natural-text MB/s, x npm tiktoken cl100k_base, slowest adv-* / natural"
awk 'NR == FNR {npm[$1] = $2; next}
     {v = $2; k = ++n[v]; mb[v, k] = $3; x[v, k] = $3 / npm[$1]; adv[v, k] = $4 / $3
      if (!(v in seen)) {seen[v] = 1; order[++nv] = v}}
     function med(a, v, k,   i, j, t, b) {for (i = 1; i <= k; i++) b[i] = a[v, i];
       for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (b[j] < b[i]) {t = b[i]; b[i] = b[j]; b[j] = t}
       lo = b[1]; hi = b[k]; return b[int((k + 1) / 2)]}
     END {for (i = 1; i <= nv; i++) {v = order[i]; m = med(mb, v, n[v]); q = med(x, v, n[v]); ql = lo; qh = hi
            a = med(adv, v, n[v]);
            printf "%-32s %7.2f MB/s %6.1fx (%.1f-%.1f) adv/natural %.2f (%.2f-%.2f)\n", v, m, q, ql, qh, a, lo, hi}}' \
  "$tmp/npm" "$tmp/fm"
awk '{print $2}' "$tmp/npm" | sort -n | awk '{a[NR] = $1} END {printf "npm tiktoken cl100k_base, natural text: median %.2f MB/s over %d rounds\n", a[int((NR + 1) / 2)], NR}'
