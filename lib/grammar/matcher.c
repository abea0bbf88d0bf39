/* A matcher: one output's position in a grammar, and the token mask there.
 * The mask walks the token trie depth first, pushing one Earley set per
 * byte and popping it on the way back, so tokens that share a prefix share
 * its sets; a byte no item can scan prunes its whole subtree before any
 * set is built. */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/grow.h"
#include "../tokenizer/token_trie.h"
#include "grammar.h"
#include "lexeme_cache.h"

/* The matcher's own index of the shared caches it met, by (terminal, state). */
typedef struct lexref {
    uint32_t dfa, q;
    fm_lexcache *c;
} lexref;

#define LEXCACHE_MAX 64 /* (terminal, state) pairs indexed per matcher */
#define WALK_POOL 16

struct fm_matcher {
    const fm_grammar *g;
    const fm_tokenizer *tok;
    const fm_token_trie *trie;
    fm_earley e;
    int finished; /* an end-of-generation token was accepted */
    /* stacks for the trie walks, kept for reuse: walks nest (a terminal's
     * exits walk again), each needs its own */
    uint32_t *stacks[WALK_POOL];
    size_t n_stacks, stack_words;
    lexref cache[LEXCACHE_MAX];
    size_t n_cache;
};

fm_status fm_matcher_new(const fm_grammar *g, const fm_tokenizer *tok, fm_matcher **out) {
    fm_error_clear();
    if (g == NULL || tok == NULL || out == NULL)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_matcher_new: NULL argument");
    *out = NULL;
    const fm_token_trie *trie = fm_token_trie_get(tok);
    if (trie == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the vocabulary's token trie");
    fm_matcher *m = fm_calloc(1, sizeof *m);
    if (m == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a grammar matcher");
    fm_status st = fm_earley_init(&m->e, g);
    if (st) {
        fm_earley_free(&m->e); /* init may fail after allocating */
        free(m);
        return st;
    }
    m->g = g, m->tok = tok, m->trie = trie;
    m->stack_words = 4 * ((size_t)trie->max_depth + 2);
    fm_grammar_ref(g);
    *out = m;
    return FM_STATUS_OK;
}

void fm_matcher_free(fm_matcher *m) {
    if (m == NULL) return;
    fm_earley_free(&m->e);
    for (size_t i = 0; i < m->n_stacks; i++) free(m->stacks[i]);
    for (size_t i = 0; i < m->n_cache; i++) fm_lexcache_release(m->cache[i].c);
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
    fm_matcher *c = fm_calloc(1, sizeof *c);
    if (c == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory cloning a grammar matcher");
    fm_status st = fm_earley_copy(&c->e, &m->e);
    if (st) {
        free(c);
        return st;
    }
    c->g = m->g, c->tok = m->tok, c->trie = m->trie, c->finished = m->finished;
    c->stack_words = m->stack_words;
    fm_grammar_ref(m->g);
    *out = c;
    return FM_STATUS_OK;
}

int fm_matcher_can_end(const fm_matcher *m) { return m != NULL && (m->finished || fm_earley_accepting(&m->e)); }

/* Pushes n bytes; on failure pops what it pushed. 1 ok, 0 refused, -1 OOM
 * or a parser limit. */
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
    if (r < 0) return fm_earley_failed(&m->e);
    if (r == 0) return fm_error(FM_STATUS_INVALID_ARGUMENT, "the grammar does not allow token %d here", (int)t);
    return FM_STATUS_OK;
}

fm_status fm_matcher_accept_text(fm_matcher *m, const char *text, size_t len) {
    fm_error_clear();
    if (m == NULL || (text == NULL && len > 0))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_matcher_accept_text: NULL argument");
    const int r = m->finished ? 0 : push_bytes(&m->e, (const uint8_t *)text, len);
    if (r < 0) return fm_earley_failed(&m->e);
    if (r == 0) return fm_error(FM_STATUS_INVALID_ARGUMENT, "the grammar does not allow this text here");
    return FM_STATUS_OK;
}

static void set_bit(uint32_t *mask, int32_t t) { mask[t >> 5] |= 1u << (t & 31); }

static uint32_t *stack_get(fm_matcher *m) {
    if (m->n_stacks > 0) return m->stacks[--m->n_stacks];
    return fm_malloc(m->stack_words * sizeof(uint32_t));
}

static void stack_put(fm_matcher *m, uint32_t *s) {
    if (m->n_stacks < WALK_POOL) m->stacks[m->n_stacks++] = s;
    else free(s);
}

#define WALK_LEXEMES 4

/* The scanning items of the parser's top set when every one is a DFA
 * terminal's (at most WALK_LEXEMES distinct states), else 0. A token that
 * goes on from such a set stays inside one of those terminals or leaves
 * one where it accepts (where it accepts here, what follows is in the set
 * too), so each is walked through its DFA alone, not byte by byte through
 * the parser: a key's name beside any other key, whitespace beside the
 * value that follows it. */
static size_t lexemes(const fm_matcher *m, fm_eitem *out) {
    const fm_earley *e = &m->e;
    const fm_grammar *g = m->g;
    const uint32_t k = e->n_sets - 1;
    size_t n = 0;
    for (uint32_t i = e->set_start[k]; i < e->set_start[k + 1]; i++) {
        const fm_eitem it = e->items[i];
        const uint32_t kind = FM_GS_KIND(g->syms[it.dot]);
        if (kind == FM_GS_TERM) return 0;
        if (kind != FM_GS_DFA) continue;
        size_t j = 0;
        while (j < n && (g->syms[out[j].dot] != g->syms[it.dot] || out[j].q != it.q)) j++;
        if (j < n) continue;
        if (n == WALK_LEXEMES) return 0;
        out[n++] = it;
    }
    return n;
}

static fm_status dfa_walk(fm_matcher *m, uint32_t *mask, uint32_t begin, uint32_t end, const fm_gdfa *d, uint32_t q0);
static fm_status lexemes_walk(fm_matcher *m, uint32_t *mask, uint32_t begin, uint32_t end, const fm_eitem *x,
                             size_t n);

/* Walks the trie nodes [begin, end) (siblings and their subtrees) from the
 * parser's current set, setting the bits of every token that can come;
 * the top set's items at skip[0..n_skip) do not scan the first byte. */
static fm_status walk_except(fm_matcher *m, uint32_t *mask, uint32_t begin, uint32_t end, const uint32_t *skip,
                             size_t n_skip) {
    const fm_token_trie *tr = m->trie;
    uint32_t *f = stack_get(m); /* (cursor, end) pairs */
    if (f == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory in a grammar matcher");
    fm_status st = FM_STATUS_OK;
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
        const int r = sp == 1 ? fm_earley_push_except(e, nd[i].byte, skip, n_skip) : fm_earley_push(e, nd[i].byte);
        if (r < 0) {
            st = fm_earley_failed(&m->e);
            break;
        }
        if (r == 0) continue;
        for (int32_t t = nd[i].tok; t >= 0; t = tr->same_next[t]) set_bit(mask, t);
        if (i + 1 >= nd[i].end) {
            fm_earley_pop(e);
            continue;
        }
        fm_eitem lx[WALK_LEXEMES];
        const size_t n_lx = lexemes(m, lx);
        if (n_lx > 0) { /* inside terminals: step their DFAs, not the parser */
            st = lexemes_walk(m, mask, i + 1, nd[i].end, lx, n_lx);
            fm_earley_pop(e);
            if (st) break;
            continue;
        }
        f[2 * sp] = i + 1, f[2 * sp + 1] = nd[i].end;
        sp++;
    }
    while (sp-- > 1) fm_earley_pop(e);
    stack_put(m, f);
    return st;
}

static fm_status walk(fm_matcher *m, uint32_t *mask, uint32_t begin, uint32_t end) {
    return walk_except(m, mask, begin, end, NULL, 0);
}

/* The nodes [begin, end) through each of the lexemes x[0..n). */
static fm_status lexemes_walk(fm_matcher *m, uint32_t *mask, uint32_t begin, uint32_t end, const fm_eitem *x,
                             size_t n) {
    fm_status st = FM_STATUS_OK;
    for (size_t k = 0; k < n && !st; k++)
        st = dfa_walk(m, mask, begin, end, &m->g->dfas[FM_GS_VAL(m->g->syms[x[k].dot])], x[k].q);
    return st;
}

/* The subtree walk inside a terminal: nodes [begin, end) stepped through
 * the DFA alone from q0; where it may end (an accepting state with children
 * below), the bytes from `begin`'s parent on are pushed to the parser and
 * the children walked with it. */
static fm_status dfa_walk(fm_matcher *m, uint32_t *mask, uint32_t begin, uint32_t end, const fm_gdfa *d, uint32_t q0) {
    const fm_token_trie *tr = m->trie;
    const fm_trie_node *nd = tr->nodes;
    uint32_t *stk = stack_get(m); /* (cursor, end, dfa state) triples, then the path's bytes */
    if (stk == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory in a grammar matcher");
    uint8_t *path = (uint8_t *)(stk + 3 * ((size_t)tr->max_depth + 2));
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
        const uint32_t nq = fm_gdfa_step(d, top[2], nd[i].byte);
        if (nq == FM_DFA_DEAD) continue;
        path[sp - 1] = nd[i].byte;
        for (int32_t t = nd[i].tok; t >= 0; t = tr->same_next[t]) set_bit(mask, t);
        if (i + 1 >= nd[i].end) continue;
        if (fm_gdfa_accepts(d, nq)) { /* the terminal may end here: the parser walks what follows */
            uint32_t pushed = 0;
            int r = 1;
            while (pushed < sp && (r = fm_earley_push(&m->e, path[pushed])) == 1) pushed++;
            if (r == 1) st = walk(m, mask, i + 1, nd[i].end);
            while (pushed-- > 0) fm_earley_pop(&m->e);
            if (r < 0) st = fm_earley_failed(&m->e);
            continue; /* the parser's walk covered staying inside the terminal too */
        }
        uint32_t *nt = &stk[3 * sp];
        nt[0] = i + 1, nt[1] = nd[i].end, nt[2] = nq;
        sp++;
    }
    stack_put(m, stk);
    return st;
}

/* --- lexeme masks ---------------------------------------------------------------
 * Inside a DFA terminal (a JSON string, a number, a pattern) which tokens
 * stay inside it depends on (terminal, state q) alone: a lexeme cache
 * (lexeme_cache.h) holds them, and the trie nodes where the terminal may
 * end with more of a token below (exits). The parse after the terminal
 * ends does not depend on where it ended: its item X moves past it to
 * (X.dot + 1, X.origin) whatever the bytes were. So the parser is set up
 * once in that state, with no byte consumed (fm_earley_push_items), and
 * only the children of the exits are walked from it - for a JSON string,
 * the few tokens that go on after its closing quote.
 *
 * A set may scan with several items: the literal names beside "any other
 * key" in an object, or the whitespace and the number that may start
 * after a colon, or the comma that may follow a number still growing.
 * The mask is then the union of each DFA item's part (as above) and of a
 * walk whose first byte only the other items scan. */

#define MAX_LEXEMES 16
#define DELTA_MAX 24 /* as lexeme_cache.c */

/* Walks the children of all the nodes parents[0..n) from the one parser
 * state, as if they hung from one node: children with the same byte share
 * a push (the exits of a JSON string mostly go on with the same few bytes,
 * a comma, a brace, a space). */
static fm_status walk_group(fm_matcher *m, uint32_t *mask, const uint32_t *parents, size_t n) {
    const fm_token_trie *tr = m->trie;
    const fm_trie_node *nd = tr->nodes;
    if (n == 0) return FM_STATUS_OK;
    if (n == 1) return walk(m, mask, parents[0] + 1, nd[parents[0]].end);
    fm_earley *e = &m->e;
    /* the children the parser can take, bucketed by byte */
    const fm_byteset next = *fm_earley_next_bytes(e);
    size_t cap = 0, count[257] = {0};
    for (size_t i = 0; i < n; i++)
        for (uint32_t j = parents[i] + 1; j < nd[parents[i]].end; j = nd[j].end)
            if (fm_byteset_has(&next, nd[j].byte)) count[nd[j].byte + 1]++, cap++;
    if (cap == 0) return FM_STATUS_OK;
    for (unsigned b = 0; b < 256; b++) count[b + 1] += count[b];
    uint32_t *kids = fm_malloc(2 * cap * sizeof *kids), *grp = kids + cap;
    if (kids == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory in a grammar matcher");
    size_t fill[256];
    memcpy(fill, count, sizeof fill);
    for (size_t i = 0; i < n; i++)
        for (uint32_t j = parents[i] + 1; j < nd[parents[i]].end; j = nd[j].end)
            if (fm_byteset_has(&next, nd[j].byte)) kids[fill[nd[j].byte]++] = j;
    fm_status st = FM_STATUS_OK;
    for (unsigned b = 0; b < 256 && !st; b++) {
        if (count[b] == count[b + 1]) continue;
        const int r = fm_earley_push(e, (uint8_t)b);
        if (r < 0) st = fm_earley_failed(&m->e);
        if (r <= 0) continue;
        size_t inner = 0;
        for (size_t k = count[b]; k < count[b + 1]; k++) {
            const uint32_t j = kids[k];
            for (int32_t t = nd[j].tok; t >= 0; t = tr->same_next[t]) set_bit(mask, t);
            if (j + 1 < nd[j].end) grp[inner++] = j;
        }
        fm_eitem lx[WALK_LEXEMES];
        const size_t n_lx = lexemes(m, lx);
        if (n_lx > 0) { /* inside terminals: step their DFAs, not the parser */
            for (size_t k = 0; k < inner && !st; k++) st = lexemes_walk(m, mask, grp[k] + 1, nd[grp[k]].end, lx, n_lx);
        } else {
            st = walk_group(m, mask, grp, inner);
        }
        fm_earley_pop(e);
    }
    free(kids);
    return st;
}

static const fm_lexcache *cache_get(fm_matcher *m, uint32_t dfa, uint32_t q) {
    for (size_t i = 0; i < m->n_cache; i++)
        if (m->cache[i].dfa == dfa && m->cache[i].q == q) return m->cache[i].c;
    /* a state of the same terminal met before that steps alike on most
     * first bytes: its cache is most of this one */
    const fm_gdfa *d = &m->g->dfas[dfa];
    const lexref *base = NULL;
    unsigned best = DELTA_MAX + 1;
    for (size_t i = 0; i < m->n_cache && best > 1; i++) {
        if (m->cache[i].dfa != dfa) continue;
        const unsigned n = fm_lexcache_delta(d, q, m->cache[i].q);
        if (n < best) best = n, base = &m->cache[i];
    }
    fm_lexcache *c = fm_lexcache_get(m->trie, d, q, base ? base->c : NULL, base ? base->q : 0);
    if (c == NULL) return NULL;
    if (m->n_cache == LEXCACHE_MAX) { /* full: start over */
        for (size_t i = 0; i < m->n_cache; i++) fm_lexcache_release(m->cache[i].c);
        m->n_cache = 0;
    }
    m->cache[m->n_cache++] = (lexref){dfa, q, c};
    return c;
}

/* The tokens whose parse starts inside the terminal of item x. */
static fm_status lexeme_part(fm_matcher *m, uint32_t *mask, fm_eitem x) {
    const uint32_t dfa = FM_GS_VAL(m->g->syms[x.dot]);
    const fm_lexcache *c = cache_get(m, dfa, x.q);
    if (c == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a grammar lexeme cache");
    const size_t nw = ((size_t)m->trie->n_vocab + 31) / 32;
    for (size_t w = 0; w < nw; w++) mask[w] |= c->mask[w];
    if (c->n_exits == 0) return FM_STATUS_OK;
    const fm_eitem after = {x.dot + 1, x.origin, 0};
    const int r = fm_earley_push_items(&m->e, &after, 1);
    if (r < 0) return fm_earley_failed(&m->e);
    const fm_status st = walk_group(m, mask, c->exits, c->n_exits);
    fm_earley_pop(&m->e);
    return st;
}

/* 1 done, 0 no DFA item scans here (walk normally), -1 error. */
static int lexeme_mask(fm_matcher *m, uint32_t *mask, fm_status *st) {
    const fm_earley *e = &m->e;
    const fm_grammar *g = m->g;
    const uint32_t k = e->n_sets - 1;
    fm_eitem x[MAX_LEXEMES];
    uint32_t at[MAX_LEXEMES];
    size_t n = 0, n_term = 0;
    for (uint32_t i = e->set_start[k]; i < e->set_start[k + 1]; i++) {
        const uint32_t kind = FM_GS_KIND(g->syms[e->items[i].dot]);
        if (kind == FM_GS_TERM) n_term++;
        else if (kind == FM_GS_DFA) {
            if (n == MAX_LEXEMES) return 0;
            x[n] = e->items[i], at[n++] = i;
        }
    }
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if ((*st = lexeme_part(m, mask, x[i])) != FM_STATUS_OK) return -1;
    if (n_term > 0 && (*st = walk_except(m, mask, 1, m->trie->nodes[0].end, at, n)) != FM_STATUS_OK) return -1;
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
    fm_status lst = FM_STATUS_OK;
    const int lx = lexeme_mask(m, mask, &lst);
    if (lx < 0) return lst;
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
