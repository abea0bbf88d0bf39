/* Batched matmul through BLAS (OpenBLAS's sgemm): for a prompt of many
 * tokens, a weight's rows are split across libfm's threads as always; each
 * thread converts a chunk of its rows to f32 (f32 rows are used in place)
 * and multiplies all tokens against it with one sgemm. OpenBLAS itself runs
 * on one thread during the call (its threads and libfm's would fight for the cores),
 * so each output row is still computed by one thread, the same way for any
 * thread count. Activations stay f32 for every weight type: exact math on
 * the stored weights. Not batch-invariant (sgemm's summation order is not
 * the single-token kernels'), so FM_BACKEND_BATCH_INVARIANT turns it off. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "../../core/alloc.h"
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
static atomic_int sgemm_serial = -1; /* -1 not asked yet, 0 or 1 */

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

#define CHUNK_ROWS 256

typedef struct blas_job {
    const fm_cpu_kernels *k;
    const fm_weight *w;
    const float *x;
    int32_t n_tok;
    float *y;
    int64_t ys;
    float *buf; /* CHUNK_ROWS x cols per thread */
} blas_job;

static void blas_slice(void *arg, int ith, int nth) {
    const blas_job *j = arg;
    const fm_weight *w = j->w;
    /* threads take whole chunks of a fixed grid, so every row meets sgemm
     * in the same chunk, at the same place, whatever the thread count */
    int64_t c0, c1;
    fm_cpu_slice((w->rows + CHUNK_ROWS - 1) / CHUNK_ROWS, ith, nth, &c0, &c1);
    const int in_place = w->dtype == FM_DTYPE_F32 && ((uintptr_t)w->data & 3) == 0;
    float *buf = j->buf + (size_t)ith * CHUNK_ROWS * (size_t)w->cols;
    for (int64_t r0 = c0 * CHUNK_ROWS; r0 < c1 * CHUNK_ROWS && r0 < w->rows; r0 += CHUNK_ROWS) {
        const int64_t nr = w->rows - r0 < CHUNK_ROWS ? w->rows - r0 : CHUNK_ROWS;
        const float *wc = buf;
        if (in_place) wc = (const float *)(const void *)((const uint8_t *)w->data + (size_t)r0 * w->row_bytes);
        else
            for (int64_t r = 0; r < nr; r++) {
                const uint8_t *src = (const uint8_t *)w->data + (size_t)(r0 + r) * w->row_bytes;
                float *dst = buf + (size_t)r * (size_t)w->cols;
                if (j->k->row_to_f32 == NULL || !j->k->row_to_f32(w->dtype, src, w->cols, dst))
                    fm_cpu_row_to_f32(w, r0 + r, dst);
            }
        /* Y[t][r0 + r] = sum_c X[t][c] * Wc[r][c] */
        fm_cpu_sgemm(1, j->n_tok, (int)nr, (int)w->cols, 1.0f, j->x, (int)w->cols, wc, (int)w->cols, j->y + r0,
                     (int)j->ys);
    }
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

int fm_cpu_blas_matmul(fm_cpu_ctx *c, const fm_weight *w, const float *x, int32_t n_tok, float *y, int64_t ys) {
    if (w->cols > (1 << 24) || w->rows > (1 << 24) || ys > (1 << 30)) return 0;
    const int nth = c->n_threads;
    const size_t need = (size_t)nth * CHUNK_ROWS * (size_t)w->cols * sizeof(float);
    if (need > c->blasbuf_len) {
        float *p = fm_realloc(c->blasbuf, need);
        if (p == NULL) return 0; /* the kernels need no buffer: fall back */
        c->blasbuf = p;
        c->blasbuf_len = need;
    }
    blas_job j = {c->k, w, x, n_tok, y, ys, c->blasbuf};
    const int host = fm_cpu_blas_enter();
    fm_threadpool_run(c->pool, blas_slice, &j, nth);
    fm_cpu_blas_leave(host);
    return 1;
}
#else
int fm_cpu_blas_enter(void) { return 1; }

void fm_cpu_blas_leave(int host_threads) { (void)host_threads; }

const char *fm_cpu_blas_core(void) { return NULL; }

int fm_cpu_blas_matmul(fm_cpu_ctx *c, const fm_weight *w, const float *x, int32_t n_tok, float *y, int64_t ys) {
    (void)c, (void)w, (void)x, (void)n_tok, (void)y, (void)ys;
    return 0;
}
#endif
