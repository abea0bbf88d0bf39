/* A per-call memo of the pieces (BPE) or words (SentencePiece) already
 * encoded: text repeats its words, so after the first occurrence a piece
 * costs one probe here instead of a lookup in the whole vocabulary or a
 * merge. Keys and ids are copied into the memo's own arenas; the table
 * grows with the number of distinct pieces. Created only for long inputs,
 * and on allocation failure it simply stops memoizing. */
#ifndef FM_TOKENIZER_PIECE_CACHE_H
#define FM_TOKENIZER_PIECE_CACHE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"
#include "strmap.h"

#define FM_PIECE_CACHE_KEY 64 /* longest piece kept, bytes */

typedef struct fm_piece_slot {
    uint64_t head;    /* first 8 bytes of the key */
    uint32_t len;     /* 0: empty */
    uint32_t key_off; /* key bytes in keys */
    union {
        uint32_t ids_off; /* ids in ids */
        fm_token id;      /* n == 1: the id itself (most pieces), no second load */
    } u;
    uint32_t n;
} fm_piece_slot;

typedef struct fm_piece_cache {
    fm_piece_slot *slots; /* NULL: disabled */
    uint32_t mask, used;
    char *keys;
    size_t keys_n, keys_cap;
    fm_token *ids;
    size_t ids_n, ids_cap;
} fm_piece_cache;

/* The same hash as the vocabulary maps (strmap.h). */
static inline uint64_t fm_piece_hash(const char *s, size_t n, uint64_t *head) {
    *head = fm_strmap_head(s, n);
    return fm_strmap_hash(*head, s, n);
}

/* The slot holding s[0..n), or the empty slot where it would go. */
static inline fm_piece_slot *fm_piece_cache_find(const fm_piece_cache *c, const char *s, size_t n) {
    uint64_t head;
    uint32_t i = (uint32_t)fm_piece_hash(s, n, &head) & c->mask;
    for (;; i = (i + 1) & c->mask) {
        fm_piece_slot *e = &c->slots[i];
        if (e->len == 0) return e;
        if (e->len == n && e->head == head && (n <= 8 || memcmp(c->keys + e->key_off + 8, s + 8, n - 8) == 0))
            return e;
    }
}

/* The ids s[0..n) encoded to, or NULL; *count their number. */
static inline const fm_token *fm_piece_cache_get(const fm_piece_cache *c, const char *s, size_t n, uint32_t *count) {
    if (c->slots == NULL || n == 0 || n > FM_PIECE_CACHE_KEY) return NULL;
    const fm_piece_slot *e = fm_piece_cache_find(c, s, n);
    if (e->len == 0) return NULL;
    *count = e->n;
    return e->n == 1 ? &e->u.id : c->ids + e->u.ids_off;
}

static inline void fm_piece_cache_free(fm_piece_cache *c) {
    free(c->slots);
    free(c->keys);
    free(c->ids);
    memset(c, 0, sizeof *c);
}

static inline int fm_piece_cache_grow(fm_piece_cache *c) {
    const uint32_t size = (c->mask + 1) * 2;
    fm_piece_slot *old = c->slots;
    const uint32_t old_size = c->mask + 1;
    c->slots = calloc(size, sizeof *c->slots);
    if (c->slots == NULL) {
        c->slots = old;
        return 0;
    }
    c->mask = size - 1;
    for (uint32_t i = 0; i < old_size; i++) {
        if (old[i].len == 0) continue;
        fm_piece_slot *e = fm_piece_cache_find(c, c->keys + old[i].key_off, old[i].len);
        *e = old[i];
    }
    free(old);
    return 1;
}

static inline int fm_piece_cache_reserve(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 1;
    size_t n = *cap ? *cap * 2 : 4096;
    while (n < need) n *= 2;
    if (n > UINT32_MAX) return 0;
    void *q = realloc(*p, n * elem);
    if (q == NULL) return 0;
    *p = q;
    *cap = n;
    return 1;
}

static inline void fm_piece_cache_put(fm_piece_cache *c, const char *s, size_t n, const fm_token *ids, size_t n_ids) {
    if (c->slots == NULL || n == 0 || n > FM_PIECE_CACHE_KEY) return;
    if (c->used * 2 >= c->mask + 1 && !fm_piece_cache_grow(c)) return;
    const size_t n_stored = n_ids == 1 ? 0 : n_ids;
    if (!fm_piece_cache_reserve((void **)&c->keys, &c->keys_cap, c->keys_n + n, 1) ||
        !fm_piece_cache_reserve((void **)&c->ids, &c->ids_cap, c->ids_n + n_stored + 1, sizeof *c->ids))
        return;
    fm_piece_slot *e = fm_piece_cache_find(c, s, n);
    if (e->len != 0) return;
    memcpy(c->keys + c->keys_n, s, n);
    uint64_t head = 0;
    memcpy(&head, s, n < 8 ? n : 8);
    *e = (fm_piece_slot){head, (uint32_t)n, (uint32_t)c->keys_n, {(uint32_t)c->ids_n}, (uint32_t)n_ids};
    if (n_ids == 1) e->u.id = ids[0];
    else memcpy(c->ids + c->ids_n, ids, n_ids * sizeof *ids);
    c->keys_n += n;
    c->ids_n += n_stored;
    c->used++;
}

/* Worth having only for long inputs; without it everything still works. */
static inline void fm_piece_cache_init(fm_piece_cache *c, size_t text_len) {
    memset(c, 0, sizeof *c);
    if (text_len < 4096) return;
    c->slots = calloc(4096, sizeof *c->slots);
    c->mask = 4095;
}

#endif
