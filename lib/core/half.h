/* IEEE half and bfloat16 to float conversion, exact for every input. */
#ifndef FM_CORE_HALF_H
#define FM_CORE_HALF_H

#include <stdint.h>
#include <string.h>

static inline float fm_bits_to_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline float fm_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t man = h & 0x3FFu;
    if (exp == 0x1Fu) return fm_bits_to_f32(sign | 0x7F800000u | (man << 13));
    if (exp != 0) return fm_bits_to_f32(sign | ((exp + 112u) << 23) | (man << 13));
    /* subnormal: man * 2^-24, exact in float */
    float f = (float)man * (1.0f / 16777216.0f);
    return sign ? -f : f;
}

static inline float fm_bf16_to_f32(uint16_t h) { return fm_bits_to_f32((uint32_t)h << 16); }

/* float to IEEE half, rounding to nearest even; overflow gives infinity. */
static inline uint16_t fm_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    const uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    const uint32_t ax = x & 0x7FFFFFFFu;
    if (ax >= 0x7F800000u) return (uint16_t)(sign | 0x7C00u | (ax > 0x7F800000u ? 0x200u : 0)); /* inf, NaN */
    if (ax >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u); /* rounds past 65504 */
    if (ax < 0x38800000u) { /* subnormal half (or zero): value / 2^-24, rounded */
        const float a = fm_bits_to_f32(ax) * 16777216.0f; /* exact: a power-of-two scale */
        uint32_t q = (uint32_t)a;
        const float rem = a - (float)q;
        if (rem > 0.5f || (rem == 0.5f && (q & 1u))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t m = ax + 0xFFFu + ((ax >> 13) & 1u); /* round to nearest even at bit 13 */
    return (uint16_t)(sign | ((m - 0x38000000u) >> 13));
}

/* float to bfloat16, rounding to nearest even (NaN stays NaN). */
static inline uint16_t fm_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((x >> 16) | 0x40u);
    return (uint16_t)((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

#endif
