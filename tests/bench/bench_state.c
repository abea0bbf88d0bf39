/* Saved-state speed and size: a context of N positions (default 2048)
 * filled by decoding, then saved and loaded (into a second, empty
 * context) REPS times; MB/s counts the
 * uncompressed state (cell rows), one thread, median of the repetitions.
 * The ratio is uncompressed / saved bytes. Four settings side by side:
 * libfm's format (byte planes, zstd level 1), and the plain rows through
 * zstd levels 1 and 3 (FM_STATE_PLANES=0, FM_STATE_ZSTD_LEVEL), planes
 * with level 3.
 * usage: bench_state MODEL [N] [f32|f16] [REPS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fm.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_state MODEL [N] [f32|f16] [REPS]\n");
        return 2;
    }
    const int n = argc > 2 ? atoi(argv[2]) : 2048, f16 = argc > 3 && strcmp(argv[3], "f16") == 0;
    const int reps = argc > 4 ? atoi(argv[4]) : 5;
    fm_model *m;
    if (fm_model_load(argv[1], NULL, &m) != FM_STATUS_OK) {
        fprintf(stderr, "bench_state: %s\n", fm_last_error());
        return 1;
    }
    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_ctx = (uint32_t)n;
    cp.kv_type = f16 ? FM_KV_F16 : FM_KV_F32;
    fm_context *c;
    if (fm_context_new(m, &cp, &c) != FM_STATUS_OK) {
        fprintf(stderr, "bench_state: %s\n", fm_last_error());
        return 1;
    }
    const int V = (int)fm_model_get_info(m, FM_MODEL_N_VOCAB);
    fm_token *ids = malloc((size_t)n * sizeof *ids);
    unsigned r = 7;
    for (int i = 0; i < n; i++) ids[i] = (fm_token)((r = r * 1103515245u + 12345u) >> 8) % V;
    if (fm_context_decode(c, ids, (size_t)n, FM_LOGITS_LAST) != FM_STATUS_OK) {
        fprintf(stderr, "bench_state: decode: %s\n", fm_last_error());
        return 1;
    }
    fm_context_set_n_threads(c, 1);
    /* loads go into a second, empty context: a prompt cache's case */
    fm_context *d;
    cp.n_threads = 1;
    if (fm_context_new(m, &cp, &d) != FM_STATUS_OK) return 1;
    const double raw = (double)fm_model_get_info(m, FM_MODEL_N_LAYER) * 2.0 * n *
                       (double)(fm_model_get_info(m, FM_MODEL_N_HEAD_KV) * fm_model_get_info(m, FM_MODEL_N_EMBD) /
                                fm_model_get_info(m, FM_MODEL_N_HEAD)) *
                       (f16 ? 2 : 4);
    size_t cap = 0, len = 0;
    fm_context_state_save(c, 0, NULL, 0, &cap);
    unsigned char *buf = malloc(cap);
    static const char *const settings[4][2] = {{"1", "1"}, {"0", "1"}, {"0", "3"}, {"1", "3"}};
    for (int k = 0; k < 4; k++) {
        setenv("FM_STATE_PLANES", settings[k][0], 1);
        setenv("FM_STATE_ZSTD_LEVEL", settings[k][1], 1);
        double ts[64], tl[64];
        for (int i = 0; i < reps && i < 64; i++) {
            double t0 = now_s();
            if (fm_context_state_save(c, 0, buf, cap, &len) != FM_STATUS_OK) return 1;
            ts[i] = now_s() - t0;
            fm_context_clear(d);
            t0 = now_s();
            if (fm_context_state_load(d, 0, buf, len) != FM_STATUS_OK) {
                fprintf(stderr, "bench_state: load: %s\n", fm_last_error());
                return 1;
            }
            tl[i] = now_s() - t0;
        }
        qsort(ts, (size_t)reps, sizeof *ts, cmp);
        qsort(tl, (size_t)reps, sizeof *tl, cmp);
        printf("%s cache, %d positions: %.1f MB state, %.1f MB saved, ratio %.3f (byte planes %s, zstd level %s); "
               "save %.0f MB/s, load %.0f MB/s (median of %d)\n",
               f16 ? "f16" : "f32", n, raw / 1e6, len / 1e6, raw / (double)len, settings[k][0][0] == '1' ? "on" : "off",
               settings[k][1], raw / ts[reps / 2] / 1e6, raw / tl[reps / 2] / 1e6, reps);
    }
    free(buf), free(ids);
    fm_context_free(d);
    fm_context_free(c);
    fm_model_free(m);
    return 0;
}
