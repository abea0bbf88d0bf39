/* The grammar constraint step: a matcher behind the step interface. The
 * chain's fast path asks allows() for the token it picked; apply() builds
 * the whole mask only when that token was refused. */
#include <stdlib.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "sample_impl.h"

typedef struct grammar_step {
    fm_matcher *m;
    uint32_t *mask;
    size_t n_words;
} grammar_step;

static fm_status gs_apply(void *state, fm_candidates *c, fm_sampler *chain) {
    (void)chain;
    grammar_step *g = state;
    fm_status st = fm_matcher_fill_mask(g->m, g->mask, g->n_words);
    if (st) return st;
    const int32_t limit = (int32_t)(g->n_words * 32);
    int32_t n = 0;
    for (int32_t i = 0; i < c->size; i++) {
        const fm_token t = c->data[i].id;
        if (t < limit && (g->mask[t >> 5] >> (t & 31) & 1)) c->data[n++] = c->data[i];
    }
    c->size = n; /* 0: the chain reports that no token is allowed */
    return FM_STATUS_OK;
}

static int gs_allows(void *state, fm_token t) { return fm_matcher_allows(((grammar_step *)state)->m, t); }

static void gs_accept(void *state, fm_token t) {
    fm_matcher_accept(((grammar_step *)state)->m, t); /* the chain checked it is allowed */
}

static void gs_reset(void *state) { fm_matcher_reset(((grammar_step *)state)->m); }

static void gs_free(void *state) {
    grammar_step *g = state;
    if (g == NULL) return;
    fm_matcher_free(g->m);
    free(g->mask);
    free(g);
}

static grammar_step *gs_make(fm_matcher *m, size_t n_words) {
    grammar_step *g = fm_calloc(1, sizeof *g);
    if (g == NULL) return NULL;
    g->m = m;
    g->n_words = n_words;
    g->mask = fm_malloc(n_words * sizeof *g->mask);
    if (g->mask == NULL) {
        free(g);
        return NULL;
    }
    return g;
}

static fm_status gs_clone(const void *state, void **out) {
    const grammar_step *g = state;
    fm_matcher *m;
    fm_status st = fm_matcher_clone(g->m, &m);
    if (st) return st;
    grammar_step *c = gs_make(m, g->n_words);
    if (c == NULL) {
        fm_matcher_free(m);
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory cloning a grammar step");
    }
    *out = c;
    return FM_STATUS_OK;
}

static const fm_sampler_step_iface grammar_iface = {
    sizeof(fm_sampler_step_iface), FM_STEP_CONSTRAINT, "grammar", gs_apply, gs_allows, gs_accept, gs_reset,
    gs_clone, gs_free};

fm_status fm_sampler_add_grammar(fm_sampler *s, const fm_grammar *gr, const fm_tokenizer *tok) {
    fm_error_clear();
    if (s == NULL || gr == NULL || tok == NULL)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_add_grammar: NULL argument");
    fm_matcher *m;
    fm_status st = fm_matcher_new(gr, tok, &m);
    if (st) return st;
    grammar_step *g = gs_make(m, ((size_t)fm_tokenizer_n_vocab(tok) + 31) / 32);
    if (g == NULL) {
        fm_matcher_free(m);
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a grammar step");
    }
    return fm_sampler_push(s, &grammar_iface, g);
}
