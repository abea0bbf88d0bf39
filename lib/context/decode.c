/* Decoding a batch of tokens of several sequences: checks, positions,
 * cells, the forward pass in n_batch-sized pieces, and a rollback that
 * leaves the cache as it was when anything fails. */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "context_impl.h"

fm_status fm_context_reserve(fm_context *c, size_t n) {
    if (n <= c->rpos_cap) return FM_STATUS_OK;
    int32_t *p = fm_realloc(c->rpos, n * sizeof *p);
    if (p == NULL) goto oom;
    c->rpos = p;
    p = fm_realloc(c->placed, n * sizeof *p);
    if (p == NULL) goto oom;
    c->placed = p;
    p = fm_realloc(c->logit_row, n * sizeof *p);
    if (p == NULL) goto oom;
    c->logit_row = p;
    c->rpos_cap = n;
    return FM_STATUS_OK;
oom:
    return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a batch of %zu tokens", n);
}

/* A backend of ABI < 4 reads cache rows as positions 0..pos (or the
 * window): accept only batches where that is what the runs say. */
static fm_status check_legacy_layout(const fm_context *c, int32_t n) {
    const fm_forward_state *st = &c->st;
    const fm_kv_cache *kv = &c->kv;
    const fm_hparams *hp = &c->model->hp;
    for (int32_t t = 0; t < n; t++) {
        const int32_t p = st->pos[t];
        const int32_t lo = hp->causal && hp->n_swa > 0 && p - hp->n_swa + 1 > 0 ? p - hp->n_swa + 1 : 0;
        const int32_t hi = hp->causal ? p + 1 : kv->hi;
        int ok = st->run_off[t + 1] - st->run_off[t] == 1 && st->runs[2 * st->run_off[t]] == lo &&
                 st->runs[2 * st->run_off[t] + 1] == hi;
        for (int32_t cell = lo; ok && cell < hi; cell++) ok = kv->pos[cell] == cell;
        if (!ok)
            return fm_error(FM_STATUS_UNSUPPORTED,
                            "backend '%s' (ABI %u) reads the cache as one sequence with cell = position; this batch "
                            "needs ABI 4 (several sequences or an edited cache)",
                            c->backend.iface.name, c->backend.iface.abi_version);
    }
    return FM_STATUS_OK;
}

fm_status fm_context_eval(fm_context *c, const fm_token *tokens, const int32_t *pos, const fm_seqset *seqs, int32_t n,
                          int32_t n_out, float *logits, float *hidden, int32_t *placed, int32_t *n_placed) {
    fm_forward_state *st = &c->st;
    const fm_hparams *hp = &c->model->hp;
    fm_status s = fm_kv_place(&c->kv, n, pos, seqs, tokens, st->cells);
    if (s) return s;
    memcpy(placed + *n_placed, st->cells, (size_t)n * sizeof *placed);
    *n_placed += n;
    st->cells_contig = 1;
    for (int32_t i = 1; i < n; i++)
        if (st->cells[i] != st->cells[0] + i) st->cells_contig = 0;
    memcpy(st->pos, pos, (size_t)n * sizeof *pos);
    if ((s = fm_kv_runs(&c->kv, n, pos, seqs, hp->causal, hp->n_swa, &st->runs, &st->runs_cap, st->run_off)))
        return s;
    if (c->backend.iface.abi_version < 4 && (s = check_legacy_layout(c, n))) return s;
    st->out_rows = c->out_rows;
    st->n_out = n_out;
    return c->model->arch->forward(c->model, st, tokens, n, logits, hidden);
}

/* Each sequence's next position, its last in the cache and its last in
 * this batch, found once per sequence the batch names. */
typedef struct seq_track {
    int32_t *next, *cache_max, *batch_last;
} seq_track;

static void track_seq(const fm_context *c, seq_track *tr, int32_t seq) {
    if (tr->next[seq] != INT32_MIN) return;
    tr->cache_max[seq] = fm_kv_seq_pos_max(&c->kv, seq);
    tr->next[seq] = tr->cache_max[seq] + 1;
    tr->batch_last[seq] = -1;
}

/* Checks every entry and writes the resolved positions to c->rpos. */
static fm_status resolve(fm_context *c, const fm_batch *b) {
    const int32_t n_vocab = c->model->hp.n_vocab;
    seq_track tr = {c->next_pos, c->next_pos + c->n_seq_max, c->next_pos + 2 * c->n_seq_max};
    for (int32_t s = 0; s < c->n_seq_max; s++) tr.next[s] = INT32_MIN;
    uint64_t allowed[FM_KV_SEQ_WORDS]; /* the sequence ids this context has */
    for (int32_t w = 0; w < FM_KV_SEQ_WORDS; w++) {
        const int32_t lo = w * 64;
        allowed[w] = c->n_seq_max >= lo + 64 ? ~0ull : c->n_seq_max <= lo ? 0ull : (1ull << (c->n_seq_max - lo)) - 1;
    }
    for (int32_t i = 0; i < b->n; i++) {
        if (b->token[i] < 0 || b->token[i] >= n_vocab)
            return fm_error(FM_STATUS_INVALID_ARGUMENT, "token %d at index %d is outside the vocabulary (0..%d)",
                            b->token[i], i, n_vocab - 1);
        const fm_seqset *set = &b->seqs[i];
        for (int32_t w = 0; w < FM_KV_SEQ_WORDS; w++)
            if (set->w[w] & ~allowed[w])
                return fm_error(FM_STATUS_INVALID_ARGUMENT,
                                "token %d of the batch names sequence %d; this context has n_seq_max %d", i,
                                w * 64 + __builtin_ctzll(set->w[w] & ~allowed[w]), c->n_seq_max);
        int32_t p = b->pos[i];
        if (p == FM_POS_NEXT) {
            p = 0;
            FM_SEQSET_FOR(set, seq) {
                track_seq(c, &tr, (int32_t)seq);
                if (tr.next[seq] > p) p = tr.next[seq];
            }
        }
        FM_SEQSET_FOR(set, seq) {
            track_seq(c, &tr, (int32_t)seq);
            if (p <= tr.batch_last[seq])
                return fm_error(FM_STATUS_INVALID_ARGUMENT,
                                "token %d of the batch: sequence %d's positions must increase within a batch (%d after %d)",
                                i, (int)seq, p, tr.batch_last[seq]);
            if (p <= tr.cache_max[seq] && fm_kv_has(&c->kv, (int32_t)seq, p))
                return fm_error(FM_STATUS_INVALID_ARGUMENT,
                                "token %d of the batch: sequence %d already holds position %d (remove it first)", i,
                                (int)seq, p);
            tr.batch_last[seq] = p;
            if (p + 1 > tr.next[seq]) tr.next[seq] = p + 1;
        }
        c->rpos[i] = p;
    }
    return FM_STATUS_OK;
}

fm_status fm_context_decode_batch(fm_context *c, const fm_batch *b) {
    fm_error_clear();
    if (c == NULL || b == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_decode_batch: NULL argument");
    if (b->n == 0) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_decode_batch: the batch is empty");
    if (!c->model->hp.causal)
        return fm_error(FM_STATUS_UNSUPPORTED, "%s is an encoder model: it has no logits (use fm_context_embed)",
                        c->model->arch->name);
    if (b->n > c->kv.n_cells - c->kv.used)
        return fm_error(FM_STATUS_CONTEXT_FULL, "%d tokens do not fit in the context: %d of %d cells are used", b->n,
                        c->kv.used, c->kv.n_cells);
    fm_status s;
    if ((s = fm_context_reserve(c, (size_t)b->n)) || (s = resolve(c, b))) return s;
    const int32_t n_vocab = c->model->hp.n_vocab;
    size_t rows = 0;
    for (int32_t i = 0; i < b->n; i++) c->logit_row[i] = b->logits[i] ? (int32_t)rows++ : -1;
    if (rows > c->logits_rows) {
        float *p = fm_realloc(c->logits, rows * (size_t)n_vocab * sizeof *p);
        if (p == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for %zu rows of logits", rows);
        c->logits = p;
        c->logits_rows = rows;
    }
    /* n_batch tokens at a time; each piece's logits land at the row of its
     * first kept token */
    c->n_last = 0;
    int32_t n_placed = 0;
    for (int32_t start = 0; start < b->n; start += c->st.n_batch) {
        const int32_t m = b->n - start < c->st.n_batch ? b->n - start : c->st.n_batch;
        int32_t n_out = 0;
        for (int32_t j = 0; j < m; j++)
            if (b->logits[start + j]) c->out_rows[n_out++] = j;
        float *dst = n_out ? c->logits + (size_t)c->logit_row[start + c->out_rows[0]] * (size_t)n_vocab : NULL;
        s = fm_context_eval(c, b->token + start, c->rpos + start, b->seqs + start, m, n_out, dst, NULL, c->placed,
                            &n_placed);
        if (s != FM_STATUS_OK) {
            fm_kv_unplace(&c->kv, n_placed, c->placed);
            return s;
        }
    }
    c->n_last = b->n;
    return FM_STATUS_OK;
}

fm_status fm_context_decode(fm_context *c, const fm_token *tokens, size_t n_tokens, uint32_t logits_mode) {
    fm_error_clear();
    if (c == NULL || (tokens == NULL && n_tokens > 0))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_decode: NULL argument");
    if (logits_mode != FM_LOGITS_LAST && logits_mode != FM_LOGITS_ALL)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_decode: unknown logits mode %u", logits_mode);
    if (n_tokens == 0) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_decode: no tokens");
    if (n_tokens > (size_t)(c->kv.n_cells - c->kv.used))
        return fm_error(FM_STATUS_CONTEXT_FULL, "%zu tokens do not fit in the context: %d of %d cells are used",
                        n_tokens, c->kv.used, c->kv.n_cells);
    /* sequence 0 from its next position, in the context's own batch */
    fm_batch *b = &c->one;
    fm_batch_clear(b);
    const fm_seq_id seq0 = 0;
    const int32_t next = fm_kv_seq_pos_max(&c->kv, 0) + 1;
    for (size_t i = 0; i < n_tokens; i++) {
        fm_status s = fm_batch_add(b, tokens[i], next + (int32_t)i, &seq0, 1,
                                   logits_mode == FM_LOGITS_ALL || i + 1 == n_tokens);
        if (s) return s;
    }
    return fm_context_decode_batch(c, b);
}
