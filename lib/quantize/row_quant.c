/* Rows of f32 values to GGUF's block formats: the same deterministic
 * procedures llama.cpp's reference quantizers follow (without an
 * importance matrix), so that a file quantized here holds the bytes
 * llama-quantize would write. Block layouts are quant.c's.
 *
 * The K types choose their sub-block scales by a small search that
 * minimises a weighted squared (or absolute) error, then quantize each
 * sub-block's scale (and min) to 4, 6 or 8 bits against one f16 super
 * scale, then requantize the values with the rounded scales. Rounding is
 * to nearest with ties to even unless a comment says otherwise; every
 * sum runs in f32 in element order, as the procedures define it. */
#include "quantize.h"

#include <math.h>
#include <string.h>

#include "../core/half.h"
#include "../format/quant.h"
#include "fm_backend.h"

/* values whose absolute maximum is below this count as all zero */
#define ZERO_GROUP 1e-15f

/* Round half to even, as nearbyintf does in the default rounding mode,
 * by adding 1.5 * 2^23: for |v| < 2^22 the sum's low mantissa bits are
 * the rounded integer. glibc's nearbyintf is a call that saves and
 * restores the floating-point environment, and the K-quant searches round
 * some 200 times per weight: with it, quantizing took 12 % longer than
 * llama-quantize (docs/performance.md). Larger magnitudes (never kept:
 * every caller clamps to a few bits) saturate instead. */
static inline int round_even(float v) {
    if (!(fabsf(v) < 4194304.0f)) return v > 0 ? 4194304 : -4194304;
    const float t = v + 12582912.0f;
    int32_t i;
    memcpy(&i, &t, sizeof i);
    return (i & 0x007FFFFF) - 0x00400000;
}
static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }
static inline void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

/* ---- 32-element blocks ------------------------------------------------- */

/* The element of largest magnitude, with its sign (the first one on ties). */
static float signed_absmax(const float *x, int n) {
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) amax = fabsf(x[j]), max = x[j];
    return max;
}

static void q8_0(const float *x, uint8_t *b) {
    float amax = 0;
    for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
    const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    put16(b, fm_f32_to_f16(d));
    for (int j = 0; j < 32; j++) b[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id); /* ties away from zero */
}

/* q4_0 / q5_0: d = (signed max) / -2^(bits-1), so the largest value maps
 * to the most negative quant; q = trunc(x / d + offset + 0.5) */
static void q4_0(const float *x, uint8_t *b) {
    const float d = signed_absmax(x, 32) / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    put16(b, fm_f32_to_f16(d));
    for (int j = 0; j < 16; j++) {
        const int lo = clampi((int8_t)(x[j] * id + 8.5f), 0, 15), hi = clampi((int8_t)(x[j + 16] * id + 8.5f), 0, 15);
        b[2 + j] = (uint8_t)(lo | hi << 4);
    }
}

static void q5_0(const float *x, uint8_t *b) {
    const float d = signed_absmax(x, 32) / -16.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    put16(b, fm_f32_to_f16(d));
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        const int lo = clampi((int8_t)(x[j] * id + 16.5f), 0, 31), hi = clampi((int8_t)(x[j + 16] * id + 16.5f), 0, 31);
        b[6 + j] = (uint8_t)((lo & 15) | (hi & 15) << 4);
        qh |= (uint32_t)(lo >> 4) << j | (uint32_t)(hi >> 4) << (j + 16);
    }
    memcpy(b + 2, &qh, 4);
}

/* q4_1 / q5_1: d = (max - min) / (2^bits - 1), m = min, q = trunc((x - m) / d + 0.5) */
static void q4_1_q5_1(const float *x, uint8_t *b, int five) {
    float mn = x[0], mx = x[0];
    for (int j = 1; j < 32; j++) mn = fminf(mn, x[j]), mx = fmaxf(mx, x[j]);
    const float d = (mx - mn) / (five ? 31.0f : 15.0f), id = d != 0.0f ? 1.0f / d : 0.0f;
    put16(b, fm_f32_to_f16(d));
    put16(b + 2, fm_f32_to_f16(mn));
    uint32_t qh = 0;
    uint8_t *qs = b + (five ? 8 : 4);
    for (int j = 0; j < 16; j++) {
        int lo = (uint8_t)((x[j] - mn) * id + 0.5f), hi = (uint8_t)((x[j + 16] - mn) * id + 0.5f);
        if (!five) lo = lo > 15 ? 15 : lo, hi = hi > 15 ? 15 : hi;
        qs[j] = (uint8_t)((lo & 15) | (hi & 15) << 4);
        qh |= (uint32_t)((lo >> 4) & 1) << j | (uint32_t)((hi >> 4) & 1) << (j + 16);
    }
    if (five) memcpy(b + 4, &qh, 4);
}

/* ---- searches for a group's scale (and min) ---------------------------- */

/* Quants L in 0..nmax and (scale, -min) for x ~ scale * L + min with
 * min <= 0, minimising the weighted error (squared, or absolute if mad):
 * the plain min/max fit, then nstep + 1 trial scales (rmin + rdelta * k
 * extra steps over the range), each refined by least squares; a trial
 * that wins also moves the min the next trials start from.
 *
 * This search is nearly all of a K-quant run, so it fits LANES groups at
 * once, group j in lane j (xt[i][j] is group j's element i): the compiler
 * turns the lane loops into vector code, and every lane still performs
 * the scalar procedure's operations in its order (sums in element order,
 * no contraction under -std=c11), so the results are the scalar ones bit
 * for bit. Decisions become per-lane selects; a trial that the scalar
 * procedure would skip (no positive determinant) is computed and
 * discarded. L is recomputed at the end from the winning trial's scale
 * and min rather than copied at every win. */
#define LANES 4 /* 16-byte vectors: every x86-64 and arm64 has them */

/* GCC/Clang vector extensions: one source for SSE2, AVX or NEON code */
typedef float fv __attribute__((vector_size(4 * LANES)));
typedef int32_t iv __attribute__((vector_size(4 * LANES)));

static inline fv sel(iv m, fv a, fv b) { return (fv)(((iv)a & m) | ((iv)b & ~m)); }
static inline fv vabs(fv v) { return (fv)((iv)v & 0x7FFFFFFF); }

/* round_even per lane, clamped to 0..nmax */
static inline iv round_clamp(fv v, int nmax) {
    const iv r = ((iv)(v + 12582912.0f) & 0x007FFFFF) - 0x00400000;
    const iv small = vabs(v) < 4194304.0f, pos = v > 0;
    iv q = (r & small) | (~small & pos & nmax);
    q &= ~(q < 0);
    const iv hi = q > nmax;
    return (q & ~hi) | (hi & nmax);
}

static inline fv tof(iv v) { return __builtin_convertvector(v, fv); }

static void fit_scale_min(int n, int nmax, const fv *xt, const fv *wt, uint8_t *L, float *scale_out, float *neg_min,
                          float rmin, float rdelta, int nstep, int mad) {
    fv mn = xt[0], mx = xt[0], sum_w = wt[0], sum_x = wt[0] * xt[0];
    for (int i = 1; i < n; i++) {
        mn = sel(xt[i] < mn, xt[i], mn);
        mx = sel(xt[i] > mx, xt[i], mx);
        sum_w += wt[i];
        sum_x += wt[i] * xt[i];
    }
    mn = sel(mn > 0, (fv){0}, mn);
    const iv flat = mx == mn;
    fv win_is = (float)nmax / (mx - mn), win_mn = mn, scale = 1 / win_is, best = {0};
    for (int i = 0; i < n; i++) {
        const fv diff = scale * tof(round_clamp(win_is * (xt[i] - mn), nmax)) + mn - xt[i];
        best += wt[i] * (mad ? vabs(diff) : diff * diff);
    }
    iv aux[32];
    for (int k = 0; k <= nstep; k++) {
        const fv is = (rmin + rdelta * (float)k + (float)nmax) / (mx - mn);
        fv sum_l = {0}, sum_l2 = {0}, sum_xl = {0}, err = {0};
        for (int i = 0; i < n; i++) {
            aux[i] = round_clamp(is * (xt[i] - mn), nmax);
            const fv l = tof(aux[i]);
            sum_l += wt[i] * l;
            sum_l2 += wt[i] * l * l;
            sum_xl += wt[i] * l * xt[i];
        }
        const fv D = sum_w * sum_l2 - sum_l * sum_l;
        const fv m0 = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        const iv clip = m0 > 0;
        const fv ts = sel(clip, sum_xl / sum_l2, (sum_w * sum_xl - sum_x * sum_l) / D), tm = sel(clip, (fv){0}, m0);
        for (int i = 0; i < n; i++) {
            const fv diff = ts * tof(aux[i]) + tm - xt[i];
            err += wt[i] * (mad ? vabs(diff) : diff * diff);
        }
        const iv win = (D > 0) & (err < best);
        best = sel(win, err, best);
        scale = sel(win, ts, scale);
        win_is = sel(win, is, win_is);
        win_mn = sel(win, mn, win_mn);
        mn = sel(win, tm, mn);
    }
    /* a flat group (all values equal the min) gets zero quants and scale 0;
     * its trials were NaN and never won */
    scale = sel(flat, (fv){0}, scale);
    for (int i = 0; i < n; i++) {
        const iv q = round_clamp(win_is * (xt[i] - win_mn), nmax) & ~flat;
        for (int j = 0; j < LANES; j++) L[j * n + i] = (uint8_t)q[j];
    }
    for (int j = 0; j < LANES; j++) {
        neg_min[j] = -mn[j];
        scale_out[j] = scale[j];
    }
}

/* Signed quants L + nmax (L in -nmax..nmax-1) and the scale for x ~
 * scale * L, weights x^2: the first fit maps the signed maximum to -nmax,
 * then 18 nearby scales (nmax + k/10) are tried by least squares. */
static float fit_scale_sym(int n, int nmax, const float *x, int8_t *L) {
    const float max = signed_absmax(x, n);
    if (fabsf(max) < ZERO_GROUP) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = -(float)nmax / max, sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        const int l = clampi(round_even(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int k = -9; k <= 9; k++) {
        if (k == 0) continue;
        iscale = -((float)nmax + 0.1f * (float)k) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            const int l = clampi(round_even(iscale * x[i]), -nmax, nmax - 1);
            const float w = x[i] * x[i];
            sumlx += w * x[i] * (float)l;
            suml2 += w * (float)l * (float)l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) L[i] = (int8_t)(nmax + clampi(round_even(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* q3_K's group fit: signed quants in -nmax..nmax-1 from the signed
 * maximum, then up to 5 passes that move single quants while the
 * weighted (x^2) least-squares fit improves. Returns the scale; L gets
 * quant + nmax. */
static float fit_scale_q3(int n, int nmax, const float *x, int8_t *L) {
    const float max = signed_absmax(x, n);
    if (fabsf(max) < ZERO_GROUP) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    const float iscale = -(float)nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        const int l = clampi(round_even(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        const float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    for (int pass = 0; pass < 5; pass++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            const float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * (float)L[i];
            if (!(slx > 0)) continue;
            float sl2 = suml2 - w * (float)L[i] * (float)L[i];
            const int nl = clampi(round_even(x[i] * sl2 / slx), -nmax, nmax - 1);
            if (nl == L[i]) continue;
            slx += w * x[i] * (float)nl;
            sl2 += w * (float)nl * (float)nl;
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = (int8_t)nl;
                sumlx = slx;
                suml2 = sl2;
                changed++;
            }
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return sumlx / suml2;
}

/* ---- super-blocks of 256 ---------------------------------------------- */

/* q4_K / q5_K: 8 sub-blocks of 32, each fitted with weights
 * rms(sub-block) + |x| (q4_K: 20 trial steps from -1, q5_K: 15 from
 * -0.5); scales and mins to 6 bits against the largest of each. */
static void q45_k(const float *x, uint8_t *b, int five) {
    const int nmax = five ? 31 : 15;
    uint8_t L[256];
    float scales[8], mins[8], max_scale = 0, max_min = 0;
    for (int h = 0; h < 8 / LANES; h++) {
        fv xt[32], wt[32];
        float sum_x2[LANES] = {0};
        for (int i = 0; i < 32; i++)
            for (int j = 0; j < LANES; j++) {
                xt[i][j] = x[32 * (LANES * h + j) + i];
                sum_x2[j] += xt[i][j] * xt[i][j];
            }
        for (int j = 0; j < LANES; j++) {
            const float av = sqrtf(sum_x2[j] / 32);
            for (int i = 0; i < 32; i++) wt[i][j] = av + fabsf(xt[i][j]);
        }
        fit_scale_min(32, nmax, xt, wt, L + 32 * LANES * h, scales + LANES * h, mins + LANES * h,
                      five ? -0.5f : -1.0f, 0.1f, five ? 15 : 20, 0);
    }
    for (int j = 0; j < 8; j++) {
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f, inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    uint8_t *s = b + 4;
    memset(s, 0, 12);
    int ls[8], lm[8];
    for (int j = 0; j < 8; j++) {
        ls[j] = (uint8_t)round_even(inv_scale * scales[j]);
        lm[j] = (uint8_t)round_even(inv_min * mins[j]);
        if (ls[j] > 63) ls[j] = 63;
        if (lm[j] > 63) lm[j] = 63;
        if (j < 4) {
            s[j] = (uint8_t)ls[j];
            s[j + 4] = (uint8_t)lm[j];
        } else {
            s[j + 4] = (uint8_t)((ls[j] & 15) | (lm[j] & 15) << 4);
            s[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            s[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
    const uint16_t dh = fm_f32_to_f16(max_scale / 63.0f), mh = fm_f32_to_f16(max_min / 63.0f);
    put16(b, dh);
    put16(b + 2, mh);
    for (int j = 0; j < 8; j++) {
        const float d = fm_f16_to_f32(dh) * (float)ls[j];
        if (d == 0.0f) continue;
        const float dm = fm_f16_to_f32(mh) * (float)lm[j];
        for (int i = 0; i < 32; i++) L[32 * j + i] = (uint8_t)clampi(round_even((x[32 * j + i] + dm) / d), 0, nmax);
    }
    uint8_t *qh = b + 16, *q = b + (five ? 48 : 16);
    if (five) memset(qh, 0, 32);
    for (int g = 0; g < 4; g++)
        for (int l = 0; l < 32; l++) {
            const int lo = L[64 * g + l], hi = L[64 * g + 32 + l];
            q[32 * g + l] = (uint8_t)((lo & 15) | (hi & 15) << 4);
            if (five) qh[l] |= (uint8_t)((lo >> 4) << (2 * g) | (hi >> 4) << (2 * g + 1));
        }
}

/* q6_K: 16 sub-blocks of 16 fitted symmetrically (nmax 32), their scales
 * to int8 against the one of largest magnitude (mapped to -128). */
static void q6_k(const float *x, uint8_t *b) {
    int8_t L[256];
    float scales[16], max_scale = 0, max_abs = 0;
    for (int j = 0; j < 16; j++) {
        scales[j] = fit_scale_sym(16, 32, x + 16 * j, L + 16 * j);
        if (fabsf(scales[j]) > max_abs) max_abs = fabsf(scales[j]), max_scale = scales[j];
    }
    memset(b, 0, 210);
    if (max_abs < ZERO_GROUP) return; /* all zero, d = 0 */
    const float iscale = -128.0f / max_scale;
    const uint16_t dh = fm_f32_to_f16(1 / iscale);
    put16(b + 208, dh);
    int8_t *sc = (int8_t *)(b + 192);
    for (int j = 0; j < 16; j++) {
        const int v = round_even(iscale * scales[j]);
        sc[j] = (int8_t)(v > 127 ? 127 : v);
    }
    for (int j = 0; j < 16; j++) {
        const float d = fm_f16_to_f32(dh) * (float)sc[j];
        if (d == 0.0f) continue;
        for (int i = 0; i < 16; i++) L[16 * j + i] = (int8_t)(clampi(round_even(x[16 * j + i] / d), -32, 31) + 32);
    }
    uint8_t *ql = b, *qh = b + 128;
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            const int q0 = L[128 * h + l], q1 = L[128 * h + l + 32], q2 = L[128 * h + l + 64], q3 = L[128 * h + l + 96];
            ql[64 * h + l] = (uint8_t)((q0 & 15) | (q2 & 15) << 4);
            ql[64 * h + l + 32] = (uint8_t)((q1 & 15) | (q3 & 15) << 4);
            qh[32 * h + l] = (uint8_t)((q0 >> 4) | (q1 >> 4) << 2 | (q2 >> 4) << 4 | (q3 >> 4) << 6);
        }
}

/* q3_K: 16 sub-blocks of 16 (fit_scale_q3, nmax 4), scales to 6 bits
 * against the one of largest magnitude (mapped to -32). */
static void q3_k(const float *x, uint8_t *b) {
    int8_t L[256];
    float scales[16], max_scale = 0, amax = 0;
    for (int j = 0; j < 16; j++) {
        scales[j] = fit_scale_q3(16, 4, x + 16 * j, L + 16 * j);
        if (fabsf(scales[j]) > amax) amax = fabsf(scales[j]), max_scale = scales[j];
    }
    memset(b, 0, 110);
    uint8_t *s = b + 96;
    int sc[16] = {0};
    if (max_scale != 0.0f) {
        const float iscale = -32.0f / max_scale;
        for (int j = 0; j < 16; j++) {
            const int l = clampi((int8_t)round_even(iscale * scales[j]), -32, 31) + 32;
            s[j % 8] |= (uint8_t)((l & 15) << (j < 8 ? 0 : 4));
            s[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
            sc[j] = l - 32;
        }
        put16(b + 108, fm_f32_to_f16(1 / iscale));
    }
    const float dall = fm_f16_to_f32(fm_f32_to_f16(max_scale != 0.0f ? 1 / (-32.0f / max_scale) : 0.0f));
    for (int j = 0; j < 16; j++) {
        const float d = dall * (float)sc[j];
        if (d == 0.0f) continue;
        for (int i = 0; i < 16; i++) L[16 * j + i] = (int8_t)(clampi(round_even(x[16 * j + i] / d), -4, 3) + 4);
    }
    /* high bit of element e: bit e / 32 of hmask[e % 32] */
    uint8_t *hm = b, *qs = b + 32;
    for (int e = 0; e < 256; e++)
        if (L[e] > 3) {
            hm[e % 32] |= (uint8_t)(1u << (e / 32));
            L[e] = (int8_t)(L[e] - 4);
        }
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++)
            qs[32 * h + l] = (uint8_t)(L[128 * h + l] | L[128 * h + l + 32] << 2 | L[128 * h + l + 64] << 4 |
                                       L[128 * h + l + 96] << 6);
}

/* q2_K: 16 sub-blocks of 16 fitted with weights |x| (absolute error, 15
 * trial steps from -0.5); scales and mins to 4 bits. */
static void q2_k(const float *x, uint8_t *b) {
    uint8_t L[256];
    float scales[16], mins[16], max_scale = 0, max_min = 0;
    for (int h = 0; h < 16 / LANES; h++) {
        fv xt[16], wt[16];
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < LANES; j++) {
                xt[i][j] = x[16 * (LANES * h + j) + i];
                wt[i][j] = fabsf(xt[i][j]);
            }
        fit_scale_min(16, 3, xt, wt, L + 16 * LANES * h, scales + LANES * h, mins + LANES * h, -0.5f, 0.1f, 15, 1);
    }
    for (int j = 0; j < 16; j++) {
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    uint8_t *s = b;
    memset(s, 0, 16);
    uint16_t dh = 0, mh = 0;
    if (max_scale > 0) {
        const float iscale = 15.0f / max_scale;
        for (int j = 0; j < 16; j++) s[j] = (uint8_t)round_even(iscale * scales[j]);
        dh = fm_f32_to_f16(max_scale / 15.0f);
    }
    if (max_min > 0) {
        const float iscale = 15.0f / max_min;
        for (int j = 0; j < 16; j++) s[j] |= (uint8_t)(round_even(iscale * mins[j]) << 4);
        mh = fm_f32_to_f16(max_min / 15.0f);
    }
    put16(b + 80, dh);
    put16(b + 82, mh);
    for (int j = 0; j < 16; j++) {
        const float d = fm_f16_to_f32(dh) * (float)(s[j] & 15);
        if (d == 0.0f) continue;
        const float dm = fm_f16_to_f32(mh) * (float)(s[j] >> 4);
        for (int i = 0; i < 16; i++) L[16 * j + i] = (uint8_t)clampi(round_even((x[16 * j + i] + dm) / d), 0, 3);
    }
    uint8_t *qs = b + 16;
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++)
            qs[32 * h + l] = (uint8_t)(L[128 * h + l] | L[128 * h + l + 32] << 2 | L[128 * h + l + 64] << 4 |
                                       L[128 * h + l + 96] << 6);
}

/* ---- iq4: the non-uniform grid ----------------------------------------- */

/* The grid index nearest v (the lower one on a tie). */
static int grid_index(float v) {
    const int8_t *g = fm_iq4_values;
    if (v <= g[0]) return 0;
    if (v >= g[15]) return 15;
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (v < g[mid]) hi = mid;
        else lo = mid;
    }
    return v - g[hi - 1] < g[hi] - v ? hi - 1 : hi;
}

/* One 32-value group's grid indices and scale (weights x^2): the scale
 * mapping the signed maximum onto the grid's end, then 15 nearby ones
 * (ntry 7), each refined by least squares. Returns the scale, 0 for an
 * all-zero group. */
static float fit_iq4(const float *x, uint8_t *L) {
    const int8_t *g = fm_iq4_values;
    float amax = 0, max = 0, w[32];
    for (int j = 0; j < 32; j++) {
        w[j] = x[j] * x[j];
        if (fabsf(x[j]) > amax) amax = fabsf(x[j]), max = x[j];
    }
    if (amax < ZERO_GROUP) return 0.0f;
    float d = -max / (float)g[0], id = 1 / d, sumqx = 0, sumq2 = 0;
    for (int j = 0; j < 32; j++) {
        const int l = grid_index(id * x[j]);
        L[j] = (uint8_t)l;
        const float q = (float)g[l];
        sumqx += w[j] * q * x[j];
        sumq2 += w[j] * q * q;
    }
    d = sumqx / sumq2;
    float best = d * sumqx;
    for (int t = -7; t <= 7; t++) {
        id = ((float)t + (float)g[0]) / max;
        sumqx = sumq2 = 0;
        for (int j = 0; j < 32; j++) {
            const float q = (float)g[grid_index(id * x[j])];
            sumqx += w[j] * q * x[j];
            sumq2 += w[j] * q * q;
        }
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

static void pack_nibbles(const uint8_t *L, uint8_t *q) {
    for (int j = 0; j < 16; j++) q[j] = (uint8_t)(L[j] | L[16 + j] << 4);
}

static void iq4_nl(const float *x, uint8_t *b) {
    uint8_t L[32];
    const float d = fit_iq4(x, L);
    put16(b, fm_f32_to_f16(d));
    const float id = d != 0.0f ? 1 / d : 0.0f; /* an all-zero group gets grid_index(0) = 8 everywhere */
    for (int j = 0; j < 32; j++) L[j] = (uint8_t)grid_index(id * x[j]);
    pack_nibbles(L, b + 2);
}

/* iq4_xs: 8 groups fitted as iq4_nl's, their scales to 6 bits against the
 * one of largest magnitude (mapped to -32), values requantized with the
 * rounded scale. */
static void iq4_xs(const float *x, uint8_t *b) {
    uint8_t L[256] = {0};
    float scales[8], max_scale = 0, amax = 0;
    for (int j = 0; j < 8; j++) {
        scales[j] = fit_iq4(x + 32 * j, L + 32 * j);
        if (fabsf(scales[j]) > amax) amax = fabsf(scales[j]), max_scale = scales[j];
    }
    memset(b, 0, 136);
    const float d = -max_scale / 32;
    put16(b, fm_f32_to_f16(d));
    const float id = d != 0.0f ? 1 / d : 0.0f;
    uint32_t sh = 0;
    for (int j = 0; j < 8; j++) {
        const int l = clampi(round_even(id * scales[j]), -32, 31);
        const float dl = d * (float)l, idl = dl != 0.0f ? 1 / dl : 0.0f;
        for (int i = 0; i < 32; i++) L[32 * j + i] = (uint8_t)grid_index(idl * x[32 * j + i]);
        const int u = l + 32;
        b[4 + j / 2] |= (uint8_t)((u & 15) << (4 * (j % 2)));
        sh |= (uint32_t)(u >> 4) << (2 * j);
    }
    put16(b + 2, (uint16_t)sh);
    for (int j = 0; j < 8; j++) pack_nibbles(L + 32 * j, b + 8 + 16 * j);
}

/* ---- rows -------------------------------------------------------------- */

int fm_quantize_row(int32_t dtype, const float *x, int64_t n, uint8_t *out) {
    switch (dtype) {
    case FM_DTYPE_F32: memcpy(out, x, (size_t)n * 4); return 1;
    case FM_DTYPE_F16:
        for (int64_t i = 0; i < n; i++) put16(out + 2 * i, fm_f32_to_f16(x[i]));
        return 1;
    case FM_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++) put16(out + 2 * i, fm_f32_to_bf16(x[i]));
        return 1;
    default: break;
    }
    static const struct {
        int32_t dtype;
        int elems, bytes;
    } kinds[] = {
        {FM_DTYPE_Q8_0, 32, 34},   {FM_DTYPE_Q4_0, 32, 18},   {FM_DTYPE_Q4_1, 32, 20},  {FM_DTYPE_Q5_0, 32, 22},
        {FM_DTYPE_Q5_1, 32, 24},   {FM_DTYPE_IQ4_NL, 32, 18}, {FM_DTYPE_Q2_K, 256, 84}, {FM_DTYPE_Q3_K, 256, 110},
        {FM_DTYPE_Q4_K, 256, 144}, {FM_DTYPE_Q5_K, 256, 176}, {FM_DTYPE_Q6_K, 256, 210}, {FM_DTYPE_IQ4_XS, 256, 136},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        if (kinds[k].dtype != dtype) continue;
        if (n % kinds[k].elems != 0) return 0;
        for (int64_t i = 0; i < n / kinds[k].elems; i++, x += kinds[k].elems, out += kinds[k].bytes) {
            switch (dtype) {
            case FM_DTYPE_Q8_0: q8_0(x, out); break;
            case FM_DTYPE_Q4_0: q4_0(x, out); break;
            case FM_DTYPE_Q4_1: q4_1_q5_1(x, out, 0); break;
            case FM_DTYPE_Q5_0: q5_0(x, out); break;
            case FM_DTYPE_Q5_1: q4_1_q5_1(x, out, 1); break;
            case FM_DTYPE_IQ4_NL: iq4_nl(x, out); break;
            case FM_DTYPE_Q2_K: q2_k(x, out); break;
            case FM_DTYPE_Q3_K: q3_k(x, out); break;
            case FM_DTYPE_Q4_K: q45_k(x, out, 0); break;
            case FM_DTYPE_Q5_K: q45_k(x, out, 1); break;
            case FM_DTYPE_Q6_K: q6_k(x, out); break;
            case FM_DTYPE_IQ4_XS: iq4_xs(x, out); break;
            default: return 0;
            }
        }
        return 1;
    }
    return 0;
}
