/* The bert architecture (BERT, BGE, MiniLM, nomic-style encoders without
 * their extras): token + token-type + learned position embeddings through a
 * LayerNorm, then post-LayerNorm blocks - x = LN(x + attn(x)),
 * x = LN(x + ffn(x)) - with bidirectional attention and a GELU
 * feed-forward, all with biases. The output is the last layer's hidden
 * states (no final norm, no LM head), pooled as the file's pooling_type says. */
#include <stdio.h>
#include <stdlib.h>

#include "../core/error.h"
#include "blocks.h"

static fm_status bert_load(fm_model *m) {
    fm_status s = fm_model_read_hparams(m, FM_NORM_LAYER);
    if (s) return s;
    fm_hparams *hp = &m->hp;
    hp->n_rot = 0;
    hp->causal = 0;
    hp->pooling = FM_POOLING_MEAN;
    int32_t pooling = hp->pooling;
    if ((s = fm_model_key_u32(m, "pooling_type", 0, &pooling))) return s;
    if (pooling < FM_POOLING_NONE || pooling > FM_POOLING_LAST)
        return fm_error(FM_STATUS_UNSUPPORTED, "bert.pooling_type %d is not supported (0..3)", pooling);
    hp->pooling = pooling;
    int causal = 0;
    char key[64];
    snprintf(key, sizeof key, "%s.attention.causal", m->arch->name);
    s = fm_meta_get_bool(m->file, key, &causal);
    if (s != FM_STATUS_OK && s != FM_STATUS_NOT_FOUND) return s;
    if (causal) return fm_error(FM_STATUS_UNSUPPORTED, "a causal bert model is not supported");

    const int64_t E = hp->n_embd, V = hp->n_vocab, F = hp->n_ff;
    const fm_tensor_info *types = fm_model_file_tensor(m->file, "token_types.weight");
    if ((s = fm_model_bind(m, &m->tok_embd, "token_embd.weight", E, V)) ||
        (s = fm_model_bind(m, &m->pos_embd, "position_embd.weight", E, hp->n_ctx_train)) ||
        (types != NULL && (s = fm_model_bind(m, &m->type_embd, "token_types.weight", E, types->ne[1]))) ||
        (s = fm_model_bind_vec(m, &m->embd_norm, -1, "token_embd_norm.weight", E, 1)) ||
        (s = fm_model_bind_vec(m, &m->embd_norm_b, -1, "token_embd_norm.bias", E, 1)))
        return s;
    if ((s = fm_model_alloc_layers(m))) return s;
    for (int l = 0; l < hp->n_layer; l++) {
        fm_layer *L = &m->layers[l];
        if ((s = fm_model_bind_layer(m, &L->wq, l, "attn_q.weight", E, E)) ||
            (s = fm_model_bind_vec(m, &L->bq, l, "attn_q.bias", E, 1)) ||
            (s = fm_model_bind_layer(m, &L->wk, l, "attn_k.weight", E, E)) ||
            (s = fm_model_bind_vec(m, &L->bk, l, "attn_k.bias", E, 1)) ||
            (s = fm_model_bind_layer(m, &L->wv, l, "attn_v.weight", E, E)) ||
            (s = fm_model_bind_vec(m, &L->bv, l, "attn_v.bias", E, 1)) ||
            (s = fm_model_bind_layer(m, &L->wo, l, "attn_output.weight", E, E)) ||
            (s = fm_model_bind_vec(m, &L->bo, l, "attn_output.bias", E, 1)) ||
            (s = fm_model_bind_vec(m, &L->attn_out_norm, l, "attn_output_norm.weight", E, 1)) ||
            (s = fm_model_bind_vec(m, &L->attn_out_norm_b, l, "attn_output_norm.bias", E, 1)) ||
            (s = fm_model_bind_layer(m, &L->w_up, l, "ffn_up.weight", E, F)) ||
            (s = fm_model_bind_vec(m, &L->b_up, l, "ffn_up.bias", F, 1)) ||
            (s = fm_model_bind_layer(m, &L->w_down, l, "ffn_down.weight", F, E)) ||
            (s = fm_model_bind_vec(m, &L->b_down, l, "ffn_down.bias", E, 1)) ||
            (s = fm_model_bind_vec(m, &L->out_norm, l, "layer_output_norm.weight", E, 1)) ||
            (s = fm_model_bind_vec(m, &L->out_norm_b, l, "layer_output_norm.bias", E, 1)))
            return s;
    }
    return FM_STATUS_OK;
}

static fm_status bert_forward(const fm_model *m, fm_forward_state *st, const fm_token *ids, int32_t n, float *logits,
                              float *hidden) {
    const fm_backend_iface *be = &st->backend->iface;
    void *bc = st->backend->ctx;
    const int64_t E = m->hp.n_embd;
    float *x = st->x, *xb2 = st->xb2;
    if (logits != NULL) return fm_error(FM_STATUS_UNSUPPORTED, "bert is an encoder: it has embeddings, not logits");

    FM_OP(fm_block_embed(m, st, ids, n));
    for (int l = 0; l < m->hp.n_layer; l++) {
        const fm_layer *L = &m->layers[l];
        FM_OP(fm_block_check_abort(st, l));
        /* x = LN(x + attention(x)) */
        FM_OP(fm_block_attention(m, st, l, x, n, xb2));
        FM_OP(be->add(bc, xb2, x, n * E));
        FM_OP(fm_block_norm(m, st, L->attn_out_norm, L->attn_out_norm_b, xb2, n, x));
        /* x = LN(x + ffn(x)) */
        FM_OP(fm_block_ffn(m, st, l, x, n, xb2));
        FM_OP(be->add(bc, xb2, x, n * E));
        FM_OP(fm_block_norm(m, st, L->out_norm, L->out_norm_b, xb2, n, x));
    }
    return fm_block_output(m, st, NULL, hidden);
}

const fm_arch fm_arch_bert = {"bert", bert_load, bert_forward};
