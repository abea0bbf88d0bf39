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
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
FM_TEST_DATA="$data" "$build/tests/bench_tokenizer" -r "$reps" | tee "$tmp/table"
mkdir -p "$build/npm"
if [ ! -d "$build/npm/node_modules/tiktoken" ] || [ ! -d "$build/npm/node_modules/gpt-tokenizer" ]; then
  [ -f "$build/npm/package.json" ] || echo '{"private":true}' > "$build/npm/package.json"
  npm install --no-audit --no-fund --prefix "$build/npm" tiktoken@1.0.22 gpt-tokenizer@4.0.0 >/dev/null
fi
node "$here/bench_npm_tokenizers.mjs" "$build/npm" "$data/corpus" "$reps"

# Interleaved rounds, for figures that one run on a shared machine cannot
# give (its speed moves by 40 % from one second to the next): ROUNDS rounds
# in which each vocabulary's whole-corpus run (medians of 3) follows a run
# of npm tiktoken cl100k_base over the natural files. Reported per
# vocabulary: the median natural-text MB/s over the rounds, its ratio to
# the median of all the npm runs interleaved with them, and the median of
# its slowest adversarial file's speed over its natural-text speed (those
# two measured seconds apart, so in the same state).
rounds=${ROUNDS:-5}
[ "$rounds" -gt 0 ] || exit 0
vocabs=$(awk 'NR > 1 {print $1}' "$tmp/table")
for r in $(seq "$rounds"); do
  for v in $vocabs; do
    node "$here/bench_npm_tokenizers.mjs" "$build/npm" "$data/corpus" 1 text | awk '{print "npm", $(NF-1), 0}' >> "$tmp/rounds"
    FM_TEST_DATA="$data" "$build/tests/bench_tokenizer" -r 3 "$v" | awk 'NR > 1 {print $1, $3, $5}' >> "$tmp/rounds"
  done
done
echo "$rounds interleaved rounds: natural-text MB/s median (min-max); x npm tiktoken cl100k_base as the ratio of medians and as the median of the ratios to the npm run just before (min-max); slowest adv-* / natural median (min-max)"
awk '{v = $1; k = ++n[v]; mb[v, k] = $2; adv[v, k] = $3 / $2; if (v == "npm") last = $2; else px[v, k] = $2 / last
      if (v != "npm" && !(v in seen)) {seen[v] = 1; order[++nv] = v}}
     function med(a, v, k,   i, j, t, b) {for (i = 1; i <= k; i++) b[i] = a[v, i];
       for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (b[j] < b[i]) {t = b[i]; b[i] = b[j]; b[j] = t}
       lo = b[1]; hi = b[k]; return b[int((k + 1) / 2)]}
     END {npm = med(mb, "npm", n["npm"]); nlo = lo; nhi = hi
          for (i = 1; i <= nv; i++) {v = order[i]; m = med(mb, v, n[v]); ml = lo; mh = hi; p = med(px, v, n[v]); pl = lo; ph = hi
            a = med(adv, v, n[v]);
            printf "%-32s %7.2f MB/s (%.1f-%.1f) %6.1fx %6.1fx (%.1f-%.1f)  adv/natural %.2f (%.2f-%.2f)\n", v, m, ml, mh, m / npm, p, pl, ph, a, lo, hi}
          printf "npm tiktoken cl100k_base, natural text: median %.2f MB/s (%.2f-%.2f) over %d runs\n", npm, nlo, nhi, n["npm"]}' \
  "$tmp/rounds"
