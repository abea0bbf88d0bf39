#!/usr/bin/env python3
"""Paired speed runs for a noisy machine: two commands alternate, one
repetition each (each tool does its own warm-up run first), N pairs, and
the result is the median of the per-pair ratios, which survives the machine
changing speed between pairs where medians of separate runs do not.

  paired_model_bench.py BUILD_DIR MODEL THREADS PAIRS TEST...
      fm-bench against llama.cpp's llama-bench (path in $LLAMA_BENCH, built by
      you from its public source; this repository never builds or ships it)
  paired_model_bench.py --scaling BUILD_DIR MODEL PAIRS TEST...
      fm-bench on 1 thread against fm-bench on 2 threads

TEST is ppN or tgN (pp512, tg128, ...). Extra fm-bench options (e.g.
-ctk f16) go in $FM_BENCH_ARGS. OPENBLAS_NUM_THREADS is set to 1."""
import os
import re
import statistics
import subprocess
import sys

env = dict(os.environ, OPENBLAS_NUM_THREADS='1')


def test_args(test):
    kind, num = test[:2], test[2:]
    if kind not in ('pp', 'tg') or not num.isdigit():
        sys.exit('bad test %r (ppN or tgN)' % test)
    return ['-p', num, '-n', '0'] if kind == 'pp' else ['-p', '0', '-n', num]


def fm(build, model, threads, test):
    cmd = [os.path.join(build, 'examples', 'fm-bench'), '-m', model, '-t', str(threads), '-r', '1'] + test_args(test)
    out = subprocess.run(cmd + os.environ.get('FM_BENCH_ARGS', '').split(), capture_output=True, text=True,
                         env=env, check=True).stdout
    return float([l for l in out.splitlines() if l.startswith('| ')][-1].split('|')[5])


def llama(model, threads, test):
    cmd = [os.environ['LLAMA_BENCH'], '-m', model, '-t', str(threads), '-r', '1'] + test_args(test)
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    return float(re.search(r'\|\s+([0-9.]+) ± ', [l for l in out.splitlines() if l.startswith('| ')][-1]).group(1))


def report(name, a_name, a, b_name, b):
    ratios = [y / x for x, y in zip(a, b)]
    print('%s: %s %s median %.2f | %s %s median %.2f | %s/%s median %.2f (min %.2f max %.2f)' % (
        name, a_name, a, statistics.median(a), b_name, b, statistics.median(b), b_name, a_name,
        statistics.median(ratios), min(ratios), max(ratios)), flush=True)


def main():
    args = sys.argv[1:]
    if args and args[0] == '--scaling' and len(args) >= 5:
        build, model, pairs = args[1], args[2], int(args[3])
        for test in args[4:]:
            one, two = [], []
            for _ in range(pairs):
                one.append(fm(build, model, 1, test))
                two.append(fm(build, model, 2, test))
            report('%s %s' % (os.path.basename(model), test), '1 thread', one, '2 threads', two)
    elif len(args) >= 5 and 'LLAMA_BENCH' in os.environ:
        build, model, threads, pairs = args[0], args[1], int(args[2]), int(args[3])
        for test in args[4:]:
            theirs, ours = [], []
            for _ in range(pairs):
                ours.append(fm(build, model, threads, test))
                theirs.append(llama(model, threads, test))
            report('%s %s t=%d' % (os.path.basename(model), test, threads), 'llama.cpp', theirs, 'libfm', ours)
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
