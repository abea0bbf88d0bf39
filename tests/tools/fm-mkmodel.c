/* fm-mkmodel: writes a llama-architecture GGUF with random weights of a
 * given shape and weight type, with the tokenizer of a vocabulary GGUF, so
 * speed and memory can be measured at sizes too large to ship. The files
 * are standard GGUF v3 that other readers (llama.cpp) load.
 *
 * A development tool, not an example: it links libfm's internal GGUF
 * reader and writer (the public API reads models and quantizes them, it
 * does not make them). Quantized types are written as f32 first and then
 * go through fm_model_quantize(), so their blocks are real quantizations
 * of the random weights, as a user's files are. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/half.h"
#include "format/dtype.h"
#include "format/gguf_write.h"
#include "format/model_file.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: fm-mkmodel -o OUT.gguf --vocab VOCAB.gguf [--preset NAME] [--type TYPE] [--seed S]\n"
            "                  [--embd E] [--layers L] [--heads H] [--kv-heads K] [--ff F] [--ctx C]\n"
            "                  [--rope-scale FACTOR]\n"
            "  --rope-scale F linear RoPE scaling (rope.scaling.type linear, factor F)\n"
            "  --vocab FILE   GGUF whose tokenizer.* metadata the model gets (e.g. ggml-vocab-llama-spm.gguf)\n"
            "  --preset NAME  tinyllama-1.1b (E 2048, L 22, H 32/4, F 5632, ctx 2048) or tiny (E 64, L 2, H 4/2, F 160)\n"
            "  --type TYPE    f32, f16 (default), bf16, or a quantized type for every matrix (token_embd\n"
            "                 and output too): q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k,\n"
            "                 iq4_nl, iq4_xs; or a mixture as llama-quantize names it (Q4_K_M, Q3_K_S, ...);\n"
            "                 norms stay f32\n"
            "Weights: N(0, 1/fan_in) (embeddings N(0, 0.25)), norms 1 + 0.1 N; quantized types are made\n"
            "from those values by fm_model_quantize (llama.cpp's reference quantizers).\n");
}

/* xoshiro256** seeded by splitmix64: fast and good enough for weights */
static uint64_t rs[4];

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_u64(void) {
    const uint64_t r = rotl(rs[1] * 5, 7) * 9, t = rs[1] << 17;
    rs[2] ^= rs[0], rs[3] ^= rs[1], rs[1] ^= rs[2], rs[0] ^= rs[3], rs[2] ^= t, rs[3] = rotl(rs[3], 45);
    return r;
}

static void seed_rng(uint64_t s) {
    for (int i = 0; i < 4; i++) {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        rs[i] = z ^ (z >> 31);
    }
}

/* approximately standard normal: a sum of four uniforms, scaled to unit variance */
static float normal(void) {
    const uint64_t r = next_u64();
    const float s = (float)(r & 0xFFFF) + (float)(r >> 16 & 0xFFFF) + (float)(r >> 32 & 0xFFFF) + (float)(r >> 48);
    return (s / 65536.0f - 2.0f) * 1.7320508f;
}

typedef struct type_name {
    const char *name;
    uint32_t dtype;
    int32_t ftype; /* general.file_type (llama.cpp's llama_ftype) for a file all of this type */
} type_name;

/* the types written directly; quantized ones go through fm_model_quantize */
static const type_name float_types[] = {{"f32", 0, FM_FTYPE_ALL_F32}, {"f16", 1, FM_FTYPE_F16}, {"bf16", 30, FM_FTYPE_BF16}};
/* one quantized type for every matrix (llama-quantize --pure) */
static const type_name pure_types[] = {{"q8_0", 8, FM_FTYPE_Q8_0},   {"q4_0", 2, FM_FTYPE_Q4_0},    {"q4_1", 3, FM_FTYPE_Q4_1},
                                       {"q5_0", 6, FM_FTYPE_Q5_0},   {"q5_1", 7, FM_FTYPE_Q5_1},    {"q2_k", 10, FM_FTYPE_Q2_K},
                                       {"q3_k", 11, FM_FTYPE_Q3_K_M}, {"q4_k", 12, FM_FTYPE_Q4_K_M}, {"q5_k", 13, FM_FTYPE_Q5_K_M},
                                       {"q6_k", 14, FM_FTYPE_Q6_K},  {"iq4_nl", 20, FM_FTYPE_IQ4_NL}, {"iq4_xs", 23, FM_FTYPE_IQ4_XS}};

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

/* One row of n values as f32, f16 or bf16 into out. */
static void encode_row(uint32_t dtype, const float *x, int64_t n, uint8_t *out) {
    if (dtype == 0) memcpy(out, x, (size_t)n * 4);
    else
        for (int64_t i = 0; i < n; i++) put16(out + 2 * i, dtype == 1 ? fm_f32_to_f16(x[i]) : fm_f32_to_bf16(x[i]));
}

typedef struct shape {
    int64_t embd, layers, heads, kv_heads, ff, ctx;
} shape;

typedef struct tensor {
    char name[64];
    int64_t ne[2];
    int n_dims;
    float std; /* 0: a norm (1 + 0.1 N) */
} tensor;

int main(int argc, char **argv) {
    const char *out = NULL, *vocab = NULL;
    shape sh = {64, 2, 4, 2, 160, 2048};
    uint32_t dtype = 1, block_type = 0; /* block_type: the quantized type whose block the shape must fit */
    int32_t ftype = FM_FTYPE_F16;
    int pure = 0;
    const char *type_label = "f16";
    uint64_t seed = 1;
    double rope_factor = 0; /* 0: no RoPE scaling */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (v == NULL) {
            fprintf(stderr, "fm-mkmodel: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "-o")) out = v;
        else if (!strcmp(a, "--vocab")) vocab = v;
        else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--embd")) sh.embd = atoll(v);
        else if (!strcmp(a, "--layers")) sh.layers = atoll(v);
        else if (!strcmp(a, "--heads")) sh.heads = atoll(v);
        else if (!strcmp(a, "--kv-heads")) sh.kv_heads = atoll(v);
        else if (!strcmp(a, "--ff")) sh.ff = atoll(v);
        else if (!strcmp(a, "--ctx")) sh.ctx = atoll(v);
        else if (!strcmp(a, "--rope-scale")) rope_factor = strtod(v, NULL);
        else if (!strcmp(a, "--preset")) {
            if (!strcmp(v, "tinyllama-1.1b")) sh = (shape){2048, 22, 32, 4, 5632, 2048};
            else if (!strcmp(v, "tiny")) sh = (shape){64, 2, 4, 2, 160, 2048};
            else {
                fprintf(stderr, "fm-mkmodel: unknown preset '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--type")) {
            int found = 0;
            for (size_t k = 0; k < sizeof float_types / sizeof float_types[0] && !found; k++)
                if (!strcmp(float_types[k].name, v)) dtype = float_types[k].dtype, ftype = float_types[k].ftype, found = 1;
            for (size_t k = 0; k < sizeof pure_types / sizeof pure_types[0] && !found; k++)
                if (!strcmp(pure_types[k].name, v))
                    block_type = pure_types[k].dtype, ftype = pure_types[k].ftype, pure = 1, found = 1;
            if (!found && fm_ftype_from_name(v, &ftype) == FM_STATUS_OK) block_type = 12, found = 1; /* a mixture */
            if (!found) {
                fprintf(stderr, "fm-mkmodel: unknown type '%s'\n", v);
                return 2;
            }
            if (block_type) dtype = 0; /* written as f32, then quantized */
            type_label = v;
        } else {
            fprintf(stderr, "fm-mkmodel: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (out == NULL || vocab == NULL) {
        usage(stderr);
        return 2;
    }
    const fm_dtype_traits *tr = fm_dtype_get(block_type ? block_type : dtype);
    if (sh.embd <= 0 || sh.layers <= 0 || sh.heads <= 0 || sh.kv_heads <= 0 || sh.ff <= 0 || sh.ctx <= 0 ||
        sh.embd % sh.heads || sh.heads % sh.kv_heads || sh.embd % tr->block_elems || sh.ff % tr->block_elems) {
        fprintf(stderr, "fm-mkmodel: shape does not fit (heads divide embd, kv-heads divide heads; embd and ff "
                        "multiples of the %s block, %u)\n", tr->name, tr->block_elems);
        return 2;
    }
    fm_model_file *vf;
    fm_status s = fm_model_file_open(vocab, &vf);
    if (s) {
        fprintf(stderr, "fm-mkmodel: %s\n", fm_last_error());
        return 1;
    }
    const fm_meta *toks = fm_model_file_meta(vf, "tokenizer.ggml.tokens");
    if (toks == NULL || toks->type != FM_META_ARRAY) {
        fprintf(stderr, "fm-mkmodel: '%s' has no tokenizer.ggml.tokens\n", vocab);
        fm_model_file_close(vf);
        return 1;
    }
    const int64_t V = (int64_t)toks->n, E = sh.embd, KVD = sh.embd / sh.heads * sh.kv_heads, F = sh.ff;

    /* quantized types: the f32 model goes to a temporary file first */
    char *f32_path = NULL;
    const char *path = out;
    if (block_type) {
        f32_path = malloc(strlen(out) + 16);
        if (f32_path == NULL) return 1;
        sprintf(f32_path, "%s.f32.XXXXXX", out);
        const int fd = mkstemp(f32_path);
        if (fd < 0) {
            fprintf(stderr, "fm-mkmodel: cannot create '%s': %s\n", f32_path, strerror(errno));
            return 1;
        }
        close(fd);
        path = f32_path;
    }
    fm_gguf_writer *w;
    if ((s = fm_gguf_writer_open(path, &w))) {
        fprintf(stderr, "fm-mkmodel: %s\n", fm_last_error());
        fm_model_file_close(vf);
        return 1;
    }
    char name[192];
    snprintf(name, sizeof name, "fm-mkmodel llama E%lld L%lld H%lld/%lld F%lld %s (random weights, seed %llu)",
             (long long)E, (long long)sh.layers, (long long)sh.heads, (long long)sh.kv_heads, (long long)F,
             type_label, (unsigned long long)seed);
    fm_gguf_add_str(w, "general.architecture", "llama");
    fm_gguf_add_str(w, "general.name", name);
    fm_gguf_add_u32(w, "llama.context_length", (uint32_t)sh.ctx);
    fm_gguf_add_u32(w, "llama.embedding_length", (uint32_t)E);
    fm_gguf_add_u32(w, "llama.block_count", (uint32_t)sh.layers);
    fm_gguf_add_u32(w, "llama.feed_forward_length", (uint32_t)F);
    fm_gguf_add_u32(w, "llama.attention.head_count", (uint32_t)sh.heads);
    fm_gguf_add_u32(w, "llama.attention.head_count_kv", (uint32_t)sh.kv_heads);
    fm_gguf_add_u32(w, "llama.rope.dimension_count", (uint32_t)(E / sh.heads));
    fm_gguf_add_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    fm_gguf_add_f32(w, "llama.rope.freq_base", 10000.0f);
    if (rope_factor > 0) { /* linear RoPE scaling: positions divided by the factor */
        fm_gguf_add_str(w, "llama.rope.scaling.type", "linear");
        fm_gguf_add_f32(w, "llama.rope.scaling.factor", (float)rope_factor);
    }
    fm_gguf_add_u32(w, "general.file_type", block_type ? (uint32_t)FM_FTYPE_ALL_F32 : (uint32_t)ftype);
    for (size_t i = 0; i < vf->n_meta; i++)
        if (vf->meta[i].key.len > 10 && memcmp(vf->meta[i].key.ptr, "tokenizer.", 10) == 0)
            fm_gguf_add_meta(w, &vf->meta[i]);

    /* the tensor list, in llama.cpp's converter order */
    const size_t n_t = 3 + 9 * (size_t)sh.layers;
    tensor *ts = calloc(n_t, sizeof *ts);
    size_t k = 0;
    ts[k++] = (tensor){"token_embd.weight", {E, V}, 2, 0.5f};
    for (int64_t l = 0; l < sh.layers; l++) {
        const struct {
            const char *n;
            int64_t a, b;
        } L[] = {{"attn_norm", E, 1},  {"attn_q", E, E},   {"attn_k", E, KVD},   {"attn_v", E, KVD}, {"attn_output", E, E},
                 {"ffn_norm", E, 1},   {"ffn_gate", E, F}, {"ffn_up", E, F},     {"ffn_down", F, E}};
        for (size_t j = 0; j < 9; j++, k++) {
            snprintf(ts[k].name, sizeof ts[k].name, "blk.%lld.%s.weight", (long long)l, L[j].n);
            ts[k].ne[0] = L[j].a;
            ts[k].ne[1] = L[j].b;
            ts[k].n_dims = L[j].b == 1 ? 1 : 2;
            ts[k].std = L[j].b == 1 ? 0.0f : 1.0f / sqrtf((float)L[j].a);
        }
    }
    ts[k++] = (tensor){"output_norm.weight", {E, 1}, 1, 0.0f};
    ts[k++] = (tensor){"output.weight", {E, V}, 2, 2.5f / sqrtf((float)E)};
    for (size_t i = 0; i < n_t; i++)
        fm_gguf_add_tensor(w, ts[i].name, (uint32_t)ts[i].n_dims, ts[i].ne, ts[i].n_dims == 1 ? 0 : dtype);

    seed_rng(seed);
    const int64_t max_cols = E > F ? E : F;
    float *row = malloc((size_t)max_cols * sizeof *row);
    uint8_t *enc = malloc((size_t)max_cols * 4);
    uint64_t bytes = 0;
    for (size_t i = 0; i < n_t && !s; i++) {
        const tensor *t = &ts[i];
        const uint32_t ty = t->n_dims == 1 ? 0 : dtype;
        const size_t rb = fm_dtype_row_bytes(ty, t->ne[0]);
        for (int64_t r = 0; r < t->ne[1] && !s; r++) {
            for (int64_t c = 0; c < t->ne[0]; c++) row[c] = t->std == 0 ? 1.0f + 0.1f * normal() : t->std * normal();
            encode_row(ty, row, t->ne[0], enc);
            s = fm_gguf_write_data(w, enc, rb);
            bytes += rb;
        }
    }
    fm_status cs = fm_gguf_writer_close(w);
    if (!s) s = cs;
    if (!s && block_type) {
        fm_quantize_params qp;
        fm_quantize_params_init(&qp, sizeof qp);
        qp.ftype = ftype;
        qp.flags = pure ? FM_QUANTIZE_PURE : 0;
        s = fm_model_quantize(f32_path, out, &qp);
    }
    if (f32_path != NULL) unlink(f32_path);
    free(f32_path);
    if (s) fprintf(stderr, "fm-mkmodel: %s\n", fm_last_error());
    else {
        struct stat st;
        if (block_type && stat(out, &st) == 0) bytes = (uint64_t)st.st_size; /* the quantized file */
        printf("%s: llama, %lld params, %s, %.1f MB of weights, vocabulary %lld from %s\n", out,
               (long long)(V * E * 2 + E + sh.layers * (2 * E + 2 * E * E + 2 * E * KVD + 3 * E * F)),
               type_label, bytes / 1e6, (long long)V, vocab);
    }
    free(row);
    free(enc);
    free(ts);
    fm_model_file_close(vf);
    return s ? 1 : 0;
}
