/* The priority queue of the merge loops for long pieces: pops the pair of
 * smallest (key, position). Pairs are kept in one bucket per key, and only
 * the distinct keys sit in a heap. Long pieces are repetitive (a run of
 * 100,000 spaces has a handful of distinct pair ranks), and within a bucket
 * pairs mostly arrive left to right, so a bucket is a FIFO that is sorted
 * only when something arrived out of order: near-linear where a heap over
 * all pairs costs a cache-missing O(log n) per operation. */
#ifndef FM_TOKENIZER_RANK_QUEUE_H
#define FM_TOKENIZER_RANK_QUEUE_H

#include <stddef.h>
#include <stdint.h>

typedef struct fm_rq_bucket {
    uint32_t key;
    uint32_t *pos;
    uint32_t head, n, cap; /* pending: pos[head..n) */
    uint32_t last;         /* largest position appended since sorted */
    int sorted;
} fm_rq_bucket;

typedef struct fm_rank_queue {
    fm_rq_bucket *buckets;
    uint32_t n_buckets;
    size_t cap_buckets;
    int32_t *index; /* open addressing: key -> bucket, -1 empty */
    uint32_t index_mask;
    uint32_t *heap; /* bucket numbers of non-empty buckets, by key */
    uint32_t heap_n;
    size_t heap_cap;
    /* the bucket of a key pushed lately, by the key's low bits (+1; 0: none):
     * a long piece has few keys, and this spares the index's probe */
    uint32_t recent[64];
} fm_rank_queue;

void fm_rq_reset(fm_rank_queue *q);
void fm_rq_free(fm_rank_queue *q);
int fm_rq_push_slow(fm_rank_queue *q, uint32_t key, uint32_t pos);
int fm_rq_pop_slow(fm_rank_queue *q, uint32_t *key, uint32_t *pos);

/* Queues (key, pos); 0 on allocation failure. Inline, the common case of a
 * long piece: a recent key's non-empty bucket, a position to its right. */
static inline int fm_rq_push(fm_rank_queue *q, uint32_t key, uint32_t pos) {
    const uint32_t r = q->recent[key & 63];
    if (r != 0) {
        fm_rq_bucket *b = &q->buckets[r - 1];
        if (b->key == key && b->n > b->head && b->n < b->cap && pos > b->last) {
            b->pos[b->n++] = pos;
            b->last = pos;
            return 1;
        }
    }
    return fm_rq_push_slow(q, key, pos);
}

/* Takes the smallest (key, pos); 0 when empty. Inline unless the bucket
 * needs sorting or empties. */
static inline int fm_rq_pop(fm_rank_queue *q, uint32_t *key, uint32_t *pos) {
    if (q->heap_n == 0) return 0;
    fm_rq_bucket *b = &q->buckets[q->heap[0]];
    if (b->sorted && b->n - b->head > 1) {
        *key = b->key;
        *pos = b->pos[b->head++];
        return 1;
    }
    return fm_rq_pop_slow(q, key, pos);
}

#endif
