/* fm_sampler_new's contract, field by field (issue 19 finding 6: the doc
 * promised INVALID_ARGUMENT for out-of-range values, yet NaN-free negative
 * values, infinities and fields of steps that were off went through
 * unchecked; top_p 0 meant "off" in the struct with no word in the header).
 * Each case sets one field of the defaults; the message must name it. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "../common/testutil.h"
#include "fm.h"

typedef struct tcase {
    const char *field;
    size_t off;
    int is_int;
    double value;
    int ok; /* 1: accepted */
} tcase;

#define F(name, v, ok) {#name, offsetof(fm_sampler_params, name), 0, v, ok}
#define I(name, v, ok) {#name, offsetof(fm_sampler_params, name), 1, v, ok}

int main(void) {
    const double inf = INFINITY, nan = NAN;
    const tcase cases[] = {
        F(temperature, -1, 1), F(temperature, 0, 1), F(temperature, 2, 1),
        F(temperature, nan, 0), F(temperature, inf, 0), F(temperature, -inf, 0),
        I(top_k, -5, 1), I(top_k, 0, 1), I(top_k, 1, 1),
        F(top_p, 0, 1), F(top_p, 0.5, 1), F(top_p, 1, 1), F(top_p, 3, 1),
        F(top_p, -0.1, 0), F(top_p, nan, 0), F(top_p, inf, 0),
        F(min_p, 0, 1), F(min_p, 1, 1), F(min_p, -0.01, 0), F(min_p, 1.5, 0), F(min_p, nan, 0),
        F(typical_p, 0.5, 1), F(typical_p, 1, 1), F(typical_p, 0, 0), F(typical_p, -1, 0),
        F(top_n_sigma, -1, 1), F(top_n_sigma, 2, 1), F(top_n_sigma, nan, 0),
        F(dynatemp_range, 0, 1), F(dynatemp_range, 0.5, 1), F(dynatemp_range, -0.5, 0),
        F(dynatemp_exponent, 1, 1), F(dynatemp_exponent, 0, 0),
        F(xtc_probability, 0, 1), F(xtc_probability, 1, 1), F(xtc_probability, 1.5, 0), F(xtc_probability, -1, 0),
        F(xtc_threshold, 0.2, 1), F(xtc_threshold, 2, 0),
        I(penalty_last_n, 0, 1), I(penalty_last_n, 64, 1), I(penalty_last_n, -1, 0),
        I(penalty_last_n, 1 << 25, 0),
        F(repeat_penalty, 1, 1), F(repeat_penalty, 1.3, 1), F(repeat_penalty, 0, 0), F(repeat_penalty, -1, 0),
        F(frequency_penalty, -0.5, 1), F(frequency_penalty, inf, 0),
        F(presence_penalty, 0.5, 1), F(presence_penalty, nan, 0),
        F(dry_multiplier, 0, 1), F(dry_multiplier, -1, 0),
        F(dry_base, 1.75, 1), F(dry_base, 0.5, 0),
        I(dry_allowed_length, 2, 1), I(dry_allowed_length, 0, 0),
        I(dry_last_n, 0, 1), I(dry_last_n, -1, 0),
        I(mirostat, 0, 1), I(mirostat, 2, 1), I(mirostat, 3, 0), I(mirostat, -1, 0),
        F(mirostat_tau, 5, 1), F(mirostat_tau, 0, 0), F(mirostat_tau, nan, 0),
        F(mirostat_eta, 0.1, 1), F(mirostat_eta, -0.1, 0),
    };
    static float logits[64];
    for (int i = 0; i < 64; i++) logits[i] = (float)(i % 7);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const tcase *c = &cases[i];
        fm_sampler_params p;
        fm_sampler_params_init(&p, sizeof p);
        if (c->is_int) *(int32_t *)(void *)((char *)&p + c->off) = (int32_t)c->value;
        else *(float *)(void *)((char *)&p + c->off) = (float)c->value;
        fm_sampler *s = NULL;
        fm_status st = fm_sampler_new(&p, &s);
        if (c->ok) {
            CHECK(st == FM_STATUS_OK && s != NULL, "%s = %g refused: %s", c->field, c->value, fm_last_error());
            fm_token t = -1;
            CHECK(s == NULL || (fm_sampler_sample(s, logits, 64, &t) == FM_STATUS_OK && t >= 0 && t < 64),
                  "%s = %g: sample %s", c->field, c->value, fm_last_error());
        } else {
            CHECK(st == FM_STATUS_INVALID_ARGUMENT && s == NULL, "%s = %g accepted (%s)", c->field, c->value,
                  fm_status_name(st));
            CHECK(strstr(fm_last_error(), c->field) != NULL, "%s = %g: message '%s' does not name the field",
                  c->field, c->value, fm_last_error());
        }
        fm_sampler_free(s);
    }
    /* the list and its length must agree */
    fm_sampler_params p;
    fm_sampler_params_init(&p, sizeof p);
    p.n_logit_bias = 3;
    fm_sampler *s = NULL;
    CHECK(fm_sampler_new(&p, &s) == FM_STATUS_INVALID_ARGUMENT && s == NULL, "n_logit_bias 3 with NULL list");
    /* off in the struct, refused as an explicit step: the documented split */
    fm_sampler_params_init(&p, sizeof p);
    p.top_p = 0;
    CHECK(fm_sampler_new(&p, &s) == FM_STATUS_OK, "top_p 0 is off");
    CHECK(fm_sampler_add(s, FM_STEP_TOP_P, 0) == FM_STATUS_INVALID_ARGUMENT, "explicit top-p 0 refused");
    CHECK(fm_sampler_add(s, FM_STEP_TOP_K, -5) == FM_STATUS_INVALID_ARGUMENT, "explicit top-k -5 refused");
    CHECK(fm_sampler_add(s, FM_STEP_TEMPERATURE, -1) == FM_STATUS_INVALID_ARGUMENT, "explicit temperature -1 refused");
    fm_sampler_free(s);
    return tu_finish("sampler params");
}
