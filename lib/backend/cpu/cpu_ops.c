/* The element-wise and per-row ops: embedding lookup, RMSNorm, LayerNorm,
 * RoPE, SwiGLU, GELU, residual and bias adds. Cheap next to matmul and
 * attention, so single-threaded, and they ignore ctx (libfm calls them with
 * another backend's ctx when that backend leaves them out). */
#include <math.h>

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

fm_status fm_cpu_rope_ext(void *ctx, float *x, int32_t n_tok, int32_t n_head, int32_t head_dim, int32_t n_rot,
                          const int32_t *pos, float freq_base, float freq_scale, int32_t mode) {
    (void)ctx;
    if (n_rot > head_dim || n_rot % 2 != 0 || (mode != FM_ROPE_NORMAL && mode != FM_ROPE_NEOX))
        return FM_STATUS_INVALID_ARGUMENT;
    const int32_t half = n_rot / 2;
    for (int32_t t = 0; t < n_tok; t++) {
        for (int32_t i = 0; i < half; i++) {
            /* theta = pos * scale * base^(-2i/n_rot), in double: exact to f32 */
            const double theta = pos[t] * (double)freq_scale * pow(freq_base, -2.0 * i / n_rot);
            const float c = (float)cos(theta), s = (float)sin(theta);
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
