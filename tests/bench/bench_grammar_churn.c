/* Grammar churn: thousands of distinct regexes over one long-lived
 * tokenizer, as a server compiling each request's grammar sees them. The
 * time per grammar must not grow with the number of grammars seen before
 * (the lexeme-cache store is bounded in entries: docs/reliability.md).
 * Prints the mean per block of 1,000 and the last block over the first.
 * usage: bench_grammar_churn TEST_DATA [N] [VOCAB] */
#include <stdio.h>
#include <stdlib.h>

#include "../common/grammar_churn.h"
#include "bench_util.h"

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
    free(mask);
    fm_tokenizer_free(tok);
    return 0;
}
