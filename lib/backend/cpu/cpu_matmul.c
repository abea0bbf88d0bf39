/* Weight x activations for every weight type GGUF's readers handle: each
 * weight row is converted to f32 (in place for aligned f32) and dotted with
 * the f32 activations, so results are exact math on the stored weights.
 * Rows of the weight are split across threads; each row meets every token
 * while it is in cache. */
#include <stdlib.h>

#include "../../format/quant.h"
#include "cpu.h"

/* Eight partial sums so the compiler can keep them in vector lanes without
 * reassociating floating point behind our back. */
static float dot_f32(const float *a, const float *b, int64_t n) {
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += a[i + j] * b[i + j];
    float s = 0;
    for (; i < n; i++) s += a[i] * b[i];
    return s + ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

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
} matmul_job;

static void matmul_slice(void *arg, int ith, int nth) {
    const matmul_job *j = arg;
    const fm_weight *w = j->w;
    int64_t lo, hi;
    fm_cpu_slice(w->rows, ith, nth, &lo, &hi);
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
            j->y[(size_t)t * (size_t)j->y_stride + (size_t)r] = dot_f32(wr, j->x + (size_t)t * (size_t)w->cols, w->cols);
    }
}

fm_status fm_cpu_matmul(void *ctx, const fm_weight *w, const float *x, int32_t n_tok, float *y, int64_t y_stride) {
    fm_cpu_ctx *c = ctx;
    if (!fm_dtype_can_dequantize(w->dtype)) return FM_STATUS_UNSUPPORTED;
    int nth = fm_cpu_threads_for(c, w->rows * w->cols * (int64_t)n_tok);
    size_t need = (size_t)nth * (size_t)w->cols;
    if (need > c->rowbuf_len) {
        /* grows to the widest weight once, then stays */
        float *p = realloc(c->rowbuf, need * sizeof *p);
        if (p == NULL) return FM_STATUS_NO_MEMORY;
        c->rowbuf = p;
        c->rowbuf_len = need;
    }
    matmul_job j = {w, x, n_tok, y, y_stride, c->rowbuf};
    fm_threadpool_run(c->pool, matmul_slice, &j, nth);
    return FM_STATUS_OK;
}
