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

#endif
