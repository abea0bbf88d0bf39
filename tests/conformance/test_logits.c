/* Acceptance 2 of the core runtime: for each reference prompt, the prompt's
 * ids equal llama.cpp's, logits after every prompt token (one batch) match
 * the reference within a tolerance, and greedy decoding (one token at a time)
 * gives llama.cpp's 32 ids.
 * usage: test_logits MODEL_STEM LOGITS_FILE TOLERANCE [--greedy] [--kl MAX]
 *                    [--kl-mean MAX] [--top1 MIN] [--teacher MARGIN] [--backend NAME]
 *   LOGITS_FILE is logits.f32 (llama.cpp) or logits_f64ref.f32 (float64
 *   numpy on the same weights); --kl checks the per-row KL divergence
 *   KL(reference || ours), --kl-mean its mean, --top1 the fraction of rows
 *   whose argmax agrees. --teacher feeds llama.cpp's greedy tokens one at a
 *   time and requires our argmax to be the next one at every step whose
 *   greedy_margin.txt value is at least MARGIN (quantized weights, where
 *   llama.cpp's 8-bit activations move near-ties). --backend picks the
 *   backend (default "cpu", the fast kernels; "cpu-ref" is exact math). */
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
    double kl_max = -1, kl_mean_max = -1, top1_min = -1, teacher = -1;
    const char *backend = NULL; /* the default, fast one */
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--greedy")) greedy = 1;
        else if (!strcmp(argv[i], "--kl") && i + 1 < argc) kl_max = atof(argv[++i]);
        else if (!strcmp(argv[i], "--kl-mean") && i + 1 < argc) kl_mean_max = atof(argv[++i]);
        else if (!strcmp(argv[i], "--top1") && i + 1 < argc) top1_min = atof(argv[++i]);
        else if (!strcmp(argv[i], "--teacher") && i + 1 < argc) teacher = atof(argv[++i]);
        else if (!strcmp(argv[i], "--backend") && i + 1 < argc) backend = argv[++i];
        else {
            fprintf(stderr, "test_logits: unknown argument '%s'\n", argv[i]);
            return 2;
        }
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
    snprintf(rel, sizeof rel, "reference/%s/greedy_margin.txt", stem);
    char *margin_txt = tu_read_file(tu_data(rel), NULL);
    CHECK(ref && tokens_txt && greedy_txt && margin_txt, "reference files for %s", stem);
    if (!ref || !tokens_txt || !greedy_txt || !margin_txt) return tu_finish(stem);

    char prompts[8][256];
    int n_prompts = read_prompts(prompts);
    CHECK(n_prompts == 4, "%d prompts", n_prompts);
    char *tok_line = tokens_txt, *greedy_line = greedy_txt, *margin_line = margin_txt;
    size_t row = 0, top1 = 0;
    double max_diff = 0, max_kl = 0, sum_kl = 0;
    int greedy_ok = 0, greedy_total = 0, teacher_ok = 0, teacher_total = 0, teacher_excused = 0;
    for (int p = 0; p < n_prompts; p++) {
        char *tok_next = strchr(tok_line, '\n'), *greedy_next = strchr(greedy_line, '\n');
        char *margin_next = strchr(margin_line, '\n');
        if (tok_next) *tok_next = '\0';
        if (greedy_next) *greedy_next = '\0';
        if (margin_next) *margin_next = '\0';
        double margins[64];
        int n_margins = 0;
        for (char *m_end, *mp = margin_line; n_margins < 64; mp = m_end) {
            margins[n_margins] = strtod(mp, &m_end);
            if (m_end == mp) break;
            n_margins++;
        }
        size_t n_want, n_greedy;
        int32_t *want = tu_parse_ids(tok_line, &n_want);
        int32_t *want_greedy = tu_parse_ids(greedy_line, &n_greedy);
        fm_token ids[256];
        size_t n_ids = 0;
        s = fm_tokenizer_encode(tok, prompts[p], strlen(prompts[p]), FM_ENCODE_ADD_SPECIAL_AUTO, ids, 256, &n_ids);
        CHECK(s == FM_STATUS_OK && n_ids == n_want && memcmp(ids, want, n_ids * sizeof *ids) == 0,
              "%s prompt %d: ids differ from llama.cpp's (%zu vs %zu)", stem, p, n_ids, n_want);

        fm_context_params cp;
        fm_context_params_init(&cp, sizeof cp);
        cp.n_ctx = 256;
        cp.n_threads = 1;
        cp.backend = backend;
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
            double kl = kl_div(r, got, n_vocab);
            max_kl = fmax(max_kl, kl);
            sum_kl += kl;
            if (kl_max >= 0) CHECK(kl <= kl_max, "%s prompt %d token %zu: KL %.3g > %.3g", stem, p, t, kl, kl_max);
            top1 += argmax(got, n_vocab) == argmax(r, n_vocab);
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
        /* teacher-forced: llama.cpp's tokens in, our argmax checked at each step */
        if (teacher >= 0) {
            CHECK(n_margins == (int)n_greedy, "%s prompt %d: %d margins for %zu greedy steps", stem, p, n_margins,
                  n_greedy);
            fm_context_truncate(ctx, 0);
            CHECK(fm_context_decode(ctx, want, n_want, FM_LOGITS_LAST) == FM_STATUS_OK, "decode: %s", fm_last_error());
            for (size_t g = 0; g < n_greedy && (int)g < n_margins; g++) {
                const int ours = argmax(fm_context_logits(ctx, -1), n_vocab);
                teacher_total++;
                if (ours == want_greedy[g]) {
                    teacher_ok++;
                } else if (margins[g] < teacher) {
                    teacher_excused++;
                } else {
                    CHECK(0, "%s prompt %d teacher-forced step %zu: argmax %d, llama.cpp %d (margin %.3g >= %.3g)",
                          stem, p, g, ours, want_greedy[g], margins[g], teacher);
                }
                fm_token t = want_greedy[g];
                CHECK(fm_context_decode(ctx, &t, 1, FM_LOGITS_LAST) == FM_STATUS_OK, "decode");
            }
        }
        fm_context_free(ctx);
        free(want);
        free(want_greedy);
        tok_line = tok_next ? tok_next + 1 : tok_line;
        greedy_line = greedy_next ? greedy_next + 1 : greedy_line;
        margin_line = margin_next ? margin_next + 1 : margin_line;
    }
    if (kl_mean_max >= 0)
        CHECK(row > 0 && sum_kl / (double)row <= kl_mean_max, "%s: mean KL %.3g > %.3g", stem,
              row ? sum_kl / (double)row : 0.0, kl_mean_max);
    if (teacher >= 0)
        CHECK(teacher_ok * 10 >= teacher_total * 9, "%s: teacher-forced agreement %d/%d < 90%%", stem, teacher_ok,
              teacher_total);
    if (top1_min >= 0)
        CHECK(row > 0 && (double)top1 / (double)row >= top1_min, "%s: top-1 agreement %.3f < %.3f", stem,
              row ? (double)top1 / (double)row : 0.0, top1_min);
    CHECK(row * (size_t)n_vocab * 4 == ref_bytes, "%zu rows checked, reference has %zu", row,
          ref_bytes / 4 / (size_t)n_vocab);
    printf("%s vs %s: %zu rows, max |dlogit| %.3g (tolerance %.3g)", stem, argv[2], row, max_diff, tol);
    if (row) printf(", KL max %.3g mean %.3g, top-1 %zu/%zu", max_kl, sum_kl / (double)row, top1, row);
    if (greedy) printf(", greedy %d/%d", greedy_ok, greedy_total);
    if (teacher >= 0)
        printf(", teacher-forced %d/%d (%d excused, margin < %g)", teacher_ok, teacher_total, teacher_excused, teacher);
    printf("\n");
    free(ref);
    free(tokens_txt);
    free(greedy_txt);
    free(margin_txt);
    fm_model_free(m);
    return tu_finish(stem);
}
