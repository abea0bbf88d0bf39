/* The sampler chain: owns the steps, the RNG and the candidate storage,
 * runs the steps in order and feeds accepted tokens back to them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "sample_impl.h"

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

double fm_sampler_random(fm_sampler *s) {
    if (s == NULL) return 0;
    return (double)(next_u64(s->rng) >> 11) * (1.0 / 9007199254740992.0); /* 53 random bits */
}

void fm_sampler_set_seed(fm_sampler *s, uint64_t seed) {
    if (s == NULL) return;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&seed);
}

fm_status fm_sampler_new_chain(uint64_t seed, fm_sampler **out) {
    fm_error_clear();
    if (out == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_new_chain: out is NULL");
    fm_sampler *s = fm_calloc(1, sizeof *s);
    if (s == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a sampler");
    fm_sampler_set_seed(s, seed);
    *out = s;
    return FM_STATUS_OK;
}

static void free_state(const fm_sampler_step_iface *iface, void *state) {
    if (iface->free != NULL && state != NULL) iface->free(state);
}

fm_status fm_sampler_push(fm_sampler *s, const fm_sampler_step_iface *iface, void *state) {
    if (s->n_steps == s->cap_steps) {
        int32_t cap = s->cap_steps ? 2 * s->cap_steps : 8;
        fm_step *st = fm_realloc(s->steps, (size_t)cap * sizeof *st);
        if (st == NULL) {
            free_state(iface, state);
            return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a sampler step");
        }
        s->steps = st;
        s->cap_steps = cap;
    }
    s->steps[s->n_steps++] = (fm_step){iface, state};
    return FM_STATUS_OK;
}

fm_status fm_sampler_add_custom(fm_sampler *s, const fm_sampler_step_iface *iface, void *state) {
    fm_error_clear();
    if (s == NULL || iface == NULL || iface->apply == NULL ||
        iface->struct_size < sizeof(fm_sampler_step_iface) || (iface->flags & ~FM_STEP_CONSTRAINT)) {
        if (iface != NULL && iface->struct_size >= sizeof *iface) free_state(iface, state);
        return fm_error(FM_STATUS_INVALID_ARGUMENT,
                        "fm_sampler_add_custom: NULL sampler or iface, no apply, a struct_size below "
                        "sizeof(fm_sampler_step_iface) or unknown flags");
    }
    return fm_sampler_push(s, iface, state);
}

fm_status fm_step_values_clone(const void *state, void **out) {
    fm_step_values *v = fm_malloc(sizeof *v);
    if (v == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory cloning a sampler step");
    memcpy(v, state, sizeof *v);
    *out = v;
    return FM_STATUS_OK;
}

fm_status fm_sampler_push_values(fm_sampler *s, const fm_sampler_step_iface *iface, double a, double b,
                                 double c) {
    fm_step_values *v = fm_malloc(sizeof *v);
    if (v == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a sampler step");
    *v = (fm_step_values){{a, b, c, 0}};
    return fm_sampler_push(s, iface, v);
}

fm_status fm_sampler_add(fm_sampler *s, fm_sampler_step kind, double value) {
    fm_error_clear();
    if (s == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_add: sampler is NULL");
    const fm_sampler_step_iface *iface;
    int bad;
    switch (kind) {
    case FM_STEP_TOP_K: iface = &fm_step_top_k, bad = !(value >= 1 && value <= 2147483647.0); break;
    case FM_STEP_TOP_P: iface = &fm_step_top_p, bad = !(value > 0 && value <= 1); break;
    case FM_STEP_MIN_P: iface = &fm_step_min_p, bad = !(value >= 0 && value <= 1); break;
    case FM_STEP_TEMPERATURE: iface = &fm_step_temp, bad = !(value > 0 && value < INFINITY); break;
    case FM_STEP_GREEDY: iface = &fm_step_greedy, bad = 0; break;
    case FM_STEP_DIST: iface = &fm_step_dist, bad = 0; break;
    case FM_STEP_TYPICAL_P: iface = &fm_step_typical, bad = !(value > 0 && value <= 1); break;
    case FM_STEP_TOP_N_SIGMA: iface = &fm_step_top_n_sigma, bad = !(value > 0 && value < INFINITY); break;
    default: return fm_error(FM_STATUS_INVALID_ARGUMENT, "unknown sampler step %d", (int)kind);
    }
    if (bad)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "sampler step %s: value %g is out of range", iface->name, value);
    if (kind == FM_STEP_TOP_K) value = floor(value);
    return fm_sampler_push_values(s, iface, value, 0, 0);
}

void fm_sampler_free(fm_sampler *s) {
    if (s == NULL) return;
    for (int32_t i = 0; i < s->n_steps; i++) free_state(s->steps[i].iface, s->steps[i].state);
    free(s->steps);
    free(s->cand);
    free(s);
}

int32_t fm_sampler_n_steps(const fm_sampler *s) { return s ? s->n_steps : 0; }

const char *fm_sampler_step_name(const fm_sampler *s, int32_t i) {
    if (s == NULL || i < 0 || i >= s->n_steps) return NULL;
    return s->steps[i].iface->name ? s->steps[i].iface->name : "custom";
}

/* Fills the working set with every non-NaN logit. */
static fm_status load(fm_sampler *s, const float *logits, int32_t n_vocab) {
    if (n_vocab > s->cap) {
        fm_candidate *c = fm_realloc(s->cand, (size_t)n_vocab * sizeof *c);
        if (c == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for %d candidates", n_vocab);
        s->cand = c;
        s->cap = n_vocab;
    }
    int32_t n = 0;
    for (int32_t i = 0; i < n_vocab; i++)
        if (!isnan(logits[i])) s->cand[n++] = (fm_candidate){i, logits[i], 0};
    if (n == 0) return fm_error(FM_STATUS_INVALID_ARGUMENT, "every logit is NaN");
    s->view = (fm_candidates){s->cand, n, 0, -1, n_vocab};
    return FM_STATUS_OK;
}

static int is_constraint(const fm_step *st) { return (st->iface->flags & FM_STEP_CONSTRAINT) != 0; }

static fm_status apply_one(fm_sampler *s, const fm_step *st) {
    fm_status r = st->iface->apply(st->state, &s->view, s);
    if (r != FM_STATUS_OK) return r;
    if (s->view.size < 1 || s->view.size > s->cap)
        return fm_error(is_constraint(st) ? FM_STATUS_INVALID_ARGUMENT : FM_STATUS_INTERNAL,
                        is_constraint(st) ? "no token is allowed by the %s constraint here"
                                          : "sampler step %s left %d candidates",
                        fm_sampler_step_name(s, (int32_t)(st - s->steps)), s->view.size);
    if (s->view.selected >= s->view.size)
        return fm_error(FM_STATUS_INTERNAL, "sampler step %s selected index %d of %d",
                        fm_sampler_step_name(s, (int32_t)(st - s->steps)), s->view.selected, s->view.size);
    return FM_STATUS_OK;
}

/* Runs the chain over the loaded set: constraints first when asked, then
 * the other steps until one picks. `picking` 0 (fm_sampler_apply) skips the
 * built-in pickers and stops before a custom step's pick counts. */
static fm_status run(fm_sampler *s, int constraints, int picking) {
    fm_status r;
    if (constraints)
        for (int32_t i = 0; i < s->n_steps; i++)
            if (is_constraint(&s->steps[i]) && (r = apply_one(s, &s->steps[i]))) return r;
    for (int32_t i = 0; i < s->n_steps; i++) {
        const fm_step *st = &s->steps[i];
        if (is_constraint(st)) continue;
        if (!picking && (st->iface->flags & FM_STEP_PICKS)) continue;
        if ((r = apply_one(s, st))) return r;
        if (s->view.selected >= 0) {
            if (!picking) s->view.selected = -1;
            return FM_STATUS_OK;
        }
    }
    if (picking) {
        fm_cand_softmax(&s->view);
        s->view.selected = fm_cand_draw(&s->view, fm_sampler_random(s));
    }
    return FM_STATUS_OK;
}

static void accept_all(fm_sampler *s, fm_token t, int constraints) {
    for (int32_t i = 0; i < s->n_steps; i++) {
        const fm_step *st = &s->steps[i];
        if (st->iface->accept != NULL && (constraints || !is_constraint(st))) st->iface->accept(st->state, t);
    }
}

/* Whether every constraint allows `t`; -1 if one cannot tell (no allows). */
static int constraints_allow(const fm_sampler *s, fm_token t) {
    for (int32_t i = 0; i < s->n_steps; i++) {
        const fm_step *st = &s->steps[i];
        if (!is_constraint(st)) continue;
        if (st->iface->allows == NULL) return -1;
        if (!st->iface->allows(st->state, t)) return 0;
    }
    return 1;
}

fm_status fm_sampler_sample(fm_sampler *s, const float *logits, int32_t n_vocab, fm_token *out) {
    fm_error_clear();
    if (s == NULL || logits == NULL || out == NULL || n_vocab <= 0)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_sample: bad argument");
    int has_constraints = 0;
    for (int32_t i = 0; i < s->n_steps; i++) has_constraints |= is_constraint(&s->steps[i]);
    fm_status r = load(s, logits, n_vocab);
    if (r) return r;
    fm_token t = -1;
    if (has_constraints) {
        /* the fast path: pick without the masks, keep the pick if allowed */
        if ((r = run(s, 0, 1))) return r;
        t = s->view.data[s->view.selected].id;
        if (constraints_allow(s, t) != 1) {
            t = -1;
            if ((r = load(s, logits, n_vocab))) return r;
        }
    }
    if (t < 0) {
        if ((r = run(s, 1, 1))) return r;
        t = s->view.data[s->view.selected].id;
    }
    accept_all(s, t, 1);
    *out = t;
    return FM_STATUS_OK;
}

fm_status fm_sampler_apply(fm_sampler *s, const float *logits, int32_t n_vocab, const fm_candidates **out) {
    fm_error_clear();
    if (s == NULL || logits == NULL || out == NULL || n_vocab <= 0)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_apply: bad argument");
    fm_status r = load(s, logits, n_vocab);
    if (r == FM_STATUS_OK) r = run(s, 1, 0);
    if (r == FM_STATUS_OK) fm_cand_softmax(&s->view);
    *out = r == FM_STATUS_OK ? &s->view : NULL;
    return r;
}

fm_status fm_sampler_accept(fm_sampler *s, fm_token token, uint32_t flags) {
    fm_error_clear();
    if (s == NULL || token < 0 || (flags & ~FM_ACCEPT_SKIP_CONSTRAINTS))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_accept: NULL sampler, negative token or unknown flags");
    const int constraints = !(flags & FM_ACCEPT_SKIP_CONSTRAINTS);
    if (constraints && constraints_allow(s, token) == 0)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_accept: a constraint does not allow token %d here",
                        (int)token);
    accept_all(s, token, constraints);
    return FM_STATUS_OK;
}

void fm_sampler_reset(fm_sampler *s) {
    if (s == NULL) return;
    for (int32_t i = 0; i < s->n_steps; i++)
        if (s->steps[i].iface->reset != NULL) s->steps[i].iface->reset(s->steps[i].state);
}

fm_status fm_sampler_clone(const fm_sampler *s, fm_sampler **out) {
    fm_error_clear();
    if (s == NULL || out == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_clone: NULL argument");
    *out = NULL;
    for (int32_t i = 0; i < s->n_steps; i++)
        if (s->steps[i].state != NULL && s->steps[i].iface->clone == NULL)
            return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_clone: step %d (%s) cannot be cloned", (int)i,
                            fm_sampler_step_name(s, i));
    fm_sampler *c = fm_calloc(1, sizeof *c);
    if (c == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory cloning a sampler");
    memcpy(c->rng, s->rng, sizeof c->rng);
    for (int32_t i = 0; i < s->n_steps; i++) {
        const fm_step *st = &s->steps[i];
        void *state = NULL;
        fm_status r = st->state ? st->iface->clone(st->state, &state) : FM_STATUS_OK;
        if (r == FM_STATUS_OK) r = fm_sampler_push(c, st->iface, state);
        if (r != FM_STATUS_OK) {
            fm_sampler_free(c);
            return r;
        }
    }
    *out = c;
    return FM_STATUS_OK;
}
