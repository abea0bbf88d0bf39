/* The CPU backends: "cpu-ref", plain C kernels, the oracle every faster
 * path is compared against; and "cpu", the same ops with the best kernel
 * table the processor supports (kernels.h). Threads come from a pool. */
#ifndef FM_BACKEND_CPU_H
#define FM_BACKEND_CPU_H

#include "../../core/threadpool.h"
#include "fm_backend.h"
#include "kernels.h"

typedef struct fm_cpu_ctx {
    const fm_cpu_kernels *k; /* the reference table ("cpu-ref") or the best one ("cpu") */
    fm_threadpool *pool;
    int n_threads;
    int n_ctx;
    float *scores;  /* attention scratch: n_threads rows of n_ctx */
    float *rowbuf;  /* converted weight rows, grown on demand */
    size_t rowbuf_len;
    uint8_t *actbuf; /* activations in a kernel's format (q8_0), grown on demand */
    size_t actbuf_len;
    uint8_t *chunkbuf; /* per-thread f32 weight chunks (and GEMM scratch) of the widened-chunk path */
    size_t chunkbuf_len;
    uint8_t *gemmbuf; /* the 8-bit GEMM's activation scales and sums, and per-thread packs */
    size_t gemmbuf_len;
    float *attnbuf;   /* prompt attention's per-thread blocks (cpu_attention_blas.c) */
    size_t attnbuf_len;
    int32_t *runbuf;  /* attention runs made up for a caller of ABI < 4 */
    size_t runbuf_len;
    int batch_invariant; /* FM_BACKEND_BATCH_INVARIANT: no BLAS */
    int float_blas;      /* float-weight prompts through BLAS, not the table's GEMM (decided at creation) */
    /* RoPE's cos and sin for the positions of the last call: every layer,
     * and the keys after the queries, rotate the same positions */
    struct {
        float *cs;       /* [n_tok][half][2] */
        int32_t *pos;    /* [n_tok] */
        size_t cs_cap, pos_cap;
        int32_t n_tok, n_rot;
        float base, scale;
    } rope;
} fm_cpu_ctx;

/* Tokens from which a batched matmul goes through BLAS (cpu_blas.c), or
 * the table's 8-bit GEMM where it has one; measured, see
 * docs/performance.md. */
#define FM_CPU_BLAS_MIN_TOKENS 32

/* Slice [*lo, *hi) of n items for worker ith of nth. */
static inline void fm_cpu_slice(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi) {
    int64_t per = (n + nth - 1) / nth;
    *lo = per * ith < n ? per * ith : n;
    *hi = *lo + per < n ? *lo + per : n;
}

/* Threads worth using for `work` multiply-adds: small ops run on one. */
int fm_cpu_threads_for(const fm_cpu_ctx *c, int64_t work);

/* One row of a weight as f32 (get_rows and the reference path). */
void fm_cpu_row_to_f32(const fm_weight *w, int64_t row, float *out);

/* Around every use of BLAS: OpenBLAS to one thread for the call (libfm's
 * pool does the splitting), then the host's count back. enter() returns
 * what leave() needs. */
int fm_cpu_blas_enter(void);
void fm_cpu_blas_leave(int host_threads);
/* The BLAS library's kernel set (OpenBLAS's core name, e.g. "SkylakeX"),
 * NULL when libfm was built without BLAS. */
const char *fm_cpu_blas_core(void);
/* C[m x n] = alpha * A[m x k] * op(B), row-major, op(B) = B^T (trans_b) or
 * B: the one door to cblas_sgemm, safe to call from any number of threads
 * at once whatever OpenBLAS build is loaded (cpu_blas.c). Only where
 * fm_cpu_blas_core() is not NULL (a no-op without BLAS). */
void fm_cpu_sgemm(int trans_b, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                  float *c, int ldc);

fm_status fm_cpu_matmul(void *ctx, const fm_weight *w, const float *x, int32_t n_tok, float *y, int64_t y_stride);
/* Prompt attention through BLAS (cpu_attention_blas.c), over a cache of
 * floats or (f16) halves; returns 0 (nothing done) when BLAS is absent or a
 * buffer cannot be had. */
int fm_cpu_attention_blas(fm_cpu_ctx *c, const fm_attention_args *a, int f16, const int32_t *runs,
                          const int32_t *run_off);
fm_status fm_cpu_attention(void *ctx, const fm_attention_args *a);
fm_status fm_cpu_get_rows(void *ctx, const fm_weight *table, const int32_t *ids, int32_t n, float *out);
fm_status fm_cpu_rmsnorm(void *ctx, const float *x, const float *weight, int32_t n, int32_t n_rows, float eps,
                         float *y);
fm_status fm_cpu_rope(void *ctx, float *x, int32_t n_tok, int32_t n_head, int32_t head_dim, int32_t n_rot,
                      const int32_t *pos, float freq_base, int32_t mode);
fm_status fm_cpu_rope_ext(void *ctx, float *x, int32_t n_tok, int32_t n_head, int32_t head_dim, int32_t n_rot,
                          const int32_t *pos, float freq_base, float freq_scale, int32_t mode);
fm_status fm_cpu_swiglu(void *ctx, const float *gate, const float *up, int64_t n, float *out);
fm_status fm_cpu_add(void *ctx, float *y, const float *x, int64_t n);
fm_status fm_cpu_layernorm(void *ctx, const float *x, const float *weight, const float *bias, int32_t n,
                           int32_t n_rows, float eps, float *y);
fm_status fm_cpu_gelu(void *ctx, const float *x, int64_t n, float *out);
fm_status fm_cpu_add_rows(void *ctx, float *y, const float *row, int32_t n, int32_t n_rows);

#endif
