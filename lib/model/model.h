/* The loaded model: hyper-parameters, weights bound to tensors of the mapped
 * file, the tokenizer, and the architecture that runs them. */
#ifndef FM_MODEL_MODEL_H
#define FM_MODEL_MODEL_H

#include "../backend/backend.h"
#include "../format/model_file.h"
#include "../kv/kv_cache.h"
#include "../tokenizer/vocab.h"
#include "fm_backend.h"

typedef enum fm_norm_kind { FM_NORM_RMS = 0, FM_NORM_LAYER = 1 } fm_norm_kind;

typedef struct fm_hparams {
    int32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx_train;
    int32_t n_rot;     /* dims of each head RoPE rotates; 0: no RoPE */
    int32_t rope_mode; /* fm_rope_mode */
    float rope_base;
    float rope_scale;  /* linear position scaling: positions are multiplied by it */
    int32_t norm;      /* fm_norm_kind */
    float norm_eps;
    int32_t causal;    /* 0: an encoder, every token sees every other */
    int32_t n_swa;     /* sliding attention window; 0: none */
    int32_t pooling;   /* fm_pooling the model asks for */
} fm_hparams;

/* A vector of a layer (norm weight, bias): NULL where the model has none. */
typedef const float *fm_vec;

typedef struct fm_layer {
    fm_vec attn_norm, attn_norm_b;
    fm_weight wq, wk, wv; /* {n_embd, n_head*head_dim} etc.; views of attn_qkv where fused */
    fm_vec bq, bk, bv;
    fm_weight wo; /* {n_head*head_dim, n_embd} */
    fm_vec bo;
    fm_vec attn_out_norm, attn_out_norm_b; /* post-norm (bert) */
    fm_vec ffn_norm, ffn_norm_b;
    fm_weight w_gate; /* data NULL: no gate, the FFN is down(gelu(up x + b)) + b */
    fm_weight w_up, w_down;
    fm_vec b_up, b_down;
    fm_vec out_norm, out_norm_b; /* post-norm (bert) */
} fm_layer;

/* What a context keeps for the forward pass; the model's architecture code
 * reads and writes it, the context owns it. */
typedef struct fm_forward_state {
    fm_backend_inst *backend;
    int32_t n_batch;
    fm_kv_cache *kv;
    /* the batch being evaluated, set by the context: positions, the cells
     * its keys and values go to (contiguous: cells[i] == cells[0] + i),
     * the cells each token sees (fm_kv_runs), and the rows whose outputs
     * are kept, ascending */
    int32_t *pos, *cells;
    int cells_contig;
    int32_t *runs, *run_off;
    size_t runs_cap;
    const int32_t *out_rows;
    int32_t n_out;
    /* scratch, n_batch rows each; k_new and v_new n_head_kv*head_dim wide */
    float *x, *xb, *xb2, *q, *att, *hb, *hb2, *k_new, *v_new;
    float *hidden; /* n_batch rows of final hidden states, for embeddings */
    /* checked between layers; nonzero stops the pass (FM_STATUS_ABORTED) */
    fm_abort_fn abort;
    void *abort_user;
} fm_forward_state;

typedef struct fm_arch fm_arch;

struct fm_model {
    fm_model_file *file;
    const fm_arch *arch;
    fm_hparams hp;
    fm_weight tok_embd;  /* {n_embd, n_vocab} */
    fm_weight pos_embd;  /* {n_embd, n_ctx_train}; data NULL without learned positions */
    fm_weight type_embd; /* {n_embd, n_types}; data NULL without token types */
    fm_vec embd_norm, embd_norm_b;
    fm_vec output_norm, output_norm_b;
    fm_weight output; /* {n_embd, n_vocab}; tok_embd when tied; data NULL for encoders */
    fm_layer *layers;
    fm_tokenizer *tok;
    int64_t n_params, n_bytes;
    uint64_t fingerprint;    /* hyper-parameters and tensor directory, for saved states */
    char *names;             /* NUL-terminated metadata keys, then tensor names */
    const char **name_index; /* n_meta + n_tensors pointers into names */
};

/* One architecture: how to read its hyper-parameters and bind its weights,
 * and its forward pass. */
struct fm_arch {
    const char *name;
    fm_status (*load)(fm_model *m);
    /* Evaluates ids[0..n) at st->pos into st->cells and, for the rows
     * st->out_rows, writes logits (rows of n_vocab) if `logits` is not
     * NULL and the final hidden states (rows of n_embd, after the final
     * norm) if `hidden` is not NULL. */
    fm_status (*forward)(const fm_model *m, fm_forward_state *st, const fm_token *ids, int32_t n, float *logits,
                         float *hidden);
};

extern const fm_arch fm_arch_llama, fm_arch_qwen2, fm_arch_phi3, fm_arch_gpt2, fm_arch_bert;

/* Binds the llama layout (separate q/k/v, biases optional unless
 * `qkv_bias`, SwiGLU with separate gate and up), shared by qwen2. */
fm_status fm_llama_bind(fm_model *m, int qkv_bias);

/* The forward pass of the pre-norm decoders (llama, qwen2, phi3, gpt2):
 * embeddings (+ learned positions), then per layer x += attn(norm(x)) and
 * x += ffn(norm(x)), a final norm and the LM head. */
fm_status fm_forward_decoder(const fm_model *m, fm_forward_state *st, const fm_token *ids, int32_t n, float *logits,
                             float *hidden);

/* Builds a model over an opened file, which it takes over (closed on
 * failure too); `path` names it in messages and locates a llama2.c
 * tokenizer.bin. fm_model_load() is this after fm_model_file_open(). */
fm_status fm_model_from_file(fm_model_file *mf, const char *path, const fm_model_params *params, fm_model **out);

/* Binds tensor `name` as a weight of `cols` x `rows` (rows 1 for vectors);
 * errors name the tensor and what was wrong. */
fm_status fm_model_bind(fm_model *m, fm_weight *w, const char *name, int64_t cols, int64_t rows);
/* Same, for tensor "blk.<layer>.<name>". */
fm_status fm_model_bind_layer(fm_model *m, fm_weight *w, int layer, const char *name, int64_t cols, int64_t rows);

/* Same, but a tensor the file lacks leaves w zeroed (data NULL). */
fm_status fm_model_bind_opt(fm_model *m, fm_weight *w, const char *name, int64_t cols, int64_t rows);
/* A vector tensor "blk.<layer>.<name>" (layer -1: no prefix) of n floats; NULL in *v if
 * absent and not required. */
fm_status fm_model_bind_vec(fm_model *m, fm_vec *v, int layer, const char *name, int64_t n, int required);
/* Allocates m->layers for hp.n_layer blocks. */
fm_status fm_model_alloc_layers(fm_model *m);
/* The decoders' embedding and head: token_embd, output_norm (with its bias
 * if norm_bias), output.weight or, where absent, token_embd (tied); then
 * allocates the layers. */
fm_status fm_model_bind_head(fm_model *m, int norm_bias);
/* Rows [first, first + rows) of w as a weight of its own (fused QKV, gate/up). */
fm_weight fm_weight_rows(const fm_weight *w, int64_t first, int64_t rows);

/* Reads the hyper-parameters every architecture shares (embedding length,
 * blocks, FF length, heads, context, RoPE base/dimensions/linear scaling,
 * norm epsilon of the given kind) and checks they fit together; n_vocab
 * from token_embd.weight. */
fm_status fm_model_read_hparams(fm_model *m, fm_norm_kind norm);

/* Reads "<arch>.<suffix>" as u32/f32; `required` keys that are missing are an error. */
fm_status fm_model_key_u32(const fm_model *m, const char *suffix, int required, int32_t *out);
fm_status fm_model_key_f32(const fm_model *m, const char *suffix, int required, float *out);

#endif
