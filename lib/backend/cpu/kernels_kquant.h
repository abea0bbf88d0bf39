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
/* One 256-element super-block of a K-quant or iq4_xs weight as int8
 * values q[256] and per-sub-block scales: element e is a[s] * q[e] - b[s]
 * for its sub-block s (b only where the result has FM_UNPACK_MINS).
 * Returns the number of sub-blocks (8 or 16) | FM_UNPACK_MINS, 0 for a
 * type it does not know. Exact: the values fm_dequantize_row gives up to
 * f32 rounding of a[s] * q - b[s]. */
#define FM_UNPACK_MINS 0x100
int fm_avx2_unpack_i8(int32_t dtype, const uint8_t *wb, int8_t *q, float *a, float *b);
/* q8_K activations with AVX2: the bits fm_quantize_q8_k_ref gives */
void fm_avx2_quantize_q8_k(const float *x, int64_t n, fm_block_q8k *out);

/* The AVX2 prompt GEMMs (kernels_kquant_gemm_avx2.c; fm_gemm_k_fn), by
 * sub-block layout; not for iq4_xs (its grid would saturate VPMADDUBSW). */
void fm_avx2_gemm_k8_mins(const fm_weight *w, int64_t r0, int64_t r1, const fm_gemm_k_acts *x, int32_t n_tok,
                          float *y, int64_t ys, uint8_t *pack);
void fm_avx2_gemm_k16(const fm_weight *w, int64_t r0, int64_t r1, const fm_gemm_k_acts *x, int32_t n_tok, float *y,
                      int64_t ys, uint8_t *pack);
void fm_avx2_gemm_k16_mins(const fm_weight *w, int64_t r0, int64_t r1, const fm_gemm_k_acts *x, int32_t n_tok,
                           float *y, int64_t ys, uint8_t *pack);

/* Puts the AVX-512 VNNI generation kernels (q4_K, q5_K, q6_K) into an
 * AVX-512 table; called once, from the table's pthread_once. */
void fm_avx512_kquant_gemv(fm_cpu_kernels *table);

/* The AVX-512 VNNI prompt GEMMs (kernels.h's fm_gemm_k_fn), by sub-block
 * layout: 8 or 16 sub-blocks per 256, with or without mins. */
void fm_avx512_gemm_k8_mins(const fm_weight *w, int64_t r0, int64_t r1, const fm_gemm_k_acts *x, int32_t n_tok,
                            float *y, int64_t ys, uint8_t *pack);
void fm_avx512_gemm_k8(const fm_weight *w, int64_t r0, int64_t r1, const fm_gemm_k_acts *x, int32_t n_tok, float *y,
                       int64_t ys, uint8_t *pack);
void fm_avx512_gemm_k16(const fm_weight *w, int64_t r0, int64_t r1, const fm_gemm_k_acts *x, int32_t n_tok, float *y,
                        int64_t ys, uint8_t *pack);
void fm_avx512_gemm_k16_mins(const fm_weight *w, int64_t r0, int64_t r1, const fm_gemm_k_acts *x, int32_t n_tok,
                             float *y, int64_t ys, uint8_t *pack);

#endif
