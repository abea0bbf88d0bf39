/* SentencePiece BPE: start from one symbol per UTF-8 character, repeatedly
 * merge the adjacent pair whose concatenation is the highest-scoring token
 * (leftmost on ties), then map each symbol to its token or, failing that,
 * to byte tokens. A binary heap keeps it O(n log n). */
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/utf8.h"
#include "vocab.h"

typedef struct symbol {
    int32_t prev, next; /* -1 at the ends */
    uint32_t off, len;  /* bytes of the text; len 0 once merged away */
} symbol;

typedef struct bigram {
    float score;
    int32_t left, right;
    uint32_t len; /* len of left+right when queued: stale if it changed */
    fm_token id;
} bigram;

typedef struct heap {
    bigram *v;
    size_t n, cap;
} heap;

/* a before b: higher score, then further left */
static int before(const bigram *a, const bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static int heap_push(heap *h, bigram x) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        bigram *v = realloc(h->v, cap * sizeof *v);
        if (v == NULL) return 0;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&x, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = x;
    return 1;
}

static bigram heap_pop(heap *h) {
    bigram top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && before(&h->v[c + 1], &h->v[c])) c++;
        if (!before(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0) h->v[i] = last;
    return top;
}

static int try_pair(const fm_tokenizer *tok, const char *text, const symbol *sym, int32_t l, int32_t r,
                    heap *h) {
    if (l < 0 || r < 0) return 1;
    fm_token id = fm_vocab_lookup(tok, text + sym[l].off, sym[l].len + sym[r].len);
    if (id < 0) return 1;
    bigram b = {tok->tokens[id].score, l, r, sym[l].len + sym[r].len, id};
    return heap_push(h, b);
}

static void emit(fm_token id, fm_token *out, size_t cap, size_t *n) {
    if (*n < cap) out[*n] = id;
    (*n)++;
}

fm_status fm_spm_encode(const fm_tokenizer *tok, const char *text, size_t len, fm_token *out, size_t cap,
                        size_t *n) {
    if (len == 0) return FM_STATUS_OK;
    symbol *sym = malloc(len * sizeof *sym);
    heap h = {0};
    if (sym == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory tokenizing %zu bytes", len);
    int32_t n_sym = 0;
    for (size_t off = 0; off < len; n_sym++) {
        size_t cl = fm_utf8_lead_len((uint8_t)text[off]);
        if (cl > len - off) cl = len - off;
        sym[n_sym] = (symbol){n_sym - 1, -1, (uint32_t)off, (uint32_t)cl};
        if (n_sym > 0) sym[n_sym - 1].next = n_sym;
        off += cl;
    }
    int ok = 1;
    for (int32_t i = 1; i < n_sym && ok; i++) ok = try_pair(tok, text, sym, i - 1, i, &h);
    while (ok && h.n > 0) {
        bigram b = heap_pop(&h);
        symbol *l = &sym[b.left], *r = &sym[b.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != b.len) continue; /* stale */
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = b.left;
        ok = try_pair(tok, text, sym, l->prev, b.left, &h) && try_pair(tok, text, sym, b.left, l->next, &h);
    }
    free(h.v);
    if (!ok) {
        free(sym);
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory tokenizing %zu bytes", len);
    }
    for (int32_t i = 0; i >= 0 && i < n_sym; i = sym[i].next) {
        /* A merged symbol is always a token; a lone character may not be. */
        fm_token id = fm_vocab_lookup(tok, text + sym[i].off, sym[i].len);
        if (id >= 0) {
            emit(id, out, cap, n);
            continue;
        }
        for (uint32_t j = 0; j < sym[i].len; j++) {
            fm_token bt = tok->byte_token[(uint8_t)text[sym[i].off + j]];
            if (bt < 0) bt = tok->special[FM_SPECIAL_UNK];
            if (bt >= 0) emit(bt, out, cap, n);
        }
    }
    free(sym);
    return FM_STATUS_OK;
}
