/* AVX2 + FMA + F16C kernels (see kernels.h). Compiled with those flags on
 * x86-64 only and chosen at run time, so the library still runs on any
 * x86-64 CPU.
 *
 * f32, f16 and bf16 weights meet f32 activations (the f16/bf16 rows are
 * widened in registers). q8_0 and q4_0 weights meet activations quantized
 * to q8_0 blocks: the block dot product is exact integer arithmetic and
 * the only new error is the activation rounding, at most half a quantum
 * (max|x| / 254) per element of each 32-block - documented in
 * docs/performance.md and bounded in tests/backend/test_kernels.c. The
 * matmuls take up to four tokens per pass over a weight row, so a row is
 * loaded once for four tokens when a batch is evaluated. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "../../core/half.h"
#include "kernels.h"
#include "kernels_float.h"
#include "kernels_kquant.h"

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* hsum() of four vectors at once, each summed in exactly hsum()'s order
 * ((lo + hi) lanes u, then (u0 + u2) + (u1 + u3)), so a row reduced here
 * has the bits it would have alone. */
static inline void hsum4(const __m256 v[4], float out[4]) {
    __m128 u0 = _mm_add_ps(_mm256_castps256_ps128(v[0]), _mm256_extractf128_ps(v[0], 1));
    __m128 u1 = _mm_add_ps(_mm256_castps256_ps128(v[1]), _mm256_extractf128_ps(v[1], 1));
    __m128 u2 = _mm_add_ps(_mm256_castps256_ps128(v[2]), _mm256_extractf128_ps(v[2], 1));
    __m128 u3 = _mm_add_ps(_mm256_castps256_ps128(v[3]), _mm256_extractf128_ps(v[3], 1));
    _MM_TRANSPOSE4_PS(u0, u1, u2, u3); /* u0 = lane 0 of each row, ... */
    _mm_storeu_ps(out, _mm_add_ps(_mm_add_ps(u0, u2), _mm_add_ps(u1, u3)));
}

static float dot_f32(const float *a, const float *b, int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* ---- float weights: a row against up to 4 tokens ----------------------- */

/* 8 weights at p as floats, for each float weight type */
static inline __m256 load8_f32(const uint8_t *p) { return _mm256_loadu_ps((const float *)(const void *)p); }
static inline __m256 load8_f16(const uint8_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p)); }
static inline __m256 load8_bf16(const uint8_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)p)), 16));
}

/* Scalar tail element i of a float row. */
static inline float elem(int32_t dtype, const uint8_t *row, int64_t i) {
    uint16_t h;
    if (dtype == FM_DTYPE_F32) {
        float f;
        memcpy(&f, row + 4 * i, 4);
        return f;
    }
    memcpy(&h, row + 2 * i, 2);
    return dtype == FM_DTYPE_F16 ? fm_f16_to_f32(h) : fm_bf16_to_f32(h);
}

/* Every (row, token) result is computed the same way whether its token is
 * evaluated alone or with others: two accumulators over alternating 8-wide
 * chunks, summed, then the scalar tail. So the kernels are batch-invariant.
 * NT tokens share each load of the weight row (NT = 4 in batches, 1 for
 * the rest); NT is a constant in each expansion, so the loops unroll. */
#define FLOAT_ROW_NT(LOAD, ESIZE, DTYPE, NT, ROW)                                                                       \
    do {                                                                                                           \
        __m256 a[NT][2];                                                                                           \
        for (int k = 0; k < NT; k++) a[k][0] = a[k][1] = _mm256_setzero_ps();                                      \
        int64_t i = 0;                                                                                             \
        for (; i < n16; i += 16) {                                                                                 \
            const __m256 v0 = LOAD(wr + (size_t)i * ESIZE), v1 = LOAD(wr + (size_t)(i + 8) * ESIZE);               \
            for (int k = 0; k < NT; k++) {                                                                         \
                a[k][0] = _mm256_fmadd_ps(v0, _mm256_loadu_ps(xs[k] + i), a[k][0]);                                \
                a[k][1] = _mm256_fmadd_ps(v1, _mm256_loadu_ps(xs[k] + i + 8), a[k][1]);                            \
            }                                                                                                      \
        }                                                                                                          \
        if (i < n8) {                                                                                              \
            const __m256 v0 = LOAD(wr + (size_t)i * ESIZE);                                                        \
            for (int k = 0; k < NT; k++) a[k][0] = _mm256_fmadd_ps(v0, _mm256_loadu_ps(xs[k] + i), a[k][0]);       \
        }                                                                                                          \
        for (int k = 0; k < NT; k++) {                                                                             \
            float s = hsum(_mm256_add_ps(a[k][0], a[k][1]));                                                       \
            for (int64_t j = n8; j < n; j++) s += elem(DTYPE, wr, j) * xs[k][j];                                   \
            y[(size_t)(t + k) * ys + ROW] = s;                                                                     \
        }                                                                                                          \
    } while (0)

/* Four rows against one token (generation): the token's loads are shared
 * and the rows' chains run side by side; each row's arithmetic is the
 * one-row path's, so the bits do not depend on which rows are grouped. */
#define FLOAT_ROWS4(LOAD, ESIZE, DTYPE)                                                                            \
    do {                                                                                                           \
        const float *x0 = (const float *)(const void *)(x + (size_t)t * x_stride);                                 \
        const uint8_t *wk[4];                                                                                      \
        for (int k = 0; k < 4; k++) wk[k] = (const uint8_t *)w->data + (size_t)(r + k) * w->row_bytes;             \
        __m256 a[4][2];                                                                                            \
        for (int k = 0; k < 4; k++) a[k][0] = a[k][1] = _mm256_setzero_ps();                                       \
        int64_t i = 0;                                                                                             \
        for (; i < n16; i += 16) {                                                                                 \
            const __m256 xa = _mm256_loadu_ps(x0 + i), xb = _mm256_loadu_ps(x0 + i + 8);                           \
            /* the same place four rows on: hardware prefetchers stop at page ends */                              \
            if ((i * ESIZE) % 64 == 0)                                                                             \
                for (int k = 0; k < 4; k++) _mm_prefetch((const char *)(wk[k] + (size_t)i * ESIZE + 4 * w->row_bytes), _MM_HINT_T0); \
            for (int k = 0; k < 4; k++) {                                                                          \
                a[k][0] = _mm256_fmadd_ps(LOAD(wk[k] + (size_t)i * ESIZE), xa, a[k][0]);                           \
                a[k][1] = _mm256_fmadd_ps(LOAD(wk[k] + (size_t)(i + 8) * ESIZE), xb, a[k][1]);                     \
            }                                                                                                      \
        }                                                                                                          \
        if (i < n8) {                                                                                              \
            const __m256 xa = _mm256_loadu_ps(x0 + i);                                                             \
            for (int k = 0; k < 4; k++) a[k][0] = _mm256_fmadd_ps(LOAD(wk[k] + (size_t)i * ESIZE), xa, a[k][0]);   \
        }                                                                                                          \
        __m256 v[4];                                                                                               \
        float sum[4];                                                                                              \
        for (int k = 0; k < 4; k++) v[k] = _mm256_add_ps(a[k][0], a[k][1]);                                        \
        hsum4(v, sum);                                                                                             \
        for (int k = 0; k < 4; k++) {                                                                              \
            for (int64_t j = n8; j < n; j++) sum[k] += elem(DTYPE, wk[k], j) * x0[j];                              \
            y[(size_t)t * ys + r + k] = sum[k];                                                                    \
        }                                                                                                          \
    } while (0)

/* The loop every matmul kernel here shares: rows four at a time - tokens in
 * groups of four through ROW_NT(4), the rest through ROWS4 - then the
 * leftover rows one at a time (ROW_NT(4), then ROW_NT(1)). XT is the type
 * of an activation row pointer; the trailing arguments go to the row macros. */
#define MATMUL_DRIVER(XT, ROW_NT, ROWS4, ...)                                                                      \
    int64_t r = r0;                                                                                                \
    for (; r + 4 <= r1; r += 4) {                                                                                  \
        int32_t t = 0;                                                                                             \
        for (; t + 4 <= n_tok; t += 4)                                                                             \
            for (int64_t rr = r; rr < r + 4; rr++) {                                                               \
                const uint8_t *wr = (const uint8_t *)w->data + (size_t)rr * w->row_bytes;                          \
                XT xs[4];                                                                                          \
                for (int k = 0; k < 4; k++) xs[k] = (XT)(const void *)(x + (size_t)(t + k) * x_stride);            \
                ROW_NT(__VA_ARGS__, 4, rr);                                                                        \
            }                                                                                                      \
        for (; t < n_tok; t++) ROWS4(__VA_ARGS__);                                                                 \
    }                                                                                                              \
    for (; r < r1; r++) {                                                                                          \
        const uint8_t *wr = (const uint8_t *)w->data + (size_t)r * w->row_bytes;                                   \
        int32_t t = 0;                                                                                             \
        for (; t + 4 <= n_tok; t += 4) {                                                                           \
            XT xs[4];                                                                                              \
            for (int k = 0; k < 4; k++) xs[k] = (XT)(const void *)(x + (size_t)(t + k) * x_stride);                \
            ROW_NT(__VA_ARGS__, 4, r);                                                                             \
        }                                                                                                          \
        for (; t < n_tok; t++) {                                                                                   \
            XT xs[1] = {(XT)(const void *)(x + (size_t)t * x_stride)};                                             \
            ROW_NT(__VA_ARGS__, 1, r);                                                                             \
        }                                                                                                          \
    }

#define FLOAT_MATMUL(NAME, LOAD, ESIZE, DTYPE)                                                                     \
    static void NAME(const fm_weight *w, int64_t r0, int64_t r1, const uint8_t *x, size_t x_stride, int32_t n_tok, \
                     float *y, int64_t ys) {                                                                       \
        const int64_t n = w->cols, n16 = n / 16 * 16, n8 = n / 8 * 8;                                              \
        MATMUL_DRIVER(const float *, FLOAT_ROW_NT, FLOAT_ROWS4, LOAD, ESIZE, DTYPE)                                \
    }

FLOAT_MATMUL(matmul_f32, load8_f32, 4, FM_DTYPE_F32)
FLOAT_MATMUL(matmul_f16, load8_f16, 2, FM_DTYPE_F16)
FLOAT_MATMUL(matmul_bf16, load8_bf16, 2, FM_DTYPE_BF16)

/* ---- 8-bit blocks ---------------------------------------------------------- */

static void quantize_q8_0(const float *x, int64_t n, uint8_t *out) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < n / 32; b++, x += 32, out += FM_Q8_0_BYTES) {
        __m256 v[4];
        __m256 mx = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(x + 8 * k);
            mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, v[k]));
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float d = _mm_cvtss_f32(m4) / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        const uint16_t h = fm_f32_to_f16(d);
        memcpy(out, &h, 2);
        const __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; k++) /* nearest, ties to even (as the reference quantizer) */
            q[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[k], vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        /* pack 32 int32 to 32 int8 in order */
        __m256i p01 = _mm256_packs_epi32(q[0], q[1]), p23 = _mm256_packs_epi32(q[2], q[3]);
        __m256i p = _mm256_packs_epi16(p01, p23);
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(void *)(out + 2), p);
    }
}

static inline float half_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h); /* F16C: exact, as fm_f16_to_f32 */
}

/* sum of 32 int8 products w[j] * x[j] as 8 int32 lanes */
static inline __m256i dot_i8(__m256i w, __m256i x) {
    const __m256i ax = _mm256_sign_epi8(w, w); /* |w| (w is in -127..127 or the q4 range, never -128) */
    const __m256i sx = _mm256_sign_epi8(x, w); /* x with w's sign */
    const __m256i p16 = _mm256_maddubs_epi16(ax, sx);
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

/* q4_0 block's 32 quants as int8 in -8..7: low nibbles are elements 0..15 */
static inline __m256i q4_0_unpack(const uint8_t *qs) {
    const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)qs);
    const __m256i v = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
    return _mm256_sub_epi8(_mm256_and_si256(v, _mm256_set1_epi8(0x0F)), _mm256_set1_epi8(8));
}

/* As for floats: two accumulators over alternating blocks, the same for a
 * token alone or in a group of four, so the result does not depend on the batch. */
/* One block of weights (wb) against one q8_0 activation block (xb), into accumulator ACC */
#define Q8_BLOCK(ACC, wb, xb, SCALE_OF, QUANTS_OF)                                                                 \
    ACC = _mm256_fmadd_ps(_mm256_set1_ps(SCALE_OF(wb) * half_at(xb)),                                              \
                          _mm256_cvtepi32_ps(dot_i8(QUANTS_OF(wb), _mm256_loadu_si256((const __m256i *)(const void *)((xb) + 2)))), \
                          ACC)

/* Blocks go to accumulator 0 (even) and 1 (odd), unrolled by two so both
 * stay in registers. */
#define Q8_ROW_NT(BLOCK_BYTES, SCALE_OF, QUANTS_OF, NT, ROW)                                                       \
    do {                                                                                                           \
        __m256 a0[NT], a1[NT];                                                                                     \
        for (int k = 0; k < NT; k++) a0[k] = a1[k] = _mm256_setzero_ps();                                          \
        int64_t b = 0;                                                                                             \
        for (; b + 2 <= nb; b += 2) {                                                                              \
            const uint8_t *wb = wr + (size_t)b * BLOCK_BYTES;                                                      \
            for (int k = 0; k < NT; k++) {                                                                         \
                const uint8_t *xb = xs[k] + (size_t)b * FM_Q8_0_BYTES;                                             \
                Q8_BLOCK(a0[k], wb, xb, SCALE_OF, QUANTS_OF);                                                      \
                Q8_BLOCK(a1[k], wb + BLOCK_BYTES, xb + FM_Q8_0_BYTES, SCALE_OF, QUANTS_OF);                        \
            }                                                                                                      \
        }                                                                                                          \
        if (b < nb)                                                                                                \
            for (int k = 0; k < NT; k++)                                                                           \
                Q8_BLOCK(a0[k], wr + (size_t)b * BLOCK_BYTES, xs[k] + (size_t)b * FM_Q8_0_BYTES, SCALE_OF, QUANTS_OF); \
        for (int k = 0; k < NT; k++) y[(size_t)(t + k) * ys + ROW] = hsum(_mm256_add_ps(a0[k], a1[k]));           \
    } while (0)

/* Four rows against one token, each row's arithmetic as in Q8_ROW_NT. */
#define Q8_ROWS4(BLOCK_BYTES, SCALE_OF, QUANTS_OF)                                                                 \
    do {                                                                                                           \
        const uint8_t *x0 = x + (size_t)t * x_stride;                                                              \
        const uint8_t *wk[4];                                                                                      \
        for (int k = 0; k < 4; k++) wk[k] = (const uint8_t *)w->data + (size_t)(r + k) * w->row_bytes;             \
        __m256 a0[4], a1[4];                                                                                       \
        for (int k = 0; k < 4; k++) a0[k] = a1[k] = _mm256_setzero_ps();                                           \
        int64_t b = 0;                                                                                             \
        for (; b + 2 <= nb; b += 2) {                                                                              \
            const uint8_t *xb = x0 + (size_t)b * FM_Q8_0_BYTES;                                                    \
            for (int k = 0; k < 4; k++) {                                                                          \
                const uint8_t *wb = wk[k] + (size_t)b * BLOCK_BYTES;                                               \
                _mm_prefetch((const char *)(wb + 4 * w->row_bytes), _MM_HINT_T0);                                  \
                Q8_BLOCK(a0[k], wb, xb, SCALE_OF, QUANTS_OF);                                                      \
                Q8_BLOCK(a1[k], wb + BLOCK_BYTES, xb + FM_Q8_0_BYTES, SCALE_OF, QUANTS_OF);                        \
            }                                                                                                      \
        }                                                                                                          \
        if (b < nb)                                                                                                \
            for (int k = 0; k < 4; k++)                                                                            \
                Q8_BLOCK(a0[k], wk[k] + (size_t)b * BLOCK_BYTES, x0 + (size_t)b * FM_Q8_0_BYTES, SCALE_OF, QUANTS_OF); \
        __m256 v[4];                                                                                               \
        float sum[4];                                                                                              \
        for (int k = 0; k < 4; k++) v[k] = _mm256_add_ps(a0[k], a1[k]);                                            \
        hsum4(v, sum);                                                                                             \
        for (int k = 0; k < 4; k++) y[(size_t)t * ys + r + k] = sum[k];                                            \
    } while (0)

#define Q8_MATMUL(NAME, BLOCK_BYTES, SCALE_OF, QUANTS_OF)                                                          \
    static void NAME(const fm_weight *w, int64_t r0, int64_t r1, const uint8_t *x, size_t x_stride, int32_t n_tok, \
                     float *y, int64_t ys) {                                                                       \
        const int64_t nb = w->cols / 32;                                                                           \
        MATMUL_DRIVER(const uint8_t *, Q8_ROW_NT, Q8_ROWS4, BLOCK_BYTES, SCALE_OF, QUANTS_OF)                      \
    }

#define Q8_0_QUANTS(wb) _mm256_loadu_si256((const __m256i *)(const void *)((wb) + 2))
#define Q4_0_QUANTS(wb) q4_0_unpack((wb) + 2)

/* iq4_nl: q4_0's nibble layout, each nibble looked up in the grid */
static inline __m256i iq4_nl_unpack(const uint8_t *qs) {
    const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)qs);
    const __m256i v = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(b, 4), b), _mm256_set1_epi8(0x0F));
    const __m256i grid = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)fm_iq4_values));
    return _mm256_shuffle_epi8(grid, v);
}
#define IQ4_NL_QUANTS(wb) iq4_nl_unpack((wb) + 2)

/* q5_0: d, 4 bytes of fifth bits (bit j for element j), q4_0's nibbles;
 * quants (nibble | bit << 4) - 16 */
static inline __m256i q5_0_unpack(const uint8_t *b) {
    uint32_t qh;
    memcpy(&qh, b + 2, 4);
    /* byte j of the vector takes bit j of qh: spread each qh byte over 8 lanes, test its bit */
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh),
                                               _mm256_setr_epi64x(0, 0x0101010101010101LL, 0x0202020202020202LL,
                                                                  0x0303030303030303LL));
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201LL);
    const __m256i hb = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
    const __m128i n = _mm_loadu_si128((const __m128i *)(const void *)(b + 6));
    const __m256i v = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(n, 4), n), _mm256_set1_epi8(0x0F));
    return _mm256_sub_epi8(_mm256_or_si256(v, hb), _mm256_set1_epi8(16));
}
#define Q5_0_QUANTS(wb) q5_0_unpack(wb)

Q8_MATMUL(matmul_q8_0, 34, half_at, Q8_0_QUANTS)
Q8_MATMUL(matmul_q4_0, 18, half_at, Q4_0_QUANTS)
Q8_MATMUL(matmul_iq4_nl, 18, half_at, IQ4_NL_QUANTS)
Q8_MATMUL(matmul_q5_0, 22, half_at, Q5_0_QUANTS)

/* ---- attention: streaming softmax over 8 positions at a time ------------- */

/* e^x for 8 lanes, relative error ~2e-7 (Cephes' expf polynomial after
 * reducing x by multiples of ln 2); x below -87 gives 0. */
static inline __m256 exp8(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.0f);
    const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.0f)), lo);
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

/* The 8 sums of 8 vectors' lanes, as one vector (lane j = sum of v[j]). */
static inline __m256 hsum8x8(const __m256 v[8]) {
    const __m256 h01 = _mm256_hadd_ps(v[0], v[1]), h23 = _mm256_hadd_ps(v[2], v[3]);
    const __m256 h45 = _mm256_hadd_ps(v[4], v[5]), h67 = _mm256_hadd_ps(v[6], v[7]);
    const __m256 a = _mm256_hadd_ps(h01, h23), b = _mm256_hadd_ps(h45, h67);
    return _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
}

static inline float hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* Online softmax over tiles of 64 positions (running max and sum, the
 * output rescaled when the max grows), so no row of scores is kept: memory
 * stays O(D) per row. Within a tile the 8-position score groups, their
 * exponentials and the value sums (four partial sums) are independent, so
 * the work pipelines instead of waiting on one long chain. Generated for
 * the common head sizes as constants (the loops over D unroll) and for any
 * other multiple of 8; other sizes take the reference kernel. */
#define ATTN_ROW_T(NAME, DCONST, T, LOAD)                                                                                     \
    static void NAME(const float *q, const T *k, const T *v, int64_t kv_stride, const int32_t *runs,         \
                     int32_t n_runs, int32_t D_, float scale, float *out) {                                        \
        const int32_t D = DCONST ? DCONST : D_;                                                                    \
        float m = -INFINITY, l = 0;                                                                                \
        const __m256 lane = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7), vscale = _mm256_set1_ps(scale);                \
        for (int32_t d = 0; d < D; d++) out[d] = 0;                                                                \
        int32_t run = 0, at = n_runs > 0 ? runs[0] : 0;                                                            \
        for (;;) {                                                                                                 \
            /* the next (up to) 64 visible cells, in order across runs: tiles \
               follow the visible cells, not the runs, so a sequence gets   \
               the same bits however its cells are laid out */              \
            const T *krow[64], *vrow[64];                                                                          \
            int cnt = 0;                                                                                           \
            while (cnt < 64 && run < n_runs) {                                                                     \
                if (at >= runs[2 * run + 1]) {                                                                     \
                    if (++run < n_runs) at = runs[2 * run];                                                        \
                    continue;                                                                                      \
                }                                                                                                  \
                krow[cnt] = k + (size_t)at * (size_t)kv_stride;                                                    \
                vrow[cnt++] = v + (size_t)at * (size_t)kv_stride;                                                  \
                at++;                                                                                              \
            }                                                                                                      \
            if (cnt == 0) break;                                                                                   \
            const int ng = (cnt + 7) / 8;                                                                          \
            __m256 s[8];                                                                                           \
            __m256 cmax = _mm256_set1_ps(-INFINITY);                                                               \
            for (int g = 0; g < ng; g++) {                                                                         \
                __m256 part[8];                                                                                    \
                const int base = 8 * g, valid_n = cnt - base;                                                      \
                for (int j = 0; j < 8; j++) {                                                                      \
                    const T *kj = krow[base + (j < valid_n ? j : 0)];                                              \
                    __m256 acc = _mm256_mul_ps(_mm256_loadu_ps(q), LOAD(kj));                           \
                    for (int32_t d = 8; d < D; d += 8)                                                             \
                        acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), LOAD(kj + d), acc);               \
                    part[j] = acc;                                                                                 \
                }                                                                                                  \
                s[g] = _mm256_mul_ps(hsum8x8(part), vscale);                                                       \
                if (valid_n < 8)                                                                                   \
                    s[g] = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), s[g],                                       \
                                            _mm256_cmp_ps(lane, _mm256_set1_ps((float)valid_n), _CMP_LT_OQ));      \
                cmax = _mm256_max_ps(cmax, s[g]);                                                                  \
            }                                                                                                      \
            const float m_new = fmaxf(m, hmax(cmax));                                                              \
            if (m_new > m) { /* rescale what came before to the new max */                                         \
                const float alpha = m == -INFINITY ? 0.0f : expf(m - m_new);                                       \
                l *= alpha;                                                                                        \
                const __m256 va = _mm256_set1_ps(alpha);                                                           \
                for (int32_t d = 0; d < D; d += 8) _mm256_storeu_ps(out + d, _mm256_mul_ps(_mm256_loadu_ps(out + d), va)); \
                m = m_new;                                                                                         \
            }                                                                                                      \
            float e[64];                                                                                           \
            __m256 esum = _mm256_setzero_ps();                                                                     \
            const __m256 vm = _mm256_set1_ps(m);                                                                   \
            for (int g = 0; g < ng; g++) {                                                                         \
                const __m256 eg = exp8(_mm256_sub_ps(s[g], vm)); /* -inf lanes give 0 */                          \
                _mm256_storeu_ps(e + 8 * g, eg);                                                                   \
                esum = _mm256_add_ps(esum, eg);                                                                    \
            }                                                                                                      \
            l += hsum(esum);                                                                                       \
            for (int32_t d = 0; d < D; d += 8) {                                                                   \
                __m256 o0 = _mm256_loadu_ps(out + d), o1 = _mm256_setzero_ps(), o2 = _mm256_setzero_ps(),          \
                       o3 = _mm256_setzero_ps();                                                                   \
                int p = 0;                                                                                         \
                for (; p + 4 <= cnt; p += 4) {                                                                     \
                    o0 = _mm256_fmadd_ps(_mm256_set1_ps(e[p]), LOAD(vrow[p] + d), o0);                             \
                    o1 = _mm256_fmadd_ps(_mm256_set1_ps(e[p + 1]), LOAD(vrow[p + 1] + d), o1);                     \
                    o2 = _mm256_fmadd_ps(_mm256_set1_ps(e[p + 2]), LOAD(vrow[p + 2] + d), o2);                     \
                    o3 = _mm256_fmadd_ps(_mm256_set1_ps(e[p + 3]), LOAD(vrow[p + 3] + d), o3);                     \
                }                                                                                                  \
                for (; p < cnt; p++) o0 = _mm256_fmadd_ps(_mm256_set1_ps(e[p]), LOAD(vrow[p] + d), o0);           \
                _mm256_storeu_ps(out + d, _mm256_add_ps(_mm256_add_ps(o0, o1), _mm256_add_ps(o2, o3)));            \
            }                                                                                                      \
        }                                                                                                          \
        const __m256 inv = _mm256_set1_ps(l > 0 ? 1.0f / l : 0.0f); /* no cells: zeros */                                                               \
        for (int32_t d = 0; d < D; d += 8) _mm256_storeu_ps(out + d, _mm256_mul_ps(_mm256_loadu_ps(out + d), inv)); \
    }

static inline __m256 load8_h(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p)); }

/* one instance per common head size (the compiler unrolls D), for f32 and
 * f16 caches */
#define ATTN_ROW(NAME, DCONST) ATTN_ROW_T(NAME, DCONST, float, _mm256_loadu_ps)
#define ATTN_ROW_H(NAME, DCONST) ATTN_ROW_T(NAME, DCONST, uint16_t, load8_h)
ATTN_ROW(attn_row_8, 8)
ATTN_ROW(attn_row_16, 16)
ATTN_ROW(attn_row_32, 32)
ATTN_ROW(attn_row_64, 64)
ATTN_ROW(attn_row_128, 128)
ATTN_ROW(attn_row_any8, 0)
ATTN_ROW_H(attn_row_h8, 8)
ATTN_ROW_H(attn_row_h16, 16)
ATTN_ROW_H(attn_row_h32, 32)
ATTN_ROW_H(attn_row_h64, 64)
ATTN_ROW_H(attn_row_h128, 128)
ATTN_ROW_H(attn_row_hany8, 0)

/* The instance for the head size; the reference kernel for sizes that are
 * not multiples of 8 (and for empty rows). */
#define ATTN_DISPATCH(NAME, T, P)                                                                                  \
    static void NAME(const float *q, const T *k, const T *v, int64_t kv_stride, const int32_t *runs,           \
                     int32_t n_runs, int32_t D, float scale, float *scores, float *out) {                       \
        if (D % 8 == 0 && n_runs > 0) {                                                                        \
            switch (D) {                                                                                       \
            case 8: P##8(q, k, v, kv_stride, runs, n_runs, D, scale, out); return;                            \
            case 16: P##16(q, k, v, kv_stride, runs, n_runs, D, scale, out); return;                          \
            case 32: P##32(q, k, v, kv_stride, runs, n_runs, D, scale, out); return;                          \
            case 64: P##64(q, k, v, kv_stride, runs, n_runs, D, scale, out); return;                          \
            case 128: P##128(q, k, v, kv_stride, runs, n_runs, D, scale, out); return;                        \
            default: P##any8(q, k, v, kv_stride, runs, n_runs, D, scale, out); return;                        \
            }                                                                                                  \
        }                                                                                                      \
        fm_cpu_kernels_ref()->NAME(q, k, v, kv_stride, runs, n_runs, D, scale, scores, out);                  \
    }
ATTN_DISPATCH(attn_row, float, attn_row_)
ATTN_DISPATCH(attn_row_f16, uint16_t, attn_row_h)

/* f16 and bf16 rows widened 8 at a time (exact); other types are left to
 * the portable dequantizer */
static int row_to_f32(int32_t dtype, const uint8_t *src, int64_t n, float *dst) {
    if (dtype == FM_DTYPE_Q8_0 || dtype == FM_DTYPE_Q4_0) { /* d * q, 8 at a time, as the reference computes it */
        const int q4 = dtype == FM_DTYPE_Q4_0;
        const size_t bb = q4 ? 18 : 34;
        for (int64_t b = 0; b < n / 32; b++, src += bb, dst += 32) {
            const __m256 d = _mm256_set1_ps(half_at(src));
            const __m256i q = q4 ? q4_0_unpack(src + 2) : _mm256_loadu_si256((const __m256i *)(const void *)(src + 2));
            const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
            _mm256_storeu_ps(dst, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), d));
            _mm256_storeu_ps(dst + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), d));
            _mm256_storeu_ps(dst + 16, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), d));
            _mm256_storeu_ps(dst + 24, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), d));
        }
        return 1;
    }
    if (dtype != FM_DTYPE_F16 && dtype != FM_DTYPE_BF16) return 0;
    int64_t i = 0;
    if (dtype == FM_DTYPE_F16)
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load8_f16(src + 2 * i));
    else
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load8_bf16(src + 2 * i));
    for (; i < n; i++) dst[i] = elem(dtype, src, i);
    return 1;
}

/* exp8 over the values, 8 at a time; the tail through padded lanes */
static float exp_sum(float *x, int64_t n, float m) {
    const __m256 vm = _mm256_set1_ps(m);
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    if (i < n) {
        float t[8];
        for (int j = 0; j < 8; j++) t[j] = i + j < n ? x[i + j] : -INFINITY;
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(t), vm)); /* -inf lanes give 0 */
        _mm256_storeu_ps(t, e);
        memcpy(x + i, t, (size_t)(n - i) * sizeof *x);
        acc = _mm256_add_ps(acc, e);
    }
    return hsum(acc);
}

static inline __m256 swiglu8(__m256 g, __m256 u) {
    const __m256 e = exp8(_mm256_xor_ps(g, _mm256_set1_ps(-0.0f)));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

/* silu(g) * u = g / (1 + e^-g) * u, 8 at a time (exp8's ~2e-7 relative
 * error); the tail goes through the same lanes, padded, so an element gets
 * the same bits wherever the batch puts it (batch invariance) */
static void swiglu(const float *gate, const float *up, int64_t n, float *out) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, swiglu8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
    if (i < n) {
        float g[8] = {0}, u[8] = {0}, o[8];
        memcpy(g, gate + i, (size_t)(n - i) * sizeof *g);
        memcpy(u, up + i, (size_t)(n - i) * sizeof *u);
        _mm256_storeu_ps(o, swiglu8(_mm256_loadu_ps(g), _mm256_loadu_ps(u)));
        memcpy(out + i, o, (size_t)(n - i) * sizeof *o);
    }
}

static const fm_cpu_kernels avx2 = {
    .name = "avx2",
    .matmul = {[FM_DTYPE_F32] = matmul_f32, [FM_DTYPE_F16] = matmul_f16, [FM_DTYPE_BF16] = matmul_bf16,
               [FM_DTYPE_Q8_0] = matmul_q8_0, [FM_DTYPE_Q4_0] = matmul_q4_0, [FM_DTYPE_Q5_0] = matmul_q5_0,
               [FM_DTYPE_IQ4_NL] = matmul_iq4_nl, [FM_DTYPE_Q2_K] = fm_avx2_matmul_q2_k,
               [FM_DTYPE_Q3_K] = fm_avx2_matmul_q3_k, [FM_DTYPE_Q4_K] = fm_avx2_matmul_q4_k,
               [FM_DTYPE_Q5_K] = fm_avx2_matmul_q5_k, [FM_DTYPE_Q6_K] = fm_avx2_matmul_q6_k,
               [FM_DTYPE_IQ4_XS] = fm_avx2_matmul_iq4_xs},
    .gemm_k = {[FM_DTYPE_Q4_K] = fm_avx2_gemm_k8_mins, [FM_DTYPE_Q5_K] = fm_avx2_gemm_k8_mins,
               [FM_DTYPE_Q6_K] = fm_avx2_gemm_k16, [FM_DTYPE_Q3_K] = fm_avx2_gemm_k16,
               [FM_DTYPE_Q2_K] = fm_avx2_gemm_k16_mins},
    .gemm_f = {[FM_DTYPE_F32] = fm_avx2_gemm_float, [FM_DTYPE_F16] = fm_avx2_gemm_float,
               [FM_DTYPE_BF16] = fm_avx2_gemm_float},
    .act = {[FM_DTYPE_Q8_0] = FM_ACT_Q8_0, [FM_DTYPE_Q4_0] = FM_ACT_Q8_0, [FM_DTYPE_Q5_0] = FM_ACT_Q8_0,
            [FM_DTYPE_IQ4_NL] = FM_ACT_Q8_0, [FM_DTYPE_Q2_K] = FM_ACT_Q8_K, [FM_DTYPE_Q3_K] = FM_ACT_Q8_K,
            [FM_DTYPE_Q4_K] = FM_ACT_Q8_K, [FM_DTYPE_Q5_K] = FM_ACT_Q8_K, [FM_DTYPE_Q6_K] = FM_ACT_Q8_K,
            [FM_DTYPE_IQ4_XS] = FM_ACT_Q8_K},
    .dot_f32 = dot_f32,
    .quantize_q8_0 = quantize_q8_0,
    .quantize_q8_k = fm_avx2_quantize_q8_k,
    .attn_row = attn_row,
    .attn_row_f16 = attn_row_f16,
    .exp_sum = exp_sum,
    .row_to_f32 = row_to_f32,
    .swiglu = swiglu,
};

const fm_cpu_kernels *fm_cpu_kernels_avx2(void) { return &avx2; }
