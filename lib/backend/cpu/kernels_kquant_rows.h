/* The row loop of the K-quant generation kernels, for the AVX2 and the
 * AVX-512 files: rows four at a time against one token, each prefetched
 * four rows ahead (hardware prefetchers stop at page ends), SB(wb, xb,
 * acc) one super-block of a row into a VEC accumulator, REDUCE its
 * horizontal sum. Every (row, token) is computed the same way alone or in
 * a group, one token at a time, so results do not depend on the batch or
 * the thread count. */
#ifndef FM_BACKEND_CPU_KERNELS_KQUANT_ROWS_H
#define FM_BACKEND_CPU_KERNELS_KQUANT_ROWS_H

#include "kernels.h"

#define FM_KQ_MATMUL(LINKAGE, NAME, BYTES, SB, VEC, ZERO, REDUCE)                                                                                 \
    LINKAGE void NAME(const fm_weight *w, int64_t r0, int64_t r1, const uint8_t *x, size_t x_stride, int32_t n_tok, \
                     float *y, int64_t ys) {                                                                       \
        const int64_t nb = w->cols / 256;                                                                          \
        const size_t rb = w->row_bytes;                                                                            \
        for (int32_t t = 0; t < n_tok; t++) {                                                                      \
            const fm_block_q8k *xt = (const fm_block_q8k *)(const void *)(x + (size_t)t * x_stride);               \
            int64_t r = r0;                                                                                        \
            for (; r + 4 <= r1; r += 4) {                                                                          \
                const uint8_t *w0 = (const uint8_t *)w->data + (size_t)r * rb;                                     \
                /* four named accumulators: an array here was kept in memory, \
                 * and each super-block waited on a store and a reload */        \
                VEC a0 = ZERO(), a1 = a0, a2 = a0, a3 = a0;                                               \
                for (int64_t b = 0; b < nb; b++) {                                                                 \
                    const uint8_t *wb = w0 + (size_t)b * BYTES;                                                    \
                    for (int o = 0; o < BYTES; o += 64)                                                            \
                        for (int k = 0; k < 4; k++) _mm_prefetch((const char *)(wb + (4 + k) * rb + o), _MM_HINT_T0); \
                    a0 = SB(wb, xt + b, a0);                                                                       \
                    a1 = SB(wb + rb, xt + b, a1);                                                                  \
                    a2 = SB(wb + 2 * rb, xt + b, a2);                                                              \
                    a3 = SB(wb + 3 * rb, xt + b, a3);                                                              \
                }                                                                                                  \
                float *yt = y + (size_t)t * (size_t)ys + (size_t)r;                                                \
                yt[0] = REDUCE(a0);                                                                  \
                yt[1] = REDUCE(a1);                                                                  \
                yt[2] = REDUCE(a2);                                                                  \
                yt[3] = REDUCE(a3);                                                                  \
            }                                                                                                      \
            for (; r < r1; r++) {                                                                                  \
                const uint8_t *wr = (const uint8_t *)w->data + (size_t)r * rb;                                     \
                VEC a = ZERO();                                                                                   \
                for (int64_t b = 0; b < nb; b++) a = SB(wr + (size_t)b * BYTES, xt + b, a);                        \
                y[(size_t)t * (size_t)ys + (size_t)r] = REDUCE(a);                                   \
            }                                                                                                      \
        }                                                                                                          \
    }

#endif
