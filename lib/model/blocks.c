/* The shared sub-layers of the forward passes (see blocks.h). */
#include "blocks.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../core/half.h"

fm_status fm_block_norm(const fm_model *m, fm_forward_state *st, fm_vec w, fm_vec b, const float *x, int32_t rows,
                        float *y) {
    const fm_backend_iface *be = &st->backend->iface;
    const int32_t E = m->hp.n_embd;
    if (m->hp.norm == FM_NORM_LAYER) {
        FM_OP(be->layernorm(st->backend->ctx, x, w, b, E, rows, m->hp.norm_eps, y));
    } else {
        FM_OP(be->rmsnorm(st->backend->ctx, x, w, E, rows, m->hp.norm_eps, y));
        if (b != NULL) FM_OP(be->add_rows(st->backend->ctx, y, b, E, rows));
    }
    return FM_STATUS_OK;
}

fm_status fm_block_linear(fm_forward_state *st, const fm_weight *w, fm_vec b, const float *x, int32_t n, float *y) {
    const fm_backend_iface *be = &st->backend->iface;
    FM_OP(be->matmul(st->backend->ctx, w, x, n, y, w->rows));
    if (b != NULL) FM_OP(be->add_rows(st->backend->ctx, y, b, (int32_t)w->rows, n));
    return FM_STATUS_OK;
}

fm_status fm_block_embed(const fm_model *m, fm_forward_state *st, const fm_token *ids, int32_t n, int32_t n_past) {
    const fm_backend_iface *be = &st->backend->iface;
    void *bc = st->backend->ctx;
    const int64_t E = m->hp.n_embd;
    for (int32_t i = 0; i < n; i++) st->pos[i] = n_past + i;
    FM_OP(be->get_rows(bc, &m->tok_embd, ids, n, st->x));
    if (m->pos_embd.data != NULL) {
        if (n_past + n > m->pos_embd.rows)
            return fm_error(FM_STATUS_CONTEXT_FULL, "position %d is past the model's %lld learned positions",
                            n_past + n - 1, (long long)m->pos_embd.rows);
        FM_OP(be->get_rows(bc, &m->pos_embd, st->pos, n, st->xb));
        FM_OP(be->add(bc, st->x, st->xb, n * E));
    }
    if (m->type_embd.data != NULL) { /* every token is of type 0 (one segment) */
        const int32_t type0 = 0;
        FM_OP(be->get_rows(bc, &m->type_embd, &type0, 1, st->xb));
        FM_OP(be->add_rows(bc, st->x, st->xb, (int32_t)E, n));
    }
    if (m->embd_norm != NULL) {
        FM_OP(fm_block_norm(m, st, m->embd_norm, m->embd_norm_b, st->x, n, st->xb));
        memcpy(st->x, st->xb, (size_t)n * (size_t)E * sizeof *st->x);
    }
    return FM_STATUS_OK;
}

static fm_status rope(const fm_model *m, fm_forward_state *st, float *x, int32_t n, int32_t n_head) {
    const fm_hparams *hp = &m->hp;
    const fm_backend_iface *be = &st->backend->iface;
    if (hp->rope_scale == 1.0f)
        return be->rope(st->backend->ctx, x, n, n_head, hp->head_dim, hp->n_rot, st->pos, hp->rope_base,
                        hp->rope_mode);
    return be->rope_ext(st->backend->ctx, x, n, n_head, hp->head_dim, hp->n_rot, st->pos, hp->rope_base,
                        hp->rope_scale, hp->rope_mode);
}

fm_status fm_block_attention(const fm_model *m, fm_forward_state *st, int l, const float *in, int32_t n,
                             int32_t n_past, float *out) {
    const fm_hparams *hp = &m->hp;
    const fm_layer *L = &m->layers[l];
    const int32_t D = hp->head_dim, KVD = hp->n_head_kv * D;
    const size_t esize = st->kv_f16 ? sizeof(uint16_t) : sizeof(float);
    /* this layer's cache, [n_ctx][KVD] */
    uint8_t *kc = (uint8_t *)st->k_cache + (size_t)l * (size_t)st->n_ctx * (size_t)KVD * esize;
    uint8_t *vc = (uint8_t *)st->v_cache + (size_t)l * (size_t)st->n_ctx * (size_t)KVD * esize;
    /* new rows go straight into an f32 cache, through scratch into an f16 one */
    float *k_new = st->kv_f16 ? st->k_new : (float *)(void *)(kc + (size_t)n_past * (size_t)KVD * esize);
    float *v_new = st->kv_f16 ? st->v_new : (float *)(void *)(vc + (size_t)n_past * (size_t)KVD * esize);

    FM_OP(fm_block_linear(st, &L->wq, L->bq, in, n, st->q));
    FM_OP(fm_block_linear(st, &L->wk, L->bk, in, n, k_new));
    FM_OP(fm_block_linear(st, &L->wv, L->bv, in, n, v_new));
    if (hp->n_rot > 0) {
        FM_OP(rope(m, st, st->q, n, hp->n_head));
        FM_OP(rope(m, st, k_new, n, hp->n_head_kv));
    }
    if (st->kv_f16) {
        uint16_t *kh = (uint16_t *)(void *)kc + (size_t)n_past * (size_t)KVD;
        uint16_t *vh = (uint16_t *)(void *)vc + (size_t)n_past * (size_t)KVD;
        for (size_t i = 0; i < (size_t)n * (size_t)KVD; i++) {
            kh[i] = fm_f32_to_f16(k_new[i]);
            vh[i] = fm_f32_to_f16(v_new[i]);
        }
    }
    /* softmax(q k^T / sqrt(D)) v over the cache: up to each token's own
     * position for decoders, everything for encoders */
    fm_attention_args a = {sizeof a, n,       hp->n_head, hp->n_head_kv, D,        n_past + n, hp->causal,
                           1.0f / sqrtf((float)D), st->q, (const float *)(const void *)kc,
                           (const float *)(const void *)vc, KVD, st->pos, st->att, hp->n_swa,
                           st->kv_f16 ? FM_DTYPE_F16 : FM_DTYPE_F32};
    FM_OP(st->backend->iface.attention(st->backend->ctx, &a));
    return fm_block_linear(st, &L->wo, L->bo, st->att, n, out);
}

fm_status fm_block_ffn(const fm_model *m, fm_forward_state *st, int l, const float *in, int32_t n, float *out) {
    const fm_layer *L = &m->layers[l];
    const fm_backend_iface *be = &st->backend->iface;
    const int64_t F = m->hp.n_ff;
    if (L->w_gate.data != NULL) {
        FM_OP(fm_block_linear(st, &L->w_gate, NULL, in, n, st->hb));
        FM_OP(fm_block_linear(st, &L->w_up, L->b_up, in, n, st->hb2));
        FM_OP(be->swiglu(st->backend->ctx, st->hb, st->hb2, n * F, st->hb));
    } else {
        FM_OP(fm_block_linear(st, &L->w_up, L->b_up, in, n, st->hb));
        FM_OP(be->gelu(st->backend->ctx, st->hb, n * F, st->hb));
    }
    return fm_block_linear(st, &L->w_down, L->b_down, st->hb, n, out);
}

fm_status fm_block_output(const fm_model *m, fm_forward_state *st, int32_t n, int32_t first_out, float *logits,
                          float *hidden) {
    const int32_t n_out = n - first_out, E = m->hp.n_embd;
    if (n_out <= 0 || (logits == NULL && hidden == NULL)) return FM_STATUS_OK;
    const float *h = st->x + (size_t)first_out * (size_t)E;
    if (m->output_norm != NULL) {
        FM_OP(fm_block_norm(m, st, m->output_norm, m->output_norm_b, h, n_out, st->xb));
        h = st->xb;
    }
    if (hidden != NULL) memcpy(hidden, h, (size_t)n_out * (size_t)E * sizeof *hidden);
    if (logits != NULL) {
        if (m->output.data == NULL) return fm_error(FM_STATUS_UNSUPPORTED, "this %s model has no LM head", m->arch->name);
        FM_OP(st->backend->iface.matmul(st->backend->ctx, &m->output, h, n_out, logits, m->hp.n_vocab));
    }
    return FM_STATUS_OK;
}
