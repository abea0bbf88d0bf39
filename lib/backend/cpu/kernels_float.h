/* The float weights' prompt GEMMs (kernels_float_avx512.c,
 * kernels_float_avx2.c). */
#ifndef FM_BACKEND_CPU_KERNELS_FLOAT_H
#define FM_BACKEND_CPU_KERNELS_FLOAT_H

#include "kernels.h"

/* f32 activations of tokens to tiles: tile i, column k, token t at
 * (i * cols + k) * FM_GEMM_F_T + t (zeros past n_tok) */
static inline void fm_gemm_f_relay(const float *x, int64_t cols, int32_t n_tok, float *xt) {
    const int32_t n_tiles = (n_tok + FM_GEMM_F_T - 1) / FM_GEMM_F_T;
    for (int32_t i = 0; i < n_tiles; i++)
        for (int t = 0; t < FM_GEMM_F_T; t++) {
            const int32_t tok = i * FM_GEMM_F_T + t;
            float *o = xt + (size_t)i * (size_t)cols * FM_GEMM_F_T + t;
            for (int64_t k = 0; k < cols; k++)
                o[(size_t)k * FM_GEMM_F_T] = tok < n_tok ? x[(size_t)tok * (size_t)cols + (size_t)k] : 0.0f;
        }
}

/* AVX2 + F16C: f32, f16 or bf16 weights through f32 FMAs */
void fm_avx2_gemm_float(const fm_weight *w, int64_t r0, int64_t r1, const float *x, int32_t n_tok, float *y,
                        int64_t ys, uint8_t *scratch);

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
