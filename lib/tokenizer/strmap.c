#include "strmap.h"

#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "../core/alloc.h"

void *fm_alloc_table(size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const size_t huge = (size_t)2 << 20;
    if (bytes >= huge) {
        void *p = fm_aligned_alloc(huge, bytes);
        if (p == NULL) return NULL;
        madvise(p, bytes, MADV_HUGEPAGE); /* advice only: failure is harmless */
        return p;
    }
#endif
    return fm_malloc(bytes);
}

int fm_strmap_init(fm_strmap *m, size_t n, const char *base, const void *recs, size_t rec_size, size_t off_field) {
    size_t size = 16;
    while (size < n * 2) size <<= 1; /* load factor at most 1/2 */
    size_t words = 64;
    while (words * 64 < n * 8) words <<= 1; /* about 8 bits per key */
    m->slots = fm_alloc_table(size * sizeof *m->slots);
    m->filter = fm_calloc(words, sizeof *m->filter);
    if (m->slots == NULL || m->filter == NULL) {
        fm_strmap_free(m);
        return 0;
    }
    m->fmask = (uint32_t)(words - 1);
    for (size_t i = 0; i < size; i++) m->slots[i].len = UINT32_MAX;
    m->mask = (uint32_t)(size - 1);
    m->base = base;
    m->recs = recs;
    m->rec_size = rec_size;
    m->off_field = off_field;
    return 1;
}

void fm_strmap_free(fm_strmap *m) {
    free(m->slots);
    free(m->filter);
    m->slots = NULL;
    m->filter = NULL;
}

void fm_strmap_put(fm_strmap *m, const char *s, size_t len, int32_t id) {
    const uint64_t head = fm_strmap_head(s, len);
    const uint64_t hash = fm_strmap_hash(head, s, len);
    const uint64_t t0 = fm_strmap_tail(s, len, 0), t1 = fm_strmap_tail(s, len, 1);
    m->filter[(hash >> 12) & m->fmask] |= fm_strmap_bits(hash);
    uint32_t h = (uint32_t)(hash >> 32) & m->mask;
    for (;; h = (h + 1) & m->mask) {
        fm_strmap_slot *e = &m->slots[h];
        if (e->len == UINT32_MAX) break;
        if (e->len == len && e->head == head && e->tail[0] == t0 && e->tail[1] == t1 &&
            (len <= FM_STRMAP_INLINE || memcmp(fm_strmap_key(m, e->id) + FM_STRMAP_INLINE, s + FM_STRMAP_INLINE,
                                               len - FM_STRMAP_INLINE) == 0))
            break;
    }
    m->slots[h] = (fm_strmap_slot){head, {t0, t1}, (uint32_t)len, id};
}
