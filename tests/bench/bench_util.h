/* What the benchmark programs share: a monotonic clock and a comparator for
 * sorting timings (header-only: bench_tokenizer_ab links nothing of libfm's). */
#ifndef FM_TESTS_BENCH_UTIL_H
#define FM_TESTS_BENCH_UTIL_H

#include <time.h>

static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline int bench_cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#endif
