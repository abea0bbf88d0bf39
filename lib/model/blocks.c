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

fm_status fm_block_check_abort(const fm_forward_state *st, int l) {
    if (st->abort != NULL && st->abort(st->abort_user))
        return fm_error(FM_STATUS_ABORTED, "the abort callback stopped the decode before layer %d", l);
    return FM_STATUS_OK;
}

fm_status fm_block_embed(const fm_model *m, fm_forward_state *st, const fm_token *ids, int32_t n) {
    const fm_backend_iface *be = &st->backend->iface;
    void *bc = st->backend->ctx;
    const int64_t E = m->hp.n_embd;
    FM_OP(be->get_rows(bc, &m->tok_embd, ids, n, st->x));
    if (m->pos_embd.data != NULL) {
        for (int32_t i = 0; i < n; i++)
            if (st->pos[i] >= m->pos_embd.rows)
                return fm_error(FM_STATUS_CONTEXT_FULL, "position %d is past the model's %lld learned positions",
                                st->pos[i], (long long)m->pos_embd.rows);
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

fm_status fm_block_rope(const fm_model *m, fm_forward_state *st, float *x, int32_t n, int32_t n_head,
                        const int32_t *pos) {
    const fm_hparams *hp = &m->hp;
    const fm_backend_iface *be = &st->backend->iface;
    if (hp->rope_scale == 1.0f)
        return be->rope(st->backend->ctx, x, n, n_head, hp->head_dim, hp->n_rot, pos, hp->rope_base, hp->rope_mode);
    return be->rope_ext(st->backend->ctx, x, n, n_head, hp->head_dim, hp->n_rot, pos, hp->rope_base, hp->rope_scale,
                        hp->rope_mode);
}

/* The batch's new key and value rows into their cells: rounded to halves
 * for an f16 cache, copied for an f32 one unless they were computed in
 * place. */
static void store_rows(const fm_forward_state *st, int l, int32_t n, int in_place) {
    const fm_kv_cache *kv = st->kv;
    const size_t R = (size_t)kv->row;
    if (in_place) return;
    for (int32_t i = 0; i < n; i++) {
        const float *kn = st->k_new + (size_t)i * R, *vn = st->v_new + (size_t)i * R;
        if (kv->f16) {
            uint16_t *kh = fm_kv_row(kv, 0, l, st->cells[i]), *vh = fm_kv_row(kv, 1, l, st->cells[i]);
            for (size_t d = 0; d < R; d++) {
                kh[d] = fm_f32_to_f16(kn[d]);
                vh[d] = fm_f32_to_f16(vn[d]);
            }
        } else {
            memcpy(fm_kv_row(kv, 0, l, st->cells[i]), kn, R * sizeof *kn);
            memcpy(fm_kv_row(kv, 1, l, st->cells[i]), vn, R * sizeof *vn);
        }
    }
}

fm_status fm_block_attention(const fm_model *m, fm_forward_state *st, int l, const float *in, int32_t n, float *out) {
    const fm_hparams *hp = &m->hp;
    const fm_layer *L = &m->layers[l];
    const fm_kv_cache *kv = st->kv;
    const int32_t D = hp->head_dim;
    /* new rows go straight into the cells of an f32 cache when they are
     * contiguous, through scratch otherwise */
    const int in_place = !kv->f16 && st->cells_contig;
    float *k_new = in_place ? fm_kv_row(kv, 0, l, st->cells[0]) : st->k_new;
    float *v_new = in_place ? fm_kv_row(kv, 1, l, st->cells[0]) : st->v_new;

    FM_OP(fm_block_linear(st, &L->wq, L->bq, in, n, st->q));
    FM_OP(fm_block_linear(st, &L->wk, L->bk, in, n, k_new));
    FM_OP(fm_block_linear(st, &L->wv, L->bv, in, n, v_new));
    if (hp->n_rot > 0) {
        FM_OP(fm_block_rope(m, st, st->q, n, hp->n_head, st->pos));
        FM_OP(fm_block_rope(m, st, k_new, n, hp->n_head_kv, st->pos));
    }
    store_rows(st, l, n, in_place);
    /* softmax(q k^T / sqrt(D)) v over the cells each token sees */
    fm_attention_args a = {sizeof a, n, hp->n_head, hp->n_head_kv, D, kv->hi, hp->causal, 1.0f / sqrtf((float)D),
                           st->q, fm_kv_row(kv, 0, l, 0), fm_kv_row(kv, 1, l, 0), kv->row, st->pos, st->att,
                           hp->n_swa, kv->f16 ? FM_DTYPE_F16 : FM_DTYPE_F32, st->runs, st->run_off};
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

fm_status fm_block_output(const fm_model *m, fm_forward_state *st, float *logits, float *hidden) {
    const int32_t n_out = st->n_out, E = m->hp.n_embd;
    if (n_out <= 0 || (logits == NULL && hidden == NULL)) return FM_STATUS_OK;
    /* the kept rows: in place when they are one run (a prompt's last
     * token, every token), gathered otherwise */
    const int32_t first = st->out_rows[0];
    const float *h = st->x + (size_t)first * (size_t)E;
    if (st->out_rows[n_out - 1] - first != n_out - 1) {
        for (int32_t i = 0; i < n_out; i++)
            memcpy(st->xb2 + (size_t)i * (size_t)E, st->x + (size_t)st->out_rows[i] * (size_t)E,
                   (size_t)E * sizeof *st->xb2);
        h = st->xb2;
    }
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
