/* fm-embed: sentence embeddings of one or more texts, and their cosine
 * similarities. Uses only the public API (fm.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"

#define MAX_TEXTS 256

static void usage(FILE *f) {
    fprintf(f,
            "usage: fm-embed -m MODEL (-p TEXT)... [-f FILE] [--pooling P] [--normalize] [-t THREADS]\n"
            "                [--no-vectors] [--json]\n"
            "  -m MODEL       GGUF file: an encoder (BERT) or a decoder (llama, qwen2, ...)\n"
            "  -p TEXT        a text to embed (repeatable)\n"
            "  -f FILE        embed each line of FILE ('-' = stdin)\n"
            "  --pooling P    model (default), mean, cls, last or none (one vector per token)\n"
            "  --normalize    scale vectors to unit length\n"
            "  -t THREADS     compute threads (default: all cores)\n"
            "  --no-vectors   print only the cosine similarity matrix\n"
            "  --json         print {\"embeddings\": [[...], ...], \"cosine\": [[...], ...]}\n"
            "Prints one line per vector (floats separated by spaces), then, for two or more\n"
            "texts, the matrix of cosine similarities between them.\n");
}

static int fail(const char *what, fm_status s) {
    fprintf(stderr, "fm-embed: %s: %s (%s)\n", what, fm_last_error(), fm_status_name(s));
    return 1;
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

static int add_lines(char **texts, int *n, const char *path) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "fm-embed: %s: %s\n", path, strerror(errno));
        return 0;
    }
    char line[65536];
    while (fgets(line, sizeof line, f) != NULL && *n < MAX_TEXTS) {
        size_t len = strlen(line);
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len == 0) continue;
        texts[(*n)++] = strdup(line);
    }
    if (f != stdin) fclose(f);
    return 1;
}

int main(int argc, char **argv) {
    const char *model_path = NULL;
    char *texts[MAX_TEXTS];
    int n_texts = 0, normalize = 0, json = 0, vectors = 1, threads = 0;
    int32_t pooling = FM_POOLING_MODEL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--normalize")) {
            normalize = 1;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--no-vectors")) {
            vectors = 0;
        } else if (v == NULL) {
            fprintf(stderr, "fm-embed: unknown option or missing value: %s\n", a);
            usage(stderr);
            return free_texts(texts, n_texts, 2);
        } else if (!strcmp(a, "-m")) {
            model_path = argv[++i];
        } else if (!strcmp(a, "-p")) {
            if (n_texts < MAX_TEXTS) texts[n_texts++] = strdup(argv[++i]);
        } else if (!strcmp(a, "-f")) {
            if (!add_lines(texts, &n_texts, argv[++i])) return free_texts(texts, n_texts, 1);
        } else if (!strcmp(a, "-t")) {
            threads = atoi(argv[++i]);
        } else if (!strcmp(a, "--pooling")) {
            const char *p = argv[++i];
            if (!strcmp(p, "model")) pooling = FM_POOLING_MODEL;
            else if (!strcmp(p, "mean")) pooling = FM_POOLING_MEAN;
            else if (!strcmp(p, "cls")) pooling = FM_POOLING_CLS;
            else if (!strcmp(p, "last")) pooling = FM_POOLING_LAST;
            else if (!strcmp(p, "none")) pooling = FM_POOLING_NONE;
            else {
                fprintf(stderr, "fm-embed: unknown pooling '%s'\n", p);
                return free_texts(texts, n_texts, 2);
            }
        } else {
            fprintf(stderr, "fm-embed: unknown option %s\n", a);
            usage(stderr);
            return free_texts(texts, n_texts, 2);
        }
    }
    if (model_path == NULL || n_texts == 0) {
        usage(stderr);
        return free_texts(texts, n_texts, 2);
    }
    fm_model *m;
    fm_status s = fm_model_load(model_path, NULL, &m);
    if (s) return free_texts(texts, n_texts, fail(model_path, s));
    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_threads = threads;
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
