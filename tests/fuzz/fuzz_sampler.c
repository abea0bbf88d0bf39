/* libFuzzer target: sampler parameters and logits from arbitrary bytes -
 * every float field raw (NaN, infinities, huge and tiny values), a logit
 * bias list with any ids, logits with NaN / inf / denormals, then sampling,
 * applying, accepting, cloning and resetting for a few steps; and a chain
 * built step by step from fm_sampler_add() with raw values. Every outcome
 * must be a status; a token that is returned must be inside the vocabulary. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fm_tokenizer *tok; /* for DRY's sequence breakers (512 tokens) */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *d = getenv("FM_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/models/tok512.bin", d ? d : "../shared");
    if (fm_tokenizer_load(path, NULL, &tok) != FM_STATUS_OK) {
        fprintf(stderr, "fuzz_sampler: %s: %s\n", path, fm_last_error());
        exit(1);
    }
    return 0;
}

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static uint32_t take(reader *r, size_t k) {
    uint32_t v = 0;
    for (size_t i = 0; i < k; i++) {
        v = v << 8 | (r->n ? *r->p : 0);
        if (r->n) r->p++, r->n--;
    }
    return v;
}
static float take_f(reader *r) {
    const uint32_t u = take(r, 4);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void check_token(fm_status st, fm_token t, int32_t n_vocab) {
    if (st == FM_STATUS_OK && (t < 0 || t >= n_vocab)) {
        fprintf(stderr, "fuzz_sampler: token %d outside 0..%d\n", t, n_vocab - 1);
        abort();
    }
}

static void run(fm_sampler *s, const float *logits, int32_t n_vocab, int steps) {
    for (int i = 0; i < steps; i++) {
        fm_token t = -1;
        check_token(fm_sampler_sample(s, logits, n_vocab, &t), t, n_vocab);
        const fm_candidates *cur = NULL;
        fm_sampler_apply(s, logits, n_vocab, &cur);
        if (i == 1) {
            fm_sampler *c = NULL;
            if (fm_sampler_clone(s, &c) == FM_STATUS_OK) {
                check_token(fm_sampler_sample(c, logits, n_vocab, &t), t, n_vocab);
                fm_sampler_free(c);
            }
            fm_sampler_accept(s, (fm_token)(i * 7919 % (n_vocab + 2)), 0);
        }
    }
    fm_sampler_reset(s);
    fm_token t = -1;
    check_token(fm_sampler_sample(s, logits, n_vocab, &t), t, n_vocab);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    reader r = {data, size};
    const uint32_t mode = take(&r, 1);
    const int32_t n_vocab = 1 + (int32_t)(take(&r, 2) % 1024);
    fm_sampler_params p;
    fm_sampler_params_init(&p, sizeof p);
    p.seed = take(&r, 4);
    /* raw floats for about half the fields, picked by the mask; the rest
     * keep their defaults so that valid chains are common */
    const uint32_t mask = take(&r, 4);
    float *const fields[] = {&p.temperature, &p.top_p, &p.min_p, &p.typical_p, &p.top_n_sigma,
                             &p.dynatemp_range, &p.dynatemp_exponent, &p.xtc_probability, &p.xtc_threshold,
                             &p.repeat_penalty, &p.frequency_penalty, &p.presence_penalty, &p.dry_multiplier,
                             &p.dry_base, &p.mirostat_tau, &p.mirostat_eta};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        if (mask >> i & 1) *fields[i] = take_f(&r);
    if (mask >> 16 & 1) p.top_k = (int32_t)take(&r, 4);
    if (mask >> 17 & 1) p.penalty_last_n = (int32_t)(take(&r, 2) % 300) - 10;
    if (mask >> 18 & 1) p.dry_allowed_length = (int32_t)take(&r, 1) - 2;
    if (mask >> 19 & 1) p.dry_last_n = (int32_t)(take(&r, 2) % 300) - 10;
    if (mask >> 20 & 1) p.mirostat = (int32_t)(take(&r, 1) % 4);
    if (mask >> 21 & 1) p.tokenizer = tok;
    fm_logit_bias bias[8];
    if (mask >> 22 & 1) {
        p.n_logit_bias = take(&r, 1) % 9;
        for (size_t i = 0; i < p.n_logit_bias; i++) {
            bias[i].id = (fm_token)take(&r, 4);
            if (mode & 1) bias[i].id = (fm_token)((uint32_t)bias[i].id % (uint32_t)(n_vocab + 3)) - 1;
            bias[i].bias = take_f(&r);
        }
        p.logit_bias = bias;
    }
    float *logits = malloc((size_t)n_vocab * sizeof *logits);
    if (logits == NULL) return 0;
    for (int32_t i = 0; i < n_vocab; i++) {
        if (r.n >= 4 && (mode & 2)) logits[i] = take_f(&r);
        else logits[i] = (float)((i * 2654435761u) % 1000) / 100.0f - 5.0f;
    }
    fm_sampler *s = NULL;
    if (fm_sampler_new(&p, &s) == FM_STATUS_OK) {
        run(s, logits, n_vocab, 4);
        fm_sampler_free(s);
    }
    /* a chain of explicit steps with raw values */
    if (fm_sampler_new_chain(p.seed, &s) == FM_STATUS_OK) {
        const int n_steps = (int)(mode >> 4);
        for (int i = 0; i < n_steps; i++) {
            const fm_sampler_step step = (fm_sampler_step)(take(&r, 1) % 10);
            fm_sampler_add(s, step, (double)take_f(&r));
        }
        if (mode & 4) fm_sampler_add_penalties(s, (int32_t)take(&r, 1), take_f(&r), take_f(&r), take_f(&r));
        if (mode & 8) fm_sampler_add_temp_ext(s, take_f(&r), take_f(&r), take_f(&r));
        run(s, logits, n_vocab, 3);
        fm_sampler_free(s);
    }
    free(logits);
    return 0;
}
