/* AVX2 prompt kernel for the K-quant types: the int8 GEMM of
 * kernels_kquant_avx512.c for CPUs without AVX-512, on the same packed
 * super-blocks (kernels.h: 16 rows, vector g holding each row's elements
 * 4g..4g+3, per sub-block the rows' scales, -128 x weight sums and mins)
 * and the same activation tiles (q8_K quants + 128 as unsigned bytes,
 * tokens' 4-byte groups interleaved).
 *
 * AVX2 has no VPDPBUSD: VPMADDUBSW multiplies the unsigned activation
 * bytes by the signed weight bytes into 16-bit pair sums, VPMADDWD by ones
 * widens them to 32 bits. The 16-bit sums are exact for these types: a
 * pair is at most 2 x 255 x 32 = 16,320 (q6_K's u - 32; q5_K 15,810, q4_K,
 * q3_K and q2_K less), so two groups' pair sums are added in 16 bits
 * (32,640 at most) before one widening. iq4_xs's grid reaches -127 and
 * would saturate: it stays on the widened-row f32 path (cpu_matmul.c).
 *
 * A register tile is one half of a group (8 rows, one 32-bit lane each)
 * by 4 tokens: 4 integer sums, 4 sub-block partials and 4 accumulators
 * within AVX2's 16 registers; a group and an 8-token activation tile take
 * four such passes. Every (row, token) is computed the same way whatever
 * rows and tokens are around it, so results do not depend on the thread
 * count. */
#include <immintrin.h>
#include <string.h>

#include "../../format/dtype.h"
#include "kernels_kquant.h"

/* Rows r..r+nr-1 (nr <= 16; missing rows are zero) to packed super-blocks. */
static void pack_rows(const fm_weight *w, int64_t r, int64_t nr, uint8_t *pk) {
    const int64_t nsb = w->cols / 256;
    const size_t bb = (size_t)fm_dtype_row_bytes((uint32_t)w->dtype, 256);
    _Alignas(32) int8_t q[16][256];
    for (int64_t sb = 0; sb < nsb; sb++) {
        uint8_t *blk = pk + (size_t)sb * FM_GEMM_K_SB_BYTES;
        float *A = (float *)(void *)(blk + 4096), *B = (float *)(void *)(blk + 4096 + 32 * 64);
        int32_t *C = (int32_t *)(void *)(blk + 4096 + 16 * 64);
        int nsub = 16;
        for (int j = 0; j < 16; j++) {
            float a[16] = {0}, b[16] = {0};
            if (j < nr)
                nsub = fm_avx2_unpack_i8(w->dtype, (const uint8_t *)w->data + (size_t)(r + j) * w->row_bytes + (size_t)sb * bb,
                                         q[j], a, b) & 0xFF;
            else
                memset(q[j], 0, sizeof q[j]);
            for (int s = 0; s < 16; s++) A[16 * s + j] = a[s], B[16 * s + j] = b[s];
        }
        for (int g = 0; g < 64; g++)
            for (int j = 0; j < 16; j++) memcpy(blk + 64 * g + 4 * j, q[j] + 4 * g, 4);
        const int per = 256 / nsub;
        for (int s = 0; s < nsub; s++)
            for (int j = 0; j < 16; j++) {
                int32_t sum = 0;
                for (int e = s * per; e < (s + 1) * per; e++) sum += q[j][e];
                C[16 * s + j] = -128 * sum;
            }
    }
}

/* token k's 4 activation bytes of group g, broadcast */
#define XB(g, k) _mm256_set1_epi32(load4(xb + (size_t)(4 * T * (g) + 4 * (k))))

static inline int32_t load4(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Tokens tq*4 .. tq*4+3 of activation tile ti against rows 8h..8h+7 of
 * the packed group pk, to out[4][8]. */
#define KQ_PASS(NSUB, MINS)                                                                                       \
    do {                                                                                                          \
        enum { T = FM_GEMM_K_T, GPS = 64 / (NSUB) };                                                              \
        const __m256i ones = _mm256_set1_epi16(1);                                                                \
        __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;                                 \
        const int k0 = 4 * tq;                                                                                    \
        for (int64_t sb = 0; sb < nsb; sb++) {                                                                    \
            const uint8_t *blk = pk + (size_t)sb * FM_GEMM_K_SB_BYTES, *xb = xt + (size_t)sb * 256 * T;           \
            __m256 p0 = _mm256_setzero_ps(), p1 = p0, p2 = p0, p3 = p0;                                           \
            for (int s = 0; s < (NSUB); s++) {                                                                    \
                const __m256i c = _mm256_loadu_si256((const __m256i *)(const void *)(blk + 4096 + 16 * 64 + 64 * s + 32 * h)); \
                __m256i s0 = c, s1 = c, s2 = c, s3 = c;                                                           \
                for (int gi = 0; gi < GPS; gi += 2) {                                                             \
                    const int g = s * GPS + gi;                                                                   \
                    const __m256i wa = _mm256_loadu_si256((const __m256i *)(const void *)(blk + 64 * g + 32 * h));       \
                    const __m256i wb = _mm256_loadu_si256((const __m256i *)(const void *)(blk + 64 * (g + 1) + 32 * h)); \
                    s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(XB(g, k0), wa),     \
                                                                                 _mm256_maddubs_epi16(XB(g + 1, k0), wb)), ones)); \
                    s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(XB(g, k0 + 1), wa), \
                                                                                 _mm256_maddubs_epi16(XB(g + 1, k0 + 1), wb)), ones)); \
                    s2 = _mm256_add_epi32(s2, _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(XB(g, k0 + 2), wa), \
                                                                                 _mm256_maddubs_epi16(XB(g + 1, k0 + 2), wb)), ones)); \
                    s3 = _mm256_add_epi32(s3, _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(XB(g, k0 + 3), wa), \
                                                                                 _mm256_maddubs_epi16(XB(g + 1, k0 + 3), wb)), ones)); \
                }                                                                                                 \
                const __m256 a = _mm256_loadu_ps((const float *)(const void *)(blk + 4096 + 64 * s + 32 * h));   \
                p0 = _mm256_fmadd_ps(a, _mm256_cvtepi32_ps(s0), p0);                                              \
                p1 = _mm256_fmadd_ps(a, _mm256_cvtepi32_ps(s1), p1);                                              \
                p2 = _mm256_fmadd_ps(a, _mm256_cvtepi32_ps(s2), p2);                                              \
                p3 = _mm256_fmadd_ps(a, _mm256_cvtepi32_ps(s3), p3);                                              \
                if (MINS) {                                                                                       \
                    const __m256 bm = _mm256_loadu_ps((const float *)(const void *)(blk + 4096 + 32 * 64 + 64 * s + 32 * h)); \
                    const float *xs = xst + ((size_t)sb * (NSUB) + (size_t)s) * T + k0;                           \
                    p0 = _mm256_fnmadd_ps(bm, _mm256_set1_ps(xs[0]), p0);                                         \
                    p1 = _mm256_fnmadd_ps(bm, _mm256_set1_ps(xs[1]), p1);                                         \
                    p2 = _mm256_fnmadd_ps(bm, _mm256_set1_ps(xs[2]), p2);                                         \
                    p3 = _mm256_fnmadd_ps(bm, _mm256_set1_ps(xs[3]), p3);                                         \
                }                                                                                                 \
            }                                                                                                     \
            const float *d = dt + (size_t)sb * T + k0;                                                            \
            acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d[0]), p0, acc0);                                               \
            acc1 = _mm256_fmadd_ps(_mm256_set1_ps(d[1]), p1, acc1);                                               \
            acc2 = _mm256_fmadd_ps(_mm256_set1_ps(d[2]), p2, acc2);                                               \
            acc3 = _mm256_fmadd_ps(_mm256_set1_ps(d[3]), p3, acc3);                                               \
        }                                                                                                         \
        _mm256_storeu_ps(out[0], acc0), _mm256_storeu_ps(out[1], acc1);                                           \
        _mm256_storeu_ps(out[2], acc2), _mm256_storeu_ps(out[3], acc3);                                           \
    } while (0)

#define KQ_GEMM(NAME, NSUB, MINS)                                                                                 \
    static void NAME##_pass(const uint8_t *pk, const fm_gemm_k_acts *x, int64_t cols, int32_t ti, int h, int tq, \
                            float out[4][8]) {                                                                    \
        const int64_t nsb = cols / 256;                                                                           \
        const uint8_t *xt = x->xu + (size_t)ti * (size_t)cols * FM_GEMM_K_T;                                      \
        const float *dt = x->d + (size_t)ti * (size_t)nsb * FM_GEMM_K_T;                                          \
        const float *xst = MINS ? ((NSUB) == 8 ? x->xs32 + (size_t)ti * (size_t)(cols / 32) * FM_GEMM_K_T         \
                                               : x->xs16 + (size_t)ti * (size_t)(cols / 16) * FM_GEMM_K_T)        \
                                : NULL;                                                                           \
        (void)xst;                                                                                                \
        KQ_PASS(NSUB, MINS);                                                                                      \
    }                                                                                                             \
    void NAME(const fm_weight *w, int64_t r0, int64_t r1, const fm_gemm_k_acts *x, int32_t n_tok, float *y,      \
              int64_t ys, uint8_t *pack) {                                                                        \
        const int64_t cols = w->cols, nsb = cols / 256;                                                           \
        const size_t group_bytes = (size_t)nsb * FM_GEMM_K_SB_BYTES;                                              \
        const int32_t n_tiles = (n_tok + FM_GEMM_K_T - 1) / FM_GEMM_K_T;                                          \
        for (int64_t rg = r0; rg < r1; rg += 16 * FM_GEMM_GROUPS) {                                               \
            int ng = 0;                                                                                           \
            for (int64_t r = rg; r < r1 && ng < FM_GEMM_GROUPS; r += 16, ng++)                                    \
                pack_rows(w, r, r1 - r < 16 ? r1 - r : 16, pack + (size_t)ng * group_bytes);                      \
            for (int32_t ti = 0; ti < n_tiles; ti++) {                                                            \
                const int nt = n_tok - ti * FM_GEMM_K_T < FM_GEMM_K_T ? n_tok - ti * FM_GEMM_K_T : FM_GEMM_K_T;   \
                for (int g = 0; g < ng; g++) {                                                                    \
                    const int64_t r = rg + 16 * g, nr = r1 - r < 16 ? r1 - r : 16;                                \
                    for (int h = 0; h < 2 && 8 * h < nr; h++)                                                     \
                        for (int tq = 0; 4 * tq < nt; tq++) {                                                     \
                            float out[4][8];                                                                      \
                            NAME##_pass(pack + (size_t)g * group_bytes, x, cols, ti, h, tq, out);                 \
                            const int64_t n8 = nr - 8 * h < 8 ? nr - 8 * h : 8;                                   \
                            for (int k = 0; k < 4 && 4 * tq + k < nt; k++)                                        \
                                memcpy(y + (size_t)(ti * FM_GEMM_K_T + 4 * tq + k) * (size_t)ys + r + 8 * h, out[k], \
                                       (size_t)n8 * sizeof(float));                                               \
                        }                                                                                         \
                }                                                                                                 \
            }                                                                                                     \
        }                                                                                                         \
    }

KQ_GEMM(fm_avx2_gemm_k8_mins, 8, 1)    /* q4_K, q5_K */
KQ_GEMM(fm_avx2_gemm_k16, 16, 0)       /* q6_K, q3_K */
KQ_GEMM(fm_avx2_gemm_k16_mins, 16, 1)  /* q2_K */
