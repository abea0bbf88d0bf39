/* The inner loops of the cpu backend, one table per instruction set. The
 * reference table is portable C and exact math on the stored weights (f32
 * activations); the SIMD tables are picked at run time from what the CPU
 * reports, and may quantize activations to 8 bits where that is how their
 * fast path works (q8_0 blocks for q8_0/q4_0 weights, as llama.cpp does).
 * Every output row is computed by one call on one thread, the same way
 * whatever the thread count, so results do not depend on it. */
#ifndef FM_BACKEND_CPU_KERNELS_H
#define FM_BACKEND_CPU_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "fm_backend.h"

/* Activation formats a matmul kernel reads. */
enum { FM_ACT_F32 = 0, FM_ACT_Q8_0 = 1, FM_ACT_Q8_K = 2 };

/* q8_0 activation block: half-precision scale, 32 signed bytes. */
#define FM_Q8_0_BYTES 34

/* The K-quant kernels' activation block (as llama.cpp's Q8_K): 256
 * values as d * qs[i], d = max|x| / 127 in full precision, and the sum of
 * each 16 quants (what a sub-block's min or offset multiplies). */
typedef struct fm_block_q8k {
    float d;
    int8_t qs[256];
    int16_t bsums[16];
} fm_block_q8k;

/* y[t * ys + r] = W[r] . x[t] for rows r0 <= r < r1 and tokens t < n_tok;
 * x rows are x_stride bytes apart in the kernel's activation format. */
typedef void (*fm_matmul_rows_fn)(const fm_weight *w, int64_t r0, int64_t r1, const uint8_t *x, size_t x_stride,
                                  int32_t n_tok, float *y, int64_t ys);

/* Prompt-sized products for 8-bit paths: y[t * ys + r] for rows r0 <= r <
 * r1 and every token; x holds q8_0 activation blocks (x_stride apart), xd
 * and xsum each block's scale and sum of quants (xd[t * nb + b], nb =
 * cols / 32); pack is the calling thread's scratch of fm_gemm_pack_bytes.
 * Each (row, token) is computed the same way whatever the rows and tokens
 * around it, so results do not depend on the thread count. */
typedef void (*fm_gemm_rows_fn)(const fm_weight *w, int64_t r0, int64_t r1, const uint8_t *x, size_t x_stride,
                                const float *xd, const int32_t *xsum, int32_t n_tok, float *y, int64_t ys,
                                uint8_t *pack);

/* A gemm kernel packs FM_GEMM_GROUPS groups of 16 rows at a time, each
 * 32-column block of a group in FM_GEMM_BLOCK_BYTES (8 x 64 bytes of
 * quants, 16 float scales); the scratch that takes per thread: */
#define FM_GEMM_BLOCK_BYTES 576
#define FM_GEMM_GROUPS 4
static inline size_t fm_gemm_pack_bytes(int64_t cols) {
    return (size_t)(cols / 32) * FM_GEMM_BLOCK_BYTES * FM_GEMM_GROUPS;
}

/* Prompt activations for the K-quant GEMM, in tiles of FM_GEMM_K_T
 * tokens (the last padded with zero tokens): per tile, the q8_K quants
 * plus 128 as unsigned bytes with the tokens' 4-byte groups interleaved
 * (byte (c / 4) * 4T + 4k + c % 4 is token k's column c: one load per
 * token and group at a fixed offset), each 256-block's scale [cols/256][T],
 * and the sums of each 16 and each 32 quants as floats [cols/16][T],
 * [cols/32][T] (what sub-block mins multiply). */
#define FM_GEMM_K_T 8
typedef struct fm_gemm_k_acts {
    const uint8_t *xu; /* tile i at i * cols * T */
    const float *d;    /* tile i at i * cols / 256 * T */
    const float *xs16; /* tile i at i * cols / 16 * T */
    const float *xs32; /* tile i at i * cols / 32 * T */
} fm_gemm_k_acts;

/* The K-quant GEMM (prompts): y[t * ys + r] for rows r0 <= r < r1 and
 * every token, each (row, token) computed the same way whatever the rows
 * and tokens around it; pack is the thread's fm_gemm_k_pack_bytes. */
typedef void (*fm_gemm_k_fn)(const fm_weight *w, int64_t r0, int64_t r1, const fm_gemm_k_acts *x, int32_t n_tok,
                             float *y, int64_t ys, uint8_t *pack);

/* Its packed super-block of 16 rows: 64 vectors of int8 weights (group
 * g: each row's elements 4g..4g+3), then per sub-block (at most 16) the
 * rows' float scales, int32 offset corrections and float mins. */
#define FM_GEMM_K_SB_BYTES (4096 + 16 * 3 * 64)
static inline size_t fm_gemm_k_pack_bytes(int64_t cols) {
    return (size_t)(cols / 256) * FM_GEMM_K_SB_BYTES * FM_GEMM_GROUPS;
}

/* Prompt GEMM for float weights (f32, f16, bf16) against f32 activations
 * x (n_tok rows of cols floats): y[t * ys + r] for rows r0 <= r < r1;
 * scratch is the thread's fm_gemm_f_scratch_bytes(cols, n_tok). Each
 * (row, token) is computed the same way whatever rows and tokens are
 * around it. */
typedef void (*fm_gemm_f_fn)(const fm_weight *w, int64_t r0, int64_t r1, const float *x, int32_t n_tok, float *y,
                             int64_t ys, uint8_t *scratch);
#define FM_GEMM_F_T 8
/* its scratch: FM_GEMM_GROUPS packed groups of 16 rows, then the tokens'
 * activations in tiles of FM_GEMM_F_T */
static inline size_t fm_gemm_f_scratch_bytes(int64_t cols, int32_t n_tok) {
    const size_t tiles = (size_t)((n_tok + FM_GEMM_F_T - 1) / FM_GEMM_F_T);
    return (size_t)(cols + 1) * 16 * 4 * FM_GEMM_GROUPS + tiles * (size_t)(cols + 1) * FM_GEMM_F_T * 4 + 64;
}

typedef struct fm_cpu_kernels {
    const char *name;                /* "ref", "avx2", "avx512" */
    fm_matmul_rows_fn matmul[36];    /* by fm_dtype; NULL: the reference path */
    uint8_t act[36];                 /* FM_ACT_* each matmul reads */
    fm_gemm_rows_fn gemm[36];        /* by fm_dtype, for prompts; NULL: BLAS or matmul */
    fm_gemm_k_fn gemm_k[36];         /* K-quant types' prompt GEMM (q8_K activations); NULL: as above */
    fm_gemm_f_fn gemm_f[36];         /* float types' prompt GEMM (f32 activations); NULL: BLAS or matmul */
    uint8_t gemm_f_bf16_acts;        /* gemm_f[BF16] rounds activations to bf16 (error bound |x| 2^-8) */
    float (*dot_f32)(const float *a, const float *b, int64_t n);
    void (*quantize_q8_0)(const float *x, int64_t n, uint8_t *out); /* n multiple of 32 */
    void (*quantize_q8_k)(const float *x, int64_t n, fm_block_q8k *out); /* n multiple of 256 */
    /* out[i] = silu(gate[i]) * up[i] */
    void (*swiglu)(const float *gate, const float *up, int64_t n, float *out);
    /* A weight row of n elements as f32; 0 if the table has no converter
     * for dtype (the caller then uses fm_dequantize_row) */
    int (*row_to_f32)(int32_t dtype, const uint8_t *src, int64_t n, float *dst);
    /* One query row against the cache rows of its runs (runs[2r] ..
     * runs[2r+1]-1 for r < n_runs, in order): out[0..D) = softmax(scale *
     * q . k_p) weighted sum of v_p over those rows; k and v point at the
     * head's first element of row 0, rows kv_stride floats apart; scores:
     * one float per visible row of scratch (tables that stream may ignore
     * it). The result depends only on the sequence of visible rows, not on
     * how runs split it. No visible rows: zeros. */
    void (*attn_row)(const float *q, const float *k, const float *v, int64_t kv_stride, const int32_t *runs,
                     int32_t n_runs, int32_t D, float scale, float *scores, float *out);
    /* attn_row over an F16 cache: k and v are halves, kv_stride elements
     * apart */
    void (*attn_row_f16)(const float *q, const uint16_t *k, const uint16_t *v, int64_t kv_stride,
                         const int32_t *runs, int32_t n_runs, int32_t D, float scale, float *scores, float *out);
    /* x[i] = exp(x[i] - m) for n values, returning their sum (a softmax's
     * numerators and denominator) */
    float (*exp_sum)(float *x, int64_t n, float m);
} fm_cpu_kernels;

/* The portable reference kernels: always available, the oracle. */
const fm_cpu_kernels *fm_cpu_kernels_ref(void);
/* The best table this CPU can run (the reference one if no SIMD table fits). */
const fm_cpu_kernels *fm_cpu_kernels_best(void);

/* Tables per instruction set; NULL where not compiled in. They do not check the CPU. */
const fm_cpu_kernels *fm_cpu_kernels_avx2(void);
const fm_cpu_kernels *fm_cpu_kernels_avx512(void); /* AVX-512 F/DQ/BW/VL + VNNI */

/* The table the environment variable FM_KERNELS names ("ref", "avx2",
 * "avx512vnni") if this CPU runs it, else the best one: lets tests and
 * benchmarks hold each table to the oracle on one machine. */
const fm_cpu_kernels *fm_cpu_kernels_select(void);

/* Portable q8_0 activation quantization (d = max|x| / 127, q = x / d
 * rounded to nearest even, d stored as half), shared by the tables that
 * have no faster one. */
void fm_quantize_q8_0_ref(const float *x, int64_t n, uint8_t *out);
/* Portable q8_K activation quantization: d = max|x| / 127 (f32), q = x / d
 * rounded to nearest even, and the 16-quant sums. */
void fm_quantize_q8_k_ref(const float *x, int64_t n, fm_block_q8k *out);

#endif
