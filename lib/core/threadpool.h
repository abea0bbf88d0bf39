/* A fixed set of worker threads that run one parallel loop at a time. Kernels
 * split their work into n_threads slices; the caller's thread runs slice 0. */
#ifndef FM_CORE_THREADPOOL_H
#define FM_CORE_THREADPOOL_H

#include "fm.h"

typedef struct fm_threadpool fm_threadpool;

/* fn(arg, ith, nth) runs once for every ith in 0..nth-1. */
typedef void (*fm_parallel_fn)(void *arg, int ith, int nth);

/* n_threads >= 1; 1 starts no threads. */
fm_status fm_threadpool_new(int n_threads, fm_threadpool **out);
void fm_threadpool_free(fm_threadpool *tp);
int fm_threadpool_size(const fm_threadpool *tp);

/* Runs fn on `nth` slices (nth <= size) and returns when all are done. */
void fm_threadpool_run(fm_threadpool *tp, fm_parallel_fn fn, void *arg, int nth);

/* Number of online processors (at least 1). */
int fm_cpu_count(void);

/* The most compute threads a context starts: 4 x the online processors,
 * at least 8, at most 512. More never computes faster, and a mistyped
 * count (1000 on 2 cores) must not start 1000 threads. */
int fm_thread_cap(void);

#endif
