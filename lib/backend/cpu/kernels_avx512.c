/* AVX-512 (F, DQ, BW, VL) + VNNI kernels for q8_0 and q4_0 weights; the rest of
 * the table is the AVX2 one. Compiled with those flags on x86-64 only and
 * chosen at run time.
 *
 * Two 32-weight blocks go through one 512-bit VPDPBUSD (unsigned x signed
 * bytes, summed in fours into 16 int32 lanes: lanes 0-7 belong to the first
 * block, 8-15 to the second). q4_0 quants enter unsigned (0..15); the -8
 * offset comes back as -8 x (sum of the activation bytes), computed once
 * per token and activation block pair and shared by every row. q8_0 weights
 * enter as |w| with w's sign moved onto the activations. The integer block
 * sums are exact, as in the AVX2 kernels; only the f32 accumulation order
 * differs, so this table gives its own (equally exact) bits.
 *
 * Every (row, token) is computed the same way alone, in a group of four
 * rows, or in any batch: tokens are taken one at a time, so results are
 * batch-invariant and independent of the thread count. */
#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

static inline float half_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

/* The 32 quants of a q4_0 block, unsigned 0..15, in element order. */
static inline __m256i q4_0_u(const uint8_t *qs) {
    const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(b, 4), b), _mm256_set1_epi8(0x0F));
}

static inline int u16_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return h;
}

/* lane indices that spread scales (2k, 2k+1) of a converted 8-scale vector
 * over lanes 0-7 and 8-15 (row k of a four-row group) */
#define SPREAD(a, b) {a, a, a, a, a, a, a, a, b, b, b, b, b, b, b, b}
static const int32_t spread_idx[4][16] = {SPREAD(0, 1), SPREAD(2, 3), SPREAD(4, 5), SPREAD(6, 7)};
static __m512i spread[4];
static void init_spread(void) {
    for (int k = 0; k < 4; k++) spread[k] = _mm512_loadu_si512(spread_idx[k]);
}

static inline __m512i pair(__m256i a, __m256i b) { return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1); }

/* Two activation blocks (68 bytes at xb) as 64 signed bytes. */
static inline __m512i x_pair(const uint8_t *xb) {
    return pair(_mm256_loadu_si256((const __m256i *)(const void *)(xb + 2)),
                _mm256_loadu_si256((const __m256i *)(const void *)(xb + FM_Q8_0_BYTES + 2)));
}

/* lanes 0-7 = a, 8-15 = b */
static inline __m512 split2(float a, float b) {
    return _mm512_insertf32x8(_mm512_set1_ps(a), _mm256_set1_ps(b), 1);
}

static inline float hsum512(__m512 v) { return _mm512_reduce_add_ps(v); }

/* What the weight of one row contributes for one block pair, as int32 lanes. */
static inline __m512i q4_0_dot(const uint8_t *wb, __m512i xq, __m512i corr) {
    return _mm512_dpbusd_epi32(corr, pair(q4_0_u(wb + 2), q4_0_u(wb + 18 + 2)), xq);
}

static inline __m512i q8_0_dot(const uint8_t *wb, __m512i xq, __m512i corr) {
    (void)corr;
    const __m512i w = pair(_mm256_loadu_si256((const __m256i *)(const void *)(wb + 2)),
                           _mm256_loadu_si256((const __m256i *)(const void *)(wb + 34 + 2)));
    const __mmask64 neg = _mm512_movepi8_mask(w);
    const __m512i sx = _mm512_mask_sub_epi8(xq, neg, _mm512_setzero_si512(), xq);
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(w), sx);
}

/* One token (x0, nb blocks) against rows r..r+R-1 (R = 4 or 1). An odd last
 * block is paired with a zero block. */
#define ROWS_TOKEN(R, BLOCK_BYTES, DOT, NEEDS_CORR)                                                                \
    do {                                                                                                           \
        const uint8_t *wk[R];                                                                                      \
        for (int k = 0; k < R; k++) wk[k] = (const uint8_t *)w->data + (size_t)(r + k) * w->row_bytes;             \
        __m512 acc[R];                                                                                             \
        for (int k = 0; k < R; k++) acc[k] = _mm512_setzero_ps();                                                  \
        int64_t b = 0;                                                                                             \
        for (; b + 2 <= nb; b += 2) {                                                                              \
            const uint8_t *xb = x0 + (size_t)b * FM_Q8_0_BYTES;                                                   \
            const __m512i xq = x_pair(xb);                                                                         \
            const __m512i corr = NEEDS_CORR ? _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(8), xq) : _mm512_setzero_si512(); \
            const __m512i ncorr = _mm512_sub_epi32(_mm512_setzero_si512(), corr);                                  \
            const __m512 dx = split2(half_at(xb), half_at(xb + FM_Q8_0_BYTES));                                    \
            __m512 dws[R];                                                                                         \
            if (R == 4) { /* the 8 weight scales of the 4 rows in one conversion, then spread */                   \
                __m128i hs = _mm_setzero_si128();                                                                  \
                hs = _mm_insert_epi16(hs, u16_at(wk[0] + (size_t)b * BLOCK_BYTES), 0);                             \
                hs = _mm_insert_epi16(hs, u16_at(wk[0] + (size_t)(b + 1) * BLOCK_BYTES), 1);                       \
                hs = _mm_insert_epi16(hs, u16_at(wk[R > 1 ? 1 : 0] + (size_t)b * BLOCK_BYTES), 2);                 \
                hs = _mm_insert_epi16(hs, u16_at(wk[R > 1 ? 1 : 0] + (size_t)(b + 1) * BLOCK_BYTES), 3);           \
                hs = _mm_insert_epi16(hs, u16_at(wk[R > 2 ? 2 : 0] + (size_t)b * BLOCK_BYTES), 4);                 \
                hs = _mm_insert_epi16(hs, u16_at(wk[R > 2 ? 2 : 0] + (size_t)(b + 1) * BLOCK_BYTES), 5);           \
                hs = _mm_insert_epi16(hs, u16_at(wk[R > 3 ? 3 : 0] + (size_t)b * BLOCK_BYTES), 6);                 \
                hs = _mm_insert_epi16(hs, u16_at(wk[R > 3 ? 3 : 0] + (size_t)(b + 1) * BLOCK_BYTES), 7);           \
                const __m512 d16 = _mm512_castps256_ps512(_mm256_cvtph_ps(hs));                                    \
                for (int k = 0; k < R; k++) dws[k] = _mm512_permutexvar_ps(spread[k], d16);                        \
            } else {                                                                                               \
                for (int k = 0; k < R; k++)                                                                        \
                    dws[k] = split2(half_at(wk[k] + (size_t)b * BLOCK_BYTES), half_at(wk[k] + (size_t)(b + 1) * BLOCK_BYTES)); \
            }                                                                                                      \
            for (int k = 0; k < R; k++) {                                                                          \
                const uint8_t *wb = wk[k] + (size_t)b * BLOCK_BYTES;                                               \
                /* the same place R rows on: hardware prefetchers stop at page ends */                             \
                _mm_prefetch((const char *)(wb + (size_t)R * w->row_bytes), _MM_HINT_T0);                          \
                const __m512 dw = dws[k];                                                                          \
                const __m512i s = DOT(wb, xq, ncorr);                                                              \
                acc[k] = _mm512_fmadd_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(s), acc[k]);                    \
            }                                                                                                      \
        }                                                                                                          \
        if (b < nb) { /* the last block alone: its pair half is zero */                                           \
            const uint8_t *xb = x0 + (size_t)b * FM_Q8_0_BYTES;                                                    \
            const __m512i xq = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(xb + 2))); \
            const __m512i xq0 = _mm512_inserti64x4(xq, _mm256_setzero_si256(), 1);                                 \
            const __m512i corr = NEEDS_CORR ? _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(8), xq0) : _mm512_setzero_si512(); \
            const __m512i ncorr = _mm512_sub_epi32(_mm512_setzero_si512(), corr);                                  \
            const __m512 dx = split2(half_at(xb), 0.0f);                                                           \
            for (int k = 0; k < R; k++) {                                                                          \
                const uint8_t *wb = wk[k] + (size_t)b * BLOCK_BYTES;                                               \
                const __m512 dw = split2(half_at(wb), 0.0f);                                                       \
                const __m512i s = DOT##_last(wb, xq0, ncorr);                                                      \
                acc[k] = _mm512_fmadd_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(s), acc[k]);                    \
            }                                                                                                      \
        }                                                                                                          \
        for (int k = 0; k < R; k++) y[(size_t)t * ys + r + k] = hsum512(acc[k]);                                   \
    } while (0)

/* the last, unpaired block: the second half of the weights is never read
 * (it may be past the end of the row) */
static inline __m512i q4_0_dot_last(const uint8_t *wb, __m512i xq, __m512i corr) {
    return _mm512_dpbusd_epi32(corr, _mm512_castsi256_si512(q4_0_u(wb + 2)), xq);
}

static inline __m512i q8_0_dot_last(const uint8_t *wb, __m512i xq, __m512i corr) {
    (void)corr;
    const __m512i w = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(wb + 2))), _mm256_setzero_si256(), 1);
    const __mmask64 neg = _mm512_movepi8_mask(w);
    const __m512i sx = _mm512_mask_sub_epi8(xq, neg, _mm512_setzero_si512(), xq);
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(w), sx);
}

#define VNNI_MATMUL(NAME, BLOCK_BYTES, DOT, NEEDS_CORR)                                                            \
    static void NAME(const fm_weight *w, int64_t r0, int64_t r1, const uint8_t *x, size_t x_stride, int32_t n_tok, \
                     float *y, int64_t ys) {                                                                       \
        const int64_t nb = w->cols / 32;                                                                           \
        for (int32_t t = 0; t < n_tok; t++) {                                                                      \
            const uint8_t *x0 = x + (size_t)t * x_stride;                                                          \
            int64_t r = r0;                                                                                        \
            for (; r + 4 <= r1; r += 4) ROWS_TOKEN(4, BLOCK_BYTES, DOT, NEEDS_CORR);                               \
            for (; r < r1; r++) ROWS_TOKEN(1, BLOCK_BYTES, DOT, NEEDS_CORR);                                       \
        }                                                                                                          \
    }

VNNI_MATMUL(matmul_q4_0, 18, q4_0_dot, 1)
VNNI_MATMUL(matmul_q8_0, 34, q8_0_dot, 0)

static fm_cpu_kernels table;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build(void) {
    init_spread();
    table = *fm_cpu_kernels_avx2();
    table.name = "avx512vnni";
    table.matmul[FM_DTYPE_Q4_0] = matmul_q4_0;
    table.matmul[FM_DTYPE_Q8_0] = matmul_q8_0;
}

const fm_cpu_kernels *fm_cpu_kernels_avx512(void) {
    pthread_once(&once, build);
    return &table;
}
