/* Weight x activations for every weight type GGUF's readers handle. A type
 * the context's kernel table has a matmul for goes to it (activations first
 * converted to its format, e.g. q8_0); any other type - and every type in
 * the reference table - has each weight row converted to f32 (in place for
 * aligned f32) and dotted with the f32 activations: exact math on the
 * stored weights. Rows are split across threads, each row computed by one
 * thread the same way for any thread count; each row meets every token
 * while it is in cache. */
#include <stdlib.h>

#include "../../format/quant.h"
#include "cpu.h"

void fm_cpu_row_to_f32(const fm_weight *w, int64_t row, float *out) {
    fm_dequantize_row(w->dtype, (const uint8_t *)w->data + (size_t)row * w->row_bytes, w->cols, out);
}

typedef struct matmul_job {
    const fm_weight *w;
    const float *x;
    int32_t n_tok;
    float *y;
    int64_t y_stride;
    float *rowbuf; /* one row per thread, for converted weights */
    const fm_cpu_kernels *k;
    fm_matmul_rows_fn fn; /* the table's kernel, or NULL for convert-and-dot */
    const uint8_t *xs;    /* activations in fn's format */
    size_t x_stride;
} matmul_job;

static void matmul_slice(void *arg, int ith, int nth) {
    const matmul_job *j = arg;
    const fm_weight *w = j->w;
    int64_t lo, hi;
    fm_cpu_slice(w->rows, ith, nth, &lo, &hi);
    if (j->fn != NULL) {
        j->fn(w, lo, hi, j->xs, j->x_stride, j->n_tok, j->y, j->y_stride);
        return;
    }
    float *row = j->rowbuf + (size_t)ith * (size_t)w->cols;
    for (int64_t r = lo; r < hi; r++) {
        const float *wr;
        if (w->dtype == FM_DTYPE_F32 && ((uintptr_t)w->data & 3) == 0) {
            wr = (const float *)((const uint8_t *)w->data + (size_t)r * w->row_bytes);
        } else {
            fm_cpu_row_to_f32(w, r, row);
            wr = row;
        }
        for (int32_t t = 0; t < j->n_tok; t++)
            j->y[(size_t)t * (size_t)j->y_stride + (size_t)r] =
                j->k->dot_f32(wr, j->x + (size_t)t * (size_t)w->cols, w->cols);
    }
}

static int grow(void **buf, size_t *len, size_t need) {
    if (need <= *len) return 1;
    void *p = realloc(*buf, need); /* grows to the widest weight once, then stays */
    if (p == NULL) return 0;
    *buf = p;
    *len = need;
    return 1;
}

fm_status fm_cpu_matmul(void *ctx, const fm_weight *w, const float *x, int32_t n_tok, float *y, int64_t y_stride) {
    fm_cpu_ctx *c = ctx;
    if (!fm_dtype_can_dequantize(w->dtype)) return FM_STATUS_UNSUPPORTED;
    const fm_cpu_kernels *k = c->k;
    /* long batches (prompts) through BLAS, except for the oracle and when
     * rows must not depend on the batch */
    if (k != fm_cpu_kernels_ref() && !c->batch_invariant && n_tok >= FM_CPU_BLAS_MIN_TOKENS &&
        fm_cpu_blas_matmul(c, w, x, n_tok, y, y_stride))
        return FM_STATUS_OK;
    matmul_job j = {w, x, n_tok, y, y_stride, NULL, k, NULL, (const uint8_t *)x, (size_t)w->cols * sizeof *x};
    if (w->dtype >= 0 && w->dtype < 36) j.fn = k->matmul[w->dtype];
    if (j.fn != NULL && k->act[w->dtype] == FM_ACT_Q8_0) {
        /* activations to q8_0 blocks once, for every row to read */
        j.x_stride = (size_t)(w->cols / 32) * FM_Q8_0_BYTES;
        if (!grow((void **)&c->actbuf, &c->actbuf_len, j.x_stride * (size_t)n_tok)) return FM_STATUS_NO_MEMORY;
        for (int32_t t = 0; t < n_tok; t++) k->quantize_q8_0(x + (size_t)t * (size_t)w->cols, w->cols, c->actbuf + (size_t)t * j.x_stride);
        j.xs = c->actbuf;
    }
    int nth = fm_cpu_threads_for(c, w->rows * w->cols * (int64_t)n_tok);
    if (j.fn == NULL) {
        size_t need = (size_t)nth * (size_t)w->cols * sizeof(float);
        if (!grow((void **)&c->rowbuf, &c->rowbuf_len, need)) return FM_STATUS_NO_MEMORY;
        j.rowbuf = c->rowbuf;
    }
    fm_threadpool_run(c->pool, matmul_slice, &j, nth);
    return FM_STATUS_OK;
}
