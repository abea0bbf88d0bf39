/* fm-maskbench: MaskBench's procedure (../shared/jsonschema/README.md) on
 * JSONL files of schemas with valid and invalid instances. Per schema:
 * compile (time to first mask), then per test instance: tokenize it without
 * special tokens, and before each token compute the mask (time between
 * masks), check the token is allowed, accept it; a valid instance must be
 * accepted through its end and be complete, an invalid one refused
 * somewhere or incomplete at the end. Single-threaded, like MaskBench.
 * Reads the JSONL with jansson; libfm only through fm.h. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "cli_args.h"
#include "fm.h"

typedef struct samples {
    double *v;
    size_t n, cap;
} samples;

static void push(samples *s, double x) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 4096;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (s->v == NULL) exit(3);
    }
    s->v[s->n++] = x;
}

static int cmp_d(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const samples *s, double p) {
    if (s->n == 0) return 0;
    size_t i = (size_t)(p / 100.0 * (double)(s->n - 1) + 0.5);
    return s->v[i < s->n ? i : s->n - 1];
}

static double avg(const samples *s) {
    double t = 0;
    for (size_t i = 0; i < s->n; i++) t += s->v[i];
    return s->n ? t / (double)s->n : 0;
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", *s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

typedef struct file_list {
    const char **v;
    int n;
} file_list;

/* the JSONL files */
static int add_file(void *user, const char *a) {
    file_list *l = user;
    if (l->n == 1024) {
        fprintf(stderr, "fm-maskbench: more than 1024 files\n");
        return -1;
    }
    l->v[l->n++] = a;
    return 0;
}

int main(int argc, char **argv) {
    const char *vocab = NULL;
    int as_json = 0, trace = 0;
    uint32_t flags = 0;
    double limit = 1e18;
    int compact = 0;
    static const char *files[1024];
    file_list fl = {files, 0};
    const cli_opt opts[] = {
        {"--vocab", CLI_STR, &vocab, "FILE", "tokenizer: .tiktoken, GGUF vocabulary or model (required)", NULL, 0},
        {"--json", CLI_FLAG, &as_json, NULL, "one JSON object per schema, then a summary line", NULL, 0},
        {"--compact", CLI_FLAG, &compact, NULL, "no whitespace between JSON tokens (FM_JSON_COMPACT)", NULL, 0},
        {"--limit", CLI_NUM, &limit, "N", "at most N schemas per file (default: all)", NULL, 0},
        {"--trace", CLI_FLAG, &trace, NULL, "every mask's time, allowed-token count and token, to stderr", NULL, 0},
    };
    const cli_spec spec = {"fm-maskbench", "--vocab FILE [options] FILE.jsonl...",
                           "MaskBench's procedure on JSON Schema files: passing / errors, time per mask and to\n"
                           "first mask (docs/grammars.md).",
                           {opts}, {sizeof opts / sizeof *opts}, "Exit status: 0 done, 1 usage error, 2 runtime error."};
    const int pa = cli_parse(&spec, argc, argv, add_file, &fl);
    if (pa >= 0) return pa;
    if (vocab == NULL || fl.n == 0) return cli_usage_error(&spec, "give --vocab FILE and at least one FILE.jsonl");
    if (compact) flags |= FM_JSON_COMPACT;
    fm_tokenizer *tok;
    if (fm_tokenizer_load(vocab, NULL, &tok) != FM_STATUS_OK) {
        fprintf(stderr, "fm-maskbench: %s\n", fm_last_error());
        return CLI_EXIT_RUNTIME;
    }
    const int32_t nv = fm_tokenizer_n_vocab(tok);
    const size_t nw = ((size_t)nv + 31) / 32;
    uint32_t *mask = malloc(nw * sizeof *mask);
    /* the token trie is built once per tokenizer, before any timing */
    {
        fm_grammar *g;
        fm_matcher *m;
        if (fm_grammar_parse_gbnf("root ::= \"x\"", 12, NULL, &g) == FM_STATUS_OK &&
            fm_matcher_new(g, tok, &m) == FM_STATUS_OK)
            fm_matcher_free(m);
        fm_grammar_free(g);
    }
    samples tbm = {0}, ttfm = {0}, gbytes = {0};
    long schemas = 0, passing = 0, compile_err = 0, validation_err = 0, invalidation_err = 0, no_tests = 0;
    long tokens = 0;
    for (int a = 0; a < fl.n; a++) {
        FILE *f = fopen(files[a], "rb");
        if (f == NULL) {
            fprintf(stderr, "fm-maskbench: cannot open %s\n", files[a]);
            return CLI_EXIT_RUNTIME;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        long in_file = 0;
        while ((len = getline(&line, &cap, f)) > 0 && in_file < limit) {
            json_error_t je;
            json_t *rec = json_loadb(line, (size_t)len, 0, &je);
            if (rec == NULL) continue;
            in_file++;
            const char *id = json_string_value(json_object_get(rec, "id"));
            json_t *tests = json_object_get(rec, "tests");
            char *schema = json_dumps(json_object_get(rec, "schema"), JSON_COMPACT | JSON_ENCODE_ANY);
            const size_t n_tests = json_array_size(tests);
            schemas++;
            const double t0 = cli_now_s();
            fm_grammar *g = NULL;
            fm_matcher *m = NULL;
            fm_status st = fm_grammar_from_json_schema(schema, strlen(schema), flags, &g);
            if (st == FM_STATUS_OK) st = fm_matcher_new(g, tok, &m);
            const double t_compile = (cli_now_s() - t0) * 1e6;
            const char *status = "pass";
            char err[512] = "";
            long n_tok = 0;
            double tbm_sum = 0, tbm_max = 0;
            if (st != FM_STATUS_OK) {
                status = "compile_error";
                snprintf(err, sizeof err, "%s", fm_last_error());
                compile_err++;
            } else {
                push(&ttfm, t_compile);
                push(&gbytes, (double)fm_grammar_bytes(g));
            }
            if (n_tests == 0) no_tests++;
            for (size_t t = 0; st == FM_STATUS_OK && t < n_tests; t++) {
                json_t *test = json_array_get(tests, t);
                const int valid = json_is_true(json_object_get(test, "valid"));
                const char *inst = json_string_value(json_object_get(test, "instance"));
                const size_t ilen = json_string_length(json_object_get(test, "instance"));
                size_t n = 0;
                fm_tokenizer_encode(tok, inst, ilen, 0, NULL, 0, &n);
                fm_token *ids = malloc((n ? n : 1) * sizeof *ids);
                if (fm_tokenizer_encode(tok, inst, ilen, 0, ids, n, &n) != FM_STATUS_OK) n = 0;
                fm_matcher_reset(m);
                int refused = 0;
                for (size_t k = 0; k < n; k++) {
                    const double a0 = cli_now_s();
                    fm_status ms = fm_matcher_fill_mask(m, mask, nw);
                    const double dt = (cli_now_s() - a0) * 1e6;
                    if (ms != FM_STATUS_OK) {
                        refused = 1;
                        break;
                    }
                    push(&tbm, dt);
                    if (trace) {
                        long allowed = 0;
                        for (size_t w = 0; w < nw; w++) allowed += __builtin_popcount(mask[w]);
                        char piece[64];
                        size_t plen = 0;
                        if (fm_tokenizer_token_to_piece(tok, ids[k], 0, piece, sizeof piece - 1, &plen) != FM_STATUS_OK) plen = 0;
                        piece[plen < sizeof piece - 1 ? plen : 0] = 0;
                        fprintf(stderr, "%s %zu %zu %9.1f us %7ld allowed  ", id ? id : "", t, k, dt, allowed);
                        json_str(stderr, piece);
                        fputc('\n', stderr);
                    }
                    tbm_sum += dt;
                    if (dt > tbm_max) tbm_max = dt;
                    n_tok++;
                    tokens++;
                    if (!(mask[ids[k] >> 5] >> (ids[k] & 31) & 1)) {
                        refused = 1;
                        break;
                    }
                    if (fm_matcher_accept(m, ids[k]) != FM_STATUS_OK) {
                        refused = 1;
                        break;
                    }
                }
                const int accepted = !refused && fm_matcher_can_end(m);
                if (valid && !accepted) {
                    status = "validation_error";
                    snprintf(err, sizeof err, "valid instance %zu refused", t);
                } else if (!valid && accepted) {
                    status = "invalidation_error";
                    snprintf(err, sizeof err, "invalid instance %zu accepted", t);
                }
                free(ids);
            }
            if (!strcmp(status, "pass")) passing += n_tests > 0;
            else if (!strcmp(status, "validation_error")) validation_err++;
            else if (!strcmp(status, "invalidation_error")) invalidation_err++;
            if (as_json) {
                printf("{\"id\": ");
                json_str(stdout, id ? id : "");
                const char *split = strstr(files[a], "no-tests") ? "no-tests" : "tests";
                printf(", \"split\": \"%s\", \"status\": \"%s\", \"error\": ", split, status);
                json_str(stdout, err);
                printf(", \"ttfm_us\": %.1f, \"n_tokens\": %ld, \"tbm_avg_us\": %.2f, \"tbm_max_us\": %.2f}\n", t_compile,
                       n_tok, n_tok ? tbm_sum / (double)n_tok : 0.0, tbm_max);
            }
            fm_matcher_free(m);
            fm_grammar_free(g);
            free(schema);
            json_decref(rec);
        }
        free(line);
        fclose(f);
    }
    qsort(tbm.v, tbm.n, sizeof *tbm.v, cmp_d);
    qsort(ttfm.v, ttfm.n, sizeof *ttfm.v, cmp_d);
    qsort(gbytes.v, gbytes.n, sizeof *gbytes.v, cmp_d);
    const long with_tests = schemas - no_tests;
    if (as_json) {
        printf("{\"summary\": true, \"schemas\": %ld, \"with_tests\": %ld, \"passing\": %ld, \"compile_error\": %ld, "
               "\"validation_error\": %ld, \"invalidation_error\": %ld, \"tokens\": %ld, \"tbm_avg_us\": %.2f, "
               "\"tbm_p50_us\": %.2f, \"tbm_p99_us\": %.2f, \"tbm_max_us\": %.2f, \"ttfm_p50_us\": %.1f, "
               "\"ttfm_max_us\": %.1f, \"grammar_bytes_p50\": %.0f, \"grammar_bytes_max\": %.0f}\n",
               schemas, with_tests, passing, compile_err, validation_err, invalidation_err, tokens, avg(&tbm),
               pct(&tbm, 50), pct(&tbm, 99), pct(&tbm, 100), pct(&ttfm, 50), pct(&ttfm, 100), pct(&gbytes, 50),
               pct(&gbytes, 100));
    } else {
        printf("| metric | value |\n| --- | ---: |\n");
        printf("| schemas | %ld (%ld with tests) |\n| passing | %ld (%.1f %% of those with tests) |\n", schemas,
               with_tests, passing, with_tests ? 100.0 * (double)passing / (double)with_tests : 0.0);
        printf("| compile error | %ld |\n| validation error | %ld |\n| invalidation error | %ld |\n| crashes | 0 |\n",
               compile_err, validation_err, invalidation_err);
        printf("| tokens | %ld |\n", tokens);
        const double ps[] = {25, 50, 75, 90, 95, 99, 99.9, 100};
        printf("| TBM avg | %.1f us |\n", avg(&tbm));
        for (int i = 0; i < 8; i++) printf("| TBM p%g | %.1f us |\n", ps[i], pct(&tbm, ps[i]));
        printf("| TTFM avg | %.1f us |\n", avg(&ttfm));
        const double pt[] = {50, 75, 99, 100};
        for (int i = 0; i < 4; i++) printf("| TTFM p%g | %.1f us |\n", pt[i], pct(&ttfm, pt[i]));
        printf("| grammar bytes p50 / max | %.0f / %.0f |\n", pct(&gbytes, 50), pct(&gbytes, 100));
    }
    free(tbm.v), free(ttfm.v), free(gbytes.v), free(mask);
    fm_tokenizer_free(tok);
    return 0;
}
