/* Grammar churn: thousands of distinct regexes over one long-lived
 * tokenizer, as a server compiling each request's grammar sees them. The
 * time per grammar must not grow with the number of grammars seen before
 * (the lexeme-cache store is bounded in entries: docs/reliability.md).
 * Prints the mean per block of 1,000 and the last block over the first;
 * then the time of a few pathological patterns.
 * usage: bench_grammar_churn TEST_DATA [N] [VOCAB] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/grammar_churn.h"
#include "bench_util.h"

/* Patterns the 1-hour fuzz runs found slow (timeouts under ASan), each
 * compiled and given its first mask: the time must stay well under a
 * second in a release build (docs/reliability.md gives before / after). */
static void pathological(fm_tokenizer *tok, uint32_t *mask, size_t words) {
    static const struct {
        const char *what, *src;
        size_t len;
        int gbnf;
    } cases[] = {
        {"regex (\\w?){1015}: the DFA work bound", "^@(\\w?){1015}$", 14, 0},
        {"regex of a {2030} chain: DFA minimization", "\x03\0(0\0 )\0\x0bw\\\0\0\0{2030}$", 21, 0},
        {"GBNF ambiguous at every byte, 400 bytes", "root ::= ( \"\" [^U-z]+){4000} \".\"", 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const size_t len = cases[i].len ? cases[i].len : strlen(cases[i].src);
        const double t0 = bench_now();
        fm_grammar *g = NULL;
        fm_status st = cases[i].gbnf ? fm_grammar_parse_gbnf(cases[i].src, len, NULL, &g)
                                     : fm_grammar_from_regex(cases[i].src, len, &g);
        fm_matcher *m = NULL;
        if (st == FM_STATUS_OK && (st = fm_matcher_new(g, tok, &m)) == FM_STATUS_OK) {
            st = fm_matcher_fill_mask(m, mask, words);
            if (cases[i].gbnf) { /* then text until the parser's limit */
                char text[1024];
                memset(text, 'A', sizeof text);
                for (size_t k = 0; k < sizeof text && st == FM_STATUS_OK; k += 100)
                    st = fm_matcher_accept_text(m, text + k, 100);
            }
        }
        printf("%-46s %8.3f s  (%s)\n", cases[i].what, bench_now() - t0, st == FM_STATUS_OK ? "ok" : fm_last_error());
        fm_matcher_free(m);
        fm_grammar_free(g);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) return fprintf(stderr, "usage: bench_grammar_churn TEST_DATA [N] [VOCAB]\n"), 1;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", argv[1], argc > 3 ? argv[3] : "models/stories260K.gguf");
    const int n = argc > 2 ? atoi(argv[2]) : 8000;
    fm_tokenizer *tok = NULL;
    if (fm_tokenizer_load(path, NULL, &tok) != FM_STATUS_OK) return fprintf(stderr, "%s\n", fm_last_error()), 2;
    const size_t words = ((size_t)fm_tokenizer_n_vocab(tok) + 31) / 32;
    uint32_t *mask = malloc(words * sizeof *mask);
    double t0 = bench_now(), first = 0, last = 0;
    for (int i = 0; i < n && mask != NULL; i++) {
        if (!churn_walk(tok, i, mask, words, NULL)) fprintf(stderr, "grammar %d: %s\n", i, fm_last_error());
        if ((i + 1) % 1000 == 0) {
            const double t = bench_now(), ms = (t - t0) * 1e3 / 1000;
            printf("grammars %5d-%5d: %.3f ms each\n", i - 998, i + 1, ms);
            if (first == 0) first = ms;
            last = ms, t0 = t;
        }
    }
    if (first > 0) printf("last block / first block: %.2f\n", last / first);
    if (mask != NULL) pathological(tok, mask, words);
    free(mask);
    fm_tokenizer_free(tok);
    return 0;
}
