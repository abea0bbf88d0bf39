/* The forward pass of the pre-norm decoder architectures (llama, qwen2,
 * phi3, gpt2): what differs between them is in their loaders - norm kind,
 * biases, fused weights split into views, RoPE or learned positions, GELU
 * or SwiGLU - and the blocks read it from the model. */
#include "blocks.h"

fm_status fm_forward_decoder(const fm_model *m, fm_forward_state *st, const fm_token *ids, int32_t n, float *logits,
                             float *hidden) {
    const fm_backend_iface *be = &st->backend->iface;
    void *bc = st->backend->ctx;
    const int64_t E = m->hp.n_embd;
    float *x = st->x;     /* [n][E] the residual stream */
    float *xb = st->xb;   /* [n][E] normalized input of a sub-layer */
    float *xb2 = st->xb2; /* [n][E] output of a sub-layer */

    FM_OP(fm_block_embed(m, st, ids, n));
    for (int l = 0; l < m->hp.n_layer; l++) {
        const fm_layer *L = &m->layers[l];
        FM_OP(fm_block_check_abort(st, l));
        /* x += attention(norm(x)) */
        FM_OP(fm_block_norm(m, st, L->attn_norm, L->attn_norm_b, x, n, xb));
        FM_OP(fm_block_attention(m, st, l, xb, n, xb2));
        FM_OP(be->add(bc, x, xb2, n * E));
        /* x += ffn(norm(x)) */
        FM_OP(fm_block_norm(m, st, L->ffn_norm, L->ffn_norm_b, x, n, xb));
        FM_OP(fm_block_ffn(m, st, l, xb, n, xb2));
        FM_OP(be->add(bc, x, xb2, n * E));
    }
    /* final norm and the LM head, only for the rows the caller keeps */
    FM_OP(fm_block_check_abort(st, m->hp.n_layer));
    return fm_block_output(m, st, logits, hidden);
}
