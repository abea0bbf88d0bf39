/* Attention for prompts through BLAS: one KV head and a block of tokens at
 * a time, the query rows of the head's group for those tokens meet the
 * keys they may see in one sgemm (scores), each row is masked and
 * softmaxed, and one more sgemm weighs the values. Per query row this is
 * the same sum as attn_row computes, in another order, at sgemm's speed:
 * the row-at-a-time kernel reads a key once per query row and reduces
 * every dot product horizontally, here a key is read once per block.
 *
 * Blocks are a fixed grid (KV head x tokens) dealt out in turn, each done
 * by one thread with single-threaded sgemm, so results do not depend on the
 * thread count. Not batch-invariant (a token's bits depend on its block),
 * so FM_BACKEND_BATCH_INVARIANT keeps attn_row. Memory: per thread one
 * block's scores, ROWS x n_ctx floats, linear in the context. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/alloc.h"
#include "../../core/half.h"
#include "cpu.h"

#ifdef FM_HAVE_BLAS

/* query rows per block: enough for sgemm to reuse each key, few enough
 * that a causal block wastes little on masked keys */
#define ROWS 64

typedef struct ab_job {
    const fm_attention_args *a;
    const fm_cpu_kernels *k;
    int own;    /* the table's float GEMM instead of sgemm */
    int32_t tok_per_block, n_blocks, rows, n_ctx;
    int f16;    /* the cache holds halves */
    float *buf; /* per thread: q rows, scores, outputs, and for an f16
                   cache the block's keys and values widened */
    size_t per_thread;
    const int32_t *runs, *run_off; /* the cells each query row sees */
} ab_job;

/* Token t's runs of visible cells (ascending, disjoint). */
static const int32_t *runs_of(const ab_job *j, int32_t t, int32_t *n) {
    *n = j->run_off[t + 1] - j->run_off[t];
    return j->runs + 2 * (size_t)j->run_off[t];
}

/* The per-thread buffer: q rows (ROWS x D), scores (ROWS x n_ctx),
 * outputs (ROWS x D), then for sgemm over an f16 cache the block's keys
 * and values widened (2 x n_ctx x D), or for the own GEMM the values
 * transposed (D x n_ctx) and the GEMM's scratch. */
static float *scores_of(const ab_job *j, float *buf) { return buf + (size_t)j->rows * (size_t)j->a->head_dim; }
static float *outputs_of(const ab_job *j, float *buf) {
    return scores_of(j, buf) + (size_t)j->rows * (size_t)j->n_ctx;
}
static float *extra_of(const ab_job *j, float *buf) { return outputs_of(j, buf) + (size_t)j->rows * (size_t)j->a->head_dim; }

/* S = scale Q K^T over keys lo..lo+nk-1: the table's float GEMM with the
 * keys as its weight rows, read in the cache's own type (the scale goes
 * into the query rows first) */
static void own_products(const ab_job *j, int32_t g, int32_t lo, int32_t nk, int32_t R, float *buf) {
    const fm_attention_args *a = j->a;
    const int32_t D = a->head_dim;
    float *qb = buf;
    for (size_t i = 0; i < (size_t)R * (size_t)D; i++) qb[i] *= a->scale;
    const size_t es = j->f16 ? 2 : 4;
    const fm_weight kw = {(const uint8_t *)(const void *)a->k + ((size_t)lo * (size_t)a->kv_stride + (size_t)g * (size_t)D) * es,
                          j->f16 ? FM_DTYPE_F16 : FM_DTYPE_F32, 0, nk, D, (size_t)a->kv_stride * es};
    float *vt = extra_of(j, buf);
    uint8_t *scratch = (uint8_t *)(vt + (size_t)D * (size_t)j->n_ctx);
    j->k->gemm_f[kw.dtype](&kw, 0, nk, qb, R, scores_of(j, buf), nk, scratch);
}

/* O = P V: the values transposed once (D rows of nk), then the GEMM */
static void own_weigh(const ab_job *j, int32_t g, int32_t lo, int32_t nk, int32_t R, float *buf) {
    const fm_attention_args *a = j->a;
    const int32_t D = a->head_dim;
    float *vt = extra_of(j, buf);
    uint8_t *scratch = (uint8_t *)(vt + (size_t)D * (size_t)j->n_ctx);
    const size_t base = (size_t)lo * (size_t)a->kv_stride + (size_t)g * (size_t)D;
    float *row = outputs_of(j, buf); /* free until the GEMM below writes it */
    for (int32_t p = 0; p < nk; p++) {
        const size_t at = base + (size_t)p * (size_t)a->kv_stride;
        const float *src = a->v + at;
        if (j->f16) { /* widened by the table's converter (F16C) where it has one */
            const uint16_t *vh = (const uint16_t *)(const void *)a->v + at;
            if (j->k->row_to_f32 == NULL || !j->k->row_to_f32(FM_DTYPE_F16, (const uint8_t *)(const void *)vh, D, row))
                for (int32_t d = 0; d < D; d++) row[d] = fm_f16_to_f32(vh[d]);
            src = row;
        }
        for (int32_t d = 0; d < D; d++) vt[(size_t)d * (size_t)nk + (size_t)p] = src[d];
    }
    const fm_weight vw = {vt, FM_DTYPE_F32, 0, D, nk, (size_t)nk * sizeof(float)};
    j->k->gemm_f[FM_DTYPE_F32](&vw, 0, D, scores_of(j, buf), R, outputs_of(j, buf), D, scratch);
}

/* The block's keys (values: 1) as f32 rows for sgemm and their stride:
 * in the cache for an f32 one; an f16 cache's rows widened (exactly) into
 * the buffer, once, by blas_products. */
static const float *blas_rows(const ab_job *j, int32_t g, int32_t lo, int values, float *buf, int *ld) {
    const fm_attention_args *a = j->a;
    if (j->f16) {
        *ld = a->head_dim;
        return extra_of(j, buf) + (values ? (size_t)j->n_ctx * (size_t)a->head_dim : 0);
    }
    *ld = (int)a->kv_stride;
    return (values ? a->v : a->k) + (size_t)lo * (size_t)a->kv_stride + (size_t)g * (size_t)a->head_dim;
}

static void blas_products(const ab_job *j, int32_t g, int32_t lo, int32_t nk, int32_t R, float *buf) {
    const fm_attention_args *a = j->a;
    const int32_t D = a->head_dim;
    if (j->f16) {
        const size_t base = (size_t)lo * (size_t)a->kv_stride + (size_t)g * (size_t)D;
        const uint16_t *kh = (const uint16_t *)(const void *)a->k + base, *vh = (const uint16_t *)(const void *)a->v + base;
        float *kw = extra_of(j, buf), *vw = kw + (size_t)j->n_ctx * (size_t)D;
        for (int32_t p = 0; p < nk; p++)
            for (int32_t d = 0; d < D; d++) {
                kw[(size_t)p * (size_t)D + d] = fm_f16_to_f32(kh[(size_t)p * (size_t)a->kv_stride + d]);
                vw[(size_t)p * (size_t)D + d] = fm_f16_to_f32(vh[(size_t)p * (size_t)a->kv_stride + d]);
            }
    }
    int ld;
    const float *kg = blas_rows(j, g, lo, 0, buf, &ld);
    fm_cpu_sgemm(1, R, nk, D, a->scale, buf, D, kg, ld, scores_of(j, buf), nk);
}

static void blas_weigh(const ab_job *j, int32_t g, int32_t lo, int32_t nk, int32_t R, float *buf) {
    const int32_t D = j->a->head_dim;
    int ld;
    const float *vg = blas_rows(j, g, lo, 1, buf, &ld);
    fm_cpu_sgemm(0, R, D, nk, 1.0f, scores_of(j, buf), nk, vg, ld, outputs_of(j, buf), D);
}

static void block(const ab_job *j, int32_t g, int32_t t0, float *buf) {
    const fm_attention_args *a = j->a;
    const int32_t D = a->head_dim, group = a->n_head / a->n_head_kv;
    const int32_t t1 = t0 + j->tok_per_block < a->n_tok ? t0 + j->tok_per_block : a->n_tok;
    const int32_t R = (t1 - t0) * group;
    int32_t lo = INT32_MAX, hi = 0;
    for (int32_t t = t0; t < t1; t++) {
        int32_t nr;
        const int32_t *r = runs_of(j, t, &nr);
        if (nr > 0 && r[0] < lo) lo = r[0];
        if (nr > 0 && r[2 * nr - 1] > hi) hi = r[2 * nr - 1];
    }
    if (lo > hi) lo = hi; /* no row sees anything */
    const int32_t nk = hi - lo;
    float *qb = buf, *s = qb + (size_t)j->rows * (size_t)D, *o = s + (size_t)j->rows * (size_t)j->n_ctx;
    const size_t row_stride = (size_t)a->n_head * (size_t)D;
    /* the group's heads of one token are adjacent: one copy per token */
    for (int32_t t = t0; t < t1; t++)
        memcpy(qb + (size_t)(t - t0) * (size_t)group * (size_t)D,
               a->q + (size_t)t * row_stride + (size_t)g * (size_t)group * (size_t)D,
               (size_t)group * (size_t)D * sizeof *qb);
    if (j->own) {
        own_products(j, g, lo, nk, R, buf);
    } else {
        blas_products(j, g, lo, nk, R, buf);
    }
    float inv[ROWS];
    for (int32_t r = 0; r < R; r++) {
        int32_t nr;
        const int32_t *runs = runs_of(j, t0 + r / group, &nr);
        float *sr = s + (size_t)r * (size_t)nk;
        float mx = -INFINITY;
        for (int32_t i = 0; i < nr; i++)
            for (int32_t p = runs[2 * i] - lo; p < runs[2 * i + 1] - lo; p++) mx = sr[p] > mx ? sr[p] : mx;
        /* the cells the row does not see weigh nothing */
        float sum = 0;
        int32_t prev = 0;
        for (int32_t i = 0; i < nr; i++) {
            const int32_t f = runs[2 * i] - lo, e = runs[2 * i + 1] - lo;
            for (int32_t p = prev; p < f; p++) sr[p] = 0;
            sum += j->k->exp_sum(sr + f, e - f, mx);
            prev = e;
        }
        for (int32_t p = prev; p < nk; p++) sr[p] = 0;
        inv[r] = sum > 0 ? 1.0f / sum : 0.0f;
    }
    if (j->own) {
        own_weigh(j, g, lo, nk, R, buf);
    } else {
        blas_weigh(j, g, lo, nk, R, buf);
    }
    for (int32_t r = 0; r < R; r++) {
        const int32_t t = t0 + r / group, h = g * group + r % group;
        float *out = a->out + (size_t)t * row_stride + (size_t)h * (size_t)D;
        for (int32_t d = 0; d < D; d++) out[d] = o[(size_t)r * (size_t)D + d] * inv[r];
    }
}

static void ab_slice(void *arg, int ith, int nth) {
    const ab_job *j = arg;
    float *buf = j->buf + (size_t)ith * j->per_thread;
    /* token blocks outer: with a causal mask later blocks see more keys,
     * and dealing in turn spreads them */
    const int64_t items = (int64_t)j->n_blocks * j->a->n_head_kv;
    for (int64_t i = ith; i < items; i += nth)
        block(j, (int32_t)(i % j->a->n_head_kv), (int32_t)(i / j->a->n_head_kv) * j->tok_per_block, buf);
}

int fm_cpu_attention_blas(fm_cpu_ctx *c, const fm_attention_args *a, int f16, const int32_t *runs,
                          const int32_t *run_off) {
    const int32_t group = a->n_head / a->n_head_kv;
    if (group > ROWS || a->kv_stride > INT32_MAX || a->head_dim <= 0) return 0;
    const int32_t tpb = ROWS / group;
    /* the table's float GEMM where the context uses it for float weights
     * (choose_float_path), so that prompts depend on no BLAS library's
     * view of the CPU; sgemm otherwise */
    const int own = !c->float_blas && c->k->gemm_f[FM_DTYPE_F32] != NULL && c->k->gemm_f[FM_DTYPE_F16] != NULL;
    size_t extra = f16 ? 2 * (size_t)c->n_ctx * (size_t)a->head_dim : 0;
    if (own) {
        const size_t s1 = fm_gemm_f_scratch_bytes(a->head_dim, ROWS), s2 = fm_gemm_f_scratch_bytes(c->n_ctx, ROWS);
        extra = (size_t)c->n_ctx * (size_t)a->head_dim + ((s1 > s2 ? s1 : s2) + 63) / sizeof(float);
    }
    const size_t per_thread = ((size_t)ROWS * ((size_t)a->head_dim * 2 + (size_t)c->n_ctx) + extra + 15) / 16 * 16;
    const size_t need = (size_t)c->n_threads * per_thread * sizeof(float);
    if (need > c->attnbuf_len) {
        float *p = fm_realloc(c->attnbuf, need);
        if (p == NULL) return 0; /* attn_row needs no buffer: fall back */
        c->attnbuf = p;
        c->attnbuf_len = need;
    }
    ab_job j = {a, c->k, own, tpb, (a->n_tok + tpb - 1) / tpb, ROWS, c->n_ctx, f16, c->attnbuf, per_thread, runs, run_off};
    int64_t work = (int64_t)a->n_tok * a->n_head * a->n_kv * a->head_dim * 2;
    const int host = own ? 1 : fm_cpu_blas_enter();
    fm_threadpool_run(c->pool, ab_slice, &j, fm_cpu_threads_for(c, work));
    if (!own) fm_cpu_blas_leave(host);
    return 1;
}
#else
int fm_cpu_attention_blas(fm_cpu_ctx *c, const fm_attention_args *a, int f16, const int32_t *runs,
                          const int32_t *run_off) {
    (void)c, (void)a, (void)f16;
    return 0;
}
#endif
