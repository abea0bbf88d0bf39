/* A context: one KV cache shared by up to n_seq_max sequences, scratch
 * buffers and a backend over a shared, read-only model. Creation, settings
 * and embeddings live here; decoding in decode.c, cache edits in
 * seq_edit.c. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/log.h"
#include "../core/params.h"
#include "../core/threadpool.h"
#include "../format/dtype.h"
#include "context_impl.h"

fm_status fm_context_params_init(fm_context_params *p, size_t size) {
    const fm_context_params d = {sizeof d, 0, 512, 0, NULL, 0, FM_KV_F32, 1, NULL, NULL};
    return fm_params_init(p, size, &d, sizeof d, "fm_context_params_init");
}

static fm_status check_weight(const fm_backend_inst *b, fm_op op, const fm_weight *w, int layer) {
    if (w->data == NULL || b->iface.supports_op(b->ctx, op, w->dtype)) return FM_STATUS_OK;
    if (layer < 0)
        return fm_error(FM_STATUS_UNSUPPORTED, "backend '%s' cannot use %s weights", b->iface.name,
                        fm_dtype_get((uint32_t)w->dtype)->name);
    return fm_error(FM_STATUS_UNSUPPORTED, "backend '%s' cannot multiply %s weights (layer %d)", b->iface.name,
                    fm_dtype_get((uint32_t)w->dtype)->name, layer);
}

/* Refuses a backend that cannot use one of the model's weight types. */
static fm_status check_backend(const fm_backend_inst *b, const fm_model *m) {
    if (b->iface.supports_op == NULL) return FM_STATUS_OK;
    fm_status s;
    if ((s = check_weight(b, FM_OP_GET_ROWS, &m->tok_embd, -1)) || (s = check_weight(b, FM_OP_GET_ROWS, &m->pos_embd, -1)) ||
        (s = check_weight(b, FM_OP_GET_ROWS, &m->type_embd, -1)) || (s = check_weight(b, FM_OP_MATMUL, &m->output, -1)))
        return s;
    for (int32_t l = 0; l < m->hp.n_layer; l++) {
        const fm_layer *L = &m->layers[l];
        const fm_weight *lw[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < sizeof lw / sizeof lw[0]; i++)
            if ((s = check_weight(b, FM_OP_MATMUL, lw[i], l))) return s;
    }
    return FM_STATUS_OK;
}

/* Refuses a backend whose supports_op() says it cannot run an op this
 * model's forward pass calls (asked with dtype -1). Ops the backend left
 * NULL run on libfm's portable stand-ins, which always can, so only the
 * backend's own entries are asked about. */
static fm_status check_ops(const fm_backend_inst *b, const fm_model *m) {
    if (b->iface.supports_op == NULL) return FM_STATUS_OK;
    const fm_backend_iface *own = fm_backend_find(b->iface.name);
    const fm_hparams *hp = &m->hp;
    int gated = 0, bias = m->output_norm_b != NULL;
    for (int32_t l = 0; l < hp->n_layer; l++) {
        const fm_layer *L = &m->layers[l];
        gated |= L->w_gate.data != NULL;
        bias |= L->attn_norm_b || L->bq || L->bk || L->bv || L->bo || L->ffn_norm_b || L->b_up || L->b_down ||
                L->attn_out_norm_b || L->out_norm_b;
    }
    const size_t v1 = own->struct_size; /* entries past it are stand-ins */
#define OWN(field) (offsetof(fm_backend_iface, field) < v1 && own->field != NULL)
    const struct {
        fm_op op;
        const char *name;
        int needed, own;
    } ops[] = {
        {FM_OP_RMSNORM, "rmsnorm", hp->norm == FM_NORM_RMS, 1},
        {FM_OP_LAYERNORM, "layernorm", hp->norm == FM_NORM_LAYER, OWN(layernorm)},
        {FM_OP_ROPE, "rope", hp->n_rot > 0 && hp->rope_scale == 1.0f, 1},
        {FM_OP_ROPE_EXT, "rope_ext (linear RoPE scaling)", hp->n_rot > 0 && hp->rope_scale != 1.0f, OWN(rope_ext)},
        {FM_OP_ATTENTION, "attention", 1, 1},
        {FM_OP_SWIGLU, "swiglu", gated, 1},
        {FM_OP_GELU, "gelu", !gated, OWN(gelu)},
        {FM_OP_ADD, "add", 1, 1},
        {FM_OP_ADD_ROWS, "add_rows (biases)", bias, OWN(add_rows)},
    };
#undef OWN
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (ops[i].needed && ops[i].own && !b->iface.supports_op(b->ctx, ops[i].op, -1))
            return fm_error(FM_STATUS_UNSUPPORTED, "backend '%s' cannot run %s, which this %s model needs",
                            b->iface.name, ops[i].name, m->arch->name);
    return FM_STATUS_OK;
}

static float *alloc_floats(size_t n, int *ok) {
    float *p = fm_calloc(n ? n : 1, sizeof *p);
    if (p == NULL) *ok = 0;
    return p;
}

static int32_t *alloc_ints(size_t n, int *ok) {
    int32_t *p = fm_calloc(n ? n : 1, sizeof *p);
    if (p == NULL) *ok = 0;
    return p;
}

/* The backend's answer to the flags, or UNSUPPORTED. */
static fm_status apply_flags(fm_context *c, uint32_t flags) {
    if (flags & ~FM_CONTEXT_BATCH_INVARIANT)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "unknown context flags %#x", flags & ~FM_CONTEXT_BATCH_INVARIANT);
    const uint32_t bf = flags & FM_CONTEXT_BATCH_INVARIANT ? FM_BACKEND_BATCH_INVARIANT : 0u;
    if (c->backend.iface.set_flags == NULL) {
        if (bf)
            return fm_error(FM_STATUS_UNSUPPORTED, "backend '%s' cannot make results batch-invariant",
                            c->backend.iface.name);
    } else {
        fm_status s = c->backend.iface.set_flags(c->backend.ctx, bf);
        if (s) return s;
    }
    c->flags = flags;
    return FM_STATUS_OK;
}

fm_status fm_context_new(fm_model *model, const fm_context_params *params, fm_context **out) {
    fm_error_clear();
    if (out == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_new: out is NULL");
    *out = NULL;
    if (model == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_new: model is NULL");
    fm_context_params p;
    fm_context_params_init(&p, sizeof p);
    fm_status s = fm_params_read(&p, sizeof p, params, "fm_context_params");
    if (s) return s;
    const fm_hparams *hp = &model->hp;
    if (p.n_ctx == 0) p.n_ctx = (uint32_t)hp->n_ctx_train;
    if (p.n_ctx > (1u << 24)) return fm_error(FM_STATUS_INVALID_ARGUMENT, "n_ctx %u is too large", p.n_ctx);
    if (model->pos_embd.data != NULL && p.n_ctx > (uint64_t)model->pos_embd.rows)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "n_ctx %u is more than the %lld positions this %s model has learned",
                        p.n_ctx, (long long)model->pos_embd.rows, model->arch->name);
    if (p.n_batch == 0) p.n_batch = 512;
    if (p.n_batch > p.n_ctx || !hp->causal) p.n_batch = p.n_ctx; /* an encoder sees its whole input at once */
    if (p.n_threads < 0) return fm_error(FM_STATUS_INVALID_ARGUMENT, "n_threads %d is negative", p.n_threads);
    if (p.n_threads == 0) p.n_threads = fm_cpu_count();
    if (p.n_threads > fm_thread_cap()) {
        fm_log(FM_LOG_WARN, "n_threads %d capped at %d (4 x the %d cores)", p.n_threads, fm_thread_cap(), fm_cpu_count());
        p.n_threads = fm_thread_cap();
    }
    if (p.kv_type != FM_KV_F32 && p.kv_type != FM_KV_F16)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "kv_type %d is neither FM_KV_F32 nor FM_KV_F16", p.kv_type);
    if (p.n_seq_max == 0) p.n_seq_max = 1;
    if (p.n_seq_max > FM_SEQ_MAX)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "n_seq_max %u is more than %d", p.n_seq_max, FM_SEQ_MAX);

    fm_context *c = fm_calloc(1, sizeof *c);
    if (c == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a context");
    c->model = model;
    c->n_seq_max = (int32_t)p.n_seq_max;
    fm_backend_init_params bp = {sizeof bp, p.n_threads, (int32_t)p.n_ctx, (int32_t)p.n_batch};
    if ((s = fm_backend_inst_init(&c->backend, p.backend ? p.backend : "cpu", &bp))) {
        free(c);
        return s;
    }
    if ((s = check_backend(&c->backend, model)) || (s = check_ops(&c->backend, model))) goto fail;
    if (hp->n_swa > 0 && (uint32_t)hp->n_swa < p.n_ctx && c->backend.iface.abi_version < 2) {
        s = fm_error(FM_STATUS_UNSUPPORTED,
                     "backend '%s' (ABI 1) has no sliding-window attention, which this %s model needs beyond %d positions",
                     c->backend.iface.name, model->arch->name, hp->n_swa);
        goto fail;
    }
    if (p.kv_type == FM_KV_F16 && c->backend.iface.abi_version < 3) {
        s = fm_error(FM_STATUS_UNSUPPORTED, "backend '%s' (ABI %u) has no F16 KV cache", c->backend.iface.name,
                     c->backend.iface.abi_version);
        goto fail;
    }
    if ((s = apply_flags(c, p.flags))) goto fail;

    fm_forward_state *st = &c->st;
    const size_t B = p.n_batch, E = (size_t)hp->n_embd, F = (size_t)hp->n_ff;
    const size_t QD = (size_t)hp->n_head * (size_t)hp->head_dim;
    const size_t KVD = (size_t)hp->n_head_kv * (size_t)hp->head_dim;
    if ((s = fm_kv_init(&c->kv, hp->n_layer, (int32_t)p.n_ctx, (int32_t)KVD, p.kv_type == FM_KV_F16,
                        (int32_t)p.n_seq_max)))
        goto fail;
    int ok = 1;
    st->backend = &c->backend;
    st->kv = &c->kv;
    st->n_batch = (int32_t)p.n_batch;
    st->abort = p.abort;
    st->abort_user = p.abort_user;
    st->x = alloc_floats(B * E, &ok);
    st->xb = alloc_floats(B * (E > QD ? E : QD), &ok);
    st->xb2 = alloc_floats(B * E, &ok);
    st->q = alloc_floats(B * QD, &ok);
    st->att = alloc_floats(B * QD, &ok);
    st->hb = alloc_floats(B * F, &ok);
    st->hb2 = alloc_floats(B * F, &ok);
    st->k_new = alloc_floats(B * KVD, &ok);
    st->v_new = alloc_floats(B * KVD, &ok);
    st->hidden = alloc_floats(B * E, &ok);
    st->pos = alloc_ints(B, &ok);
    st->cells = alloc_ints(B, &ok);
    st->run_off = alloc_ints(B + 1, &ok);
    c->out_rows = alloc_ints(B, &ok);
    c->seqbuf = fm_calloc(B ? B : 1, sizeof *c->seqbuf);
    if (c->seqbuf == NULL) ok = 0;
    c->next_pos = alloc_ints(3 * (size_t)p.n_seq_max, &ok);
    c->logits = alloc_floats((size_t)hp->n_vocab, &ok);
    c->logits_rows = 1;
    if (!ok) {
        s = fm_error(FM_STATUS_NO_MEMORY, "out of memory for a context of %u cells", p.n_ctx);
        goto fail;
    }
    /* each sequence's share of the cells, as llama.cpp judges it */
    if (hp->n_ctx_train > 0 && (p.n_ctx + p.n_seq_max - 1) / p.n_seq_max > (uint32_t)hp->n_ctx_train)
        fm_log(FM_LOG_WARN,
               "n_ctx %u for %u sequence%s is more than the %d positions this %s model was trained on: expect worse "
               "output past them",
               p.n_ctx, p.n_seq_max, p.n_seq_max == 1 ? "" : "s", hp->n_ctx_train, model->arch->name);
    fm_log(FM_LOG_INFO, "context: %u cells (%s KV cache, %.1f MiB), n_batch %u, %u sequence%s, %d threads, backend '%s'%s",
           p.n_ctx, p.kv_type == FM_KV_F16 ? "f16" : "f32",
           2.0 * hp->n_layer * (double)p.n_ctx * (double)KVD * (p.kv_type == FM_KV_F16 ? 2 : 4) / 1048576.0, p.n_batch,
           p.n_seq_max, p.n_seq_max == 1 ? "" : "s", p.n_threads, c->backend.iface.name,
           p.flags & FM_CONTEXT_BATCH_INVARIANT ? ", batch-invariant" : "");
    *out = c;
    return FM_STATUS_OK;
fail:
    fm_context_free(c);
    return s;
}

void fm_context_free(fm_context *c) {
    if (c == NULL) return;
    fm_backend_inst_release(&c->backend);
    fm_kv_release(&c->kv);
    fm_forward_state *st = &c->st;
    free(st->x), free(st->xb), free(st->xb2), free(st->q), free(st->att), free(st->hb), free(st->hb2);
    free(st->k_new), free(st->v_new), free(st->hidden);
    free(st->pos), free(st->cells), free(st->runs), free(st->run_off);
    free(c->out_rows), free(c->seqbuf), free(c->next_pos), free(c->rpos), free(c->placed), free(c->logit_row);
    free(c->logits);
    free(c->one.token), free(c->one.pos), free(c->one.seqs), free(c->one.logits);
    free(c);
}

const float *fm_context_logits(fm_context *c, int32_t i) {
    fm_error_clear();
    if (c == NULL) {
        fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_logits: context is NULL");
        return NULL;
    }
    const int32_t at = i < 0 ? i + c->n_last : i;
    if (c->n_last == 0 || at < 0 || at >= c->n_last || c->logit_row[at] < 0) {
        fm_error(FM_STATUS_INVALID_ARGUMENT, "no logits kept for token %d of the last batch (%d tokens)", i, c->n_last);
        return NULL;
    }
    return c->logits + (size_t)c->logit_row[at] * (size_t)c->model->hp.n_vocab;
}

uint32_t fm_context_n_past(const fm_context *c) { return c ? (uint32_t)(fm_kv_seq_pos_max(&c->kv, 0) + 1) : 0; }

uint32_t fm_context_n_ctx(const fm_context *c) { return c ? (uint32_t)c->kv.n_cells : 0; }

fm_status fm_context_set_flags(fm_context *c, uint32_t flags) {
    fm_error_clear();
    if (c == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_set_flags: context is NULL");
    return apply_flags(c, flags);
}

fm_status fm_context_set_n_threads(fm_context *c, int32_t n_threads) {
    fm_error_clear();
    if (c == NULL || n_threads < 0)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_set_n_threads: bad argument");
    if (n_threads == 0) n_threads = fm_cpu_count();
    if (n_threads > fm_thread_cap()) {
        fm_log(FM_LOG_WARN, "n_threads %d capped at %d (4 x the %d cores)", n_threads, fm_thread_cap(), fm_cpu_count());
        n_threads = fm_thread_cap();
    }
    if (c->backend.iface.set_n_threads == NULL) return FM_STATUS_OK;
    return c->backend.iface.set_n_threads(c->backend.ctx, n_threads);
}

static void l2_normalize(float *v, int64_t n) {
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += (double)v[i] * v[i];
    if (ss <= 0) return;
    const double inv = 1.0 / sqrt(ss);
    for (int64_t i = 0; i < n; i++) v[i] = (float)(v[i] * inv);
}

fm_status fm_context_embed(fm_context *c, const fm_token *tokens, size_t n_tokens, int32_t pooling, uint32_t flags,
                           float *out, size_t capacity, size_t *n_out) {
    fm_error_clear();
    if (c == NULL || tokens == NULL || n_out == NULL || (out == NULL && capacity > 0))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_embed: NULL argument");
    *n_out = 0;
    if (n_tokens == 0) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_embed: no tokens");
    if (flags & ~FM_EMBED_NORMALIZE) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_embed: unknown flags %#x", flags);
    const fm_hparams *hp = &c->model->hp;
    if (pooling == FM_POOLING_MODEL) pooling = hp->pooling;
    if (pooling < FM_POOLING_NONE || pooling > FM_POOLING_LAST)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_embed: unknown pooling %d", pooling);
    const size_t E = (size_t)hp->n_embd;
    const size_t need = pooling == FM_POOLING_NONE ? n_tokens * E : E;
    *n_out = need;
    if (capacity < need)
        return fm_error(FM_STATUS_BUFFER_TOO_SMALL, "fm_context_embed: the output needs %zu floats, %zu given", need,
                        capacity);
    if (n_tokens > (size_t)c->kv.n_cells)
        return fm_error(FM_STATUS_CONTEXT_FULL, "%zu tokens do not fit in a context of %d cells", n_tokens,
                        c->kv.n_cells);
    for (size_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
            return fm_error(FM_STATUS_INVALID_ARGUMENT, "token %d at index %zu is outside the vocabulary (0..%d)",
                            tokens[i], i, hp->n_vocab - 1);
    double *sum = pooling == FM_POOLING_MEAN ? fm_calloc(E, sizeof *sum) : NULL;
    if (pooling == FM_POOLING_MEAN && sum == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory");
    fm_kv_clear(&c->kv);
    c->n_last = 0;
    fm_status s;
    if ((s = fm_context_reserve(c, n_tokens))) {
        free(sum);
        *n_out = 0;
        return s;
    }
    const size_t B = (size_t)c->st.n_batch;
    fm_seqset seq0;
    memset(&seq0, 0, sizeof seq0);
    fm_seqset_add(&seq0, 0);
    int32_t n_placed = 0;
    for (size_t start = 0; start < n_tokens; start += B) {
        const size_t m = n_tokens - start < B ? n_tokens - start : B;
        for (size_t t = 0; t < m; t++) c->rpos[t] = (int32_t)(start + t), c->out_rows[t] = (int32_t)t, c->seqbuf[t] = seq0;
        s = fm_context_eval(c, tokens + start, c->rpos, c->seqbuf, (int32_t)m, (int32_t)m, NULL, c->st.hidden, c->placed,
                            &n_placed);
        if (s != FM_STATUS_OK) {
            fm_kv_clear(&c->kv);
            free(sum);
            *n_out = 0;
            return s;
        }
        const float *h = c->st.hidden;
        if (pooling == FM_POOLING_NONE) memcpy(out + start * E, h, m * E * sizeof *out);
        else if (pooling == FM_POOLING_CLS && start == 0) memcpy(out, h, E * sizeof *out);
        else if (pooling == FM_POOLING_LAST && start + m == n_tokens) memcpy(out, h + (m - 1) * E, E * sizeof *out);
        else if (pooling == FM_POOLING_MEAN)
            for (size_t t = 0; t < m; t++)
                for (size_t i = 0; i < E; i++) sum[i] += h[t * E + i];
    }
    if (sum != NULL) {
        for (size_t i = 0; i < E; i++) out[i] = (float)(sum[i] / (double)n_tokens);
        free(sum);
    }
    if (flags & FM_EMBED_NORMALIZE)
        for (size_t v = 0; v < need / E; v++) l2_normalize(out + v * E, (int64_t)E);
    /* a decoder's cache now holds the sequence; an encoder's means nothing later */
    if (!hp->causal) fm_kv_clear(&c->kv);
    return FM_STATUS_OK;
}
