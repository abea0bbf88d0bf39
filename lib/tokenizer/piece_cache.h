/* A per-call memo of short pieces already encoded. Text repeats its words,
 * so most pieces are found here, in a table small enough to stay in cache,
 * instead of being looked up in (or merged against) the whole vocabulary.
 * Direct-mapped: a colliding piece just replaces the old one. */
#ifndef FM_TOKENIZER_PIECE_CACHE_H
#define FM_TOKENIZER_PIECE_CACHE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"

#define FM_PIECE_CACHE_KEY 16 /* longest piece kept, bytes */
#define FM_PIECE_CACHE_IDS 10 /* most ids a kept piece encodes to */
#define FM_PIECE_CACHE_SLOTS 4096

typedef struct fm_piece_slot {
    uint64_t k0, k1;
    uint32_t len; /* 0: empty */
    uint32_t n;
    fm_token ids[FM_PIECE_CACHE_IDS];
} fm_piece_slot;

typedef struct fm_piece_cache {
    fm_piece_slot *slots;
} fm_piece_cache;

static inline void fm_piece_key(const char *s, size_t n, uint64_t *k0, uint64_t *k1) {
    *k0 = *k1 = 0;
    memcpy(k0, s, n < 8 ? n : 8);
    if (n > 8) memcpy(k1, s + 8, n - 8);
}

static inline fm_piece_slot *fm_piece_cache_slot(fm_piece_cache *c, uint64_t k0, uint64_t k1, size_t n) {
    uint64_t h = (k0 ^ (k1 * 0x9E3779B97F4A7C15ull) ^ n) * 0xff51afd7ed558ccdull;
    return &c->slots[(h >> 40) & (FM_PIECE_CACHE_SLOTS - 1)];
}

/* The slot holding s[0..n), or NULL. */
static inline const fm_piece_slot *fm_piece_cache_get(fm_piece_cache *c, const char *s, size_t n) {
    if (c->slots == NULL || n > FM_PIECE_CACHE_KEY) return NULL;
    uint64_t k0, k1;
    fm_piece_key(s, n, &k0, &k1);
    const fm_piece_slot *e = fm_piece_cache_slot(c, k0, k1, n);
    return e->len == n && e->k0 == k0 && e->k1 == k1 ? e : NULL;
}

static inline void fm_piece_cache_put(fm_piece_cache *c, const char *s, size_t n, const fm_token *ids, size_t n_ids) {
    if (c->slots == NULL || n > FM_PIECE_CACHE_KEY || n_ids > FM_PIECE_CACHE_IDS) return;
    uint64_t k0, k1;
    fm_piece_key(s, n, &k0, &k1);
    fm_piece_slot *e = fm_piece_cache_slot(c, k0, k1, n);
    e->k0 = k0;
    e->k1 = k1;
    e->len = (uint32_t)n;
    e->n = (uint32_t)n_ids;
    memcpy(e->ids, ids, n_ids * sizeof *ids);
}

/* Worth having only for long inputs; without it everything still works. */
static inline void fm_piece_cache_init(fm_piece_cache *c, size_t text_len) {
    c->slots = text_len >= 4096 ? calloc(FM_PIECE_CACHE_SLOTS, sizeof *c->slots) : NULL;
}

static inline void fm_piece_cache_free(fm_piece_cache *c) {
    free(c->slots);
    c->slots = NULL;
}

#endif
