/* Scaled dot-product attention over the KV cache, one (token, head) pair at
 * a time (the kernel table's attn_row), pairs dealt across threads. Memory
 * is linear in the context: at most one row of scores per thread. */
#include <math.h>
#include <stddef.h>

#include "cpu.h"

typedef struct attn_job {
    const fm_attention_args *a;
    float *scores;
    int n_ctx;
    const fm_cpu_kernels *k;
    int f16; /* the cache holds halves */
} attn_job;

static void attn_slice(void *arg, int ith, int nth) {
    const attn_job *j = arg;
    const fm_attention_args *a = j->a;
    const int32_t D = a->head_dim, group = a->n_head / a->n_head_kv;
    float *sc = j->scores + (size_t)ith * (size_t)j->n_ctx;
    /* pairs dealt out in turn: with a causal mask later tokens see more
     * keys, so contiguous slices would leave the first thread idle */
    for (int64_t th = ith; th < (int64_t)a->n_tok * a->n_head; th += nth) {
        const int32_t t = (int32_t)(th / a->n_head), h = (int32_t)(th % a->n_head);
        const float *q = a->q + ((size_t)t * (size_t)a->n_head + (size_t)h) * (size_t)D;
        const size_t kv_off = (size_t)(h / group) * (size_t)D;
        const int32_t n = a->causal ? a->pos[t] + 1 : a->n_kv;
        /* a sliding window hides keys `window` or more positions back */
        const int32_t first = a->window > 0 && a->pos[t] - a->window + 1 > 0 ? a->pos[t] - a->window + 1 : 0;
        float *out = a->out + ((size_t)t * (size_t)a->n_head + (size_t)h) * (size_t)D;
        if (j->f16)
            j->k->attn_row_f16(q, (const uint16_t *)(const void *)a->k + kv_off,
                               (const uint16_t *)(const void *)a->v + kv_off, a->kv_stride, first, n, D, a->scale, sc,
                               out);
        else
            j->k->attn_row(q, a->k + kv_off, a->v + kv_off, a->kv_stride, first, n, D, a->scale, sc, out);
    }
}

fm_status fm_cpu_attention(void *ctx, const fm_attention_args *a) {
    fm_cpu_ctx *c = ctx;
    /* the cache's type (ABI 3); a caller built against ABI 2 headers passes
     * a shorter struct, always over floats */
    const int32_t kv_dtype =
        a->struct_size >= offsetof(fm_attention_args, kv_dtype) + sizeof a->kv_dtype ? a->kv_dtype : FM_DTYPE_F32;
    if (kv_dtype != FM_DTYPE_F32 && kv_dtype != FM_DTYPE_F16) return FM_STATUS_INVALID_ARGUMENT;
    const int f16 = kv_dtype == FM_DTYPE_F16;
    if (a->n_kv > c->n_ctx || a->n_head_kv <= 0 || a->n_head % a->n_head_kv != 0) return FM_STATUS_INVALID_ARGUMENT;
    for (int32_t t = 0; t < a->n_tok; t++)
        if (a->pos[t] < 0 || a->pos[t] >= a->n_kv) return FM_STATUS_INVALID_ARGUMENT;
    /* prompts through BLAS, as the batched matmuls (not the oracle's path,
     * not batch-invariant) */
    if (c->k != fm_cpu_kernels_ref() && !c->batch_invariant && a->n_tok >= FM_CPU_BLAS_MIN_TOKENS &&
        fm_cpu_attention_blas(c, a, f16))
        return FM_STATUS_OK;
    attn_job j = {a, c->scores, c->n_ctx, c->k, f16};
    int64_t work = (int64_t)a->n_tok * a->n_head * a->n_kv * a->head_dim * 2;
    fm_threadpool_run(c->pool, attn_slice, &j, fm_cpu_threads_for(c, work));
    return FM_STATUS_OK;
}
