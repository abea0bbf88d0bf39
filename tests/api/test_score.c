/* fm_context_score: each continuation token's log-probability equals the
 * log-softmax, computed here in long double, of the reference logits
 * (llama.cpp's for f32 models, which are within 1.3e-5 of float64; the
 * float64 forward pass's where the reference has one) within 1e-4; the
 * sum, ranks and top-k agree with the context's own logits; the prompt
 * stays in the cache and the continuation does not; scoring a prompt
 * already in the cache gives the same numbers; bad input is refused with
 * the sequence untouched. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "fm.h"

#define TOL 1e-4
#define TOPK 5

static const char *const models[][2] = {
    {"stories260K", "logits.f32"},          {"llama-gqa.f32", "logits.f32"},
    {"llama-k256.f32", "logits.f32"},       {"qwen2-gpt2v4k.f32", "logits.f32"},
    {"phi3-spm4k.f32", "logits.f32"},       {"gpt2-gpt2v4k.f32", "logits_f64ref.f32"},
    {"llama-k256.f16", "logits_f64ref.f32"},
};

static long double ref_logprob(const float *row, int n_vocab, int t) {
    float mx = row[0];
    for (int i = 1; i < n_vocab; i++)
        if (row[i] > mx) mx = row[i];
    long double s = 0;
    for (int i = 0; i < n_vocab; i++) s += expl((long double)row[i] - mx);
    return (long double)row[t] - mx - logl(s);
}

static fm_context *new_ctx(fm_model *m, uint32_t n_ctx) {
    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_ctx = n_ctx;
    cp.n_threads = 1;
    fm_context *c = NULL;
    fm_status s = fm_context_new(m, &cp, &c);
    CHECK(s == FM_STATUS_OK, "context: %s", fm_last_error());
    return c;
}

static size_t seq_len(fm_context *c) {
    fm_token buf[512];
    size_t n = 0;
    fm_context_seq_tokens(c, 0, buf, 512, &n);
    return n;
}

static double max_dlp = 0;

static void check_model(const char *stem, const char *ref_name) {
    char rel[512];
    snprintf(rel, sizeof rel, "models/%s.gguf", stem);
    fm_model *m;
    fm_status s = fm_model_load(tu_data(rel), NULL, &m);
    CHECK(s == FM_STATUS_OK, "load %s: %s", stem, fm_last_error());
    if (s) return;
    const int n_vocab = (int)fm_model_get_info(m, FM_MODEL_N_VOCAB);
    snprintf(rel, sizeof rel, "reference/%s/%s", stem, ref_name);
    float *ref = (float *)tu_read_file(tu_data(rel), NULL);
    snprintf(rel, sizeof rel, "reference/%s/tokens.txt", stem);
    char *lines = tu_read_file(tu_data(rel), NULL);
    CHECK(ref && lines, "%s: reference files", stem);
    if (!ref || !lines) return;
    fm_context *c = new_ctx(m, 128);
    size_t row = 0;
    double model_max = 0;
    for (char *line = lines, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        size_t n;
        int32_t *ids = tu_parse_ids(line, &n);
        if (n < 2) {
            row += n;
            free(ids);
            continue;
        }
        const size_t k = n / 2, nc = n - k;
        double lp[256], lp2[256], top_lp[256 * TOPK], sum = 0, sum2 = 0;
        int32_t rank[256];
        fm_token top[256 * TOPK];
        fm_score_params sp;
        fm_score_params_init(&sp, sizeof sp);
        sp.logprobs = lp;
        sp.ranks = rank;
        sp.top_k = TOPK;
        sp.top_tokens = top;
        sp.top_logprobs = top_lp;
        fm_context_clear(c);
        s = fm_context_score(c, ids, k, ids + k, nc, &sp, &sum);
        CHECK(s == FM_STATUS_OK, "%s: score: %s", stem, fm_last_error());
        CHECK(seq_len(c) == k, "%s: after scoring the cache holds %zu tokens, want the prompt's %zu", stem,
              seq_len(c), k);
        double total = 0;
        for (size_t i = 0; i < nc; i++) {
            const long double want = ref_logprob(ref + (row + k - 1 + i) * (size_t)n_vocab, n_vocab, ids[k + i]);
            const double d = fabs((double)(lp[i] - want));
            if (d > model_max) model_max = d;
            CHECK(d <= TOL, "%s: token %zu: logprob %.8f, reference %.8Lf", stem, k + i, lp[i], want);
            total += lp[i];
        }
        CHECK(fabs(total - sum) <= 1e-9 * (1 + fabs(sum)), "%s: sum %.10f, the log-probs add to %.10f", stem, sum,
              total);
        /* ranks and top-k against this context's own logits of the same tokens */
        fm_context *c2 = new_ctx(m, 128);
        s = fm_context_decode(c2, (const fm_token *)ids, n, FM_LOGITS_ALL);
        CHECK(s == FM_STATUS_OK, "%s: decode: %s", stem, fm_last_error());
        for (size_t i = 0; s == FM_STATUS_OK && i < nc; i++) {
            const float *l = fm_context_logits(c2, (int32_t)(k - 1 + i));
            int32_t r = 0;
            for (int v = 0; v < n_vocab; v++) r += l[v] > l[ids[k + i]];
            CHECK(rank[i] == r, "%s: token %zu: rank %d, want %d", stem, k + i, rank[i], r);
            for (int j = 0; j < TOPK; j++) {
                const fm_token t = top[i * TOPK + j];
                int32_t rt = 0;
                for (int v = 0; v < n_vocab; v++) rt += l[v] > l[t];
                CHECK(rt <= j, "%s: token %zu: top %d is %d of rank %d", stem, k + i, j, t, rt);
                if (j) CHECK(top_lp[i * TOPK + j] <= top_lp[i * TOPK + j - 1], "%s: top-k not sorted", stem);
                if (t == ids[k + i]) CHECK(fabs(top_lp[i * TOPK + j] - lp[i]) < 1e-12, "%s: top-k logprob", stem);
            }
            CHECK(top_lp[i * TOPK] >= lp[i], "%s: the best alternative is less likely than the token", stem);
        }
        fm_context_free(c2);
        /* the prompt is in the cache now: score the same continuation from it */
        fm_score_params sp2;
        fm_score_params_init(&sp2, sizeof sp2);
        sp2.logprobs = lp2;
        s = fm_context_score(c, NULL, 0, ids + k, nc, &sp2, &sum2);
        CHECK(s == FM_STATUS_OK, "%s: score from the cache: %s", stem, fm_last_error());
        for (size_t i = 0; s == FM_STATUS_OK && i < nc; i++)
            CHECK(fabs(lp2[i] - lp[i]) <= 1e-5, "%s: token %zu from the cache %.8f vs %.8f", stem, k + i, lp2[i],
                  lp[i]);
        CHECK(seq_len(c) == k, "%s: the cached prompt is kept (%zu tokens)", stem, seq_len(c));
        row += n;
        free(ids);
    }
    printf("%-20s vs %-18s max |dlogprob| %.3g (tolerance %g)\n", stem, ref_name, model_max, TOL);
    if (model_max > max_dlp) max_dlp = model_max;
    fm_context_free(c);
    free(ref);
    free(lines);
    fm_model_free(m);
}

static void check_errors(void) {
    fm_model *m;
    fm_status s = fm_model_load(tu_data("models/stories260K.gguf"), NULL, &m);
    CHECK(s == FM_STATUS_OK, "load: %s", fm_last_error());
    if (s) return;
    fm_context *c = new_ctx(m, 16);
    const fm_token bos = 1, cont[14] = {403, 407, 261, 378, 429, 11, 13, 17, 19, 23, 29, 31, 37, 41};
    double sum = 1;
    CHECK(fm_context_score(c, NULL, 0, cont, 2, NULL, &sum) == FM_STATUS_INVALID_ARGUMENT &&
              strstr(fm_last_error(), "empty") != NULL,
          "empty sequence, no prompt: %s", fm_last_error());
    CHECK(fm_context_score(c, &bos, 1, cont, 0, NULL, &sum) == FM_STATUS_INVALID_ARGUMENT, "no continuation");
    CHECK(fm_context_score(NULL, &bos, 1, cont, 2, NULL, &sum) == FM_STATUS_INVALID_ARGUMENT, "NULL context");
    CHECK(fm_context_score(c, &bos, 1, NULL, 2, NULL, &sum) == FM_STATUS_INVALID_ARGUMENT, "NULL continuation");
    fm_score_params sp;
    fm_score_params_init(&sp, sizeof sp);
    sp.top_k = FM_SCORE_TOP_K_MAX + 1;
    CHECK(fm_context_score(c, &bos, 1, cont, 2, &sp, &sum) == FM_STATUS_INVALID_ARGUMENT, "top_k too large");
    fm_score_params_init(&sp, sizeof sp);
    sp.seq = 1;
    CHECK(fm_context_score(c, &bos, 1, cont, 2, &sp, &sum) == FM_STATUS_INVALID_ARGUMENT &&
              strstr(fm_last_error(), "sequence 1") != NULL,
          "sequence outside n_seq_max: %s", fm_last_error());
    CHECK(seq_len(c) == 0, "the refused calls left the cache empty");
    /* a prompt in the cache, then bad continuations: the prompt is untouched */
    const fm_token prompt[4] = {1, 403, 407, 261};
    CHECK(fm_context_decode(c, prompt, 4, FM_LOGITS_LAST) == FM_STATUS_OK, "decode");
    const fm_token bad[2] = {378, 100000};
    s = fm_context_score(c, NULL, 0, bad, 2, NULL, &sum);
    CHECK(s == FM_STATUS_INVALID_ARGUMENT && strstr(fm_last_error(), "100000") != NULL, "bad id: %s",
          fm_last_error());
    CHECK(seq_len(c) == 4, "bad id: the prompt is kept (%zu)", seq_len(c));
    s = fm_context_score(c, prompt, 4, cont, 12, NULL, &sum); /* 4 + 4 + 12 > 16 */
    CHECK(s == FM_STATUS_CONTEXT_FULL, "full: %s", fm_status_name(s));
    CHECK(seq_len(c) == 4, "full: the prompt is kept (%zu)", seq_len(c));
    /* passes the early size check (14 <= 16) but the decode finds only 13
     * free cells for 14 (the prompt's last token is evaluated again): the
     * token taken out goes back */
    s = fm_context_score(c, NULL, 0, cont, 14, NULL, &sum);
    CHECK(s == FM_STATUS_CONTEXT_FULL, "full from the cache: %s", fm_status_name(s));
    fm_token now[16];
    size_t n_now = 0;
    fm_context_seq_tokens(c, 0, now, 16, &n_now);
    CHECK(n_now == 4 && memcmp(now, prompt, sizeof prompt) == 0, "full from the cache: the prompt is as before");
    /* and the handle still works */
    double lp_a = 0, lp_b = 0;
    CHECK(fm_context_score(c, NULL, 0, cont, 3, NULL, &lp_a) == FM_STATUS_OK, "usable: %s", fm_last_error());
    fm_context_clear(c);
    CHECK(fm_context_score(c, prompt, 4, cont, 3, NULL, &lp_b) == FM_STATUS_OK, "usable: %s", fm_last_error());
    CHECK(fabs(lp_a - lp_b) < 1e-5 && lp_a < 0, "the restored prompt scores as the original: %.7f vs %.7f", lp_a,
          lp_b);
    fm_context_free(c);
    fm_model_free(m);
    /* encoders have no next-token distribution */
    s = fm_model_load(tu_data("models/bert-wpm4k.f32.gguf"), NULL, &m);
    CHECK(s == FM_STATUS_OK, "load bert: %s", fm_last_error());
    if (s) return;
    c = new_ctx(m, 64);
    const fm_token b2[3] = {2, 100, 3};
    CHECK(fm_context_score(c, b2, 2, b2 + 2, 1, NULL, &sum) == FM_STATUS_UNSUPPORTED, "bert: %s", fm_last_error());
    fm_context_free(c);
    fm_model_free(m);
}

int main(void) {
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) check_model(models[i][0], models[i][1]);
    printf("max |dlogprob| over all models %.3g\n", max_dlp);
    check_errors();
    return tu_finish("score");
}
