/* The standard chain that fm_sampler_params describe, in llama.cpp's
 * default order, and the one-call steps that take several values. */
#include <math.h>
#include <stddef.h>

#include "../core/error.h"
#include "../core/params.h"
#include "sample_impl.h"

fm_status fm_sampler_params_init(fm_sampler_params *p, size_t size) {
    fm_sampler_params d = {0};
    d.struct_size = sizeof d;
    d.temperature = 0.8f;
    d.top_k = 40;
    d.top_p = 0.95f;
    d.min_p = 0.05f;
    d.typical_p = 1.0f;
    d.dynatemp_exponent = 1.0f;
    d.xtc_threshold = 0.1f;
    d.penalty_last_n = 64;
    d.repeat_penalty = 1.0f;
    d.dry_base = 1.75f;
    d.dry_allowed_length = 2;
    d.dry_last_n = 64;
    d.mirostat_tau = 5.0f;
    d.mirostat_eta = 0.1f;
    return fm_params_init(p, size, &d, sizeof d, "fm_sampler_params_init");
}

fm_status fm_sampler_add_temp_ext(fm_sampler *s, double t, double delta, double exponent) {
    fm_error_clear();
    if (s == NULL || !(t > 0 && t < INFINITY) || !(delta >= 0 && delta < INFINITY) ||
        !(exponent > 0 && exponent < INFINITY))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_add_temp_ext: t %g, delta %g, exponent %g out of range",
                        t, delta, exponent);
    return fm_sampler_push_values(s, &fm_step_temp_ext, t, delta, exponent);
}

fm_status fm_sampler_add_xtc(fm_sampler *s, double probability, double threshold, int32_t min_keep) {
    fm_error_clear();
    if (s == NULL || !(probability >= 0 && probability <= 1) || !(threshold >= 0 && threshold <= 1) || min_keep < 1)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_add_xtc: probability %g, threshold %g, min_keep %d",
                        probability, threshold, (int)min_keep);
    return fm_sampler_push_values(s, &fm_step_xtc, probability, threshold, min_keep);
}

/* Every field is checked whether its step is on or not (a typo in a field
 * that is off today is still a typo): the ranges the header gives, in one
 * table, so that the contract and the code cannot drift apart. */
typedef struct range {
    const char *name;
    double v, lo, hi;
    int lo_open; /* v > lo rather than v >= lo */
} range;

static fm_status check_params(const fm_sampler_params *p) {
    const double big = 1 << 24, inf = INFINITY;
    const range r[] = {
        {"temperature", p->temperature, -inf, inf, 1},
        {"top_p", p->top_p, 0, inf, 0},
        {"min_p", p->min_p, 0, 1, 0},
        {"typical_p", p->typical_p, 0, inf, 1},
        {"top_n_sigma", p->top_n_sigma, -inf, inf, 1},
        {"dynatemp_range", p->dynatemp_range, 0, inf, 0},
        {"dynatemp_exponent", p->dynatemp_exponent, 0, inf, 1},
        {"xtc_probability", p->xtc_probability, 0, 1, 0},
        {"xtc_threshold", p->xtc_threshold, 0, 1, 0},
        {"penalty_last_n", p->penalty_last_n, 0, big, 0},
        {"repeat_penalty", p->repeat_penalty, 0, inf, 1},
        {"frequency_penalty", p->frequency_penalty, -inf, inf, 1},
        {"presence_penalty", p->presence_penalty, -inf, inf, 1},
        {"dry_multiplier", p->dry_multiplier, 0, inf, 0},
        {"dry_base", p->dry_base, 1, inf, 0},
        {"dry_allowed_length", p->dry_allowed_length, 1, big, 0},
        {"dry_last_n", p->dry_last_n, 0, big, 0},
        {"mirostat", p->mirostat, 0, 2, 0},
        {"mirostat_tau", p->mirostat_tau, 0, inf, 1},
        {"mirostat_eta", p->mirostat_eta, 0, inf, 1},
    };
    for (size_t i = 0; i < sizeof r / sizeof *r; i++) {
        /* finite, and inside: NaN fails every comparison */
        const int ok = isfinite(r[i].v) && (r[i].lo_open ? r[i].v > r[i].lo : r[i].v >= r[i].lo) && r[i].v <= r[i].hi;
        if (!ok)
            return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_params: %s %g is out of range (see fm.h)",
                            r[i].name, r[i].v);
    }
    if (p->n_logit_bias > 0 && p->logit_bias == NULL)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_params: n_logit_bias %zu with logit_bias NULL",
                        p->n_logit_bias);
    return FM_STATUS_OK;
}

fm_status fm_sampler_new(const fm_sampler_params *params, fm_sampler **out) {
    fm_error_clear();
    if (out == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_new: out is NULL");
    *out = NULL;
    fm_sampler_params p;
    fm_sampler_params_init(&p, sizeof p);
    fm_status st = fm_params_read(&p, sizeof p, params, "fm_sampler_params");
    if (st) return st;
    if (p.flags != 0) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_params: unknown flags 0x%x", p.flags);
    if ((st = check_params(&p))) return st;
    if (p.dry_multiplier > 0 && p.tokenizer == NULL)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_params: DRY needs the tokenizer field");
    fm_sampler *s;
    if ((st = fm_sampler_new_chain(p.seed, &s))) return st;
    const int penalties = p.repeat_penalty != 1 || p.frequency_penalty != 0 || p.presence_penalty != 0;
    if (p.n_logit_bias > 0 || p.logit_bias != NULL) st = fm_sampler_add_logit_bias(s, p.logit_bias, p.n_logit_bias);
    if (!st && penalties && p.penalty_last_n != 0)
        st = fm_sampler_add_penalties(s, p.penalty_last_n, p.repeat_penalty, p.frequency_penalty, p.presence_penalty);
    if (!st && p.dry_multiplier > 0 && p.dry_last_n != 0)
        st = fm_sampler_add_dry(s, p.tokenizer, p.dry_multiplier, p.dry_base, p.dry_allowed_length, p.dry_last_n,
                                NULL, 0);
    if (st) {
    } else if (p.temperature <= 0) {
        st = fm_sampler_add(s, FM_STEP_GREEDY, 0);
    } else if (p.mirostat) {
        st = fm_sampler_add(s, FM_STEP_TEMPERATURE, p.temperature);
        if (!st)
            st = p.mirostat == 1 ? fm_sampler_add_mirostat(s, p.mirostat_tau, p.mirostat_eta, 100)
                                 : fm_sampler_add_mirostat_v2(s, p.mirostat_tau, p.mirostat_eta);
    } else {
        if (!st && p.top_n_sigma > 0) st = fm_sampler_add(s, FM_STEP_TOP_N_SIGMA, p.top_n_sigma);
        if (!st && p.top_k > 0) st = fm_sampler_add(s, FM_STEP_TOP_K, p.top_k);
        if (!st && p.typical_p < 1) st = fm_sampler_add(s, FM_STEP_TYPICAL_P, p.typical_p);
        if (!st && p.top_p > 0 && p.top_p < 1) st = fm_sampler_add(s, FM_STEP_TOP_P, p.top_p);
        if (!st && p.min_p > 0) st = fm_sampler_add(s, FM_STEP_MIN_P, p.min_p);
        if (!st && p.xtc_probability > 0) st = fm_sampler_add_xtc(s, p.xtc_probability, p.xtc_threshold, 1);
        if (!st)
            st = p.dynatemp_range > 0 ? fm_sampler_add_temp_ext(s, p.temperature, p.dynatemp_range, p.dynatemp_exponent)
                                      : fm_sampler_add(s, FM_STEP_TEMPERATURE, p.temperature);
        if (!st) st = fm_sampler_add(s, FM_STEP_DIST, 0);
    }
    if (st) {
        fm_sampler_free(s);
        return st;
    }
    *out = s;
    return FM_STATUS_OK;
}
