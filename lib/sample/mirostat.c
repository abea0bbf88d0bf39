/* Mirostat v1 and v2 (Basu et al. 2020): pick so that the surprise of the
 * text stays near a target tau. Both are final steps: they truncate, draw,
 * and move their state mu when the token is accepted (accept() rather
 * than apply(), so that the constraint fast path, which may apply a chain
 * twice for one token, moves mu once). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "sample_impl.h"

typedef struct mirostat {
    int version;
    double tau, eta, mu;
    int32_t m;
    /* the distribution of the last draw, for the surprise at accept() */
    fm_candidate *last;
    int32_t n_last, cap_last;
} mirostat;

static fm_status remember(mirostat *ms, const fm_candidates *c) {
    if (c->size > ms->cap_last) {
        fm_candidate *p = fm_realloc(ms->last, (size_t)c->size * sizeof *p);
        if (p == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory in the mirostat step");
        ms->last = p;
        ms->cap_last = c->size;
    }
    memcpy(ms->last, c->data, (size_t)c->size * sizeof *c->data);
    ms->n_last = c->size;
    return FM_STATUS_OK;
}

static fm_status mirostat_apply(void *state, fm_candidates *c, fm_sampler *chain) {
    mirostat *ms = state;
    fm_cand_softmax(c);
    if (ms->version == 1) {
        /* estimate the Zipf exponent s from the top m probabilities */
        const int32_t m = ms->m < c->size ? ms->m : c->size;
        fm_cand_top(c, m);
        double num = 0, den = 0;
        for (int32_t i = 0; i + 1 < m; i++) {
            if (!(c->data[i + 1].p > 0)) break;
            const double t = log((i + 2.0) / (i + 1.0)), b = log((double)c->data[i].p / c->data[i + 1].p);
            num += t * b;
            den += t * t;
        }
        const double s_hat = den > 0 ? num / den : 1.0, eps = s_hat - 1;
        const double n = c->n_vocab;
        double k = eps != 0 ? pow(eps * pow(2.0, ms->mu) / (1 - pow(n, -eps)), 1 / s_hat) : c->size;
        if (!(k >= 1)) k = 1;
        if (k < c->size) {
            fm_cand_top(c, (int32_t)k);
            c->size = (int32_t)k;
            c->sorted = 1;
        }
    } else {
        /* drop tokens whose surprise -log2 p exceeds mu (keep the best) */
        int32_t best = fm_cand_argmax(c), m = 0;
        for (int32_t i = 0; i < c->size; i++)
            if (i == best || -log2(c->data[i].p) <= ms->mu) c->data[m++] = c->data[i];
        c->size = m;
    }
    fm_cand_softmax(c);
    fm_status r = remember(ms, c);
    if (r) return r;
    c->selected = fm_cand_draw(c, fm_sampler_random(chain));
    return FM_STATUS_OK;
}

static void mirostat_accept(void *state, fm_token t) {
    mirostat *ms = state;
    for (int32_t i = 0; i < ms->n_last; i++)
        if (ms->last[i].id == t) {
            const double surprise = ms->last[i].p > 0 ? -log2(ms->last[i].p) : 64;
            ms->mu -= ms->eta * (surprise - ms->tau);
            break;
        }
    ms->n_last = 0; /* a token fed from outside, not drawn here, moves nothing */
}

static void mirostat_reset(void *state) {
    mirostat *ms = state;
    ms->mu = 2 * ms->tau;
    ms->n_last = 0;
}

static void mirostat_free(void *state) {
    mirostat *ms = state;
    free(ms->last);
    free(ms);
}

static fm_status mirostat_clone(const void *state, void **out) {
    const mirostat *ms = state;
    mirostat *q = fm_malloc(sizeof *q);
    if (q == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory cloning a mirostat step");
    *q = *ms;
    q->last = NULL, q->n_last = q->cap_last = 0;
    *out = q;
    return FM_STATUS_OK;
}

static const fm_sampler_step_iface mirostat_iface = {sizeof(fm_sampler_step_iface),
                                                     FM_STEP_PICKS,
                                                     "mirostat",
                                                     mirostat_apply,
                                                     NULL,
                                                     mirostat_accept,
                                                     mirostat_reset,
                                                     mirostat_clone,
                                                     mirostat_free};
static const fm_sampler_step_iface mirostat_v2_iface = {sizeof(fm_sampler_step_iface),
                                                        FM_STEP_PICKS,
                                                        "mirostat-v2",
                                                        mirostat_apply,
                                                        NULL,
                                                        mirostat_accept,
                                                        mirostat_reset,
                                                        mirostat_clone,
                                                        mirostat_free};

static fm_status add(fm_sampler *s, int version, double tau, double eta, int32_t m) {
    fm_error_clear();
    if (s == NULL || !(tau > 0 && tau < INFINITY) || !(eta > 0 && eta < INFINITY) || m < 2)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "mirostat: tau %g, eta %g, m %d out of range", tau, eta, (int)m);
    mirostat *ms = fm_calloc(1, sizeof *ms);
    if (ms == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a mirostat step");
    ms->version = version, ms->tau = tau, ms->eta = eta, ms->mu = 2 * tau, ms->m = m;
    return fm_sampler_push(s, version == 1 ? &mirostat_iface : &mirostat_v2_iface, ms);
}

fm_status fm_sampler_add_mirostat(fm_sampler *s, double tau, double eta, int32_t m) { return add(s, 1, tau, eta, m); }

fm_status fm_sampler_add_mirostat_v2(fm_sampler *s, double tau, double eta) { return add(s, 2, tau, eta, 100); }
