/* The element-wise and per-row ops: embedding lookup, RMSNorm, LayerNorm,
 * RoPE, SwiGLU, GELU, residual and bias adds. Cheap next to matmul and
 * attention, so single-threaded, and they ignore ctx (libfm calls them with
 * another backend's ctx when that backend leaves them out). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/alloc.h"
#include "../../format/quant.h"
#include "cpu.h"

fm_status fm_cpu_get_rows(void *ctx, const fm_weight *table, const int32_t *ids, int32_t n, float *out) {
    (void)ctx;
    if (!fm_dtype_can_dequantize(table->dtype))
        return FM_STATUS_UNSUPPORTED;
    for (int32_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= table->rows) return FM_STATUS_INVALID_ARGUMENT;
        fm_cpu_row_to_f32(table, ids[i], out + (size_t)i * (size_t)table->cols);
    }
    return FM_STATUS_OK;
}

fm_status fm_cpu_rmsnorm(void *ctx, const float *x, const float *weight, int32_t n, int32_t n_rows, float eps,
                         float *y) {
    (void)ctx;
    for (int32_t r = 0; r < n_rows; r++) {
        const float *xr = x + (size_t)r * (size_t)n;
        float *yr = y + (size_t)r * (size_t)n;
        double ss = 0;
        for (int32_t i = 0; i < n; i++) ss += (double)xr[i] * xr[i];
        const float scale = (float)(1.0 / sqrt(ss / n + eps));
        for (int32_t i = 0; i < n; i++) yr[i] = xr[i] * scale * weight[i];
    }
    return FM_STATUS_OK;
}

/* cos and sin of theta = pos * scale * base^(-2i/n_rot), in double (exact
 * to f32), for n_tok positions; kept for the next call with the same
 * positions and parameters. NULL when out of memory (the caller computes
 * them itself). */
static const float *rope_angles(fm_cpu_ctx *c, int32_t n_tok, int32_t n_rot, const int32_t *pos, float base,
                                float scale) {
    const int32_t half = n_rot / 2;
    if (n_tok > 0 && c->rope.n_tok == n_tok && c->rope.n_rot == n_rot && c->rope.base == base && c->rope.scale == scale &&
        c->rope.cs != NULL && memcmp(c->rope.pos, pos, (size_t)n_tok * sizeof *pos) == 0)
        return c->rope.cs;
    c->rope.n_tok = -1; /* invalid until filled */
    const size_t need = (size_t)n_tok * (size_t)half * 2;
    if (need > c->rope.cs_cap) {
        float *cs = fm_realloc(c->rope.cs, need * sizeof *cs);
        if (cs == NULL) return NULL;
        c->rope.cs = cs, c->rope.cs_cap = need;
    }
    if ((size_t)n_tok > c->rope.pos_cap) {
        int32_t *p = fm_realloc(c->rope.pos, (size_t)n_tok * sizeof *p);
        if (p == NULL) return NULL;
        c->rope.pos = p, c->rope.pos_cap = (size_t)n_tok;
    }
    for (int32_t t = 0; t < n_tok; t++)
        for (int32_t i = 0; i < half; i++) {
            const double theta = pos[t] * (double)scale * pow(base, -2.0 * i / n_rot);
            c->rope.cs[((size_t)t * (size_t)half + (size_t)i) * 2] = (float)cos(theta);
            c->rope.cs[((size_t)t * (size_t)half + (size_t)i) * 2 + 1] = (float)sin(theta);
        }
    memcpy(c->rope.pos, pos, (size_t)n_tok * sizeof *pos);
    c->rope.n_tok = n_tok, c->rope.n_rot = n_rot, c->rope.base = base, c->rope.scale = scale;
    return c->rope.cs;
}

fm_status fm_cpu_rope_ext(void *ctx, float *x, int32_t n_tok, int32_t n_head, int32_t head_dim, int32_t n_rot,
                          const int32_t *pos, float freq_base, float freq_scale, int32_t mode) {
    if (n_rot > head_dim || n_rot % 2 != 0 || (mode != FM_ROPE_NORMAL && mode != FM_ROPE_NEOX))
        return FM_STATUS_INVALID_ARGUMENT;
    const int32_t half = n_rot / 2;
    /* without a cpu context (the stand-in for another backend) the angles
     * are computed in place rather than cached */
    const float *cs = n_rot > 0 && ctx != NULL ? rope_angles(ctx, n_tok, n_rot, pos, freq_base, freq_scale) : NULL;
    for (int32_t t = 0; t < n_tok; t++) {
        for (int32_t i = 0; i < half; i++) {
            float c, s;
            if (cs != NULL) {
                c = cs[((size_t)t * (size_t)half + (size_t)i) * 2];
                s = cs[((size_t)t * (size_t)half + (size_t)i) * 2 + 1];
            } else {
                const double theta = pos[t] * (double)freq_scale * pow(freq_base, -2.0 * i / n_rot);
                c = (float)cos(theta), s = (float)sin(theta);
            }
            const int32_t a = mode == FM_ROPE_NEOX ? i : 2 * i;
            const int32_t b = mode == FM_ROPE_NEOX ? i + half : 2 * i + 1;
            for (int32_t h = 0; h < n_head; h++) {
                float *v = x + ((size_t)t * (size_t)n_head + (size_t)h) * (size_t)head_dim;
                const float x0 = v[a], x1 = v[b];
                v[a] = x0 * c - x1 * s;
                v[b] = x0 * s + x1 * c;
            }
        }
    }
    return FM_STATUS_OK;
}

fm_status fm_cpu_rope(void *ctx, float *x, int32_t n_tok, int32_t n_head, int32_t head_dim, int32_t n_rot,
                      const int32_t *pos, float freq_base, int32_t mode) {
    return fm_cpu_rope_ext(ctx, x, n_tok, n_head, head_dim, n_rot, pos, freq_base, 1.0f, mode);
}

fm_status fm_cpu_swiglu(void *ctx, const float *gate, const float *up, int64_t n, float *out) {
    ((const fm_cpu_ctx *)ctx)->k->swiglu(gate, up, n, out);
    return FM_STATUS_OK;
}

fm_status fm_cpu_add(void *ctx, float *y, const float *x, int64_t n) {
    (void)ctx;
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
    return FM_STATUS_OK;
}

fm_status fm_cpu_layernorm(void *ctx, const float *x, const float *weight, const float *bias, int32_t n,
                           int32_t n_rows, float eps, float *y) {
    (void)ctx;
    for (int32_t r = 0; r < n_rows; r++) {
        const float *xr = x + (size_t)r * (size_t)n;
        float *yr = y + (size_t)r * (size_t)n;
        double sum = 0, ss = 0;
        for (int32_t i = 0; i < n; i++) sum += xr[i];
        const double mean = sum / n;
        for (int32_t i = 0; i < n; i++) ss += (xr[i] - mean) * (xr[i] - mean);
        const double inv = 1.0 / sqrt(ss / n + eps);
        for (int32_t i = 0; i < n; i++) {
            const float v = (float)((xr[i] - mean) * inv) * weight[i];
            yr[i] = bias ? v + bias[i] : v;
        }
    }
    return FM_STATUS_OK;
}

fm_status fm_cpu_gelu(void *ctx, const float *x, int64_t n, float *out) {
    (void)ctx;
    const double k = 0.7978845608028654; /* sqrt(2/pi) */
    for (int64_t i = 0; i < n; i++) {
        const double v = x[i];
        out[i] = (float)(0.5 * v * (1.0 + tanh(k * (v + 0.044715 * v * v * v))));
    }
    return FM_STATUS_OK;
}

fm_status fm_cpu_add_rows(void *ctx, float *y, const float *row, int32_t n, int32_t n_rows) {
    (void)ctx;
    for (int32_t r = 0; r < n_rows; r++) {
        float *yr = y + (size_t)r * (size_t)n;
        for (int32_t i = 0; i < n; i++) yr[i] += row[i];
    }
    return FM_STATUS_OK;
}
