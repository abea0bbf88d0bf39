/* Editing a context's KV cache by sequence: remove, share, keep, shift
 * (with the keys re-rotated), and the position range a sequence holds. */
#include <string.h>

#include "../core/error.h"
#include "../core/half.h"
#include "../model/blocks.h"
#include "context_impl.h"

static fm_status check_seq(const fm_context *c, fm_seq_id seq, int allow_all, const char *fn) {
    if (c == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "%s: context is NULL", fn);
    if ((seq < 0 && !allow_all) || seq >= c->n_seq_max)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "%s: sequence %d is outside 0..%d", fn, seq, c->n_seq_max - 1);
    return FM_STATUS_OK;
}

static fm_status check_range(int32_t p0, const char *fn) {
    if (p0 < 0) return fm_error(FM_STATUS_INVALID_ARGUMENT, "%s: p0 %d is negative", fn, p0);
    return FM_STATUS_OK;
}

fm_status fm_context_clear(fm_context *c) {
    fm_error_clear();
    if (c == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_clear: context is NULL");
    fm_kv_clear(&c->kv);
    c->n_last = 0;
    return FM_STATUS_OK;
}

fm_status fm_context_seq_rm(fm_context *c, fm_seq_id seq, int32_t p0, int32_t p1) {
    fm_error_clear();
    fm_status s;
    if ((s = check_seq(c, seq, 1, "fm_context_seq_rm")) || (s = check_range(p0, "fm_context_seq_rm"))) return s;
    fm_kv_seq_rm(&c->kv, seq < 0 ? -1 : seq, p0, p1);
    return FM_STATUS_OK;
}

fm_status fm_context_seq_cp(fm_context *c, fm_seq_id src, fm_seq_id dst, int32_t p0, int32_t p1) {
    fm_error_clear();
    fm_status s;
    if ((s = check_seq(c, src, 0, "fm_context_seq_cp")) || (s = check_seq(c, dst, 0, "fm_context_seq_cp")) ||
        (s = check_range(p0, "fm_context_seq_cp")))
        return s;
    if (src != dst) fm_kv_seq_cp(&c->kv, src, dst, p0, p1);
    return FM_STATUS_OK;
}

fm_status fm_context_seq_keep(fm_context *c, fm_seq_id seq) {
    fm_error_clear();
    fm_status s = check_seq(c, seq, 0, "fm_context_seq_keep");
    if (s) return s;
    fm_kv_seq_keep(&c->kv, seq);
    return FM_STATUS_OK;
}

fm_status fm_context_truncate(fm_context *c, uint32_t n_keep) {
    fm_error_clear();
    if (c == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_truncate: context is NULL");
    const uint32_t n_past = fm_context_n_past(c);
    if (n_keep > n_past)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "cannot keep %u positions: only %u are used", n_keep, n_past);
    fm_kv_seq_rm(&c->kv, 0, (int32_t)n_keep, -1);
    c->n_last = 0;
    return FM_STATUS_OK;
}

/* The moved cells' keys turned by `delta` positions more (RoPE rotations
 * compose: R(p + d) = R(d) R(p)), a piece of n_batch rows at a time
 * through the scratch rows, halves widened and rounded back. */
static fm_status rerotate(fm_context *c, const int32_t *cells, int32_t n, int32_t delta) {
    fm_forward_state *st = &c->st;
    const fm_kv_cache *kv = &c->kv;
    const size_t R = (size_t)kv->row;
    for (int32_t l = 0; l < kv->n_layer; l++)
        for (int32_t start = 0; start < n; start += st->n_batch) {
            const int32_t m = n - start < st->n_batch ? n - start : st->n_batch;
            for (int32_t i = 0; i < m; i++) {
                const void *row = fm_kv_row(kv, 0, l, cells[start + i]);
                float *dst = st->k_new + (size_t)i * R;
                if (kv->f16)
                    for (size_t d = 0; d < R; d++) dst[d] = fm_f16_to_f32(((const uint16_t *)row)[d]);
                else
                    memcpy(dst, row, R * sizeof *dst);
                st->pos[i] = delta;
            }
            FM_OP(fm_block_rope(c->model, st, st->k_new, m, c->model->hp.n_head_kv, st->pos));
            for (int32_t i = 0; i < m; i++) {
                void *row = fm_kv_row(kv, 0, l, cells[start + i]);
                const float *src = st->k_new + (size_t)i * R;
                if (kv->f16)
                    for (size_t d = 0; d < R; d++) ((uint16_t *)row)[d] = fm_f32_to_f16(src[d]);
                else
                    memcpy(row, src, R * sizeof *src);
            }
        }
    return FM_STATUS_OK;
}

fm_status fm_context_seq_shift(fm_context *c, fm_seq_id seq, int32_t p0, int32_t p1, int32_t delta) {
    fm_error_clear();
    fm_status s;
    if ((s = check_seq(c, seq, 0, "fm_context_seq_shift")) || (s = check_range(p0, "fm_context_seq_shift"))) return s;
    if (c->model->pos_embd.data != NULL)
        return fm_error(FM_STATUS_UNSUPPORTED, "%s has learned absolute positions: its cache cannot be shifted",
                        c->model->arch->name);
    if (delta == 0) return FM_STATUS_OK;
    if ((s = fm_context_reserve(c, (size_t)c->kv.n_cells))) return s;
    int32_t n_moved;
    if ((s = fm_kv_seq_add(&c->kv, seq, p0, p1, delta, c->placed, &n_moved))) return s;
    c->n_last = 0;
    if (c->model->hp.n_rot > 0) return rerotate(c, c->placed, n_moved, delta);
    return FM_STATUS_OK;
}

fm_status fm_context_seq_pos_range(const fm_context *c, fm_seq_id seq, int32_t *pos_min, int32_t *pos_max) {
    fm_error_clear();
    fm_status s = check_seq(c, seq, 0, "fm_context_seq_pos_range");
    if (s) return s;
    if (pos_min != NULL) *pos_min = fm_kv_seq_pos_min(&c->kv, seq);
    if (pos_max != NULL) *pos_max = fm_kv_seq_pos_max(&c->kv, seq);
    return FM_STATUS_OK;
}

fm_status fm_context_seq_tokens(const fm_context *c, fm_seq_id seq, fm_token *out, size_t capacity, size_t *n_tokens) {
    fm_error_clear();
    fm_status s = check_seq(c, seq, 0, "fm_context_seq_tokens");
    if (s) return s;
    if (n_tokens == NULL || (out == NULL && capacity > 0))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_seq_tokens: NULL argument");
    int32_t n;
    const int32_t *cells = fm_kv_seq_cells(&c->kv, seq, &n); /* in position order */
    *n_tokens = (size_t)n;
    if ((size_t)n > capacity)
        return fm_error(FM_STATUS_BUFFER_TOO_SMALL, "sequence %d holds %d tokens, room for %zu", seq, n, capacity);
    for (int32_t i = 0; i < n; i++) out[i] = c->kv.tok[cells[i]];
    return FM_STATUS_OK;
}
