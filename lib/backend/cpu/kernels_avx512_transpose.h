/* The 16 x 16 dword transpose both AVX-512 GEMMs pack their weight rows
 * with (include only from files compiled with AVX-512). */
#ifndef FM_BACKEND_CPU_KERNELS_AVX512_TRANSPOSE_H
#define FM_BACKEND_CPU_KERNELS_AVX512_TRANSPOSE_H

#include <immintrin.h>

/* r[c] becomes dword c of every input r[j], in j order: unpack 32- then
 * 64-bit pairs within 128-bit lanes, then two rounds of lane shuffles. */
static inline void fm_transpose16x16_epi32(__m512i r[16]) {
    __m512i t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int q = 0; q < 16; q += 4) { /* rows q..q+3: u[q + e] holds element 4L + e of each */
        u[q] = _mm512_unpacklo_epi64(t[q], t[q + 2]);
        u[q + 1] = _mm512_unpackhi_epi64(t[q], t[q + 2]);
        u[q + 2] = _mm512_unpacklo_epi64(t[q + 1], t[q + 3]);
        u[q + 3] = _mm512_unpackhi_epi64(t[q + 1], t[q + 3]);
    }
    for (int e = 0; e < 4; e++) {
        const __m512i v = _mm512_shuffle_i32x4(u[e], u[4 + e], 0x88), w = _mm512_shuffle_i32x4(u[e], u[4 + e], 0xDD);
        const __m512i v2 = _mm512_shuffle_i32x4(u[8 + e], u[12 + e], 0x88);
        const __m512i w2 = _mm512_shuffle_i32x4(u[8 + e], u[12 + e], 0xDD);
        r[e] = _mm512_shuffle_i32x4(v, v2, 0x88);
        r[8 + e] = _mm512_shuffle_i32x4(v, v2, 0xDD);
        r[4 + e] = _mm512_shuffle_i32x4(w, w2, 0x88);
        r[12 + e] = _mm512_shuffle_i32x4(w, w2, 0xDD);
    }
}

#endif
