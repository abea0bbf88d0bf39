/* The KV cache's cells (see kv_cache.h): placement, visibility, editing. */
#include "kv_cache.h"

#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"

fm_status fm_kv_init(fm_kv_cache *kv, int32_t n_layer, int32_t n_cells, int32_t row, int f16, int32_t n_seq_max) {
    memset(kv, 0, sizeof *kv);
    kv->n_cells = n_cells, kv->n_layer = n_layer, kv->row = row, kv->f16 = f16, kv->n_seq_max = n_seq_max;
    const size_t elems = (size_t)n_layer * (size_t)n_cells * (size_t)row, es = f16 ? 2u : 4u;
    const size_t nc = n_cells ? (size_t)n_cells : 1;
    kv->k = fm_calloc(elems ? elems : 1, es);
    kv->v = fm_calloc(elems ? elems : 1, es);
    kv->pos = fm_malloc(nc * sizeof *kv->pos);
    kv->tok = fm_calloc(nc, sizeof *kv->tok);
    kv->seq = fm_calloc(nc, sizeof *kv->seq);
    /* every sequence's list can hold every cell: no edit ever allocates */
    kv->list = fm_malloc((size_t)(n_seq_max > 0 ? n_seq_max : 1) * nc * sizeof *kv->list);
    kv->list_n = fm_calloc((size_t)(n_seq_max > 0 ? n_seq_max : 1), sizeof *kv->list_n);
    if (kv->k == NULL || kv->v == NULL || kv->pos == NULL || kv->tok == NULL || kv->seq == NULL || kv->list == NULL ||
        kv->list_n == NULL) {
        fm_kv_release(kv);
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a KV cache of %d cells", n_cells);
    }
    fm_kv_clear(kv);
    return FM_STATUS_OK;
}

void fm_kv_release(fm_kv_cache *kv) {
    free(kv->k), free(kv->v), free(kv->pos), free(kv->tok), free(kv->seq), free(kv->list), free(kv->list_n);
    memset(kv, 0, sizeof *kv);
}

void fm_kv_clear(fm_kv_cache *kv) {
    for (int32_t c = 0; c < kv->n_cells; c++) kv->pos[c] = -1;
    memset(kv->seq, 0, (size_t)kv->n_cells * sizeof *kv->seq);
    memset(kv->list_n, 0, (size_t)kv->n_seq_max * sizeof *kv->list_n);
    kv->used = 0, kv->hi = 0;
}

/* ---- each sequence's cells, sorted by (position, cell) ---- */

static int32_t *list_of(const fm_kv_cache *kv, int32_t s) { return kv->list + (size_t)s * (size_t)kv->n_cells; }

static int before(const fm_kv_cache *kv, int32_t a, int32_t b) {
    return kv->pos[a] < kv->pos[b] || (kv->pos[a] == kv->pos[b] && a < b);
}

/* First index of s's list whose position is >= p. */
static int32_t lower_pos(const fm_kv_cache *kv, int32_t s, int32_t p) {
    const int32_t *l = list_of(kv, s);
    int32_t lo = 0, hi = kv->list_n[s];
    while (lo < hi) {
        const int32_t mid = lo + (hi - lo) / 2;
        if (kv->pos[l[mid]] < p) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Cell c (its position set) into s's list: at the end when it comes last,
 * as a decode's cells do. */
static void list_insert(fm_kv_cache *kv, int32_t s, int32_t c) {
    int32_t *l = list_of(kv, s);
    int32_t i = kv->list_n[s];
    if (i > 0 && before(kv, c, l[i - 1])) {
        int32_t lo = 0, hi = i;
        while (lo < hi) {
            const int32_t mid = lo + (hi - lo) / 2;
            if (before(kv, l[mid], c)) lo = mid + 1;
            else hi = mid;
        }
        memmove(l + lo + 1, l + lo, (size_t)(i - lo) * sizeof *l);
        i = lo;
    }
    l[i] = c;
    kv->list_n[s]++;
}

static void list_remove(fm_kv_cache *kv, int32_t s, int32_t c) {
    int32_t *l = list_of(kv, s);
    for (int32_t i = lower_pos(kv, s, kv->pos[c]); i < kv->list_n[s]; i++)
        if (l[i] == c) {
            memmove(l + i, l + i + 1, (size_t)(kv->list_n[s] - i - 1) * sizeof *l);
            kv->list_n[s]--;
            return;
        }
}

/* A used cell marked free (it must be in no list any more). */
static void mark_free(fm_kv_cache *kv, int32_t c) {
    kv->pos[c] = -1;
    memset(&kv->seq[c], 0, sizeof kv->seq[c]);
    kv->used--;
}

/* A used cell out of every list, then free. */
static void free_cell(fm_kv_cache *kv, int32_t c) {
    FM_SEQSET_FOR(&kv->seq[c], s) list_remove(kv, s, c);
    mark_free(kv, c);
}

/* hi back down past the free cells at the end */
static void trim_hi(fm_kv_cache *kv) {
    while (kv->hi > 0 && kv->pos[kv->hi - 1] < 0) kv->hi--;
}

static void set_cell(fm_kv_cache *kv, int32_t c, int32_t pos, int32_t tok, const fm_seqset *set) {
    kv->pos[c] = pos, kv->tok[c] = tok, kv->seq[c] = *set;
    FM_SEQSET_FOR(set, s) list_insert(kv, s, c);
    if (c >= kv->hi) kv->hi = c + 1;
    kv->used++;
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
    for (int32_t i = 0; i < n; i++) set_cell(kv, cells[i], pos[i], toks[i], &seqs[i]);
    return FM_STATUS_OK;
}

void fm_kv_unplace(fm_kv_cache *kv, int32_t n, const int32_t *cells) {
    for (int32_t i = n - 1; i >= 0; i--) /* newest first: each comes off its lists' ends */
        if (kv->pos[cells[i]] >= 0) free_cell(kv, cells[i]);
    trim_hi(kv);
}

void fm_kv_restore(fm_kv_cache *kv, int32_t c, int32_t pos, int32_t tok, const fm_seqset *set) {
    set_cell(kv, c, pos, tok, set);
}

void fm_kv_join(fm_kv_cache *kv, int32_t c, int32_t seq) {
    if (fm_seqset_has(&kv->seq[c], seq)) return;
    fm_seqset_add(&kv->seq[c], seq);
    list_insert(kv, seq, c);
}

const int32_t *fm_kv_seq_cells(const fm_kv_cache *kv, int32_t seq, int32_t *n) {
    *n = kv->list_n[seq];
    return list_of(kv, seq);
}

int fm_kv_has(const fm_kv_cache *kv, int32_t seq, int32_t p) {
    const int32_t i = lower_pos(kv, seq, p);
    return i < kv->list_n[seq] && kv->pos[list_of(kv, seq)[i]] == p;
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
                    int32_t *r = fm_realloc(*runs, nc * sizeof *r);
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


/* The part [*i0, *i1) of s's list with positions in [p0, p1). */
static void range_of(const fm_kv_cache *kv, int32_t s, int32_t p0, int32_t p1, int32_t *i0, int32_t *i1) {
    *i0 = lower_pos(kv, s, p0);
    *i1 = p1 < 0 ? kv->list_n[s] : lower_pos(kv, s, p1);
    if (*i1 < *i0) *i1 = *i0;
}

/* s leaves the cells [i0, i1) of its list; cells of no sequence are freed. */
static void leave_range(fm_kv_cache *kv, int32_t s, int32_t i0, int32_t i1) {
    int32_t *l = list_of(kv, s);
    for (int32_t i = i0; i < i1; i++) {
        fm_seqset_del(&kv->seq[l[i]], s);
        if (fm_seqset_empty(&kv->seq[l[i]])) mark_free(kv, l[i]);
    }
    memmove(l + i0, l + i1, (size_t)(kv->list_n[s] - i1) * sizeof *l);
    kv->list_n[s] -= i1 - i0;
}

void fm_kv_seq_rm(fm_kv_cache *kv, int32_t seq, int32_t p0, int32_t p1) {
    for (int32_t s = seq < 0 ? 0 : seq; s < (seq < 0 ? kv->n_seq_max : seq + 1); s++) {
        int32_t i0, i1;
        range_of(kv, s, p0, p1, &i0, &i1);
        leave_range(kv, s, i0, i1);
    }
    trim_hi(kv);
}

void fm_kv_seq_cp(fm_kv_cache *kv, int32_t src, int32_t dst, int32_t p0, int32_t p1) {
    if (src == dst) return;
    int32_t i0, i1;
    range_of(kv, src, p0, p1, &i0, &i1);
    const int32_t *l = list_of(kv, src);
    for (int32_t i = i0; i < i1; i++) fm_kv_join(kv, l[i], dst);
}

void fm_kv_seq_keep(fm_kv_cache *kv, int32_t seq) {
    /* touches every cell in use anyway: rebuilt in one pass */
    for (int32_t s = 0; s < kv->n_seq_max; s++)
        if (s != seq) kv->list_n[s] = 0;
    for (int32_t c = 0; c < kv->hi; c++) {
        if (kv->pos[c] < 0) continue;
        if (fm_seqset_has(&kv->seq[c], seq)) {
            memset(&kv->seq[c], 0, sizeof kv->seq[c]);
            fm_seqset_add(&kv->seq[c], seq);
        } else {
            mark_free(kv, c);
        }
    }
    trim_hi(kv);
}

/* Another sequence than seq shares cell c. */
static int shared(const fm_kv_cache *kv, int32_t c, int32_t seq) {
    fm_seqset others = kv->seq[c];
    fm_seqset_del(&others, seq);
    return !fm_seqset_empty(&others);
}

fm_status fm_kv_seq_add(fm_kv_cache *kv, int32_t seq, int32_t p0, int32_t p1, int32_t delta, int32_t *moved,
                        int32_t *n_moved) {
    *n_moved = 0;
    int32_t i0, i1;
    range_of(kv, seq, p0, p1, &i0, &i1);
    int32_t *l = list_of(kv, seq);
    /* the splits counted first, so that a full cache changes nothing */
    int32_t splits = 0;
    for (int32_t i = i0; i < i1; i++) splits += kv->pos[l[i]] + delta >= 0 && shared(kv, l[i], seq);
    if (splits > kv->n_cells - kv->used)
        return fm_error(FM_STATUS_CONTEXT_FULL,
                        "shifting sequence %d needs %d free cells for the cells it shares, %d are free", seq, splits,
                        kv->n_cells - kv->used);
    /* the range leaves seq's list; its cells come back at their new places */
    const int32_t n = i1 - i0;
    memcpy(moved, l + i0, (size_t)n * sizeof *moved);
    memmove(l + i0, l + i1, (size_t)(kv->list_n[seq] - i1) * sizeof *l);
    kv->list_n[seq] -= n;
    int32_t next_free = 0, out = 0;
    for (int32_t i = 0; i < n; i++) {
        const int32_t c = moved[i], np = kv->pos[c] + delta;
        const int is_shared = shared(kv, c, seq);
        if (np < 0) { /* shifted out of the sequence */
            fm_seqset_del(&kv->seq[c], seq);
            if (!is_shared) mark_free(kv, c);
            continue;
        }
        int32_t dst = c;
        if (is_shared) { /* split off: the others keep c where it is */
            while (kv->pos[next_free] >= 0) next_free++;
            dst = next_free;
            const size_t bytes = (size_t)kv->row * fm_kv_elem_size(kv);
            for (int32_t ly = 0; ly < kv->n_layer; ly++) {
                memcpy(fm_kv_row(kv, 0, ly, dst), fm_kv_row(kv, 0, ly, c), bytes);
                memcpy(fm_kv_row(kv, 1, ly, dst), fm_kv_row(kv, 1, ly, c), bytes);
            }
            fm_seqset_del(&kv->seq[c], seq);
            fm_seqset one;
            memset(&one, 0, sizeof one);
            fm_seqset_add(&one, seq);
            kv->pos[dst] = np, kv->tok[dst] = kv->tok[c], kv->seq[dst] = one;
            kv->used++;
            if (dst >= kv->hi) kv->hi = dst + 1;
        } else {
            kv->pos[dst] = np;
        }
        list_insert(kv, seq, dst);
        moved[out++] = dst; /* out <= i: the list is consumed in order */
    }
    *n_moved = out;
    trim_hi(kv);
    return FM_STATUS_OK;
}

int32_t fm_kv_seq_pos_min(const fm_kv_cache *kv, int32_t seq) {
    return kv->list_n[seq] ? kv->pos[list_of(kv, seq)[0]] : -1;
}

int32_t fm_kv_seq_pos_max(const fm_kv_cache *kv, int32_t seq) {
    return kv->list_n[seq] ? kv->pos[list_of(kv, seq)[kv->list_n[seq] - 1]] : -1;
}
