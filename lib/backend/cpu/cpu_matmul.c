/* Weight x activations for every weight type GGUF's readers handle. A type
 * the context's kernel table has a matmul for goes to it (activations first
 * converted to its format, e.g. q8_0); any other type - and every type in
 * the reference table - has each weight row converted to f32 (in place for
 * aligned f32) and dotted with the f32 activations: exact math on the
 * stored weights. Rows are split across threads, each row computed by one
 * thread the same way for any thread count; each row meets every token
 * while it is in cache. */
#include <stdlib.h>
#include <string.h>

#include "../../core/alloc.h"
#include "../../core/error.h"
#include "../../core/half.h"
#include "../../format/quant.h"
#include "cpu.h"

void fm_cpu_row_to_f32(const fm_weight *w, int64_t row, float *out) {
    fm_dequantize_row(w->dtype, (const uint8_t *)w->data + (size_t)row * w->row_bytes, w->cols, out);
}

/* Weight bytes a generation kernel gets at a time when several tokens
 * share a call: about half of a core's L2. */
#define CHUNK_BYTES (512 * 1024)

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
        /* several tokens (sequences decoding side by side): the kernels run
         * token by token over their rows, so they get the rows a chunk at a
         * time, small enough to stay in cache while every token passes:
         * the weights come from memory once for all tokens. Each (row,
         * token) is computed as alone, so the bits do not change. */
        int64_t step = hi - lo;
        if (j->n_tok > 1) {
            step = (int64_t)(CHUNK_BYTES / (w->row_bytes ? w->row_bytes : 1)) / 4 * 4;
            if (step < 4) step = 4;
        }
        for (int64_t r = lo; r < hi; r += step)
            j->fn(w, r, hi - r < step ? hi : r + step, j->xs, j->x_stride, j->n_tok, j->y, j->y_stride);
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
    void *p = fm_realloc(*buf, need); /* grows to the widest weight once, then stays */
    if (p == NULL) return 0;
    *buf = p;
    *len = need;
    return 1;
}

/* Activation rows t0..t1 to q8_0 blocks (stride bytes a row) and, when xd
 * is given, each block's scale and sum of quants (the 8-bit GEMM's). */
static void quantize_rows(const fm_cpu_kernels *k, const float *x, int64_t cols, int64_t t0, int64_t t1, uint8_t *q,
                          size_t stride, float *xd, int32_t *xsum) {
    const int64_t nb = cols / 32;
    for (int64_t t = t0; t < t1; t++) {
        uint8_t *qt = q + (size_t)t * stride;
        k->quantize_q8_0(x + (size_t)t * (size_t)cols, cols, qt);
        for (int64_t b = 0; xd != NULL && b < nb; b++) {
            const uint8_t *blk = qt + (size_t)b * FM_Q8_0_BYTES;
            uint16_t h;
            memcpy(&h, blk, 2);
            int32_t sum = 0;
            for (int e = 0; e < 32; e++) sum += (int8_t)blk[2 + e];
            xd[t * nb + b] = fm_f16_to_f32(h);
            xsum[t * nb + b] = sum;
        }
    }
}

/* Quantizes n_tok activation rows to the kernel's blocks (q8_0 or q8_K)
 * in c->actbuf; returns the row stride, 0 when out of memory. */
static size_t quantize_acts(fm_cpu_ctx *c, int act, int64_t cols, const float *x, int32_t n_tok) {
    const size_t stride = act == FM_ACT_Q8_K ? (size_t)(cols / 256) * sizeof(fm_block_q8k)
                                             : (size_t)(cols / 32) * FM_Q8_0_BYTES;
    if (!grow((void **)&c->actbuf, &c->actbuf_len, stride * (size_t)n_tok)) return 0;
    if (act == FM_ACT_Q8_K)
        for (int32_t t = 0; t < n_tok; t++)
            c->k->quantize_q8_k(x + (size_t)t * (size_t)cols, cols, (fm_block_q8k *)(void *)(c->actbuf + (size_t)t * stride));
    else
        quantize_rows(c->k, x, cols, 0, n_tok, c->actbuf, stride, NULL, NULL);
    return stride;
}

typedef struct gemm_job {
    const fm_weight *w;
    fm_gemm_rows_fn fn;
    const uint8_t *x;
    size_t x_stride;
    const float *xd;
    const int32_t *xsum;
    int32_t n_tok;
    float *y;
    int64_t ys;
    uint8_t *packs;
    size_t pack_bytes;
} gemm_job;

static void gemm_slice(void *arg, int ith, int nth) {
    const gemm_job *j = arg;
    int64_t lo, hi;
    fm_cpu_slice(j->w->rows, ith, nth, &lo, &hi);
    if (lo < hi)
        j->fn(j->w, lo, hi, j->x, j->x_stride, j->xd, j->xsum, j->n_tok, j->y, j->ys,
              j->packs + (size_t)ith * j->pack_bytes);
}

/* Activations of a prompt to q8_0 blocks, with each block's scale and
 * quant sum, tokens split across the threads (done serially it would cap
 * the GEMM's thread scaling). */
typedef struct quant_job {
    const fm_cpu_kernels *k;
    const float *x;
    int64_t cols;
    int32_t n_tok;
    uint8_t *q;
    size_t stride;
    float *xd;
    int32_t *xsum;
} quant_job;

static void quant_slice(void *arg, int ith, int nth) {
    const quant_job *j = arg;
    int64_t t0, t1;
    fm_cpu_slice(j->n_tok, ith, nth, &t0, &t1);
    quantize_rows(j->k, j->x, j->cols, t0, t1, j->q, j->stride, j->xd, j->xsum);
}

/* A prompt through the table's 8-bit GEMM: activations to q8_0 with each
 * block's scale and quant sum, then rows split across threads. Returns 0
 * (nothing done) when a buffer cannot be had. */
static int gemm_matmul(fm_cpu_ctx *c, fm_gemm_rows_fn fn, const fm_weight *w, const float *x, int32_t n_tok, float *y,
                       int64_t ys) {
    const int64_t nb = w->cols / 32;
    const size_t stride = (size_t)nb * FM_Q8_0_BYTES;
    if (!grow((void **)&c->actbuf, &c->actbuf_len, stride * (size_t)n_tok)) return 0;
    const int nth = fm_cpu_threads_for(c, w->rows * w->cols * (int64_t)n_tok);
    const size_t sums = (size_t)nb * (size_t)n_tok, pack = fm_gemm_pack_bytes(w->cols);
    if (!grow((void **)&c->gemmbuf, &c->gemmbuf_len, sums * 8 + (size_t)nth * pack)) return 0;
    float *xd = (float *)(void *)c->gemmbuf;
    int32_t *xsum = (int32_t *)(void *)(c->gemmbuf + sums * 4);
    quant_job q = {c->k, x, w->cols, n_tok, c->actbuf, stride, xd, xsum};
    fm_threadpool_run(c->pool, quant_slice, &q, nth);
    gemm_job j = {w, fn, c->actbuf, stride, xd, xsum, n_tok, y, ys, c->gemmbuf + sums * 8, pack};
    fm_threadpool_run(c->pool, gemm_slice, &j, nth);
    return 1;
}

/* ---- the K-quant GEMM (prompts) ----------------------------------------- */

typedef struct kquant_job {
    const fm_cpu_kernels *k;
    const float *x;
    int64_t cols;
    int32_t n_tok;
    fm_gemm_k_acts a;
} kquant_job;

/* Tokens of a prompt to the K GEMM's activations (q8_K, quants + 128 in
 * tiles of interleaved tokens, block sums as floats), tiles split across
 * the threads. */
static void kquant_slice(void *arg, int ith, int nth) {
    const kquant_job *j = arg;
    enum { T = FM_GEMM_K_T };
    const int64_t cols = j->cols, nsb = cols / 256, n_tiles = (j->n_tok + T - 1) / T;
    int64_t i0, i1;
    fm_cpu_slice(n_tiles, ith, nth, &i0, &i1);
    for (int64_t i = i0; i < i1; i++) {
        uint8_t *xu = (uint8_t *)j->a.xu + (size_t)(i * cols * T);
        float *d = (float *)j->a.d + i * nsb * T, *xs16 = (float *)j->a.xs16 + i * (cols / 16) * T;
        float *xs32 = (float *)j->a.xs32 + i * (cols / 32) * T;
        for (int k = 0; k < T; k++) {
            const int64_t t = i * T + k;
            for (int64_t b = 0; b < nsb; b++) {
                fm_block_q8k q;
                if (t < j->n_tok) j->k->quantize_q8_k(j->x + (size_t)(t * cols + b * 256), 256, &q);
                else memset(&q, 0, sizeof q); /* padding: contributes zero */
                for (int e = 0; e < 256; e += 4)
                    for (int m = 0; m < 4; m++) xu[(b * 256 + e) * T + 4 * k + m] = (uint8_t)(q.qs[e + m] + 128);
                d[b * T + k] = q.d;
                for (int g = 0; g < 16; g++) xs16[(b * 16 + g) * T + k] = (float)q.bsums[g];
                for (int g = 0; g < 8; g++) xs32[(b * 8 + g) * T + k] = (float)(q.bsums[2 * g] + q.bsums[2 * g + 1]);
            }
        }
    }
}

typedef struct gemm_k_job {
    const fm_weight *w;
    fm_gemm_k_fn fn;
    const fm_gemm_k_acts *a;
    int32_t n_tok;
    float *y;
    int64_t ys;
    uint8_t *packs;
    size_t pack_bytes;
} gemm_k_job;

static void gemm_k_slice(void *arg, int ith, int nth) {
    const gemm_k_job *j = arg;
    int64_t lo, hi;
    fm_cpu_slice(j->w->rows, ith, nth, &lo, &hi);
    if (lo < hi) j->fn(j->w, lo, hi, j->a, j->n_tok, j->y, j->ys, j->packs + (size_t)ith * j->pack_bytes);
}

static size_t round64(size_t n) { return (n + 63) / 64 * 64; }

/* A prompt through the table's K-quant GEMM; 0 (nothing done) when a
 * buffer cannot be had. */
static int gemm_k_matmul(fm_cpu_ctx *c, fm_gemm_k_fn fn, const fm_weight *w, const float *x, int32_t n_tok, float *y,
                         int64_t ys) {
    const int64_t cols = w->cols;
    const size_t nt = (size_t)((n_tok + FM_GEMM_K_T - 1) / FM_GEMM_K_T * FM_GEMM_K_T), xu_bytes = round64(nt * (size_t)cols);
    const size_t d_bytes = round64(nt * (size_t)(cols / 256) * 4), s16 = round64(nt * (size_t)(cols / 16) * 4),
                 s32 = round64(nt * (size_t)(cols / 32) * 4);
    const int nth = fm_cpu_threads_for(c, w->rows * cols * (int64_t)n_tok);
    const size_t pack = fm_gemm_k_pack_bytes(cols);
    if (!grow((void **)&c->actbuf, &c->actbuf_len, xu_bytes)) return 0;
    if (!grow((void **)&c->gemmbuf, &c->gemmbuf_len, d_bytes + s16 + s32 + (size_t)nth * pack)) return 0;
    kquant_job q = {c->k, x, cols, n_tok,
                    {c->actbuf, (const float *)(void *)c->gemmbuf, (const float *)(void *)(c->gemmbuf + d_bytes),
                     (const float *)(void *)(c->gemmbuf + d_bytes + s16)}};
    fm_threadpool_run(c->pool, kquant_slice, &q, nth);
    gemm_k_job j = {w, fn, &q.a, n_tok, y, ys, c->gemmbuf + d_bytes + s16 + s32, pack};
    fm_threadpool_run(c->pool, gemm_k_slice, &j, nth);
    return 1;
}

/* ---- the float GEMM (prompts on f32/f16/bf16 weights) ------------------ */

typedef struct gemm_f_job {
    const fm_weight *w;
    fm_gemm_f_fn fn;
    const float *x;
    int32_t n_tok;
    float *y;
    int64_t ys;
    uint8_t *scratch;
    size_t scratch_bytes;
} gemm_f_job;

static void gemm_f_slice(void *arg, int ith, int nth) {
    const gemm_f_job *j = arg;
    int64_t lo, hi;
    fm_cpu_slice(j->w->rows, ith, nth, &lo, &hi);
    if (lo < hi) j->fn(j->w, lo, hi, j->x, j->n_tok, j->y, j->ys, j->scratch + (size_t)ith * j->scratch_bytes);
}

static int gemm_f_matmul(fm_cpu_ctx *c, fm_gemm_f_fn fn, const fm_weight *w, const float *x, int32_t n_tok, float *y,
                         int64_t ys) {
    const int nth = fm_cpu_threads_for(c, w->rows * w->cols * (int64_t)n_tok);
    const size_t per = round64(fm_gemm_f_scratch_bytes(w->cols, n_tok));
    if (!grow((void **)&c->gemmbuf, &c->gemmbuf_len, (size_t)nth * per)) return 0;
    gemm_f_job j = {w, fn, x, n_tok, y, ys, c->gemmbuf, per};
    fm_threadpool_run(c->pool, gemm_f_slice, &j, nth);
    return 1;
}

/* A prompt on a type without a GEMM of its own in the table (iq4_xs on
 * the AVX2 table, q4_1/q5_0/q5_1/iq4_nl on every table): each
 * thread widens a chunk of rows to f32 (bit-identical to the reference
 * dequantizer) and multiplies all tokens against it with the table's f32
 * GEMM, or with sgemm where the table has none or FM_FLOAT_GEMM=blas.
 * Threads take whole chunks of a fixed grid, so every row meets the GEMM
 * in the same chunk whatever the thread count. Activations stay f32:
 * exact math on the stored weights. Not batch-invariant (the GEMM's
 * summation order is not the one-token kernels'), so
 * FM_BACKEND_BATCH_INVARIANT never comes here. */
#define CHUNK_ROWS 256

typedef struct chunk_job {
    const fm_cpu_kernels *k;
    fm_gemm_f_fn gf; /* NULL: sgemm */
    const fm_weight *w;
    const float *x;
    int32_t n_tok;
    float *y;
    int64_t ys;
    uint8_t *buf; /* per thread: CHUNK_ROWS x cols floats, then gf's scratch */
    size_t per;
} chunk_job;

static void chunk_slice(void *arg, int ith, int nth) {
    const chunk_job *j = arg;
    const fm_weight *w = j->w;
    int64_t c0, c1;
    fm_cpu_slice((w->rows + CHUNK_ROWS - 1) / CHUNK_ROWS, ith, nth, &c0, &c1);
    const int in_place = w->dtype == FM_DTYPE_F32 && ((uintptr_t)w->data & 3) == 0;
    uint8_t *mine = j->buf + (size_t)ith * j->per;
    float *buf = (float *)(void *)mine;
    uint8_t *scratch = mine + round64((size_t)CHUNK_ROWS * (size_t)w->cols * sizeof(float));
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
        if (j->gf != NULL) {
            const fm_weight cw = {wc, FM_DTYPE_F32, 0, nr, w->cols, (size_t)w->cols * sizeof(float)};
            j->gf(&cw, 0, nr, j->x, j->n_tok, j->y + r0, j->ys, scratch);
        } else /* Y[t][r0 + r] = sum_c X[t][c] * Wc[r][c] */
            fm_cpu_sgemm(1, j->n_tok, (int)nr, (int)w->cols, 1.0f, j->x, (int)w->cols, wc, (int)w->cols, j->y + r0,
                         (int)j->ys);
    }
}

/* 0 (nothing done) when neither GEMM is at hand or a buffer cannot be had:
 * the kernels need no buffer, the caller falls back to them */
static int chunk_matmul(fm_cpu_ctx *c, const fm_weight *w, const float *x, int32_t n_tok, float *y, int64_t ys) {
    if (w->cols > (1 << 24) || w->rows > (1 << 24) || ys > (1 << 30)) return 0;
    fm_gemm_f_fn gf = c->float_blas ? NULL : c->k->gemm_f[FM_DTYPE_F32];
    if (gf == NULL && fm_cpu_blas_core() == NULL) return 0;
    const int nth = c->n_threads;
    const size_t per = round64((size_t)CHUNK_ROWS * (size_t)w->cols * sizeof(float)) +
                       (gf != NULL ? round64(fm_gemm_f_scratch_bytes(w->cols, n_tok)) : 0);
    if (!grow((void **)&c->chunkbuf, &c->chunkbuf_len, (size_t)nth * per)) return 0;
    chunk_job j = {c->k, gf, w, x, n_tok, y, ys, c->chunkbuf, per};
    const int host = gf != NULL ? 1 : fm_cpu_blas_enter();
    fm_threadpool_run(c->pool, chunk_slice, &j, nth);
    if (gf == NULL) fm_cpu_blas_leave(host);
    return 1;
}

fm_status fm_cpu_matmul(void *ctx, const fm_weight *w, const float *x, int32_t n_tok, float *y, int64_t y_stride) {
    fm_cpu_ctx *c = ctx;
    if (!fm_dtype_can_dequantize(w->dtype)) return FM_STATUS_UNSUPPORTED;
    const fm_cpu_kernels *k = c->k;
    /* long batches (prompts) through the table's GEMMs or BLAS, except
     * for the oracle and when rows must not depend on the batch */
    if (k != fm_cpu_kernels_ref() && !c->batch_invariant && n_tok >= FM_CPU_BLAS_MIN_TOKENS) {
        fm_gemm_rows_fn g = w->dtype >= 0 && w->dtype < 36 ? k->gemm[w->dtype] : NULL;
        if (g != NULL && gemm_matmul(c, g, w, x, n_tok, y, y_stride)) return FM_STATUS_OK;
        fm_gemm_k_fn gk = w->dtype >= 0 && w->dtype < 36 ? k->gemm_k[w->dtype] : NULL;
        if (gk != NULL && w->cols % 256 == 0 && gemm_k_matmul(c, gk, w, x, n_tok, y, y_stride)) return FM_STATUS_OK;
        fm_gemm_f_fn gf = w->dtype >= 0 && w->dtype < 36 && !c->float_blas ? k->gemm_f[w->dtype] : NULL;
        if (gf != NULL && gemm_f_matmul(c, gf, w, x, n_tok, y, y_stride)) return FM_STATUS_OK;
        if (chunk_matmul(c, w, x, n_tok, y, y_stride)) return FM_STATUS_OK;
    }
    matmul_job j = {w, x, n_tok, y, y_stride, NULL, k, NULL, (const uint8_t *)x, (size_t)w->cols * sizeof *x};
    if (w->dtype >= 0 && w->dtype < 36) j.fn = k->matmul[w->dtype];
    if (j.fn != NULL && k->act[w->dtype] != FM_ACT_F32) {
        /* activations to 8-bit blocks once, for every row to read */
        j.x_stride = quantize_acts(c, k->act[w->dtype], w->cols, x, n_tok);
        if (j.x_stride == 0) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for quantized activations");
        j.xs = c->actbuf;
    }
    int nth = fm_cpu_threads_for(c, w->rows * w->cols * (int64_t)n_tok);
    if (j.fn == NULL) {
        size_t need = (size_t)nth * (size_t)w->cols * sizeof(float);
        if (!grow((void **)&c->rowbuf, &c->rowbuf_len, need))
            return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a matmul row buffer");
        j.rowbuf = c->rowbuf;
    }
    fm_threadpool_run(c->pool, matmul_slice, &j, nth);
    return FM_STATUS_OK;
}
