/* Tokenizer conformance: ids identical to the reference implementation's on
 * every corpus file (reference/tokenizer/<name>/<file>.ids.zst) and on
 * llama.cpp's own test vectors (vocab/<file>.inp/.out).
 * usage: test_tokenizer_ref VOCAB_FILE REF_NAME */
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "fm.h"

static const char *const corpus[] = {
    "adv-repeat-a",   "adv-repeats", "adv-special-tokens", "adv-utf8-edge", "adv-whitespace",
    "code-c",         "code-crlf",   "en-markdown",        "en-prose",      "multilingual",
    "unicode-blocks", "unicode-mix", "unicode-versions",
};

static fm_token *encode(const fm_tokenizer *tok, const char *text, size_t len, size_t *n) {
    fm_status s = fm_tokenizer_encode(tok, text, len, 0, NULL, 0, n);
    if (s != FM_STATUS_OK && s != FM_STATUS_BUFFER_TOO_SMALL) return NULL;
    fm_token *ids = malloc((*n + 1) * sizeof *ids);
    if (ids == NULL || fm_tokenizer_encode(tok, text, len, 0, ids, *n, n) != FM_STATUS_OK) {
        free(ids);
        return NULL;
    }
    return ids;
}

/* Compares and reports the first difference; returns 1 if equal. */
static int same(const char *what, const fm_token *got, size_t n_got, const int32_t *want, size_t n_want) {
    size_t i = 0;
    while (i < n_got && i < n_want && got[i] == want[i]) i++;
    if (i == n_got && i == n_want) return 1;
    fprintf(stderr, "%s: first difference at token %zu of %zu (reference %zu): got %d, want %d\n", what, i, n_got,
            n_want, i < n_got ? got[i] : -1, i < n_want ? want[i] : -1);
    return 0;
}

static void check_inp_out(const fm_tokenizer *tok, const char *vocab_file) {
    char rel[512];
    snprintf(rel, sizeof rel, "vocab/%s.inp", vocab_file);
    char *inp = tu_read_file(tu_data(rel), NULL);
    snprintf(rel, sizeof rel, "vocab/%s.out", vocab_file);
    char *out = tu_read_file(tu_data(rel), NULL);
    if (inp == NULL || out == NULL) { /* not every vocab ships test vectors */
        free(inp);
        free(out);
        return;
    }
    static const char sep[] = "\n__ggml_vocab_test__\n";
    char *p = inp, *line = out;
    int n_cases = 0, n_ok = 0;
    for (char *end; (end = strstr(p, sep)) != NULL; p = end + sizeof sep - 1) {
        char *eol = strchr(line, '\n');
        CHECK(eol != NULL, ".out has fewer lines than .inp has cases");
        if (eol == NULL) break;
        *eol = '\0';
        size_t n_want, n_got;
        int32_t *want = tu_parse_ids(line, &n_want);
        fm_token *got = encode(tok, p, (size_t)(end - p), &n_got);
        char what[64];
        snprintf(what, sizeof what, "%s case %d", vocab_file, n_cases);
        int ok = got != NULL && same(what, got, n_got, want, n_want);
        CHECK(ok, "%s: '%.*s'", what, (int)(end - p), p);
        n_ok += ok;
        n_cases++;
        free(want);
        free(got);
        line = eol + 1;
    }
    printf("%s .inp/.out: %d/%d cases\n", vocab_file, n_ok, n_cases);
    CHECK(n_cases > 0, "no cases in %s.inp", vocab_file);
    free(inp);
    free(out);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_tokenizer_ref VOCAB_FILE REF_NAME\n");
        return 2;
    }
    char rel[512];
    snprintf(rel, sizeof rel, "vocab/%s", argv[1]);
    if (strchr(argv[1], '/')) snprintf(rel, sizeof rel, "%s", argv[1]);
    fm_tokenizer *tok;
    fm_status s = fm_tokenizer_load(tu_data(rel), NULL, &tok);
    CHECK(s == FM_STATUS_OK, "load %s: %s", argv[1], fm_last_error());
    if (s) return tu_finish(argv[2]);
    check_inp_out(tok, argv[1]);
    int files_ok = 0, n_files = 0;
    for (size_t f = 0; f < sizeof corpus / sizeof corpus[0]; f++) {
        snprintf(rel, sizeof rel, "corpus/%s.txt", corpus[f]);
        size_t len;
        char *text = tu_read_file(tu_data(rel), &len);
        snprintf(rel, sizeof rel, "reference/tokenizer/%s/%s.ids.zst", argv[2], corpus[f]);
        size_t n_want, n_got = 0;
        int32_t *want = tu_read_ids(tu_data(rel), &n_want);
        CHECK(text != NULL && want != NULL, "cannot read %s or its reference", corpus[f]);
        fm_token *got = text ? encode(tok, text, len, &n_got) : NULL;
        CHECK(got != NULL, "%s: encode failed: %s", corpus[f], fm_last_error());
        char what[128];
        snprintf(what, sizeof what, "%s/%s", argv[2], corpus[f]);
        int ok = got && want && same(what, got, n_got, want, n_want);
        CHECK(ok, "%s: ids differ", what);
        files_ok += ok;
        n_files++;
        free(text);
        free(want);
        free(got);
    }
    printf("%s corpus: %d/%d files identical\n", argv[2], files_ok, n_files);
    fm_tokenizer_free(tok);
    return tu_finish(argv[2]);
}
