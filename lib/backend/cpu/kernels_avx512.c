/* AVX-512 (F, DQ, BW, VL) + VNNI kernels for q8_0 and q4_0 weights; the rest of
 * the table is the AVX2 one. Compiled with those flags on x86-64 only and
 * chosen at run time.
 *
 * Two 32-weight blocks go through one 512-bit VPDPBUSD (unsigned x signed
 * bytes, summed in fours into 16 int32 lanes: lanes 0-7 belong to the first
 * block, 8-15 to the second). Weights enter unsigned - q4_0 nibbles as
 * stored (0..15), q8_0 quants plus 128 (one XOR) - and the offset comes
 * back as -offset x (sum of the activation bytes), computed once per token
 * and activation block pair and shared by every row. The integer block
 * sums are exact, as in the AVX2 kernels; only the f32 accumulation order
 * differs, so this table gives its own (equally exact) bits.
 *
 * Every (row, token) is computed the same way alone, in a group of four
 * rows, or in any batch: tokens are taken one at a time, so results are
 * batch-invariant and independent of the thread count. */
#include <immintrin.h>
#include <pthread.h>
#include <string.h>
#if defined(FM_HAVE_AVX512BF16)
#include <cpuid.h>
#include <stdlib.h>
#endif

#include "kernels.h"
#include "kernels_float.h"
#include "kernels_kquant.h"

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

/* -offset x (the activation bytes summed in fours), per lane: what the
 * unsigned weights' offset added to a VPDPBUSD sum */
static inline __m512i neg_offset_sums(__m512i xq, int offset) {
    return _mm512_sub_epi32(_mm512_setzero_si512(),
                            _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8((char)offset), xq));
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
    const __m512i w = pair(_mm256_loadu_si256((const __m256i *)(const void *)(wb + 2)),
                           _mm256_loadu_si256((const __m256i *)(const void *)(wb + 34 + 2)));
    return _mm512_dpbusd_epi32(corr, _mm512_xor_si512(w, _mm512_set1_epi8((char)0x80)), xq);
}

/* The last, unpaired block b of rows wk[0..R) into acc: its pair half is
 * zero (and never read from the weights, it may be past the row's end). */
#define LAST_BLOCK(R, BLOCK_BYTES, DOT_LAST, OFFSET)                                                              \
    do {                                                                                                           \
        const uint8_t *xb = x0 + (size_t)b * FM_Q8_0_BYTES;                                                        \
        const __m512i xq0 = _mm512_inserti64x4(                                                                    \
            _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(xb + 2))),                   \
            _mm256_setzero_si256(), 1);                                                                            \
        const __m512i ncorr = neg_offset_sums(xq0, OFFSET);                                                        \
        const __m512 dx = split2(half_at(xb), 0.0f);                                                               \
        for (int k = 0; k < R; k++) {                                                                              \
            const uint8_t *wb = wk[k] + (size_t)b * BLOCK_BYTES;                                                   \
            const __m512 dw = split2(half_at(wb), 0.0f);                                                           \
            const __m512i s = DOT_LAST(wb, xq0, ncorr);                                                            \
            acc[k] = _mm512_fmadd_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(s), acc[k]);                        \
        }                                                                                                          \
    } while (0)

/* One token (x0, nb blocks) against rows r..r+R-1 (R = 4 or 1). An odd last
 * block is paired with a zero block. */
#define ROWS_TOKEN(R, BLOCK_BYTES, DOT, OFFSET)                                                                \
    do {                                                                                                           \
        const uint8_t *wk[R];                                                                                      \
        for (int k = 0; k < R; k++) wk[k] = (const uint8_t *)w->data + (size_t)(r + k) * w->row_bytes;             \
        __m512 acc[R];                                                                                             \
        for (int k = 0; k < R; k++) acc[k] = _mm512_setzero_ps();                                                  \
        int64_t b = 0;                                                                                             \
        for (; b + 2 <= nb; b += 2) {                                                                              \
            const uint8_t *xb = x0 + (size_t)b * FM_Q8_0_BYTES;                                                   \
            const __m512i xq = x_pair(xb);                                                                         \
            const __m512i ncorr = neg_offset_sums(xq, OFFSET);                                                     \
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
        if (b < nb) LAST_BLOCK(R, BLOCK_BYTES, DOT##_last, OFFSET);                                              \
        for (int k = 0; k < R; k++) y[(size_t)t * ys + r + k] = hsum512(acc[k]);                                   \
    } while (0)

/* the last, unpaired block: the second half of the weights is never read
 * (it may be past the end of the row) */
static inline __m512i q4_0_dot_last(const uint8_t *wb, __m512i xq, __m512i corr) {
    return _mm512_dpbusd_epi32(corr, _mm512_castsi256_si512(q4_0_u(wb + 2)), xq);
}

static inline __m512i q8_0_dot_last(const uint8_t *wb, __m512i xq, __m512i corr) {
    const __m512i w = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(wb + 2)));
    return _mm512_dpbusd_epi32(corr, _mm512_xor_si512(w, _mm512_set1_epi8((char)0x80)), xq); /* x half is zero */
}

#define VNNI_MATMUL(NAME, BLOCK_BYTES, DOT, OFFSET)                                                            \
    static void NAME(const fm_weight *w, int64_t r0, int64_t r1, const uint8_t *x, size_t x_stride, int32_t n_tok, \
                     float *y, int64_t ys) {                                                                       \
        const int64_t nb = w->cols / 32;                                                                           \
        for (int32_t t = 0; t < n_tok; t++) {                                                                      \
            const uint8_t *x0 = x + (size_t)t * x_stride;                                                          \
            int64_t r = r0;                                                                                        \
            for (; r + 4 <= r1; r += 4) ROWS_TOKEN(4, BLOCK_BYTES, DOT, OFFSET);                               \
            for (; r < r1; r++) ROWS_TOKEN(1, BLOCK_BYTES, DOT, OFFSET);                                       \
        }                                                                                                          \
    }

VNNI_MATMUL(matmul_q4_0_plain, 18, q4_0_dot, 8)
VNNI_MATMUL(matmul_q8_0, 34, q8_0_dot, 128)

/* ---- q4_0 with re-laid activations --------------------------------------
 * Generation reads every q4_0 byte once per token, so the work per weight
 * byte sets the speed. Two blocks loaded back to back as 32 raw bytes give
 * [lo nibbles b0 | lo b1 | hi b0 | hi b1] after one shift, one insert and
 * one mask; the token's activations are re-laid once per call to match
 * (per block pair: x0[0..15] x1[0..15] x0[16..31] x1[16..31]), so no
 * weight byte is shuffled. The pair's two weight scales of four rows are
 * gathered through general registers (no vector inserts), multiplied by
 * the activation scales in one go and spread per row with one permute.
 * Lanes 0-3 and 8-11 belong to the first block, 4-7 and 12-15 to the
 * second; every (row, token) is computed the same way alone or in a group. */

#define Q4P_STACK_PAIRS 512 /* rows up to 32768 columns re-lay on the stack */

typedef struct q4p_x {
    uint8_t *q;  /* 64 bytes per pair */
    float *d;    /* two activation scales per pair */
} q4p_x;

static void q4p_relay(const uint8_t *x0, int64_t np, q4p_x *o) {
    for (int64_t p = 0; p < np; p++) {
        const uint8_t *a = x0 + (size_t)(2 * p) * FM_Q8_0_BYTES, *b = a + FM_Q8_0_BYTES;
        const __m128i a0 = _mm_loadu_si128((const __m128i *)(const void *)(a + 2));
        const __m128i a1 = _mm_loadu_si128((const __m128i *)(const void *)(a + 18));
        const __m128i b0 = _mm_loadu_si128((const __m128i *)(const void *)(b + 2));
        const __m128i b1 = _mm_loadu_si128((const __m128i *)(const void *)(b + 18));
        _mm256_store_si256((__m256i *)(void *)(o->q + 64 * p), _mm256_set_m128i(b0, a0));
        _mm256_store_si256((__m256i *)(void *)(o->q + 64 * p + 32), _mm256_set_m128i(b1, a1));
        o->d[2 * p] = half_at(a);
        o->d[2 * p + 1] = half_at(b);
    }
}

/* lanes of an 8-scale vector [r0b0 r0b1 r1b0 r1b1 ...] to row k's layout */
#define Q4P_SPREAD(a, b) {a, a, a, a, b, b, b, b, a, a, a, a, b, b, b, b}
static const int32_t q4p_spread_idx[4][16] = {Q4P_SPREAD(0, 1), Q4P_SPREAD(2, 3), Q4P_SPREAD(4, 5), Q4P_SPREAD(6, 7)};
static __m512i q4p_spread[4];

static inline uint64_t scales2(const uint8_t *wb) { return (uint64_t)u16_at(wb) | (uint64_t)u16_at(wb + 18) << 16; }

/* One token against rows r..r+R-1 (R = 4 or 1), block pairs only. */
#define Q4P_ROWS(R)                                                                                                \
    do {                                                                                                           \
        const uint8_t *wk[R];                                                                                      \
        for (int k = 0; k < R; k++) wk[k] = (const uint8_t *)w->data + (size_t)(r + k) * w->row_bytes;             \
        __m512 acc[R];                                                                                             \
        for (int k = 0; k < R; k++) acc[k] = _mm512_setzero_ps();                                                  \
        for (int64_t p = 0; p < np; p++) {                                                                         \
            const __m512i xq = _mm512_load_si512((const void *)(xs.q + 64 * p));                                  \
            const __m512i ncorr = neg_offset_sums(xq, 8);                                                          \
            double dxx;                                                                                            \
            memcpy(&dxx, xs.d + 2 * p, sizeof dxx);                                                                \
            const __m256 dx8 = _mm256_castpd_ps(_mm256_set1_pd(dxx));                                              \
            const size_t o = (size_t)p * 36;                                                                       \
            uint64_t s01 = scales2(wk[0] + o), s23 = 0;                                                            \
            if (R > 1) s01 |= scales2(wk[R > 1 ? 1 : 0] + o) << 32;                                                \
            if (R > 2) s23 = scales2(wk[R > 2 ? 2 : 0] + o) | scales2(wk[R > 3 ? 3 : 0] + o) << 32;                \
            const __m256 d8 = _mm256_mul_ps(_mm256_cvtph_ps(_mm_set_epi64x((long long)s23, (long long)s01)), dx8); \
            for (int k = 0; k < R; k++) {                                                                          \
                const uint8_t *wb = wk[k] + o;                                                                     \
                _mm_prefetch((const char *)(wb + (size_t)R * w->row_bytes), _MM_HINT_T0);                          \
                const __m256i raw = _mm256_inserti128_si256(                                                       \
                    _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(wb + 2))),              \
                    _mm_loadu_si128((const __m128i *)(const void *)(wb + 20)), 1);                                 \
                const __m512i q = _mm512_and_si512(                                                                \
                    _mm512_inserti64x4(_mm512_castsi256_si512(raw), _mm256_srli_epi16(raw, 4), 1),                 \
                    _mm512_set1_epi8(0x0F));                                                                       \
                const __m512i sum = _mm512_dpbusd_epi32(ncorr, q, xq);                                             \
                const __m512 dw = _mm512_permutexvar_ps(q4p_spread[k], _mm512_castps256_ps512(d8));               \
                acc[k] = _mm512_fmadd_ps(dw, _mm512_cvtepi32_ps(sum), acc[k]);                                     \
            }                                                                                                      \
        }                                                                                                          \
        if (nb % 2) { /* the last block alone, as the plain kernel does it */                                     \
            const int64_t b = nb - 1;                                                                              \
            LAST_BLOCK(R, 18, q4_0_dot_last, 8);                                                                   \
        }                                                                                                          \
        for (int k = 0; k < R; k++) y[(size_t)t * ys + r + k] = hsum512(acc[k]);                                   \
    } while (0)

/* Four rows against four tokens (several sequences decoding together):
 * a pair of blocks of a row is unpacked once and meets all four tokens.
 * Per (row, token) the operations are Q4P_ROWS(4)'s in the same order, so
 * the bits are those of the tokens taken one at a time. */
#define Q4P_TOKENS 4
#define Q4P_MULTI_PAIRS 128 /* re-laid activations of 4 tokens on the stack: 32 KiB */

/* Q4P_ROWS(1) as a function, for the rows a multi-token group leaves. */
static void q4p_rows1(const fm_weight *w, int64_t r, q4p_x xs, const uint8_t *x0, int64_t nb, int64_t np, int32_t t,
                      float *y, int64_t ys) {
    Q4P_ROWS(1);
}

static void q4p_rows4_tokens4(const fm_weight *w, int64_t r, const q4p_x *xs, const uint8_t *const *x0s, int64_t nb,
                              int64_t np, int32_t t0, float *y, int64_t ys) {
    const uint8_t *wk[4];
    for (int k = 0; k < 4; k++) wk[k] = (const uint8_t *)w->data + (size_t)(r + k) * w->row_bytes;
    __m512 A[Q4P_TOKENS][4];
    for (int t = 0; t < Q4P_TOKENS; t++)
        for (int k = 0; k < 4; k++) A[t][k] = _mm512_setzero_ps();
    for (int64_t p = 0; p < np; p++) {
        __m512i xq[Q4P_TOKENS], ncorr[Q4P_TOKENS];
        __m256 d8[Q4P_TOKENS];
        const size_t o = (size_t)p * 36;
        const uint64_t s01 = scales2(wk[0] + o) | scales2(wk[1] + o) << 32;
        const uint64_t s23 = scales2(wk[2] + o) | scales2(wk[3] + o) << 32;
        const __m256 dw8 = _mm256_cvtph_ps(_mm_set_epi64x((long long)s23, (long long)s01));
        for (int t = 0; t < Q4P_TOKENS; t++) {
            xq[t] = _mm512_load_si512((const void *)(xs[t].q + 64 * p));
            ncorr[t] = neg_offset_sums(xq[t], 8);
            double dxx;
            memcpy(&dxx, xs[t].d + 2 * p, sizeof dxx);
            d8[t] = _mm256_mul_ps(dw8, _mm256_castpd_ps(_mm256_set1_pd(dxx)));
        }
        for (int k = 0; k < 4; k++) {
            const uint8_t *wb = wk[k] + o;
            _mm_prefetch((const char *)(wb + (size_t)4 * w->row_bytes), _MM_HINT_T0);
            const __m256i raw = _mm256_inserti128_si256(
                _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(wb + 2))),
                _mm_loadu_si128((const __m128i *)(const void *)(wb + 20)), 1);
            const __m512i q = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(raw), _mm256_srli_epi16(raw, 4), 1),
                                               _mm512_set1_epi8(0x0F));
            for (int t = 0; t < Q4P_TOKENS; t++) {
                const __m512i sum = _mm512_dpbusd_epi32(ncorr[t], q, xq[t]);
                const __m512 dw = _mm512_permutexvar_ps(q4p_spread[k], _mm512_castps256_ps512(d8[t]));
                A[t][k] = _mm512_fmadd_ps(dw, _mm512_cvtepi32_ps(sum), A[t][k]);
            }
        }
    }
    for (int t = 0; t < Q4P_TOKENS; t++) {
        __m512 *acc = A[t];
        if (nb % 2) { /* the last block alone, as the plain kernel does it */
            const int64_t b = nb - 1;
            const uint8_t *x0 = x0s[t];
            LAST_BLOCK(4, 18, q4_0_dot_last, 8);
        }
        for (int k = 0; k < 4; k++) y[(size_t)(t0 + t) * ys + r + k] = hsum512(acc[k]);
    }
}

static void matmul_q4_0(const fm_weight *w, int64_t r0, int64_t r1, const uint8_t *x, size_t x_stride, int32_t n_tok,
                        float *y, int64_t ys) {
    const int64_t nb = w->cols / 32, np = nb / 2;
    if (np > Q4P_STACK_PAIRS) { /* wider rows than any model here: the plain kernel, no allocation */
        matmul_q4_0_plain(w, r0, r1, x, x_stride, n_tok, y, ys);
        return;
    }
    int32_t t = 0;
    if (n_tok >= Q4P_TOKENS && np <= Q4P_MULTI_PAIRS) {
        _Alignas(64) uint8_t qm[Q4P_TOKENS][Q4P_MULTI_PAIRS * 64];
        float dm[Q4P_TOKENS][Q4P_MULTI_PAIRS * 2];
        q4p_x xm[Q4P_TOKENS];
        const uint8_t *x0s[Q4P_TOKENS];
        for (; t + Q4P_TOKENS <= n_tok; t += Q4P_TOKENS) {
            for (int k = 0; k < Q4P_TOKENS; k++) {
                xm[k] = (q4p_x){qm[k], dm[k]};
                x0s[k] = x + (size_t)(t + k) * x_stride;
                q4p_relay(x0s[k], np, &xm[k]);
            }
            int64_t r = r0;
            for (; r + 4 <= r1; r += 4) q4p_rows4_tokens4(w, r, xm, x0s, nb, np, t, y, ys);
            for (int k = 0; k < Q4P_TOKENS; k++) /* the rows left over, one token at a time */
                for (int64_t rr = r; rr < r1; rr++) q4p_rows1(w, rr, xm[k], x0s[k], nb, np, t + k, y, ys);
        }
    }
    _Alignas(64) uint8_t qbuf[Q4P_STACK_PAIRS * 64];
    float dbuf[Q4P_STACK_PAIRS * 2];
    q4p_x xs = {qbuf, dbuf};
    for (; t < n_tok; t++) {
        const uint8_t *x0 = x + (size_t)t * x_stride;
        q4p_relay(x0, np, &xs);
        int64_t r = r0;
        for (; r + 4 <= r1; r += 4) Q4P_ROWS(4);
        for (; r < r1; r++) Q4P_ROWS(1);
    }
}

/* ---- prompts: an int8 GEMM over rows repacked 16 at a time ----------------
 * For a batch of tokens the weights are worth re-laying: 16 rows of a block
 * become 8 vectors, vector g holding each row's quants 4g..4g+3 in its lane
 * (unsigned: q4_0 nibbles as stored, q8_0 plus 128), followed by the 16
 * scales. One VPDPBUSD against a token's 4 activation bytes, broadcast,
 * then advances all 16 rows; after 8 the lanes hold 16 exact block sums,
 * the offset comes back as -offset x (the block's activation sum), and one
 * FMA scales them. No horizontal sums, no shuffles in the inner loop: 64
 * multiply-adds an instruction where sgemm does 16. A group of 16 rows is
 * packed once (to L2) and meets every token, 8 at a time. */

#define GEMM_BLOCK FM_GEMM_BLOCK_BYTES
#define GEMM_GROUPS FM_GEMM_GROUPS
#define GEMM_T 8

static void gemm_pack(const fm_weight *w, int64_t r, int64_t nr, int q4, uint8_t *pk) {
    const int64_t nb = w->cols / 32;
    const size_t bb = q4 ? 18 : 34;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *blk = pk + (size_t)b * GEMM_BLOCK;
        float d[16];
        for (int j = 0; j < 16; j++) {
            _Alignas(32) uint32_t u[8] = {0};
            d[j] = 0.0f;
            if (j < nr) {
                const uint8_t *src = (const uint8_t *)w->data + (size_t)(r + j) * w->row_bytes + (size_t)b * bb;
                d[j] = half_at(src);
                const __m256i v = q4 ? q4_0_u(src + 2)
                                     : _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)(src + 2)),
                                                        _mm256_set1_epi8((char)0x80));
                _mm256_store_si256((__m256i *)(void *)u, v);
            }
            for (int g = 0; g < 8; g++) memcpy(blk + 64 * g + 4 * j, &u[g], 4);
        }
        memcpy(blk + 512, d, sizeof d);
    }
}

/* Tokens T0..T0+T-1 against the packed group pk; results to rows r.. in m. */
#define GEMM_TILE(T, T0)                                                                                               \
    do {                                                                                                           \
        __m512 acc[T];                                                                                             \
        for (int k = 0; k < T; k++) acc[k] = _mm512_setzero_ps();                                                  \
        for (int64_t b = 0; b < nb; b++) {                                                                         \
            const uint8_t *blk = pk + (size_t)b * GEMM_BLOCK;                                                      \
            const uint8_t *xb[T];                                                                                  \
            __m512i sum[T];                                                                                        \
            for (int k = 0; k < T; k++) {                                                                          \
                xb[k] = x + (size_t)((T0) + k) * x_stride + (size_t)b * FM_Q8_0_BYTES + 2;                            \
                sum[k] = _mm512_set1_epi32(-off * xsum[(size_t)((T0) + k) * (size_t)nb + (size_t)b]);                 \
            }                                                                                                      \
            for (int g = 0; g < 8; g++) {                                                                          \
                const __m512i wv = _mm512_loadu_si512((const void *)(blk + 64 * g));                               \
                for (int k = 0; k < T; k++) {                                                                      \
                    int32_t x4;                                                                                    \
                    memcpy(&x4, xb[k] + 4 * g, 4);                                                                 \
                    sum[k] = _mm512_dpbusd_epi32(sum[k], wv, _mm512_set1_epi32(x4));                               \
                }                                                                                                  \
            }                                                                                                      \
            const __m512 dw = _mm512_loadu_ps((const void *)(blk + 512));                                          \
            for (int k = 0; k < T; k++)                                                                            \
                acc[k] = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(xd[(size_t)((T0) + k) * (size_t)nb + (size_t)b])), \
                                         _mm512_cvtepi32_ps(sum[k]), acc[k]);                                      \
        }                                                                                                          \
        for (int k = 0; k < T; k++) _mm512_mask_storeu_ps(y + (size_t)((T0) + k) * (size_t)ys + r, m, acc[k]);       \
    } while (0)

static void gemm_rows(const fm_weight *w, int64_t r0, int64_t r1, const uint8_t *x, size_t x_stride, const float *xd,
                      const int32_t *xsum, int32_t n_tok, float *y, int64_t ys, uint8_t *pack, int q4) {
    const int64_t nb = w->cols / 32;
    const int32_t off = q4 ? 8 : 128;
    const size_t group_bytes = (size_t)nb * GEMM_BLOCK;
    /* GEMM_GROUPS groups packed at once, so each tile of tokens, read from
     * L3, serves 64 rows before the next is fetched */
    for (int64_t rg = r0; rg < r1; rg += 16 * GEMM_GROUPS) {
        int ng = 0;
        for (int64_t r = rg; r < r1 && ng < GEMM_GROUPS; r += 16, ng++)
            gemm_pack(w, r, r1 - r < 16 ? r1 - r : 16, q4, pack + (size_t)ng * group_bytes);
        int32_t t = 0;
        for (; t < n_tok; t += GEMM_T) {
            const int full = t + GEMM_T <= n_tok;
            for (int g = 0; g < ng; g++) {
                const int64_t r = rg + 16 * g, nr = r1 - r < 16 ? r1 - r : 16;
                const __mmask16 m = (__mmask16)((1u << nr) - 1);
                const uint8_t *pk = pack + (size_t)g * group_bytes;
                if (full) GEMM_TILE(GEMM_T, t);
                else
                    for (int32_t t1 = t; t1 < n_tok; t1++) GEMM_TILE(1, t1);
            }
        }
    }
}

static void gemm_q4_0(const fm_weight *w, int64_t r0, int64_t r1, const uint8_t *x, size_t x_stride, const float *xd,
                      const int32_t *xsum, int32_t n_tok, float *y, int64_t ys, uint8_t *pk) {
    gemm_rows(w, r0, r1, x, x_stride, xd, xsum, n_tok, y, ys, pk, 1);
}

static void gemm_q8_0(const fm_weight *w, int64_t r0, int64_t r1, const uint8_t *x, size_t x_stride, const float *xd,
                      const int32_t *xsum, int32_t n_tok, float *y, int64_t ys, uint8_t *pk) {
    gemm_rows(w, r0, r1, x, x_stride, xd, xsum, n_tok, y, ys, pk, 0);
}

#if defined(FM_HAVE_AVX512BF16)
/* VDPBF16PS for bf16 prompts: where the CPU has AVX512_BF16 (CPUID 7.1
 * EAX bit 5) and is an AMD one, where it was measured at twice the f32 FMA
 * GEMM's rate; on Intel's Sapphire/Emerald Rapids it was slower
 * (kernels_bf16_avx512.c). FM_BF16_GEMM=fma or =dpbf16 decides instead,
 * for side-by-side runs. */
static int use_dpbf16(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d) || !((a >> 5) & 1)) return 0;
    const char *force = getenv("FM_BF16_GEMM");
    if (force != NULL && strcmp(force, "fma") == 0) return 0;
    if (force != NULL && strcmp(force, "dpbf16") == 0) return 1;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
    return b == 0x68747541u && d == 0x69746E65u && c == 0x444D4163u; /* "AuthenticAMD" */
}
#endif

static fm_cpu_kernels table;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build(void) {
    init_spread();
    for (int k = 0; k < 4; k++) q4p_spread[k] = _mm512_loadu_si512(q4p_spread_idx[k]);
    table = *fm_cpu_kernels_avx2();
    table.name = "avx512vnni";
    table.matmul[FM_DTYPE_Q4_0] = matmul_q4_0;
    table.matmul[FM_DTYPE_Q8_0] = matmul_q8_0;
    table.gemm[FM_DTYPE_Q4_0] = gemm_q4_0;
    table.gemm[FM_DTYPE_Q8_0] = gemm_q8_0;
    fm_avx512_kquant_gemv(&table);
    table.gemm_k[FM_DTYPE_Q4_K] = table.gemm_k[FM_DTYPE_Q5_K] = fm_avx512_gemm_k8_mins;
    table.gemm_k[FM_DTYPE_IQ4_XS] = fm_avx512_gemm_k8;
    table.gemm_k[FM_DTYPE_Q6_K] = table.gemm_k[FM_DTYPE_Q3_K] = fm_avx512_gemm_k16;
    table.gemm_k[FM_DTYPE_Q2_K] = fm_avx512_gemm_k16_mins;
    table.gemm_f[FM_DTYPE_F32] = table.gemm_f[FM_DTYPE_F16] = table.gemm_f[FM_DTYPE_BF16] = fm_avx512_gemm_float;
    table.matmul[FM_DTYPE_F32] = table.matmul[FM_DTYPE_F16] = table.matmul[FM_DTYPE_BF16] = fm_avx512_matmul_float;
#if defined(FM_HAVE_AVX512BF16)
    if (use_dpbf16()) {
        table.gemm_f[FM_DTYPE_BF16] = fm_avx512_gemm_bf16_pairs;
        table.gemm_f_bf16_acts = 1;
    }
#endif
}

const fm_cpu_kernels *fm_cpu_kernels_avx512(void) {
    pthread_once(&once, build);
    return &table;
}
