/* A context: one KV cache, scratch buffers and a backend over a shared,
 * read-only model. Decoding appends tokens at the next free positions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/params.h"
#include "../core/threadpool.h"
#include "../format/dtype.h"
#include "../model/model.h"

struct fm_context {
    const fm_model *model;
    fm_backend_inst backend;
    fm_forward_state st;
    uint32_t n_past;
    uint32_t flags;      /* FM_CONTEXT_* last set */
    float *logits;       /* rows of n_vocab */
    size_t logits_rows;  /* allocated rows */
    int32_t n_last;      /* tokens in the last decoded batch */
    int32_t first_kept;  /* index of the first token whose logits are kept */
};

fm_context_params fm_context_default_params(void) {
    fm_context_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.n_batch = 512;
    return p;
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

static float *alloc_floats(size_t n, int *ok) {
    float *p = calloc(n ? n : 1, sizeof *p);
    if (p == NULL) *ok = 0;
    return p;
}

fm_status fm_context_new(fm_model *model, const fm_context_params *params, fm_context **out) {
    fm_error_clear();
    if (out == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_new: out is NULL");
    *out = NULL;
    if (model == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_new: model is NULL");
    fm_context_params p = fm_context_default_params();
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

    fm_context *c = calloc(1, sizeof *c);
    if (c == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a context");
    c->model = model;
    fm_backend_init_params bp = {sizeof bp, p.n_threads, (int32_t)p.n_ctx, (int32_t)p.n_batch};
    if ((s = fm_backend_inst_init(&c->backend, p.backend ? p.backend : "cpu", &bp))) {
        free(c);
        return s;
    }
    if ((s = check_backend(&c->backend, model))) goto fail;
    if (hp->n_swa > 0 && (uint32_t)hp->n_swa < p.n_ctx && c->backend.iface.abi_version < 2) {
        s = fm_error(FM_STATUS_UNSUPPORTED,
                     "backend '%s' (ABI 1) has no sliding-window attention, which this %s model needs beyond %d positions",
                     c->backend.iface.name, model->arch->name, hp->n_swa);
        goto fail;
    }

    fm_forward_state *st = &c->st;
    const size_t B = p.n_batch, E = (size_t)hp->n_embd, F = (size_t)hp->n_ff;
    const size_t QD = (size_t)hp->n_head * (size_t)hp->head_dim;
    const size_t KVD = (size_t)hp->n_head_kv * (size_t)hp->head_dim;
    int ok = 1;
    st->backend = &c->backend;
    st->n_ctx = (int32_t)p.n_ctx;
    st->n_batch = (int32_t)p.n_batch;
    st->k_cache = alloc_floats((size_t)hp->n_layer * p.n_ctx * KVD, &ok);
    st->v_cache = alloc_floats((size_t)hp->n_layer * p.n_ctx * KVD, &ok);
    st->x = alloc_floats(B * E, &ok);
    st->xb = alloc_floats(B * (E > QD ? E : QD), &ok);
    st->xb2 = alloc_floats(B * E, &ok);
    st->q = alloc_floats(B * QD, &ok);
    st->att = alloc_floats(B * QD, &ok);
    st->hb = alloc_floats(B * F, &ok);
    st->hb2 = alloc_floats(B * F, &ok);
    st->pos = calloc(B, sizeof *st->pos);
    c->logits = alloc_floats((size_t)hp->n_vocab, &ok);
    st->hidden = alloc_floats(B * E, &ok);
    c->logits_rows = 1;
    if (!ok || st->pos == NULL) {
        s = fm_error(FM_STATUS_NO_MEMORY, "out of memory for a context of %u positions", p.n_ctx);
        goto fail;
    }
    *out = c;
    return FM_STATUS_OK;
fail:
    fm_context_free(c);
    return s;
}

void fm_context_free(fm_context *c) {
    if (c == NULL) return;
    fm_backend_inst_release(&c->backend);
    fm_forward_state *st = &c->st;
    free(st->k_cache);
    free(st->v_cache);
    free(st->k_new);
    free(st->v_new);
    free(st->x);
    free(st->xb);
    free(st->xb2);
    free(st->q);
    free(st->att);
    free(st->hb);
    free(st->hb2);
    free(st->pos);
    free(st->hidden);
    free(c->logits);
    free(c);
}

fm_status fm_context_decode(fm_context *c, const fm_token *tokens, size_t n_tokens, uint32_t logits_mode) {
    fm_error_clear();
    if (c == NULL || (tokens == NULL && n_tokens > 0))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_decode: NULL argument");
    if (logits_mode != FM_LOGITS_LAST && logits_mode != FM_LOGITS_ALL)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_decode: unknown logits mode %u", logits_mode);
    if (n_tokens == 0) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_decode: no tokens");
    if (!c->model->hp.causal)
        return fm_error(FM_STATUS_UNSUPPORTED, "%s is an encoder model: it has no logits (use fm_context_embed)",
                        c->model->arch->name);
    const uint32_t n_ctx = (uint32_t)c->st.n_ctx;
    if (n_tokens > n_ctx - c->n_past)
        return fm_error(FM_STATUS_CONTEXT_FULL,
                        "%zu tokens do not fit in the context: %u of %u positions are used", n_tokens, c->n_past,
                        n_ctx);
    const int32_t n_vocab = c->model->hp.n_vocab;
    for (size_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return fm_error(FM_STATUS_INVALID_ARGUMENT, "token %d at index %zu is outside the vocabulary (0..%d)",
                            tokens[i], i, n_vocab - 1);
    const size_t rows = logits_mode == FM_LOGITS_ALL ? n_tokens : 1;
    if (rows > c->logits_rows) {
        float *p = realloc(c->logits, rows * (size_t)n_vocab * sizeof *p);
        if (p == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for %zu rows of logits", rows);
        c->logits = p;
        c->logits_rows = rows;
    }
    const int32_t first_kept = (int32_t)(n_tokens - rows);
    /* Run in batches; logits land at row (token index - first_kept). A
     * failure leaves n_past as it was, so the cache is effectively unchanged. */
    c->n_last = 0;
    for (size_t start = 0; start < n_tokens; start += (size_t)c->st.n_batch) {
        size_t m = n_tokens - start < (size_t)c->st.n_batch ? n_tokens - start : (size_t)c->st.n_batch;
        int32_t first_out = first_kept > (int32_t)start ? first_kept - (int32_t)start : 0;
        if (first_out > (int32_t)m) first_out = (int32_t)m;
        float *dst = first_out < (int32_t)m
                         ? c->logits + (size_t)((int32_t)start + first_out - first_kept) * (size_t)n_vocab
                         : NULL;
        fm_status s = c->model->arch->forward(c->model, &c->st, tokens + start, (int32_t)m,
                                              (int32_t)(c->n_past + start), first_out, dst, NULL);
        if (s != FM_STATUS_OK) return s;
    }
    c->n_past += (uint32_t)n_tokens;
    c->n_last = (int32_t)n_tokens;
    c->first_kept = first_kept;
    return FM_STATUS_OK;
}

const float *fm_context_logits(fm_context *c, int32_t i) {
    fm_error_clear();
    if (c == NULL) {
        fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_logits: context is NULL");
        return NULL;
    }
    if (i < 0) i += c->n_last;
    if (c->n_last == 0 || i < c->first_kept || i >= c->n_last) {
        fm_error(FM_STATUS_INVALID_ARGUMENT, "no logits kept for token %d of the last batch (%d tokens, kept from %d)",
                 i, c->n_last, c->first_kept);
        return NULL;
    }
    return c->logits + (size_t)(i - c->first_kept) * (size_t)c->model->hp.n_vocab;
}

uint32_t fm_context_n_past(const fm_context *c) { return c ? c->n_past : 0; }

uint32_t fm_context_n_ctx(const fm_context *c) { return c ? (uint32_t)c->st.n_ctx : 0; }

fm_status fm_context_truncate(fm_context *c, uint32_t n_keep) {
    fm_error_clear();
    if (c == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_truncate: context is NULL");
    if (n_keep > c->n_past)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "cannot keep %u positions: only %u are used", n_keep, c->n_past);
    c->n_past = n_keep;
    c->n_last = 0;
    return FM_STATUS_OK;
}

/* Replaces the (empty) KV cache by one of halves or of floats. */
static fm_status set_kv_f16(fm_context *c, int f16) {
    fm_forward_state *st = &c->st;
    if (st->kv_f16 == f16) return FM_STATUS_OK;
    if (c->n_past > 0)
        return fm_error(FM_STATUS_INVALID_ARGUMENT,
                        "fm_context_set_flags: the KV cache's type can change only while the context is empty "
                        "(it holds %u tokens)", c->n_past);
    if (f16 && c->backend.iface.abi_version < 3)
        return fm_error(FM_STATUS_UNSUPPORTED, "backend '%s' (ABI %u) has no F16 KV cache", c->backend.iface.name,
                        c->backend.iface.abi_version);
    const fm_hparams *hp = &c->model->hp;
    const size_t KVD = (size_t)hp->n_head_kv * (size_t)hp->head_dim;
    const size_t elems = (size_t)hp->n_layer * (size_t)st->n_ctx * KVD, esize = f16 ? sizeof(uint16_t) : sizeof(float);
    const size_t scratch = f16 ? (size_t)st->n_batch * KVD : 0;
    /* calloc: pages the cache never reaches are never touched */
    void *k = calloc(elems ? elems : 1, esize), *v = calloc(elems ? elems : 1, esize);
    float *kn = scratch ? calloc(scratch, sizeof *kn) : NULL, *vn = scratch ? calloc(scratch, sizeof *vn) : NULL;
    if (k == NULL || v == NULL || (scratch && (kn == NULL || vn == NULL))) {
        free(k), free(v), free(kn), free(vn);
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a KV cache of %u positions", st->n_ctx);
    }
    free(st->k_cache), free(st->v_cache), free(st->k_new), free(st->v_new);
    st->k_cache = k, st->v_cache = v, st->k_new = kn, st->v_new = vn;
    st->kv_f16 = f16;
    return FM_STATUS_OK;
}

fm_status fm_context_set_flags(fm_context *c, uint32_t flags) {
    fm_error_clear();
    if (c == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_set_flags: context is NULL");
    if (flags & ~(FM_CONTEXT_BATCH_INVARIANT | FM_CONTEXT_KV_F16))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_set_flags: unknown bits %#x", flags);
    const uint32_t bf = flags & FM_CONTEXT_BATCH_INVARIANT ? FM_BACKEND_BATCH_INVARIANT : 0u;
    const uint32_t old_bf = c->flags & FM_CONTEXT_BATCH_INVARIANT ? FM_BACKEND_BATCH_INVARIANT : 0u;
    fm_status s;
    if (c->backend.iface.set_flags == NULL) {
        if (bf)
            return fm_error(FM_STATUS_UNSUPPORTED, "backend '%s' cannot make results batch-invariant",
                            c->backend.iface.name);
    } else if ((s = c->backend.iface.set_flags(c->backend.ctx, bf))) {
        return s;
    }
    if ((s = set_kv_f16(c, (flags & FM_CONTEXT_KV_F16) != 0))) {
        /* the backend accepted its old flags before, so it takes them back */
        if (c->backend.iface.set_flags != NULL) c->backend.iface.set_flags(c->backend.ctx, old_bf);
        return s;
    }
    c->flags = flags;
    return FM_STATUS_OK;
}

fm_status fm_context_set_n_threads(fm_context *c, int32_t n_threads) {
    fm_error_clear();
    if (c == NULL || n_threads < 0)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_set_n_threads: bad argument");
    if (n_threads == 0) n_threads = fm_cpu_count();
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
    if (n_tokens > (size_t)c->st.n_ctx)
        return fm_error(FM_STATUS_CONTEXT_FULL, "%zu tokens do not fit in a context of %d positions", n_tokens,
                        c->st.n_ctx);
    for (size_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
            return fm_error(FM_STATUS_INVALID_ARGUMENT, "token %d at index %zu is outside the vocabulary (0..%d)",
                            tokens[i], i, hp->n_vocab - 1);
    double *sum = pooling == FM_POOLING_MEAN ? calloc(E, sizeof *sum) : NULL;
    if (pooling == FM_POOLING_MEAN && sum == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory");
    c->n_past = 0;
    c->n_last = 0;
    const size_t B = (size_t)c->st.n_batch;
    for (size_t start = 0; start < n_tokens; start += B) {
        const size_t m = n_tokens - start < B ? n_tokens - start : B;
        fm_status s = c->model->arch->forward(c->model, &c->st, tokens + start, (int32_t)m, (int32_t)start, 0, NULL,
                                              c->st.hidden);
        if (s != FM_STATUS_OK) {
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
    c->n_past = hp->causal ? (uint32_t)n_tokens : 0;
    return FM_STATUS_OK;
}
