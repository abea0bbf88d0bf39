/* Scoring a continuation: one batched decode of the prompt's last token(s)
 * and the continuation, then a log-softmax per position in double - the
 * numbers classification, multiple-choice evaluation and perplexity need,
 * without the caller handling raw logits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/error.h"
#include "../core/params.h"
#include "context_impl.h"

static const fm_score_params default_params = {
    .struct_size = sizeof(fm_score_params),
};

fm_status fm_score_params_init(fm_score_params *p, size_t size) {
    fm_error_clear();
    return fm_params_init(p, size, &default_params, sizeof default_params, "fm_score_params_init");
}

/* log of the softmax normalizer: max + log sum exp(l - max), in double so
 * that a 150k-entry vocabulary loses nothing to float rounding */
static double log_normalizer(const float *l, int32_t n) {
    float mx = l[0];
    for (int32_t i = 1; i < n; i++)
        if (l[i] > mx) mx = l[i];
    double s = 0;
    for (int32_t i = 0; i < n; i++) s += exp((double)l[i] - (double)mx);
    return (double)mx + log(s);
}

/* the k best of l[] into tok[]/lp[], best first, ties to the lower id */
static void top_k(const float *l, int32_t n, int32_t k, double lz, fm_token *tok, double *lp) {
    int32_t have = 0;
    for (int32_t i = 0; i < n; i++) {
        if (have == k && !(l[i] > l[tok[k - 1]])) continue;
        int32_t j = have < k ? have++ : k - 1;
        while (j > 0 && l[i] > l[tok[j - 1]]) {
            tok[j] = tok[j - 1];
            j--;
        }
        tok[j] = i;
    }
    for (int32_t j = 0; j < k; j++) lp[j] = (double)l[tok[j]] - lz;
}

fm_status fm_context_score(fm_context *c, const fm_token *prompt, size_t n_prompt, const fm_token *cont,
                           size_t n_cont, const fm_score_params *params, double *sum) {
    fm_error_clear();
    fm_score_params p = default_params;
    fm_status s = fm_params_read(&p, sizeof p, params, "fm_score_params");
    if (s) return s;
    if (c == NULL || cont == NULL || (prompt == NULL && n_prompt))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_score: NULL argument");
    if (n_cont == 0) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_score: no continuation tokens");
    if (p.seq < 0 || p.seq >= c->n_seq_max)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_score: sequence %d is outside 0..%d", p.seq,
                        c->n_seq_max - 1);
    if (p.top_k < 0 || p.top_k > FM_SCORE_TOP_K_MAX)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_score: top_k %d is outside 0..%d", p.top_k,
                        FM_SCORE_TOP_K_MAX);
    if (n_prompt + n_cont > (size_t)c->kv.n_cells)
        return fm_error(FM_STATUS_CONTEXT_FULL, "fm_context_score: %zu tokens do not fit in %u cells",
                        n_prompt + n_cont, (unsigned)c->kv.n_cells);
    const int32_t last_pos = fm_kv_seq_pos_max(&c->kv, p.seq);
    if (n_prompt == 0 && last_pos < 0)
        return fm_error(FM_STATUS_INVALID_ARGUMENT,
                        "fm_context_score: sequence %d is empty and no prompt was given (pass at least BOS)", p.seq);
    /* With no prompt, the sequence's last token is taken out and evaluated
     * again in the batch: its logits predict cont[0]. */
    fm_token again = FM_TOKEN_NONE;
    if (n_prompt == 0) {
        int32_t n;
        const int32_t *cells = fm_kv_seq_cells(&c->kv, p.seq, &n);
        again = c->kv.tok[cells[n - 1]];
    }
    fm_batch *b;
    if ((s = fm_batch_new(&b))) return s;
    const fm_seq_id seq = p.seq;
    const int32_t first = n_prompt ? last_pos + 1 : last_pos; /* position of the batch's first token */
    const size_t n_head = n_prompt ? n_prompt : 1;             /* tokens before the continuation */
    for (size_t i = 0; i < n_head && !s; i++)
        s = fm_batch_add(b, n_prompt ? prompt[i] : again, first + (int32_t)i, &seq, 1, i + 1 == n_head);
    for (size_t i = 0; i + 1 < n_cont && !s; i++)
        s = fm_batch_add(b, cont[i], first + (int32_t)(n_head + i), &seq, 1, 1);
    /* the continuation's ids are checked even where the last one is not
     * evaluated */
    for (size_t i = 0; i < n_cont && !s; i++)
        if (cont[i] < 0 || cont[i] >= c->model->hp.n_vocab)
            s = fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_score: continuation token %d (index %zu) is outside "
                         "the vocabulary 0..%d", cont[i], i, c->model->hp.n_vocab - 1);
    if (s) {
        fm_batch_free(b);
        return s;
    }
    if (n_prompt == 0) fm_kv_seq_rm(&c->kv, seq, last_pos, -1);
    s = fm_context_decode_batch(c, b);
    fm_batch_free(b);
    if (s) {
        if (n_prompt == 0) { /* put the token taken out back, keeping the first error's message */
            const fm_status err = s;
            char msg[512];
            snprintf(msg, sizeof msg, "%s", fm_last_error());
            if (fm_batch_new(&b) == FM_STATUS_OK) {
                if (fm_batch_add(b, again, last_pos, &seq, 1, 0) == FM_STATUS_OK) (void)fm_context_decode_batch(c, b);
                fm_batch_free(b);
            }
            return fm_error(err, "%s", msg);
        }
        return s;
    }
    const int32_t n_vocab = c->model->hp.n_vocab;
    double total = 0;
    for (size_t i = 0; i < n_cont; i++) {
        const float *l = fm_context_logits(c, (int32_t)(n_head - 1 + i));
        const double lz = log_normalizer(l, n_vocab);
        const double lp = (double)l[cont[i]] - lz;
        total += lp;
        if (p.logprobs) p.logprobs[i] = lp;
        if (p.ranks) {
            int32_t r = 0;
            for (int32_t v = 0; v < n_vocab; v++) r += l[v] > l[cont[i]];
            p.ranks[i] = r;
        }
        if (p.top_k && (p.top_tokens || p.top_logprobs)) {
            fm_token tk[FM_SCORE_TOP_K_MAX];
            double tl[FM_SCORE_TOP_K_MAX];
            const int32_t k = p.top_k < n_vocab ? p.top_k : n_vocab;
            top_k(l, n_vocab, k, lz, tk, tl);
            for (int32_t j = 0; j < p.top_k; j++) {
                if (p.top_tokens) p.top_tokens[i * (size_t)p.top_k + j] = j < k ? tk[j] : FM_TOKEN_NONE;
                if (p.top_logprobs) p.top_logprobs[i * (size_t)p.top_k + j] = j < k ? tl[j] : -INFINITY;
            }
        }
    }
    /* the continuation leaves the cache; the prompt stays */
    fm_kv_seq_rm(&c->kv, seq, first + (int32_t)n_head, -1);
    if (sum) *sum = total;
    return FM_STATUS_OK;
}
