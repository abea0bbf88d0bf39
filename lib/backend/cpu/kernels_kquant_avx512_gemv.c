/* AVX-512 VNNI generation kernels for q4_K, q5_K and q6_K (the bulk of a
 * Q4_K_M, Q5_K_M or Q6_K file) against q8_K activations. Same arithmetic
 * as the AVX2 ones (kernels_kquant_avx2.c: exact integer sub-block sums,
 * integer sub-block scales, the super-block's float scales once), with
 * half the instructions: one 512-bit vector holds two sub-blocks of
 * quants, unpacked from one 256-bit load broadcast to both halves and
 * shifted per half (VPSRLVW), and VPDPWSSD applies the scales while it
 * accumulates. At one thread the AVX2 kernels left generation at 84 % of
 * the read-bandwidth ceiling on this project's machines: the unpacking
 * was the bound, not memory (docs/performance.md).
 *
 * The row loop (four rows against one token, prefetched four rows ahead)
 * is the AVX2 file's, kernels_kquant_rows.h; each (row, token) is
 * computed the same way alone or in a group, so results do not depend on
 * the batch or thread count. */
#include <immintrin.h>
#include <string.h>

#include "kernels_kquant.h"
#include "kernels_kquant_rows.h"
#include "kernels_kquant_scales.h"

static inline __m512i load512(const void *p) { return _mm512_loadu_si512(p); }
static inline __m512i both(const void *p) { return _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)p)); }

/* 16-bit lanes 0-15 shifted by a, 16-31 by b */
static inline __m512i halves_shift(int a, int b) {
    return _mm512_inserti64x4(_mm512_set1_epi16((short)a), _mm256_set1_epi16((short)b), 1);
}

/* Byte shuffles that spread 8 int16 scales (the same 8 in every 128-bit
 * lane) over 32 int16 lanes: by32[i] gives scale 2i to lanes 0-15 and
 * 2i+1 to lanes 16-31 (two 32-element sub-blocks); by16[i] gives scale
 * 4i + L to the 8 lanes of 128-bit lane L (four 16-element sub-blocks). */
static __m512i by32[4], by16[2], iq4_lanes[2];

static void init_masks(void) {
    uint8_t m[64];
    for (int i = 0; i < 4; i++) {
        for (int b = 0; b < 64; b++) m[b] = (uint8_t)(2 * (2 * i + (b >= 32)) + (b & 1));
        by32[i] = load512(m);
    }
    for (int i = 0; i < 2; i++) {
        for (int b = 0; b < 64; b++) m[b] = (uint8_t)(2 * (4 * i + b / 16) + (b & 1));
        by16[i] = load512(m);
    }
    /* dword permutes: 128-bit lane L gets dword 4i + L four times */
    for (int i = 0; i < 2; i++) iq4_lanes[i] = _mm512_setr_epi32(4 * i, 4 * i, 4 * i, 4 * i, 4 * i + 1, 4 * i + 1, 4 * i + 1, 4 * i + 1,
                                                                4 * i + 2, 4 * i + 2, 4 * i + 2, 4 * i + 2, 4 * i + 3, 4 * i + 3, 4 * i + 3, 4 * i + 3);
}

/* 8 bytes as int16 in every 128-bit lane */
static inline __m512i spread8(uint64_t v) {
    return _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)v)));
}

/* min_j * (sum of sub-block j's 32 activation quants), summed in pairs:
 * 4 int32 lanes, as floats in the low 128 bits of a 512-bit vector */
static inline __m512 k4_min_sums(uint64_t mn, const fm_block_q8k *xb) {
    const __m128i b0 = _mm_loadu_si128((const __m128i *)(const void *)xb->bsums);
    const __m128i b1 = _mm_loadu_si128((const __m128i *)(const void *)(xb->bsums + 8));
    const __m128i p = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)mn)), _mm_hadd_epi16(b0, b1));
    return _mm512_zextps128_ps512(_mm_cvtepi32_ps(p));
}

/* q4_K: d, dmin, 12 bytes of scales, 128 bytes of nibbles (64-group i:
 * low nibbles sub-block 2i, high 2i+1) */
static inline __m512 sb_q4_k(const uint8_t *wb, const fm_block_q8k *xb, __m512 acc) {
    uint64_t sc, mn;
    k4_scales(wb + 4, &sc, &mn);
    const __m512i scv = spread8(sc), m4 = _mm512_set1_epi8(0x0F), sh = halves_shift(0, 4);
    __m512i sum = _mm512_setzero_si512();
    for (int i = 0; i < 4; i++) {
        const __m512i u = _mm512_and_si512(_mm512_srlv_epi16(both(wb + 16 + 32 * i), sh), m4);
        const __m512i p = _mm512_maddubs_epi16(u, load512(xb->qs + 64 * i));
        sum = _mm512_dpwssd_epi32(sum, p, _mm512_shuffle_epi8(scv, by32[i]));
    }
    acc = _mm512_fmadd_ps(_mm512_set1_ps(half_at(wb) * xb->d), _mm512_cvtepi32_ps(sum), acc);
    return _mm512_fmadd_ps(_mm512_set1_ps(-half_at(wb + 2) * xb->d), k4_min_sums(mn, xb), acc);
}

/* q5_K: as q4_K with 32 bytes of fifth bits after the scales (element l
 * of 64-group i: bit 2i of byte l for the low nibble, 2i+1 for the high) */
static inline __m512 sb_q5_k(const uint8_t *wb, const fm_block_q8k *xb, __m512 acc) {
    uint64_t sc, mn;
    k4_scales(wb + 4, &sc, &mn);
    const __m512i scv = spread8(sc), m4 = _mm512_set1_epi8(0x0F), one = _mm512_set1_epi8(1), sh = halves_shift(0, 4);
    /* a 16-bit shift moves no kept bit across bytes once masked per byte */
    __m512i qh = _mm512_srlv_epi16(both(wb + 16), halves_shift(0, 1));
    __m512i sum = _mm512_setzero_si512();
    for (int i = 0; i < 4; i++) {
        const __m512i h = _mm512_slli_epi16(_mm512_and_si512(qh, one), 4);
        qh = _mm512_srli_epi16(qh, 2);
        const __m512i u = _mm512_or_si512(_mm512_and_si512(_mm512_srlv_epi16(both(wb + 48 + 32 * i), sh), m4), h);
        const __m512i p = _mm512_maddubs_epi16(u, load512(xb->qs + 64 * i));
        sum = _mm512_dpwssd_epi32(sum, p, _mm512_shuffle_epi8(scv, by32[i]));
    }
    acc = _mm512_fmadd_ps(_mm512_set1_ps(half_at(wb) * xb->d), _mm512_cvtepi32_ps(sum), acc);
    return _mm512_fmadd_ps(_mm512_set1_ps(-half_at(wb + 2) * xb->d), k4_min_sums(mn, xb), acc);
}

/* q6_K: 128 bytes of low nibbles, 64 of high bit pairs, 16 int8 scales, d.
 * Element 32k + l of half h (k = 0..3): nibble (k >= 2: high) of
 * ql[64h + 32(k & 1) + l], bits 2k..2k+1 of qh[32h + l]; value
 * d * scale * (u - 32), u in 0..63. */
static inline __m512 sb_q6_k(const uint8_t *wb, const fm_block_q8k *xb, __m512 acc) {
    const __m128i sc8 = _mm_loadu_si128((const __m128i *)(const void *)(wb + 192));
    const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
    const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(0x03);
    const __m512i sh01 = halves_shift(0, 2), sh23 = halves_shift(4, 6);
    __m512i sum = _mm512_setzero_si512();
    for (int h = 0; h < 2; h++) {
        const __m512i scv = _mm512_broadcast_i32x4(h ? _mm256_extracti128_si256(sc16, 1) : _mm256_castsi256_si128(sc16));
        const __m512i ql = load512(wb + 64 * h), qh = both(wb + 128 + 32 * h);
        /* [k=0 | k=1] and [k=2 | k=3]: 64 elements each */
        const __m512i u01 = _mm512_or_si512(_mm512_and_si512(ql, m4),
                                            _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, sh01), m3), 4));
        const __m512i u23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                            _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, sh23), m3), 4));
        const int8_t *xq = xb->qs + 128 * h;
        sum = _mm512_dpwssd_epi32(sum, _mm512_maddubs_epi16(u01, load512(xq)), _mm512_shuffle_epi8(scv, by16[0]));
        sum = _mm512_dpwssd_epi32(sum, _mm512_maddubs_epi16(u23, load512(xq + 64)), _mm512_shuffle_epi8(scv, by16[1]));
    }
    /* the offset 32: 32 * sum_j scale_j * (sum of sub-block j's activations) */
    const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)(const void *)xb->bsums)), 5);
    sum = _mm512_sub_epi32(sum, _mm512_zextsi256_si512(off));
    return _mm512_fmadd_ps(_mm512_set1_ps(half_at(wb + 208) * xb->d), _mm512_cvtepi32_ps(sum), acc);
}

/* sum_j scale_j * (sum of 16-element sub-block j's activations) */
static inline __m512i scaled_bsums(__m256i sc16, const fm_block_q8k *xb) {
    return _mm512_zextsi256_si512(_mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)(const void *)xb->bsums)));
}

/* q3_K: 32 bytes of high bits, 64 of low bit pairs, 12 of scales, d.
 * Element 32k + l of half h: bits 2k..2k+1 of qs[32h + l] and bit 4h + k
 * of hmask[l]; u = pair | bit << 2 in 0..7, value d * scale * (u - 4). */
static inline __m512 sb_q3_k(const uint8_t *wb, const fm_block_q8k *xb, __m512 acc) {
    const __m256i sc16 = _mm256_cvtepi8_epi16(k3_scales(wb + 96));
    const __m512i m2 = _mm512_set1_epi8(0x03), one = _mm512_set1_epi8(1), hm = both(wb);
    __m512i sum = _mm512_setzero_si512();
    for (int h = 0; h < 2; h++) {
        const __m512i scv = _mm512_broadcast_i32x4(h ? _mm256_extracti128_si256(sc16, 1) : _mm256_castsi256_si128(sc16));
        const __m512i qs = both(wb + 32 + 32 * h);
        for (int k = 0; k < 4; k += 2) { /* [k | k + 1]: 64 elements */
            const __m512i pair = _mm512_and_si512(_mm512_srlv_epi16(qs, halves_shift(2 * k, 2 * k + 2)), m2);
            const __m512i bit = _mm512_and_si512(_mm512_srlv_epi16(hm, halves_shift(4 * h + k, 4 * h + k + 1)), one);
            const __m512i u = _mm512_or_si512(pair, _mm512_slli_epi16(bit, 2));
            sum = _mm512_dpwssd_epi32(sum, _mm512_maddubs_epi16(u, load512(xb->qs + 128 * h + 32 * k)),
                                      _mm512_shuffle_epi8(scv, by16[k / 2]));
        }
    }
    sum = _mm512_sub_epi32(sum, _mm512_slli_epi32(scaled_bsums(sc16, xb), 2)); /* the offset 4 */
    return _mm512_fmadd_ps(_mm512_set1_ps(half_at(wb + 108) * xb->d), _mm512_cvtepi32_ps(sum), acc);
}

/* q2_K: 16 bytes of (scale | min << 4), 64 of bit pairs, d, dmin. Element
 * 32k + l of half h: bits 2k..2k+1 of qs[32h + l]; value d*sc*u - dmin*m. */
static inline __m512 sb_q2_k(const uint8_t *wb, const fm_block_q8k *xb, __m512 acc) {
    const __m128i sm = _mm_loadu_si128((const __m128i *)(const void *)wb);
    const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(sm, _mm_set1_epi8(0x0F)));
    const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sm, 4), _mm_set1_epi8(0x0F)));
    const __m512i m2 = _mm512_set1_epi8(0x03);
    __m512i sum = _mm512_setzero_si512();
    for (int h = 0; h < 2; h++) {
        const __m512i scv = _mm512_broadcast_i32x4(h ? _mm256_extracti128_si256(sc16, 1) : _mm256_castsi256_si128(sc16));
        const __m512i qs = both(wb + 16 + 32 * h);
        for (int k = 0; k < 4; k += 2) {
            const __m512i u = _mm512_and_si512(_mm512_srlv_epi16(qs, halves_shift(2 * k, 2 * k + 2)), m2);
            sum = _mm512_dpwssd_epi32(sum, _mm512_maddubs_epi16(u, load512(xb->qs + 128 * h + 32 * k)),
                                      _mm512_shuffle_epi8(scv, by16[k / 2]));
        }
    }
    acc = _mm512_fmadd_ps(_mm512_set1_ps(half_at(wb + 80) * xb->d), _mm512_cvtepi32_ps(sum), acc);
    return _mm512_fmadd_ps(_mm512_set1_ps(-half_at(wb + 82) * xb->d), _mm512_cvtepi32_ps(scaled_bsums(mn16, xb)), acc);
}

/* iq4_xs: d, 2 bytes of high scale bits, 4 of low scale nibbles, 128 of
 * nibbles (sub-block j: 16 bytes, low nibbles elements 0-15, high 16-31);
 * value d * (ls - 32) * grid[nibble]. The grid is signed, VPDPBUSD wants
 * one unsigned side: grid + 128 (1..241) meets the activations, and 128
 * times each sub-block's activation sum comes off again. Four sub-blocks
 * per vector, one per 128-bit lane, so the lane's scale is one int32. */
static inline __m512 sb_iq4_xs(const uint8_t *wb, const fm_block_q8k *xb, __m512 acc) {
    uint32_t sl;
    memcpy(&sl, wb + 4, 4);
    const uint32_t sh = (uint32_t)wb[2] | (uint32_t)wb[3] << 8;
    /* the 8 six-bit scales minus 32 as int32: nibble j of sl, bits 2j of sh */
    const __m256i lo4 = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)sl), _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28)),
                                         _mm256_set1_epi32(15));
    const __m256i hi2 = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)sh), _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14)),
                                         _mm256_set1_epi32(3));
    const __m256i ls = _mm256_sub_epi32(_mm256_or_si256(lo4, _mm256_slli_epi32(hi2, 4)), _mm256_set1_epi32(32));
    const __m512i ls512 = _mm512_castsi256_si512(ls);
    const __m512i grid = _mm512_broadcast_i32x4(_mm_add_epi8(_mm_loadu_si128((const __m128i *)(const void *)fm_iq4_values),
                                                             _mm_set1_epi8((char)0x80)));
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512i sum = _mm512_setzero_si512();
    for (int j = 0; j < 8; j += 4) {
        const __m512i q = load512(wb + 8 + 16 * j);
        const __m512i lo = _mm512_shuffle_epi8(grid, _mm512_and_si512(q, m4));
        const __m512i hi = _mm512_shuffle_epi8(grid, _mm512_and_si512(_mm512_srli_epi16(q, 4), m4));
        const __m512i x0 = load512(xb->qs + 32 * j), x1 = load512(xb->qs + 32 * j + 64);
        /* lane L: elements 0-15 (lo) and 16-31 (hi) of sub-block j + L */
        const __m512i xlo = _mm512_shuffle_i64x2(x0, x1, 0x88), xhi = _mm512_shuffle_i64x2(x0, x1, 0xDD);
        const __m512i p = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, xlo), hi, xhi);
        const __m512i scl = _mm512_permutexvar_epi32(j ? iq4_lanes[1] : iq4_lanes[0], ls512);
        sum = _mm512_add_epi32(sum, _mm512_mullo_epi32(p, scl));
    }
    /* the offset: 128 * sum_j ls_j * (activation sum of sub-block j) */
    const __m256i s32 = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(const void *)xb->bsums), _mm256_set1_epi16(1));
    const __m256i off = _mm256_slli_epi32(_mm256_mullo_epi32(ls, s32), 7);
    sum = _mm512_sub_epi32(sum, _mm512_zextsi256_si512(off));
    return _mm512_fmadd_ps(_mm512_set1_ps(half_at(wb) * xb->d), _mm512_cvtepi32_ps(sum), acc);
}

#define KQ_MATMUL(NAME, BYTES, SB) FM_KQ_MATMUL(static, NAME, BYTES, SB, __m512, _mm512_setzero_ps, _mm512_reduce_add_ps)

KQ_MATMUL(matmul_q2_k, 84, sb_q2_k)
KQ_MATMUL(matmul_q3_k, 110, sb_q3_k)
KQ_MATMUL(matmul_q4_k_one, 144, sb_q4_k)
KQ_MATMUL(matmul_q5_k, 176, sb_q5_k)
KQ_MATMUL(matmul_q6_k_one, 210, sb_q6_k)
KQ_MATMUL(matmul_iq4_xs, 136, sb_iq4_xs)

/* ---- four tokens at once (sequences decoding side by side) -------------
 * The unpacking of a super-block is most of a generation kernel's work;
 * with several tokens in one call it is done once and meets eight (or
 * four) tokens.
 * Per (row, token) the operations are sb_q4_k's / sb_q6_k's in the same
 * order, so the bits are those of the tokens taken one at a time. */

static inline void sb_q4_k_tn(const uint8_t *wb, const fm_block_q8k *const *xb, __m512 *acc, int nt) {
    uint64_t sc, mn;
    k4_scales(wb + 4, &sc, &mn);
    const __m512i scv = spread8(sc), m4 = _mm512_set1_epi8(0x0F), sh = halves_shift(0, 4);
    __m512i u[4], s[4];
    for (int i = 0; i < 4; i++) {
        u[i] = _mm512_and_si512(_mm512_srlv_epi16(both(wb + 16 + 32 * i), sh), m4);
        s[i] = _mm512_shuffle_epi8(scv, by32[i]);
    }
    const float d = half_at(wb), dmin = half_at(wb + 2);
    for (int t = 0; t < nt; t++) {
        __m512i sum = _mm512_setzero_si512();
        for (int i = 0; i < 4; i++) sum = _mm512_dpwssd_epi32(sum, _mm512_maddubs_epi16(u[i], load512(xb[t]->qs + 64 * i)), s[i]);
        acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(d * xb[t]->d), _mm512_cvtepi32_ps(sum), acc[t]);
        acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(-dmin * xb[t]->d), k4_min_sums(mn, xb[t]), acc[t]);
    }
}

static inline void sb_q6_k_tn(const uint8_t *wb, const fm_block_q8k *const *xb, __m512 *acc, int nt) {
    const __m128i sc8 = _mm_loadu_si128((const __m128i *)(const void *)(wb + 192));
    const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
    const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(0x03);
    const __m512i sh01 = halves_shift(0, 2), sh23 = halves_shift(4, 6);
    __m512i u01[2], u23[2], s0[2], s1[2];
    for (int h = 0; h < 2; h++) {
        const __m512i scv = _mm512_broadcast_i32x4(h ? _mm256_extracti128_si256(sc16, 1) : _mm256_castsi256_si128(sc16));
        const __m512i ql = load512(wb + 64 * h), qh = both(wb + 128 + 32 * h);
        u01[h] = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, sh01), m3), 4));
        u23[h] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                 _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, sh23), m3), 4));
        s0[h] = _mm512_shuffle_epi8(scv, by16[0]);
        s1[h] = _mm512_shuffle_epi8(scv, by16[1]);
    }
    const float d = half_at(wb + 208);
    for (int t = 0; t < nt; t++) {
        __m512i sum = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            const int8_t *xq = xb[t]->qs + 128 * h;
            sum = _mm512_dpwssd_epi32(sum, _mm512_maddubs_epi16(u01[h], load512(xq)), s0[h]);
            sum = _mm512_dpwssd_epi32(sum, _mm512_maddubs_epi16(u23[h], load512(xq + 64)), s1[h]);
        }
        const __m256i off =
            _mm256_slli_epi32(_mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)(const void *)xb[t]->bsums)), 5);
        sum = _mm512_sub_epi32(sum, _mm512_zextsi256_si512(off));
        acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(d * xb[t]->d), _mm512_cvtepi32_ps(sum), acc[t]);
    }
}

/* NT tokens (8 or 4) row by row through SBN. */
#define KQ_TOKENS_ROWS(NT, BYTES, SBN)                                                                                \
    for (; t + NT <= n_tok; t += NT) {                                                                             \
        const fm_block_q8k *xt[NT];                                                                                \
        for (int k = 0; k < NT; k++) xt[k] = (const fm_block_q8k *)(const void *)(x + (size_t)(t + k) * x_stride);  \
        for (int64_t r = r0; r < r1; r++) {                                                                        \
            const uint8_t *wr = (const uint8_t *)w->data + (size_t)r * rb;                                         \
            __m512 acc[NT];                                                                                        \
            for (int k = 0; k < NT; k++) acc[k] = _mm512_setzero_ps();                                             \
            for (int64_t b = 0; b < nb; b++) {                                                                     \
                const uint8_t *wb = wr + (size_t)b * BYTES;                                                        \
                for (int o = 0; o < BYTES; o += 64) _mm_prefetch((const char *)(wb + 2 * rb + o), _MM_HINT_T0);     \
                const fm_block_q8k *xb[NT];                                                                        \
                for (int k = 0; k < NT; k++) xb[k] = xt[k] + b;                                                    \
                SBN(wb, xb, acc, NT);                                                                              \
            }                                                                                                      \
            for (int k = 0; k < NT; k++) y[(size_t)(t + k) * (size_t)ys + (size_t)r] = _mm512_reduce_add_ps(acc[k]); \
        }                                                                                                          \
    }

/* Groups of eight, then four tokens; the tokens left over through the
 * one-token kernel ONE. */
#define KQ_MATMUL_TN(NAME, BYTES, SBN, ONE)                                                                        \
    static void NAME(const fm_weight *w, int64_t r0, int64_t r1, const uint8_t *x, size_t x_stride, int32_t n_tok, \
                     float *y, int64_t ys) {                                                                       \
        const int64_t nb = w->cols / 256;                                                                          \
        const size_t rb = w->row_bytes;                                                                            \
        int32_t t = 0;                                                                                             \
        KQ_TOKENS_ROWS(8, BYTES, SBN)                                                                              \
        KQ_TOKENS_ROWS(4, BYTES, SBN)                                                                              \
        if (t < n_tok) ONE(w, r0, r1, x + (size_t)t * x_stride, x_stride, n_tok - t, y + (size_t)t * (size_t)ys, ys); \
    }

KQ_MATMUL_TN(matmul_q4_k, 144, sb_q4_k_tn, matmul_q4_k_one)
KQ_MATMUL_TN(matmul_q6_k, 210, sb_q6_k_tn, matmul_q6_k_one)

void fm_avx512_kquant_gemv(fm_cpu_kernels *table) {
    init_masks();
    table->matmul[FM_DTYPE_Q2_K] = matmul_q2_k;
    table->matmul[FM_DTYPE_Q3_K] = matmul_q3_k;
    table->matmul[FM_DTYPE_Q4_K] = matmul_q4_k;
    table->matmul[FM_DTYPE_Q5_K] = matmul_q5_k;
    table->matmul[FM_DTYPE_Q6_K] = matmul_q6_k;
    table->matmul[FM_DTYPE_IQ4_XS] = matmul_iq4_xs;
}
