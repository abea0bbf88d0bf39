/* The KV cache: the owner of every cached key and value row of a context.
 * A unified cache of cells shared by all sequences: each cell holds one
 * token's keys and values for every layer and records the token's position
 * and the set of sequences it belongs to (a shared prompt prefix is one
 * cell in many sequences, never copied). The context places a batch's
 * tokens in cells, the model code writes their rows through fm_kv_row(),
 * and attention learns which cells each token sees from fm_kv_runs(). */
#ifndef FM_KV_KV_CACHE_H
#define FM_KV_KV_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "fm.h"

/* Sequence ids are 0 .. FM_KV_MAX_SEQ-1 (fm.h's FM_SEQ_MAX). */
#define FM_KV_MAX_SEQ FM_SEQ_MAX
#define FM_KV_SEQ_WORDS (FM_KV_MAX_SEQ / 64)

typedef struct fm_seqset {
    uint64_t w[FM_KV_SEQ_WORDS];
} fm_seqset;

static inline void fm_seqset_add(fm_seqset *s, int32_t seq) { s->w[seq >> 6] |= 1ull << (seq & 63); }
static inline void fm_seqset_del(fm_seqset *s, int32_t seq) { s->w[seq >> 6] &= ~(1ull << (seq & 63)); }
static inline int fm_seqset_has(const fm_seqset *s, int32_t seq) { return (int)((s->w[seq >> 6] >> (seq & 63)) & 1u); }
static inline int fm_seqset_empty(const fm_seqset *s) {
    uint64_t any = 0;
    for (int i = 0; i < FM_KV_SEQ_WORDS; i++) any |= s->w[i];
    return any == 0;
}
static inline int fm_seqset_meets(const fm_seqset *a, const fm_seqset *b) {
    uint64_t any = 0;
    for (int i = 0; i < FM_KV_SEQ_WORDS; i++) any |= a->w[i] & b->w[i];
    return any != 0;
}

/* Every sequence s of set, lowest first (s is an int32_t in the body). */
#define FM_SEQSET_FOR(set, s)                                                                 \
    for (int32_t w_ = 0; w_ < FM_KV_SEQ_WORDS; w_++)                                        \
        for (uint64_t b_ = (set)->w[w_]; b_; b_ &= b_ - 1)                                  \
            for (int32_t s = w_ * 64 + __builtin_ctzll(b_), once_ = 1; once_; once_ = 0)

typedef struct fm_kv_cache {
    int32_t n_cells;   /* capacity: the context's n_ctx */
    int32_t n_layer;
    int32_t row;       /* elements per row: n_head_kv * head_dim */
    int32_t n_seq_max; /* sequence ids are 0 .. n_seq_max-1 */
    int f16;           /* rows are uint16_t halves, else floats */
    void *k, *v;       /* [n_layer][n_cells][row] */
    int32_t *pos;      /* [n_cells]: the token's position; -1 marks a free cell */
    int32_t *tok;      /* [n_cells]: the token id (what a sequence holds, for prefix reuse) */
    fm_seqset *seq;    /* [n_cells] */
    int32_t *list;     /* [n_seq_max][n_cells]: each sequence's cells sorted by (position, cell) */
    int32_t *list_n;   /* [n_seq_max]: entries of each list */
    int32_t used;      /* cells in use */
    int32_t hi;        /* one past the last cell in use: cells >= hi are free */
} fm_kv_cache;

/* Allocates a cache of n_cells empty cells (the rows are calloc'ed: pages
 * no token reaches are never touched). Errors: NO_MEMORY. */
fm_status fm_kv_init(fm_kv_cache *kv, int32_t n_layer, int32_t n_cells, int32_t row, int f16, int32_t n_seq_max);
void fm_kv_release(fm_kv_cache *kv);

/* Empties every cell. */
void fm_kv_clear(fm_kv_cache *kv);

static inline size_t fm_kv_elem_size(const fm_kv_cache *kv) { return kv->f16 ? 2u : 4u; }

/* Layer l's key (values: v != 0) row of `cell`. */
static inline void *fm_kv_row(const fm_kv_cache *kv, int values, int32_t layer, int32_t cell) {
    uint8_t *base = (uint8_t *)(values ? kv->v : kv->k);
    return base + (((size_t)layer * (size_t)kv->n_cells + (size_t)cell) * (size_t)kv->row) * fm_kv_elem_size(kv);
}

/* Finds n free cells for tokens toks[i] at pos[i] in sequences seqs[i] and marks
 * them used, writing their indices to cells[]: one contiguous run after
 * the last used cell if there is room (a single sequence then keeps cell
 * index == position), else the lowest free cells. Errors: CONTEXT_FULL
 * (fewer than n free cells; nothing marked). */
fm_status fm_kv_place(fm_kv_cache *kv, int32_t n, const int32_t *pos, const fm_seqset *seqs, const int32_t *toks,
                      int32_t *cells);

/* Frees cells[0..n) again (a decode that failed gives its cells back). */
void fm_kv_unplace(fm_kv_cache *kv, int32_t n, const int32_t *cells);

/* Whether sequence `seq` already holds position `p` (a batch must not add
 * a position twice). O(log n). */
int fm_kv_has(const fm_kv_cache *kv, int32_t seq, int32_t p);

/* Cell c (free) restored as it was saved: position, token, sequences. */
void fm_kv_restore(fm_kv_cache *kv, int32_t c, int32_t pos, int32_t tok, const fm_seqset *set);

/* Sequence seq joins the used cell c. */
void fm_kv_join(fm_kv_cache *kv, int32_t c, int32_t seq);

/* Sequence seq's cells in position order (*n of them), owned by the cache,
 * valid until its next change. */
const int32_t *fm_kv_seq_cells(const fm_kv_cache *kv, int32_t seq, int32_t *n);

/* Which cells each of n query tokens sees: the cells of any of its
 * sequences at positions <= its own (causal) or all of them, and within
 * `window` positions where window > 0. Writes runs of cells, [lo, hi)
 * pairs in cell order, to *runs (grown with realloc as needed, *cap
 * counts int32 slots) and token t's runs to pairs run_off[t] ..
 * run_off[t+1]-1. Errors: NO_MEMORY. */
fm_status fm_kv_runs(const fm_kv_cache *kv, int32_t n, const int32_t *pos, const fm_seqset *seqs, int causal,
                     int32_t window, int32_t **runs, size_t *cap, int32_t *run_off);

/* Sequence editing (p1 < 0: to the end; for rm, seq < 0: every sequence;
 * the others need a sequence id). Each
 * sequence keeps its cells in a list sorted by position, so an edit finds
 * its range by binary search and does work for the cells it touches
 * (plus moving the list's tail down); keep rebuilds in one pass. */
void fm_kv_seq_rm(fm_kv_cache *kv, int32_t seq, int32_t p0, int32_t p1);
void fm_kv_seq_cp(fm_kv_cache *kv, int32_t src, int32_t dst, int32_t p0, int32_t p1);
void fm_kv_seq_keep(fm_kv_cache *kv, int32_t seq);
/* Adds delta to the positions of seq's cells in [p0, p1). A cell that
 * other sequences share is first split off into a free cell of its own
 * (rows copied), so they keep their positions; cells whose position would
 * fall below 0 leave the sequence. The moved cells' indices go to
 * moved[0..*n_moved) (capacity kv->n_cells) for the caller to re-rotate
 * their keys. Errors: CONTEXT_FULL (no free cell for a split; nothing
 * changed). */
fm_status fm_kv_seq_add(fm_kv_cache *kv, int32_t seq, int32_t p0, int32_t p1, int32_t delta, int32_t *moved,
                        int32_t *n_moved);
/* The smallest / largest position of seq (-1 when it has none). O(1). */
int32_t fm_kv_seq_pos_min(const fm_kv_cache *kv, int32_t seq);
int32_t fm_kv_seq_pos_max(const fm_kv_cache *kv, int32_t seq);

#endif
