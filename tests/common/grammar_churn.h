/* Many distinct grammars over one tokenizer (test_lexcache_bound,
 * bench_grammar_churn): regex i, compiled, masked and walked a few steps
 * through the public API. */
#ifndef FM_TESTS_GRAMMAR_CHURN_H
#define FM_TESTS_GRAMMAR_CHURN_H

#include <stdio.h>
#include <string.h>

#include "fm.h"

enum { CHURN_STEPS = 6 };

static inline void churn_pattern(int i, char *re, size_t n) {
    snprintf(re, n, "^[a-%c][%c-z]{%d}(%d|q[0-%d])*\\.$", 'a' + i % 26, 'a' + (i / 26) % 26, 1 + i % 40, i, i % 10);
}

/* Compiles pattern i and walks CHURN_STEPS masks, each time taking the
 * lowest allowed token; each mask (n_words words) goes to sig when not
 * NULL. 1 when every call succeeded. */
static inline int churn_walk(fm_tokenizer *tok, int i, uint32_t *mask, size_t n_words, uint32_t *sig) {
    char re[128];
    churn_pattern(i, re, sizeof re);
    fm_grammar *g = NULL;
    if (fm_grammar_from_regex(re, strlen(re), &g) != FM_STATUS_OK) return 0;
    fm_matcher *m = NULL;
    int ok = fm_matcher_new(g, tok, &m) == FM_STATUS_OK;
    const int32_t nv = fm_tokenizer_n_vocab(tok);
    for (int s = 0; ok && s < CHURN_STEPS; s++) {
        if (fm_matcher_fill_mask(m, mask, n_words) != FM_STATUS_OK) { ok = 0; break; }
        if (sig != NULL) memcpy(sig + n_words * (size_t)s, mask, n_words * sizeof *mask);
        int32_t t = -1;
        for (int32_t k = 0; k < nv && t < 0; k++)
            if (mask[k >> 5] >> (k & 31) & 1) t = k;
        if (t < 0) break;
        if (fm_matcher_accept(m, t) != FM_STATUS_OK) ok = 0;
    }
    fm_matcher_free(m);
    fm_grammar_free(g);
    return ok;
}

#endif
