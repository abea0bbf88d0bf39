/* AVX-512 prompt GEMMs for float weights (f32, f16, bf16) against f32
 * activations, so that prompts on float models depend neither on a BLAS
 * library nor on it recognising the CPU (docs/performance.md).
 *
 * The int8 GEMM's shape (kernels_avx512.c): groups of 16 weight rows are
 * transposed once per call into vectors of one column's 16 values, and a
 * tile of 8 tokens (their activations re-laid so that token t's column k
 * is at 8k + t) meets two groups at a time, one FMA per column, token and
 * group with the activation broadcast from memory. f16 and bf16 rows are
 * widened to f32 (exactly) when packed: plain f32 arithmetic, each (row,
 * token) one FMA chain in column order, so results are within the f32
 * summation-order tolerance of the reference.
 *
 * VDPBF16PS (AVX512_BF16: two bf16 products per lane, activations rounded
 * to bf16 as llama.cpp does for bf16 models) was tried for bf16 weights
 * and measured slower on this project's Xeon (pp128 TinyLlama BF16, one
 * thread: 52-53 t/s against 66-67 for this kernel): it issues on one port
 * where FMAs issue on two, so its doubled products per instruction buy
 * nothing, and it is less exact.
 *
 * Every (row, token) is computed the same way whatever rows and tokens
 * are around it, so results do not depend on the thread count. */
#include <immintrin.h>
#include <string.h>

#include "kernels_avx512_transpose.h"
#include "kernels_float.h"
#include "kernels_float_tile.h"

/* 16 elements from column c of a row as f32 (zero past the row's end) */
static inline __m512 load16(const fm_weight *w, const uint8_t *row, int64_t c) {
    const int64_t left = w->cols - c;
    const __mmask16 m = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
    if (w->dtype == FM_DTYPE_F32) return _mm512_maskz_loadu_ps(m, row + 4 * c);
    const __m256i h = _mm256_maskz_loadu_epi16(m, row + 2 * c);
    if (w->dtype == FM_DTYPE_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* rows r..r+nr-1 (nr <= 16) to [column][16] floats (missing rows zero) */
static void pack_f32(const fm_weight *w, int64_t r, int64_t nr, float *pk) {
    for (int64_t c = 0; c < w->cols; c += 16) {
        __m512i v[16];
        for (int j = 0; j < 16; j++)
            v[j] = j < nr ? _mm512_castps_si512(load16(w, (const uint8_t *)w->data + (size_t)(r + j) * w->row_bytes, c))
                          : _mm512_setzero_si512();
        fm_transpose16x16_epi32(v);
        const int64_t n = w->cols - c < 16 ? w->cols - c : 16;
        for (int64_t k = 0; k < n; k++) _mm512_storeu_si512(pk + (size_t)(c + k) * 16, v[k]);
    }
}

#define MAC_F32(acc, wv, xv) _mm512_fmadd_ps(wv, _mm512_set1_ps(xv), acc)

#define FLOAT_GEMM(NAME, PK_T, XT_T, N_OF, PACK, RELAY, MAC)                                                       \
    void NAME(const fm_weight *w, int64_t r0, int64_t r1, const float *x, int32_t n_tok, float *y, int64_t ys,    \
              uint8_t *scratch) {                                                                                  \
        const int64_t n = N_OF(w->cols);                                                                           \
        const size_t gstride = (size_t)n * 16;                                                                     \
        PK_T *pk = (PK_T *)(void *)scratch;                                                                        \
        XT_T *xt = (XT_T *)(void *)(scratch + (size_t)(w->cols + 1) * 16 * 4 * FM_GEMM_GROUPS);                    \
        RELAY(x, w->cols, n_tok, xt);                                                                              \
        const int32_t n_tiles = (n_tok + T - 1) / T;                                                               \
        for (int64_t rg = r0; rg < r1; rg += 16 * FM_GEMM_GROUPS) {                                                \
            int ng = 0;                                                                                            \
            for (int64_t r = rg; r < r1 && ng < FM_GEMM_GROUPS; r += 16, ng++)                                     \
                PACK(w, r, r1 - r < 16 ? r1 - r : 16, pk + (size_t)ng * gstride);                                  \
            for (int32_t i = 0; i < n_tiles; i++) {                                                                \
                const int nt = n_tok - i * T < T ? n_tok - i * T : T;                                              \
                int g0 = 0;                                                                                        \
                for (; g0 + 2 <= ng; g0 += 2) TILE(2, n, PK_T, XT_T, MAC);                                         \
                if (g0 < ng) TILE(1, n, PK_T, XT_T, MAC);                                                          \
            }                                                                                                      \
        }                                                                                                          \
    }

#define COLS(c) (c)
FLOAT_GEMM(fm_avx512_gemm_float, float, float, COLS, pack_f32, fm_gemm_f_relay, MAC_F32)

/* ---- generation: one token at a time against rows (f32 activations) ---- */

/* Four rows against one token, 16 columns a step, each row one FMA chain
 * in column order (a row alone takes the same steps, so results do not
 * depend on the batch or the thread count); rows are prefetched four
 * ahead, as the K-quant kernels do. Measured on a Zen 5 VM the AVX2
 * kernels (8 columns a step) left BF16 generation at 0.91x llama.cpp. */
#define ESIZE(w) ((w)->dtype == FM_DTYPE_F32 ? 4 : 2)

static inline float row_dot(const fm_weight *w, const uint8_t *row, const float *x) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t c = 0; c < w->cols; c += 16) {
        const int64_t left = w->cols - c;
        const __mmask16 m = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
        acc = _mm512_fmadd_ps(load16(w, row, c), _mm512_maskz_loadu_ps(m, x + c), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

void fm_avx512_matmul_float(const fm_weight *w, int64_t r0, int64_t r1, const uint8_t *xb, size_t x_stride,
                            int32_t n_tok, float *y, int64_t ys) {
    const size_t rb = w->row_bytes;
    const int es = ESIZE(w);
    for (int32_t t = 0; t < n_tok; t++) {
        const float *x = (const float *)(const void *)(xb + (size_t)t * x_stride);
        float *yt = y + (size_t)t * (size_t)ys;
        int64_t r = r0;
        for (; r + 4 <= r1; r += 4) {
            const uint8_t *w0 = (const uint8_t *)w->data + (size_t)r * rb;
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (int64_t c = 0; c < w->cols; c += 16) {
                const int64_t left = w->cols - c;
                const __mmask16 m = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
                if ((c & 31) == 0)
                    for (int k = 0; k < 4; k++) _mm_prefetch((const char *)(w0 + (4 + k) * rb + (size_t)c * es), _MM_HINT_T0);
                const __m512 xv = _mm512_maskz_loadu_ps(m, x + c);
                a0 = _mm512_fmadd_ps(load16(w, w0, c), xv, a0);
                a1 = _mm512_fmadd_ps(load16(w, w0 + rb, c), xv, a1);
                a2 = _mm512_fmadd_ps(load16(w, w0 + 2 * rb, c), xv, a2);
                a3 = _mm512_fmadd_ps(load16(w, w0 + 3 * rb, c), xv, a3);
            }
            yt[r] = _mm512_reduce_add_ps(a0);
            yt[r + 1] = _mm512_reduce_add_ps(a1);
            yt[r + 2] = _mm512_reduce_add_ps(a2);
            yt[r + 3] = _mm512_reduce_add_ps(a3);
        }
        for (; r < r1; r++) yt[r] = row_dot(w, (const uint8_t *)w->data + (size_t)r * rb, x);
    }
}
