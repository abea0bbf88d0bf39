/* The cpu backend's element and row ops against double-precision
 * formulas, on random inputs of awkward sizes: LayerNorm (with and without
 * bias), tanh-GELU, bias add, RoPE with linear position scaling in both
 * pairings, and attention with a sliding window (against a direct double
 * computation over the visible positions only). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "backend/backend.h"

static unsigned rng = 12345;
static float rnd(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

static fm_backend_inst be;

static void layernorm(void) {
    enum { N = 67, R = 5 };
    float x[R * N], w[N], b[N], y[R * N];
    for (int i = 0; i < R * N; i++) x[i] = 3 * rnd() + 1;
    for (int i = 0; i < N; i++) w[i] = 1 + rnd() / 10, b[i] = rnd() / 10;
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        CHECK(be.iface.layernorm(be.ctx, x, w, with_bias ? b : NULL, N, R, 1e-5f, y) == FM_STATUS_OK, "layernorm");
        double worst = 0;
        for (int r = 0; r < R; r++) {
            double mean = 0, var = 0;
            for (int i = 0; i < N; i++) mean += x[r * N + i];
            mean /= N;
            for (int i = 0; i < N; i++) var += (x[r * N + i] - mean) * (x[r * N + i] - mean);
            var /= N;
            for (int i = 0; i < N; i++) {
                double want = (x[r * N + i] - mean) / sqrt(var + 1e-5) * w[i] + (with_bias ? b[i] : 0);
                worst = fmax(worst, fabs(want - y[r * N + i]));
            }
        }
        CHECK(worst < 1e-6, "layernorm (bias %d): %.3g", with_bias, worst);
    }
}

static void gelu_and_bias(void) {
    enum { N = 1001 };
    float x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = 12 * rnd();
    x[0] = 0, x[1] = -30, x[2] = 30;
    CHECK(be.iface.gelu(be.ctx, x, N, y) == FM_STATUS_OK, "gelu");
    double worst = 0;
    for (int i = 0; i < N; i++) {
        const double v = x[i], want = 0.5 * v * (1 + tanh(0.7978845608028654 /* sqrt(2/pi) */ * (v + 0.044715 * v * v * v)));
        worst = fmax(worst, fabs(want - y[i]) / fmax(1, fabs(want)));
    }
    CHECK(worst < 1e-6, "gelu: %.3g", worst);
    float rows[3 * 7], bias[7];
    for (int i = 0; i < 21; i++) rows[i] = (float)i;
    for (int i = 0; i < 7; i++) bias[i] = (float)(i * 100);
    CHECK(be.iface.add_rows(be.ctx, rows, bias, 7, 3) == FM_STATUS_OK, "add_rows");
    int ok = 1;
    for (int i = 0; i < 21; i++) ok &= rows[i] == (float)(i + (i % 7) * 100);
    CHECK(ok, "add_rows adds the row to every row");
}

static void rope_scaled(void) {
    enum { T = 3, H = 2, D = 10, NR = 8 };
    const int32_t pos[T] = {0, 7, 1234};
    for (int mode = 0; mode <= 2; mode += 2) {
        float x[T * H * D], y[T * H * D];
        for (int i = 0; i < T * H * D; i++) x[i] = y[i] = rnd();
        CHECK(be.iface.rope_ext(be.ctx, y, T, H, D, NR, pos, 10000.0f, 0.25f, mode) == FM_STATUS_OK, "rope_ext");
        double worst = 0;
        for (int t = 0; t < T; t++)
            for (int h = 0; h < H; h++) {
                const float *v = x + (t * H + h) * D;
                const float *o = y + (t * H + h) * D;
                for (int i = 0; i < NR / 2; i++) {
                    const double th = pos[t] * 0.25 * pow(10000.0, -2.0 * i / NR);
                    const int a = mode == 2 ? i : 2 * i, b = mode == 2 ? i + NR / 2 : 2 * i + 1;
                    worst = fmax(worst, fabs(v[a] * cos(th) - v[b] * sin(th) - o[a]));
                    worst = fmax(worst, fabs(v[a] * sin(th) + v[b] * cos(th) - o[b]));
                }
                for (int i = NR; i < D; i++) worst = fmax(worst, fabs(v[i] - o[i])); /* past n_rot: untouched */
            }
        CHECK(worst < 1e-5, "rope_ext mode %d: %.3g", mode, worst);
    }
}

static void sliding_window(void) {
    enum { NKV = 23, T = 4, H = 4, HKV = 2, D = 12, W = 5 };
    float q[T * H * D], k[NKV * HKV * D], v[NKV * HKV * D], out[T * H * D];
    for (int i = 0; i < T * H * D; i++) q[i] = rnd();
    for (int i = 0; i < NKV * HKV * D; i++) k[i] = rnd(), v[i] = rnd();
    const int32_t pos[T] = {19, 20, 21, 22};
    for (int window = 0; window <= W; window += W) {
        fm_attention_args a = {sizeof a, T, H, HKV, D, NKV, 1, 0.3f, q, k, v, HKV * D, pos, out, window, FM_DTYPE_F32, NULL, NULL};
        CHECK(be.iface.attention(be.ctx, &a) == FM_STATUS_OK, "attention");
        double worst = 0;
        for (int t = 0; t < T; t++)
            for (int h = 0; h < H; h++) {
                const int kvh = h / (H / HKV), first = window ? pos[t] - window + 1 : 0;
                double s[NKV], mx = -1e30, sum = 0;
                for (int p = first; p <= pos[t]; p++) {
                    s[p] = 0;
                    for (int d = 0; d < D; d++) s[p] += (double)q[(t * H + h) * D + d] * k[(p * HKV + kvh) * D + d];
                    s[p] *= 0.3;
                    mx = fmax(mx, s[p]);
                }
                for (int p = first; p <= pos[t]; p++) sum += s[p] = exp(s[p] - mx);
                for (int d = 0; d < D; d++) {
                    double o = 0;
                    for (int p = first; p <= pos[t]; p++) o += s[p] / sum * v[(p * HKV + kvh) * D + d];
                    worst = fmax(worst, fabs(o - out[(t * H + h) * D + d]));
                }
            }
        CHECK(worst < 1e-5, "attention window %d: %.3g", window, worst);
    }
}

int main(void) {
    fm_backend_init_params p = {sizeof p, 2, 64, 16};
    CHECK(fm_backend_inst_init(&be, "cpu", &p) == FM_STATUS_OK, "cpu backend");
    layernorm();
    gelu_and_bias();
    rope_scaled();
    sliding_window();
    fm_backend_inst_release(&be);
    return tu_finish("cpu ops");
}
