/* Super-block header decoding shared by the AVX2 and AVX-512 K-quant
 * generation kernels (include only from files compiled with F16C/SSE4). */
#ifndef FM_BACKEND_CPU_KERNELS_KQUANT_SCALES_H
#define FM_BACKEND_CPU_KERNELS_KQUANT_SCALES_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* an f16 at any alignment */
static inline float half_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

/* The 8 six-bit scales and 8 mins of a q4_K/q5_K super-block (12 bytes,
 * the layout quant.c describes), each as 8 bytes. */
static inline void k4_scales(const uint8_t *s, uint64_t *sc, uint64_t *mn) {
    uint32_t u[3];
    memcpy(u, s, 12);
    const uint32_t sc_hi = (u[2] & 0x0F0F0F0Fu) | ((u[0] >> 6) & 0x03030303u) << 4;
    const uint32_t mn_hi = ((u[2] >> 4) & 0x0F0F0F0Fu) | ((u[1] >> 6) & 0x03030303u) << 4;
    *sc = (u[0] & 0x3F3F3F3Fu) | (uint64_t)sc_hi << 32;
    *mn = (u[1] & 0x3F3F3F3Fu) | (uint64_t)mn_hi << 32;
}

/* The 16 q3_K scales (12 bytes, quant.c's layout) as int8 minus 32. */
static inline __m128i k3_scales(const uint8_t *s) {
    uint64_t lo;
    uint32_t hi;
    memcpy(&lo, s, 8);
    memcpy(&hi, s + 8, 4);
    const uint32_t m4 = 0x0F0F0F0Fu, m2 = 0x03030303u;
    const uint32_t a = ((uint32_t)lo & m4) | (hi & m2) << 4;
    const uint32_t b = ((uint32_t)(lo >> 32) & m4) | ((hi >> 2) & m2) << 4;
    const uint32_t c = ((uint32_t)(lo >> 4) & m4) | ((hi >> 4) & m2) << 4;
    const uint32_t d = ((uint32_t)(lo >> 36) & m4) | ((hi >> 6) & m2) << 4;
    return _mm_sub_epi8(_mm_setr_epi32((int)a, (int)b, (int)c, (int)d), _mm_set1_epi8(32));
}

#endif
