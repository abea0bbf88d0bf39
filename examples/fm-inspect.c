/* fm-inspect: what a model file holds - architecture, sizes, every metadata
 * key with its value, and the tensor list. Uses only the public API (fm.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "fm.h"

static int fail(const char *what, fm_status s) {
    fprintf(stderr, "fm-inspect: %s: %s (%s)\n", what, fm_last_error(), fm_status_name(s));
    return CLI_EXIT_RUNTIME;
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

/* --key KEY for an array: its elements, one per line, at most `limit` (0: all) */
static int print_array(const fm_model *m, const char *key, uint64_t limit) {
    uint64_t n = 0;
    size_t len = 0;
    fm_model_meta_array(m, key, 0, NULL, 0, &len, &n);
    printf("[array of %llu]\n", (unsigned long long)n);
    char *buf = NULL;
    size_t cap = 0;
    for (uint64_t i = 0; i < n && (limit == 0 || i < limit); i++) {
        fm_status s = fm_model_meta_array(m, key, i, buf, cap, &len, NULL);
        if (s == FM_STATUS_BUFFER_TOO_SMALL) {
            char *b = realloc(buf, cap = len + 1);
            if (b == NULL) break;
            buf = b;
            s = fm_model_meta_array(m, key, i, buf, cap, &len, NULL);
        }
        if (s != FM_STATUS_OK) {
            free(buf);
            return fail(key, s);
        }
        printf("%8llu  ", (unsigned long long)i);
        print_escaped(buf, (size_t)-1);
        putchar('\n');
    }
    if (limit != 0 && n > limit)
        printf("... %llu more (--limit 0 prints all)\n", (unsigned long long)(n - limit));
    free(buf);
    return CLI_EXIT_OK;
}

typedef struct type_count {
    const char *type; /* the dtype's static name */
    long n;
} type_count;

/* "q4_K 145, q6_K 25, f32 65": the tensors per weight type, most first */
static void print_types(const fm_model *m) {
    type_count t[40];
    int nt = 0;
    for (int64_t i = 0; i < fm_model_get_info(m, FM_MODEL_N_TENSORS); i++) {
        fm_tensor_desc d;
        memset(&d, 0, sizeof d);
        d.struct_size = sizeof d;
        if (fm_model_tensor(m, i, &d) != FM_STATUS_OK) continue;
        int k = 0;
        while (k < nt && strcmp(t[k].type, d.type)) k++;
        if (k == nt && nt < 40) t[nt++] = (type_count){d.type, 0};
        if (k < nt) t[k].n++;
    }
    for (int a = 0; a < nt; a++) /* a few types: insertion order by count */
        for (int b = a + 1; b < nt; b++)
            if (t[b].n > t[a].n) {
                const type_count x = t[a];
                t[a] = t[b], t[b] = x;
            }
    printf("weight types    ");
    for (int k = 0; k < nt; k++) printf("%s%s %ld", k ? ", " : "", t[k].type, t[k].n);
    printf(" (tensors per type)\n");
}

int main(int argc, char **argv) {
    const char *path = NULL, *tok_path = NULL, *key = NULL;
    int meta = 0, tensors = 0;
    double limit = 100;
    const cli_opt opts[] = {
        {"-m|--model", CLI_STR, &path, "FILE", "GGUF file or llama2.c checkpoint (required)", NULL, 0},
        {"-z|--tokenizer", CLI_STR, &tok_path, "FILE",
         "tokenizer file (llama2.c checkpoints: default tokenizer.bin beside the model)", NULL, 0},
        {"--meta", CLI_FLAG, &meta, NULL, "list every metadata key and its value (long values cut at 200 bytes)",
         NULL, 0},
        {"--tensors", CLI_FLAG, &tensors, NULL, "list every tensor: name, type, shape, bytes", NULL, 0},
        {"--key", CLI_STR, &key, "KEY",
         "print the whole value of one key (e.g. tokenizer.chat_template); an array's\nelements one per line", NULL,
         0},
        {"--limit", CLI_NUM, &limit, "N", "--key on an array: print at most N elements; 0 = all", NULL, 1},
    };
    const cli_spec spec = {"fm-inspect", "-m MODEL [options]",
                           "What a model file holds: without options the summary (architecture, sizes, the weight\n"
                           "types), with them the metadata, the tensors or one key.",
                           {opts}, {sizeof opts / sizeof *opts}, "Exit status: 0 done, 1 usage error, 2 runtime error."};
    const int pa = cli_parse(&spec, argc, argv, NULL, NULL);
    if (pa >= 0) return pa;
    if (path == NULL) return cli_usage_error(&spec, "no model: give -m FILE");
    if (limit < 0 || limit != floor(limit)) return cli_usage_error(&spec, "--limit needs a whole number >= 0");
    fm_model_params mp;
    fm_model_params_init(&mp, sizeof mp);
    mp.tokenizer_path = tok_path;
    fm_model *m;
    fm_status s = fm_model_load(path, &mp, &m);
    if (s) {
        if (s == FM_STATUS_IO && tok_path == NULL && strstr(fm_last_error(), "tokenizer.bin") != NULL)
            fprintf(stderr, "fm-inspect: %s: a llama2.c checkpoint needs its tokenizer: give -z FILE (%s)\n", path,
                    fm_last_error());
        else
            fail(path, s);
        return CLI_EXIT_RUNTIME;
    }
    if (key != NULL) {
        uint64_t n_elems = 0;
        size_t len = 0;
        int rc;
        if (fm_model_meta_array(m, key, 0, NULL, 0, &len, &n_elems) != FM_STATUS_INVALID_ARGUMENT ||
            strstr(fm_last_error(), "not an array") == NULL) {
            rc = fm_model_meta(m, key, NULL, 0, &len) == FM_STATUS_NOT_FOUND ? fail(key, FM_STATUS_NOT_FOUND)
                                                                            : print_array(m, key, (uint64_t)limit);
        } else {
            char *v = meta_value(m, key);
            rc = v ? (printf("%s\n", v), CLI_EXIT_OK) : fail(key, fm_model_meta(m, key, NULL, 0, &len));
            free(v);
        }
        fm_model_free(m);
        return rc;
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
    print_types(m);
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
