/* Scaled dot-product attention over the KV cache, one (token, head) pair at
 * a time (the kernel table's attn_row), pairs dealt across threads. Memory
 * is linear in the context: at most one row of scores per thread. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "../../core/alloc.h"
#include "../../core/error.h"
#include "cpu.h"

typedef struct attn_job {
    const fm_attention_args *a;
    float *scores;
    int n_ctx;
    const fm_cpu_kernels *k;
    int f16; /* the cache holds halves */
    const int32_t *runs, *run_off; /* the rows each query row sees (ABI 4) */
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
        const int32_t *runs = j->runs + 2 * (size_t)j->run_off[t], n_runs = j->run_off[t + 1] - j->run_off[t];
        float *out = a->out + ((size_t)t * (size_t)a->n_head + (size_t)h) * (size_t)D;
        if (j->f16)
            j->k->attn_row_f16(q, (const uint16_t *)(const void *)a->k + kv_off,
                               (const uint16_t *)(const void *)a->v + kv_off, a->kv_stride, runs, n_runs, D, a->scale,
                               sc, out);
        else
            j->k->attn_row(q, a->k + kv_off, a->v + kv_off, a->kv_stride, runs, n_runs, D, a->scale, sc, out);
    }
}

/* For a caller of an older ABI (no runs): one run per row, cell ==
 * position, as that contract had it. */
static int legacy_runs(fm_cpu_ctx *c, const fm_attention_args *a) {
    const size_t need = (size_t)a->n_tok * 3 + 1;
    if (need > c->runbuf_len) {
        int32_t *p = fm_realloc(c->runbuf, need * sizeof *p);
        if (p == NULL) return 0;
        c->runbuf = p, c->runbuf_len = need;
    }
    int32_t *off = c->runbuf, *runs = c->runbuf + a->n_tok + 1;
    for (int32_t t = 0; t <= a->n_tok; t++) off[t] = t;
    for (int32_t t = 0; t < a->n_tok; t++) {
        const int32_t p = a->pos[t];
        runs[2 * t] = a->causal && a->window > 0 && p - a->window + 1 > 0 ? p - a->window + 1 : 0;
        runs[2 * t + 1] = a->causal ? p + 1 : a->n_kv;
    }
    return 1;
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
    const int has_runs = a->struct_size >= offsetof(fm_attention_args, run_off) + sizeof a->run_off && a->runs != NULL &&
                         a->run_off != NULL;
    const int32_t *runs, *run_off;
    if (has_runs) {
        runs = a->runs, run_off = a->run_off;
    } else {
        for (int32_t t = 0; t < a->n_tok; t++)
            if (a->pos[t] < 0 || a->pos[t] >= a->n_kv) return FM_STATUS_INVALID_ARGUMENT;
        if (!legacy_runs(c, a)) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for attention runs");
        run_off = c->runbuf, runs = c->runbuf + a->n_tok + 1;
    }
    if (run_off[0] != 0) return FM_STATUS_INVALID_ARGUMENT;
    for (int32_t t = 0; t < a->n_tok; t++) { /* rows must be cells the cache has */
        if (run_off[t + 1] < run_off[t]) return FM_STATUS_INVALID_ARGUMENT;
        for (int32_t r = run_off[t], prev = 0; r < run_off[t + 1]; prev = runs[2 * r + 1], r++)
            if (runs[2 * r] < prev || runs[2 * r] > runs[2 * r + 1] || runs[2 * r + 1] > a->n_kv)
                return FM_STATUS_INVALID_ARGUMENT;
    }
    /* prompts through BLAS, as the batched matmuls (not the oracle's path,
     * not batch-invariant) */
    if (c->k != fm_cpu_kernels_ref() && !c->batch_invariant && a->n_tok >= FM_CPU_BLAS_MIN_TOKENS &&
        fm_cpu_attention_blas(c, a, f16, runs, run_off))
        return FM_STATUS_OK;
    attn_job j = {a, c->scores, c->n_ctx, c->k, f16, runs, run_off};
    int64_t work = (int64_t)a->n_tok * a->n_head * a->n_kv * a->head_dim * 2;
    fm_threadpool_run(c->pool, attn_slice, &j, fm_cpu_threads_for(c, work));
    return FM_STATUS_OK;
}
