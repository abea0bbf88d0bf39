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

#include "../../core/half.h"
#include "cpu.h"

#ifdef FM_HAVE_BLAS
#include <cblas.h>

/* query rows per block: enough for sgemm to reuse each key, few enough
 * that a causal block wastes little on masked keys */
#define ROWS 64

typedef struct ab_job {
    const fm_attention_args *a;
    const fm_cpu_kernels *k;
    int32_t tok_per_block, n_blocks, rows, n_ctx;
    int f16;    /* the cache holds halves */
    float *buf; /* per thread: q rows, scores, outputs, and for an f16
                   cache the block's keys and values widened */
    size_t per_thread;
} ab_job;

static int32_t first_key(const fm_attention_args *a, int32_t t) {
    /* a sliding window hides keys `window` or more positions back */
    return a->window > 0 && a->pos[t] - a->window + 1 > 0 ? a->pos[t] - a->window + 1 : 0;
}

static int32_t end_key(const fm_attention_args *a, int32_t t) { return a->causal ? a->pos[t] + 1 : a->n_kv; }

static void block(const ab_job *j, int32_t g, int32_t t0, float *buf) {
    const fm_attention_args *a = j->a;
    const int32_t D = a->head_dim, group = a->n_head / a->n_head_kv;
    const int32_t t1 = t0 + j->tok_per_block < a->n_tok ? t0 + j->tok_per_block : a->n_tok;
    const int32_t R = (t1 - t0) * group;
    int32_t lo = INT32_MAX, hi = 0;
    for (int32_t t = t0; t < t1; t++) {
        const int32_t f = first_key(a, t), e = end_key(a, t);
        if (f < lo) lo = f;
        if (e > hi) hi = e;
    }
    const int32_t nk = hi - lo;
    float *qb = buf, *s = qb + (size_t)j->rows * (size_t)D, *o = s + (size_t)j->rows * (size_t)j->n_ctx;
    const size_t row_stride = (size_t)a->n_head * (size_t)D;
    /* the group's heads of one token are adjacent: one copy per token */
    for (int32_t t = t0; t < t1; t++)
        memcpy(qb + (size_t)(t - t0) * (size_t)group * (size_t)D,
               a->q + (size_t)t * row_stride + (size_t)g * (size_t)group * (size_t)D,
               (size_t)group * (size_t)D * sizeof *qb);
    const float *kg, *vg;
    int ld = (int)a->kv_stride;
    if (j->f16) { /* the block's keys and values widened (exactly) to f32 */
        const uint16_t *kh = (const uint16_t *)(const void *)a->k + (size_t)lo * (size_t)a->kv_stride + (size_t)g * (size_t)D;
        const uint16_t *vh = (const uint16_t *)(const void *)a->v + (size_t)lo * (size_t)a->kv_stride + (size_t)g * (size_t)D;
        float *kw = o + (size_t)j->rows * (size_t)D, *vw = kw + (size_t)j->n_ctx * (size_t)D;
        for (int32_t p = 0; p < nk; p++)
            for (int32_t d = 0; d < D; d++) {
                kw[(size_t)p * (size_t)D + d] = fm_f16_to_f32(kh[(size_t)p * (size_t)a->kv_stride + d]);
                vw[(size_t)p * (size_t)D + d] = fm_f16_to_f32(vh[(size_t)p * (size_t)a->kv_stride + d]);
            }
        kg = kw, vg = vw, ld = D;
    } else {
        kg = a->k + (size_t)lo * (size_t)a->kv_stride + (size_t)g * (size_t)D;
        vg = a->v + (size_t)lo * (size_t)a->kv_stride + (size_t)g * (size_t)D;
    }
    /* S = scale Q K^T over keys lo..hi-1 */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, nk, D, a->scale, qb, D, kg, ld, 0.0f, s, nk);
    float inv[ROWS];
    for (int32_t r = 0; r < R; r++) {
        const int32_t t = t0 + r / group;
        const int32_t f = first_key(a, t) - lo, e = end_key(a, t) - lo;
        float *sr = s + (size_t)r * (size_t)nk;
        float mx = -INFINITY;
        for (int32_t p = f; p < e; p++) mx = sr[p] > mx ? sr[p] : mx;
        for (int32_t p = 0; p < f; p++) sr[p] = 0;
        for (int32_t p = e; p < nk; p++) sr[p] = 0;
        inv[r] = 1.0f / j->k->exp_sum(sr + f, e - f, mx);
    }
    /* O = P V */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, D, nk, 1.0f, s, nk, vg, ld, 0.0f, o, D);
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

int fm_cpu_attention_blas(fm_cpu_ctx *c, const fm_attention_args *a, int f16) {
    const int32_t group = a->n_head / a->n_head_kv;
    if (group > ROWS || a->kv_stride > INT32_MAX || a->head_dim <= 0) return 0;
    const int32_t tpb = ROWS / group;
    const size_t per_thread = (size_t)ROWS * ((size_t)a->head_dim * 2 + (size_t)c->n_ctx) +
                              (f16 ? 2 * (size_t)c->n_ctx * (size_t)a->head_dim : 0);
    const size_t need = (size_t)c->n_threads * per_thread * sizeof(float);
    if (need > c->attnbuf_len) {
        float *p = realloc(c->attnbuf, need);
        if (p == NULL) return 0; /* attn_row needs no buffer: fall back */
        c->attnbuf = p;
        c->attnbuf_len = need;
    }
    ab_job j = {a, c->k, tpb, (a->n_tok + tpb - 1) / tpb, ROWS, c->n_ctx, f16, c->attnbuf, per_thread};
    int64_t work = (int64_t)a->n_tok * a->n_head * a->n_kv * a->head_dim * 2;
    fm_threadpool_run(c->pool, ab_slice, &j, fm_cpu_threads_for(c, work));
    return 1;
}
#else
int fm_cpu_attention_blas(fm_cpu_ctx *c, const fm_attention_args *a, int f16) {
    (void)c, (void)a, (void)f16;
    return 0;
}
#endif
