/* Acceptance 2 of the core runtime: for each reference prompt, the prompt's
 * ids equal llama.cpp's, logits after every prompt token (one batch) match
 * the reference within a tolerance, and greedy decoding (one token at a time)
 * gives llama.cpp's 32 ids.
 * usage: test_logits MODEL_STEM LOGITS_FILE TOLERANCE [--greedy] [--kl MAX]
 *   LOGITS_FILE is logits.f32 (llama.cpp) or logits_f64ref.f32 (float64
 *   numpy on the same weights); --kl also checks the per-row KL divergence. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "fm.h"

/* Reference prompts: one per line, a literal backslash-n means a newline. */
static int read_prompts(char prompts[8][256]) {
    char *raw = tu_read_file(tu_data("reference/prompts.txt"), NULL);
    CHECK(raw != NULL, "prompts.txt");
    if (raw == NULL) return 0;
    int n = 0;
    for (char *line = strtok(raw, "\n"); line && n < 8; line = strtok(NULL, "\n"), n++) {
        size_t k = 0;
        for (size_t i = 0; line[i] && k < 255; i++) {
            if (line[i] == '\\' && line[i + 1] == 'n') prompts[n][k++] = '\n', i++;
            else prompts[n][k++] = line[i];
        }
        prompts[n][k] = '\0';
    }
    free(raw);
    return n;
}

/* KL(softmax(p) || softmax(q)) in nats. */
static double kl_div(const float *p, const float *q, int n) {
    double mp = -INFINITY, mq = -INFINITY, sp = 0, sq = 0, kl = 0;
    for (int i = 0; i < n; i++) mp = fmax(mp, p[i]), mq = fmax(mq, q[i]);
    for (int i = 0; i < n; i++) sp += exp(p[i] - mp), sq += exp(q[i] - mq);
    for (int i = 0; i < n; i++) {
        double lp = p[i] - mp - log(sp), lq = q[i] - mq - log(sq);
        kl += exp(lp) * (lp - lq);
    }
    return kl;
}

static int argmax(const float *v, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return b;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: test_logits MODEL_STEM LOGITS_FILE TOLERANCE [--greedy] [--kl MAX]\n");
        return 2;
    }
    const char *stem = argv[1];
    const double tol = atof(argv[3]);
    int greedy = 0;
    double kl_max = -1;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--greedy")) greedy = 1;
        else if (!strcmp(argv[i], "--kl") && i + 1 < argc) kl_max = atof(argv[++i]);
    }
    char rel[512];
    snprintf(rel, sizeof rel, "models/%s.gguf", stem);
    const char *model_path = tu_data(rel);
    if (strcmp(stem, "stories260K") == 0) model_path = tu_data("models/stories260K.gguf");

    fm_model *m;
    fm_status s = fm_model_load(model_path, NULL, &m);
    CHECK(s == FM_STATUS_OK, "load %s: %s", model_path, fm_last_error());
    if (s) return tu_finish(stem);
    const fm_tokenizer *tok = fm_model_tokenizer(m);
    const int n_vocab = (int)fm_model_get_info(m, FM_MODEL_N_VOCAB);

    snprintf(rel, sizeof rel, "reference/%s/%s", stem, argv[2]);
    size_t ref_bytes;
    float *ref = (float *)tu_read_file(tu_data(rel), &ref_bytes);
    snprintf(rel, sizeof rel, "reference/%s/tokens.txt", stem);
    char *tokens_txt = tu_read_file(tu_data(rel), NULL);
    snprintf(rel, sizeof rel, "reference/%s/greedy.txt", stem);
    char *greedy_txt = tu_read_file(tu_data(rel), NULL);
    CHECK(ref && tokens_txt && greedy_txt, "reference files for %s", stem);
    if (!ref || !tokens_txt || !greedy_txt) return tu_finish(stem);

    char prompts[8][256];
    int n_prompts = read_prompts(prompts);
    CHECK(n_prompts == 4, "%d prompts", n_prompts);
    char *tok_line = tokens_txt, *greedy_line = greedy_txt;
    size_t row = 0;
    double max_diff = 0, max_kl = 0;
    int greedy_ok = 0, greedy_total = 0;
    for (int p = 0; p < n_prompts; p++) {
        char *tok_next = strchr(tok_line, '\n'), *greedy_next = strchr(greedy_line, '\n');
        if (tok_next) *tok_next = '\0';
        if (greedy_next) *greedy_next = '\0';
        size_t n_want, n_greedy;
        int32_t *want = tu_parse_ids(tok_line, &n_want);
        int32_t *want_greedy = tu_parse_ids(greedy_line, &n_greedy);
        fm_token ids[256];
        size_t n_ids = 0;
        s = fm_tokenizer_encode(tok, prompts[p], strlen(prompts[p]), FM_ENCODE_ADD_SPECIAL_AUTO, ids, 256, &n_ids);
        CHECK(s == FM_STATUS_OK && n_ids == n_want && memcmp(ids, want, n_ids * sizeof *ids) == 0,
              "%s prompt %d: ids differ from llama.cpp's (%zu vs %zu)", stem, p, n_ids, n_want);

        fm_context_params cp = fm_context_default_params();
        cp.n_ctx = 256;
        cp.n_threads = 1;
        fm_context *ctx;
        CHECK(fm_context_new(m, &cp, &ctx) == FM_STATUS_OK, "context: %s", fm_last_error());
        CHECK(fm_context_decode(ctx, want, n_want, FM_LOGITS_ALL) == FM_STATUS_OK, "decode: %s", fm_last_error());
        for (size_t t = 0; t < n_want; t++, row++) {
            const float *got = fm_context_logits(ctx, (int32_t)t);
            CHECK((row + 1) * (size_t)n_vocab * 4 <= ref_bytes, "reference too short");
            if (got == NULL || (row + 1) * (size_t)n_vocab * 4 > ref_bytes) break;
            const float *r = ref + row * (size_t)n_vocab;
            double d = 0;
            for (int v = 0; v < n_vocab; v++) d = fmax(d, fabs((double)got[v] - r[v]));
            max_diff = fmax(max_diff, d);
            CHECK(d <= tol, "%s prompt %d token %zu: max |dlogit| %.3g > %.3g", stem, p, t, d, tol);
            if (kl_max >= 0) {
                double kl = kl_div(r, got, n_vocab);
                max_kl = fmax(max_kl, kl);
                CHECK(kl <= kl_max, "%s prompt %d token %zu: KL %.3g > %.3g", stem, p, t, kl, kl_max);
            }
        }
        /* greedy: argmax of the last prompt row, then one token at a time */
        if (greedy) {
            int next = argmax(fm_context_logits(ctx, -1), n_vocab);
            for (size_t g = 0; g < n_greedy; g++) {
                greedy_total++;
                greedy_ok += next == want_greedy[g];
                CHECK(next == want_greedy[g], "%s prompt %d greedy step %zu: %d, llama.cpp %d", stem, p, g, next,
                      want_greedy[g]);
                if (next != want_greedy[g]) break;
                fm_token t = next;
                CHECK(fm_context_decode(ctx, &t, 1, FM_LOGITS_LAST) == FM_STATUS_OK, "decode");
                next = argmax(fm_context_logits(ctx, -1), n_vocab);
            }
        }
        fm_context_free(ctx);
        free(want);
        free(want_greedy);
        tok_line = tok_next ? tok_next + 1 : tok_line;
        greedy_line = greedy_next ? greedy_next + 1 : greedy_line;
    }
    CHECK(row * (size_t)n_vocab * 4 == ref_bytes, "%zu rows checked, reference has %zu", row,
          ref_bytes / 4 / (size_t)n_vocab);
    printf("%s vs %s: %zu rows, max |dlogit| %.3g (tolerance %.3g)", stem, argv[2], row, max_diff, tol);
    if (kl_max >= 0) printf(", max KL %.3g", max_kl);
    if (greedy) printf(", greedy %d/%d", greedy_ok, greedy_total);
    printf("\n");
    free(ref);
    free(tokens_txt);
    free(greedy_txt);
    fm_model_free(m);
    return tu_finish(stem);
}
