/* The phi3 architecture (Phi-3, Phi-3.5 mini): llama-like pre-RMSNorm
 * blocks whose q/k/v projections are one matrix (rows [q | k | v]) and
 * whose gate and up projections are one matrix (rows [gate | up]); RoPE on
 * NeoX pairs. The fused matrices are used in place as row views. */
#include <stdio.h>
#include <stdlib.h>

#include "../core/error.h"
#include "model.h"

static fm_status phi3_load(fm_model *m) {
    fm_status s = fm_model_read_hparams(m, FM_NORM_RMS);
    if (s) return s;
    fm_hparams *hp = &m->hp;
    hp->rope_mode = FM_ROPE_NEOX;
    /* keys older than the window are masked, as llama.cpp does; a window as
     * long as the context never masks anything */
    if ((s = fm_model_key_u32(m, "attention.sliding_window", 0, &hp->n_swa))) return s;
    if (hp->n_swa < 0) return fm_error(FM_STATUS_BAD_FORMAT, "phi3.attention.sliding_window %d", hp->n_swa);
    const int64_t E = hp->n_embd, F = hp->n_ff;
    const int64_t QD = (int64_t)hp->n_head * hp->head_dim, KVD = (int64_t)hp->n_head_kv * hp->head_dim;
    if ((s = fm_model_bind_head(m, 0))) return s;
    for (int l = 0; l < hp->n_layer; l++) {
        fm_layer *L = &m->layers[l];
        fm_weight qkv, gate_up;
        char name[64];
        snprintf(name, sizeof name, "blk.%d.attn_qkv.weight", l);
        if ((s = fm_model_bind_vec(m, &L->attn_norm, l, "attn_norm.weight", E, 1)) ||
            (s = fm_model_bind_opt(m, &qkv, name, E, QD + 2 * KVD)))
            return s;
        if (qkv.data != NULL) {
            L->wq = fm_weight_rows(&qkv, 0, QD);
            L->wk = fm_weight_rows(&qkv, QD, KVD);
            L->wv = fm_weight_rows(&qkv, QD + KVD, KVD);
        } else if ((s = fm_model_bind_layer(m, &L->wq, l, "attn_q.weight", E, QD)) ||
                   (s = fm_model_bind_layer(m, &L->wk, l, "attn_k.weight", E, KVD)) ||
                   (s = fm_model_bind_layer(m, &L->wv, l, "attn_v.weight", E, KVD))) {
            return s;
        }
        if ((s = fm_model_bind_layer(m, &L->wo, l, "attn_output.weight", QD, E)) ||
            (s = fm_model_bind_vec(m, &L->ffn_norm, l, "ffn_norm.weight", E, 1)) ||
            (s = fm_model_bind_layer(m, &gate_up, l, "ffn_up.weight", E, 2 * F)) ||
            (s = fm_model_bind_layer(m, &L->w_down, l, "ffn_down.weight", F, E)))
            return s;
        L->w_gate = fm_weight_rows(&gate_up, 0, F);
        L->w_up = fm_weight_rows(&gate_up, F, F);
    }
    return FM_STATUS_OK;
}

const fm_arch fm_arch_phi3 = {"phi3", phi3_load, fm_forward_decoder};
