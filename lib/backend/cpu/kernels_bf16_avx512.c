/* The bf16 prompt GEMM through VDPBF16PS (AVX512_BF16), for CPUs where
 * that instruction runs at the FMA rate, so its two products per lane
 * double the throughput: measured on a Zen 5 VM, pp512 TinyLlama BF16 one
 * thread (docs/performance.md). On this project's Xeon (Sapphire/Emerald
 * Rapids) it issues on one port where FMAs issue on two and was slower
 * than the f32 FMA GEMM, so kernels_avx512.c installs it on AMD CPUs only.
 *
 * Same shape as the f32 GEMM (kernels_float_avx512.c): 16-row groups
 * transposed once per call, tiles of 8 tokens, two groups per pass. A
 * packed vector holds one column pair of 16 rows (a bf16 row read as
 * dwords already is (w[2k], w[2k+1]) pairs); activations are rounded to
 * bf16 pairs once per call, as llama.cpp rounds them for bf16 models. So
 * each product carries the activation's bf16 rounding, |x| * 2^-8 at
 * most, and the sums are f32: the bound test_kernels states for this
 * path. Every (row, token) is computed the same way whatever rows and
 * tokens are around it. */
#include <immintrin.h>
#include <string.h>

#include "kernels_avx512_transpose.h"
#include "kernels_float.h"
#include "kernels_float_tile.h"

/* rows r..r+nr-1 (nr <= 16) of bf16 to [column pair][16] dwords */
static void pack_pairs(const fm_weight *w, int64_t r, int64_t nr, uint32_t *pk) {
    const int64_t pairs = (w->cols + 1) / 2;
    for (int64_t c = 0; c < pairs; c += 16) {
        const int64_t left = w->cols - 2 * c; /* bf16 values left in the row */
        const __mmask32 m = left >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << left) - 1);
        __m512i v[16];
        for (int j = 0; j < 16; j++)
            v[j] = j < nr ? _mm512_maskz_loadu_epi16(m, (const uint8_t *)w->data + (size_t)(r + j) * w->row_bytes + 4 * c)
                          : _mm512_setzero_si512();
        fm_transpose16x16_epi32(v);
        const int64_t n = pairs - c < 16 ? pairs - c : 16;
        for (int64_t k = 0; k < n; k++) _mm512_storeu_si512(pk + (size_t)(c + k) * 16, v[k]);
    }
}

/* tokens' activations as bf16 pairs (round to nearest even) in tiles:
 * tile i, pair k, token t at (i * pairs + k) * T + t */
static void relay_pairs(const float *x, int64_t cols, int32_t n_tok, uint32_t *xt) {
    const int64_t pairs = (cols + 1) / 2;
    const int32_t n_tiles = (n_tok + T - 1) / T;
    for (int32_t i = 0; i < n_tiles; i++)
        for (int t = 0; t < T; t++) {
            const int32_t tok = i * T + t;
            uint32_t *o = xt + (size_t)i * (size_t)pairs * T + t;
            const float *xr = x + (size_t)tok * (size_t)cols;
            for (int64_t k = 0; k < pairs; k += 16) {
                const int64_t left = cols - 2 * k;
                const __mmask16 m0 = left >= 16 ? 0xFFFF : left > 0 ? (__mmask16)((1u << left) - 1) : 0;
                const __mmask16 m1 = left >= 32 ? 0xFFFF : left > 16 ? (__mmask16)((1u << (left - 16)) - 1) : 0;
                __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
                if (tok < n_tok) a = _mm512_maskz_loadu_ps(m0, xr + 2 * k), b = _mm512_maskz_loadu_ps(m1, xr + 2 * k + 16);
                /* cvtne2ps: the second source fills the low half */
                uint32_t d[16];
                _mm512_storeu_si512(d, (__m512i)_mm512_cvtne2ps_pbh(b, a));
                const int64_t n = pairs - k < 16 ? pairs - k : 16;
                for (int64_t e = 0; e < n; e++) o[(size_t)(k + e) * T] = d[e];
            }
        }
}

/* one column pair of 16 rows times a token's broadcast activation pair */
#define MAC_BF16(acc, wv, xv) _mm512_dpbf16_ps(acc, (__m512bh)(wv), (__m512bh)_mm512_set1_epi32((int)(xv)))

void fm_avx512_gemm_bf16_pairs(const fm_weight *w, int64_t r0, int64_t r1, const float *x, int32_t n_tok, float *y,
                               int64_t ys, uint8_t *scratch) {
    const int64_t pairs = (w->cols + 1) / 2;
    const size_t gstride = (size_t)pairs * 16;
    uint32_t *pk = (uint32_t *)(void *)scratch;
    uint32_t *xt = (uint32_t *)(void *)(scratch + (size_t)(w->cols + 1) * 16 * 4 * FM_GEMM_GROUPS);
    relay_pairs(x, w->cols, n_tok, xt);
    const int32_t n_tiles = (n_tok + T - 1) / T;
    for (int64_t rg = r0; rg < r1; rg += 16 * FM_GEMM_GROUPS) {
        int ng = 0;
        for (int64_t r = rg; r < r1 && ng < FM_GEMM_GROUPS; r += 16, ng++)
            pack_pairs(w, r, r1 - r < 16 ? r1 - r : 16, pk + (size_t)ng * gstride);
        for (int32_t i = 0; i < n_tiles; i++) {
            const int nt = n_tok - i * T < T ? n_tok - i * T : T;
            int g0 = 0;
            for (; g0 + 2 <= ng; g0 += 2) TILE(2, pairs, uint32_t, uint32_t, MAC_BF16);
            if (g0 < ng) TILE(1, pairs, uint32_t, uint32_t, MAC_BF16);
        }
    }
}
