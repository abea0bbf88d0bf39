/* The sampler chain: candidates (id, logit) pass through each step in turn;
 * a final step picks one. Steps are small, order is the caller's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/params.h"

typedef struct candidate {
    float logit;
    fm_token id;
} candidate;

typedef struct step {
    fm_sampler_step kind;
    double value;
} step;

#define MAX_STEPS 16

struct fm_sampler {
    step steps[MAX_STEPS];
    int n_steps;
    uint64_t rng[4]; /* xoshiro256** state */
    candidate *cand;
    int32_t cap;
    float *prob;
};

/* splitmix64 spreads a 64-bit seed over the xoshiro state. */
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_u64(uint64_t s[4]) {
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* uniform in [0, 1) with 53 random bits */
static double next_unit(uint64_t s[4]) { return (double)(next_u64(s) >> 11) * (1.0 / 9007199254740992.0); }

void fm_sampler_set_seed(fm_sampler *s, uint64_t seed) {
    if (s == NULL) return;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&seed);
}

fm_status fm_sampler_params_init(fm_sampler_params *p, size_t size) {
    const fm_sampler_params d = {sizeof d, 0, 0, 0.8f, 40, 0.95f, 0.05f};
    return fm_params_init(p, size, &d, sizeof d, "fm_sampler_params_init");
}

fm_status fm_sampler_new_chain(uint64_t seed, fm_sampler **out) {
    fm_error_clear();
    if (out == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_new_chain: out is NULL");
    fm_sampler *s = calloc(1, sizeof *s);
    if (s == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a sampler");
    fm_sampler_set_seed(s, seed);
    *out = s;
    return FM_STATUS_OK;
}

fm_status fm_sampler_add(fm_sampler *s, fm_sampler_step kind, double value) {
    fm_error_clear();
    if (s == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_add: sampler is NULL");
    int bad;
    switch (kind) {
    case FM_STEP_TOP_K: bad = !(value >= 1 && value <= 2147483647.0); break;
    case FM_STEP_TOP_P: bad = !(value > 0 && value <= 1); break;
    case FM_STEP_MIN_P: bad = !(value >= 0 && value <= 1); break;
    case FM_STEP_TEMPERATURE: bad = !(value > 0 && value < INFINITY); break;
    case FM_STEP_GREEDY: case FM_STEP_DIST: bad = 0; break;
    default: return fm_error(FM_STATUS_INVALID_ARGUMENT, "unknown sampler step %d", (int)kind);
    }
    if (bad) return fm_error(FM_STATUS_INVALID_ARGUMENT, "sampler step %d: value %g is out of range", (int)kind, value);
    if (s->n_steps == MAX_STEPS) return fm_error(FM_STATUS_NO_MEMORY, "a chain holds at most %d steps", MAX_STEPS);
    s->steps[s->n_steps++] = (step){kind, value};
    return FM_STATUS_OK;
}

fm_status fm_sampler_new(const fm_sampler_params *params, fm_sampler **out) {
    fm_error_clear();
    if (out == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_new: out is NULL");
    *out = NULL;
    fm_sampler_params p;
    fm_sampler_params_init(&p, sizeof p);
    fm_status ps = fm_params_read(&p, sizeof p, params, "fm_sampler_params");
    if (ps) return ps;
    if (isnan(p.temperature) || isnan(p.top_p) || isnan(p.min_p) || p.top_p < 0 || p.min_p < 0 || p.min_p > 1)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "bad sampler params (temperature %g, top_p %g, min_p %g)",
                        p.temperature, p.top_p, p.min_p);
    fm_sampler *s;
    fm_status st = fm_sampler_new_chain(p.seed, &s);
    if (st) return st;
    if (p.temperature <= 0) {
        st = fm_sampler_add(s, FM_STEP_GREEDY, 0);
    } else {
        if (!st && p.top_k > 0) st = fm_sampler_add(s, FM_STEP_TOP_K, p.top_k);
        if (!st && p.top_p > 0 && p.top_p < 1) st = fm_sampler_add(s, FM_STEP_TOP_P, p.top_p);
        if (!st && p.min_p > 0) st = fm_sampler_add(s, FM_STEP_MIN_P, p.min_p);
        if (!st) st = fm_sampler_add(s, FM_STEP_TEMPERATURE, p.temperature);
        if (!st) st = fm_sampler_add(s, FM_STEP_DIST, 0);
    }
    if (st) {
        fm_sampler_free(s);
        return st;
    }
    *out = s;
    return FM_STATUS_OK;
}

void fm_sampler_free(fm_sampler *s) {
    if (s == NULL) return;
    free(s->cand);
    free(s->prob);
    free(s);
}

/* Descending logit; equal logits keep the lower id first. */
static int by_logit_desc(const void *a, const void *b) {
    const candidate *x = a, *y = b;
    if (x->logit != y->logit) return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Softmax of the candidates into s->prob (same order). */
static void softmax(fm_sampler *s, int32_t n) {
    float mx = -INFINITY;
    for (int32_t i = 0; i < n; i++)
        if (s->cand[i].logit > mx) mx = s->cand[i].logit;
    double sum = 0;
    for (int32_t i = 0; i < n; i++) sum += s->prob[i] = expf(s->cand[i].logit - mx);
    for (int32_t i = 0; i < n; i++) s->prob[i] = (float)(s->prob[i] / sum);
}

static fm_token argmax(const candidate *c, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (c[i].logit > c[best].logit || (c[i].logit == c[best].logit && c[i].id < c[best].id)) best = i;
    return c[best].id;
}

static fm_token draw(fm_sampler *s, int32_t n) {
    softmax(s, n);
    double u = next_unit(s->rng), acc = 0;
    for (int32_t i = 0; i < n; i++) {
        acc += s->prob[i];
        if (u < acc) return s->cand[i].id;
    }
    return s->cand[n - 1].id; /* rounding left u just above the total */
}

fm_status fm_sampler_sample(fm_sampler *s, const float *logits, int32_t n_vocab, fm_token *out) {
    fm_error_clear();
    if (s == NULL || logits == NULL || out == NULL || n_vocab <= 0)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_sample: bad argument");
    if (n_vocab > s->cap) {
        candidate *c = realloc(s->cand, (size_t)n_vocab * sizeof *c);
        if (c != NULL) s->cand = c;
        float *p = realloc(s->prob, (size_t)n_vocab * sizeof *p);
        if (p != NULL) s->prob = p;
        if (c == NULL || p == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for %d candidates", n_vocab);
        s->cap = n_vocab;
    }
    int32_t n = 0;
    for (int32_t i = 0; i < n_vocab; i++)
        if (!isnan(logits[i])) s->cand[n++] = (candidate){logits[i], i};
    if (n == 0) return fm_error(FM_STATUS_INVALID_ARGUMENT, "every logit is NaN");
    int sorted = 0;
    for (int k = 0; k < s->n_steps; k++) {
        const step *st = &s->steps[k];
        switch (st->kind) {
        case FM_STEP_TOP_K:
            if (!sorted) qsort(s->cand, (size_t)n, sizeof *s->cand, by_logit_desc), sorted = 1;
            if (st->value < n) n = (int32_t)st->value;
            break;
        case FM_STEP_TOP_P: {
            if (!sorted) qsort(s->cand, (size_t)n, sizeof *s->cand, by_logit_desc), sorted = 1;
            softmax(s, n);
            double acc = 0;
            int32_t keep = n;
            for (int32_t i = 0; i < n; i++) {
                acc += s->prob[i];
                if (acc >= st->value) {
                    keep = i + 1;
                    break;
                }
            }
            n = keep;
            break;
        }
        case FM_STEP_MIN_P: {
            /* p_i >= min_p * p_max  <=>  logit_i >= logit_max + log(min_p) */
            float mx = -INFINITY;
            for (int32_t i = 0; i < n; i++)
                if (s->cand[i].logit > mx) mx = s->cand[i].logit;
            const float cut = st->value > 0 ? mx + (float)log(st->value) : -INFINITY;
            int32_t m = 0;
            for (int32_t i = 0; i < n; i++)
                if (s->cand[i].logit >= cut) s->cand[m++] = s->cand[i];
            n = m;
            break;
        }
        case FM_STEP_TEMPERATURE:
            for (int32_t i = 0; i < n; i++) s->cand[i].logit = (float)(s->cand[i].logit / st->value);
            break;
        case FM_STEP_GREEDY: *out = argmax(s->cand, n); return FM_STATUS_OK;
        case FM_STEP_DIST: *out = draw(s, n); return FM_STATUS_OK;
        }
    }
    *out = draw(s, n);
    return FM_STATUS_OK;
}
