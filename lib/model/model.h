/* The loaded model: hyper-parameters, weights bound to tensors of the mapped
 * file, the tokenizer, and the architecture that runs them. */
#ifndef FM_MODEL_MODEL_H
#define FM_MODEL_MODEL_H

#include "../backend/backend.h"
#include "../format/model_file.h"
#include "../tokenizer/vocab.h"
#include "fm_backend.h"

typedef struct fm_hparams {
    int32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx_train;
    int32_t n_rot;   /* dims of each head RoPE rotates */
    int32_t rope_mode;
    float rope_base;
    float norm_eps;
} fm_hparams;

typedef struct fm_layer {
    fm_weight attn_norm; /* {n_embd} */
    fm_weight wq;        /* {n_embd, n_head*head_dim} */
    fm_weight wk, wv;    /* {n_embd, n_head_kv*head_dim} */
    fm_weight wo;        /* {n_head*head_dim, n_embd} */
    fm_weight ffn_norm;  /* {n_embd} */
    fm_weight w_gate;    /* {n_embd, n_ff} */
    fm_weight w_up;      /* {n_embd, n_ff} */
    fm_weight w_down;    /* {n_ff, n_embd} */
} fm_layer;

/* What a context keeps for the forward pass; the model's architecture code
 * reads and writes it, the context owns it. */
typedef struct fm_forward_state {
    fm_backend_inst *backend;
    int32_t n_ctx, n_batch;
    float *k_cache, *v_cache; /* [n_layer][n_ctx][n_head_kv*head_dim] */
    /* scratch, n_batch rows each */
    float *x, *xb, *xb2, *q, *att, *hb, *hb2;
    int32_t *pos;
} fm_forward_state;

typedef struct fm_arch fm_arch;

struct fm_model {
    fm_model_file *file;
    const fm_arch *arch;
    fm_hparams hp;
    fm_weight tok_embd;    /* {n_embd, n_vocab} */
    fm_weight output_norm; /* {n_embd} */
    fm_weight output;      /* {n_embd, n_vocab}; tok_embd when tied */
    fm_layer *layers;
    fm_tokenizer *tok;
    int64_t n_params, n_bytes;
};

/* One architecture: how to read its hyper-parameters and bind its weights,
 * and its forward pass. */
struct fm_arch {
    const char *name;
    fm_status (*load)(fm_model *m);
    /* Evaluates ids[0..n) at positions n_past.. and writes logits for the
     * tokens first_out..n-1 to logits (rows of n_vocab). */
    fm_status (*forward)(const fm_model *m, fm_forward_state *st, const fm_token *ids, int32_t n, int32_t n_past,
                         int32_t first_out, float *logits);
};

extern const fm_arch fm_arch_llama;

/* Binds tensor `name` as a weight of `cols` x `rows` (rows 1 for vectors);
 * errors name the tensor and what was wrong. */
fm_status fm_model_bind(fm_model *m, fm_weight *w, const char *name, int64_t cols, int64_t rows);
/* Same, for tensor "blk.<layer>.<name>". */
fm_status fm_model_bind_layer(fm_model *m, fm_weight *w, int layer, const char *name, int64_t cols, int64_t rows);

/* Reads "<arch>.<suffix>" as u32/f32; `required` keys that are missing are an error. */
fm_status fm_model_key_u32(const fm_model *m, const char *suffix, int required, int32_t *out);
fm_status fm_model_key_f32(const fm_model *m, const char *suffix, int required, float *out);

#endif
