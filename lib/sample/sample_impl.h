/* What the sampler's files share: the chain, its RNG, and helpers over
 * candidate sets. Every built-in step is an fm_sampler_step_iface like a
 * user's own; the chain knows nothing about what a step does. */
#ifndef FM_SAMPLE_IMPL_H
#define FM_SAMPLE_IMPL_H

#include <stdint.h>

#include "fm.h"

/* iface flag of the built-in steps that pick a token; fm_sampler_apply()
 * skips them. Never accepted from a caller. */
#define FM_STEP_PICKS 0x80000000u

typedef struct fm_step {
    const fm_sampler_step_iface *iface;
    void *state;
} fm_step;

struct fm_sampler {
    fm_step *steps;
    int32_t n_steps, cap_steps;
    uint64_t rng[4]; /* xoshiro256** */
    fm_candidate *cand; /* the working set */
    fm_candidates view;
    int32_t cap;
};

/* Appends a step; on failure frees `state` through the iface (the
 * ownership rule of fm_sampler_add_custom). */
fm_status fm_sampler_push(fm_sampler *s, const fm_sampler_step_iface *iface, void *state);

/* --- candidate helpers (candidates.c) --- */

/* Makes data[0..k) the k largest logits in descending order (ties: lower id
 * first), the rest in any order. O(size + k log k). Sets sorted if k covers
 * the whole set. */
void fm_cand_top(fm_candidates *c, int32_t k);
/* Sorts the whole set. */
void fm_cand_sort(fm_candidates *c);
/* Fills p with the softmax of the logits (-inf logits get 0). Returns the
 * maximum logit. */
float fm_cand_softmax(fm_candidates *c);
/* Index of the largest logit (lowest id on ties). */
int32_t fm_cand_argmax(const fm_candidates *c);
/* Draws an index from the p values (which must be filled), u in [0, 1). */
int32_t fm_cand_draw(const fm_candidates *c, double u);

/* Finding a token's place in a candidate set: while the set is still in
 * load order (data[id].id == id) directly, else through a position table
 * built once per apply call (reset `built` at the start of each). */
typedef struct fm_cand_lookup {
    int32_t *pos;
    int32_t cap;
    int built;
} fm_cand_lookup;
/* Index of `id` in c, -1 if absent, -2 out of memory. */
int32_t fm_cand_find(const fm_candidates *c, fm_token id, fm_cand_lookup *lk);

/* The built-in steps (steps_*.c, mirostat.c): each returns a new state
 * for its iface, or NULL when out of memory. */
extern const fm_sampler_step_iface fm_step_greedy, fm_step_dist, fm_step_temp, fm_step_top_k, fm_step_top_p,
    fm_step_min_p, fm_step_typical, fm_step_top_n_sigma, fm_step_temp_ext, fm_step_xtc;

/* A step whose state is a few doubles, cloned by value. */
typedef struct fm_step_values {
    double v[4];
} fm_step_values;
fm_status fm_step_values_clone(const void *state, void **out);
fm_status fm_sampler_push_values(fm_sampler *s, const fm_sampler_step_iface *iface, double a, double b,
                                 double c);

#endif
