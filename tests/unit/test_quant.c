/* Every quantized weight type, block by block: the test packs blocks from
 * known integer quants and scales (bit by bit, from the GGUF layouts), then
 * checks (1) fm_dequantize_row against the value each element must have,
 * computed in double, and (2) the reference backend's matmul over a weight
 * made of those blocks against a double-precision dot product (the fast
 * kernels are held to the reference in tests/backend/test_kernels.c). Scales include the
 * largest and the smallest (subnormal) half-precision values, negative
 * ones, zero, and blocks of all-zero bytes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "backend/backend.h"
#include "format/dtype.h"
#include "format/quant.h"
#include "fm_backend.h"

#define MAXE 256

/* Half-precision bit patterns of the scales used, and their exact values. */
typedef struct half {
    uint16_t bits;
    double value;
} half;

static const half scales[] = {
    {0x3800, 0.5}, {0xBD00, -1.25}, {0x7BFF, 65504.0}, {0x0001, 5.9604644775390625e-08}, {0x0000, 0.0},
    {0x2E66, 0.0999755859375},
};
#define N_SCALES (sizeof scales / sizeof scales[0])

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void set_bit(uint8_t *p, int bit, int v) {
    if (v) p[bit / 8] |= (uint8_t)(1u << (bit % 8));
}

/* A block of `dtype` from quants q (range per type), scales d/m and for the
 * K types per-sub-block scales sc[] and mins mn[]; fills want[] with the
 * element values. Returns the block size in bytes. */
static size_t pack(int dtype, const int *q, half d, half m, const int *sc, const int *mn, uint8_t *b, double *want) {
    memset(b, 0, 256);
    switch (dtype) {
    case FM_DTYPE_Q4_0:
    case FM_DTYPE_Q4_1: {
        const int has_m = dtype == FM_DTYPE_Q4_1;
        put16(b, d.bits);
        if (has_m) put16(b + 2, m.bits);
        uint8_t *qs = b + (has_m ? 4 : 2);
        for (int j = 0; j < 16; j++) qs[j] = (uint8_t)(q[j] | q[j + 16] << 4);
        for (int i = 0; i < 32; i++) want[i] = has_m ? q[i] * d.value + m.value : (q[i] - 8) * d.value;
        return has_m ? 20 : 18;
    }
    case FM_DTYPE_Q5_0:
    case FM_DTYPE_Q5_1: {
        const int has_m = dtype == FM_DTYPE_Q5_1;
        put16(b, d.bits);
        if (has_m) put16(b + 2, m.bits);
        uint8_t *qh = b + (has_m ? 4 : 2), *qs = qh + 4;
        for (int j = 0; j < 16; j++) qs[j] = (uint8_t)((q[j] & 15) | (q[j + 16] & 15) << 4);
        for (int i = 0; i < 32; i++) set_bit(qh, i, q[i] >> 4);
        for (int i = 0; i < 32; i++) want[i] = has_m ? q[i] * d.value + m.value : (q[i] - 16) * d.value;
        return has_m ? 24 : 22;
    }
    case FM_DTYPE_Q8_0:
        put16(b, d.bits);
        for (int i = 0; i < 32; i++) b[2 + i] = (uint8_t)(int8_t)q[i];
        for (int i = 0; i < 32; i++) want[i] = q[i] * d.value;
        return 34;
    case FM_DTYPE_Q4_K:
    case FM_DTYPE_Q5_K: {
        const int five = dtype == FM_DTYPE_Q5_K;
        put16(b, d.bits);
        put16(b + 2, m.bits);
        uint8_t *s = b + 4, *qh = b + 16, *qs = b + (five ? 48 : 16);
        for (int j = 0; j < 4; j++) {
            s[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
            s[j + 4] = (uint8_t)(mn[j] | (mn[j + 4] >> 4) << 6);
            s[j + 8] = (uint8_t)((sc[j + 4] & 15) | (mn[j + 4] & 15) << 4);
        }
        for (int g = 0; g < 4; g++)
            for (int l = 0; l < 32; l++) {
                const int lo = q[64 * g + l], hi = q[64 * g + 32 + l];
                qs[32 * g + l] = (uint8_t)((lo & 15) | (hi & 15) << 4);
                if (five) {
                    set_bit(qh + l, 2 * g, lo >> 4);
                    set_bit(qh + l, 2 * g + 1, hi >> 4);
                }
            }
        for (int i = 0; i < 256; i++) want[i] = d.value * sc[i / 32] * q[i] - m.value * mn[i / 32];
        return five ? 176 : 144;
    }
    case FM_DTYPE_Q6_K: {
        uint8_t *ql = b, *qh = b + 128;
        int8_t *s = (int8_t *)(b + 192);
        put16(b + 208, d.bits);
        for (int i = 0; i < 16; i++) s[i] = (int8_t)sc[i];
        for (int e = 0; e < 256; e++) {
            const int h = e / 128, k = e % 128 / 32, l = e % 32;
            const int lo = q[e] & 15, hi = q[e] >> 4;
            ql[64 * h + l + 32 * (k & 1)] |= (uint8_t)(k >= 2 ? lo << 4 : lo);
            qh[32 * h + l] |= (uint8_t)(hi << (2 * k));
            want[e] = d.value * sc[8 * h + l / 16 + 2 * k] * (q[e] - 32);
        }
        return 210;
    }
    case FM_DTYPE_Q2_K: { /* q 0..3; sc, mn 0..15 per 16 elements */
        uint8_t *s = b, *qs = b + 16;
        put16(b + 80, d.bits);
        put16(b + 82, m.bits);
        for (int i = 0; i < 16; i++) s[i] = (uint8_t)(sc[i] | mn[i] << 4);
        for (int e = 0; e < 256; e++) {
            const int h = e / 128, k = e % 128 / 32, l = e % 32;
            qs[32 * h + l] |= (uint8_t)(q[e] << (2 * k));
            want[e] = d.value * sc[e / 16] * q[e] - m.value * mn[e / 16];
        }
        return 84;
    }
    case FM_DTYPE_Q3_K: { /* q 0..7 stands for q - 4; sc 0..63 for sc - 32 */
        uint8_t *hm = b, *qs = b + 32, *s = b + 96;
        put16(b + 108, d.bits);
        for (int j = 0; j < 16; j++) {
            s[j % 8] |= (uint8_t)((sc[j] & 15) << (j < 8 ? 0 : 4));
            s[8 + j % 4] |= (uint8_t)((sc[j] >> 4) << (2 * (j / 4)));
        }
        for (int e = 0; e < 256; e++) {
            const int h = e / 128, k = e % 128 / 32, l = e % 32;
            qs[32 * h + l] |= (uint8_t)((q[e] & 3) << (2 * k));
            set_bit(hm + l, 4 * h + k, q[e] >> 2);
            want[e] = d.value * (sc[e / 16] - 32) * (q[e] - 4);
        }
        return 110;
    }
    case FM_DTYPE_IQ4_NL:
        put16(b, d.bits);
        for (int j = 0; j < 16; j++) b[2 + j] = (uint8_t)(q[j] | q[j + 16] << 4);
        for (int i = 0; i < 32; i++) want[i] = d.value * fm_iq4_values[q[i]];
        return 18;
    case FM_DTYPE_IQ4_XS: { /* sc 0..63 for sc - 32, one per 32 elements */
        put16(b, d.bits);
        int sh = 0;
        for (int j = 0; j < 8; j++) {
            b[4 + j / 2] |= (uint8_t)((sc[j] & 15) << (4 * (j % 2)));
            sh |= (sc[j] >> 4) << (2 * j);
        }
        put16(b + 2, (uint16_t)sh);
        for (int j = 0; j < 8; j++)
            for (int l = 0; l < 16; l++) b[8 + 16 * j + l] = (uint8_t)(q[32 * j + l] | q[32 * j + 16 + l] << 4);
        for (int i = 0; i < 256; i++) want[i] = d.value * (sc[i / 32] - 32) * fm_iq4_values[q[i]];
        return 136;
    }
    }
    return 0;
}

/* Quants in the type's range: 0 .. 2^bits-1 (signed for q8_0), mixing the
 * extremes with a pseudo-random middle. */
static void make_quants(int dtype, unsigned seed, int *q, int *sc, int *mn) {
    int bits = 4, lo = 0;
    if (dtype == FM_DTYPE_Q5_0 || dtype == FM_DTYPE_Q5_1 || dtype == FM_DTYPE_Q5_K) bits = 5;
    if (dtype == FM_DTYPE_Q6_K) bits = 6;
    if (dtype == FM_DTYPE_Q8_0) bits = 8, lo = -128;
    if (dtype == FM_DTYPE_Q2_K) bits = 2;
    if (dtype == FM_DTYPE_Q3_K) bits = 3;
    const int span = 1 << bits;
    for (int i = 0; i < MAXE; i++) {
        seed = seed * 1103515245u + 12345u;
        int v = (int)(seed >> 16) % span;
        if (i % 7 == 0) v = span - 1;
        if (i % 11 == 0) v = 0;
        q[i] = v + lo;
    }
    for (int i = 0; i < 16; i++) {
        seed = seed * 1103515245u + 12345u;
        if (dtype == FM_DTYPE_Q6_K) sc[i] = (int)(seed >> 16) % 256 - 128; /* int8 */
        else sc[i] = (int)(seed >> 16) % 64;                                 /* 6 bits */
        mn[i] = (int)(seed >> 8) % 64;
        if (dtype == FM_DTYPE_Q2_K) sc[i] %= 16, mn[i] %= 16; /* 4 bits */
    }
    sc[0] = dtype == FM_DTYPE_Q6_K ? -128 : dtype == FM_DTYPE_Q2_K ? 15 : 63;
    sc[1] = dtype == FM_DTYPE_Q6_K ? 127 : 0;
    mn[2] = dtype == FM_DTYPE_Q2_K ? 15 : 63;
}

static fm_backend_inst cpu;

static void check_type(int dtype) {
    const fm_dtype_traits *tr = fm_dtype_get((uint32_t)dtype);
    const int qk = (int)tr->block_elems;
    /* one weight of 3 rows x (2 blocks) per (d, m) pair, plus an all-zero row */
    const int blocks_per_row = 2, cols = qk * blocks_per_row;
    int n_cases = 0, q[MAXE], sc[16], mn[16];
    double max_err = 0;
    for (size_t di = 0; di < N_SCALES; di++) {
        const half d = scales[di], m = scales[(di + 1) % N_SCALES];
        const int rows = 4;
        uint8_t *w = calloc((size_t)rows * blocks_per_row, 256);
        double *want = calloc((size_t)rows * (size_t)cols, sizeof *want);
        size_t bb = 0;
        for (int r = 0; r < rows - 1; r++)
            for (int k = 0; k < blocks_per_row; k++) {
                uint8_t blk[256];
                make_quants(dtype, (unsigned)(dtype * 1000 + (int)di * 100 + r * 10 + k), q, sc, mn);
                bb = pack(dtype, q, d, m, sc, mn, blk, want + (size_t)r * cols + (size_t)k * qk);
                memcpy(w + ((size_t)r * blocks_per_row + (size_t)k) * bb, blk, bb);
            }
        CHECK(bb == tr->block_bytes, "%s: packed %zu bytes, traits say %u", tr->name, bb, tr->block_bytes);
        /* the last row stays all-zero bytes: every element must be 0 */

        /* (1) dequantization, element by element */
        float *got = malloc((size_t)cols * sizeof *got);
        for (int r = 0; r < rows; r++) {
            CHECK(fm_dequantize_row(dtype, w + (size_t)r * blocks_per_row * bb, cols, got), "%s: dequantize", tr->name);
            for (int i = 0; i < cols; i++) {
                const double x = want[(size_t)r * cols + i];
                /* f32 products of exact f16/integer factors: within a few f32 ulps */
                const double err = fabs(got[i] - x), tol = 4 * 5.96e-8 * fmax(fabs(x), 1e-30) + 1e-40;
                max_err = fmax(max_err, err / fmax(fabs(x), 1e-30));
                CHECK(err <= tol || isinf(x), "%s d=%g row %d elem %d: %.9g, want %.9g", tr->name, d.value, r, i,
                      got[i], x);
                if (err > tol && !isinf(x)) break;
            }
        }

        /* (2) the matmul kernel over these rows, against a double dot product */
        fm_weight wt = {w, dtype, 0, rows, cols, fm_dtype_row_bytes((uint32_t)dtype, cols)};
        float *x = malloc((size_t)cols * sizeof *x), y[4];
        for (int i = 0; i < cols; i++) x[i] = (float)((i * 37 % 101) - 50) / 64.0f;
        CHECK(cpu.iface.matmul(cpu.ctx, &wt, x, 1, y, rows) == FM_STATUS_OK, "%s: matmul", tr->name);
        for (int r = 0; r < rows; r++) {
            double dot = 0, mag = 0;
            for (int i = 0; i < cols; i++) {
                dot += want[(size_t)r * cols + i] * x[i];
                mag += fabs(want[(size_t)r * cols + i] * x[i]);
            }
            CHECK(fabs(y[r] - dot) <= 1e-6 * mag + 1e-30, "%s d=%g row %d: dot %.9g, want %.9g", tr->name, d.value,
                  r, y[r], dot);
        }
        n_cases++;
        free(x);
        free(got);
        free(w);
        free(want);
    }
    printf("%-5s %d scale pairs x 4 rows of %d: dequantize max rel err %.2g, dot products within 1e-6\n", tr->name,
           n_cases, cols, max_err);
}

int main(void) {
    fm_backend_init_params p = {sizeof p, 1, 16, 16};
    CHECK(fm_backend_inst_init(&cpu, "cpu-ref", &p) == FM_STATUS_OK, "cpu-ref backend");
    const int types[] = {FM_DTYPE_Q4_0, FM_DTYPE_Q4_1, FM_DTYPE_Q5_0, FM_DTYPE_Q5_1,
                         FM_DTYPE_Q8_0, FM_DTYPE_Q2_K, FM_DTYPE_Q3_K, FM_DTYPE_Q4_K,
                         FM_DTYPE_Q5_K, FM_DTYPE_Q6_K, FM_DTYPE_IQ4_NL, FM_DTYPE_IQ4_XS};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) check_type(types[i]);
    /* what is not supported says so */
    float out[256];
    uint8_t zero[300] = {0};
    CHECK(!fm_dequantize_row(16 /* iq2_xxs */, zero, 256, out), "iq2_xxs must be refused");
    CHECK(!fm_dequantize_row(FM_DTYPE_Q4_0, zero, 31, out), "a partial block must be refused");
    CHECK(!fm_dtype_can_dequantize(16) && fm_dtype_can_dequantize(FM_DTYPE_Q3_K) && fm_dtype_can_dequantize(FM_DTYPE_IQ4_XS),
          "type list");
    fm_backend_inst_release(&cpu);
    return tu_finish("quantized weight types");
}
