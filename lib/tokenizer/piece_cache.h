/* A per-call memo of the pieces (BPE) or words (SentencePiece) already
 * encoded: text repeats its words, so after the first occurrence a piece
 * costs one probe here instead of a lookup in the whole vocabulary or a
 * merge. Keys and ids are copied into the memo's own arena; the table
 * grows with the number of distinct pieces. Created only for long inputs,
 * and on allocation failure it simply stops memoizing. */
#ifndef FM_TOKENIZER_PIECE_CACHE_H
#define FM_TOKENIZER_PIECE_CACHE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/grow.h"
#include "fm.h"
#include "strmap.h"

#define FM_PIECE_CACHE_KEY 64 /* longest piece kept, bytes */

/* 16 bytes, so that four share a cache line: on text with many distinct
 * words the table outgrows L2 and its probes are the memo's main cost. */
typedef struct fm_piece_slot {
    uint64_t head; /* first 8 bytes of the key */
    uint32_t v;    /* inline: the id; else the record's offset in arena */
    uint8_t len;   /* key bytes; 0: empty */
    uint8_t n;     /* ids */
    uint16_t hash; /* the key's hash, low 16 bits: growing a table of up to
                      65,536 slots does not read the keys again */
} fm_piece_slot;

/* A piece of up to 8 bytes that encodes to one id (most pieces) lives in
 * its slot alone; any other keeps a record in the arena: its ids, then the
 * bytes of its key past the first 8. */
static inline int fm_piece_inline(size_t len, size_t n_ids) { return n_ids == 1 && len <= 8; }

typedef struct fm_piece_cache {
    fm_piece_slot *slots; /* NULL: disabled */
    uint32_t mask, used;
    int many_pieces; /* text in other scripts: a new piece every few bytes */
    fm_token *arena; /* records, in fm_token units */
    size_t arena_n, arena_cap;
} fm_piece_cache;

/* A key's hash (the same as the vocabulary maps', strmap.h) and head,
 * computed once for a prefetch, the probe and the insertion. */
typedef struct fm_piece_key {
    uint64_t hash, head;
    fm_piece_slot *vacant; /* after a miss: the empty slot the probe ended
                              on, where fm_piece_cache_put goes unless the
                              table grew (nothing else is put in between) */
} fm_piece_key;

static inline fm_piece_key fm_piece_key_of(const char *s, size_t n) {
    fm_piece_key k;
    k.head = fm_strmap_head(s, n);
    k.hash = fm_strmap_hash(k.head, s, n);
    k.vacant = NULL;
    return k;
}

static inline int fm_piece_slot_is(const fm_piece_cache *c, const fm_piece_slot *e, const char *s, size_t n,
                                   uint64_t head) {
    return e->len == n && e->head == head &&
           (n <= 8 || memcmp((const char *)(c->arena + e->v + e->n), s + 8, n - 8) == 0);
}

/* The slot holding s[0..n), or the empty slot where it would go. */
static inline fm_piece_slot *fm_piece_cache_find(const fm_piece_cache *c, const char *s, size_t n,
                                                 const fm_piece_key *k) {
    for (uint32_t i = (uint32_t)k->hash & c->mask;; i = (i + 1) & c->mask) {
        fm_piece_slot *e = &c->slots[i];
        if (e->len == 0 || fm_piece_slot_is(c, e, s, n, k->head)) return e;
    }
}

/* The ids s[0..n) (key k) encoded to, or NULL; *count their number. */
static inline const fm_token *fm_piece_cache_get(const fm_piece_cache *c, const char *s, size_t n, fm_piece_key *k,
                                                 uint32_t *count) {
    if (c->slots == NULL || n == 0 || n > FM_PIECE_CACHE_KEY) return NULL;
    fm_piece_slot *e = fm_piece_cache_find(c, s, n, k);
    if (e->len == 0) {
        k->vacant = e;
        return NULL;
    }
    *count = e->n;
    return fm_piece_inline(e->len, e->n) ? (const fm_token *)&e->v : c->arena + e->v;
}

static inline void fm_piece_cache_free(fm_piece_cache *c) {
    free(c->slots);
    free(c->arena);
    memset(c, 0, sizeof *c);
}

static inline int fm_piece_cache_grow(fm_piece_cache *c) {
    const uint32_t size = (c->mask + 1) * 2;
    fm_piece_slot *old = c->slots;
    const uint32_t old_size = c->mask + 1;
    c->slots = fm_calloc(size, sizeof *c->slots);
    if (c->slots == NULL) {
        c->slots = old;
        return 0;
    }
    c->mask = size - 1;
    for (uint32_t i = 0; i < old_size; i++) {
        if (old[i].len == 0) continue;
        uint32_t j = old[i].hash & c->mask;
        if (c->mask > 0xFFFF) { /* the whole hash, from the head and, past 8 bytes, the record */
            const char *tail = old[i].len > 8 ? (const char *)(c->arena + old[i].v + old[i].n) : NULL;
            j = (uint32_t)fm_strmap_hash_tail(old[i].head, tail, old[i].len) & c->mask;
        }
        while (c->slots[j].len != 0) j = (j + 1) & c->mask;
        c->slots[j] = old[i];
    }
    free(old);
    return 1;
}

static inline void fm_piece_cache_put(fm_piece_cache *c, const char *s, size_t n, const fm_piece_key *k,
                                      const fm_token *ids, size_t n_ids) {
    if (c->slots == NULL || n == 0 || n > FM_PIECE_CACHE_KEY || n_ids > 255) return;
    /* up to 3/4 full: linear probes mostly stay in the slot's cache line,
     * and a table half the size stays in L2 longer (multilingual text,
     * 37,000 pieces: +10 % side by side against 1/2) */
    fm_piece_slot *e = k->vacant;
    if (c->used * 4 >= (c->mask + 1) * 3) {
        if (!fm_piece_cache_grow(c)) return;
        e = NULL;
    }
    if (e == NULL || e->len != 0) e = fm_piece_cache_find(c, s, n, k);
    if (e->len != 0) return;
    fm_piece_slot slot = {k->head, 0, (uint8_t)n, (uint8_t)n_ids, (uint16_t)k->hash};
    if (fm_piece_inline(n, n_ids)) {
        memcpy(&slot.v, ids, sizeof *ids);
    } else {
        const size_t words = n_ids + (n > 8 ? (n - 8 + sizeof(fm_token) - 1) / sizeof(fm_token) : 0);
        if (c->arena_n + words > c->arena_cap) {
            if (c->arena_n + words > UINT32_MAX / 2) return; /* slots hold 32-bit offsets */
            fm_token *a = fm_grow(c->arena, &c->arena_cap, c->arena_n + words, sizeof *a, 4096);
            if (a == NULL) return;
            c->arena = a;
        }
        slot.v = (uint32_t)c->arena_n;
        memcpy(c->arena + c->arena_n, ids, n_ids * sizeof *ids);
        if (n > 8) memcpy(c->arena + c->arena_n + n_ids, s + 8, n - 8);
        c->arena_n += words;
    }
    *e = slot;
    c->used++;
}

/* Worth having only for long inputs; without it everything still works. */
static inline void fm_piece_cache_init(fm_piece_cache *c, const char *text, size_t text_len) {
    memset(c, 0, sizeof *c);
    if (text_len < 4096) return;
    /* Start near the number of distinct pieces rather than grow through
     * the first doublings, but no larger: a sparse table spreads its
     * entries over more cache lines than L2 holds. Text in other scripts
     * has a new piece every 8 to 30 bytes, English and code every 40 to
     * 110: told apart by the share of non-ASCII bytes in the first 16 KB. */
    const size_t sample = text_len < 16384 ? text_len : 16384;
    size_t high = 0;
    for (size_t i = 0; i < sample; i++) high += (uint8_t)text[i] >> 7;
    c->many_pieces = high * 16 >= sample;
    const size_t bytes_per_piece = c->many_pieces ? 16 : 64;
    size_t size = 4096;
    while (size < 65536 && size * bytes_per_piece < text_len) size *= 2;
    c->slots = fm_calloc(size, sizeof *c->slots);
    c->mask = (uint32_t)(size - 1);
}

#endif
