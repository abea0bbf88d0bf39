/* fm_batch: the caller's list of (token, position, sequences, keep logits). */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "context_impl.h"

fm_status fm_batch_new(fm_batch **out) {
    fm_error_clear();
    if (out == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_batch_new: out is NULL");
    *out = fm_calloc(1, sizeof **out);
    return *out ? FM_STATUS_OK : fm_error(FM_STATUS_NO_MEMORY, "out of memory for a batch");
}

void fm_batch_free(fm_batch *b) {
    if (b == NULL) return;
    free(b->token), free(b->pos), free(b->seqs), free(b->logits);
    free(b);
}

void fm_batch_clear(fm_batch *b) {
    if (b != NULL) b->n = 0;
}

int32_t fm_batch_n_tokens(const fm_batch *b) { return b ? b->n : 0; }

/* Each array grown on its own; a failure leaves the batch as it was
 * (arrays already grown are just larger). */
static int grow(fm_batch *b) {
    if (b->n < b->cap) return 1;
    if (b->cap > INT32_MAX / 2) return 0;
    const int32_t nc = b->cap ? b->cap * 2 : 64;
    fm_token *t = fm_realloc(b->token, (size_t)nc * sizeof *t);
    if (t == NULL) return 0;
    b->token = t;
    int32_t *p = fm_realloc(b->pos, (size_t)nc * sizeof *p);
    if (p == NULL) return 0;
    b->pos = p;
    fm_seqset *s = fm_realloc(b->seqs, (size_t)nc * sizeof *s);
    if (s == NULL) return 0;
    b->seqs = s;
    uint8_t *l = fm_realloc(b->logits, (size_t)nc);
    if (l == NULL) return 0;
    b->logits = l;
    b->cap = nc;
    return 1;
}

fm_status fm_batch_add(fm_batch *b, fm_token token, int32_t pos, const fm_seq_id *seq_ids, int32_t n_seq,
                       int logits) {
    fm_error_clear();
    if (b == NULL || seq_ids == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_batch_add: NULL argument");
    if (pos < FM_POS_NEXT) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_batch_add: position %d is negative", pos);
    if (n_seq < 1 || n_seq > FM_SEQ_MAX)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_batch_add: %d sequence ids (1..%d)", n_seq, FM_SEQ_MAX);
    fm_seqset set;
    memset(&set, 0, sizeof set);
    for (int32_t i = 0; i < n_seq; i++) {
        if (seq_ids[i] < 0 || seq_ids[i] >= FM_SEQ_MAX)
            return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_batch_add: sequence id %d is outside 0..%d", seq_ids[i],
                            FM_SEQ_MAX - 1);
        fm_seqset_add(&set, seq_ids[i]);
    }
    if (!grow(b)) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a batch of %d tokens", b->n + 1);
    b->token[b->n] = token;
    b->pos[b->n] = pos;
    b->seqs[b->n] = set;
    b->logits[b->n] = logits != 0;
    b->n++;
    return FM_STATUS_OK;
}
