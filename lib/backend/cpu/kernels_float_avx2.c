/* AVX2 + F16C prompt GEMM for float weights (f32, f16, bf16) against f32
 * activations: what the AVX-512 one (kernels_float_avx512.c) does for
 * CPUs without AVX-512, so that their float prompts and prompt attention
 * need no BLAS either. Debian's serial OpenBLAS runs one sgemm at a time
 * process-wide (cpu_blas.c), so on more than one thread sgemm cannot use
 * libfm's threads; and where OpenBLAS does not know the CPU it runs SSE3
 * kernels (docs/performance.md).
 *
 * The same packing as the AVX-512 kernel - groups of 16 weight rows as
 * [column][16] f32 (f16 and bf16 widened exactly), tokens in tiles of 8
 * with token t's column k at 8k + t - and a register tile that fits
 * AVX2's 16 registers: one group (two 8-lane halves) by 4 tokens, 8
 * accumulators, per column two weight loads, four broadcasts and eight
 * FMAs. Each (row, token) is one FMA chain in column order, so results do
 * not depend on the rows, tokens or threads around it. Tried: 6 tokens
 * (12 chains) plus a 2-token pass for the tile's rest - slower (pp128 F16
 * 430-510 against 650 t/s): the 2-token pass is latency-bound and took a
 * third of the time. */
#include <immintrin.h>
#include <string.h>

#include "kernels_float.h"

#define T FM_GEMM_F_T

/* 8 elements of a row from column c as f32 (zero past the row's end) */
static inline __m256 load8(const fm_weight *w, const uint8_t *row, int64_t c) {
    const int64_t left = w->cols - c;
    const size_t es = w->dtype == FM_DTYPE_F32 ? 4 : 2;
    uint8_t tmp[32] = {0};
    const uint8_t *p = row + (size_t)c * es;
    if (left < 8) {
        memcpy(tmp, p, (size_t)left * es);
        p = tmp;
    }
    if (w->dtype == FM_DTYPE_F32) return _mm256_loadu_ps((const float *)(const void *)p);
    const __m128i h = _mm_loadu_si128((const __m128i *)(const void *)p);
    if (w->dtype == FM_DTYPE_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* v[0..7] (rows) to columns, in place */
static inline void transpose8(__m256 v[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        v[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        v[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/* rows r..r+nr-1 (nr <= 16) to [column][16] floats (missing rows zero) */
static void pack(const fm_weight *w, int64_t r, int64_t nr, float *pk) {
    for (int64_t c = 0; c < w->cols; c += 8) {
        const int64_t n = w->cols - c < 8 ? w->cols - c : 8;
        for (int half = 0; half < 2; half++) {
            __m256 v[8];
            for (int j = 0; j < 8; j++) {
                const int64_t row = half * 8 + j;
                v[j] = row < nr ? load8(w, (const uint8_t *)w->data + (size_t)(r + row) * w->row_bytes, c)
                                : _mm256_setzero_ps();
            }
            transpose8(v);
            for (int64_t k = 0; k < n; k++) _mm256_storeu_ps(pk + (size_t)(c + k) * 16 + half * 8, v[k]);
        }
    }
}

/* tokens t0..t0+3 of tile xi against one packed group; rows r.. (nr of
 * them), tokens below nt stored. The accumulators are named variables:
 * kept in an array that the store loop indexes, gcc writes them to the
 * stack on every column (measured 360 against 650+ t/s). */
static void tile4(const float *pg, const float *xi, int64_t n, int t0, int nt, int64_t r, int64_t nr, float *y,
                  int64_t ys, int64_t y0) {
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
    const float *xk = xi + t0;
    for (int64_t k = 0; k < n; k++, pg += 16, xk += T) {
        const __m256 w0 = _mm256_loadu_ps(pg), w1 = _mm256_loadu_ps(pg + 8);
        __m256 xv = _mm256_broadcast_ss(xk);
        a00 = _mm256_fmadd_ps(w0, xv, a00), a01 = _mm256_fmadd_ps(w1, xv, a01);
        xv = _mm256_broadcast_ss(xk + 1);
        a10 = _mm256_fmadd_ps(w0, xv, a10), a11 = _mm256_fmadd_ps(w1, xv, a11);
        xv = _mm256_broadcast_ss(xk + 2);
        a20 = _mm256_fmadd_ps(w0, xv, a20), a21 = _mm256_fmadd_ps(w1, xv, a21);
        xv = _mm256_broadcast_ss(xk + 3);
        a30 = _mm256_fmadd_ps(w0, xv, a30), a31 = _mm256_fmadd_ps(w1, xv, a31);
    }
    float out[4][16];
    _mm256_storeu_ps(out[0], a00), _mm256_storeu_ps(out[0] + 8, a01);
    _mm256_storeu_ps(out[1], a10), _mm256_storeu_ps(out[1] + 8, a11);
    _mm256_storeu_ps(out[2], a20), _mm256_storeu_ps(out[2] + 8, a21);
    _mm256_storeu_ps(out[3], a30), _mm256_storeu_ps(out[3] + 8, a31);
    for (int t = 0; t < 4 && t0 + t < nt; t++)
        memcpy(y + (size_t)(y0 + t0 + t) * (size_t)ys + r, out[t], (size_t)nr * sizeof(float));
}

void fm_avx2_gemm_float(const fm_weight *w, int64_t r0, int64_t r1, const float *x, int32_t n_tok, float *y,
                        int64_t ys, uint8_t *scratch) {
    const int64_t n = w->cols;
    const size_t gstride = (size_t)n * 16;
    float *pk = (float *)(void *)scratch;
    float *xt = (float *)(void *)(scratch + (size_t)(w->cols + 1) * 16 * 4 * FM_GEMM_GROUPS);
    fm_gemm_f_relay(x, w->cols, n_tok, xt);
    const int32_t n_tiles = (n_tok + T - 1) / T;
    for (int64_t rg = r0; rg < r1; rg += 16 * FM_GEMM_GROUPS) {
        int ng = 0;
        for (int64_t r = rg; r < r1 && ng < FM_GEMM_GROUPS; r += 16, ng++)
            pack(w, r, r1 - r < 16 ? r1 - r : 16, pk + (size_t)ng * gstride);
        for (int32_t i = 0; i < n_tiles; i++) {
            const int nt = n_tok - i * T < T ? n_tok - i * T : T;
            const float *xi = xt + (size_t)i * (size_t)n * T;
            for (int g = 0; g < ng; g++) {
                const int64_t r = rg + 16 * g, nr = r1 - r < 16 ? r1 - r : 16;
                for (int t0 = 0; t0 < nt; t0 += 4)
                    tile4(pk + (size_t)g * gstride, xi, n, t0, nt, r, nr, y, ys, (int64_t)i * T);
            }
        }
    }
}
