/* The KV cache's cells (see kv_cache.h): placement, visibility, editing. */
#include "kv_cache.h"

#include <stdlib.h>
#include <string.h>

#include "../core/error.h"

fm_status fm_kv_init(fm_kv_cache *kv, int32_t n_layer, int32_t n_cells, int32_t row, int f16, int32_t n_seq_max) {
    memset(kv, 0, sizeof *kv);
    kv->n_cells = n_cells, kv->n_layer = n_layer, kv->row = row, kv->f16 = f16, kv->n_seq_max = n_seq_max;
    const size_t elems = (size_t)n_layer * (size_t)n_cells * (size_t)row, es = f16 ? 2u : 4u;
    kv->k = calloc(elems ? elems : 1, es);
    kv->v = calloc(elems ? elems : 1, es);
    kv->pos = malloc((n_cells ? (size_t)n_cells : 1) * sizeof *kv->pos);
    kv->tok = calloc(n_cells ? (size_t)n_cells : 1, sizeof *kv->tok);
    kv->seq = calloc(n_cells ? (size_t)n_cells : 1, sizeof *kv->seq);
    if (kv->k == NULL || kv->v == NULL || kv->pos == NULL || kv->tok == NULL || kv->seq == NULL) {
        fm_kv_release(kv);
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a KV cache of %d cells", n_cells);
    }
    fm_kv_clear(kv);
    return FM_STATUS_OK;
}

void fm_kv_release(fm_kv_cache *kv) {
    free(kv->k), free(kv->v), free(kv->pos), free(kv->tok), free(kv->seq);
    memset(kv, 0, sizeof *kv);
}

void fm_kv_clear(fm_kv_cache *kv) {
    for (int32_t c = 0; c < kv->n_cells; c++) kv->pos[c] = -1;
    memset(kv->seq, 0, (size_t)kv->n_cells * sizeof *kv->seq);
    kv->used = 0, kv->hi = 0;
}

static void free_cell(fm_kv_cache *kv, int32_t c) {
    kv->pos[c] = -1;
    memset(&kv->seq[c], 0, sizeof kv->seq[c]);
    kv->used--;
}

/* hi back down past the free cells at the end */
static void trim_hi(fm_kv_cache *kv) {
    while (kv->hi > 0 && kv->pos[kv->hi - 1] < 0) kv->hi--;
}

fm_status fm_kv_place(fm_kv_cache *kv, int32_t n, const int32_t *pos, const fm_seqset *seqs, const int32_t *toks,
                      int32_t *cells) {
    if (n > kv->n_cells - kv->used)
        return fm_error(FM_STATUS_CONTEXT_FULL, "%d tokens do not fit in the context: %d of %d cells are used", n,
                        kv->used, kv->n_cells);
    if (n <= kv->n_cells - kv->hi) {
        for (int32_t i = 0; i < n; i++) cells[i] = kv->hi + i;
    } else {
        int32_t c = 0;
        for (int32_t i = 0; i < n; i++, c++) {
            while (kv->pos[c] >= 0) c++;
            cells[i] = c;
        }
    }
    for (int32_t i = 0; i < n; i++) {
        kv->pos[cells[i]] = pos[i];
        kv->tok[cells[i]] = toks[i];
        kv->seq[cells[i]] = seqs[i];
        if (cells[i] >= kv->hi) kv->hi = cells[i] + 1;
    }
    kv->used += n;
    return FM_STATUS_OK;
}

void fm_kv_unplace(fm_kv_cache *kv, int32_t n, const int32_t *cells) {
    for (int32_t i = 0; i < n; i++)
        if (kv->pos[cells[i]] >= 0) free_cell(kv, cells[i]);
    trim_hi(kv);
}

int fm_kv_has(const fm_kv_cache *kv, int32_t seq, int32_t p) {
    for (int32_t c = 0; c < kv->hi; c++)
        if (kv->pos[c] == p && fm_seqset_has(&kv->seq[c], seq)) return 1;
    return 0;
}

fm_status fm_kv_runs(const fm_kv_cache *kv, int32_t n, const int32_t *pos, const fm_seqset *seqs, int causal,
                     int32_t window, int32_t **runs, size_t *cap, int32_t *run_off) {
    size_t used = 0;
    for (int32_t t = 0; t < n; t++) {
        run_off[t] = (int32_t)(used / 2);
        const int32_t p = pos[t];
        int open = 0; /* a run is being extended */
        for (int32_t c = 0; c < kv->hi; c++) {
            const int32_t cp = kv->pos[c];
            const int see = cp >= 0 && (!causal || cp <= p) && (window <= 0 || p - cp < window) &&
                            fm_seqset_meets(&kv->seq[c], &seqs[t]);
            if (see && !open) {
                if (used + 2 > *cap) {
                    const size_t nc = *cap ? *cap * 2 : 256;
                    int32_t *r = realloc(*runs, nc * sizeof *r);
                    if (r == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for attention runs");
                    *runs = r, *cap = nc;
                }
                (*runs)[used] = c;
                open = 1;
            } else if (!see && open) {
                (*runs)[used + 1] = c;
                used += 2, open = 0;
            }
        }
        if (open) (*runs)[used + 1] = kv->hi, used += 2;
    }
    run_off[n] = (int32_t)(used / 2);
    return FM_STATUS_OK;
}

static int in_range(int32_t p, int32_t p0, int32_t p1) { return p >= p0 && (p1 < 0 || p < p1); }

void fm_kv_seq_rm(fm_kv_cache *kv, int32_t seq, int32_t p0, int32_t p1) {
    for (int32_t c = 0; c < kv->hi; c++) {
        if (kv->pos[c] < 0 || !in_range(kv->pos[c], p0, p1)) continue;
        if (seq < 0) {
            free_cell(kv, c);
        } else if (fm_seqset_has(&kv->seq[c], seq)) {
            fm_seqset_del(&kv->seq[c], seq);
            if (fm_seqset_empty(&kv->seq[c])) free_cell(kv, c);
        }
    }
    trim_hi(kv);
}

void fm_kv_seq_cp(fm_kv_cache *kv, int32_t src, int32_t dst, int32_t p0, int32_t p1) {
    for (int32_t c = 0; c < kv->hi; c++)
        if (kv->pos[c] >= 0 && in_range(kv->pos[c], p0, p1) && fm_seqset_has(&kv->seq[c], src))
            fm_seqset_add(&kv->seq[c], dst);
}

void fm_kv_seq_keep(fm_kv_cache *kv, int32_t seq) {
    for (int32_t c = 0; c < kv->hi; c++) {
        if (kv->pos[c] < 0) continue;
        if (fm_seqset_has(&kv->seq[c], seq)) {
            memset(&kv->seq[c], 0, sizeof kv->seq[c]);
            fm_seqset_add(&kv->seq[c], seq);
        } else {
            free_cell(kv, c);
        }
    }
    trim_hi(kv);
}

/* Another sequence than seq (any, for seq < 0: none) shares cell c. */
static int shared(const fm_kv_cache *kv, int32_t c, int32_t seq) {
    if (seq < 0) return 0;
    fm_seqset others = kv->seq[c];
    fm_seqset_del(&others, seq);
    return !fm_seqset_empty(&others);
}

fm_status fm_kv_seq_add(fm_kv_cache *kv, int32_t seq, int32_t p0, int32_t p1, int32_t delta, int32_t *moved,
                        int32_t *n_moved) {
    *n_moved = 0;
    /* the cells to move, listed first (a split-off copy may land in a hole
     * further on and must not be moved twice); the splits counted so that
     * a full cache changes nothing */
    int32_t n = 0, splits = 0;
    for (int32_t c = 0; c < kv->hi; c++)
        if (kv->pos[c] >= 0 && in_range(kv->pos[c], p0, p1) && (seq < 0 || fm_seqset_has(&kv->seq[c], seq))) {
            moved[n++] = c;
            if (kv->pos[c] + delta >= 0 && shared(kv, c, seq)) splits++;
        }
    if (splits > kv->n_cells - kv->used)
        return fm_error(FM_STATUS_CONTEXT_FULL,
                        "shifting sequence %d needs %d free cells for the cells it shares, %d are free", seq, splits,
                        kv->n_cells - kv->used);
    int32_t next_free = 0, out = 0;
    for (int32_t i = 0; i < n; i++) {
        const int32_t c = moved[i], np = kv->pos[c] + delta;
        if (np < 0) { /* shifted out of the sequence */
            if (seq < 0) {
                free_cell(kv, c);
            } else {
                fm_seqset_del(&kv->seq[c], seq);
                if (fm_seqset_empty(&kv->seq[c])) free_cell(kv, c);
            }
            continue;
        }
        int32_t dst = c;
        if (shared(kv, c, seq)) {
            while (kv->pos[next_free] >= 0) next_free++;
            dst = next_free;
            const size_t bytes = (size_t)kv->row * fm_kv_elem_size(kv);
            for (int32_t l = 0; l < kv->n_layer; l++) {
                memcpy(fm_kv_row(kv, 0, l, dst), fm_kv_row(kv, 0, l, c), bytes);
                memcpy(fm_kv_row(kv, 1, l, dst), fm_kv_row(kv, 1, l, c), bytes);
            }
            fm_seqset_del(&kv->seq[c], seq);
            kv->tok[dst] = kv->tok[c];
            memset(&kv->seq[dst], 0, sizeof kv->seq[dst]);
            fm_seqset_add(&kv->seq[dst], seq);
            kv->used++;
            if (dst >= kv->hi) kv->hi = dst + 1;
        }
        kv->pos[dst] = np;
        moved[out++] = dst; /* out <= i: the list is consumed in order */
    }
    *n_moved = out;
    trim_hi(kv);
    return FM_STATUS_OK;
}

int32_t fm_kv_seq_pos_min(const fm_kv_cache *kv, int32_t seq) {
    int32_t m = -1;
    for (int32_t c = 0; c < kv->hi; c++)
        if (kv->pos[c] >= 0 && fm_seqset_has(&kv->seq[c], seq) && (m < 0 || kv->pos[c] < m)) m = kv->pos[c];
    return m;
}

int32_t fm_kv_seq_pos_max(const fm_kv_cache *kv, int32_t seq) {
    int32_t m = -1;
    for (int32_t c = 0; c < kv->hi; c++)
        if (kv->pos[c] >= 0 && fm_seqset_has(&kv->seq[c], seq) && kv->pos[c] > m) m = kv->pos[c];
    return m;
}
