/* The llama architecture (Llama 1/2, TinyLlama, llama2.c's models):
 * pre-RMSNorm blocks of grouped-query attention with RoPE and a SwiGLU
 * feed-forward, a final RMSNorm and a tied or separate output matrix.
 * Every step goes through the context's backend. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "model.h"

static fm_status llama_load(fm_model *m) {
    fm_hparams *hp = &m->hp;
    fm_status s;
    if ((s = fm_model_key_u32(m, "embedding_length", 1, &hp->n_embd)) ||
        (s = fm_model_key_u32(m, "block_count", 1, &hp->n_layer)) ||
        (s = fm_model_key_u32(m, "feed_forward_length", 1, &hp->n_ff)) ||
        (s = fm_model_key_u32(m, "attention.head_count", 1, &hp->n_head)))
        return s;
    hp->n_head_kv = hp->n_head;
    hp->n_ctx_train = 2048;
    hp->rope_base = 10000.0f;
    hp->norm_eps = 1e-5f;
    if ((s = fm_model_key_u32(m, "attention.head_count_kv", 0, &hp->n_head_kv)) ||
        (s = fm_model_key_u32(m, "context_length", 0, &hp->n_ctx_train)) ||
        (s = fm_model_key_f32(m, "rope.freq_base", 0, &hp->rope_base)) ||
        (s = fm_model_key_f32(m, "attention.layer_norm_rms_epsilon", 0, &hp->norm_eps)))
        return s;
    if (hp->n_embd <= 0 || hp->n_layer <= 0 || hp->n_layer > 4096 || hp->n_ff <= 0 || hp->n_head <= 0 ||
        hp->n_head_kv <= 0 || hp->n_head % hp->n_head_kv != 0 || hp->n_embd % hp->n_head != 0 ||
        !(hp->norm_eps >= 0) || !(hp->rope_base > 0))
        return fm_error(FM_STATUS_BAD_FORMAT,
                        "implausible llama hyper-parameters (embd %d, layers %d, ff %d, heads %d/%d, eps %g, rope base %g)",
                        hp->n_embd, hp->n_layer, hp->n_ff, hp->n_head, hp->n_head_kv, hp->norm_eps, hp->rope_base);
    hp->head_dim = hp->n_embd / hp->n_head;
    hp->n_rot = hp->head_dim;
    if ((s = fm_model_key_u32(m, "rope.dimension_count", 0, &hp->n_rot))) return s;
    if (hp->n_rot <= 0 || hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0)
        return fm_error(FM_STATUS_BAD_FORMAT, "rope.dimension_count %d does not fit head size %d", hp->n_rot,
                        hp->head_dim);
    hp->rope_mode = FM_ROPE_NORMAL;

    const fm_tensor_info *emb = fm_model_file_tensor(m->file, "token_embd.weight");
    if (emb == NULL) return fm_error(FM_STATUS_BAD_FORMAT, "model has no tensor 'token_embd.weight'");
    if (emb->ne[1] <= 0 || emb->ne[1] > (1 << 24))
        return fm_error(FM_STATUS_BAD_FORMAT, "token_embd.weight has %lld rows", (long long)emb->ne[1]);
    hp->n_vocab = (int32_t)emb->ne[1];

    const int64_t E = hp->n_embd, V = hp->n_vocab, F = hp->n_ff;
    const int64_t QD = (int64_t)hp->n_head * hp->head_dim, KVD = (int64_t)hp->n_head_kv * hp->head_dim;
    if ((s = fm_model_bind(m, &m->tok_embd, "token_embd.weight", E, V)) ||
        (s = fm_model_bind(m, &m->output_norm, "output_norm.weight", E, 1)))
        return s;
    if (fm_model_file_tensor(m->file, "output.weight") != NULL) {
        if ((s = fm_model_bind(m, &m->output, "output.weight", E, V))) return s;
    } else {
        m->output = m->tok_embd; /* tied */
    }
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (m->layers == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for %d layers", hp->n_layer);
    for (int l = 0; l < hp->n_layer; l++) {
        fm_layer *L = &m->layers[l];
        if ((s = fm_model_bind_layer(m, &L->attn_norm, l, "attn_norm.weight", E, 1)) ||
            (s = fm_model_bind_layer(m, &L->wq, l, "attn_q.weight", E, QD)) ||
            (s = fm_model_bind_layer(m, &L->wk, l, "attn_k.weight", E, KVD)) ||
            (s = fm_model_bind_layer(m, &L->wv, l, "attn_v.weight", E, KVD)) ||
            (s = fm_model_bind_layer(m, &L->wo, l, "attn_output.weight", QD, E)) ||
            (s = fm_model_bind_layer(m, &L->ffn_norm, l, "ffn_norm.weight", E, 1)) ||
            (s = fm_model_bind_layer(m, &L->w_gate, l, "ffn_gate.weight", E, F)) ||
            (s = fm_model_bind_layer(m, &L->w_up, l, "ffn_up.weight", E, F)) ||
            (s = fm_model_bind_layer(m, &L->w_down, l, "ffn_down.weight", F, E)))
            return s;
    }
    return FM_STATUS_OK;
}

/* Stops the forward pass at the first failing op, naming it. */
#define OP(call)                                                                         \
    do {                                                                                 \
        fm_status op_status_ = (call);                                                   \
        if (op_status_ != FM_STATUS_OK)                                                  \
            return fm_last_error()[0] ? op_status_                                       \
                                      : fm_error(op_status_, "backend op failed: %s", #call); \
    } while (0)

static fm_status llama_forward(const fm_model *m, fm_forward_state *st, const fm_token *ids, int32_t n,
                               int32_t n_past, int32_t first_out, float *logits) {
    const fm_hparams *hp = &m->hp;
    const fm_backend_iface *be = &st->backend->iface;
    void *bc = st->backend->ctx;
    const int32_t E = hp->n_embd, D = hp->head_dim, F = hp->n_ff;
    const int32_t QD = hp->n_head * D, KVD = hp->n_head_kv * D;
    float *x = st->x;     /* [n][E] the residual stream */
    float *xb = st->xb;   /* [n][E] normalized input of a sub-layer */
    float *xb2 = st->xb2; /* [n][E] output of a sub-layer */
    float *q = st->q;     /* [n][QD] */
    float *att = st->att; /* [n][QD] attention output */
    float *hb = st->hb;   /* [n][F] gate, then silu(gate)*up */
    float *hb2 = st->hb2; /* [n][F] up */
    for (int32_t i = 0; i < n; i++) st->pos[i] = n_past + i;

    /* token embeddings */
    OP(be->get_rows(bc, &m->tok_embd, ids, n, x));

    for (int32_t l = 0; l < hp->n_layer; l++) {
        const fm_layer *L = &m->layers[l];
        float *kc = st->k_cache + (size_t)l * (size_t)st->n_ctx * (size_t)KVD; /* [n_ctx][KVD] */
        float *vc = st->v_cache + (size_t)l * (size_t)st->n_ctx * (size_t)KVD;
        float *k_new = kc + (size_t)n_past * (size_t)KVD;
        float *v_new = vc + (size_t)n_past * (size_t)KVD;

        /* attention: rmsnorm, q/k/v projections (k, v straight into the cache), RoPE */
        OP(be->rmsnorm(bc, x, L->attn_norm.data, E, n, hp->norm_eps, xb));
        OP(be->matmul(bc, &L->wq, xb, n, q, QD));
        OP(be->matmul(bc, &L->wk, xb, n, k_new, KVD));
        OP(be->matmul(bc, &L->wv, xb, n, v_new, KVD));
        OP(be->rope(bc, q, n, hp->n_head, D, hp->n_rot, st->pos, hp->rope_base, hp->rope_mode));
        OP(be->rope(bc, k_new, n, hp->n_head_kv, D, hp->n_rot, st->pos, hp->rope_base, hp->rope_mode));

        /* softmax(q k^T / sqrt(D)) v over every cached position up to each token's own */
        fm_attention_args a = {sizeof a, n, hp->n_head, hp->n_head_kv, D, n_past + n, 1,
                               1.0f / sqrtf((float)D), q, kc, vc, KVD, st->pos, att};
        OP(be->attention(bc, &a));

        /* output projection and residual */
        OP(be->matmul(bc, &L->wo, att, n, xb2, E));
        OP(be->add(bc, x, xb2, (int64_t)n * E));

        /* feed-forward: rmsnorm, down(silu(gate(x)) * up(x)), residual */
        OP(be->rmsnorm(bc, x, L->ffn_norm.data, E, n, hp->norm_eps, xb));
        OP(be->matmul(bc, &L->w_gate, xb, n, hb, F));
        OP(be->matmul(bc, &L->w_up, xb, n, hb2, F));
        OP(be->swiglu(bc, hb, hb2, (int64_t)n * F, hb));
        OP(be->matmul(bc, &L->w_down, hb, n, xb2, E));
        OP(be->add(bc, x, xb2, (int64_t)n * E));
    }

    /* final norm and the LM head, only for the rows the caller keeps */
    const int32_t n_out = n - first_out;
    if (n_out <= 0) return FM_STATUS_OK;
    float *xo = x + (size_t)first_out * (size_t)E;
    OP(be->rmsnorm(bc, xo, m->output_norm.data, E, n_out, hp->norm_eps, xb));
    OP(be->matmul(bc, &m->output, xb, n_out, logits, hp->n_vocab));
    return FM_STATUS_OK;
}

const fm_arch fm_arch_llama = {"llama", llama_load, llama_forward};
