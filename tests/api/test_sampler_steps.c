/* Issue 16, acceptance 4: each sampler step against a reference computed
 * here in double precision on fixed logits; the default order; clone,
 * reset and accept; a user-written constraint and the fast path that
 * checks the picked token before computing a mask. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "fm.h"

#define NV 6
static const float L6[NV] = {2.0f, 1.0f, 0.5f, -0.5f, -1.0f, 3.0f};

/* The surviving candidates of `s` over `logits`, as a per-id logit table
 * (NAN = dropped). Returns the survivor count. */
static int survivors(fm_sampler *s, const float *logits, int n, float *out) {
    const fm_candidates *c = NULL;
    fm_status st = fm_sampler_apply(s, logits, n, &c);
    CHECK(st == FM_STATUS_OK && c != NULL, "apply: %s", fm_last_error());
    for (int i = 0; i < n; i++) out[i] = NAN;
    if (c == NULL) return 0;
    double psum = 0;
    for (int i = 0; i < c->size; i++) {
        out[c->data[i].id] = c->data[i].logit;
        psum += c->data[i].p;
    }
    CHECK(fabs(psum - 1) < 1e-5, "apply fills probabilities summing to 1 (%g)", psum);
    return c->size;
}

static fm_sampler *chain(uint64_t seed) {
    fm_sampler *s = NULL;
    CHECK(fm_sampler_new_chain(seed, &s) == FM_STATUS_OK, "new chain");
    return s;
}

static void softmax_d(const float *l, int n, double *p) {
    double mx = -INFINITY, sum = 0;
    for (int i = 0; i < n; i++) if (l[i] > mx) mx = l[i];
    for (int i = 0; i < n; i++) sum += p[i] = exp(l[i] - mx);
    for (int i = 0; i < n; i++) p[i] /= sum;
}

static void test_penalties(void) {
    fm_sampler *s = chain(1);
    CHECK(fm_sampler_add_penalties(s, 3, 2.0, 0.25, 0.5) == FM_STATUS_OK, "add penalties");
    /* history 4, 0, 0, 3 with last_n 3: the first 4 falls out of the window */
    const fm_token hist[4] = {4, 0, 0, 3};
    for (int i = 0; i < 4; i++) CHECK(fm_sampler_accept(s, hist[i], FM_ACCEPT_SKIP_CONSTRAINTS) == 0, "accept");
    float got[NV];
    CHECK(survivors(s, L6, NV, got) == NV, "penalties drop nothing");
    const double want0 = 2.0 / 2.0 - (2 * 0.25 + 0.5), want3 = -0.5 * 2.0 - (1 * 0.25 + 0.5);
    CHECK(fabsf(got[0] - (float)want0) < 1e-6f, "token 0 (twice, positive): %g want %g", got[0], want0);
    CHECK(fabsf(got[3] - (float)want3) < 1e-6f, "token 3 (once, negative): %g want %g", got[3], want3);
    CHECK(got[4] == L6[4] && got[1] == L6[1] && got[5] == L6[5], "tokens outside the window untouched");
    fm_sampler_reset(s);
    survivors(s, L6, NV, got);
    CHECK(got[0] == L6[0] && got[3] == L6[3], "reset forgets the history");
    CHECK(fm_sampler_add_penalties(s, -1, 1, 0, 0) == FM_STATUS_INVALID_ARGUMENT, "last_n -1 refused");
    CHECK(fm_sampler_add_penalties(s, 4, 0, 0, 0) == FM_STATUS_INVALID_ARGUMENT, "repeat 0 refused");
    CHECK(fm_sampler_add_penalties(s, 4, 1, NAN, 0) == FM_STATUS_INVALID_ARGUMENT, "NaN refused");
    fm_sampler_free(s);
}

static void test_logit_bias(void) {
    fm_sampler *s = chain(1);
    const fm_logit_bias b[3] = {{1, 1.5f}, {5, -INFINITY}, {100, 3.0f}};
    CHECK(fm_sampler_add_logit_bias(s, b, 3) == FM_STATUS_OK, "add bias (id 100 is outside this vocab: ignored)");
    float got[NV];
    CHECK(survivors(s, L6, NV, got) == NV - 1, "a -inf bias bans the token");
    CHECK(got[1] == 2.5f && isnan(got[5]) && got[0] == 2.0f, "bias: %g %g", got[1], got[5]);
    fm_token t;
    fm_sampler_add(s, FM_STEP_GREEDY, 0);
    CHECK(fm_sampler_sample(s, L6, NV, &t) == FM_STATUS_OK && t == 1, "greedy after bias picks 1 (got %d)", t);
    const fm_logit_bias bad[1] = {{-1, 1}};
    CHECK(fm_sampler_add_logit_bias(s, bad, 1) == FM_STATUS_INVALID_ARGUMENT, "negative id refused");
    const fm_logit_bias nan[1] = {{1, NAN}};
    CHECK(fm_sampler_add_logit_bias(s, nan, 1) == FM_STATUS_INVALID_ARGUMENT, "NaN bias refused");
    fm_sampler_free(s);
}

static void test_typical_sigma_temp(void) {
    double p[NV];
    softmax_d(L6, NV, p);
    double h = 0;
    for (int i = 0; i < NV; i++) h -= p[i] * log(p[i]);
    /* reference typical set for mass 0.5: order by |surprise - H| */
    int order[NV];
    for (int i = 0; i < NV; i++) order[i] = i;
    for (int i = 0; i < NV; i++)
        for (int j = i + 1; j < NV; j++)
            if (fabs(-log(p[order[j]]) - h) < fabs(-log(p[order[i]]) - h)) {
                int t = order[i];
                order[i] = order[j], order[j] = t;
            }
    int keep = NV;
    double acc = 0;
    for (int i = 0; i < NV; i++) {
        acc += p[order[i]];
        if (acc > 0.5) {
            keep = i + 1;
            break;
        }
    }
    fm_sampler *s = chain(1);
    fm_sampler_add(s, FM_STEP_TYPICAL_P, 0.5);
    float got[NV];
    CHECK(survivors(s, L6, NV, got) == keep, "typical keeps %d", keep);
    for (int i = 0; i < keep; i++) CHECK(!isnan(got[order[i]]), "typical keeps id %d", order[i]);
    fm_sampler_free(s);

    /* top-n-sigma: mean 0.8333, population sd; keep >= 3 - 1 * sd */
    double mean = 0, var = 0;
    for (int i = 0; i < NV; i++) mean += L6[i];
    mean /= NV;
    for (int i = 0; i < NV; i++) var += (L6[i] - mean) * (L6[i] - mean);
    const double cut = 3.0 - sqrt(var / NV);
    s = chain(1);
    fm_sampler_add(s, FM_STEP_TOP_N_SIGMA, 1.0);
    int n = survivors(s, L6, NV, got), want = 0;
    for (int i = 0; i < NV; i++) {
        want += L6[i] >= cut;
        CHECK(isnan(got[i]) == !(L6[i] >= cut), "top-n-sigma id %d", i);
    }
    CHECK(n == want, "top-n-sigma keeps %d (got %d)", want, n);
    fm_sampler_free(s);

    /* dynamic temperature: t' = max(t - d, 0) + 2d (H / log n)^e */
    s = chain(1);
    CHECK(fm_sampler_add_temp_ext(s, 1.0, 0.5, 2.0) == FM_STATUS_OK, "temp ext");
    const double tdyn = 0.5 + 1.0 * pow(h / log(NV), 2.0);
    survivors(s, L6, NV, got);
    for (int i = 0; i < NV; i++)
        CHECK(fabs(got[i] - L6[i] / tdyn) < 1e-5, "dynamic temperature id %d: %g want %g", i, got[i], L6[i] / tdyn);
    CHECK(fm_sampler_add_temp_ext(s, 1.0, -1, 1) == FM_STATUS_INVALID_ARGUMENT, "negative delta refused");
    fm_sampler_free(s);
}

static void test_xtc(void) {
    /* p = softmax: ids 5 (0.53), 0 (0.20), 1 (0.07)... threshold 0.1:
     * 5 and 0 pass; XTC removes 5 and keeps 0 and everything below */
    double p[NV];
    softmax_d(L6, NV, p);
    fm_sampler *s = chain(3);
    CHECK(fm_sampler_add_xtc(s, 1.0, 0.1, 1) == FM_STATUS_OK, "xtc");
    float got[NV];
    int n = survivors(s, L6, NV, got);
    int above = 0;
    for (int i = 0; i < NV; i++) above += p[i] >= 0.1;
    CHECK(above == 2, "the fixture has two tokens above 0.1 (%d)", above);
    CHECK(n == NV - 1 && isnan(got[5]) && !isnan(got[0]), "XTC removes the top choice only (n %d)", n);
    fm_sampler_free(s);
    s = chain(3);
    fm_sampler_add_xtc(s, 1.0, 0.6, 1); /* no token reaches 0.6: nothing happens */
    CHECK(survivors(s, L6, NV, got) == NV, "XTC above 0.5 is a no-op");
    fm_sampler_free(s);
    s = chain(3);
    fm_sampler_add_xtc(s, 1.0, 0.1, NV); /* min_keep the whole set: nothing removed */
    CHECK(survivors(s, L6, NV, got) == NV, "XTC respects min_keep");
    CHECK(fm_sampler_add_xtc(s, 1.5, 0.1, 1) == FM_STATUS_INVALID_ARGUMENT, "probability 1.5 refused");
    fm_sampler_free(s);
}

/* DRY on stories260K's vocabulary: the pieces decide the breakers. */
static void test_dry(void) {
    fm_tokenizer *tok;
    CHECK(fm_tokenizer_load(tu_data("models/stories260K.gguf"), NULL, &tok) == FM_STATUS_OK, "tokenizer");
    const int nv = fm_tokenizer_n_vocab(tok);
    float *l = calloc((size_t)nv, sizeof *l), *got = malloc((size_t)nv * sizeof *got);
    fm_token nl; /* the newline byte token is a breaker */
    CHECK(fm_tokenizer_find(tok, "<0x0A>", 6, &nl) == FM_STATUS_OK, "newline token");
    /* a b c d a b c: the history ends with "a b c", which was followed by d;
     * L = 3 for d; allowed 2 -> penalty 0.8 * 1.75^(3-2) */
    const fm_token a = 300, b = 301, c = 302, d = 303;
    const fm_token hist[7] = {a, b, c, d, a, b, c};
    fm_sampler *s = chain(1);
    CHECK(fm_sampler_add_dry(s, tok, 0.8, 1.75, 2, 64, NULL, 0) == FM_STATUS_OK, "add dry: %s", fm_last_error());
    for (int i = 0; i < 7; i++) fm_sampler_accept(s, hist[i], 0);
    survivors(s, l, nv, got);
    CHECK(fabsf(got[d] - (float)(-0.8 * 1.75)) < 1e-5f, "DRY penalises d by 0.8*1.75: %g", got[d]);
    int others = 0;
    for (int i = 0; i < nv; i++) others += i != d && got[i] != 0.0f;
    CHECK(others == 0, "DRY touches only d (%d others)", others);
    fm_sampler_free(s);
    /* the same with a breaker inside the earlier occurrence: a nl c d a nl c:
     * the match stops at the breaker, L = 1 < allowed: no penalty */
    const fm_token hist2[7] = {a, nl, c, d, a, nl, c};
    s = chain(1);
    fm_sampler_add_dry(s, tok, 0.8, 1.75, 2, 64, NULL, 0);
    for (int i = 0; i < 7; i++) fm_sampler_accept(s, hist2[i], 0);
    survivors(s, l, nv, got);
    CHECK(got[d] == 0.0f, "a breaker ends the match: %g", got[d]);
    fm_sampler_free(s);
    /* a custom breaker list */
    s = chain(1);
    const char *br[1] = {"zzz-not-in-vocab"};
    fm_sampler_add_dry(s, tok, 1.0, 2.0, 1, 64, br, 1);
    for (int i = 0; i < 7; i++) fm_sampler_accept(s, hist2[i], 0);
    survivors(s, l, nv, got);
    CHECK(fabsf(got[d] - (float)(-1.0 * 4.0)) < 1e-5f, "without the newline breaker L = 3: %g", got[d]);
    fm_sampler_free(s);
    CHECK(fm_sampler_add_dry(NULL, tok, 1, 2, 2, 64, NULL, 0) == FM_STATUS_INVALID_ARGUMENT, "NULL chain");
    s = chain(1);
    CHECK(fm_sampler_add_dry(s, NULL, 1, 2, 2, 64, NULL, 0) == FM_STATUS_INVALID_ARGUMENT, "NULL tokenizer");
    CHECK(fm_sampler_add_dry(s, tok, 1, 0.5, 2, 64, NULL, 0) == FM_STATUS_INVALID_ARGUMENT, "base < 1");
    fm_sampler_free(s);
    free(l);
    free(got);
    fm_tokenizer_free(tok);
}

static void test_mirostat(void) {
    /* v2 with tau 0.75, eta 1 over p = (0.5, 0.3, 0.2): mu = 1.5 keeps only
     * p >= 2^-1.5 = 0.354 (id 0); the pick (surprise 0 after renormalising)
     * moves mu to 2.25, which keeps p >= 0.21: ids 0 and 1 (0.625 / 0.375) */
    const float l3[3] = {logf(0.5f), logf(0.3f), logf(0.2f)};
    fm_sampler *s = chain(11);
    CHECK(fm_sampler_add_mirostat_v2(s, 0.75, 1.0) == FM_STATUS_OK, "mirostat v2");
    int first0 = 0, second[3] = {0, 0, 0};
    const int trials = 4000;
    for (int i = 0; i < trials; i++) {
        fm_sampler_reset(s);
        fm_token t;
        fm_sampler_sample(s, l3, 3, &t);
        first0 += t == 0;
        fm_sampler_sample(s, l3, 3, &t);
        if (t >= 0 && t < 3) second[t]++;
    }
    CHECK(first0 == trials, "v2: the first pick is always id 0 (%d)", first0);
    CHECK(second[2] == 0 && fabs(second[1] / (double)trials - 0.375) < 0.03,
          "v2: the second pick follows 0.625 / 0.375 over ids 0, 1: %d %d %d", second[0], second[1], second[2]);
    fm_sampler_free(s);

    /* v1 on an exact Zipf distribution (s = 1.5, n = 100): s_hat = 1.5,
     * tau 3 -> mu 6 -> k = (0.5 * 2^6 / (1 - 100^-0.5))^(1/1.5) = 10.8 */
    float z[100];
    for (int i = 0; i < 100; i++) z[i] = (float)(-1.5 * log(i + 1.0));
    const double k = pow(0.5 * 64 / (1 - pow(100, -0.5)), 1 / 1.5);
    const int ki = (int)k;
    CHECK(ki == 10, "the fixture's k is 10 (%g)", k);
    s = chain(5);
    CHECK(fm_sampler_add_mirostat(s, 3.0, 0.1, 100) == FM_STATUS_OK, "mirostat v1");
    int max_id = 0;
    for (int i = 0; i < 3000; i++) {
        fm_sampler_reset(s);
        fm_token t;
        fm_sampler_sample(s, z, 100, &t);
        if (t > max_id) max_id = t;
    }
    CHECK(max_id == ki - 1, "v1 draws from the top %d only, and reaches the last of them (max id %d)", ki, max_id);
    CHECK(fm_sampler_add_mirostat(s, 0, 0.1, 100) == FM_STATUS_INVALID_ARGUMENT, "tau 0 refused");
    CHECK(fm_sampler_add_mirostat_v2(s, 5, -1) == FM_STATUS_INVALID_ARGUMENT, "eta < 0 refused");
    fm_sampler_free(s);
}

/* top-k and top-p select partially; against a full sort on 5000 logits */
static int cmp_desc_f(const void *x, const void *y) {
    const float a = *(const float *)x, b = *(const float *)y;
    return a > b ? -1 : a < b;
}

static void test_partial_selection(void) {
    enum { N = 5000 };
    float *l = malloc(N * sizeof *l), *sorted = malloc(N * sizeof *sorted), *got = malloc(N * sizeof *got);
    uint32_t x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 1664525u + 1013904223u;
        l[i] = (float)((x >> 8) % 20000) / 1000.0f; /* many ties */
    }
    memcpy(sorted, l, N * sizeof *l);
    qsort(sorted, N, sizeof *sorted, cmp_desc_f);
    const int ks[4] = {1, 37, 1000, 4999};
    for (int j = 0; j < 4; j++) {
        fm_sampler *s = chain(1);
        fm_sampler_add(s, FM_STEP_TOP_K, ks[j]);
        const fm_candidates *c;
        fm_sampler_apply(s, l, N, &c);
        int ok = c->size == ks[j] && c->sorted;
        for (int i = 0; ok && i < c->size; i++) {
            ok = c->data[i].logit == sorted[i];
            if (i > 0 && c->data[i].logit == c->data[i - 1].logit) ok = ok && c->data[i].id > c->data[i - 1].id;
        }
        CHECK(ok, "top-k %d equals the first k of a full sort, ties by id", ks[j]);
        fm_sampler_free(s);
    }
    /* top-p 0.3 over softmax(l): the smallest prefix of the sort with mass >= 0.3 */
    double *p = malloc(N * sizeof *p), mx = sorted[0], sum = 0;
    for (int i = 0; i < N; i++) sum += p[i] = exp(sorted[i] - mx);
    double acc = 0;
    int want = N;
    for (int i = 0; i < N; i++) {
        acc += p[i] / sum;
        if (acc >= 0.3) {
            want = i + 1;
            break;
        }
    }
    fm_sampler *s = chain(1);
    fm_sampler_add(s, FM_STEP_TOP_P, 0.3);
    int n = survivors(s, l, N, got);
    CHECK(abs(n - want) <= 1, "top-p 0.3 keeps %d (reference %d; float rounding may move the edge by one)", n, want);
    fm_sampler_free(s);
    free(p);
    free(l);
    free(sorted);
    free(got);
}

static void test_default_order(void) {
    fm_tokenizer *tok;
    CHECK(fm_tokenizer_load(tu_data("models/stories260K.gguf"), NULL, &tok) == FM_STATUS_OK, "tokenizer");
    fm_sampler_params sp;
    fm_sampler_params_init(&sp, sizeof sp);
    sp.repeat_penalty = 1.1f;
    sp.dry_multiplier = 0.8f;
    sp.tokenizer = tok;
    sp.top_n_sigma = 2;
    sp.typical_p = 0.9f;
    sp.xtc_probability = 0.5f;
    sp.dynatemp_range = 0.2f;
    fm_sampler *s;
    CHECK(fm_sampler_new(&sp, &s) == FM_STATUS_OK, "all steps: %s", fm_last_error());
    static const char *const want[] = {"penalties", "dry", "top-n-sigma", "top-k", "typical", "top-p",
                                       "min-p",     "xtc", "temp-ext",    "dist"};
    CHECK(fm_sampler_n_steps(s) == 10, "ten steps (%d)", fm_sampler_n_steps(s));
    for (int i = 0; i < 10; i++) {
        const char *n = fm_sampler_step_name(s, i);
        CHECK(n && !strcmp(n, want[i]), "step %d is %s (got %s)", i, want[i], n ? n : "NULL");
    }
    CHECK(fm_sampler_step_name(s, 10) == NULL, "out of range name");
    fm_sampler_free(s);
    sp.mirostat = 2;
    CHECK(fm_sampler_new(&sp, &s) == FM_STATUS_OK, "mirostat chain");
    static const char *const want2[] = {"penalties", "dry", "temperature", "mirostat-v2"};
    CHECK(fm_sampler_n_steps(s) == 4, "four steps");
    for (int i = 0; i < 4; i++) CHECK(!strcmp(fm_sampler_step_name(s, i), want2[i]), "mirostat chain step %d", i);
    fm_sampler_free(s);
    sp.tokenizer = NULL;
    CHECK(fm_sampler_new(&sp, &s) == FM_STATUS_INVALID_ARGUMENT, "DRY without a tokenizer refused");
    sp.dry_multiplier = 0;
    sp.mirostat = 3;
    CHECK(fm_sampler_new(&sp, &s) == FM_STATUS_INVALID_ARGUMENT, "mirostat 3 refused");
    fm_tokenizer_free(tok);
}

static void test_clone(void) {
    fm_sampler_params sp;
    fm_sampler_params_init(&sp, sizeof sp);
    sp.seed = 77;
    sp.temperature = 1.5f;
    sp.repeat_penalty = 1.3f;
    fm_sampler *a, *b;
    CHECK(fm_sampler_new(&sp, &a) == FM_STATUS_OK, "chain");
    float l[64];
    for (int i = 0; i < 64; i++) l[i] = (float)((i * 37) % 11) / 4.0f;
    fm_token t;
    for (int i = 0; i < 10; i++) fm_sampler_sample(a, l, 64, &t);
    CHECK(fm_sampler_clone(a, &b) == FM_STATUS_OK, "clone");
    int same = 1;
    for (int i = 0; i < 50; i++) {
        fm_token x, y;
        fm_sampler_sample(a, l, 64, &x);
        fm_sampler_sample(b, l, 64, &y);
        same &= x == y;
    }
    CHECK(same, "a clone continues exactly as its original (history and RNG copied)");
    fm_sampler_free(a);
    fm_sampler_free(b);
}

/* A user constraint: only even ids; counts its full applications. */
typedef struct even_state {
    int applied, accepted;
} even_state;

static fm_status even_apply(void *state, fm_candidates *c, fm_sampler *chain) {
    (void)chain;
    ((even_state *)state)->applied++;
    int32_t m = 0;
    for (int32_t i = 0; i < c->size; i++)
        if (c->data[i].id % 2 == 0) c->data[m++] = c->data[i];
    c->size = m;
    return FM_STATUS_OK;
}
static int even_allows(void *state, fm_token t) {
    (void)state;
    return t % 2 == 0;
}
static void even_accept(void *state, fm_token t) {
    (void)t;
    ((even_state *)state)->accepted++;
}
static const fm_sampler_step_iface even_iface = {
    sizeof(fm_sampler_step_iface), FM_STEP_CONSTRAINT, "even", even_apply, even_allows, even_accept, NULL, NULL,
    NULL};

static fm_status none_apply(void *state, fm_candidates *c, fm_sampler *chain) {
    (void)state, (void)chain;
    c->size = 0;
    return FM_STATUS_OK;
}
static const fm_sampler_step_iface none_iface = {
    sizeof(fm_sampler_step_iface), FM_STEP_CONSTRAINT, "none", none_apply, NULL, NULL, NULL, NULL, NULL};

static void test_custom_constraint(void) {
    even_state st = {0, 0};
    fm_sampler *s = chain(1);
    fm_sampler_add(s, FM_STEP_GREEDY, 0);
    CHECK(fm_sampler_add_custom(s, &even_iface, &st) == FM_STATUS_OK, "add custom");
    fm_token t;
    const float even_best[4] = {5, 1, 2, 0};
    CHECK(fm_sampler_sample(s, even_best, 4, &t) == FM_STATUS_OK && t == 0, "picks 0");
    CHECK(st.applied == 0 && st.accepted == 1, "fast path: allowed pick, no mask (applied %d)", st.applied);
    const float odd_best[4] = {1, 5, 2, 0};
    CHECK(fm_sampler_sample(s, odd_best, 4, &t) == FM_STATUS_OK && t == 2, "picks the best even id (%d)", t);
    CHECK(st.applied == 1 && st.accepted == 2, "refused pick: the mask is applied once (applied %d)", st.applied);
    CHECK(fm_sampler_accept(s, 3, 0) == FM_STATUS_INVALID_ARGUMENT && st.accepted == 2,
          "accept of a refused token fails and changes nothing");
    CHECK(fm_sampler_accept(s, 3, FM_ACCEPT_SKIP_CONSTRAINTS) == FM_STATUS_OK && st.accepted == 2,
          "history-only accept skips constraints");
    fm_sampler *c;
    CHECK(fm_sampler_clone(s, &c) == FM_STATUS_INVALID_ARGUMENT, "a custom step without clone() blocks cloning");
    fm_sampler_free(s);

    /* a constraint that allows nothing fails the sample with a message */
    s = chain(1);
    fm_sampler_add_custom(s, &none_iface, NULL);
    CHECK(fm_sampler_sample(s, even_best, 4, &t) == FM_STATUS_INVALID_ARGUMENT && strstr(fm_last_error(), "none"),
          "no allowed token: %s", fm_last_error());
    fm_sampler_step_iface bad = even_iface;
    bad.struct_size = 8;
    CHECK(fm_sampler_add_custom(s, &bad, NULL) == FM_STATUS_INVALID_ARGUMENT, "short iface refused");
    bad = even_iface;
    bad.apply = NULL;
    CHECK(fm_sampler_add_custom(s, &bad, NULL) == FM_STATUS_INVALID_ARGUMENT, "iface without apply refused");
    fm_sampler_free(s);
}

static void test_eog(void) {
    fm_tokenizer *tok;
    CHECK(fm_tokenizer_load(tu_data("models/stories260K.gguf"), NULL, &tok) == FM_STATUS_OK, "stories tokenizer");
    CHECK(fm_tokenizer_is_eog(tok, 2) && !fm_tokenizer_is_eog(tok, 1) && !fm_tokenizer_is_eog(tok, 300),
          "stories260K: EOS 2 ends generation, BOS does not");
    fm_tokenizer_free(tok);
    CHECK(fm_tokenizer_load(tu_data("vocab/ggml-vocab-phi-3.gguf"), NULL, &tok) == FM_STATUS_OK, "phi-3 vocab");
    fm_token end, eot;
    CHECK(fm_tokenizer_find(tok, "<|end|>", 7, &end) == FM_STATUS_OK, "phi-3 has <|end|>");
    CHECK(fm_tokenizer_is_eog(tok, end), "phi-3: <|end|> ends generation");
    CHECK(fm_tokenizer_find(tok, "<|endoftext|>", 13, &eot) == FM_STATUS_OK && fm_tokenizer_is_eog(tok, eot),
          "phi-3: <|endoftext|> ends generation");
    size_t n = 0;
    CHECK(fm_tokenizer_eog_tokens(tok, NULL, 0, &n) == FM_STATUS_BUFFER_TOO_SMALL && n >= 2, "count (%zu)", n);
    fm_token ids[16];
    CHECK(fm_tokenizer_eog_tokens(tok, ids, 16, &n) == FM_STATUS_OK, "list");
    for (size_t i = 1; i < n; i++) CHECK(ids[i - 1] < ids[i], "ascending");
    CHECK(!fm_tokenizer_is_eog(tok, -1) && !fm_tokenizer_is_eog(NULL, 2), "bad ids");
    fm_tokenizer_free(tok);
    CHECK(fm_tokenizer_load(tu_data("vocab/cl100k_base.tiktoken"), NULL, &tok) == FM_STATUS_OK, "cl100k");
    fm_token e;
    CHECK(fm_tokenizer_find(tok, "<|endoftext|>", 13, &e) == FM_STATUS_OK && fm_tokenizer_is_eog(tok, e),
          "cl100k: <|endoftext|> ends generation");
    fm_tokenizer_free(tok);
}

int main(void) {
    test_penalties();
    test_logit_bias();
    test_typical_sigma_temp();
    test_xtc();
    test_dry();
    test_mirostat();
    test_partial_selection();
    test_default_order();
    test_clone();
    test_custom_constraint();
    test_eog();
    return tu_finish("test_sampler_steps");
}
