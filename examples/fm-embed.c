/* fm-embed: sentence embeddings of one or more texts, and their cosine
 * similarities. Uses only the public API (fm.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "cli_util.h"
#include "fm.h"

#define MAX_TEXTS 256

static int fail(const char *what, fm_status s) {
    fprintf(stderr, "fm-embed: %s: %s (%s)\n", what, fm_last_error(), fm_status_name(s));
    return CLI_EXIT_RUNTIME;
}

static double cosine(const float *a, const float *b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

/* Frees the texts and passes rc through, for the early exits. */
static int free_texts(char **texts, int n, int rc) {
    for (int i = 0; i < n; i++) free(texts[i]);
    return rc;
}

typedef struct text_list {
    char *v[MAX_TEXTS];
    int n;
} text_list;

static int add_text(text_list *l, const char *p, size_t n) {
    if (l->n == MAX_TEXTS) {
        fprintf(stderr, "fm-embed: more than %d texts\n", MAX_TEXTS);
        return -1;
    }
    char *t = malloc(n + 1);
    if (t == NULL) return -1;
    memcpy(t, p, n);
    t[n] = '\0';
    l->v[l->n++] = t;
    return 0;
}

/* -p TEXT (repeatable) */
static int opt_text(void *dst, const char *name, const char *v) {
    (void)name;
    return add_text(dst, v, strlen(v));
}

/* -f FILE: every line is a text, empty ones too (never dropped silently;
 * one that gives no tokens is an error at embedding time) */
static int opt_lines(void *dst, const char *name, const char *path) {
    (void)name;
    size_t len = 0;
    char *all = !strcmp(path, "-") ? cli_read_stream(stdin, &len) : cli_read_file(path, &len);
    if (all == NULL) {
        fprintf(stderr, "fm-embed: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (size_t at = 0; at < len && rc == 0;) {
        const char *nl = memchr(all + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - all) : len, n = end - at;
        if (n > 0 && all[at + n - 1] == '\r') n--;
        rc = add_text(dst, all + at, n);
        at = end + 1;
    }
    free(all);
    return rc;
}

static int opt_pooling(void *dst, const char *name, const char *p) {
    (void)name;
    int32_t *pooling = dst;
    if (!strcmp(p, "model")) *pooling = FM_POOLING_MODEL;
    else if (!strcmp(p, "mean")) *pooling = FM_POOLING_MEAN;
    else if (!strcmp(p, "cls")) *pooling = FM_POOLING_CLS;
    else if (!strcmp(p, "last")) *pooling = FM_POOLING_LAST;
    else if (!strcmp(p, "none")) *pooling = FM_POOLING_NONE;
    else {
        fprintf(stderr, "fm-embed: --pooling '%s': want model, mean, cls, last or none\n", p);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *model_path = NULL;
    static text_list tl;
    char **texts = tl.v;
    int normalize = 0, json = 0, no_vectors = 0;
    double threads = 0;
    int32_t pooling = FM_POOLING_MODEL;
    const cli_opt opts[] = {
        {"-m|--model", CLI_STR, &model_path, "FILE", "GGUF file: an encoder (BERT) or a decoder (llama, qwen2, ...)",
         NULL, 0},
        {"-p|--prompt", CLI_FN, &tl, "TEXT", "a text to embed (repeatable)", opt_text, 0},
        {"-f|--file", CLI_FN, &tl, "FILE", "embed each line of FILE ('-': stdin), empty lines too", opt_lines, 0},
        {"--pooling", CLI_FN, &pooling, "POOLING", "model (the default: what the model says), mean, cls, last, or none\n"
         "(one vector per token)", opt_pooling, 0},
        {"--normalize", CLI_FLAG, &normalize, NULL, "scale vectors to unit length", NULL, 0},
        {"-t|--threads", CLI_NUM, &threads, "N", "compute threads; 0 = all cores", NULL, 1},
        {"--no-vectors", CLI_FLAG, &no_vectors, NULL, "print only the cosine similarity matrix", NULL, 0},
        {"--json", CLI_FLAG, &json, NULL, "print {\"embeddings\": [[...], ...], \"cosine\": [[...], ...]}", NULL, 0},
    };
    const cli_spec spec = {"fm-embed", "-m MODEL (-p TEXT | -f FILE)... [options]",
                           "Prints one line per vector (floats separated by spaces), then, for two or more texts,\n"
                           "the matrix of cosine similarities between them.",
                           {opts}, {sizeof opts / sizeof *opts}, "Exit status: 0 done, 1 usage error, 2 runtime error."};
    const int pa = cli_parse(&spec, argc, argv, NULL, NULL);
    int n_texts = tl.n;
    if (pa >= 0) return free_texts(texts, n_texts, pa);
    const int vectors = !no_vectors;
    if (model_path == NULL || n_texts == 0)
        return free_texts(texts, n_texts, cli_usage_error(&spec, "give -m MODEL and at least one -p TEXT or -f FILE"));
    if (threads < 0 || threads > 1024) return free_texts(texts, n_texts, cli_usage_error(&spec, "-t is out of range"));
    fm_model *m;
    fm_status s = fm_model_load(model_path, NULL, &m);
    if (s) return free_texts(texts, n_texts, fail(model_path, s));
    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_threads = (int32_t)threads;
    fm_context *c;
    if ((s = fm_context_new(m, &cp, &c))) {
        fm_model_free(m);
        return free_texts(texts, n_texts, fail("context", s));
    }
    const size_t E = (size_t)fm_model_get_info(m, FM_MODEL_N_EMBD);
    const uint32_t n_ctx = fm_context_n_ctx(c);
    float **vec = calloc((size_t)n_texts, sizeof *vec);
    size_t *n_vec = calloc((size_t)n_texts, sizeof *n_vec);
    fm_token *ids = malloc(n_ctx * sizeof *ids);
    int rc = 0;
    for (int t = 0; t < n_texts && rc == 0; t++) {
        size_t n_ids;
        s = fm_tokenizer_encode(fm_model_tokenizer(m), texts[t], strlen(texts[t]), FM_ENCODE_ADD_SPECIAL_AUTO, ids,
                                n_ctx, &n_ids);
        if (s) {
            rc = fail("tokenize", s);
            break;
        }
        if (n_ids == 0) {
            fprintf(stderr, "fm-embed: text %d is empty and this model adds no token to it: nothing to embed\n", t + 1);
            rc = CLI_EXIT_RUNTIME;
            break;
        }
        size_t need;
        s = fm_context_embed(c, ids, n_ids, pooling, 0, NULL, 0, &need);
        if (s != FM_STATUS_BUFFER_TOO_SMALL) {
            rc = fail("embed", s);
            break;
        }
        vec[t] = malloc(need * sizeof **vec);
        s = fm_context_embed(c, ids, n_ids, pooling, normalize ? FM_EMBED_NORMALIZE : 0, vec[t], need, &n_vec[t]);
        if (s) rc = fail("embed", s);
    }
    if (rc == 0) {
        /* vectors: one line each (per token for --pooling none) */
        if (json) printf("{\"embeddings\": [");
        for (int t = 0; t < n_texts && vectors; t++)
            for (size_t r = 0; r < n_vec[t] / E; r++) {
                if (json) printf("%s[", t + r > 0 ? ", " : "");
                for (size_t i = 0; i < E; i++) printf(json ? "%s%.7g" : "%s%.7g", i ? (json ? ", " : " ") : "", vec[t][r * E + i]);
                printf(json ? "]" : "\n");
            }
        /* the cosine matrix between texts (first vector of each) */
        if (json) printf("], \"cosine\": [");
        else if (n_texts > 1) printf("cosine similarity:\n");
        for (int a = 0; a < n_texts && (json || n_texts > 1); a++) {
            if (json) printf("%s[", a ? ", " : "");
            for (int b = 0; b < n_texts; b++)
                printf(json ? "%s%.6f" : "%s%9.6f", b ? (json ? ", " : " ") : "", cosine(vec[a], vec[b], E));
            printf(json ? "]" : "\n");
        }
        if (json) printf("]}\n");
    }
    free_texts(texts, n_texts, 0);
    for (int t = 0; t < n_texts; t++) free(vec[t]);
    free(vec);
    free(n_vec);
    free(ids);
    fm_context_free(c);
    fm_model_free(m);
    return rc;
}
