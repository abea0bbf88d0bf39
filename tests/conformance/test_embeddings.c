/* Embeddings: BERT's pooled sentence vectors (mean, CLS, the model's own)
 * and per-token hidden states against llama.cpp (|d| <= 3e-3, cosine >=
 * 0.99999, the reference README's bounds for its fp16 GELU table) and
 * against float64 (|d| <= 1e-4, exact math); decoder embeddings checked by
 * applying the LM head to them by hand; the errors of fm_context_embed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "fm.h"

static const char *const prompts[] = {
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "Once upon a time, there was a little girl named Lily.",
    "def add(a, b):\n    return a + b  # 42 \xc3\xbcn\xc3\xaf""c\xc3\xb6""d\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac",
};

static double cosine(const float *a, const float *b, int n) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return ab / sqrt(aa * bb);
}

/* Compares n vectors of E floats; returns the largest |difference|. */
static double compare(const char *what, const float *got, const float *want, int n, int E, double tol, double min_cos) {
    double worst = 0, worst_cos = 1;
    for (int v = 0; v < n; v++) {
        for (int i = 0; i < E; i++) worst = fmax(worst, fabs((double)got[v * E + i] - want[v * E + i]));
        worst_cos = fmin(worst_cos, cosine(got + v * E, want + v * E, E));
    }
    CHECK(worst <= tol, "%s: max |d| %.3g > %.3g", what, worst, tol);
    CHECK(worst_cos >= min_cos, "%s: min cosine %.9f < %.9f", what, worst_cos, min_cos);
    printf("%-28s %3d vectors: max |d| %.3g (<= %.0e), min cosine %.9f\n", what, n, worst, tol, worst_cos);
    return worst;
}

static float *ref(const char *name, size_t *n_floats) {
    char rel[128];
    snprintf(rel, sizeof rel, "reference/bert-wpm4k.f32/%s", name);
    size_t bytes = 0;
    float *p = (float *)tu_read_file(tu_data(rel), &bytes);
    CHECK(p != NULL, "read %s", rel);
    *n_floats = bytes / 4;
    return p;
}

static void bert(void) {
    fm_model *m;
    CHECK(fm_model_load(tu_data("models/bert-wpm4k.f32.gguf"), NULL, &m) == FM_STATUS_OK, "load: %s", fm_last_error());
    if (m == NULL) return;
    const int E = (int)fm_model_get_info(m, FM_MODEL_N_EMBD);
    CHECK(fm_model_get_info(m, FM_MODEL_IS_ENCODER) == 1, "bert is an encoder");
    CHECK(fm_model_get_info(m, FM_MODEL_POOLING) == FM_POOLING_MEAN, "bert pooling from the file");
    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_ctx = 256;
    cp.n_threads = 1;
    fm_context *c;
    CHECK(fm_context_new(m, &cp, &c) == FM_STATUS_OK, "context: %s", fm_last_error());

    char *tokens_txt = tu_read_file(tu_data("reference/bert-wpm4k.f32/tokens.txt"), NULL);
    size_t n_mean, n_cls, n_model, n_tok, n_mean64, n_cls64, n_tok64;
    float *r_mean = ref("embeddings_mean.f32", &n_mean), *r_cls = ref("embeddings_cls.f32", &n_cls);
    float *r_model = ref("embeddings.f32", &n_model), *r_tok = ref("token_embeddings.f32", &n_tok);
    float *r_mean64 = ref("embeddings_mean_f64ref.f32", &n_mean64), *r_cls64 = ref("embeddings_cls_f64ref.f32", &n_cls64);
    float *r_tok64 = ref("token_embeddings_f64ref.f32", &n_tok64);
    if (!tokens_txt || !r_mean || !r_cls || !r_model || !r_tok || !r_mean64 || !r_cls64 || !r_tok64) return;

    float *mean = calloc(4 * (size_t)E, sizeof *mean), *cls = calloc(4 * (size_t)E, sizeof *cls);
    float *model_pool = calloc(4 * (size_t)E, sizeof *model_pool);
    float *tok = calloc(n_tok, sizeof *tok);
    size_t tok_rows = 0;
    char *line = tokens_txt;
    for (int p = 0; p < 4; p++) {
        char *next = strchr(line, '\n');
        if (next) *next = '\0';
        size_t n_want;
        int32_t *want = tu_parse_ids(line, &n_want);
        fm_token ids[256];
        size_t n_ids = 0;
        fm_status s = fm_tokenizer_encode(fm_model_tokenizer(m), prompts[p], strlen(prompts[p]),
                                          FM_ENCODE_ADD_SPECIAL_AUTO, ids, 256, &n_ids);
        CHECK(s == FM_STATUS_OK && n_ids == n_want && memcmp(ids, want, n_ids * sizeof *ids) == 0,
              "prompt %d: ids differ from llama.cpp's ([CLS] ... [SEP])", p);
        size_t n_out;
        CHECK(fm_context_embed(c, want, n_want, FM_POOLING_MEAN, 0, mean + p * E, (size_t)E, &n_out) == FM_STATUS_OK &&
                  n_out == (size_t)E,
              "mean: %s", fm_last_error());
        CHECK(fm_context_embed(c, want, n_want, FM_POOLING_CLS, 0, cls + p * E, (size_t)E, &n_out) == FM_STATUS_OK,
              "cls: %s", fm_last_error());
        CHECK(fm_context_embed(c, want, n_want, FM_POOLING_MODEL, 0, model_pool + p * E, (size_t)E, &n_out) ==
                  FM_STATUS_OK,
              "model pooling: %s", fm_last_error());
        CHECK((tok_rows + n_want) * (size_t)E <= n_tok, "token reference too short");
        if ((tok_rows + n_want) * (size_t)E <= n_tok) {
            CHECK(fm_context_embed(c, want, n_want, FM_POOLING_NONE, 0, tok + tok_rows * (size_t)E,
                                   n_tok - tok_rows * (size_t)E, &n_out) == FM_STATUS_OK &&
                      n_out == n_want * (size_t)E,
                  "none: %s", fm_last_error());
            tok_rows += n_want;
        }
        CHECK(fm_context_n_past(c) == 0, "an encoder leaves the context empty");
        /* normalized: unit length, same direction */
        float unit[256];
        CHECK(fm_context_embed(c, want, n_want, FM_POOLING_MEAN, FM_EMBED_NORMALIZE, unit, (size_t)E, &n_out) ==
                  FM_STATUS_OK,
              "normalized");
        double len = 0;
        for (int i = 0; i < E; i++) len += (double)unit[i] * unit[i];
        CHECK(fabs(sqrt(len) - 1) < 1e-6 && cosine(unit, mean + p * E, E) > 0.9999999, "L2 normalization");
        free(want);
        line = next ? next + 1 : line;
    }
    CHECK(tok_rows * (size_t)E == n_tok, "%zu token rows, reference has %zu", tok_rows, n_tok / (size_t)E);
    compare("bert mean vs llama.cpp", mean, r_mean, 4, E, 3e-3, 0.99999);
    compare("bert cls vs llama.cpp", cls, r_cls, 4, E, 3e-3, 0.99999);
    compare("bert model pooling (mean)", model_pool, r_model, 4, E, 3e-3, 0.99999);
    compare("bert tokens vs llama.cpp", tok, r_tok, (int)tok_rows, E, 3e-3, 0.99999);
    compare("bert mean vs f64", mean, r_mean64, 4, E, 1e-4, 0.9999999);
    compare("bert cls vs f64", cls, r_cls64, 4, E, 1e-4, 0.9999999);
    compare("bert tokens vs f64", tok, r_tok64, (int)tok_rows, E, 1e-4, 0.9999999);

    /* errors leave the context usable */
    const fm_token two[2] = {101, 102};
    float small[8];
    size_t n_out = 0;
    CHECK(fm_context_embed(c, two, 2, FM_POOLING_MEAN, 0, small, 8, &n_out) == FM_STATUS_BUFFER_TOO_SMALL &&
              n_out == (size_t)E,
          "too small a buffer says how much is needed");
    CHECK(fm_context_embed(c, two, 2, 7, 0, mean, (size_t)E, &n_out) == FM_STATUS_INVALID_ARGUMENT, "unknown pooling");
    CHECK(fm_context_embed(c, two, 2, FM_POOLING_MEAN, 8, mean, (size_t)E, &n_out) == FM_STATUS_INVALID_ARGUMENT,
          "unknown flag");
    const fm_token bad[2] = {101, 99999};
    CHECK(fm_context_embed(c, bad, 2, FM_POOLING_MEAN, 0, mean, (size_t)E, &n_out) == FM_STATUS_INVALID_ARGUMENT,
          "id outside the vocabulary");
    fm_token *many = calloc(300, sizeof *many);
    CHECK(fm_context_embed(c, many, 300, FM_POOLING_MEAN, 0, mean, (size_t)E, &n_out) == FM_STATUS_CONTEXT_FULL,
          "more tokens than n_ctx");
    free(many);
    CHECK(fm_context_embed(c, two, 2, FM_POOLING_MEAN, 0, NULL, 0, &n_out) == FM_STATUS_BUFFER_TOO_SMALL,
          "size query with a NULL buffer");
    CHECK(fm_context_decode(c, two, 2, FM_LOGITS_LAST) == FM_STATUS_UNSUPPORTED, "an encoder has no logits");
    CHECK(strstr(fm_last_error(), "encoder") != NULL, "the message says why: %s", fm_last_error());
    CHECK(fm_context_embed(c, two, 2, FM_POOLING_CLS, 0, mean, (size_t)E, &n_out) == FM_STATUS_OK, "still usable");

    fm_context_free(c);
    fm_model_free(m);
    free(mean), free(cls), free(model_pool), free(tok), free(tokens_txt);
    free(r_mean), free(r_cls), free(r_model), free(r_tok), free(r_mean64), free(r_cls64), free(r_tok64);
}

/* A decoder's LAST embedding is the final-norm hidden state the LM head
 * reads: multiplying it by output.weight (read from the file through the
 * introspection API) must give the logits decode produced. MEAN must be the
 * mean of the per-token vectors. */
static void decoder(void) {
    const char *path = tu_data("models/llama-gqa.f32.gguf");
    fm_model *m;
    CHECK(fm_model_load(path, NULL, &m) == FM_STATUS_OK, "load: %s", fm_last_error());
    if (m == NULL) return;
    const int E = (int)fm_model_get_info(m, FM_MODEL_N_EMBD), V = (int)fm_model_get_info(m, FM_MODEL_N_VOCAB);
    CHECK(fm_model_get_info(m, FM_MODEL_IS_ENCODER) == 0 && fm_model_get_info(m, FM_MODEL_POOLING) == FM_POOLING_LAST,
          "decoder defaults");
    fm_tensor_desc out_w;
    memset(&out_w, 0, sizeof out_w);
    out_w.struct_size = sizeof out_w;
    int found = 0;
    for (int64_t i = 0; i < fm_model_get_info(m, FM_MODEL_N_TENSORS); i++) {
        CHECK(fm_model_tensor(m, i, &out_w) == FM_STATUS_OK, "tensor %lld", (long long)i);
        if (strcmp(out_w.name, "output.weight") == 0) {
            found = 1;
            break;
        }
    }
    CHECK(found && out_w.dtype == 0 && out_w.ne[0] == E && out_w.ne[1] == V, "output.weight f32 {E, V}");
    size_t file_len;
    char *file = tu_read_file(path, &file_len);
    CHECK(file != NULL && out_w.offset + out_w.n_bytes <= file_len, "read the file");
    if (!found || file == NULL) return;
    const float *W = (const float *)(file + out_w.offset);

    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_ctx = 64;
    cp.n_threads = 1;
    fm_context *c;
    CHECK(fm_context_new(m, &cp, &c) == FM_STATUS_OK, "context");
    fm_token ids[16];
    size_t n = 0;
    CHECK(fm_tokenizer_encode(fm_model_tokenizer(m), prompts[1], strlen(prompts[1]), FM_ENCODE_ADD_SPECIAL_AUTO, ids,
                              16, &n) == FM_STATUS_OK,
          "tokenize");
    float last[64], mean[64], rows[16 * 64];
    size_t n_out;
    CHECK(fm_context_embed(c, ids, n, FM_POOLING_LAST, 0, last, 64, &n_out) == FM_STATUS_OK && n_out == (size_t)E,
          "last: %s", fm_last_error());
    CHECK(fm_context_n_past(c) == n, "a decoder keeps the sequence");
    CHECK(fm_context_embed(c, ids, n, FM_POOLING_MEAN, 0, mean, 64, &n_out) == FM_STATUS_OK, "mean");
    CHECK(fm_context_embed(c, ids, n, FM_POOLING_NONE, 0, rows, sizeof rows / sizeof rows[0], &n_out) ==
              FM_STATUS_OK,
          "none");
    double worst_mean = 0, worst_logit = 0;
    for (int i = 0; i < E; i++) {
        double s = 0;
        for (size_t t = 0; t < n; t++) s += rows[t * (size_t)E + i];
        worst_mean = fmax(worst_mean, fabs(s / (double)n - mean[i]));
        worst_mean = fmax(worst_mean, fabs(rows[(n - 1) * (size_t)E + i] - last[i]));
    }
    fm_context_truncate(c, 0);
    CHECK(fm_context_decode(c, ids, n, FM_LOGITS_LAST) == FM_STATUS_OK, "decode");
    const float *logits = fm_context_logits(c, -1);
    for (int v = 0; v < V && logits; v++) {
        double s = 0;
        for (int i = 0; i < E; i++) s += (double)W[(size_t)v * (size_t)E + i] * last[i];
        worst_logit = fmax(worst_logit, fabs(s - logits[v]));
    }
    CHECK(worst_mean < 1e-5, "mean/last pooling vs per-token rows: %.3g", worst_mean);
    CHECK(worst_logit < 1e-4, "LM head on the LAST embedding vs decode's logits: %.3g", worst_logit);
    printf("llama-gqa decoder embeddings: pooling consistent to %.2g, LM head on LAST = logits to %.2g\n", worst_mean,
           worst_logit);
    fm_context_free(c);
    fm_model_free(m);
    free(file);
}

int main(void) {
    bert();
    decoder();
    return tu_finish("embeddings");
}
