/* A context's insides, shared by the files of lib/context: the KV cache,
 * the forward state over it, the logits of the last batch. */
#ifndef FM_CONTEXT_CONTEXT_IMPL_H
#define FM_CONTEXT_CONTEXT_IMPL_H

#include "../kv/kv_cache.h"
#include "../model/model.h"

/* A batch: parallel arrays, grown as tokens are added. */
struct fm_batch {
    int32_t n, cap;
    fm_token *token;
    int32_t *pos; /* FM_POS_NEXT until the decode resolves it */
    fm_seqset *seqs;
    uint8_t *logits;
};

struct fm_context {
    const fm_model *model;
    fm_backend_inst backend;
    fm_kv_cache kv;
    fm_forward_state st;
    uint32_t flags; /* FM_CONTEXT_* */
    int32_t n_seq_max;
    float *logits;       /* rows of n_vocab, one per batch token that asked */
    size_t logits_rows;  /* allocated rows */
    int32_t *logit_row;  /* per token of the last batch: its row, or -1 */
    size_t logit_row_cap;
    int32_t n_last;      /* tokens in the last decoded batch */
    /* decode scratch, grown on demand: resolved positions, cells placed by
     * the call (for rollback), each sequence's next position */
    int32_t *rpos, *placed, *next_pos;
    size_t rpos_cap;
    int32_t *out_rows; /* n_batch */
    fm_seqset *seqbuf; /* n_batch: sequence sets of an internal batch */
    fm_batch one;      /* fm_context_decode's batch of sequence 0 */
};

/* Evaluates tokens[0..n) (n <= n_batch) at pos[] in sequences seqs[]:
 * places their cells, works out what each sees, runs the forward pass
 * with st->out_rows[0..n_out) kept. The cells placed are appended to
 * placed[*n_placed...]; on failure they stay listed for the caller to
 * give back. */
fm_status fm_context_eval(fm_context *c, const fm_token *tokens, const int32_t *pos, const fm_seqset *seqs, int32_t n,
                          int32_t n_out, float *logits, float *hidden, int32_t *placed, int32_t *n_placed);

/* Ensures c->rpos, c->placed and c->logit_row hold n entries. */
fm_status fm_context_reserve(fm_context *c, size_t n);

#endif
