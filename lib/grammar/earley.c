/* The byte-level Earley recognizer. Sets are kept on one item array so a
 * trie walk can push a byte, look, and pop it again at the cost of the
 * items that byte created. Nullable rules are handled as Aycock and
 * Horspool do: predicting a nullable rule also steps over it at once, so
 * completion never has to look back into the set being built. */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/grow.h"
#include "grammar.h"

fm_status fm_earley_init(fm_earley *e, const fm_grammar *g) {
    memset(e, 0, sizeof *e);
    e->g = g;
    e->dmask = 255;
    e->dk = fm_malloc(256 * sizeof *e->dk);
    e->dq = fm_malloc(256 * sizeof *e->dq);
    e->dgen = fm_calloc(256, sizeof *e->dgen);
    if (e->dk == NULL || e->dq == NULL || e->dgen == NULL) {
        fm_earley_free(e);
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a grammar matcher");
    }
    return fm_earley_reset(e);
}

void fm_earley_free(fm_earley *e) {
    free(e->items);
    free(e->set_start);
    free(e->set_bytes);
    free(e->wait);
    free(e->wait_start);
    free(e->dk);
    free(e->dq);
    free(e->dgen);
    memset(e, 0, sizeof *e);
}

static uint64_t item_key(fm_eitem it) { return (uint64_t)it.dot << 32 | it.origin; }

/* A fresh dedupe table for the next set (O(1): a new generation). */
static void dedupe_begin(fm_earley *e) {
    e->steps = 0, e->over = 0; /* a new set: its own budget, no stale limit flag */
    if (++e->gen == 0) { /* wrapped: clear for real */
        memset(e->dgen, 0, (e->dmask + 1) * sizeof *e->dgen);
        e->gen = 1;
    }
}

static uint32_t slot_of(const fm_earley *e, uint64_t key, uint32_t q) {
    return (uint32_t)(((key ^ (uint64_t)q * 0xD6E8FEB86659FD93ull) * 0x9E3779B97F4A7C15ull) >> 32) & e->dmask;
}

static int dedupe_grow(fm_earley *e, uint32_t set_begin) {
    const uint32_t cap = 2 * (e->dmask + 1);
    uint64_t *k = fm_malloc(cap * sizeof *k);
    uint32_t *q = fm_malloc(cap * sizeof *q);
    uint32_t *g = fm_calloc(cap, sizeof *g);
    if (k == NULL || q == NULL || g == NULL) {
        free(k);
        free(q);
        free(g);
        return 0;
    }
    free(e->dk);
    free(e->dq);
    free(e->dgen);
    e->dk = k, e->dq = q, e->dgen = g, e->dmask = cap - 1, e->gen = 1;
    for (size_t i = set_begin; i < e->n_items; i++) { /* re-enter this set's items */
        const uint64_t key = item_key(e->items[i]);
        uint32_t h = slot_of(e, key, e->items[i].q);
        while (e->dgen[h] == e->gen) h = (h + 1) & e->dmask;
        e->dgen[h] = e->gen, e->dk[h] = key, e->dq[h] = e->items[i].q;
    }
    return 1;
}

/* Adds an item to the set being built unless it is there. 1 added, 0
 * present, -1 out of memory or over a limit (e->over says which). */
static int add(fm_earley *e, uint32_t set_begin, fm_eitem it) {
    if (++e->steps > FM_EARLEY_MAX_STEPS) {
        e->over = 1;
        return -1;
    }
    if (2 * (e->n_items - set_begin + 1) > e->dmask + 1 && !dedupe_grow(e, set_begin)) return -1;
    const uint64_t key = item_key(it);
    uint32_t h = slot_of(e, key, it.q);
    for (; e->dgen[h] == e->gen; h = (h + 1) & e->dmask)
        if (e->dk[h] == key && e->dq[h] == it.q) return 0;
    if (e->n_items >= FM_EARLEY_MAX_ITEMS) {
        e->over = 1;
        return -1;
    }
    fm_eitem *p = fm_grow(e->items, &e->cap_items, e->n_items + 1, sizeof *p, 256);
    if (p == NULL) return -1;
    e->items = p;
    e->items[e->n_items++] = it;
    e->dgen[h] = e->gen, e->dk[h] = key, e->dq[h] = it.q;
    return 1;
}

/* Predicts and completes until the set that starts at set_begin (index k)
 * is closed; gathers the bytes it can scan. */
static int closure(fm_earley *e, uint32_t k, uint32_t set_begin, fm_byteset *bytes) {
    const fm_grammar *g = e->g;
    memset(bytes, 0, sizeof *bytes);
    for (size_t i = set_begin; i < e->n_items; i++) {
        const fm_eitem it = e->items[i];
        const uint32_t s = g->syms[it.dot];
        const uint32_t v = FM_GS_VAL(s);
        switch (FM_GS_KIND(s)) {
        case FM_GS_NT:
            for (uint32_t p = g->rule_start[v]; p < g->rule_start[v + 1]; p++)
                if (add(e, set_begin, (fm_eitem){g->prods[p], k, 0}) < 0) return -1;
            if (g->nullable[v] && add(e, set_begin, (fm_eitem){it.dot + 1, it.origin, 0}) < 0) return -1;
            break;
        case FM_GS_TERM:
            for (int w = 0; w < 4; w++) bytes->w[w] |= g->terms[v].w[w];
            break;
        case FM_GS_DFA: {
            const fm_gdfa *d = &g->dfas[v];
            for (int w = 0; w < 4; w++) bytes->w[w] |= fm_gdfa_out(d, it.q)->w[w];
            /* where the terminal may end, the production goes on */
            if (fm_gdfa_accepts(d, it.q) && add(e, set_begin, (fm_eitem){it.dot + 1, it.origin, 0}) < 0) return -1;
            break;
        }
        default: { /* END of rule v started at it.origin */
            if (it.origin == k) break; /* empty: stepped over when predicted */
            const uint64_t *w = e->wait;
            size_t lo = e->wait_start[it.origin], hi = e->wait_start[it.origin + 1];
            const uint64_t key = (uint64_t)v << 32;
            while (lo < hi) {
                const size_t mid = (lo + hi) / 2;
                if (w[mid] < key) lo = mid + 1;
                else hi = mid;
            }
            for (size_t j = lo; j < e->wait_start[it.origin + 1] && (w[j] >> 32) == v; j++) {
                const fm_eitem wi = e->items[(uint32_t)w[j]];
                if (add(e, set_begin, (fm_eitem){wi.dot + 1, wi.origin, 0}) < 0) return -1;
            }
            break;
        }
        }
    }
    return 0;
}

/* Room for `need` set boundaries (and set byte masks). */
static int reserve_sets(fm_earley *e, size_t need) {
    if (need <= e->cap_sets) return 1;
    size_t cap = e->cap_sets, cap2 = e->cap_sets, cap3 = e->cap_sets;
    uint32_t *s = fm_grow(e->set_start, &cap, need, sizeof *s, 64);
    if (s == NULL) return 0;
    e->set_start = s;
    fm_byteset *b = fm_grow(e->set_bytes, &cap2, need, sizeof *b, 64);
    if (b == NULL) return 0;
    e->set_bytes = b;
    uint32_t *w = fm_grow(e->wait_start, &cap3, need, sizeof *w, 64);
    if (w == NULL) return 0;
    e->wait_start = w;
    cap = cap < cap2 ? cap : cap2;
    e->cap_sets = (uint32_t)(cap < cap3 ? cap : cap3);
    return 1;
}

static int cmp_u64(const void *x, const void *y) {
    const uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* Indexes the items of the just closed set k by the rule they wait on. */
static int index_waiting(fm_earley *e, uint32_t k) {
    const fm_grammar *g = e->g;
    const uint32_t b = e->set_start[k], end = (uint32_t)e->n_items;
    size_t n = e->wait_start[k];
    uint64_t *w = fm_grow(e->wait, &e->cap_wait, n + (end - b), sizeof *w, 256);
    if (w == NULL) return 0;
    e->wait = w;
    for (uint32_t i = b; i < end; i++) {
        const uint32_t s = g->syms[e->items[i].dot];
        if (FM_GS_KIND(s) == FM_GS_NT) w[n++] = (uint64_t)FM_GS_VAL(s) << 32 | i;
    }
    uint64_t *r = w + e->wait_start[k];
    const size_t m = n - e->wait_start[k];
    if (m > 24) {
        qsort(r, m, sizeof *r, cmp_u64);
    } else {
        for (size_t i = 1; i < m; i++) {
            const uint64_t x = r[i];
            size_t j = i;
            while (j > 0 && r[j - 1] > x) r[j] = r[j - 1], j--;
            r[j] = x;
        }
    }
    e->n_wait = n;
    e->wait_start[k + 1] = (uint32_t)n;
    return 1;
}

static int reserve_set(fm_earley *e) { return reserve_sets(e, (size_t)e->n_sets + 2); }

fm_status fm_earley_reset(fm_earley *e) {
    e->n_items = 0;
    e->n_sets = 0;
    if (!reserve_set(e)) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a grammar matcher");
    e->set_start[0] = 0;
    dedupe_begin(e);
    const fm_grammar *g = e->g;
    for (uint32_t p = g->rule_start[g->root]; p < g->rule_start[g->root + 1]; p++)
        if (add(e, 0, (fm_eitem){g->prods[p], 0, 0}) < 0) return fm_earley_failed(e);
    e->n_sets = 1;
    e->wait_start[0] = 0;
    e->n_wait = 0;
    if (closure(e, 0, 0, &e->set_bytes[0]) < 0) return fm_earley_failed(e);
    e->set_start[1] = (uint32_t)e->n_items;
    if (!index_waiting(e, 0)) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a grammar matcher");
    return FM_STATUS_OK;
}

/* Closes the set being built at index k + 1 (its items from `begin` on)
 * and makes it the top one. 1 ok, -1 out of memory (nothing pushed). */
static int finish_set(fm_earley *e, uint32_t k, uint32_t begin) {
    e->n_sets = k + 2; /* set_start[k + 1] == begin already */
    if (closure(e, k + 1, begin, &e->set_bytes[k + 1]) < 0) {
        e->n_items = begin;
        e->n_sets = k + 1;
        return -1;
    }
    e->set_start[k + 2] = (uint32_t)e->n_items;
    if (!index_waiting(e, k + 1)) {
        e->n_items = begin;
        e->n_sets = k + 1;
        return -1;
    }
    return 1;
}

int fm_earley_push_except(fm_earley *e, uint8_t byte, const uint32_t *skip, size_t n_skip) {
    const uint32_t k = e->n_sets - 1;
    if (!fm_byteset_has(&e->set_bytes[k], byte)) return 0;
    if (!reserve_set(e)) return -1;
    const fm_grammar *g = e->g;
    const uint32_t begin = (uint32_t)e->n_items, cb = e->set_start[k];
    dedupe_begin(e);
    size_t sk = 0;
    for (uint32_t i = cb; i < begin; i++) {
        if (sk < n_skip && skip[sk] == i) {
            sk++;
            continue;
        }
        const fm_eitem it = e->items[i];
        const uint32_t s = g->syms[it.dot];
        int r = 0;
        if (FM_GS_KIND(s) == FM_GS_TERM) {
            if (fm_byteset_has(&g->terms[FM_GS_VAL(s)], byte)) r = add(e, begin, (fm_eitem){it.dot + 1, it.origin, 0});
        } else if (FM_GS_KIND(s) == FM_GS_DFA) {
            const uint32_t nq = fm_gdfa_step(&g->dfas[FM_GS_VAL(s)], it.q, byte);
            if (nq != FM_DFA_DEAD) r = add(e, begin, (fm_eitem){it.dot, it.origin, nq});
        }
        if (r < 0) {
            e->n_items = begin;
            return -1;
        }
    }
    if (e->n_items == begin) return 0; /* only skipped items could scan it */
    return finish_set(e, k, begin);
}

int fm_earley_push(fm_earley *e, uint8_t byte) { return fm_earley_push_except(e, byte, NULL, 0); }

int fm_earley_push_items(fm_earley *e, const fm_eitem *items, size_t n) {
    const uint32_t k = e->n_sets - 1;
    if (!reserve_set(e)) return -1;
    const uint32_t begin = (uint32_t)e->n_items;
    dedupe_begin(e);
    for (size_t i = 0; i < n; i++)
        if (add(e, begin, items[i]) < 0) {
            e->n_items = begin;
            return -1;
        }
    return finish_set(e, k, begin);
}

void fm_earley_pop(fm_earley *e) {
    if (e->n_sets <= 1) return;
    e->n_sets--;
    e->n_items = e->set_start[e->n_sets];
    e->n_wait = e->wait_start[e->n_sets];
}

fm_status fm_earley_failed(fm_earley *e) {
    const int over = e->over;
    e->over = 0;
    if (over)
        return fm_error(FM_STATUS_UNSUPPORTED,
                        "the grammar is too ambiguous: its parser would take more than %zu steps at one position "
                        "or hold more than %zu items in all",
                        FM_EARLEY_MAX_STEPS, FM_EARLEY_MAX_ITEMS);
    return fm_error(FM_STATUS_NO_MEMORY, "out of memory in a grammar matcher");
}

int fm_earley_accepting(const fm_earley *e) {
    const fm_grammar *g = e->g;
    const uint32_t k = e->n_sets - 1;
    const uint32_t end = FM_GS_MAKE(FM_GS_END, g->root);
    for (uint32_t i = e->set_start[k]; i < e->set_start[k + 1]; i++)
        if (e->items[i].origin == 0 && g->syms[e->items[i].dot] == end) return 1;
    return 0;
}

fm_status fm_earley_copy(fm_earley *dst, const fm_earley *src) {
    fm_status st = fm_earley_init(dst, src->g);
    if (st) return st;
    fm_eitem *it = fm_grow(dst->items, &dst->cap_items, src->n_items ? src->n_items : 1, sizeof *it, 256);
    if (it != NULL) dst->items = it;
    if (it == NULL || !reserve_sets(dst, (size_t)src->n_sets + 2)) {
        fm_earley_free(dst);
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory copying a grammar matcher");
    }
    memcpy(dst->items, src->items, src->n_items * sizeof *it);
    memcpy(dst->set_start, src->set_start, (src->n_sets + 1) * sizeof *dst->set_start);
    memcpy(dst->set_bytes, src->set_bytes, src->n_sets * sizeof *dst->set_bytes);
    uint64_t *w = fm_grow(dst->wait, &dst->cap_wait, src->n_wait ? src->n_wait : 1, sizeof *w, 256);
    if (w == NULL) {
        fm_earley_free(dst);
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory copying a grammar matcher");
    }
    dst->wait = w;
    memcpy(dst->wait, src->wait, src->n_wait * sizeof *w);
    memcpy(dst->wait_start, src->wait_start, (src->n_sets + 1) * sizeof *dst->wait_start);
    dst->n_wait = src->n_wait;
    dst->n_items = src->n_items;
    dst->n_sets = src->n_sets;
    return FM_STATUS_OK;
}
