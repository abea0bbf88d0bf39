/* The pieces every architecture's forward pass is built from: norms,
 * linear layers with optional biases, the attention and feed-forward
 * sub-layers, and the output head. Each goes through the context's backend
 * and reads what it needs from the model's layer table, so an architecture
 * file is its loader plus a forward pass that reads top to bottom. */
#ifndef FM_MODEL_BLOCKS_H
#define FM_MODEL_BLOCKS_H

#include "../core/error.h"
#include "model.h"

/* Stops the forward pass at the first failing op, naming it. */
#define FM_OP(call)                                                                      \
    do {                                                                                 \
        fm_status op_status_ = (call);                                                   \
        if (op_status_ != FM_STATUS_OK)                                                  \
            return fm_last_error()[0] ? op_status_                                       \
                                      : fm_error(op_status_, "backend op failed: %s", #call); \
    } while (0)

/* y = norm(x) over rows of n_embd, RMS or Layer as the model says; bias may be NULL. */
fm_status fm_block_norm(const fm_model *m, fm_forward_state *st, fm_vec w, fm_vec b, const float *x, int32_t rows,
                        float *y);

/* y = w x (+ b) for n rows of x. */
fm_status fm_block_linear(fm_forward_state *st, const fm_weight *w, fm_vec b, const float *x, int32_t n, float *y);

/* Token embeddings of ids into st->x, plus learned positions (of st->pos)
 * and token type 0 where the model has them. */
fm_status fm_block_embed(const fm_model *m, fm_forward_state *st, const fm_token *ids, int32_t n);

/* FM_STATUS_ABORTED if the context's abort callback says stop before layer l. */
fm_status fm_block_check_abort(const fm_forward_state *st, int l);

/* Self-attention of layer l over in[n][n_embd]: q/k/v projections (k and v
 * into the batch's cells), RoPE if the model has it, attention over the
 * cells each token sees, output projection into out[n][n_embd]. */
fm_status fm_block_attention(const fm_model *m, fm_forward_state *st, int l, const float *in, int32_t n, float *out);

/* RoPE as the model has it (base, linear scaling, pairing) on n rows of
 * n_head heads at positions pos (the keys' re-rotation of a context shift
 * passes the shift). */
fm_status fm_block_rope(const fm_model *m, fm_forward_state *st, float *x, int32_t n, int32_t n_head,
                        const int32_t *pos);

/* Feed-forward of layer l: down(silu(gate x) * up x) when the layer has a
 * gate, else down(gelu(up x + b)) + b; in and out are [n][n_embd]. */
fm_status fm_block_ffn(const fm_model *m, fm_forward_state *st, int l, const float *in, int32_t n, float *out);

/* The rows st->out_rows of st->x through the final norm (if the model
 * has one) into hidden, and the LM head into logits; either may be NULL. */
fm_status fm_block_output(const fm_model *m, fm_forward_state *st, float *logits, float *hidden);

#endif
