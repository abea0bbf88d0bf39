/* The K-quant and IQ4 generation kernels per instruction set (the
 * kernels.h matmul signature, q8_K activations), shared by the tables
 * that use them. */
#ifndef FM_BACKEND_CPU_KERNELS_KQUANT_H
#define FM_BACKEND_CPU_KERNELS_KQUANT_H

#include "../../format/quant.h"
#include "kernels.h"

void fm_avx2_matmul_q2_k(const fm_weight *w, int64_t r0, int64_t r1, const uint8_t *x, size_t x_stride, int32_t n_tok,
                         float *y, int64_t ys);
void fm_avx2_matmul_q3_k(const fm_weight *w, int64_t r0, int64_t r1, const uint8_t *x, size_t x_stride, int32_t n_tok,
                         float *y, int64_t ys);
void fm_avx2_matmul_q4_k(const fm_weight *w, int64_t r0, int64_t r1, const uint8_t *x, size_t x_stride, int32_t n_tok,
                         float *y, int64_t ys);
void fm_avx2_matmul_q5_k(const fm_weight *w, int64_t r0, int64_t r1, const uint8_t *x, size_t x_stride, int32_t n_tok,
                         float *y, int64_t ys);
void fm_avx2_matmul_q6_k(const fm_weight *w, int64_t r0, int64_t r1, const uint8_t *x, size_t x_stride, int32_t n_tok,
                         float *y, int64_t ys);
void fm_avx2_matmul_iq4_xs(const fm_weight *w, int64_t r0, int64_t r1, const uint8_t *x, size_t x_stride,
                           int32_t n_tok, float *y, int64_t ys);
/* q8_K activations with AVX2: the bits fm_quantize_q8_k_ref gives */
void fm_avx2_quantize_q8_k(const float *x, int64_t n, fm_block_q8k *out);

#endif
