/* Byte-level BPE of one pre-tokenized piece. Start from one symbol per byte,
 * then repeatedly merge the adjacent pair of lowest rank (leftmost among
 * equals) until no pair merges: what tiktoken and llama.cpp both do, here
 * with a binary heap and lazy deletion, so a piece of n bytes costs
 * O(n log n) instead of tiktoken's O(n^2).
 *
 * Ranks: a GGUF vocabulary lists its merges (rank = position in the list);
 * a tiktoken vocabulary merges a pair iff the concatenated bytes are a token,
 * whose rank is its id. Most pieces are whole tokens: when the vocabulary
 * guarantees BPE would rebuild that token (tiktoken always; GGUF per token,
 * see fm_bpe_mark_whole) the piece is looked up and done. */
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "vocab.h"

typedef struct sym {
    int32_t prev, next;
    uint32_t off, len; /* len 0: merged into its left neighbour */
    fm_token id;       /* -1: a byte the vocabulary has no token for */
} sym;

typedef struct bigram {
    int32_t rank;
    int32_t left, right;
    fm_token lid, rid, merged;
} bigram;

struct fm_bpe_scratch {
    sym *syms;
    size_t syms_cap;
    bigram *heap;
    size_t heap_n, heap_cap;
};

void fm_bpe_scratch_free(fm_bpe_scratch *sc) {
    if (sc == NULL) return;
    free(sc->syms);
    free(sc->heap);
    free(sc);
}

/* a before b: lower rank, then further left */
static inline int before(const bigram *a, const bigram *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static int heap_push(fm_bpe_scratch *sc, bigram x) {
    if (sc->heap_n == sc->heap_cap) {
        size_t cap = sc->heap_cap ? sc->heap_cap * 2 : 64;
        bigram *v = realloc(sc->heap, cap * sizeof *v);
        if (v == NULL) return 0;
        sc->heap = v;
        sc->heap_cap = cap;
    }
    size_t i = sc->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&x, &sc->heap[p])) break;
        sc->heap[i] = sc->heap[p];
        i = p;
    }
    sc->heap[i] = x;
    return 1;
}

static bigram heap_pop(fm_bpe_scratch *sc) {
    bigram *h = sc->heap;
    bigram top = h[0], last = h[--sc->heap_n];
    size_t i = 0, n = sc->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(&h[c + 1], &h[c])) c++;
        if (!before(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (n > 0) h[i] = last;
    return top;
}

static inline uint32_t mix64(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (uint32_t)k;
}

/* Whether symbols l and r merge, and into what at which rank. */
static int pair_merge(const fm_tokenizer *tok, const uint8_t *s, const sym *l, const sym *r, bigram *out) {
    if (l->id < 0 || r->id < 0) return 0;
    if (tok->merges != NULL) {
        const uint64_t key = (uint64_t)(uint32_t)l->id << 32 | (uint32_t)r->id;
        for (uint32_t h = mix64(key) & tok->merges_mask;; h = (h + 1) & tok->merges_mask) {
            const fm_merge *m = &tok->merges[h];
            if (m->key == UINT64_MAX) return 0;
            if (m->key == key) {
                out->rank = m->rank;
                out->merged = m->merged;
                return 1;
            }
        }
    }
    fm_token id = fm_vocab_lookup_bytes(tok, (const char *)s + l->off, l->len + r->len);
    if (id < 0) return 0;
    out->rank = id;
    out->merged = id;
    return 1;
}

static int add_pair(const fm_tokenizer *tok, const uint8_t *s, fm_bpe_scratch *sc, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return 1;
    bigram b;
    if (!pair_merge(tok, s, &sc->syms[l], &sc->syms[r], &b)) return 1;
    b.left = l;
    b.right = r;
    b.lid = sc->syms[l].id;
    b.rid = sc->syms[r].id;
    return heap_push(sc, b);
}

static inline void emit(fm_token id, fm_token *out, size_t cap, size_t *n) {
    if (*n < cap) out[*n] = id;
    (*n)++;
}

/* The merge loop proper, without the whole-token shortcut. */
static fm_status merge_piece(const fm_tokenizer *tok, const uint8_t *s, size_t len, fm_bpe_scratch *sc,
                             fm_token *out, size_t cap, size_t *n) {
    if (len > sc->syms_cap) {
        sym *v = realloc(sc->syms, len * sizeof *v);
        if (v == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory tokenizing a piece of %zu bytes", len);
        sc->syms = v;
        sc->syms_cap = len;
    }
    sym *y = sc->syms;
    for (size_t i = 0; i < len; i++)
        y[i] = (sym){(int32_t)i - 1, i + 1 < len ? (int32_t)i + 1 : -1, (uint32_t)i, 1, tok->byte_token[s[i]]};
    sc->heap_n = 0;
    int ok = 1;
    for (size_t i = 1; i < len && ok; i++) ok = add_pair(tok, s, sc, (int32_t)i - 1, (int32_t)i);
    while (ok && sc->heap_n > 0) {
        bigram b = heap_pop(sc);
        sym *l = &y[b.left], *r = &y[b.right];
        if (l->len == 0 || l->next != b.right || l->id != b.lid || r->id != b.rid) continue; /* stale */
        l->len += r->len;
        l->id = b.merged;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) y[r->next].prev = b.left;
        ok = add_pair(tok, s, sc, l->prev, b.left) && add_pair(tok, s, sc, b.left, l->next);
    }
    if (!ok) return fm_error(FM_STATUS_NO_MEMORY, "out of memory tokenizing a piece of %zu bytes", len);
    /* bytes without a token are dropped, as llama.cpp does */
    for (int32_t i = 0; i >= 0; i = y[i].next)
        if (y[i].id >= 0) emit(y[i].id, out, cap, n);
    return FM_STATUS_OK;
}

fm_status fm_bpe_encode(const fm_tokenizer *tok, const uint8_t *s, size_t len, fm_bpe_scratch **scratch,
                        fm_token *out, size_t cap, size_t *n) {
    if (len == 0) return FM_STATUS_OK;
    if (len == 1) {
        if (tok->byte_token[s[0]] >= 0) emit(tok->byte_token[s[0]], out, cap, n);
        return FM_STATUS_OK;
    }
    fm_token id = fm_vocab_lookup_bytes(tok, (const char *)s, len);
    if (id >= 0 && (tok->whole == NULL || tok->whole[id])) {
        emit(id, out, cap, n);
        return FM_STATUS_OK;
    }
    if (*scratch == NULL && (*scratch = calloc(1, sizeof **scratch)) == NULL)
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory tokenizing");
    return merge_piece(tok, s, len, *scratch, out, cap, n);
}

fm_status fm_bpe_mark_whole(fm_tokenizer *tok) {
    tok->whole = calloc((size_t)tok->n_vocab, 1);
    fm_bpe_scratch *sc = calloc(1, sizeof *sc);
    if (tok->whole == NULL || sc == NULL) {
        free(sc);
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the vocabulary");
    }
    fm_status s = FM_STATUS_OK;
    for (int32_t id = 0; id < tok->n_vocab && s == FM_STATUS_OK; id++) {
        const fm_vocab_token *t = &tok->tokens[id];
        if (t->blen == 0 || fm_vocab_lookup_bytes(tok, tok->bytes + t->boff, t->blen) != id) continue;
        fm_token got[2];
        size_t n = 0;
        s = merge_piece(tok, (const uint8_t *)tok->bytes + t->boff, t->blen, sc, got, 2, &n);
        tok->whole[id] = n == 1 && got[0] == id;
    }
    fm_bpe_scratch_free(sc);
    return s;
}
