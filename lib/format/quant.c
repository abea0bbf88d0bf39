/* Dequantization of GGUF's block formats to f32, one row at a time.
 *
 * Every layout here is the one GGUF files carry (little-endian, packed, no
 * padding); the comments give each block's bytes so the code can be checked
 * against the format without reading any other implementation. Scales are
 * IEEE half precision. Arithmetic is f32 in the order the format defines the
 * value (scale * quant - min), which is what the reference converters do. */
#include "quant.h"

#include <string.h>

#include "../core/half.h"
#include "fm_backend.h"

static inline float half_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return fm_f16_to_f32(h);
}

/* q4_0, 18 bytes per 32: d (f16), 16 bytes of nibbles. Element j < 16 is
 * the low nibble of byte j, element j + 16 its high nibble; value (q-8)*d. */
static void q4_0(const uint8_t *b, float *y) {
    const float d = half_at(b);
    for (int j = 0; j < 16; j++) {
        y[j] = (float)((b[2 + j] & 0xF) - 8) * d;
        y[j + 16] = (float)((b[2 + j] >> 4) - 8) * d;
    }
}

/* q4_1, 20 bytes per 32: d, m (f16), 16 bytes of nibbles; value q*d + m. */
static void q4_1(const uint8_t *b, float *y) {
    const float d = half_at(b), m = half_at(b + 2);
    for (int j = 0; j < 16; j++) {
        y[j] = (float)(b[4 + j] & 0xF) * d + m;
        y[j + 16] = (float)(b[4 + j] >> 4) * d + m;
    }
}

/* The fifth bits of q5_0/q5_1: a 32-bit little-endian word, bit j for element j. */
static inline uint32_t u32_at(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* q5_0, 22 bytes per 32: d (f16), 4 bytes of high bits, 16 bytes of
 * nibbles (as q4_0); value (q-16)*d with q = nibble | high bit << 4. */
static void q5_0(const uint8_t *b, float *y) {
    const float d = half_at(b);
    const uint32_t qh = u32_at(b + 2);
    for (int j = 0; j < 16; j++) {
        const int lo = (b[6 + j] & 0xF) | (int)((qh >> j) & 1) << 4;
        const int hi = (b[6 + j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        y[j] = (float)(lo - 16) * d;
        y[j + 16] = (float)(hi - 16) * d;
    }
}

/* q5_1, 24 bytes per 32: d, m (f16), 4 bytes of high bits, 16 of nibbles; value q*d + m. */
static void q5_1(const uint8_t *b, float *y) {
    const float d = half_at(b), m = half_at(b + 2);
    const uint32_t qh = u32_at(b + 4);
    for (int j = 0; j < 16; j++) {
        const int lo = (b[8 + j] & 0xF) | (int)((qh >> j) & 1) << 4;
        const int hi = (b[8 + j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        y[j] = (float)lo * d + m;
        y[j + 16] = (float)hi * d + m;
    }
}

/* q8_0, 34 bytes per 32: d (f16), 32 signed bytes; value q*d. */
static void q8_0(const uint8_t *b, float *y) {
    const float d = half_at(b);
    for (int j = 0; j < 32; j++) y[j] = (float)(int8_t)b[2 + j] * d;
}

/* The 6-bit scale and min of sub-block j (0..7) of q4_K/q5_K, packed in 12
 * bytes: sub-blocks 0-3 in the low 6 bits of bytes 0-3 (scales) and 4-7
 * (mins); sub-blocks 4-7 take their low 4 bits from bytes 8-11 (scale: low
 * nibble, min: high nibble) and their top 2 bits from the top bits of bytes
 * 0-3 (scale) and 4-7 (min). */
static inline void k_scale_min(const uint8_t *s, int j, int *sc, int *mn) {
    if (j < 4) {
        *sc = s[j] & 63;
        *mn = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xF) | (s[j - 4] >> 6) << 4;
        *mn = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
}

/* q4_K, 144 bytes per 256: d, dmin (f16), 12 bytes of scales/mins, 128
 * bytes of nibbles. Each 64 elements use 32 bytes: the low nibbles are
 * sub-block 2i, the high nibbles 2i+1; value d*sc*q - dmin*m.
 * q5_K, 176 bytes per 256: the same with 32 bytes of fifth bits (qh) after
 * the scales: element l of 64-group i takes bit 2i (low nibble) or 2i+1
 * (high nibble) of byte l. */
static void k_quant(const uint8_t *b, float *y, int five) {
    const float d = half_at(b), dmin = half_at(b + 2);
    const uint8_t *sc = b + 4, *qh = b + 16, *q = b + (five ? 48 : 16);
    for (int i = 0; i < 4; i++, q += 32, y += 64) {
        int s0, m0, s1, m1;
        k_scale_min(sc, 2 * i, &s0, &m0);
        k_scale_min(sc, 2 * i + 1, &s1, &m1);
        const float d0 = d * (float)s0, o0 = dmin * (float)m0;
        const float d1 = d * (float)s1, o1 = dmin * (float)m1;
        for (int l = 0; l < 32; l++) {
            const int lo = (q[l] & 0xF) | (five ? ((qh[l] >> (2 * i)) & 1) << 4 : 0);
            const int hi = (q[l] >> 4) | (five ? ((qh[l] >> (2 * i + 1)) & 1) << 4 : 0);
            y[l] = d0 * (float)lo - o0;
            y[l + 32] = d1 * (float)hi - o1;
        }
    }
}

static void q4_k(const uint8_t *b, float *y) { k_quant(b, y, 0); }
static void q5_k(const uint8_t *b, float *y) { k_quant(b, y, 1); }

/* q6_K, 210 bytes per 256: 128 bytes of low nibbles, 64 bytes of high
 * 2-bit pairs, 16 signed 8-bit scales (one per 16 elements), d (f16) last.
 * Each half of 128 elements uses 64 low-nibble bytes and 32 high bytes:
 * element l + 32k (k = 0..3) takes the low (k even) or high (k odd) nibble
 * of ql[l + 32*(k&1)] and bits 2k..2k+1 of qh[l]; value d*scale*(q-32). */
static void q6_k(const uint8_t *b, float *y) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    const float d = half_at(b + 208);
    for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8, y += 128) {
        for (int l = 0; l < 32; l++) {
            const int is = l / 16;
            const int q0 = ((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32;
            const int q1 = ((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32;
            const int q2 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
            const int q3 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
            y[l] = d * (float)sc[is] * (float)q0;
            y[l + 32] = d * (float)sc[is + 2] * (float)q1;
            y[l + 64] = d * (float)sc[is + 4] * (float)q2;
            y[l + 96] = d * (float)sc[is + 6] * (float)q3;
        }
    }
}

/* q2_K, 84 bytes per 256: 16 bytes of scales (low nibble: scale, high
 * nibble: min, one byte per 16 elements), 64 bytes of 2-bit quants, d and
 * dmin (f16) last. Each 128 elements use 32 quant bytes: element l + 32k
 * (k = 0..3) takes bits 2k..2k+1 of byte l; value d*sc*q - dmin*m. */
static void q2_k(const uint8_t *b, float *y) {
    const uint8_t *sc = b, *q = b + 16;
    const float d = half_at(b + 80), dmin = half_at(b + 82);
    for (int h = 0; h < 2; h++, q += 32)
        for (int k = 0; k < 4; k++)
            for (int l = 0; l < 32; l++, y++) {
                const int s = sc[8 * h + 2 * k + l / 16];
                *y = d * (float)(s & 0xF) * (float)((q[l] >> (2 * k)) & 3) - dmin * (float)(s >> 4);
            }
}

/* The 6-bit scale j (0..15) of q3_K, packed in 12 bytes: its low 4 bits
 * are the low (j < 8) or high (j >= 8) nibble of byte j % 8, its top 2
 * bits are bits 2(j/4)..2(j/4)+1 of byte 8 + j % 4. Stored offset by 32. */
static inline int q3_k_scale(const uint8_t *s, int j) {
    const int lo = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
    return (lo | ((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4) - 32;
}

/* q3_K, 110 bytes per 256: 32 bytes of high bits (hmask), 64 bytes of
 * low 2-bit pairs, 12 bytes of scales, d (f16). Element l + 32k of half h
 * (k = 0..3) takes bits 2k..2k+1 of qs[32h + l] and bit 4h + k of
 * hmask[l]; q = low - (high bit ? 0 : 4), value d * scale * q (one scale
 * per 16 elements). */
static void q3_k(const uint8_t *b, float *y) {
    const uint8_t *hm = b, *q = b + 32, *sc = b + 96;
    const float d = half_at(b + 108);
    for (int h = 0; h < 2; h++, q += 32)
        for (int k = 0; k < 4; k++)
            for (int l = 0; l < 32; l++, y++) {
                const int qv = ((q[l] >> (2 * k)) & 3) - ((hm[l] >> (4 * h + k)) & 1 ? 0 : 4);
                *y = d * (float)q3_k_scale(sc, 8 * h + 2 * k + l / 16) * (float)qv;
            }
}

/* The 16 values IQ4_NL and IQ4_XS nibbles index (a non-uniform grid). */
const int8_t fm_iq4_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* iq4_nl, 18 bytes per 32: d (f16), 16 bytes of nibbles laid out as
 * q4_0's; value d * fm_iq4_values[nibble]. */
static void iq4_nl(const uint8_t *b, float *y) {
    const float d = half_at(b);
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)fm_iq4_values[b[2 + j] & 0xF];
        y[j + 16] = d * (float)fm_iq4_values[b[2 + j] >> 4];
    }
}

/* iq4_xs, 136 bytes per 256: d (f16), 2 bytes of high scale bits
 * (scales_h, little-endian), 4 bytes of low scale nibbles, 128 bytes of
 * nibbles. Sub-block j (32 elements) has the 6-bit scale (nibble j % 2 of
 * scales_l[j / 2]) | (bits 2j..2j+1 of scales_h) << 4, offset by 32, and
 * its 16 nibble bytes laid out as q4_0's. */
static void iq4_xs(const uint8_t *b, float *y) {
    const float d = half_at(b);
    const int sh = b[2] | b[3] << 8;
    for (int j = 0; j < 8; j++, y += 32) {
        const int ls = ((b[4 + j / 2] >> (4 * (j % 2))) & 0xF) | ((sh >> (2 * j)) & 3) << 4;
        const float dl = d * (float)(ls - 32);
        const uint8_t *q = b + 8 + 16 * j;
        for (int l = 0; l < 16; l++) {
            y[l] = dl * (float)fm_iq4_values[q[l] & 0xF];
            y[l + 16] = dl * (float)fm_iq4_values[q[l] >> 4];
        }
    }
}

typedef struct block_kind {
    int32_t dtype;
    int elems, bytes;
    void (*dequant)(const uint8_t *block, float *out);
} block_kind;

static const block_kind kinds[] = {
    {FM_DTYPE_Q4_0, 32, 18, q4_0},   {FM_DTYPE_Q4_1, 32, 20, q4_1},   {FM_DTYPE_Q5_0, 32, 22, q5_0},
    {FM_DTYPE_Q5_1, 32, 24, q5_1},   {FM_DTYPE_Q8_0, 32, 34, q8_0},   {FM_DTYPE_Q4_K, 256, 144, q4_k},
    {FM_DTYPE_Q5_K, 256, 176, q5_k}, {FM_DTYPE_Q6_K, 256, 210, q6_k}, {FM_DTYPE_Q2_K, 256, 84, q2_k},
    {FM_DTYPE_Q3_K, 256, 110, q3_k}, {FM_DTYPE_IQ4_NL, 32, 18, iq4_nl}, {FM_DTYPE_IQ4_XS, 256, 136, iq4_xs},
};

int fm_dtype_can_dequantize(int32_t dtype) {
    if (dtype == FM_DTYPE_F32 || dtype == FM_DTYPE_F16 || dtype == FM_DTYPE_BF16) return 1;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].dtype == dtype) return 1;
    return 0;
}

int fm_dequantize_row(int32_t dtype, const void *src, int64_t n, float *out) {
    const uint8_t *p = src;
    switch (dtype) {
    case FM_DTYPE_F32: memcpy(out, p, (size_t)n * 4); return 1;
    case FM_DTYPE_F16:
        for (int64_t i = 0; i < n; i++) out[i] = half_at(p + 2 * i);
        return 1;
    case FM_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            out[i] = fm_bf16_to_f32(h);
        }
        return 1;
    default: break;
    }
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        const block_kind *bk = &kinds[k];
        if (bk->dtype != dtype) continue;
        if (n % bk->elems != 0) return 0;
        for (int64_t i = 0; i < n / bk->elems; i++) bk->dequant(p + (size_t)i * (size_t)bk->bytes, out + i * bk->elems);
        return 1;
    }
    return 0;
}
