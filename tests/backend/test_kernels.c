/* The fast kernels ("cpu", the best table this CPU runs) against the
 * oracle ("cpu-ref"), on random inputs of awkward sizes (rows and columns
 * that are not multiples of the vector width, 1..7 tokens to hit the
 * four-token groups and their tails, 32 and 45 for the prompt paths):
 *  - f32/f16/bf16 weights: |fast - ref| <= 1e-5 * sum|w x| (summation order);
 *    plus sum|w x| * 2^-8 for a bf16 prompt GEMM that rounds activations to
 *    bf16 (the table says so);
 *  - q8_0/q4_0 weights, whose fast path quantizes activations to q8_0: per
 *    row and token, |fast - ref| <= sum over blocks of sum|w| * d * (1/2 +
 *    127 * 2^-11) (half a quantum, plus the half-precision rounding of the
 *    block scale d = max|x|/127) + 1e-5 * sum|w x|;
 *  - every result bit-identical for 1, 2 and 3 threads, and (below 32
 *    tokens) for a token evaluated alone or in a batch (batch invariance);
 *  - attention (the fast one streams its softmax) within 1e-5. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "backend/backend.h"
#include "backend/cpu/kernels.h"
#include "core/half.h"
#include "format/dtype.h"
#include "format/quant.h"

static unsigned rng = 777;
static float rnd(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

static fm_backend_inst fast[3], ref; /* fast with 1, 2, 3 threads */

static void make_weight(int32_t dtype, int64_t rows, int64_t cols, uint8_t *data) {
    const size_t rb = fm_dtype_row_bytes((uint32_t)dtype, cols);
    for (int64_t r = 0; r < rows; r++) {
        uint8_t *p = data + (size_t)r * rb;
        for (int64_t i = 0; i < cols; i++) {
            const float v = rnd() * (1 + (float)(r % 3));
            if (dtype == FM_DTYPE_F32) memcpy(p + 4 * i, &v, 4);
            else if (dtype == FM_DTYPE_F16) { uint16_t h = fm_f32_to_f16(v); memcpy(p + 2 * i, &h, 2); }
            else if (dtype == FM_DTYPE_BF16) { uint16_t h = fm_f32_to_bf16(v); memcpy(p + 2 * i, &h, 2); }
        }
        int at[2] = {-1, -1}; /* where a quantized block keeps its f16 scale (and min) */
        switch (dtype) {
        case FM_DTYPE_Q8_0: case FM_DTYPE_Q4_0: case FM_DTYPE_Q5_0: case FM_DTYPE_IQ4_NL: case FM_DTYPE_IQ4_XS:
            at[0] = 0; break;
        case FM_DTYPE_Q4_K: case FM_DTYPE_Q5_K: at[0] = 0, at[1] = 2; break;
        case FM_DTYPE_Q2_K: at[0] = 80, at[1] = 82; break;
        case FM_DTYPE_Q3_K: at[0] = 108; break;
        case FM_DTYPE_Q6_K: at[0] = 208; break;
        default: break;
        }
        if (at[0] >= 0) { /* random quants and sub-block scales, block scales from 1e-3 to 1 */
            const fm_dtype_traits *t = fm_dtype_get((uint32_t)dtype);
            for (int64_t b = 0; b < cols / (int64_t)t->block_elems; b++) {
                uint8_t *blk = p + (size_t)b * t->block_bytes;
                for (uint32_t j = 0; j < t->block_bytes; j++) blk[j] = (uint8_t)((rng = rng * 1664525u + 1013904223u) >> 8);
                if (dtype == FM_DTYPE_Q8_0)
                    for (int j = 0; j < 32; j++) if (blk[2 + j] == 0x80) blk[2 + j] = 0x81; /* -128 is not a q8_0 value */
                for (int k = 0; k < 2 && at[k] >= 0; k++) {
                    uint16_t h = fm_f32_to_f16(powf(10.0f, -3.0f * (rnd() + 1) / 2) / (t->block_elems > 32 ? 32 : 1));
                    memcpy(blk + at[k], &h, 2);
                }
            }
        }
    }
}

static void check_matmul(int32_t dtype, int64_t rows, int64_t cols, int T) {
    const fm_dtype_traits *t = fm_dtype_get((uint32_t)dtype);
    const size_t rb = fm_dtype_row_bytes((uint32_t)dtype, cols);
    uint8_t *data = calloc((size_t)rows, rb);
    make_weight(dtype, rows, cols, data);
    const fm_weight w = {data, dtype, 0, rows, cols, rb};
    float *x = malloc((size_t)(T * cols) * sizeof *x), *yr = malloc((size_t)(T * rows) * sizeof *yr);
    float *yf[3], *y1 = malloc((size_t)rows * sizeof *y1), *wf = malloc((size_t)cols * sizeof *wf);
    for (int i = 0; i < 3; i++) yf[i] = malloc((size_t)(T * rows) * sizeof *yf[i]);
    for (int64_t i = 0; i < T * cols; i++) x[i] = rnd() * (i % 5 == 0 ? 4 : 1);
    CHECK(ref.iface.matmul(ref.ctx, &w, x, T, yr, rows) == FM_STATUS_OK, "ref matmul");
    for (int i = 0; i < 3; i++)
        CHECK(fast[i].iface.matmul(fast[i].ctx, &w, x, T, yf[i], rows) == FM_STATUS_OK, "fast matmul");
    /* the fast table's activation blocks: 32 (q8_0, scale in f16) or 256 (q8_K, scale in f32) */
    const fm_cpu_kernels *kt = fm_cpu_kernels_select();
    const int act = dtype >= 0 && dtype < 36 && kt->matmul[dtype] ? kt->act[dtype] : FM_ACT_F32;
    const int q8 = act != FM_ACT_F32, ab = act == FM_ACT_Q8_K ? 256 : 32;
    const double dround = act == FM_ACT_Q8_K ? 1.0 / (1 << 20) : 127.0 / 2048;
    double worst = 0; /* error / bound */
    int same_threads = 1, same_batch = 1;
    for (int64_t r = 0; r < rows; r++) {
        fm_dequantize_row(dtype, data + (size_t)r * rb, cols, wf);
        for (int tk = 0; tk < T; tk++) {
            const float *xt = x + (size_t)tk * (size_t)cols;
            double mag = 0, bound = 0;
            for (int64_t i = 0; i < cols; i++) mag += fabs((double)wf[i] * xt[i]);
            if (q8)
                for (int64_t b = 0; b < cols / ab; b++) {
                    double amax = 0, sw = 0;
                    for (int j = 0; j < ab; j++) amax = fmax(amax, fabs(xt[b * ab + j])), sw += fabs(wf[b * ab + j]);
                    bound += sw * (amax / 127) * (0.5 + dround);
                }
            /* a bf16 prompt GEMM that rounds activations to bf16 (VDPBF16PS) */
            if (dtype == FM_DTYPE_BF16 && T >= 32 && kt->gemm_f_bf16_acts) bound += mag / 256;
            bound += 1e-5 * mag + 1e-30;
            const double err = fabs((double)yf[0][(size_t)tk * rows + r] - yr[(size_t)tk * rows + r]);
            worst = fmax(worst, err / bound);
            for (int i = 1; i < 3; i++)
                same_threads &= memcmp(&yf[0][(size_t)tk * rows + r], &yf[i][(size_t)tk * rows + r], 4) == 0;
        }
    }
    /* the table's row converter (the BLAS path's) gives the reference's bits */
    int same_rows = 1;
    float *conv = malloc((size_t)cols * sizeof *conv), *deq = malloc((size_t)cols * sizeof *deq);
    for (int64_t r = 0; r < rows && kt->row_to_f32; r++)
        if (kt->row_to_f32(dtype, data + (size_t)r * rb, cols, conv)) {
            fm_dequantize_row(dtype, data + (size_t)r * rb, cols, deq);
            same_rows &= memcmp(conv, deq, (size_t)cols * sizeof *conv) == 0;
        }
    CHECK(same_rows, "%s: row_to_f32 differs from fm_dequantize_row", t->name);
    free(conv), free(deq);
    /* batch invariance: each token alone gives the bits it got in the batch
     * (prompt-sized batches take BLAS or the 8-bit GEMM: not batch-invariant) */
    for (int tk = 0; tk < T && T < 32; tk++) {
        CHECK(fast[1].iface.matmul(fast[1].ctx, &w, x + (size_t)tk * (size_t)cols, 1, y1, rows) == FM_STATUS_OK, "m");
        same_batch &= memcmp(y1, yf[0] + (size_t)tk * rows, (size_t)rows * sizeof *y1) == 0;
    }
    CHECK(worst <= 1.0, "%s %lldx%lld: error %.3g of the bound", t->name, (long long)rows, (long long)cols, worst);
    CHECK(same_threads, "%s %lldx%lld: results differ between 1, 2 and 3 threads", t->name, (long long)rows,
          (long long)cols);
    CHECK(same_batch, "%s %lldx%lld: a token alone differs from the same token in a batch", t->name,
          (long long)rows, (long long)cols);
    printf("%-6s %5lld x %-5lld %2d tokens: worst error %.3f of the bound%s; threads 1/2/3%s bit-identical\n",
           t->name, (long long)rows, (long long)cols, T, worst,
           act == FM_ACT_Q8_K ? " (q8_K activations)" : q8 ? " (q8_0 activations)" : "",
           T < 32 ? (T == 13 ? " and batch 1/13" : " and batch 1/7") : "");
    free(data), free(x), free(yr), free(y1), free(wf);
    for (int i = 0; i < 3; i++) free(yf[i]);
}

/* attention: head sizes that take the vector path (multiples of 8) and one
 * that does not, long enough runs to rescale the streaming softmax, a
 * sliding window, and scores large enough that the max moves. A prompt of
 * 45 tokens (positions 32..76) takes the BLAS path: blocks of 21 tokens
 * (3 heads a KV head), the last one partial; it must give the same bits on
 * 1, 2 and 3 threads. */
static void check_attention(int32_t D, int32_t window, int32_t T, int f16) {
    enum { NKV = 77, H = 6, HKV = 2 };
    float *q = malloc((size_t)(T * H * D) * sizeof *q), *k = malloc((size_t)(NKV * HKV * D) * sizeof *k);
    float *v = malloc((size_t)(NKV * HKV * D) * sizeof *v), *o1 = malloc((size_t)(T * H * D) * sizeof *o1);
    float *o2 = malloc((size_t)(T * H * D) * sizeof *o2), *o3 = malloc((size_t)(T * H * D) * sizeof *o3);
    int32_t *pos = malloc((size_t)T * sizeof *pos);
    for (int i = 0; i < T * H * D; i++) q[i] = 3 * rnd();
    for (int i = 0; i < NKV * HKV * D; i++) k[i] = rnd() + (float)(i / (HKV * D)) * 0.05f, v[i] = rnd();
    const int32_t few[] = {0, 9, 40, 75, 76};
    for (int32_t t = 0; t < T; t++) pos[t] = T <= 5 ? few[t] : NKV - T + t;
    /* an f16 cache: the same keys and values as halves, in the same buffers */
    if (f16)
        for (int i = 0; i < NKV * HKV * D; i++) {
            ((uint16_t *)(void *)k)[i] = fm_f32_to_f16(k[i]);
            ((uint16_t *)(void *)v)[i] = fm_f32_to_f16(v[i]);
        }
    fm_attention_args a = {sizeof a, T, H, HKV, D, NKV, 1, 0.3f, q, k, v, HKV * D, pos, o1, window,
                           f16 ? FM_DTYPE_F16 : FM_DTYPE_F32, NULL, NULL}; /* no runs: the pre-ABI-4 contract */
    CHECK(ref.iface.attention(ref.ctx, &a) == FM_STATUS_OK, "ref attention");
    a.out = o2;
    CHECK(fast[0].iface.attention(fast[0].ctx, &a) == FM_STATUS_OK, "fast attention");
    double worst = 0;
    for (int i = 0; i < T * H * D; i++) worst = fmax(worst, fabs(o1[i] - o2[i]));
    /* scores here reach ~80, so a score's rounding (float dot products,
     * summed in sgemm's order on the BLAS path) moves its weight by ~1e-5 */
    CHECK(worst < (T >= 32 ? 2e-5 : 1e-5), "attention D=%d window %d, %d tokens: %.3g", D, window, T, worst);
    int same = 1;
    a.out = o3;
    for (int th = 1; th < 3; th++) {
        CHECK(fast[th].iface.attention(fast[th].ctx, &a) == FM_STATUS_OK, "fast attention");
        same &= memcmp(o2, o3, (size_t)(T * H * D) * sizeof *o2) == 0;
    }
    CHECK(same, "attention D=%d, %d tokens: results differ between 1, 2 and 3 threads", D, T);
    printf("attention D=%-3d window %-2d %2d tokens%s: max |fast - ref| %.2g; threads 1/2/3 bit-identical\n", D,
           window, T, f16 ? " (f16 cache)" : "", worst);
    free(q), free(k), free(v), free(o1), free(o2), free(o3), free(pos);
}

/* ABI 4 runs: every token sees the cells c <= pos with c % 3 != 1 (many
 * runs, as interleaved sequences leave them). Fast against reference on
 * the row path (5 tokens) and the BLAS path (45); and on the row path each
 * token's result must be bit-identical to the same visible cells laid out
 * contiguously in a cache of their own (one run). */
static void check_attention_runs(int32_t D, int32_t T, int f16) {
    enum { NKV = 77, H = 4, HKV = 2 };
    const size_t R = (size_t)HKV * (size_t)D, es = f16 ? 2 : 4;
    float *q = malloc((size_t)(T * H * D) * sizeof *q), *kf = malloc(NKV * R * sizeof *kf), *vf = malloc(NKV * R * sizeof *vf);
    uint8_t *k = malloc(NKV * R * es), *v = malloc(NKV * R * es), *kc = malloc(NKV * R * es), *vc = malloc(NKV * R * es);
    float *o1 = malloc((size_t)(T * H * D) * sizeof *o1), *o2 = malloc((size_t)(T * H * D) * sizeof *o2);
    float *o3 = malloc((size_t)(H * D) * sizeof *o3);
    int32_t *pos = malloc((size_t)T * sizeof *pos), *off = malloc((size_t)(T + 1) * sizeof *off);
    int32_t *runs = malloc((size_t)T * NKV * sizeof *runs);
    for (int i = 0; i < T * H * D; i++) q[i] = 3 * rnd();
    for (size_t i = 0; i < NKV * R; i++) {
        kf[i] = rnd() + (float)(i / R) * 0.05f, vf[i] = rnd();
        if (f16) {
            ((uint16_t *)(void *)k)[i] = fm_f32_to_f16(kf[i]);
            ((uint16_t *)(void *)v)[i] = fm_f32_to_f16(vf[i]);
        } else {
            ((float *)(void *)k)[i] = kf[i], ((float *)(void *)v)[i] = vf[i];
        }
    }
    int32_t nr = 0;
    for (int32_t t = 0; t < T; t++) {
        pos[t] = T <= 5 ? 30 + 11 * t : NKV - T + t;
        off[t] = nr;
        for (int32_t c = 0; c <= pos[t]; c++)
            if (c % 3 != 1) {
                if (nr > off[t] && runs[2 * nr - 1] == c) runs[2 * nr - 1] = c + 1;
                else runs[2 * nr] = c, runs[2 * nr + 1] = c + 1, nr++;
            }
    }
    off[T] = nr;
    const int32_t dt = f16 ? FM_DTYPE_F16 : FM_DTYPE_F32;
    fm_attention_args a = {sizeof a, T, H, HKV, D, NKV, 1, 0.3f, q, (const float *)(void *)k, (const float *)(void *)v,
                           (int64_t)R, pos, o1, 0, dt, runs, off};
    CHECK(ref.iface.attention(ref.ctx, &a) == FM_STATUS_OK, "ref attention (runs)");
    a.out = o2;
    CHECK(fast[1].iface.attention(fast[1].ctx, &a) == FM_STATUS_OK, "fast attention (runs)");
    double worst = 0;
    for (int i = 0; i < T * H * D; i++) worst = fmax(worst, fabs(o1[i] - o2[i]));
    CHECK(worst < (T >= 32 ? 2e-5 : 1e-5), "attention runs D=%d, %d tokens: %.3g", D, T, worst);
    int same = 1;
    for (int32_t t = 0; T <= 5 && t < T; t++) { /* the visible cells packed into a cache of their own */
        int32_t n = 0;
        for (int32_t r = off[t]; r < off[t + 1]; r++)
            for (int32_t c = runs[2 * r]; c < runs[2 * r + 1]; c++, n++) {
                memcpy(kc + (size_t)n * R * es, k + (size_t)c * R * es, R * es);
                memcpy(vc + (size_t)n * R * es, v + (size_t)c * R * es, R * es);
            }
        const int32_t one[2] = {0, n}, one_off[2] = {0, 1}, p = n - 1;
        fm_attention_args b = {sizeof b, 1, H, HKV, D, n, 1, 0.3f, q + (size_t)t * H * D, (const float *)(void *)kc,
                               (const float *)(void *)vc, (int64_t)R, &p, o3, 0, dt, one, one_off};
        CHECK(fast[0].iface.attention(fast[0].ctx, &b) == FM_STATUS_OK, "packed attention");
        same &= memcmp(o3, o2 + (size_t)t * H * D, (size_t)(H * D) * sizeof *o3) == 0;
    }
    CHECK(same, "attention runs D=%d: a token's bits depend on how its cells lie in the cache", D);
    printf("attention runs D=%-3d %2d tokens%s: %d runs, max |fast - ref| %.2g%s\n", D, T, f16 ? " (f16 cache)" : "",
           nr, worst, T <= 5 ? "; same bits as the cells packed" : "");
    free(q), free(kf), free(vf), free(k), free(v), free(kc), free(vc), free(o1), free(o2), free(o3);
    free(pos), free(off), free(runs);
}

/* the table's q8_K activation quantizer gives the reference's bits */
static void check_q8_k(void) {
    enum { N = 1024 };
    float x[N];
    fm_block_q8k a[N / 256], b[N / 256];
    for (int i = 0; i < N; i++) x[i] = rnd() * (i % 7 == 0 ? 30 : 1);
    for (int i = 256; i < 512; i++) x[i] = 0; /* an all-zero block */
    x[600] = 1e-30f;
    const fm_cpu_kernels *k = fm_cpu_kernels_select();
    fm_quantize_q8_k_ref(x, N, a);
    k->quantize_q8_k(x, N, b);
    CHECK(memcmp(a, b, sizeof a) == 0, "%s q8_K quantizer differs from the reference", k->name);
    int sums = 1;
    for (int g = 0; g < N / 16; g++) {
        int s = 0;
        for (int j = 0; j < 16; j++) s += a[g / 16].qs[16 * (g % 16) + j];
        sums &= s == a[g / 16].bsums[g % 16];
    }
    CHECK(sums, "q8_K block sums");
    printf("q8_K activations: %s quantizer bit-identical to the reference\n", k->name);
}

/* swiglu with the table's exp against the reference's expf */
static void check_swiglu(void) {
    enum { N = 1003 };
    float g[N], u[N], a[N], b[N];
    for (int i = 0; i < N; i++) g[i] = 40 * rnd(), u[i] = rnd();
    g[0] = -100, g[1] = 100, g[2] = 0;
    fm_cpu_kernels_ref()->swiglu(g, u, N, a);
    fm_cpu_kernels_select()->swiglu(g, u, N, b);
    double worst = 0;
    for (int i = 0; i < N; i++) worst = fmax(worst, fabs((double)a[i] - b[i]) / fmax(fabs(a[i]), 1e-3));
    CHECK(worst < 1e-6, "swiglu: relative %.3g", worst);
    printf("swiglu max relative |fast - ref| %.2g\n", worst);
}

int main(void) {
    fm_backend_init_params p = {sizeof p, 1, 128, 16};
    printf("kernel table under test: %s\n", fm_cpu_kernels_select()->name);
    CHECK(fm_backend_inst_init(&ref, "cpu-ref", &p) == FM_STATUS_OK, "cpu-ref");
    for (int i = 0; i < 3; i++) {
        p.n_threads = i + 1;
        CHECK(fm_backend_inst_init(&fast[i], "cpu", &p) == FM_STATUS_OK, "cpu");
    }
    const int32_t floats[] = {FM_DTYPE_F32, FM_DTYPE_F16, FM_DTYPE_BF16};
    const int64_t shapes[][2] = {{13, 77}, {37, 133}, {300, 1030}, {5, 8}, {3, 3}};
    for (size_t d = 0; d < 3; d++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) check_matmul(floats[d], shapes[s][0], shapes[s][1], 7);
    const int32_t quants[] = {FM_DTYPE_Q8_0, FM_DTYPE_Q4_0};
    /* odd and even block counts; 33024 columns take the q4_0 kernel's fallback (rows wider than its stack buffer) */
    const int64_t qshapes[][2] = {{13, 32}, {37, 96}, {300, 1056}, {7, 2080}, {11, 64}, {29, 2048}, {6, 33024}};
    for (size_t d = 0; d < 2; d++)
        /* 7 and 13 tokens: the kernels' groups of 8 and 4 tokens and what they leave */
        for (size_t s = 0; s < sizeof qshapes / sizeof qshapes[0]; s++)
            check_matmul(quants[d], qshapes[s][0], qshapes[s][1], s % 2 ? 13 : 7);
    /* prompt-sized batches: the 8-bit GEMM where the table has one (row
     * counts off its 16-row groups, token counts off its 8-token tiles) */
    const int64_t gshapes[][2] = {{37, 96}, {300, 1056}, {16, 64}, {5, 2080}};
    for (size_t d = 0; d < 2; d++)
        for (size_t s = 0; s < sizeof gshapes / sizeof gshapes[0]; s++)
            check_matmul(quants[d], gshapes[s][0], gshapes[s][1], s % 2 ? 45 : 32);
    /* float weights at prompt sizes: the table's float GEMM (16-row groups,
     * 8-token tiles; columns off 16) */
    const int64_t fshapes[][2] = {{37, 77}, {300, 1030}, {16, 64}, {5, 2049}, {33, 16}};
    for (size_t d = 0; d < 3; d++)
        for (size_t s = 0; s < sizeof fshapes / sizeof fshapes[0]; s++)
            check_matmul(floats[d], fshapes[s][0], fshapes[s][1], s % 2 ? 45 : 32);
    /* K-quant and IQ4 types: one super-block, rows off the four-row groups,
     * odd and even super-block counts, a TinyLlama-wide row */
    const int32_t ktypes[] = {FM_DTYPE_Q2_K, FM_DTYPE_Q3_K, FM_DTYPE_Q4_K, FM_DTYPE_Q5_K,
                              FM_DTYPE_Q6_K, FM_DTYPE_IQ4_XS, FM_DTYPE_IQ4_NL, FM_DTYPE_Q5_0};
    const int64_t kshapes[][2] = {{1, 256}, {13, 256}, {37, 768}, {6, 1024}, {9, 5632}};
    for (size_t d = 0; d < sizeof ktypes / sizeof ktypes[0]; d++)
        for (size_t s = 0; s < sizeof kshapes / sizeof kshapes[0]; s++)
            check_matmul(ktypes[d], kshapes[s][0], kshapes[s][1], s == 1 ? 1 : s % 2 ? 13 : 7);
    /* and their prompt path: the table's GEMM where it has one (rows off
     * its 16-row groups, tokens off its 8-token tiles), else rows widened
     * to f32 in 256-row chunks for its f32 GEMM (300 rows: two chunks) */
    const int64_t kgshapes[][2] = {{37, 256}, {300, 768}, {16, 512}, {5, 2816}};
    for (size_t d = 0; d < sizeof ktypes / sizeof ktypes[0]; d++)
        for (size_t s = 0; s < sizeof kgshapes / sizeof kgshapes[0]; s++)
            check_matmul(ktypes[d], kgshapes[s][0], kgshapes[s][1], s % 2 ? 45 : 32);
    check_q8_k();
    const int32_t heads[] = {8, 16, 20, 24, 32, 64, 128};
    for (int f16 = 0; f16 < 2; f16++) {
        for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) check_attention(heads[i], 0, 5, f16);
        check_attention(16, 7, 5, f16);
        for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) check_attention(heads[i], 0, 45, f16);
        check_attention(20, 7, 45, f16);
        for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
            check_attention_runs(heads[i], 5, f16);
            check_attention_runs(heads[i], 45, f16);
        }
    }
    check_swiglu();
    for (int i = 0; i < 3; i++) fm_backend_inst_release(&fast[i]);
    fm_backend_inst_release(&ref);
    return tu_finish("fast kernels vs the cpu-ref oracle");
}
