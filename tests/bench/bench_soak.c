/* Soak (docs/reliability.md): resident memory must stay flat once warm.
 *   1. 1,000 load/free cycles of each model given (default: stories260K
 *      GGUF and llama2.c, gpt2, qwen2), each with a context and one decode;
 *   2. 4 contexts (4 threads, one shared model) x 10,000 decode steps
 *      each: sampled tokens, the cache cleared when full, state saved and
 *      restored every 100 steps.
 * Prints VmRSS after warm-up (loads: after the first 10% of the cycles;
 * decoders: the highest value sampled in the first quarter of the steps)
 * and at the end (decoders: the highest in the second half); exits 1 if it
 * grew by more than 2 MB in a phase.
 * usage: bench_soak DATA_DIR [CYCLES [STEPS [SAVE_EVERY]]] (0: no state saves) */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "fm.h"

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kb;
}

static const char *data_dir;
static long steps = 10000, save_every = 100;
static fm_model *shared_model;
static atomic_long steps_done, decoders_left;

static int cycle(const char *rel) {
    char path[1024], tok[1024];
    snprintf(path, sizeof path, "%s/%s", data_dir, rel);
    snprintf(tok, sizeof tok, "%s/models/tok512.bin", data_dir);
    fm_model_params mp;
    fm_model_params_init(&mp, sizeof mp);
    if (strstr(rel, ".bin")) mp.tokenizer_path = tok;
    fm_model *m;
    if (fm_model_load(path, &mp, &m) != FM_STATUS_OK) return fprintf(stderr, "%s: %s\n", rel, fm_last_error()), 0;
    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_ctx = 16, cp.n_threads = 1;
    fm_context *c;
    const fm_token ids[2] = {1, 100};
    int ok = fm_context_new(m, &cp, &c) == FM_STATUS_OK && fm_context_decode(c, ids, 2, FM_LOGITS_LAST) == FM_STATUS_OK;
    fm_context_free(c);
    fm_model_free(m);
    return ok;
}

static void *decoder(void *arg) {
    const int id = (int)(size_t)arg;
    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_ctx = 128, cp.n_threads = 1;
    fm_sampler_params sp;
    fm_sampler_params_init(&sp, sizeof sp);
    sp.seed = (uint64_t)id;
    fm_context *c;
    fm_sampler *s;
    if (fm_context_new(shared_model, &cp, &c) || fm_sampler_new(&sp, &s)) return (void *)1;
    const int32_t nv = (int32_t)fm_model_get_info(shared_model, FM_MODEL_N_VOCAB);
    fm_token t = 1;
    void *state = NULL;
    size_t cap = 0;
    for (long i = 0; i < steps; i++) {
        if (fm_context_n_past(c) + 1 > fm_context_n_ctx(c)) fm_context_clear(c), t = 1;
        if (fm_context_decode(c, &t, 1, FM_LOGITS_LAST) || fm_sampler_sample(s, fm_context_logits(c, -1), nv, &t))
            return (void *)1;
        atomic_fetch_add(&steps_done, 1);
        if (save_every > 0 && i % save_every == save_every - 1) {
            size_t need = 0, n = 0;
            fm_context_state_save(c, FM_STATE_ALL, NULL, 0, &need);
            if (need > cap) state = realloc(state, cap = need);
            if (fm_context_state_save(c, FM_STATE_ALL, state, cap, &n) || fm_context_state_load(c, FM_STATE_ALL, state, n))
                return (void *)1;
        }
    }
    /* stay alive until every decoder is done, so the memory measured at
     * the end is that of 4 live contexts, not of freed-memory caches */
    atomic_fetch_sub(&decoders_left, 1);
    while (atomic_load(&decoders_left) > 0) sched_yield();
    free(state);
    fm_sampler_free(s);
    fm_context_free(c);
    return NULL;
}

int main(int argc, char **argv) {
    data_dir = argc > 1 ? argv[1] : "../shared";
    const long cycles = argc > 2 ? atol(argv[2]) : 1000;
    if (argc > 3) steps = atol(argv[3]);
    if (argc > 4) save_every = atol(argv[4]);
    static const char *const models[] = {"models/stories260K.gguf", "models/stories260K.bin",
                                         "models/gpt2-gpt2v4k.f32.gguf", "models/qwen2-gpt2v4k.f32.gguf"};
    int bad = 0;
    double t0 = bench_now();
    long warm = 0;
    for (long i = 0; i < cycles; i++) {
        for (size_t k = 0; k < 4; k++)
            if (!cycle(models[k])) return 1;
        if (i == cycles / 10) warm = rss_kb();
    }
    long end = rss_kb();
    printf("load/free: %ld cycles x 4 models in %.1f s; VmRSS after warm-up %ld kB, at the end %ld kB (%+ld)\n",
           cycles, bench_now() - t0, warm, end, end - warm);
    bad |= end - warm > 2048;

    char path[1024];
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", data_dir);
    if (fm_model_load(path, NULL, &shared_model)) return fprintf(stderr, "%s\n", fm_last_error()), 1;
    t0 = bench_now();
    /* RSS sampled every 5 ms while the 4 contexts decode: the highest
     * value in the first quarter of the steps (warm-up: caches fill, the
     * first state saves) against the highest in the second half */
    pthread_t th[4];
    atomic_store(&decoders_left, 4);
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, decoder, (void *)(size_t)i);
    warm = 0, end = 0;
    while (atomic_load(&decoders_left) > 0) {
        const long r = rss_kb(), done = atomic_load(&steps_done);
        if (done < steps && r > warm) warm = r;      /* the first quarter */
        if (done >= 2 * steps && r > end) end = r;  /* the second half */
        nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        if (r != NULL) return fprintf(stderr, "decoder %d failed: %s\n", i, fm_last_error()), 1;
    }
    const long full = steps;
    printf("decode: 4 contexts x %ld steps in %.1f s; highest VmRSS in the first quarter %ld kB, in the second half %ld kB (%+ld)\n", full,
           bench_now() - t0, warm, end, end - warm);
    bad |= end - warm > 2048;
    fm_model_free(shared_model);
    return bad;
}
