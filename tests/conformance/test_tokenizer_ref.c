/* Tokenizer conformance: ids identical to the reference implementation's on
 * every corpus file (reference/tokenizer/<name>/<file>.ids.zst) and on
 * llama.cpp's own test vectors (vocab/<file>.inp/.out); and the round trip
 * decode(encode(text)) == text.
 * unicode-versions.txt is the exception: its ids depend on the Unicode
 * version of the character tables (libfm: utf8proc's; the references:
 * 15.1 and 16.0), so for it the agreement is reported, not required.
 * usage: test_tokenizer_ref VOCAB_FILE REF_NAME */
#include <ctype.h>
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

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

/* Share of ids the two lists have in common, as multisets. */
static double agreement(const fm_token *a, size_t na, const int32_t *b, size_t nb) {
    int32_t *x = malloc((na + 1) * sizeof *x), *y = malloc((nb + 1) * sizeof *y);
    memcpy(x, a, na * sizeof *x);
    memcpy(y, b, nb * sizeof *y);
    qsort(x, na, sizeof *x, cmp_i32);
    qsort(y, nb, sizeof *y, cmp_i32);
    size_t i = 0, j = 0, common = 0;
    while (i < na && j < nb) {
        if (x[i] == y[j]) common++, i++, j++;
        else if (x[i] < y[j]) i++;
        else j++;
    }
    free(x);
    free(y);
    return (double)common / (double)(na > nb ? na : nb);
}

/* What decoding must give back: the text, less what the vocabulary cannot
 * represent. Byte-level BPE drops bytes it has no token for; SentencePiece
 * cannot tell a literal U+2581 from a space; Phi-3's user-defined </s>
 * drops the whitespace after it and the text that follows gets
 * SentencePiece's dummy-prefix space. */
static char *expected_round_trip(const fm_tokenizer *tok, const char *text, size_t len, size_t *out_len, int spm,
                                 int phi3) {
    char *e = malloc(len + 1);
    size_t n = 0;
    int has[256];
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        size_t k = 1;
        has[b] = spm || fm_tokenizer_encode(tok, &c, 1, 0, NULL, 0, &k) != FM_STATUS_OK || k > 0;
    }
    char *e2 = NULL;
    if (phi3) { /* at most one extra space per </s> */
        e2 = malloc(len + len / 4 + 1);
        size_t m = 0;
        for (size_t i = 0; i < len;) {
            if (i + 4 <= len && memcmp(text + i, "</s>", 4) == 0) {
                memcpy(e2 + m, "</s>", 4), m += 4, i += 4;
                while (i < len && isspace((unsigned char)text[i])) i++;
                if (i < len && !(i + 4 <= len && memcmp(text + i, "</s>", 4) == 0)) e2[m++] = ' ';
            } else {
                e2[m++] = text[i++];
            }
        }
        text = e2;
        len = m;
        e = realloc(e, len + 1);
    }
    for (size_t i = 0; i < len; i++) {
        if (spm && i + 3 <= len && memcmp(text + i, "\xE2\x96\x81", 3) == 0) {
            e[n++] = ' ';
            i += 2;
        } else if (has[(uint8_t)text[i]]) {
            e[n++] = text[i];
        }
    }
    free(e2);
    *out_len = n;
    return e;
}

static int round_trip(const fm_tokenizer *tok, const char *what, const char *text, size_t len, const fm_token *ids,
                      size_t n_ids, int spm) {
    size_t n_exp, n_got;
    char *exp = expected_round_trip(tok, text, len, &n_exp, spm, strstr(what, "phi-3") != NULL);
    fm_tokenizer_decode(tok, ids, n_ids, FM_DECODE_STRIP_LEADING_SPACE, NULL, 0, &n_got);
    char *got = malloc(n_got + 1);
    fm_status s = fm_tokenizer_decode(tok, ids, n_ids, FM_DECODE_STRIP_LEADING_SPACE, got, n_got, &n_got);
    size_t i = 0;
    while (i < n_got && i < n_exp && got[i] == exp[i]) i++;
    int ok = s == FM_STATUS_OK && n_got == n_exp && i == n_got;
    if (!ok) fprintf(stderr, "%s: round trip differs at byte %zu (%zu vs %zu bytes)\n", what, i, n_got, n_exp);
    free(exp);
    free(got);
    return ok;
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
    /* llama.cpp's BERT lowercases, drops and normalizes: no round trip */
    const int lossy = strstr(argv[1], "bert") != NULL;
    fm_token probe[4];
    size_t n_probe = 0;
    fm_tokenizer_encode(tok, "a b", 3, 0, probe, 4, &n_probe);
    char piece[8];
    size_t pl = 0;
    fm_tokenizer_token_to_piece(tok, probe[0], 0, piece, sizeof piece, &pl);
    const int spm = pl > 0 && piece[0] == ' ' && !lossy; /* SentencePiece's dummy prefix */
    int files_ok = 0, n_files = 0, trips_ok = 0, n_trips = 0;
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
        if (strcmp(corpus[f], "unicode-versions") == 0) {
            /* depends on the Unicode version of the tables: report only */
            printf("%s: %.2f%% of ids agree (Unicode %s tables; ids %s)\n", what,
                   got && want ? 100 * agreement(got, n_got, want, n_want) : 0.0, fm_unicode_version(),
                   got && want && n_got == n_want && memcmp(got, want, n_got * sizeof *got) == 0 ? "identical"
                                                                                               : "differ");
        } else {
            int ok = got && want && same(what, got, n_got, want, n_want);
            CHECK(ok, "%s: ids differ", what);
            files_ok += ok;
            n_files++;
        }
        if (got && !lossy) {
            int ok = round_trip(tok, what, text, len, got, n_got, spm);
            CHECK(ok, "%s: round trip", what);
            trips_ok += ok;
            n_trips++;
        }
        free(text);
        free(want);
        free(got);
    }
    printf("%s corpus: %d/%d files identical, %d/%d round trips exact\n", argv[2], files_ok, n_files, trips_ok,
           n_trips);
    fm_tokenizer_free(tok);
    return tu_finish(argv[2]);
}
