/* The llama architecture (Llama 1/2/3, Mistral, TinyLlama, SmolLM,
 * llama2.c's models): pre-RMSNorm blocks of grouped-query attention with
 * RoPE on adjacent pairs and a SwiGLU feed-forward, a final RMSNorm and a
 * tied or separate output matrix. Attention biases are optional. */
#include "model.h"

fm_status fm_llama_bind(fm_model *m, int qkv_bias) {
    const fm_hparams *hp = &m->hp;
    const int64_t E = hp->n_embd, F = hp->n_ff;
    const int64_t QD = (int64_t)hp->n_head * hp->head_dim, KVD = (int64_t)hp->n_head_kv * hp->head_dim;
    fm_status s = fm_model_bind_head(m, 0);
    if (s) return s;
    for (int l = 0; l < hp->n_layer; l++) {
        fm_layer *L = &m->layers[l];
        if ((s = fm_model_bind_vec(m, &L->attn_norm, l, "attn_norm.weight", E, 1)) ||
            (s = fm_model_bind_layer(m, &L->wq, l, "attn_q.weight", E, QD)) ||
            (s = fm_model_bind_layer(m, &L->wk, l, "attn_k.weight", E, KVD)) ||
            (s = fm_model_bind_layer(m, &L->wv, l, "attn_v.weight", E, KVD)) ||
            (s = fm_model_bind_vec(m, &L->bq, l, "attn_q.bias", QD, qkv_bias)) ||
            (s = fm_model_bind_vec(m, &L->bk, l, "attn_k.bias", KVD, qkv_bias)) ||
            (s = fm_model_bind_vec(m, &L->bv, l, "attn_v.bias", KVD, qkv_bias)) ||
            (s = fm_model_bind_layer(m, &L->wo, l, "attn_output.weight", QD, E)) ||
            (s = fm_model_bind_vec(m, &L->bo, l, "attn_output.bias", E, 0)) ||
            (s = fm_model_bind_vec(m, &L->ffn_norm, l, "ffn_norm.weight", E, 1)) ||
            (s = fm_model_bind_layer(m, &L->w_gate, l, "ffn_gate.weight", E, F)) ||
            (s = fm_model_bind_layer(m, &L->w_up, l, "ffn_up.weight", E, F)) ||
            (s = fm_model_bind_layer(m, &L->w_down, l, "ffn_down.weight", F, E)))
            return s;
    }
    return FM_STATUS_OK;
}

static fm_status llama_load(fm_model *m) {
    fm_status s = fm_model_read_hparams(m, FM_NORM_RMS);
    if (s) return s;
    return fm_llama_bind(m, 0);
}

const fm_arch fm_arch_llama = {"llama", llama_load, fm_forward_decoder};
