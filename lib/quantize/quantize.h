/* The quantizer's parts: row quantizers per weight type (row_quant.c) and
 * the per-tensor type rules of the named mixtures (rules.c); quantize.c
 * drives them over a file. */
#ifndef FM_QUANTIZE_QUANTIZE_H
#define FM_QUANTIZE_QUANTIZE_H

#include <stdint.h>

/* n values (a multiple of the type's block) to `dtype` (an fm_dtype: f32,
 * f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_K..q6_K, iq4_nl, iq4_xs) at
 * out, as llama.cpp's reference quantizers do. Returns 0 for a type it
 * cannot make or an n off the block. */
int fm_quantize_row(int32_t dtype, const float *x, int64_t n, uint8_t *out);

/* What the mixture rules look at, counted over the file as llama.cpp
 * counts it (tensors in file order). */
typedef struct fm_quant_rules {
    int32_t ftype;     /* fm_ftype */
    int falcon;        /* the falcon architecture (its own ffn_down rules) */
    int n_gqa;         /* query heads per KV head */
    int n_layer;
    int has_output;    /* an output.weight tensor exists (else token_embd is the output) */
    int n_attention_wv, i_attention_wv; /* attn_v / attn_qkv tensors, and how many seen */
    int i_ffn_down;
} fm_quant_rules;

/* The base weight type of a target (q4_K for Q4_K_M), 0 with *ok = 0 for
 * an unknown ftype. */
int32_t fm_ftype_base_type(int32_t ftype, int *ok);

/* The type the mixture gives tensor `name` (rows of ne0, base type `type`),
 * advancing the rule counters; the caller then checks the row length. */
int32_t fm_quant_tensor_type(fm_quant_rules *r, const char *name, int64_t ne0, int32_t type);

/* A type whose block divides a row of ne0 elements, for `type` whose does
 * not (llama.cpp's fallbacks: q4_K -> q5_0, q6_K -> q8_0, ..., else f16). */
int32_t fm_quant_fallback_type(int32_t type, int64_t ne0);

#endif
