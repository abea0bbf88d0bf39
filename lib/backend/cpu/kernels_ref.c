/* The reference kernels (see kernels.h): portable C, f32 activations. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/half.h"
#include "kernels.h"

/* Eight partial sums so the compiler can keep them in vector lanes without
 * reassociating floating point behind our back. */
static float dot_f32(const float *a, const float *b, int64_t n) {
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += a[i + j] * b[i + j];
    float s = 0;
    for (; i < n; i++) s += a[i] * b[i];
    return s + ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

static void axpy_f32(float *y, float a, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

void fm_quantize_q8_0_ref(const float *x, int64_t n, uint8_t *out) {
    for (int64_t b = 0; b < n / 32; b++, x += 32, out += FM_Q8_0_BYTES) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        const uint16_t h = fm_f32_to_f16(d);
        memcpy(out, &h, 2);
        /* nearest, ties to even, in every table (the SIMD ones round that way) */
        for (int j = 0; j < 32; j++) out[2 + j] = (uint8_t)(int8_t)nearbyintf(x[j] * id);
    }
}

void fm_quantize_q8_k_ref(const float *x, int64_t n, fm_block_q8k *out) {
    for (int64_t b = 0; b < n / 256; b++, x += 256, out++) {
        float amax = 0;
        for (int j = 0; j < 256; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        out->d = d;
        for (int j = 0; j < 256; j++) {
            const float q = nearbyintf(x[j] * id);
            out->qs[j] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
        }
        for (int g = 0; g < 16; g++) {
            int s = 0;
            for (int j = 0; j < 16; j++) s += out->qs[16 * g + j];
            out->bsums[g] = (int16_t)s;
        }
    }
}

/* sc[first..n) = exp(sc - mx), returning 1 / their sum (summed in double). */
static float softmax_scale(float *sc, int32_t first, int32_t n, float mx) {
    double sum = 0;
    for (int32_t p = first; p < n; p++) {
        sc[p] = expf(sc[p] - mx);
        sum += sc[p];
    }
    return (float)(1.0 / sum);
}

/* Every visible cell p of a row's runs, with i counting them in order
 * (the scores are packed by i). */
#define FOR_CELLS(p, i)                                                                                   \
    for (int32_t r_ = 0, i = 0; r_ < n_runs; r_++)                                                        \
        for (int32_t p = runs[2 * r_]; p < runs[2 * r_ + 1]; p++, i++)

/* Two passes over the scores: max, then exp and sum in double, then the
 * weighted sum of values. */
static void attn_row(const float *q, const float *k, const float *v, int64_t kv_stride, const int32_t *runs,
                     int32_t n_runs, int32_t D, float scale, float *sc, float *out) {
    float mx = -INFINITY;
    int32_t n = 0;
    FOR_CELLS(p, i) {
        sc[i] = dot_f32(q, k + (size_t)p * (size_t)kv_stride, D) * scale;
        if (sc[i] > mx) mx = sc[i];
        n = i + 1;
    }
    for (int32_t d = 0; d < D; d++) out[d] = 0;
    if (n == 0) return;
    const float inv = softmax_scale(sc, 0, n, mx);
    FOR_CELLS(p, i) axpy_f32(out, sc[i] * inv, v + (size_t)p * (size_t)kv_stride, D);
}

/* The same two passes over halves, widened (exactly) as they are read. */
static void attn_row_f16(const float *q, const uint16_t *k, const uint16_t *v, int64_t kv_stride,
                         const int32_t *runs, int32_t n_runs, int32_t D, float scale, float *sc, float *out) {
    float mx = -INFINITY;
    int32_t n = 0;
    FOR_CELLS(p, i) {
        const uint16_t *kp = k + (size_t)p * (size_t)kv_stride;
        double dot = 0;
        for (int32_t d = 0; d < D; d++) dot += (double)q[d] * fm_f16_to_f32(kp[d]);
        sc[i] = (float)dot * scale;
        if (sc[i] > mx) mx = sc[i];
        n = i + 1;
    }
    for (int32_t d = 0; d < D; d++) out[d] = 0;
    if (n == 0) return;
    const float inv = softmax_scale(sc, 0, n, mx);
    FOR_CELLS(p, i) {
        const uint16_t *vp = v + (size_t)p * (size_t)kv_stride;
        for (int32_t d = 0; d < D; d++) out[d] += sc[i] * inv * fm_f16_to_f32(vp[d]);
    }
}

static float exp_sum(float *x, int64_t n, float m) {
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - m);
        sum += x[i];
    }
    return (float)sum;
}

static void swiglu(const float *gate, const float *up, int64_t n, float *out) {
    for (int64_t i = 0; i < n; i++) out[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

static const fm_cpu_kernels ref = {
    .name = "ref",
    .dot_f32 = dot_f32,
    .quantize_q8_0 = fm_quantize_q8_0_ref,
    .quantize_q8_k = fm_quantize_q8_k_ref,
    .attn_row = attn_row,
    .attn_row_f16 = attn_row_f16,
    .exp_sum = exp_sum,
    .swiglu = swiglu,
};

const fm_cpu_kernels *fm_cpu_kernels_ref(void) { return &ref; }

#if defined(__x86_64__) && defined(FM_HAVE_AVX2)
#include <cpuid.h>

/* AVX2, FMA and F16C per CPUID, and the OS saving the YMM registers (XCR0
 * bits 1-2); asked directly because compilers disagree on the names
 * __builtin_cpu_supports knows. */
static int cpu_has_avx2_fma_f16c(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, f16c = (c >> 29) & 1, avx = (c >> 28) & 1;
    if (!fma || !osxsave || !f16c || !avx) return 0;
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    if ((xlo & 6) != 6) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b >> 5) & 1;
}
#endif

#if defined(__x86_64__) && defined(FM_HAVE_AVX512)
/* AVX-512 F, DQ, BW, VL and VNNI, and the OS saving opmask and ZMM state (XCR0 bits 5-7). */
static int cpu_has_avx512vnni(void) {
    unsigned a, b, c, d, xlo, xhi;
    if (!cpu_has_avx2_fma_f16c()) return 0;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    if ((xlo & 0xE0) != 0xE0) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b >> 16 & 1) && (b >> 17 & 1) && (b >> 30 & 1) && (b >> 31 & 1) && (c >> 11 & 1);
}
#endif

const fm_cpu_kernels *fm_cpu_kernels_best(void) {
#if defined(__x86_64__) && defined(FM_HAVE_AVX512)
    if (cpu_has_avx512vnni()) return fm_cpu_kernels_avx512();
#endif
#if defined(__x86_64__) && defined(FM_HAVE_AVX2)
    if (cpu_has_avx2_fma_f16c()) return fm_cpu_kernels_avx2();
#endif
    return &ref;
}

const fm_cpu_kernels *fm_cpu_kernels_select(void) {
    const char *want = getenv("FM_KERNELS");
    if (want != NULL && strcmp(want, "ref") == 0) return &ref;
#if defined(__x86_64__) && defined(FM_HAVE_AVX2)
    if (want != NULL && strcmp(want, "avx2") == 0 && cpu_has_avx2_fma_f16c()) return fm_cpu_kernels_avx2();
#endif
    return fm_cpu_kernels_best();
}

#if !defined(FM_HAVE_AVX2)
const fm_cpu_kernels *fm_cpu_kernels_avx2(void) { return NULL; }
#endif
#if !defined(FM_HAVE_AVX512)
const fm_cpu_kernels *fm_cpu_kernels_avx512(void) { return NULL; }
#endif
