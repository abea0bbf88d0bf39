/* The stateless built-in steps: pickers, temperature and the truncations.
 * Each keeps at least one candidate. The definitions follow llama.cpp's
 * samplers, so that the same options mean the same thing in both. */
#include <math.h>
#include <stdlib.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "sample_impl.h"

#define V(state, i) (((const fm_step_values *)(state))->v[i])

static fm_status greedy_apply(void *state, fm_candidates *c, fm_sampler *chain) {
    (void)state, (void)chain;
    c->selected = fm_cand_argmax(c);
    return FM_STATUS_OK;
}

static fm_status dist_apply(void *state, fm_candidates *c, fm_sampler *chain) {
    (void)state;
    fm_cand_softmax(c);
    c->selected = fm_cand_draw(c, fm_sampler_random(chain));
    return FM_STATUS_OK;
}

/* Dividing by a positive number keeps the order, so `sorted` stays. */
static void scale(fm_candidates *c, double t) {
    for (int32_t i = 0; i < c->size; i++) c->data[i].logit = (float)(c->data[i].logit / t);
}

static fm_status temp_apply(void *state, fm_candidates *c, fm_sampler *chain) {
    (void)chain;
    scale(c, V(state, 0));
    return FM_STATUS_OK;
}

static fm_status top_k_apply(void *state, fm_candidates *c, fm_sampler *chain) {
    (void)chain;
    const double k = V(state, 0);
    if (k < c->size) {
        fm_cand_top(c, (int32_t)k);
        c->size = (int32_t)k;
        c->sorted = 1;
    }
    return FM_STATUS_OK;
}

/* The smallest sorted prefix whose probability mass reaches `p` (after a
 * softmax over the whole set): sorts only as far as needed, growing the
 * prefix fourfold each time. Returns its length; data[0..len) sorted. */
static int32_t mass_prefix(fm_candidates *c, double p) {
    fm_cand_softmax(c);
    int32_t k = c->size < 64 ? c->size : 64;
    double acc = 0;
    int32_t i = 0;
    for (;;) {
        fm_cand_top(c, k);
        for (; i < k; i++) {
            acc += c->data[i].p;
            if (acc >= p) return i + 1;
        }
        if (k == c->size) return c->size;
        k = k > c->size / 4 ? c->size : 4 * k;
        /* the next round re-selects from scratch; what is already in place
         * stays in place because the order is total */
    }
}

static fm_status top_p_apply(void *state, fm_candidates *c, fm_sampler *chain) {
    (void)chain;
    const double p = V(state, 0);
    if (p >= 1) return FM_STATUS_OK;
    c->size = mass_prefix(c, p);
    c->sorted = 1;
    return FM_STATUS_OK;
}

/* p_i >= min_p * p_max  <=>  logit_i >= logit_max + log(min_p) */
static fm_status min_p_apply(void *state, fm_candidates *c, fm_sampler *chain) {
    (void)chain;
    const double mp = V(state, 0);
    if (mp <= 0) return FM_STATUS_OK;
    float mx = -INFINITY;
    for (int32_t i = 0; i < c->size; i++)
        if (c->data[i].logit > mx) mx = c->data[i].logit;
    const float cut = mx + (float)log(mp);
    int32_t m = 0;
    for (int32_t i = 0; i < c->size; i++)
        if (c->data[i].logit >= cut) c->data[m++] = c->data[i];
    c->size = m > 0 ? m : 1; /* cannot be 0: the maximum passes */
    return FM_STATUS_OK;
}

/* Locally typical sampling (Meister et al. 2022): keep the tokens whose
 * surprise is closest to the entropy, until their mass passes p. */
typedef struct typical_key {
    double dist;
    fm_candidate c;
} typical_key;

static int by_dist(const void *x, const void *y) {
    const typical_key *a = x, *b = y;
    if (a->dist != b->dist) return a->dist < b->dist ? -1 : 1;
    return a->c.id < b->c.id ? -1 : a->c.id > b->c.id;
}

static fm_status typical_apply(void *state, fm_candidates *c, fm_sampler *chain) {
    (void)chain;
    const double p = V(state, 0);
    if (p >= 1 || c->size < 2) return FM_STATUS_OK;
    fm_cand_softmax(c);
    double h = 0;
    for (int32_t i = 0; i < c->size; i++)
        if (c->data[i].p > 0) h -= c->data[i].p * log(c->data[i].p);
    typical_key *k = fm_malloc((size_t)c->size * sizeof *k);
    if (k == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory in the typical step");
    for (int32_t i = 0; i < c->size; i++) {
        const double pi = c->data[i].p;
        k[i] = (typical_key){pi > 0 ? fabs(-log(pi) - h) : INFINITY, c->data[i]};
    }
    qsort(k, (size_t)c->size, sizeof *k, by_dist);
    double acc = 0;
    int32_t keep = c->size;
    for (int32_t i = 0; i < c->size; i++) {
        acc += k[i].c.p;
        if (acc > p) {
            keep = i + 1;
            break;
        }
    }
    for (int32_t i = 0; i < keep; i++) c->data[i] = k[i].c;
    free(k);
    c->size = keep;
    c->sorted = 0;
    return FM_STATUS_OK;
}

/* Top-n-sigma (Tang et al. 2024): keep logits within n standard deviations
 * of the maximum; mean and deviation over the finite logits. */
static fm_status top_n_sigma_apply(void *state, fm_candidates *c, fm_sampler *chain) {
    (void)chain;
    const double n = V(state, 0);
    double mx = -INFINITY, sum = 0;
    int32_t cnt = 0;
    for (int32_t i = 0; i < c->size; i++) {
        const float l = c->data[i].logit;
        if (!isfinite(l)) continue;
        if (l > mx) mx = l;
        sum += l;
        cnt++;
    }
    if (cnt == 0) return FM_STATUS_OK;
    const double mean = sum / cnt;
    double var = 0;
    for (int32_t i = 0; i < c->size; i++) {
        const float l = c->data[i].logit;
        if (isfinite(l)) var += (l - mean) * (l - mean);
    }
    const double cut = mx - n * sqrt(var / cnt);
    int32_t m = 0;
    for (int32_t i = 0; i < c->size; i++)
        if (c->data[i].logit >= cut) c->data[m++] = c->data[i];
    c->size = m > 0 ? m : 1;
    return FM_STATUS_OK;
}

/* Dynamic temperature (entropy-scaled): v = {t, delta, exponent}. */
static fm_status temp_ext_apply(void *state, fm_candidates *c, fm_sampler *chain) {
    (void)chain;
    const double t = V(state, 0), delta = V(state, 1), expo = V(state, 2);
    if (delta <= 0 || c->size < 2) {
        scale(c, t);
        return FM_STATUS_OK;
    }
    const double lo = t - delta > 0 ? t - delta : 0, hi = t + delta;
    fm_cand_softmax(c);
    double h = 0;
    for (int32_t i = 0; i < c->size; i++)
        if (c->data[i].p > 0) h -= c->data[i].p * log(c->data[i].p);
    const double norm = h / log((double)c->size);
    double dt = lo + (hi - lo) * pow(norm, expo);
    if (dt < 1e-6) dt = 1e-6; /* a zero temperature is argmax: keep the order, avoid inf */
    scale(c, dt);
    return FM_STATUS_OK;
}

/* XTC: v = {probability, threshold, min_keep}. */
static fm_status xtc_apply(void *state, fm_candidates *c, fm_sampler *chain) {
    const double prob = V(state, 0), thr = V(state, 1);
    const int32_t min_keep = (int32_t)V(state, 2);
    if (prob <= 0 || thr > 0.5 || c->size < 2) return FM_STATUS_OK; /* above 0.5 two tokens cannot both pass */
    if (fm_sampler_random(chain) >= prob) return FM_STATUS_OK;
    fm_cand_softmax(c);
    /* the candidates above the threshold are among the best 1/thr */
    int32_t k = thr > 0 ? (int32_t)fmin((double)c->size, ceil(1.0 / thr) + 1) : c->size;
    fm_cand_top(c, k);
    int32_t last = -1;
    for (int32_t i = 0; i < k; i++)
        if (c->data[i].p >= thr) last = i;
    if (last < 1 || c->size - last < min_keep) return FM_STATUS_OK;
    for (int32_t i = last; i < c->size; i++) c->data[i - last] = c->data[i];
    c->size -= last;
    return FM_STATUS_OK;
}

#define STEP(n, flags, fn) \
    {sizeof(fm_sampler_step_iface), flags, n, fn, NULL, NULL, NULL, fm_step_values_clone, free}

const fm_sampler_step_iface fm_step_greedy = STEP("greedy", FM_STEP_PICKS, greedy_apply);
const fm_sampler_step_iface fm_step_dist = STEP("dist", FM_STEP_PICKS, dist_apply);
const fm_sampler_step_iface fm_step_temp = STEP("temperature", 0, temp_apply);
const fm_sampler_step_iface fm_step_top_k = STEP("top-k", 0, top_k_apply);
const fm_sampler_step_iface fm_step_top_p = STEP("top-p", 0, top_p_apply);
const fm_sampler_step_iface fm_step_min_p = STEP("min-p", 0, min_p_apply);
const fm_sampler_step_iface fm_step_typical = STEP("typical", 0, typical_apply);
const fm_sampler_step_iface fm_step_top_n_sigma = STEP("top-n-sigma", 0, top_n_sigma_apply);
const fm_sampler_step_iface fm_step_temp_ext = STEP("temp-ext", 0, temp_ext_apply);
const fm_sampler_step_iface fm_step_xtc = STEP("xtc", 0, xtc_apply);
