/* Weight rows of any supported GGUF type, as f32. */
#ifndef FM_FORMAT_QUANT_H
#define FM_FORMAT_QUANT_H

#include <stdint.h>

/* Nonzero if fm_dequantize_row handles `dtype` (an fm_dtype): f32, f16,
 * bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q2_K, q3_K, q4_K, q5_K, q6_K, iq4_nl,
 * iq4_xs. */
int fm_dtype_can_dequantize(int32_t dtype);

/* Converts one row of n elements stored as `dtype` at src (any alignment)
 * to out[0..n). Returns 0 for a type it does not handle or an n that is not
 * a multiple of the type's block. */
int fm_dequantize_row(int32_t dtype, const void *src, int64_t n, float *out);

/* The 16 values an iq4_nl / iq4_xs nibble stands for. */
extern const int8_t fm_iq4_values[16];

#endif
