#include "rank_queue.h"

#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/grow.h"

static uint32_t mix(uint32_t k) {
    k ^= k >> 16;
    k *= 0x7feb352dU;
    k ^= k >> 15;
    k *= 0x846ca68bU;
    return k ^ (k >> 16);
}

void fm_rq_free(fm_rank_queue *q) {
    for (uint32_t i = 0; i < q->n_buckets; i++) free(q->buckets[i].pos);
    free(q->buckets);
    free(q->index);
    free(q->heap);
    memset(q, 0, sizeof *q);
}

void fm_rq_reset(fm_rank_queue *q) {
    for (uint32_t i = 0; i < q->n_buckets; i++) free(q->buckets[i].pos);
    q->n_buckets = 0;
    q->heap_n = 0;
    memset(q->recent, 0, sizeof q->recent);
    if (q->index) memset(q->index, 0xff, (size_t)(q->index_mask + 1) * sizeof *q->index);
}

static int grow_index(fm_rank_queue *q) {
    uint32_t size = q->index ? (q->index_mask + 1) * 2 : 256;
    int32_t *idx = fm_malloc(size * sizeof *idx);
    if (idx == NULL) return 0;
    memset(idx, 0xff, size * sizeof *idx);
    for (uint32_t b = 0; b < q->n_buckets; b++) {
        uint32_t h = mix(q->buckets[b].key) & (size - 1);
        while (idx[h] >= 0) h = (h + 1) & (size - 1);
        idx[h] = (int32_t)b;
    }
    free(q->index);
    q->index = idx;
    q->index_mask = size - 1;
    return 1;
}

static int heap_less(const fm_rank_queue *q, uint32_t a, uint32_t b) { return q->buckets[a].key < q->buckets[b].key; }

static int heap_add(fm_rank_queue *q, uint32_t b) {
    if (q->heap_n == q->heap_cap) {
        uint32_t *v = fm_grow(q->heap, &q->heap_cap, (size_t)q->heap_n + 1, sizeof *v, 64);
        if (v == NULL) return 0;
        q->heap = v;
    }
    uint32_t i = q->heap_n++;
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!heap_less(q, b, q->heap[p])) break;
        q->heap[i] = q->heap[p];
        i = p;
    }
    q->heap[i] = b;
    return 1;
}

static void heap_remove_top(fm_rank_queue *q) {
    uint32_t last = q->heap[--q->heap_n], i = 0, n = q->heap_n;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_less(q, q->heap[c + 1], q->heap[c])) c++;
        if (!heap_less(q, q->heap[c], last)) break;
        q->heap[i] = q->heap[c];
        i = c;
    }
    if (n > 0) q->heap[i] = last;
}

int fm_rq_push_slow(fm_rank_queue *q, uint32_t key, uint32_t pos) {
    uint32_t *recent = &q->recent[key & 63];
    int32_t bi = *recent && q->buckets[*recent - 1].key == key ? (int32_t)*recent - 1 : -1;
    if (bi < 0) {
        if ((q->index == NULL || q->n_buckets * 2 >= q->index_mask + 1) && !grow_index(q)) return 0;
        uint32_t h = mix(key) & q->index_mask;
        while (q->index[h] >= 0 && q->buckets[q->index[h]].key != key) h = (h + 1) & q->index_mask;
        if (q->index[h] < 0) {
            if (q->n_buckets == q->cap_buckets) {
                fm_rq_bucket *v = fm_grow(q->buckets, &q->cap_buckets, (size_t)q->n_buckets + 1, sizeof *v, 64);
                if (v == NULL) return 0;
                q->buckets = v;
            }
            q->index[h] = (int32_t)q->n_buckets;
            fm_rq_bucket *nb = &q->buckets[q->n_buckets++];
            memset(nb, 0, sizeof *nb);
            nb->key = key;
            nb->sorted = 1;
        }
        bi = q->index[h];
        *recent = (uint32_t)bi + 1;
    }
    fm_rq_bucket *b = &q->buckets[bi];
    if (b->head == b->n) { /* empty: back into the heap of keys */
        b->head = b->n = 0;
        b->sorted = 1;
        if (!heap_add(q, (uint32_t)bi)) return 0;
    }
    /* a pair left of everything pending (the merge loops queue the pair
     * before a merge) goes in front and keeps the bucket sorted */
    if (b->sorted && b->head > 0 && b->n > b->head && pos <= b->pos[b->head]) {
        b->pos[--b->head] = pos;
        return 1;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap;
        uint32_t *v = cap < UINT32_MAX / 2 ? fm_grow(b->pos, &cap, (size_t)b->n + 1, sizeof *v, 16) : NULL;
        if (v == NULL) return 0;
        b->pos = v;
        b->cap = (uint32_t)cap; /* positions are 32-bit: a bucket holds fewer */
    }
    if (b->n > b->head && pos < b->last) b->sorted = 0;
    b->pos[b->n++] = pos;
    if (pos > b->last || b->n - b->head == 1) b->last = pos;
    return 1;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int fm_rq_pop_slow(fm_rank_queue *q, uint32_t *key, uint32_t *pos) {
    if (q->heap_n == 0) return 0;
    fm_rq_bucket *b = &q->buckets[q->heap[0]];
    if (!b->sorted) {
        qsort(b->pos + b->head, b->n - b->head, sizeof *b->pos, cmp_u32);
        b->sorted = 1;
        b->last = b->pos[b->n - 1];
    }
    *key = b->key;
    *pos = b->pos[b->head++];
    if (b->head == b->n) heap_remove_top(q);
    return 1;
}
