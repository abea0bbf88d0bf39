/* A matcher: one output's position in a grammar, and the token mask there.
 * The mask walks the token trie depth first, pushing one Earley set per
 * byte and popping it on the way back, so tokens that share a prefix share
 * its sets; a byte no item can scan prunes its whole subtree before any
 * set is built. */
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/grow.h"
#include "../tokenizer/token_trie.h"
#include "grammar.h"

typedef struct lexpath {
    uint32_t q, len;
    uint8_t bytes[4096];
} lexpath;

typedef struct lexcache {
    uint32_t dfa, q;
    uint32_t *mask;   /* tokens that stay inside the terminal */
    uint32_t *exits;  /* (trie node, accepting state) pairs, by state */
    size_t n_exits;
    lexpath *paths;   /* one path per accepting state reached */
    size_t n_paths;
} lexcache;

#define LEXCACHE_MAX 32 /* (terminal, state) pairs kept per matcher */

struct fm_matcher {
    const fm_grammar *g;
    const fm_tokenizer *tok;
    const fm_token_trie *trie;
    fm_earley e;
    int finished; /* an end-of-generation token was accepted */
    uint32_t *frames; /* walk stack: (cursor, end) pairs */
    size_t cap_frames;
    lexcache cache[LEXCACHE_MAX];
    size_t n_cache;
};

fm_status fm_matcher_new(const fm_grammar *g, const fm_tokenizer *tok, fm_matcher **out) {
    fm_error_clear();
    if (g == NULL || tok == NULL || out == NULL)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_matcher_new: NULL argument");
    *out = NULL;
    const fm_token_trie *trie = fm_token_trie_get(tok);
    if (trie == NULL) return FM_STATUS_NO_MEMORY;
    fm_matcher *m = calloc(1, sizeof *m);
    if (m == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a grammar matcher");
    fm_status st = fm_earley_init(&m->e, g);
    if (st) {
        free(m);
        return st;
    }
    m->g = g, m->tok = tok, m->trie = trie;
    fm_grammar_ref(g);
    *out = m;
    return FM_STATUS_OK;
}

void fm_matcher_free(fm_matcher *m) {
    if (m == NULL) return;
    fm_earley_free(&m->e);
    free(m->frames);
    for (size_t i = 0; i < m->n_cache; i++) {
        free(m->cache[i].mask);
        free(m->cache[i].exits);
        free(m->cache[i].paths);
    }
    fm_grammar_free((fm_grammar *)m->g);
    free(m);
}

void fm_matcher_reset(fm_matcher *m) {
    if (m == NULL) return;
    m->finished = 0;
    if (fm_earley_reset(&m->e) != FM_STATUS_OK) m->finished = 1; /* out of memory: allows nothing */
}

fm_status fm_matcher_clone(const fm_matcher *m, fm_matcher **out) {
    fm_error_clear();
    if (m == NULL || out == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_matcher_clone: NULL argument");
    *out = NULL;
    fm_matcher *c = calloc(1, sizeof *c);
    if (c == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory cloning a grammar matcher");
    fm_status st = fm_earley_copy(&c->e, &m->e);
    if (st) {
        free(c);
        return st;
    }
    c->g = m->g, c->tok = m->tok, c->trie = m->trie, c->finished = m->finished;
    fm_grammar_ref(m->g);
    *out = c;
    return FM_STATUS_OK;
}

int fm_matcher_can_end(const fm_matcher *m) { return m != NULL && (m->finished || fm_earley_accepting(&m->e)); }

/* Pushes n bytes; on failure pops what it pushed. 1 ok, 0 refused, -1 OOM. */
static int push_bytes(fm_earley *e, const uint8_t *b, size_t n) {
    size_t i = 0;
    int r = 1;
    for (; i < n; i++)
        if ((r = fm_earley_push(e, b[i])) != 1) break;
    if (r == 1) return 1;
    while (i-- > 0) fm_earley_pop(e);
    return r;
}

int fm_matcher_allows(fm_matcher *m, fm_token t) {
    if (m == NULL || m->finished || t < 0 || t >= m->trie->n_vocab) return 0;
    if (fm_tokenizer_is_eog(m->tok, t)) return fm_earley_accepting(&m->e);
    const uint32_t n = m->trie->len[t];
    if (n == 0 || n >= 4096) return 0;
    if (push_bytes(&m->e, m->trie->bytes[t], n) != 1) return 0;
    for (uint32_t i = 0; i < n; i++) fm_earley_pop(&m->e);
    return 1;
}

fm_status fm_matcher_accept(fm_matcher *m, fm_token t) {
    fm_error_clear();
    if (m == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_matcher_accept: NULL matcher");
    if (m->finished || t < 0 || t >= m->trie->n_vocab)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "the grammar does not allow token %d here", (int)t);
    if (fm_tokenizer_is_eog(m->tok, t)) {
        if (!fm_earley_accepting(&m->e))
            return fm_error(FM_STATUS_INVALID_ARGUMENT, "the grammar's output is not complete: it cannot end here");
        m->finished = 1;
        return FM_STATUS_OK;
    }
    const uint32_t n = m->trie->len[t];
    const int r = n == 0 || n >= 4096 ? 0 : push_bytes(&m->e, m->trie->bytes[t], n);
    if (r < 0) return fm_error(FM_STATUS_NO_MEMORY, "out of memory in a grammar matcher");
    if (r == 0) return fm_error(FM_STATUS_INVALID_ARGUMENT, "the grammar does not allow token %d here", (int)t);
    return FM_STATUS_OK;
}

fm_status fm_matcher_accept_text(fm_matcher *m, const char *text, size_t len) {
    fm_error_clear();
    if (m == NULL || (text == NULL && len > 0))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_matcher_accept_text: NULL argument");
    const int r = m->finished ? 0 : push_bytes(&m->e, (const uint8_t *)text, len);
    if (r < 0) return fm_error(FM_STATUS_NO_MEMORY, "out of memory in a grammar matcher");
    if (r == 0) return fm_error(FM_STATUS_INVALID_ARGUMENT, "the grammar does not allow this text here");
    return FM_STATUS_OK;
}

static void set_bit(uint32_t *mask, int32_t t) { mask[t >> 5] |= 1u << (t & 31); }

/* The one scanning item of the parser's top set when it is a DFA
 * terminal's, not at an accepting state; NULL otherwise. */
static const fm_eitem *sole_lexeme(const fm_matcher *m) {
    const fm_earley *e = &m->e;
    const fm_grammar *g = m->g;
    const uint32_t k = e->n_sets - 1;
    const fm_eitem *one = NULL;
    for (uint32_t i = e->set_start[k]; i < e->set_start[k + 1]; i++) {
        const uint32_t kind = FM_GS_KIND(g->syms[e->items[i].dot]);
        if (kind == FM_GS_TERM) return NULL;
        if (kind == FM_GS_DFA) {
            if (one != NULL) return NULL;
            one = &e->items[i];
        }
    }
    if (one == NULL || g->dfas[FM_GS_VAL(g->syms[one->dot])].accept[one->q]) return NULL;
    return one;
}

static fm_status dfa_walk(fm_matcher *m, uint32_t *mask, uint32_t begin, uint32_t end, const fm_gdfa *d, uint32_t q0);

/* Walks the trie nodes [begin, end) (siblings and their subtrees) from the
 * parser's current set, setting the bits of every token that can come. */
static fm_status walk(fm_matcher *m, uint32_t *mask, uint32_t begin, uint32_t end) {
    const fm_token_trie *tr = m->trie;
    /* its own stack: walks nest (a terminal's exits walk again) */
    uint32_t *f = malloc(2 * ((size_t)tr->max_depth + 2) * sizeof *f);
    if (f == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory in a grammar matcher");
    fm_status result = FM_STATUS_OK;
    const fm_trie_node *nd = tr->nodes;
    fm_earley *e = &m->e;
    size_t sp = 1;
    f[0] = begin, f[1] = end;
    while (sp > 0) {
        uint32_t *top = &f[2 * (sp - 1)];
        if (top[0] >= top[1]) {
            if (--sp > 0) fm_earley_pop(e); /* the byte of the node these children hang from */
            continue;
        }
        const uint32_t i = top[0];
        top[0] = nd[i].end;
        if (!fm_byteset_has(fm_earley_next_bytes(e), nd[i].byte)) continue;
        const int r = fm_earley_push(e, nd[i].byte);
        if (r < 0) {
            while (--sp > 0) fm_earley_pop(e);
            free(f);
            return fm_error(FM_STATUS_NO_MEMORY, "out of memory in a grammar matcher");
        }
        if (r == 0) continue;
        for (int32_t t = nd[i].tok; t >= 0; t = tr->same_next[t]) set_bit(mask, t);
        if (i + 1 < nd[i].end) {
            const fm_eitem *lx = sole_lexeme(m);
            if (lx != NULL) { /* inside a terminal: step its DFA, not the parser */
                const fm_gdfa *d = &m->g->dfas[FM_GS_VAL(m->g->syms[lx->dot])];
                const uint32_t q = lx->q;
                const size_t saved = sp;
                fm_status st = dfa_walk(m, mask, i + 1, nd[i].end, d, q);
                sp = saved;
                fm_earley_pop(e);
                if (st) {
                    while (--sp > 0) fm_earley_pop(e);
                    free(f);
                    return st;
                }
                continue;
            }
            f[2 * sp] = i + 1, f[2 * sp + 1] = nd[i].end;
            sp++;
        } else {
            fm_earley_pop(e);
        }
    }
    free(f);
    return result;
}

/* The subtree walk inside a terminal: nodes [begin, end) stepped through
 * the DFA alone from q0; where it may end (an accepting state with children
 * below), the bytes from `begin`'s parent on are pushed to the parser and
 * the children walked with it. */
static fm_status dfa_walk(fm_matcher *m, uint32_t *mask, uint32_t begin, uint32_t end, const fm_gdfa *d, uint32_t q0) {
    const fm_token_trie *tr = m->trie;
    const fm_trie_node *nd = tr->nodes;
    uint32_t *stk = malloc(3 * ((size_t)tr->max_depth + 2) * sizeof *stk);
    uint8_t *path = malloc((size_t)tr->max_depth + 2);
    if (stk == NULL || path == NULL) {
        free(stk);
        free(path);
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory in a grammar matcher");
    }
    fm_status st = FM_STATUS_OK;
    size_t sp = 1;
    stk[0] = begin, stk[1] = end, stk[2] = q0;
    while (sp > 0 && !st) {
        uint32_t *top = &stk[3 * (sp - 1)];
        if (top[0] >= top[1]) {
            sp--;
            continue;
        }
        const uint32_t i = top[0];
        top[0] = nd[i].end;
        const uint32_t nq = d->next[(size_t)top[2] * 256 + nd[i].byte];
        if (nq == FM_DFA_DEAD) continue;
        path[sp - 1] = nd[i].byte;
        for (int32_t t = nd[i].tok; t >= 0; t = tr->same_next[t]) set_bit(mask, t);
        if (i + 1 >= nd[i].end) continue;
        if (d->accept[nq]) { /* the terminal may end here: the parser walks what follows */
            uint32_t pushed = 0;
            int r = 1;
            while (pushed < sp && (r = fm_earley_push(&m->e, path[pushed])) == 1) pushed++;
            if (r == 1) st = walk(m, mask, i + 1, nd[i].end);
            while (pushed-- > 0) fm_earley_pop(&m->e);
            if (r < 0) st = fm_error(FM_STATUS_NO_MEMORY, "out of memory in a grammar matcher");
            continue; /* the parser's walk covered staying inside the terminal too */
        }
        uint32_t *nt = &stk[3 * sp];
        nt[0] = i + 1, nt[1] = nd[i].end, nt[2] = nq;
        sp++;
    }
    free(stk);
    free(path);
    return st;
}

/* --- the lexeme cache ---------------------------------------------------------
 * Inside a DFA terminal (a JSON string, a pattern) the parser's only
 * scanning item is the terminal's, at DFA state q: which tokens stay inside
 * the terminal depends on (terminal, q) alone. That part of the mask is
 * computed once, by a trie walk that steps the DFA only, and kept; the walk
 * also records the nodes where the terminal may end (exits). A later mask
 * at the same (terminal, q) copies the bits and walks with the parser only
 * below the exits - for a JSON string, the few tokens that hold its closing
 * quote. Every exit with the same accepting state leaves the parser in the
 * same set (nothing but the terminal's item moved inside it), so one
 * representative path per accepting state sets the parser up for all. */

static int cmp_exit(const void *a, const void *b) {
    const uint32_t *x = a, *y = b;
    return x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : (x[0] < y[0] ? -1 : x[0] > y[0]);
}

static lexcache *cache_find(fm_matcher *m, uint32_t dfa, uint32_t q) {
    for (size_t i = 0; i < m->n_cache; i++)
        if (m->cache[i].dfa == dfa && m->cache[i].q == q) return &m->cache[i];
    return NULL;
}

static void cache_free(lexcache *c) {
    free(c->mask);
    free(c->exits);
    free(c->paths);
}

static lexcache *cache_build(fm_matcher *m, const fm_gdfa *d, uint32_t dfa, uint32_t q0) {
    const fm_token_trie *tr = m->trie;
    const size_t nw = ((size_t)tr->n_vocab + 31) / 32;
    if (m->n_cache == LEXCACHE_MAX) { /* full: start over */
        for (size_t i = 0; i < m->n_cache; i++) cache_free(&m->cache[i]);
        m->n_cache = 0;
    }
    lexcache *c = &m->cache[m->n_cache];
    memset(c, 0, sizeof *c);
    c->dfa = dfa, c->q = q0;
    c->mask = calloc(nw, sizeof *c->mask);
    uint32_t *stk = malloc(3 * ((size_t)tr->max_depth + 2) * sizeof *stk); /* cursor, end, dfa state */
    uint8_t *path = malloc((size_t)tr->max_depth + 2);
    size_t cap_exits = 0, cap_paths = 0;
    if (c->mask == NULL || stk == NULL || path == NULL) goto fail;
    const fm_trie_node *nd = tr->nodes;
    size_t sp = 1;
    stk[0] = 1, stk[1] = nd[0].end, stk[2] = q0;
    while (sp > 0) {
        uint32_t *top = &stk[3 * (sp - 1)];
        if (top[0] >= top[1]) {
            sp--;
            continue;
        }
        const uint32_t i = top[0];
        top[0] = nd[i].end;
        const uint32_t nq = d->next[(size_t)top[2] * 256 + nd[i].byte];
        if (nq == FM_DFA_DEAD) continue;
        path[sp - 1] = nd[i].byte;
        for (int32_t t = nd[i].tok; t >= 0; t = tr->same_next[t]) set_bit(c->mask, t);
        if (d->accept[nq] && i + 1 < nd[i].end) {
            /* an exit: (node, accepting state), and a path to it for the first of each state */
            uint32_t *ex = fm_grow(c->exits, &cap_exits, 2 * (c->n_exits + 1), sizeof *ex, 64);
            if (ex == NULL) goto fail;
            c->exits = ex;
            ex[2 * c->n_exits] = i, ex[2 * c->n_exits + 1] = nq;
            c->n_exits++;
            int seen = 0;
            for (size_t k = 0; k < c->n_paths && !seen; k++) seen = c->paths[k].q == nq;
            if (!seen) {
                lexpath *pp = fm_grow(c->paths, &cap_paths, c->n_paths + 1, sizeof *pp, 4);
                if (pp == NULL) goto fail;
                c->paths = pp;
                pp[c->n_paths].q = nq;
                pp[c->n_paths].len = (uint32_t)sp;
                memcpy(pp[c->n_paths].bytes, path, sp < sizeof pp->bytes ? sp : sizeof pp->bytes);
                if (sp > sizeof pp->bytes) goto fail; /* a path longer than any token: never */
                c->n_paths++;
            }
        }
        if (i + 1 < nd[i].end) {
            uint32_t *nt = &stk[3 * sp];
            nt[0] = i + 1, nt[1] = nd[i].end, nt[2] = nq;
            sp++;
        }
    }
    if (c->n_exits) qsort(c->exits, c->n_exits, 2 * sizeof *c->exits, cmp_exit);
    free(stk);
    free(path);
    m->n_cache++;
    return c;
fail:
    free(stk);
    free(path);
    cache_free(c);
    return NULL;
}

/* The lexeme path: 1 done, 0 not applicable (walk normally), -1 error. */
static int lexeme_mask(fm_matcher *m, uint32_t *mask, size_t n_words) {
    fm_earley *e = &m->e;
    const fm_grammar *g = m->g;
    const uint32_t k = e->n_sets - 1;
    const fm_eitem *one = NULL;
    for (uint32_t i = e->set_start[k]; i < e->set_start[k + 1]; i++) {
        const uint32_t kind = FM_GS_KIND(g->syms[e->items[i].dot]);
        if (kind == FM_GS_TERM) return 0;
        if (kind == FM_GS_DFA) {
            if (one != NULL) return 0;
            one = &e->items[i];
        }
    }
    if (one == NULL) return 0;
    const uint32_t dfa = FM_GS_VAL(g->syms[one->dot]);
    const fm_gdfa *d = &g->dfas[dfa];
    if (d->accept[one->q]) return 0; /* it may end right here: the parser is involved */
    lexcache *c = cache_find(m, dfa, one->q);
    if (c == NULL && (c = cache_build(m, d, dfa, one->q)) == NULL) return 0;
    memcpy(mask, c->mask, ((size_t)m->trie->n_vocab + 31) / 32 * sizeof *mask);
    (void)n_words;
    /* below the exits: the parser, set up once per accepting state */
    size_t x = 0;
    for (size_t p = 0; p < c->n_paths; p++) {
        const lexpath *lp = &c->paths[p];
        uint32_t pushed = 0;
        int r = 1;
        for (; pushed < lp->len && (r = fm_earley_push(e, lp->bytes[pushed])) == 1; pushed++) {
        }
        if (r == 1) {
            while (x < c->n_exits && c->exits[2 * x + 1] < lp->q) x++;
            for (; x < c->n_exits && c->exits[2 * x + 1] == lp->q; x++) {
                const uint32_t node = c->exits[2 * x];
                if (walk(m, mask, node + 1, m->trie->nodes[node].end)) r = -1;
            }
        }
        while (pushed-- > 0) fm_earley_pop(e);
        if (r < 0) return -1;
        if (r == 0) return 0; /* cannot happen: the path is one the DFA took; walk normally */
    }
    return 1;
}

fm_status fm_matcher_fill_mask(fm_matcher *m, uint32_t *mask, size_t n_words) {
    fm_error_clear();
    if (m == NULL || mask == NULL)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_matcher_fill_mask: NULL argument");
    const fm_token_trie *tr = m->trie;
    const size_t need = ((size_t)tr->n_vocab + 31) / 32;
    if (n_words < need)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_matcher_fill_mask: %zu words, the vocabulary needs %zu", n_words,
                        need);
    memset(mask, 0, n_words * sizeof *mask);
    if (m->finished) return FM_STATUS_OK;
    fm_earley *e = &m->e;
    const int lx = lexeme_mask(m, mask, n_words);
    if (lx < 0) return fm_error(FM_STATUS_NO_MEMORY, "out of memory in a grammar matcher");
    if (lx == 0) {
        memset(mask, 0, n_words * sizeof *mask);
        fm_status st = walk(m, mask, 1, tr->nodes[0].end);
        if (st) return st;
    }
    if (fm_earley_accepting(e)) {
        size_t n = 0;
        fm_token ids[64];
        if (fm_tokenizer_eog_tokens(m->tok, ids, 64, &n) == FM_STATUS_OK)
            for (size_t k = 0; k < n; k++)
                if (ids[k] < tr->n_vocab) set_bit(mask, ids[k]);
        fm_error_clear();
    }
    return FM_STATUS_OK;
}
