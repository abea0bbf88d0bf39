/* The register tile both AVX-512 float GEMMs (kernels_float_avx512.c,
 * kernels_bf16_avx512.c) run (include only from files compiled with
 * AVX-512). */
#ifndef FM_BACKEND_CPU_KERNELS_FLOAT_TILE_H
#define FM_BACKEND_CPU_KERNELS_FLOAT_TILE_H

#include <immintrin.h>

#include "kernels.h"

#define T FM_GEMM_F_T

/* Tile i (T tokens from xt) against groups g0 (and g1 when two) of the
 * pack: NG groups of 16 rows, one accumulator per group and token. STEP
 * is a column (f32) or a pair (bf16); MAC(acc, wv, x) the product. The
 * caller's pk, gstride, xt, i, rg, r1, nt, y, ys and g0 are in scope. */
#define TILE(NG, N, PK_T, XT_T, MAC)                                                                               \
    do {                                                                                                           \
        __m512 acc[NG][T];                                                                                         \
        for (int g = 0; g < NG; g++)                                                                               \
            for (int t = 0; t < T; t++) acc[g][t] = _mm512_setzero_ps();                                           \
        const PK_T *p0 = pk + (size_t)g0 * gstride, *p1 = pk + (size_t)(g0 + NG - 1) * gstride;                     \
        const XT_T *xi = xt + (size_t)i * (size_t)(N) * T;                                                          \
        for (int64_t k = 0; k < (N); k++) {                                                                        \
            const __m512 w0 = _mm512_loadu_ps((const void *)(p0 + (size_t)k * 16));                                \
            const __m512 w1 = NG > 1 ? _mm512_loadu_ps((const void *)(p1 + (size_t)k * 16)) : w0;                  \
            for (int t = 0; t < T; t++) {                                                                          \
                const XT_T xv = xi[(size_t)k * T + t];                                                             \
                acc[0][t] = MAC(acc[0][t], w0, xv);                                                                \
                if (NG > 1) acc[NG - 1][t] = MAC(acc[NG - 1][t], w1, xv);                                          \
            }                                                                                                      \
        }                                                                                                          \
        for (int g = 0; g < NG; g++) {                                                                             \
            const int64_t r = rg + 16 * (g0 + g), nr = r1 - r < 16 ? r1 - r : 16;                                  \
            const __mmask16 m = (__mmask16)((1u << nr) - 1);                                                       \
            for (int t = 0; t < nt; t++) _mm512_mask_storeu_ps(y + (size_t)(i * T + t) * (size_t)ys + r, m, acc[g][t]); \
        }                                                                                                          \
    } while (0)

#endif
