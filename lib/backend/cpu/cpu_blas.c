/* libfm's door to BLAS: every cblas_sgemm call (fm_cpu_sgemm) and what
 * libfm asks of OpenBLAS (its thread count around a call, its core name).
 * Prompts reach it where the kernel table has no GEMM of its own for the
 * job, or where FM_FLOAT_GEMM=blas asks for it (cpu_matmul.c,
 * cpu_attention_blas.c). */
#include <pthread.h>
#include <stdatomic.h>

#include "cpu.h"

#ifdef FM_HAVE_BLAS
#include <cblas.h>

/* OpenBLAS built without threads (Debian's serial variant, the one libfm
 * links) is also built without USE_LOCKING: its sgemm takes a work buffer
 * from a table with no lock, so two calls at once - two of libfm's pool
 * threads, or two contexts on two host threads - can be handed the same
 * buffer and corrupt each other's results (test_blas_threads). Such a
 * build runs one sgemm at a time, process-wide; the threaded builds lock
 * their table themselves. Other cblas libraries (reference, BLIS, ATLAS)
 * keep no shared buffers. */
static pthread_mutex_t sgemm_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int sgemm_serial = -1; /* -1 not asked yet, then 0 or 1 */

static int sgemm_needs_lock(void) {
    int v = atomic_load_explicit(&sgemm_serial, memory_order_relaxed);
    if (v < 0) {
#ifdef FM_HAVE_OPENBLAS
        v = openblas_get_parallel() == 0;
#else
        v = 0;
#endif
        atomic_store_explicit(&sgemm_serial, v, memory_order_relaxed);
    }
    return v;
}

void fm_cpu_sgemm(int trans_b, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                  float *c, int ldc) {
    const int lock = sgemm_needs_lock();
    if (lock) pthread_mutex_lock(&sgemm_lock);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, 0.0f,
                c, ldc);
    if (lock) pthread_mutex_unlock(&sgemm_lock);
}

/* libfm links OpenBLAS's serial build (meson.build), which has no threads
 * and nothing to set. Only when the process already had a threaded
 * OpenBLAS loaded (the host's choice, found by soname first) does each
 * sgemm need one thread: its process-wide count is then set to 1 for the
 * length of libfm's call and the host's put back (docs/reliability.md). */
int fm_cpu_blas_enter(void) {
#ifdef FM_HAVE_OPENBLAS
    if (openblas_get_parallel() == 0) return 1;
    const int n = openblas_get_num_threads();
    if (n != 1) openblas_set_num_threads(1);
    return n;
#else
    return 1;
#endif
}

void fm_cpu_blas_leave(int host_threads) {
#ifdef FM_HAVE_OPENBLAS
    if (host_threads != 1) openblas_set_num_threads(host_threads);
#else
    (void)host_threads;
#endif
}

const char *fm_cpu_blas_core(void) {
#ifdef FM_HAVE_OPENBLAS
    const char *name = openblas_get_corename();
    return name != NULL ? name : "OpenBLAS (unknown core)";
#else
    return "cblas";
#endif
}
#else
void fm_cpu_sgemm(int trans_b, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                  float *c, int ldc) {
    (void)trans_b, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b, (void)ldb, (void)c, (void)ldc;
}

int fm_cpu_blas_enter(void) { return 1; }

void fm_cpu_blas_leave(int host_threads) { (void)host_threads; }

const char *fm_cpu_blas_core(void) { return NULL; }
#endif
