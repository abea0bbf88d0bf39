/* AVX-512 VNNI prompt kernel for the K-quant and iq4_xs weight types: an
 * int8 GEMM in the way the q4_0/q8_0 one in kernels_avx512.c works. Each
 * group of 16 rows is unpacked once per call to int8 weights (signed:
 * q6_K's u - 32, q3_K's u - 4, iq4's grid values; q4_K/q5_K/q2_K's
 * unsigned quants, whose mins stay apart) in the VPDPBUSD layout: vector
 * g holds each row's elements 4g..4g+3 in its lane. The activations enter
 * unsigned (q8_K quants + 128), so one VPDPBUSD of a token's 4 bytes,
 * broadcast, advances all 16 rows; the +128 comes back as a per-row
 * constant (-128 x the sub-block's weight sum) that starts each
 * sub-block's sum, so it costs nothing per token. A sub-block's exact
 * integer sum is then scaled (one FMA with the rows' float scales), its
 * min subtracted (one more, with the token's sub-block sum), and the
 * 256-block's activation scale applied once. Every (row, token) is
 * computed the same way alone or in a tile of 8 tokens, so results do not
 * depend on the thread count (a tile's padding tokens are zeros, never
 * stored). */
#include <immintrin.h>
#include <string.h>

#include "../../format/dtype.h"
#include "kernels_avx512_transpose.h"
#include "kernels_kquant.h"


/* Rows r..r+nr-1 (nr <= 16; missing rows are zero) to packed super-blocks. */
static void pack_rows(const fm_weight *w, int64_t r, int64_t nr, uint8_t *pk) {
    const int64_t nsb = w->cols / 256;
    const size_t bb = (size_t)fm_dtype_row_bytes((uint32_t)w->dtype, 256);
    _Alignas(64) int8_t q[16][256];
    for (int64_t sb = 0; sb < nsb; sb++) {
        uint8_t *blk = pk + (size_t)sb * FM_GEMM_K_SB_BYTES;
        float *A = (float *)(void *)(blk + 4096), *B = (float *)(void *)(blk + 4096 + 32 * 64);
        int nsub = 16;
        for (int j = 0; j < 16; j++) {
            float a[16] = {0}, b[16] = {0};
            if (j < nr)
                nsub = fm_avx2_unpack_i8(w->dtype, (const uint8_t *)w->data + (size_t)(r + j) * w->row_bytes + (size_t)sb * bb,
                                         q[j], a, b) & 0xFF;
            else
                memset(q[j], 0, sizeof q[j]);
            for (int s = 0; s < 16; s++) A[16 * s + j] = a[s], B[16 * s + j] = b[s];
        }
        for (int c4 = 0; c4 < 4; c4++) { /* groups 16 c4 .. 16 c4 + 15 */
            __m512i rows[16];
            for (int j = 0; j < 16; j++) rows[j] = _mm512_load_si512((const void *)(q[j] + 64 * c4));
            fm_transpose16x16_epi32(rows);
            for (int g = 0; g < 16; g++) _mm512_storeu_si512((void *)(blk + 64 * (16 * c4 + g)), rows[g]);
        }
        /* each sub-block's weight sum per row (one VPDPBUSD of ones per group), times -128 */
        const int gps = 64 / nsub;
        for (int s = 0; s < nsub; s++) {
            __m512i sum = _mm512_setzero_si512();
            for (int g = s * gps; g < (s + 1) * gps; g++)
                sum = _mm512_dpbusd_epi32(sum, _mm512_set1_epi8(1), _mm512_loadu_si512((const void *)(blk + 64 * g)));
            _mm512_storeu_si512((void *)(blk + 4096 + 16 * 64 + 64 * s), _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(sum, 7)));
        }
    }
}

/* Activation tile ti (FM_GEMM_K_T tokens) against the packed group pk
 * (NSUB sub-blocks of 256 / NSUB, MINS: whether they have mins); the
 * tile's first nt tokens go to rows r.. (mask m) of y. */
#define KQ_TILE(NSUB, MINS)                                                                                        \
    do {                                                                                                           \
        enum { T = FM_GEMM_K_T };                                                                                  \
        __m512 acc[T];                                                                                             \
        for (int k = 0; k < T; k++) acc[k] = _mm512_setzero_ps();                                                  \
        const uint8_t *xt = x->xu + (size_t)ti * (size_t)cols * T;                                                 \
        const float *dt = x->d + (size_t)ti * (size_t)nsb * T;                                                     \
        const float *xst = MINS ? (NSUB == 8 ? x->xs32 + (size_t)ti * (size_t)(cols / 32) * T                     \
                                             : x->xs16 + (size_t)ti * (size_t)(cols / 16) * T)                     \
                                : NULL;                                                                            \
        for (int64_t sb = 0; sb < nsb; sb++) {                                                                     \
            const uint8_t *blk = pk + (size_t)sb * FM_GEMM_K_SB_BYTES, *xb = xt + (size_t)sb * 256 * T;           \
            __m512 part[T];                                                                                        \
            for (int k = 0; k < T; k++) part[k] = _mm512_setzero_ps();                                             \
            _Pragma("GCC unroll 16") for (int s = 0; s < NSUB; s++) {                                             \
                const __m512i c = _mm512_loadu_si512((const void *)(blk + 4096 + 16 * 64 + 64 * s));               \
                __m512i sum[T];                                                                                    \
                for (int k = 0; k < T; k++) sum[k] = c;                                                            \
                _Pragma("GCC unroll 8") for (int gi = 0; gi < 64 / NSUB; gi++) {                                  \
                    const int g = s * (64 / NSUB) + gi;                                                            \
                    const __m512i wv = _mm512_loadu_si512((const void *)(blk + 64 * g));                           \
                    for (int k = 0; k < T; k++) {                                                                  \
                        int32_t x4;                                                                                \
                        memcpy(&x4, xb + (size_t)(4 * T * g + 4 * k), 4);                                          \
                        sum[k] = _mm512_dpbusd_epi32(sum[k], _mm512_set1_epi32(x4), wv);                           \
                    }                                                                                              \
                }                                                                                                  \
                const __m512 a = _mm512_loadu_ps((const void *)(blk + 4096 + 64 * s));                             \
                for (int k = 0; k < T; k++) part[k] = _mm512_fmadd_ps(a, _mm512_cvtepi32_ps(sum[k]), part[k]);    \
                if (MINS) {                                                                                        \
                    const __m512 bm = _mm512_loadu_ps((const void *)(blk + 4096 + 32 * 64 + 64 * s));              \
                    const float *xs = xst + ((size_t)sb * NSUB + (size_t)s) * T;                                   \
                    for (int k = 0; k < T; k++) part[k] = _mm512_fnmadd_ps(bm, _mm512_set1_ps(xs[k]), part[k]);    \
                }                                                                                                  \
            }                                                                                                      \
            for (int k = 0; k < T; k++) acc[k] = _mm512_fmadd_ps(_mm512_set1_ps(dt[sb * T + k]), part[k], acc[k]); \
        }                                                                                                          \
        for (int k = 0; k < nt; k++) _mm512_mask_storeu_ps(y + (size_t)(ti * T + k) * (size_t)ys + r, m, acc[k]);  \
    } while (0)

#define KQ_GEMM(NAME, NSUB, MINS)                                                                                  \
    void NAME(const fm_weight *w, int64_t r0, int64_t r1, const fm_gemm_k_acts *x, int32_t n_tok, float *y,       \
              int64_t ys, uint8_t *pack) {                                                                         \
        const int64_t cols = w->cols, nsb = cols / 256;                                                            \
        const size_t group_bytes = (size_t)nsb * FM_GEMM_K_SB_BYTES;                                               \
        const int32_t n_tiles = (n_tok + FM_GEMM_K_T - 1) / FM_GEMM_K_T;                                           \
        /* FM_GEMM_GROUPS groups packed at once: each token tile, read from                                     \
         * L3, serves 64 rows before the next is fetched */                                                        \
        for (int64_t rg = r0; rg < r1; rg += 16 * FM_GEMM_GROUPS) {                                                \
            int ng = 0;                                                                                            \
            for (int64_t r = rg; r < r1 && ng < FM_GEMM_GROUPS; r += 16, ng++)                                     \
                pack_rows(w, r, r1 - r < 16 ? r1 - r : 16, pack + (size_t)ng * group_bytes);                       \
            for (int32_t ti = 0; ti < n_tiles; ti++) {                                                             \
                const int nt = n_tok - ti * FM_GEMM_K_T < FM_GEMM_K_T ? n_tok - ti * FM_GEMM_K_T : FM_GEMM_K_T;    \
                for (int g = 0; g < ng; g++) {                                                                     \
                    const int64_t r = rg + 16 * g, nr = r1 - r < 16 ? r1 - r : 16;                                 \
                    const __mmask16 m = (__mmask16)((1u << nr) - 1);                                               \
                    const uint8_t *pk = pack + (size_t)g * group_bytes;                                            \
                    KQ_TILE(NSUB, MINS);                                                                           \
                }                                                                                                  \
            }                                                                                                      \
        }                                                                                                          \
    }

KQ_GEMM(fm_avx512_gemm_k8_mins, 8, 1)    /* q4_K, q5_K */
KQ_GEMM(fm_avx512_gemm_k8, 8, 0)         /* iq4_xs */
KQ_GEMM(fm_avx512_gemm_k16, 16, 0)       /* q6_K, q3_K */
KQ_GEMM(fm_avx512_gemm_k16_mins, 16, 1)  /* q2_K */
