/* The gpt2 architecture: learned position embeddings, pre-LayerNorm blocks
 * (weights and biases) with one fused q/k/v matrix (rows [q | k | v], with
 * bias), a GELU feed-forward with biases, a final LayerNorm and an output
 * matrix tied to the embeddings when the file has none. No RoPE. */
#include <stdio.h>
#include <stdlib.h>

#include "../core/error.h"
#include "model.h"

static fm_status gpt2_load(fm_model *m) {
    fm_status s = fm_model_read_hparams(m, FM_NORM_LAYER);
    if (s) return s;
    fm_hparams *hp = &m->hp;
    hp->n_rot = 0;
    const int64_t E = hp->n_embd, F = hp->n_ff;
    if ((s = fm_model_bind(m, &m->pos_embd, "position_embd.weight", E, hp->n_ctx_train)) ||
        (s = fm_model_bind_head(m, 1)))
        return s;
    for (int l = 0; l < hp->n_layer; l++) {
        fm_layer *L = &m->layers[l];
        fm_weight qkv;
        fm_vec bqkv;
        if ((s = fm_model_bind_vec(m, &L->attn_norm, l, "attn_norm.weight", E, 1)) ||
            (s = fm_model_bind_vec(m, &L->attn_norm_b, l, "attn_norm.bias", E, 1)) ||
            (s = fm_model_bind_layer(m, &qkv, l, "attn_qkv.weight", E, 3 * E)) ||
            (s = fm_model_bind_vec(m, &bqkv, l, "attn_qkv.bias", 3 * E, 1)) ||
            (s = fm_model_bind_layer(m, &L->wo, l, "attn_output.weight", E, E)) ||
            (s = fm_model_bind_vec(m, &L->bo, l, "attn_output.bias", E, 1)) ||
            (s = fm_model_bind_vec(m, &L->ffn_norm, l, "ffn_norm.weight", E, 1)) ||
            (s = fm_model_bind_vec(m, &L->ffn_norm_b, l, "ffn_norm.bias", E, 1)) ||
            (s = fm_model_bind_layer(m, &L->w_up, l, "ffn_up.weight", E, F)) ||
            (s = fm_model_bind_vec(m, &L->b_up, l, "ffn_up.bias", F, 1)) ||
            (s = fm_model_bind_layer(m, &L->w_down, l, "ffn_down.weight", F, E)) ||
            (s = fm_model_bind_vec(m, &L->b_down, l, "ffn_down.bias", E, 1)))
            return s;
        L->wq = fm_weight_rows(&qkv, 0, E);
        L->wk = fm_weight_rows(&qkv, E, E);
        L->wv = fm_weight_rows(&qkv, 2 * E, E);
        L->bq = bqkv;
        L->bk = bqkv + E;
        L->bv = bqkv + 2 * E;
    }
    return FM_STATUS_OK;
}

const fm_arch fm_arch_gpt2 = {"gpt2", gpt2_load, fm_forward_decoder};
