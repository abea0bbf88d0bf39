/* fm-inspect: what a model file holds - architecture, sizes, every metadata
 * key with its value, and the tensor list. Uses only the public API (fm.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: fm-inspect -m MODEL [--meta] [--tensors] [--key KEY]\n"
            "  -m MODEL    GGUF file or llama2.c checkpoint\n"
            "  --meta      list every metadata key and its value (long values cut at 200 bytes)\n"
            "  --tensors   list every tensor: name, type, shape, bytes\n"
            "  --key KEY   print the whole value of one key (e.g. tokenizer.chat_template)\n"
            "Without options, prints the summary.\n");
}

static int fail(const char *what, fm_status s) {
    fprintf(stderr, "fm-inspect: %s: %s (%s)\n", what, fm_last_error(), fm_status_name(s));
    return 1;
}

/* The value of `key` as text, malloc'd. */
static char *meta_value(const fm_model *m, const char *key) {
    size_t n = 0;
    fm_status s = fm_model_meta(m, key, NULL, 0, &n);
    if (s != FM_STATUS_OK && s != FM_STATUS_BUFFER_TOO_SMALL) return NULL;
    char *buf = malloc(n + 1);
    if (buf != NULL && fm_model_meta(m, key, buf, n + 1, &n) != FM_STATUS_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Prints at most `max` bytes of v with newlines and tabs escaped. */
static void print_escaped(const char *v, size_t max) {
    size_t len = strlen(v);
    for (size_t i = 0; i < len && i < max; i++) {
        if (v[i] == '\n') fputs("\\n", stdout);
        else if (v[i] == '\t') fputs("\\t", stdout);
        else putchar(v[i]);
    }
    if (len > max) printf("... (%zu bytes)", len);
}

int main(int argc, char **argv) {
    const char *path = NULL, *key = NULL;
    int meta = 0, tensors = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--meta")) {
            meta = 1;
        } else if (!strcmp(argv[i], "--tensors")) {
            tensors = 1;
        } else if (!strcmp(argv[i], "-m") && i + 1 < argc) {
            path = argv[++i];
        } else if (!strcmp(argv[i], "--key") && i + 1 < argc) {
            key = argv[++i];
        } else {
            fprintf(stderr, "fm-inspect: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (path == NULL) {
        usage(stderr);
        return 2;
    }
    fm_model *m;
    fm_status s = fm_model_load(path, NULL, &m);
    if (s) return fail(path, s);
    if (key != NULL) {
        char *v = meta_value(m, key);
        if (v == NULL) {
            s = fm_model_meta(m, key, NULL, 0, &(size_t){0});
            fm_model_free(m);
            return fail(key, s);
        }
        printf("%s\n", v);
        free(v);
        fm_model_free(m);
        return 0;
    }
    static const char *const pooling[] = {"none", "mean", "cls", "last"};
    const int64_t pool = fm_model_get_info(m, FM_MODEL_POOLING);
    printf("architecture    %s%s\n", fm_model_arch(m), fm_model_get_info(m, FM_MODEL_IS_ENCODER) ? " (encoder)" : "");
    printf("parameters      %lld (%.2f M)\n", (long long)fm_model_get_info(m, FM_MODEL_N_PARAMS),
           fm_model_get_info(m, FM_MODEL_N_PARAMS) / 1e6);
    printf("weight bytes    %lld\n", (long long)fm_model_get_info(m, FM_MODEL_SIZE_BYTES));
    printf("context (train) %lld\n", (long long)fm_model_get_info(m, FM_MODEL_N_CTX_TRAIN));
    printf("embedding       %lld\n", (long long)fm_model_get_info(m, FM_MODEL_N_EMBD));
    printf("vocabulary      %lld\n", (long long)fm_model_get_info(m, FM_MODEL_N_VOCAB));
    printf("layers          %lld\n", (long long)fm_model_get_info(m, FM_MODEL_N_LAYER));
    printf("heads / kv      %lld / %lld\n", (long long)fm_model_get_info(m, FM_MODEL_N_HEAD),
           (long long)fm_model_get_info(m, FM_MODEL_N_HEAD_KV));
    printf("feed-forward    %lld\n", (long long)fm_model_get_info(m, FM_MODEL_N_FF));
    printf("pooling         %s\n", pool >= 0 && pool <= 3 ? pooling[pool] : "?");
    printf("metadata keys   %lld\n", (long long)fm_model_get_info(m, FM_MODEL_N_META));
    printf("tensors         %lld\n", (long long)fm_model_get_info(m, FM_MODEL_N_TENSORS));
    if (meta) {
        printf("\n");
        for (int64_t i = 0; i < fm_model_get_info(m, FM_MODEL_N_META); i++) {
            const char *k = fm_model_meta_key(m, i);
            char *v = meta_value(m, k);
            printf("%-44s ", k);
            print_escaped(v ? v : "?", 200);
            printf("\n");
            free(v);
        }
    }
    if (tensors) {
        printf("\n");
        for (int64_t i = 0; i < fm_model_get_info(m, FM_MODEL_N_TENSORS); i++) {
            fm_tensor_desc d;
            memset(&d, 0, sizeof d);
            d.struct_size = sizeof d;
            if ((s = fm_model_tensor(m, i, &d))) {
                fm_model_free(m);
                return fail("tensor", s);
            }
            char shape[96];
            int n = snprintf(shape, sizeof shape, "{%lld", (long long)d.ne[0]);
            for (int k = 1; k < d.n_dims && n < (int)sizeof shape; k++)
                n += snprintf(shape + n, sizeof shape - (size_t)n, ", %lld", (long long)d.ne[k]);
            snprintf(shape + n, sizeof shape - (size_t)n, "}");
            printf("%-40s %-5s %-20s %12llu\n", d.name, d.type, shape, (unsigned long long)d.n_bytes);
        }
    }
    fm_model_free(m);
    return 0;
}
