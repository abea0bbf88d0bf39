/* Acceptance 5 (first half) of the core runtime: the sampler chain. Same
 * seed and params give the same token stream; each step does what it says. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "fm.h"

/* Generates n tokens from stories260K with `sp`; returns them in out. */
static void generate(fm_model *m, const fm_sampler_params *sp, int n, fm_token *out) {
    const fm_tokenizer *tok = fm_model_tokenizer(m);
    fm_token prompt[8];
    size_t n_prompt;
    fm_tokenizer_encode(tok, "Once upon a time", 16, FM_ENCODE_ADD_BOS, prompt, 8, &n_prompt);
    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_ctx = 128;
    cp.n_threads = 2;
    fm_context *ctx;
    fm_sampler *s;
    CHECK(fm_context_new(m, &cp, &ctx) == FM_STATUS_OK, "context");
    CHECK(fm_sampler_new(sp, &s) == FM_STATUS_OK, "sampler: %s", fm_last_error());
    CHECK(fm_context_decode(ctx, prompt, n_prompt, FM_LOGITS_LAST) == FM_STATUS_OK, "decode");
    for (int i = 0; i < n; i++) {
        CHECK(fm_sampler_sample(s, fm_context_logits(ctx, -1), 512, &out[i]) == FM_STATUS_OK, "sample");
        CHECK(fm_context_decode(ctx, &out[i], 1, FM_LOGITS_LAST) == FM_STATUS_OK, "decode");
    }
    fm_sampler_free(s);
    fm_context_free(ctx);
}

static void test_reproducible(void) {
    fm_model *m;
    CHECK(fm_model_load(tu_data("models/stories260K.gguf"), NULL, &m) == FM_STATUS_OK, "load");
    fm_sampler_params sp;
    fm_sampler_params_init(&sp, sizeof sp);
    sp.temperature = 1.0f;
    sp.seed = 42;
    fm_token a[64], b[64], c[64];
    generate(m, &sp, 64, a);
    generate(m, &sp, 64, b);
    CHECK(memcmp(a, b, sizeof a) == 0, "same seed gave different tokens");
    sp.seed = 43;
    generate(m, &sp, 64, c);
    CHECK(memcmp(a, c, sizeof a) != 0, "seeds 42 and 43 gave the same 64 tokens");
    fm_model_free(m);
}

/* Draws many samples from fixed logits and returns the counts per id. */
static void histogram(fm_sampler *s, const float *logits, int n_vocab, int draws, int *counts) {
    memset(counts, 0, (size_t)n_vocab * sizeof *counts);
    for (int i = 0; i < draws; i++) {
        fm_token t = -1;
        CHECK(fm_sampler_sample(s, logits, n_vocab, &t) == FM_STATUS_OK, "sample");
        if (t >= 0 && t < n_vocab) counts[t]++;
    }
}

static void test_steps(void) {
    /* probabilities proportional to 8, 4, 2, 1, 1 (logits are their logs) */
    const float logits[5] = {logf(8), logf(4), logf(2), 0, 0};
    int counts[5];
    fm_sampler *s;
    fm_token t;

    CHECK(fm_sampler_new_chain(1, &s) == FM_STATUS_OK && fm_sampler_add(s, FM_STEP_GREEDY, 0) == FM_STATUS_OK, "greedy");
    CHECK(fm_sampler_sample(s, logits, 5, &t) == FM_STATUS_OK && t == 0, "greedy picks id 0");
    const float tie[3] = {1, 5, 5};
    CHECK(fm_sampler_sample(s, tie, 3, &t) == FM_STATUS_OK && t == 1, "greedy ties go to the lower id");
    fm_sampler_free(s);

    fm_sampler_new_chain(7, &s);
    histogram(s, logits, 5, 16000, counts);
    CHECK(abs(counts[0] - 8000) < 400 && abs(counts[1] - 4000) < 300 && abs(counts[3] - 1000) < 150,
          "plain draw follows softmax: %d %d %d %d %d", counts[0], counts[1], counts[2], counts[3], counts[4]);
    fm_sampler_free(s);

    fm_sampler_new_chain(7, &s);
    fm_sampler_add(s, FM_STEP_TOP_K, 2);
    histogram(s, logits, 5, 3000, counts);
    CHECK(counts[2] == 0 && counts[3] == 0 && counts[4] == 0 && counts[1] > 700, "top-k 2: %d %d %d", counts[0],
          counts[1], counts[2]);
    fm_sampler_free(s);

    fm_sampler_new_chain(7, &s);
    fm_sampler_add(s, FM_STEP_TOP_P, 0.7); /* 8/16 = 0.5 < 0.7 <= 12/16 */
    histogram(s, logits, 5, 3000, counts);
    CHECK(counts[2] == 0 && counts[3] == 0 && counts[0] > 0 && counts[1] > 0, "top-p 0.7: %d %d %d", counts[0],
          counts[1], counts[2]);
    fm_sampler_free(s);

    fm_sampler_new_chain(7, &s);
    fm_sampler_add(s, FM_STEP_MIN_P, 0.2); /* keeps p >= 0.2 * 8/16: ids 0, 1, 2 */
    histogram(s, logits, 5, 3000, counts);
    CHECK(counts[3] == 0 && counts[4] == 0 && counts[2] > 0, "min-p 0.2: %d %d %d %d", counts[0], counts[1],
          counts[2], counts[3]);
    fm_sampler_free(s);

    fm_sampler_new_chain(7, &s);
    fm_sampler_add(s, FM_STEP_TEMPERATURE, 0.01); /* near-greedy */
    histogram(s, logits, 5, 500, counts);
    CHECK(counts[0] == 500, "temperature 0.01 is near greedy: %d", counts[0]);
    fm_sampler_free(s);

    fm_sampler_new_chain(7, &s);
    fm_sampler_add(s, FM_STEP_TEMPERATURE, 100); /* near-uniform */
    histogram(s, logits, 5, 5000, counts);
    CHECK(counts[4] > 800 && counts[0] < 1200, "temperature 100 is near uniform: %d %d", counts[0], counts[4]);
    fm_sampler_free(s);

    /* temperature 0 in params means greedy */
    fm_sampler_params sp;
    fm_sampler_params_init(&sp, sizeof sp);
    sp.temperature = 0;
    CHECK(fm_sampler_new(&sp, &s) == FM_STATUS_OK, "greedy params");
    for (int i = 0; i < 20; i++) CHECK(fm_sampler_sample(s, logits, 5, &t) == FM_STATUS_OK && t == 0, "greedy");
    fm_sampler_free(s);

    /* set_seed restarts the stream */
    fm_token x[32], y[32];
    fm_sampler_new_chain(99, &s);
    for (int i = 0; i < 32; i++) fm_sampler_sample(s, logits, 5, &x[i]);
    fm_sampler_set_seed(s, 99);
    for (int i = 0; i < 32; i++) fm_sampler_sample(s, logits, 5, &y[i]);
    CHECK(memcmp(x, y, sizeof x) == 0, "set_seed restarts the stream");

    /* bad values */
    CHECK(fm_sampler_add(s, FM_STEP_TOP_P, 1.5) == FM_STATUS_INVALID_ARGUMENT, "top-p 1.5");
    CHECK(fm_sampler_add(s, FM_STEP_TOP_K, 0) == FM_STATUS_INVALID_ARGUMENT, "top-k 0");
    CHECK(fm_sampler_add(s, FM_STEP_TEMPERATURE, -1) == FM_STATUS_INVALID_ARGUMENT, "temperature -1");
    CHECK(fm_sampler_add(s, FM_STEP_MIN_P, NAN) == FM_STATUS_INVALID_ARGUMENT, "min-p NaN");
    CHECK(fm_sampler_add(s, (fm_sampler_step)42, 1) == FM_STATUS_INVALID_ARGUMENT, "unknown step");
    const float nan_logits[2] = {NAN, NAN};
    CHECK(fm_sampler_sample(s, nan_logits, 2, &t) == FM_STATUS_INVALID_ARGUMENT, "all-NaN logits");
    fm_sampler_free(s);
    fm_sampler_params_init(&sp, sizeof sp);
    sp.top_p = NAN;
    s = (fm_sampler *)1;
    CHECK(fm_sampler_new(&sp, &s) == FM_STATUS_INVALID_ARGUMENT, "NaN top_p");
}

int main(void) {
    test_reproducible();
    test_steps();
    return tu_finish("test_sampler");
}
