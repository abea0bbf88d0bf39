/* Which tensors of a named mixture keep a higher type: llama.cpp's rules
 * for the targets libfm writes (docs/formats.md lists them), so that a
 * Q4_K_M made here has the per-tensor types a Q4_K_M from llama-quantize
 * has. Tensors are seen in file order; attn_v and ffn_down rules depend
 * on how many of their kind came before. */
#include <string.h>

#include "fm.h"
#include "fm_backend.h"
#include "../format/dtype.h"
#include "quantize.h"

int32_t fm_ftype_base_type(int32_t ftype, int *ok) {
    *ok = 1;
    switch (ftype) {
    case FM_FTYPE_ALL_F32: return FM_DTYPE_F32;
    case FM_FTYPE_F16: return FM_DTYPE_F16;
    case FM_FTYPE_BF16: return FM_DTYPE_BF16;
    case FM_FTYPE_Q4_0: return FM_DTYPE_Q4_0;
    case FM_FTYPE_Q4_1: return FM_DTYPE_Q4_1;
    case FM_FTYPE_Q5_0: return FM_DTYPE_Q5_0;
    case FM_FTYPE_Q5_1: return FM_DTYPE_Q5_1;
    case FM_FTYPE_Q8_0: return FM_DTYPE_Q8_0;
    case FM_FTYPE_Q2_K: return FM_DTYPE_Q2_K;
    case FM_FTYPE_Q3_K_S:
    case FM_FTYPE_Q3_K_M:
    case FM_FTYPE_Q3_K_L: return FM_DTYPE_Q3_K;
    case FM_FTYPE_Q4_K_S:
    case FM_FTYPE_Q4_K_M: return FM_DTYPE_Q4_K;
    case FM_FTYPE_Q5_K_S:
    case FM_FTYPE_Q5_K_M: return FM_DTYPE_Q5_K;
    case FM_FTYPE_Q6_K: return FM_DTYPE_Q6_K;
    case FM_FTYPE_IQ4_NL: return FM_DTYPE_IQ4_NL;
    case FM_FTYPE_IQ4_XS: return FM_DTYPE_IQ4_XS;
    default: *ok = 0; return 0;
    }
}

/* The layers that get more bits: the first and last eighth, and every
 * third one between. */
static int more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

static int has(const char *name, const char *part) { return strstr(name, part) != NULL; }

int32_t fm_quant_tensor_type(fm_quant_rules *r, const char *name, int64_t ne0, int32_t type) {
    const int32_t f = r->ftype;
    if (strcmp(name, "output.weight") == 0 || (!r->has_output && strcmp(name, "token_embd.weight") == 0)) {
        /* the output matrix: q8_0 if the type's block does not divide its rows, else q6_K (q8_0 stays) */
        if (r->falcon || fm_dtype_row_bytes((uint32_t)type, ne0) == 0) return FM_DTYPE_Q8_0;
        return type == FM_DTYPE_Q8_0 ? type : FM_DTYPE_Q6_K;
    }
    if (strcmp(name, "token_embd.weight") == 0) return type;
    if (has(name, "attn_v.weight")) {
        const int i = r->i_attention_wv++;
        if (f == FM_FTYPE_Q2_K) return r->n_gqa >= 4 ? FM_DTYPE_Q4_K : FM_DTYPE_Q3_K;
        if (f == FM_FTYPE_Q3_K_M) return i < 2 ? FM_DTYPE_Q5_K : FM_DTYPE_Q4_K;
        if (f == FM_FTYPE_Q3_K_L) return FM_DTYPE_Q5_K;
        if ((f == FM_FTYPE_IQ4_NL || f == FM_FTYPE_IQ4_XS) && r->n_gqa >= 4) return FM_DTYPE_Q5_K;
        if ((f == FM_FTYPE_Q4_K_M || f == FM_FTYPE_Q5_K_M) && more_bits(i, r->n_attention_wv)) return FM_DTYPE_Q6_K;
        if (f == FM_FTYPE_Q4_K_S && i < 4) return FM_DTYPE_Q5_K;
        return type;
    }
    if (has(name, "ffn_down")) {
        const int i = r->i_ffn_down++, n = r->n_layer;
        switch (f) {
        case FM_FTYPE_Q2_K: return FM_DTYPE_Q3_K;
        case FM_FTYPE_Q3_K_M:
            return i < n / 16 ? FM_DTYPE_Q5_K : !r->falcon || more_bits(i, n) ? FM_DTYPE_Q4_K : FM_DTYPE_Q3_K;
        case FM_FTYPE_Q3_K_L: return r->falcon ? FM_DTYPE_Q4_K : FM_DTYPE_Q5_K;
        case FM_FTYPE_Q4_K_M:
            if (r->falcon) return i < n / 16 ? FM_DTYPE_Q6_K : more_bits(i, n) ? FM_DTYPE_Q5_K : FM_DTYPE_Q4_K;
            return more_bits(i, n) ? FM_DTYPE_Q6_K : type;
        case FM_FTYPE_IQ4_NL:
        case FM_FTYPE_IQ4_XS: return i < n / 8 ? FM_DTYPE_Q5_K : type;
        case FM_FTYPE_Q5_K_M: return more_bits(i, n) ? FM_DTYPE_Q6_K : type;
        case FM_FTYPE_Q4_K_S: return !r->falcon && i < n / 8 ? FM_DTYPE_Q5_K : type;
        default: return type;
        }
    }
    if (has(name, "attn_output.weight")) {
        if (r->falcon) return f == FM_FTYPE_Q3_K_L ? FM_DTYPE_Q4_K : type;
        if (f == FM_FTYPE_Q2_K) return FM_DTYPE_Q3_K;
        if (f == FM_FTYPE_Q3_K_M) return FM_DTYPE_Q4_K;
        if (f == FM_FTYPE_Q3_K_L) return FM_DTYPE_Q5_K;
        return type;
    }
    if (has(name, "attn_qkv.weight")) {
        /* counted in n_attention_wv but, as in llama.cpp, not in i_attention_wv */
        if (f == FM_FTYPE_Q3_K_M || f == FM_FTYPE_Q3_K_L) return FM_DTYPE_Q4_K;
        if (f == FM_FTYPE_Q4_K_M) return FM_DTYPE_Q5_K;
        if (f == FM_FTYPE_Q5_K_M) return FM_DTYPE_Q6_K;
        return type;
    }
    return type;
}

int32_t fm_quant_fallback_type(int32_t type, int64_t ne0) {
    int32_t alt;
    switch (type) {
    case FM_DTYPE_Q2_K:
    case FM_DTYPE_Q3_K:
    case FM_DTYPE_IQ4_XS: alt = FM_DTYPE_IQ4_NL; break;
    case FM_DTYPE_Q4_K: alt = FM_DTYPE_Q5_0; break;
    case FM_DTYPE_Q5_K: alt = FM_DTYPE_Q5_1; break;
    case FM_DTYPE_Q6_K: alt = FM_DTYPE_Q8_0; break;
    default: alt = FM_DTYPE_F16; break;
    }
    return fm_dtype_row_bytes((uint32_t)alt, ne0) != 0 ? alt : FM_DTYPE_F16;
}
