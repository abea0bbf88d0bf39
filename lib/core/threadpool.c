#define _POSIX_C_SOURCE 200809L
#include "threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"

/* Fork/join with a short spin before sleeping: a worker that finished a
 * job watches the generation counter for a while (decode runs one parallel
 * op after another, microseconds apart), and only then waits on the
 * condition variable; the caller likewise spins on the pending count before
 * waiting. So a fork/join costs a few cache-line transfers, not a
 * futex sleep and wake-up, while idle threads still go to sleep. */
#define SPIN_LIMIT 2000 /* pause instructions: ~10-100 microseconds, by CPU */

struct fm_threadpool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    /* the current job: written before generation is published (release),
     * read after it is seen (acquire) */
    fm_parallel_fn fn;
    void *arg;
    int nth;
    atomic_ulong generation;
    atomic_int pending; /* workers still running the current job */
    atomic_int stop;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

typedef struct worker_arg {
    fm_threadpool *tp;
    int ith;
} worker_arg;

static void *worker(void *p) {
    worker_arg wa = *(worker_arg *)p;
    free(p);
    fm_threadpool *tp = wa.tp;
    unsigned long seen = 0;
    for (;;) {
        for (int spin = 0; spin < SPIN_LIMIT && atomic_load_explicit(&tp->generation, memory_order_acquire) == seen &&
                           !atomic_load_explicit(&tp->stop, memory_order_relaxed);
             spin++)
            cpu_relax();
        if (atomic_load_explicit(&tp->generation, memory_order_acquire) == seen) {
            pthread_mutex_lock(&tp->mu);
            while (!atomic_load(&tp->stop) && atomic_load(&tp->generation) == seen) pthread_cond_wait(&tp->start, &tp->mu);
            pthread_mutex_unlock(&tp->mu);
        }
        if (atomic_load(&tp->stop)) break;
        seen = atomic_load_explicit(&tp->generation, memory_order_acquire);
        if (wa.ith < tp->nth) tp->fn(tp->arg, wa.ith, tp->nth);
        if (atomic_fetch_sub_explicit(&tp->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&tp->mu); /* the caller may be asleep on done */
            pthread_cond_signal(&tp->done);
            pthread_mutex_unlock(&tp->mu);
        }
    }
    return NULL;
}

int fm_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

int fm_thread_cap(void) {
    const int n = 4 * fm_cpu_count();
    return n < 8 ? 8 : n > 512 ? 512 : n;
}

fm_status fm_threadpool_new(int n_threads, fm_threadpool **out) {
    *out = NULL;
    if (n_threads < 1) n_threads = 1;
    fm_threadpool *tp = fm_calloc(1, sizeof *tp);
    if (tp == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a thread pool");
    tp->n_threads = n_threads;
    pthread_mutex_init(&tp->mu, NULL);
    pthread_cond_init(&tp->start, NULL);
    pthread_cond_init(&tp->done, NULL);
    if (n_threads > 1) {
        tp->threads = fm_calloc((size_t)n_threads, sizeof *tp->threads);
        if (tp->threads == NULL) {
            fm_threadpool_free(tp);
            return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a thread pool");
        }
        for (int i = 1; i < n_threads; i++) {
            worker_arg *wa = fm_malloc(sizeof *wa);
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
    atomic_store(&tp->stop, 1);
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
    tp->fn = fn;
    tp->arg = arg;
    tp->nth = nth;
    atomic_store_explicit(&tp->pending, tp->n_threads - 1, memory_order_relaxed);
    pthread_mutex_lock(&tp->mu); /* so a worker about to sleep cannot miss the broadcast */
    atomic_fetch_add_explicit(&tp->generation, 1, memory_order_release);
    pthread_cond_broadcast(&tp->start);
    pthread_mutex_unlock(&tp->mu);
    fn(arg, 0, nth);
    for (int spin = 0; spin < SPIN_LIMIT && atomic_load_explicit(&tp->pending, memory_order_acquire) > 0; spin++)
        cpu_relax();
    if (atomic_load_explicit(&tp->pending, memory_order_acquire) > 0) {
        pthread_mutex_lock(&tp->mu);
        while (atomic_load(&tp->pending) > 0) pthread_cond_wait(&tp->done, &tp->mu);
        pthread_mutex_unlock(&tp->mu);
    }
}
