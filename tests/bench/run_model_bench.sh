#!/usr/bin/env bash
# Side-by-side speed runs: fm-bench, then llama.cpp's llama-bench when
# LLAMA_BENCH names one (built by you from llama.cpp's public source; this
# repository never builds or ships it), on the same files, thread counts and
# repetitions, one model at a time so both see the same machine state.
# usage: run_model_bench.sh BUILD_DIR REPS MODEL.gguf... (env: THREADS="1 2", PP=512, TG=128)
set -euo pipefail
build=$(cd "$1" && pwd) reps=$2
shift 2
threads=${THREADS:-2} pp=${PP:-512} tg=${TG:-128}
# libfm calls OpenBLAS single-threaded from its own threads; OpenBLAS's
# threaded build would otherwise start workers at load that spin on
# sched_yield for ~0.1 s beside the run (up to a third off a short one).
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
for t in $threads; do "$build/examples/fm-bench" --bandwidth -t "$t" -r 3; done
for m in "$@"; do
  for t in $threads; do
    echo "== $(basename "$m"), $t thread(s)"
    echo "\$ fm-bench -m $m -p $pp -n $tg -t $t -r $reps"
    "$build/examples/fm-bench" -m "$m" -p "$pp" -n "$tg" -t "$t" -r "$reps" | tail -n +4
    if [ -n "${LLAMA_BENCH:-}" ]; then
      echo "\$ llama-bench -m $m -p $pp -n $tg -t $t -r $reps"
      "$LLAMA_BENCH" -m "$m" -p "$pp" -n "$tg" -t "$t" -r "$reps" 2>/dev/null | grep -E '^\| llama'
    fi
  done
done
