#define _POSIX_C_SOURCE 200809L
#include "threadpool.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "error.h"

struct fm_threadpool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    /* the current job, changed only under mu */
    fm_parallel_fn fn;
    void *arg;
    int nth;
    unsigned long generation;
    int pending; /* workers still running the current job */
    int stop;
};

typedef struct worker_arg {
    fm_threadpool *tp;
    int ith;
} worker_arg;

static void *worker(void *p) {
    worker_arg wa = *(worker_arg *)p;
    free(p);
    fm_threadpool *tp = wa.tp;
    unsigned long seen = 0;
    pthread_mutex_lock(&tp->mu);
    for (;;) {
        while (!tp->stop && tp->generation == seen) pthread_cond_wait(&tp->start, &tp->mu);
        if (tp->stop) break;
        seen = tp->generation;
        fm_parallel_fn fn = tp->fn;
        void *arg = tp->arg;
        int nth = tp->nth;
        pthread_mutex_unlock(&tp->mu);
        if (wa.ith < nth) fn(arg, wa.ith, nth);
        pthread_mutex_lock(&tp->mu);
        if (--tp->pending == 0) pthread_cond_signal(&tp->done);
    }
    pthread_mutex_unlock(&tp->mu);
    return NULL;
}

int fm_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

fm_status fm_threadpool_new(int n_threads, fm_threadpool **out) {
    *out = NULL;
    if (n_threads < 1) n_threads = 1;
    fm_threadpool *tp = calloc(1, sizeof *tp);
    if (tp == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a thread pool");
    tp->n_threads = n_threads;
    pthread_mutex_init(&tp->mu, NULL);
    pthread_cond_init(&tp->start, NULL);
    pthread_cond_init(&tp->done, NULL);
    if (n_threads > 1) {
        tp->threads = calloc((size_t)n_threads, sizeof *tp->threads);
        if (tp->threads == NULL) {
            fm_threadpool_free(tp);
            return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a thread pool");
        }
        for (int i = 1; i < n_threads; i++) {
            worker_arg *wa = malloc(sizeof *wa);
            if (wa != NULL) *wa = (worker_arg){tp, i};
            if (wa == NULL || pthread_create(&tp->threads[i], NULL, worker, wa) != 0) {
                free(wa);
                tp->n_threads = i; /* only join those started */
                fm_threadpool_free(tp);
                return fm_error(FM_STATUS_NO_MEMORY, "cannot start compute thread %d", i);
            }
        }
    }
    *out = tp;
    return FM_STATUS_OK;
}

void fm_threadpool_free(fm_threadpool *tp) {
    if (tp == NULL) return;
    pthread_mutex_lock(&tp->mu);
    tp->stop = 1;
    pthread_cond_broadcast(&tp->start);
    pthread_mutex_unlock(&tp->mu);
    for (int i = 1; i < tp->n_threads && tp->threads; i++) pthread_join(tp->threads[i], NULL);
    pthread_mutex_destroy(&tp->mu);
    pthread_cond_destroy(&tp->start);
    pthread_cond_destroy(&tp->done);
    free(tp->threads);
    free(tp);
}

int fm_threadpool_size(const fm_threadpool *tp) { return tp->n_threads; }

void fm_threadpool_run(fm_threadpool *tp, fm_parallel_fn fn, void *arg, int nth) {
    if (nth > tp->n_threads) nth = tp->n_threads;
    if (nth <= 1) {
        fn(arg, 0, 1);
        return;
    }
    pthread_mutex_lock(&tp->mu);
    tp->fn = fn;
    tp->arg = arg;
    tp->nth = nth;
    tp->pending = tp->n_threads - 1;
    tp->generation++;
    pthread_cond_broadcast(&tp->start);
    pthread_mutex_unlock(&tp->mu);
    fn(arg, 0, nth);
    pthread_mutex_lock(&tp->mu);
    while (tp->pending > 0) pthread_cond_wait(&tp->done, &tp->mu);
    pthread_mutex_unlock(&tp->mu);
}
