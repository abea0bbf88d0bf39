/* Orderings and probabilities over a candidate set. Nothing here sorts the
 * whole vocabulary unless a step needs the whole order: top-k and the
 * probability-mass steps ask for the best k only. */
#include <math.h>
#include <stdlib.h>

#include "../core/alloc.h"
#include "sample_impl.h"

/* a before b: larger logit, then lower id */
static int better(const fm_candidate *a, const fm_candidate *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int cmp_desc(const void *x, const void *y) {
    const fm_candidate *a = x, *b = y;
    return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

static void swap(fm_candidate *a, fm_candidate *b) {
    fm_candidate t = *a;
    *a = *b;
    *b = t;
}

/* Quickselect: afterwards d[0..k) hold the k best (unordered). The pivot is
 * the median of three; the order is total (ids break ties), so equal
 * elements cannot stall the partition. */
static void select_top(fm_candidate *d, int32_t n, int32_t k) {
    int32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (better(&d[mid], &d[lo])) swap(&d[mid], &d[lo]);
        if (better(&d[hi], &d[lo])) swap(&d[hi], &d[lo]);
        if (better(&d[hi], &d[mid])) swap(&d[hi], &d[mid]);
        fm_candidate pivot = d[mid]; /* median of lo, mid, hi */
        int32_t i = lo, j = hi;
        while (i <= j) {
            while (better(&d[i], &pivot)) i++;
            while (better(&pivot, &d[j])) j--;
            if (i <= j) swap(&d[i++], &d[j--]);
        }
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else return;
    }
}

void fm_cand_sort(fm_candidates *c) {
    if (!c->sorted) qsort(c->data, (size_t)c->size, sizeof *c->data, cmp_desc);
    c->sorted = 1;
}

void fm_cand_top(fm_candidates *c, int32_t k) {
    if (c->sorted) return;
    if (k >= c->size / 2) {
        fm_cand_sort(c);
        return;
    }
    select_top(c->data, c->size, k);
    qsort(c->data, (size_t)k, sizeof *c->data, cmp_desc);
}

float fm_cand_softmax(fm_candidates *c) {
    float mx = -INFINITY;
    for (int32_t i = 0; i < c->size; i++)
        if (c->data[i].logit > mx) mx = c->data[i].logit;
    double sum = 0;
    for (int32_t i = 0; i < c->size; i++) {
        float e = mx == -INFINITY ? 1.0f : expf(c->data[i].logit - mx);
        c->data[i].p = e;
        sum += e;
    }
    const double inv = 1.0 / sum;
    for (int32_t i = 0; i < c->size; i++) c->data[i].p = (float)(c->data[i].p * inv);
    return mx;
}

int32_t fm_cand_argmax(const fm_candidates *c) {
    if (c->sorted) return 0;
    int32_t best = 0;
    for (int32_t i = 1; i < c->size; i++)
        if (better(&c->data[i], &c->data[best])) best = i;
    return best;
}

int32_t fm_cand_draw(const fm_candidates *c, double u) {
    double acc = 0;
    for (int32_t i = 0; i < c->size; i++) {
        acc += c->data[i].p;
        if (u < acc) return i;
    }
    /* rounding left u just above the total: the last token with mass */
    for (int32_t i = c->size - 1; i > 0; i--)
        if (c->data[i].p > 0) return i;
    return 0;
}

int32_t fm_cand_find(const fm_candidates *c, fm_token id, fm_cand_lookup *lk) {
    if (id < 0 || id >= c->n_vocab) return -1;
    if (id < c->size && c->data[id].id == id) return id;
    if (!lk->built) {
        if (lk->cap < c->n_vocab) {
            int32_t *p = fm_realloc(lk->pos, (size_t)c->n_vocab * sizeof *p);
            if (p == NULL) return -2;
            lk->pos = p;
            lk->cap = c->n_vocab;
        }
        for (int32_t i = 0; i < c->n_vocab; i++) lk->pos[i] = -1;
        for (int32_t i = 0; i < c->size; i++) lk->pos[c->data[i].id] = i;
        lk->built = 1;
    }
    return lk->pos[id];
}
