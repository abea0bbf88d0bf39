/* The float weights' prompt GEMMs (kernels_float_avx512.c). */
#ifndef FM_BACKEND_CPU_KERNELS_FLOAT_H
#define FM_BACKEND_CPU_KERNELS_FLOAT_H

#include "kernels.h"

/* f32, f16 or bf16 weights through f32 FMAs */
void fm_avx512_gemm_float(const fm_weight *w, int64_t r0, int64_t r1, const float *x, int32_t n_tok, float *y,
                          int64_t ys, uint8_t *scratch);

/* generation (kernels.h's matmul signature, f32 activations) for f32,
 * f16 and bf16 rows, 16 columns a step */
void fm_avx512_matmul_float(const fm_weight *w, int64_t r0, int64_t r1, const uint8_t *x, size_t x_stride,
                            int32_t n_tok, float *y, int64_t ys);
/* bf16 weights through VDPBF16PS, activations rounded to bf16
 * (kernels_bf16_avx512.c; only where the CPU has AVX512_BF16) */
void fm_avx512_gemm_bf16_pairs(const fm_weight *w, int64_t r0, int64_t r1, const float *x, int32_t n_tok, float *y,
                               int64_t ys, uint8_t *scratch);

#endif
