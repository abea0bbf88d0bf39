/* AVX2 generation kernels for the K-quant and IQ4 weight types (q2_K,
 * q3_K, q4_K, q5_K, q6_K, iq4_xs against q8_K activations; iq4_nl and
 * q5_0 against q8_0 ones, in kernels_avx2.c). They read the packed blocks
 * as stored - no row is converted to floats - and take llama.cpp's route
 * to exactness: each 256-weight super-block meets one q8_K activation
 * block, the sub-block dot products are integers (unsigned quants times
 * signed activations, summed in pairs by VPMADDUBSW), the sub-block
 * scales multiply them as integers (VPMADDWD), and the super-block's two
 * float scales apply once. A sub-block's min or a type's offset (q3_K's
 * 4, q6_K's 32) comes back through the activation block's 16-quant sums.
 * So the only new error is the activations' rounding, half a quantum
 * (max|x| / 254) per element of each 256-block, and f32 accumulation.
 *
 * Rows go four at a time against one token (their streams interleave and
 * each is prefetched four rows ahead, where hardware prefetchers stop at
 * page ends); every (row, token) is computed the same way alone or in a
 * group, one token at a time, so results do not depend on the batch or
 * the thread count. */
#include <immintrin.h>
#include <string.h>

#include "kernels_kquant.h"
#include "kernels_kquant_rows.h"
#include "kernels_kquant_scales.h"

static inline __m256i load256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Shuffle masks that broadcast int16 scale pairs across a 256-bit vector
 * of 16 int16 lanes (each 128-bit half holds the same 8 scales):
 * by32(j) puts scale j in every lane (a 32-element sub-block);
 * by16(k) puts scale 2k in lanes 0-7 and 2k+1 in lanes 8-15 (two
 * 16-element sub-blocks, the low and high half of a 32-element chunk). */
#define PAIR16(j) 2 * (j), 2 * (j) + 1
#define BY32(j) {PAIR16(j), PAIR16(j), PAIR16(j), PAIR16(j), PAIR16(j), PAIR16(j), PAIR16(j), PAIR16(j), \
                 PAIR16(j), PAIR16(j), PAIR16(j), PAIR16(j), PAIR16(j), PAIR16(j), PAIR16(j), PAIR16(j)}
#define BY16(k) {PAIR16(2 * (k)), PAIR16(2 * (k)), PAIR16(2 * (k)), PAIR16(2 * (k)), PAIR16(2 * (k)), PAIR16(2 * (k)), \
                 PAIR16(2 * (k)), PAIR16(2 * (k)), PAIR16(2 * (k) + 1), PAIR16(2 * (k) + 1), PAIR16(2 * (k) + 1),      \
                 PAIR16(2 * (k) + 1), PAIR16(2 * (k) + 1), PAIR16(2 * (k) + 1), PAIR16(2 * (k) + 1), PAIR16(2 * (k) + 1)}
static const uint8_t by32_masks[8][32] = {BY32(0), BY32(1), BY32(2), BY32(3), BY32(4), BY32(5), BY32(6), BY32(7)};
static const uint8_t by16_masks[4][32] = {BY16(0), BY16(1), BY16(2), BY16(3)};
#define by32(j) load256(by32_masks[j])
#define by16(k) load256(by16_masks[k])

/* unsigned quants u (32 bytes) times activations x, each int16 pair sum
 * times its lane's scale: 8 int32 lanes */
static inline __m256i dot_scaled(__m256i u, __m256i x, __m256i scales) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, x), scales);
}

/* 8 int16 values broadcast to both 128-bit halves */
static inline __m256i twice(__m128i v) { return _mm256_broadcastsi128_si256(v); }

/* sum over the 8 sub-blocks of min_j * (sum of its 32 activation quants),
 * as int32 lanes (4 used) */
static inline __m256i k4_min_sums(uint64_t mn, const fm_block_q8k *xb) {
    const __m128i b0 = _mm_loadu_si128((const __m128i *)(const void *)xb->bsums);
    const __m128i b1 = _mm_loadu_si128((const __m128i *)(const void *)(xb->bsums + 8));
    const __m128i b32 = _mm_hadd_epi16(b0, b1); /* 8 sums of 32 (|s| <= 4064) */
    return _mm256_zextsi128_si256(_mm_madd_epi16(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)mn)), b32));
}

/* ---- one super-block of one row against one activation block ---------- */

/* q4_K: d, dmin, 12 bytes of scales, 128 bytes of nibbles (64-group i:
 * low nibbles sub-block 2i, high 2i+1). */
static inline __m256 sb_q4_k(const uint8_t *wb, const fm_block_q8k *xb, __m256 acc) {
    uint64_t sc, mn;
    k4_scales(wb + 4, &sc, &mn);
    const __m256i scv = twice(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)sc)));
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256i sum = _mm256_setzero_si256();
    for (int i = 0; i < 4; i++) {
        const __m256i q = load256(wb + 16 + 32 * i);
        const __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        sum = _mm256_add_epi32(sum, dot_scaled(lo, load256(xb->qs + 64 * i), _mm256_shuffle_epi8(scv, by32(2 * i))));
        sum = _mm256_add_epi32(sum, dot_scaled(hi, load256(xb->qs + 64 * i + 32), _mm256_shuffle_epi8(scv, by32(2 * i + 1))));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half_at(wb) * xb->d), _mm256_cvtepi32_ps(sum), acc);
    return _mm256_fmadd_ps(_mm256_set1_ps(-half_at(wb + 2) * xb->d), _mm256_cvtepi32_ps(k4_min_sums(mn, xb)), acc);
}

/* q5_K: as q4_K with 32 bytes of fifth bits after the scales (element l
 * of 64-group i: bit 2i of byte l for the low nibble, 2i+1 for the high) */
static inline __m256 sb_q5_k(const uint8_t *wb, const fm_block_q8k *xb, __m256 acc) {
    uint64_t sc, mn;
    k4_scales(wb + 4, &sc, &mn);
    const __m256i scv = twice(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)sc)));
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    const __m256i qh = load256(wb + 16);
    __m256i sum = _mm256_setzero_si256();
    for (int i = 0; i < 4; i++) {
        const __m256i q = load256(wb + 48 + 32 * i);
        /* byte-wise after the mask: a 16-bit shift moves no kept bit across bytes */
        const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * i), one), 4);
        const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * i + 1), one), 4);
        const __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4), h0);
        const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), h1);
        sum = _mm256_add_epi32(sum, dot_scaled(lo, load256(xb->qs + 64 * i), _mm256_shuffle_epi8(scv, by32(2 * i))));
        sum = _mm256_add_epi32(sum, dot_scaled(hi, load256(xb->qs + 64 * i + 32), _mm256_shuffle_epi8(scv, by32(2 * i + 1))));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half_at(wb) * xb->d), _mm256_cvtepi32_ps(sum), acc);
    return _mm256_fmadd_ps(_mm256_set1_ps(-half_at(wb + 2) * xb->d), _mm256_cvtepi32_ps(k4_min_sums(mn, xb)), acc);
}

/* Sixteen signed 16-element scales against the 16 activation sums, as
 * int32 lanes: what a constant offset in every quant contributes. */
static inline __m256i scaled_bsums(__m256i sc16, const fm_block_q8k *xb) {
    return _mm256_madd_epi16(sc16, load256(xb->bsums));
}

/* q6_K: 128 bytes of low nibbles, 64 of high bit pairs, 16 int8 scales, d.
 * Element 32k + l of half h (k = 0..3): nibble (k >= 2: high) of
 * ql[64h + 32(k & 1) + l], bits 2k..2k+1 of qh[32h + l]; value
 * d * scale * (u - 32), u in 0..63. */
static inline __m256 sb_q6_k(const uint8_t *wb, const fm_block_q8k *xb, __m256 acc) {
    const __m128i sc8 = _mm_loadu_si128((const __m128i *)(const void *)(wb + 192));
    const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256i sum = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
        const __m256i scv = twice(h ? _mm256_extracti128_si256(sc16, 1) : _mm256_castsi256_si128(sc16));
        const __m256i ql0 = load256(wb + 64 * h), ql1 = load256(wb + 64 * h + 32), qh = load256(wb + 128 + 32 * h);
        const __m256i u0 = _mm256_or_si256(_mm256_and_si256(ql0, m4),
                                           _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x03)), 4));
        const __m256i u1 = _mm256_or_si256(_mm256_and_si256(ql1, m4),
                                           _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x0C)), 2));
        const __m256i u2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                                           _mm256_and_si256(qh, _mm256_set1_epi8(0x30)));
        const __m256i u3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                                           _mm256_srli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8((char)0xC0)), 2));
        const int8_t *xq = xb->qs + 128 * h;
        sum = _mm256_add_epi32(sum, dot_scaled(u0, load256(xq), _mm256_shuffle_epi8(scv, by16(0))));
        sum = _mm256_add_epi32(sum, dot_scaled(u1, load256(xq + 32), _mm256_shuffle_epi8(scv, by16(1))));
        sum = _mm256_add_epi32(sum, dot_scaled(u2, load256(xq + 64), _mm256_shuffle_epi8(scv, by16(2))));
        sum = _mm256_add_epi32(sum, dot_scaled(u3, load256(xq + 96), _mm256_shuffle_epi8(scv, by16(3))));
    }
    sum = _mm256_sub_epi32(sum, _mm256_slli_epi32(scaled_bsums(sc16, xb), 5)); /* the offset 32 */
    return _mm256_fmadd_ps(_mm256_set1_ps(half_at(wb + 208) * xb->d), _mm256_cvtepi32_ps(sum), acc);
}

/* q3_K: 32 bytes of high bits, 64 of low bit pairs, 12 of scales, d.
 * Element 32k + l of half h: bits 2k..2k+1 of qs[32h + l] and bit 4h + k
 * of hmask[l]; u = pair | bit << 2 in 0..7, value d * scale * (u - 4). */
static inline __m256 sb_q3_k(const uint8_t *wb, const fm_block_q8k *xb, __m256 acc) {
    const __m256i sc16 = _mm256_cvtepi8_epi16(k3_scales(wb + 96));
    const __m256i m2 = _mm256_set1_epi8(0x03), one = _mm256_set1_epi8(1);
    const __m256i hm = load256(wb);
    __m256i sum = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
        const __m256i scv = twice(h ? _mm256_extracti128_si256(sc16, 1) : _mm256_castsi256_si128(sc16));
        const __m256i qs = load256(wb + 32 + 32 * h);
        for (int k = 0; k < 4; k++) {
            const __m256i pair = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * k), m2);
            const __m256i bit = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + k), one), 2);
            sum = _mm256_add_epi32(sum, dot_scaled(_mm256_or_si256(pair, bit), load256(xb->qs + 128 * h + 32 * k),
                                                   _mm256_shuffle_epi8(scv, by16(k))));
        }
    }
    sum = _mm256_sub_epi32(sum, _mm256_slli_epi32(scaled_bsums(sc16, xb), 2)); /* the offset 4 */
    return _mm256_fmadd_ps(_mm256_set1_ps(half_at(wb + 108) * xb->d), _mm256_cvtepi32_ps(sum), acc);
}

/* q2_K: 16 bytes of (scale | min << 4), 64 of bit pairs, d, dmin. Element
 * 32k + l of half h: bits 2k..2k+1 of qs[32h + l]; value d*sc*u - dmin*m. */
static inline __m256 sb_q2_k(const uint8_t *wb, const fm_block_q8k *xb, __m256 acc) {
    const __m128i sm = _mm_loadu_si128((const __m128i *)(const void *)wb);
    const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(sm, _mm_set1_epi8(0x0F)));
    const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sm, 4), _mm_set1_epi8(0x0F)));
    const __m256i m2 = _mm256_set1_epi8(0x03);
    __m256i sum = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
        const __m256i scv = twice(h ? _mm256_extracti128_si256(sc16, 1) : _mm256_castsi256_si128(sc16));
        const __m256i qs = load256(wb + 16 + 32 * h);
        for (int k = 0; k < 4; k++)
            sum = _mm256_add_epi32(sum, dot_scaled(_mm256_and_si256(_mm256_srli_epi16(qs, 2 * k), m2),
                                                   load256(xb->qs + 128 * h + 32 * k), _mm256_shuffle_epi8(scv, by16(k))));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half_at(wb + 80) * xb->d), _mm256_cvtepi32_ps(sum), acc);
    return _mm256_fmadd_ps(_mm256_set1_ps(-half_at(wb + 82) * xb->d), _mm256_cvtepi32_ps(scaled_bsums(mn16, xb)), acc);
}

/* The iq4 grid as a byte shuffle table (both halves). */
static inline __m256i iq4_table(void) {
    return twice(_mm_loadu_si128((const __m128i *)(const void *)fm_iq4_values));
}

/* signed weights w (never -128) times signed activations x, each int16
 * pair sum times its lane's scale: |w| x (x with w's sign) */
static inline __m256i dot_scaled_signed(__m256i w, __m256i x, __m256i scales) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w)), scales);
}

/* two 16-byte halves as one vector */
static inline __m256i halves(const int8_t *lo, const int8_t *hi) {
    return _mm256_set_m128i(_mm_loadu_si128((const __m128i *)(const void *)hi),
                            _mm_loadu_si128((const __m128i *)(const void *)lo));
}

/* iq4_xs: d, 2 bytes of high scale bits, 4 of low scale nibbles, 128 of
 * nibbles (sub-block j: 16 bytes, low nibbles elements 0-15, high 16-31);
 * value d * (ls - 32) * grid[nibble]. Two sub-blocks per vector. */
static inline __m256 sb_iq4_xs(const uint8_t *wb, const fm_block_q8k *xb, __m256 acc) {
    uint32_t sl;
    memcpy(&sl, wb + 4, 4);
    const uint32_t sh = (uint32_t)wb[2] | (uint32_t)wb[3] << 8;
    /* 8 six-bit scales: nibble j of sl (in order j = 0..7), top bits from sh */
    uint8_t ls[8];
    for (int j = 0; j < 8; j++) ls[j] = (uint8_t)(((sl >> (4 * j)) & 0xF) | ((sh >> (2 * j)) & 3) << 4);
    uint64_t ls8;
    memcpy(&ls8, ls, 8);
    const __m256i scv = twice(_mm_sub_epi16(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)ls8)), _mm_set1_epi16(32)));
    const __m256i grid = iq4_table(), m4 = _mm256_set1_epi8(0x0F);
    __m256i sum = _mm256_setzero_si256();
    for (int j = 0; j < 8; j += 2) {
        const __m256i q = load256(wb + 8 + 16 * j);
        const __m256i lo = _mm256_shuffle_epi8(grid, _mm256_and_si256(q, m4));
        const __m256i hi = _mm256_shuffle_epi8(grid, _mm256_and_si256(_mm256_srli_epi16(q, 4), m4));
        /* lanes 0-7 belong to sub-block j, 8-15 to j + 1 */
        const __m256i s = _mm256_shuffle_epi8(scv, by16(j / 2));
        const int8_t *xq = xb->qs + 32 * j;
        sum = _mm256_add_epi32(sum, dot_scaled_signed(lo, halves(xq, xq + 32), s));
        sum = _mm256_add_epi32(sum, dot_scaled_signed(hi, halves(xq + 16, xq + 48), s));
    }
    return _mm256_fmadd_ps(_mm256_set1_ps(half_at(wb) * xb->d), _mm256_cvtepi32_ps(sum), acc);
}

/* ---- the row loop ------------------------------------------------------ */

#define KQ_MATMUL(NAME, BYTES, SB) FM_KQ_MATMUL(, NAME, BYTES, SB, __m256, _mm256_setzero_ps, hsum)

KQ_MATMUL(fm_avx2_matmul_q2_k, 84, sb_q2_k)
KQ_MATMUL(fm_avx2_matmul_q3_k, 110, sb_q3_k)
KQ_MATMUL(fm_avx2_matmul_q4_k, 144, sb_q4_k)
KQ_MATMUL(fm_avx2_matmul_q5_k, 176, sb_q5_k)
KQ_MATMUL(fm_avx2_matmul_q6_k, 210, sb_q6_k)
KQ_MATMUL(fm_avx2_matmul_iq4_xs, 136, sb_iq4_xs)

/* q8_K activations, 8 lanes at a time; the same values as
 * fm_quantize_q8_k_ref (max, one division, x * (1/d) rounded to even). */
void fm_avx2_quantize_q8_k(const float *x, int64_t n, fm_block_q8k *out) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < n / 256; b++, x += 256, out++) {
        __m256 mx = _mm256_setzero_ps();
        for (int i = 0; i < 256; i += 8) mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float d = _mm_cvtss_f32(m4) / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        out->d = d;
        const __m256 vid = _mm256_set1_ps(id);
        for (int i = 0; i < 256; i += 32) {
            __m256i q[4];
            for (int k = 0; k < 4; k++)
                q[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * k), vid),
                                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
            __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
            p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            /* |x * id| <= 127 up to rounding: clamp as the reference does */
            p = _mm256_max_epi8(p, _mm256_set1_epi8(-127));
            _mm256_storeu_si256((__m256i *)(void *)(out->qs + i), p);
            /* the two 16-quant sums of these 32 */
            const __m256i s16 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), p), _mm256_set1_epi16(1));
            /* s16: int32 lanes, lanes 0-1 + 2-3 = first 16 (low half), 4-7 = second 16 */
            const __m128i lo = _mm256_castsi256_si128(s16), hi = _mm256_extracti128_si256(s16, 1);
            const __m128i h = _mm_hadd_epi32(lo, hi);       /* [l0+l1, l2+l3, h0+h1, h2+h3] */
            const __m128i g = _mm_hadd_epi32(h, h);         /* [first 16, second 16, ...] */
            out->bsums[i / 16] = (int16_t)_mm_cvtsi128_si32(g);
            out->bsums[i / 16 + 1] = (int16_t)_mm_extract_epi32(g, 1);
        }
    }
}

/* ---- super-blocks as int8 weights and sub-block scales (GEMM packing) -- */

static inline void store256(int8_t *p, __m256i v) { _mm256_storeu_si256((__m256i *)(void *)p, v); }

int fm_avx2_unpack_i8(int32_t dtype, const uint8_t *wb, int8_t *q, float *a, float *b) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    switch (dtype) {
    case FM_DTYPE_Q4_K:
    case FM_DTYPE_Q5_K: {
        const int five = dtype == FM_DTYPE_Q5_K;
        uint64_t sc, mn;
        k4_scales(wb + 4, &sc, &mn);
        const float d = half_at(wb), dmin = half_at(wb + 2);
        for (int j = 0; j < 8; j++) a[j] = d * (float)(int)((sc >> (8 * j)) & 0xFF), b[j] = dmin * (float)(int)((mn >> (8 * j)) & 0xFF);
        const __m256i qh = five ? load256(wb + 16) : _mm256_setzero_si256(), one = _mm256_set1_epi8(1);
        for (int i = 0; i < 4; i++) {
            const __m256i v = load256(wb + (five ? 48 : 16) + 32 * i);
            __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            if (five) {
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * i), one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * i + 1), one), 4));
            }
            store256(q + 64 * i, lo);
            store256(q + 64 * i + 32, hi);
        }
        return 8 | FM_UNPACK_MINS;
    }
    case FM_DTYPE_Q6_K: {
        const float d = half_at(wb + 208);
        for (int j = 0; j < 16; j++) a[j] = d * (float)(int8_t)wb[192 + j];
        const __m256i off = _mm256_set1_epi8(32);
        for (int h = 0; h < 2; h++) {
            const __m256i ql0 = load256(wb + 64 * h), ql1 = load256(wb + 64 * h + 32), qh = load256(wb + 128 + 32 * h);
            store256(q + 128 * h, _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(ql0, m4),
                                  _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x03)), 4)), off));
            store256(q + 128 * h + 32, _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(ql1, m4),
                                       _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x0C)), 2)), off));
            store256(q + 128 * h + 64, _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                                       _mm256_and_si256(qh, _mm256_set1_epi8(0x30))), off));
            store256(q + 128 * h + 96, _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                                       _mm256_srli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8((char)0xC0)), 2)), off));
        }
        return 16;
    }
    case FM_DTYPE_Q3_K: {
        const float d = half_at(wb + 108);
        int8_t sc[16];
        _mm_storeu_si128((__m128i *)(void *)sc, k3_scales(wb + 96));
        for (int j = 0; j < 16; j++) a[j] = d * (float)sc[j];
        const __m256i hm = load256(wb), m2 = _mm256_set1_epi8(0x03), one = _mm256_set1_epi8(1);
        for (int h = 0; h < 2; h++) {
            const __m256i qs = load256(wb + 32 + 32 * h);
            for (int k = 0; k < 4; k++) {
                const __m256i pair = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * k), m2);
                const __m256i bit = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + k), one), 2);
                store256(q + 128 * h + 32 * k, _mm256_sub_epi8(_mm256_or_si256(pair, bit), _mm256_set1_epi8(4)));
            }
        }
        return 16;
    }
    case FM_DTYPE_Q2_K: {
        const float d = half_at(wb + 80), dmin = half_at(wb + 82);
        for (int j = 0; j < 16; j++) a[j] = d * (float)(wb[j] & 0xF), b[j] = dmin * (float)(wb[j] >> 4);
        const __m256i m2 = _mm256_set1_epi8(0x03);
        for (int h = 0; h < 2; h++) {
            const __m256i qs = load256(wb + 16 + 32 * h);
            for (int k = 0; k < 4; k++) store256(q + 128 * h + 32 * k, _mm256_and_si256(_mm256_srli_epi16(qs, 2 * k), m2));
        }
        return 16 | FM_UNPACK_MINS;
    }
    case FM_DTYPE_IQ4_XS: {
        const float d = half_at(wb);
        const uint32_t sh = (uint32_t)wb[2] | (uint32_t)wb[3] << 8;
        for (int j = 0; j < 8; j++)
            a[j] = d * (float)((int)(((wb[4 + j / 2] >> (4 * (j % 2))) & 0xF) | ((sh >> (2 * j)) & 3) << 4) - 32);
        const __m128i grid = _mm_loadu_si128((const __m128i *)(const void *)fm_iq4_values), m = _mm_set1_epi8(0x0F);
        for (int j = 0; j < 8; j++) {
            const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(wb + 8 + 16 * j));
            _mm_storeu_si128((__m128i *)(void *)(q + 32 * j), _mm_shuffle_epi8(grid, _mm_and_si128(v, m)));
            _mm_storeu_si128((__m128i *)(void *)(q + 32 * j + 16), _mm_shuffle_epi8(grid, _mm_and_si128(_mm_srli_epi16(v, 4), m)));
        }
        return 8;
    }
    default: return 0;
    }
}
