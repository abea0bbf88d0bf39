/* Open-addressing map from byte strings to token ids, tuned for the
 * tokenizer's hot path: each slot keeps the key's first 24 bytes and its
 * length, so a probe (hit or miss) of nearly any key never leaves the
 * table. Keys are not copied: longer ones are compared, past 24 bytes,
 * against the caller's storage. */
#ifndef FM_TOKENIZER_STRMAP_H
#define FM_TOKENIZER_STRMAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* 32 bytes, two to a cache line. The vocabulary's tables are far larger
 * than L2, so a lookup costs a miss per line it touches: a key of more
 * than 8 bytes compared in the token's own storage cost two more (its
 * record, then its bytes), and most words and first-seen pieces are
 * longer than 8 bytes. */
#define FM_STRMAP_INLINE 24
typedef struct fm_strmap_slot {
    uint64_t head;    /* bytes 0-7 of the key, zero padded */
    uint64_t tail[2]; /* bytes 8-15 and 16-23, zero padded */
    uint32_t len;     /* UINT32_MAX: empty */
    int32_t id;
} fm_strmap_slot;

typedef struct fm_strmap {
    fm_strmap_slot *slots;
    uint32_t mask;
    /* a blocked Bloom filter over the keys: two bits in one word per key.
     * Most failed lookups end here, in a table that fits in L2. */
    uint64_t *filter;
    uint32_t fmask; /* words - 1 */
    const char *base;     /* key storage */
    const char *recs;     /* the key of id starts at base + the uint32 at */
    size_t rec_size;      /* recs + id * rec_size + off_field */
    size_t off_field;
} fm_strmap;

static inline const char *fm_strmap_key(const fm_strmap *m, int32_t id) {
    uint32_t off;
    memcpy(&off, m->recs + (size_t)id * m->rec_size + m->off_field, sizeof off);
    return m->base + off;
}

/* s[0..n), n <= 8, as a little-endian word padded with zeros. Two possibly
 * overlapping loads of the widest size that fits instead of a variable-length
 * copy: a byte-wise copy into a word and a load of the whole word stalls on
 * store forwarding, and this runs once or twice per piece of text. */
static inline uint64_t fm_load_upto8(const char *s, size_t n) {
    if (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        return w;
    }
    if (n >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, s, 4);
        memcpy(&hi, s + n - 4, 4);
        return (uint64_t)lo | (uint64_t)hi << (8 * (n - 4));
    }
    if (n >= 2) {
        uint16_t lo, hi;
        memcpy(&lo, s, 2);
        memcpy(&hi, s + n - 2, 2);
        return (uint64_t)lo | (uint64_t)hi << (8 * (n - 2));
    }
    return n ? (uint8_t)s[0] : 0;
}

static inline uint64_t fm_strmap_head(const char *s, size_t n) { return fm_load_upto8(s, n); }

/* The hash of an n-byte key given its head and its bytes past the first 8
 * (tail; read only when n > 8). */
static inline uint64_t fm_strmap_hash_tail(uint64_t head, const char *tail, size_t n) {
    uint64_t h = head ^ ((uint64_t)n * 0x9E3779B97F4A7C15ull);
    for (size_t i = 8; i < n; i += 8) {
        h = (h ^ fm_load_upto8(tail + i - 8, n - i)) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 32;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
}

static inline uint64_t fm_strmap_hash(uint64_t head, const char *s, size_t n) {
    return fm_strmap_hash_tail(head, s + (n > 8 ? 8 : n), n);
}

/* Bytes 8-15 (i = 0) or 16-23 (i = 1) of s[0..n), zero padded. */
static inline uint64_t fm_strmap_tail(const char *s, size_t n, int i) {
    const size_t at = 8 + 8 * (size_t)i;
    return n > at ? fm_load_upto8(s + at, n - at < 8 ? n - at : 8) : 0;
}

static inline uint64_t fm_strmap_bits(uint64_t h) { return (1ull << (h & 63)) | (1ull << ((h >> 6) & 63)); }

/* malloc for a table of 2 MB or more that lookups touch at random: on
 * Linux it asks for 2 MB pages, so that a lookup misses the TLB far less
 * often and filling the table faults in 512 times fewer pages. Free it
 * with free(). */
void *fm_alloc_table(size_t bytes);

/* Sizes the table for n keys; 0 on allocation failure. */
int fm_strmap_init(fm_strmap *m, size_t n, const char *base, const void *recs, size_t rec_size, size_t off_field);
void fm_strmap_free(fm_strmap *m);

/* Maps s[0..len) to id; an existing equal key is re-pointed to id. */
void fm_strmap_put(fm_strmap *m, const char *s, size_t len, int32_t id);

/* fm_strmap_get for a key whose head and hash the caller already has. */
static inline int32_t fm_strmap_get_hashed(const fm_strmap *m, const char *s, size_t n, uint64_t head,
                                           uint64_t hash) {
    const uint64_t bits = fm_strmap_bits(hash);
    if ((m->filter[(hash >> 12) & m->fmask] & bits) != bits) return -1;
    const uint64_t t0 = fm_strmap_tail(s, n, 0), t1 = fm_strmap_tail(s, n, 1);
    for (uint32_t h = (uint32_t)(hash >> 32) & m->mask;; h = (h + 1) & m->mask) {
        const fm_strmap_slot *e = &m->slots[h];
        if (e->len == UINT32_MAX) return -1;
        if (e->len == n && e->head == head && e->tail[0] == t0 && e->tail[1] == t1 &&
            (n <= FM_STRMAP_INLINE ||
             memcmp(fm_strmap_key(m, e->id) + FM_STRMAP_INLINE, s + FM_STRMAP_INLINE, n - FM_STRMAP_INLINE) == 0))
            return e->id;
    }
}

static inline int32_t fm_strmap_get(const fm_strmap *m, const char *s, size_t n) {
    const uint64_t head = fm_strmap_head(s, n);
    return fm_strmap_get_hashed(m, s, n, head, fm_strmap_hash(head, s, n));
}

#endif
