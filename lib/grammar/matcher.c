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

struct fm_matcher {
    const fm_grammar *g;
    const fm_tokenizer *tok;
    const fm_token_trie *trie;
    fm_earley e;
    int finished; /* an end-of-generation token was accepted */
    uint32_t *frames; /* walk stack: (cursor, end) pairs */
    size_t cap_frames;
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
    uint32_t *f = fm_grow(m->frames, &m->cap_frames, 2 * ((size_t)tr->max_depth + 2), sizeof *f, 64);
    if (f == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory in a grammar matcher");
    m->frames = f;
    const fm_trie_node *nd = tr->nodes;
    fm_earley *e = &m->e;
    size_t sp = 0;
    f[0] = 1, f[1] = nd[0].end;
    sp = 1;
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
            return fm_error(FM_STATUS_NO_MEMORY, "out of memory in a grammar matcher");
        }
        if (r == 0) continue;
        for (int32_t t = nd[i].tok; t >= 0; t = tr->same_next[t]) set_bit(mask, t);
        if (i + 1 < nd[i].end) {
            f[2 * sp] = i + 1, f[2 * sp + 1] = nd[i].end;
            sp++;
        } else {
            fm_earley_pop(e);
        }
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
