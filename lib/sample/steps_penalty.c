/* The steps that push chosen tokens' logits: repetition penalties and DRY
 * over the accepted history, and a fixed logit bias list. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "sample_impl.h"

/* --- a history ring shared by penalties and DRY ------------------------- */

typedef struct ring {
    fm_token *tok;
    int32_t cap, n, head; /* head: where the next token goes */
} ring;

static void ring_push(ring *r, fm_token t) {
    if (r->cap == 0) return;
    r->tok[r->head] = t;
    r->head = (r->head + 1) % r->cap;
    if (r->n < r->cap) r->n++;
}

/* i-th oldest token, 0 <= i < n */
static fm_token ring_at(const ring *r, int32_t i) { return r->tok[(r->head - r->n + i + r->cap) % r->cap]; }

static fm_status ring_init(ring *r, int32_t cap) {
    r->cap = cap, r->n = 0, r->head = 0;
    r->tok = fm_malloc((size_t)(cap > 0 ? cap : 1) * sizeof *r->tok);
    return r->tok ? FM_STATUS_OK : fm_error(FM_STATUS_NO_MEMORY, "out of memory for a sampler history");
}

/* --- a token -> int map for one apply call (open addressing) ------------ */

typedef struct tokmap {
    fm_token *key; /* -1: empty */
    int32_t *val;
    uint32_t mask;
} tokmap;

static fm_status tokmap_init(tokmap *m, int32_t n_max) {
    uint32_t cap = 16;
    while (cap < 2u * (uint32_t)n_max) cap *= 2;
    m->key = fm_malloc(cap * sizeof *m->key);
    m->val = fm_malloc(cap * sizeof *m->val);
    m->mask = cap - 1;
    if (m->key == NULL || m->val == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a sampler table");
    return FM_STATUS_OK;
}

static void tokmap_clear(tokmap *m) { memset(m->key, 0xff, (m->mask + 1) * sizeof *m->key); }

static int32_t *tokmap_slot(tokmap *m, fm_token t) {
    uint32_t h = ((uint32_t)t * 0x9E3779B1u) & m->mask;
    while (m->key[h] != -1 && m->key[h] != t) h = (h + 1) & m->mask;
    if (m->key[h] == -1) m->key[h] = t, m->val[h] = 0;
    return &m->val[h];
}

/* --- repetition / frequency / presence penalties ------------------------ */

typedef struct penalties {
    ring hist;
    tokmap counts;
    fm_cand_lookup lk;
    double repeat, freq, presence;
} penalties;

static void penalties_free(void *state) {
    penalties *p = state;
    free(p->hist.tok);
    free(p->counts.key);
    free(p->counts.val);
    free(p->lk.pos);
    free(p);
}

static penalties *penalties_make(int32_t last_n, double repeat, double freq, double presence) {
    penalties *p = fm_calloc(1, sizeof *p);
    if (p == NULL) return NULL;
    p->repeat = repeat, p->freq = freq, p->presence = presence;
    if (ring_init(&p->hist, last_n) || tokmap_init(&p->counts, last_n)) {
        penalties_free(p);
        return NULL;
    }
    return p;
}

static fm_status penalties_apply(void *state, fm_candidates *c, fm_sampler *chain) {
    (void)chain;
    penalties *p = state;
    if (p->hist.n == 0) return FM_STATUS_OK;
    tokmap_clear(&p->counts);
    for (int32_t i = 0; i < p->hist.n; i++) (*tokmap_slot(&p->counts, ring_at(&p->hist, i)))++;
    p->lk.built = 0;
    for (uint32_t h = 0; h <= p->counts.mask; h++) {
        const fm_token t = p->counts.key[h];
        if (t < 0) continue;
        const int32_t at = fm_cand_find(c, t, &p->lk);
        if (at == -2) return fm_error(FM_STATUS_NO_MEMORY, "out of memory in the penalties step");
        if (at < 0) continue;
        float *l = &c->data[at].logit;
        *l = *l <= 0 ? (float)(*l * p->repeat) : (float)(*l / p->repeat);
        *l -= (float)(p->counts.val[h] * p->freq + p->presence);
    }
    c->sorted = 0;
    return FM_STATUS_OK;
}

static void penalties_accept(void *state, fm_token t) { ring_push(&((penalties *)state)->hist, t); }

static void penalties_reset(void *state) {
    penalties *p = state;
    p->hist.n = p->hist.head = 0;
}

static fm_status penalties_clone(const void *state, void **out) {
    const penalties *p = state;
    penalties *q = penalties_make(p->hist.cap, p->repeat, p->freq, p->presence);
    if (q == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory cloning the penalties step");
    memcpy(q->hist.tok, p->hist.tok, (size_t)p->hist.cap * sizeof *q->hist.tok);
    q->hist.n = p->hist.n, q->hist.head = p->hist.head;
    *out = q;
    return FM_STATUS_OK;
}

static const fm_sampler_step_iface penalties_iface = {
    sizeof(fm_sampler_step_iface), 0, "penalties", penalties_apply, NULL,
    penalties_accept, penalties_reset, penalties_clone, penalties_free};

fm_status fm_sampler_add_penalties(fm_sampler *s, int32_t last_n, double repeat, double frequency,
                                   double presence) {
    fm_error_clear();
    if (s == NULL || last_n < 0 || last_n > (1 << 24) || !(repeat > 0 && repeat < INFINITY) ||
        !isfinite(frequency) || !isfinite(presence))
        return fm_error(FM_STATUS_INVALID_ARGUMENT,
                        "fm_sampler_add_penalties: last_n %d, repeat %g, frequency %g, presence %g out of range",
                        (int)last_n, repeat, frequency, presence);
    penalties *p = penalties_make(last_n, repeat, frequency, presence);
    if (p == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the penalties step");
    return fm_sampler_push(s, &penalties_iface, p);
}

/* --- DRY ---------------------------------------------------------------- */

#define DRY_MAX_MATCH 1024

typedef struct dry {
    ring hist;
    tokmap best; /* candidate token -> longest match it would extend */
    fm_cand_lookup lk;
    uint8_t *breaker; /* bit per token id */
    int32_t n_vocab;
    double mult, base;
    int32_t allowed;
    fm_token *h; /* the history, oldest first, for one apply call */
} dry;

static int is_breaker(const dry *d, fm_token t) {
    return t >= 0 && t < d->n_vocab && (d->breaker[t >> 3] >> (t & 7) & 1);
}

static void dry_free(void *state) {
    dry *d = state;
    free(d->hist.tok);
    free(d->best.key);
    free(d->best.val);
    free(d->lk.pos);
    free(d->breaker);
    free(d->h);
    free(d);
}

static dry *dry_make(int32_t last_n, int32_t n_vocab) {
    dry *d = fm_calloc(1, sizeof *d);
    if (d == NULL) return NULL;
    d->n_vocab = n_vocab;
    if (ring_init(&d->hist, last_n) || tokmap_init(&d->best, last_n) ||
        (d->breaker = fm_calloc((size_t)n_vocab / 8 + 1, 1)) == NULL ||
        (d->h = fm_malloc((size_t)(last_n > 0 ? last_n : 1) * sizeof *d->h)) == NULL) {
        dry_free(d);
        return NULL;
    }
    return d;
}

static fm_status dry_apply(void *state, fm_candidates *c, fm_sampler *chain) {
    (void)chain;
    dry *d = state;
    const int32_t n = d->hist.n;
    if (n < 2 || d->mult <= 0) return FM_STATUS_OK;
    for (int32_t i = 0; i < n; i++) d->h[i] = ring_at(&d->hist, i);
    tokmap_clear(&d->best);
    int any = 0;
    /* an earlier end j whose tokens match the history's end for L steps:
     * the token after j would make the repeat L + 1 long */
    for (int32_t j = n - 2; j >= 0; j--) {
        const fm_token next = d->h[j + 1];
        if (is_breaker(d, next)) continue;
        int32_t L = 0;
        while (L <= j && L < DRY_MAX_MATCH && d->h[j - L] == d->h[n - 1 - L] && !is_breaker(d, d->h[j - L])) L++;
        if (L < d->allowed) continue;
        int32_t *b = tokmap_slot(&d->best, next);
        if (L > *b) *b = L;
        any = 1;
    }
    if (!any) return FM_STATUS_OK;
    d->lk.built = 0;
    for (uint32_t h = 0; h <= d->best.mask; h++) {
        const fm_token t = d->best.key[h];
        if (t < 0) continue;
        const int32_t at = fm_cand_find(c, t, &d->lk);
        if (at == -2) return fm_error(FM_STATUS_NO_MEMORY, "out of memory in the DRY step");
        if (at < 0) continue;
        double pen = d->mult * pow(d->base, d->best.val[h] - d->allowed);
        if (!(pen < FLT_MAX)) pen = FLT_MAX;
        c->data[at].logit -= (float)pen;
    }
    c->sorted = 0;
    return FM_STATUS_OK;
}

static void dry_accept(void *state, fm_token t) { ring_push(&((dry *)state)->hist, t); }

static void dry_reset(void *state) {
    dry *d = state;
    d->hist.n = d->hist.head = 0;
}

static fm_status dry_clone(const void *state, void **out) {
    const dry *d = state;
    dry *q = dry_make(d->hist.cap, d->n_vocab);
    if (q == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory cloning the DRY step");
    memcpy(q->hist.tok, d->hist.tok, (size_t)d->hist.cap * sizeof *q->hist.tok);
    q->hist.n = d->hist.n, q->hist.head = d->hist.head;
    memcpy(q->breaker, d->breaker, (size_t)d->n_vocab / 8 + 1);
    q->mult = d->mult, q->base = d->base, q->allowed = d->allowed;
    *out = q;
    return FM_STATUS_OK;
}

static const fm_sampler_step_iface dry_iface = {
    sizeof(fm_sampler_step_iface), 0, "dry", dry_apply, NULL, dry_accept, dry_reset, dry_clone, dry_free};

static int contains(const char *hay, size_t n, const char *needle) {
    const size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0) return 1;
    return 0;
}

fm_status fm_sampler_add_dry(fm_sampler *s, const fm_tokenizer *tok, double multiplier, double base,
                             int32_t allowed_length, int32_t last_n, const char *const *breakers,
                             size_t n_breakers) {
    fm_error_clear();
    static const char *const defaults[] = {"\n", ":", "\"", "*"};
    if (s == NULL || tok == NULL || !(multiplier >= 0 && multiplier < INFINITY) || !(base >= 1 && base < INFINITY) ||
        allowed_length < 1 || last_n < 0 || last_n > (1 << 24) || (breakers == NULL && n_breakers > 0))
        return fm_error(FM_STATUS_INVALID_ARGUMENT,
                        "fm_sampler_add_dry: NULL sampler or tokenizer, or multiplier %g, base %g, allowed_length "
                        "%d, last_n %d out of range",
                        multiplier, base, (int)allowed_length, (int)last_n);
    if (breakers == NULL) breakers = defaults, n_breakers = 4;
    for (size_t i = 0; i < n_breakers; i++)
        if (breakers[i] == NULL || breakers[i][0] == '\0')
            return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_add_dry: breaker %zu is NULL or empty", i);
    const int32_t n_vocab = fm_tokenizer_n_vocab(tok);
    dry *d = dry_make(last_n, n_vocab);
    if (d == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the DRY step");
    d->mult = multiplier, d->base = base, d->allowed = allowed_length;
    char piece[256];
    for (fm_token t = 0; t < n_vocab; t++) {
        size_t len = 0;
        if (fm_tokenizer_token_to_piece(tok, t, 0, piece, sizeof piece, &len) != FM_STATUS_OK) continue;
        for (size_t i = 0; i < n_breakers; i++)
            if (contains(piece, len, breakers[i])) {
                d->breaker[t >> 3] |= (uint8_t)(1u << (t & 7));
                break;
            }
    }
    fm_error_clear(); /* a piece longer than the buffer is no breaker; not an error */
    return fm_sampler_push(s, &dry_iface, d);
}

/* --- logit bias --------------------------------------------------------- */

typedef struct bias_list {
    size_t n;
    fm_cand_lookup lk;
    fm_logit_bias b[];
} bias_list;

static fm_status bias_apply(void *state, fm_candidates *c, fm_sampler *chain) {
    (void)chain;
    bias_list *l = state;
    l->lk.built = 0;
    for (size_t i = 0; i < l->n; i++) {
        const int32_t at = fm_cand_find(c, l->b[i].id, &l->lk);
        if (at == -2) return fm_error(FM_STATUS_NO_MEMORY, "out of memory in the logit bias step");
        if (at >= 0) c->data[at].logit += l->b[i].bias;
    }
    /* a banned token leaves the set, so that no step can pick it */
    int32_t m = 0;
    for (int32_t i = 0; i < c->size; i++)
        if (c->data[i].logit != -INFINITY) c->data[m++] = c->data[i];
    if (m > 0) c->size = m;
    c->sorted = 0;
    return FM_STATUS_OK;
}

static void bias_free(void *state) {
    bias_list *l = state;
    free(l->lk.pos);
    free(l);
}

static bias_list *bias_make(const fm_logit_bias *b, size_t n) {
    bias_list *l = fm_calloc(1, sizeof *l + n * sizeof *b);
    if (l == NULL) return NULL;
    l->n = n;
    if (n) memcpy(l->b, b, n * sizeof *b);
    return l;
}

static fm_status bias_clone(const void *state, void **out) {
    const bias_list *l = state;
    bias_list *q = bias_make(l->b, l->n);
    if (q == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory cloning the logit bias step");
    *out = q;
    return FM_STATUS_OK;
}

static const fm_sampler_step_iface bias_iface = {
    sizeof(fm_sampler_step_iface), 0, "logit-bias", bias_apply, NULL, NULL, NULL, bias_clone, bias_free};

fm_status fm_sampler_add_logit_bias(fm_sampler *s, const fm_logit_bias *bias, size_t n) {
    fm_error_clear();
    if (s == NULL || (bias == NULL && n > 0) || n > (1u << 24))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_add_logit_bias: NULL argument");
    for (size_t i = 0; i < n; i++)
        if (bias[i].id < 0 || isnan(bias[i].bias) || bias[i].bias == INFINITY)
            return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_sampler_add_logit_bias: entry %zu (id %d, bias %g)", i,
                            (int)bias[i].id, bias[i].bias);
    bias_list *l = bias_make(bias, n);
    if (l == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a logit bias list");
    return fm_sampler_push(s, &bias_iface, l);
}
