/* llama2.c checkpoints (karpathy/llama2.c, the legacy "version 0" export):
 * seven int32 hyper-parameters, then float32 weights in a fixed order. The
 * reader describes them with GGUF's llama key and tensor names so the model
 * layer treats both formats alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "fm_backend.h"
#include "model_file.h"

enum { HDR_DIM, HDR_HIDDEN, HDR_LAYERS, HDR_HEADS, HDR_KV_HEADS, HDR_VOCAB, HDR_SEQ, HDR_COUNT };

#define NAME_LEN 48

typedef struct builder {
    fm_model_file *mf;
    const uint8_t *at; /* next weight in the file */
    char *names;
} builder;

/* Describes the next weight, `rows` x `cols` floats, as tensor `name`. */
static void add_tensor(builder *b, const char *name, int64_t cols, int64_t rows) {
    fm_tensor_info *t = &b->mf->tensors[b->mf->n_tensors];
    char *dst = b->names + b->mf->n_tensors * NAME_LEN;
    snprintf(dst, NAME_LEN, "%s", name);
    t->name.ptr = dst;
    t->name.len = strlen(dst);
    t->n_dims = rows > 1 ? 2 : 1;
    t->dtype = FM_DTYPE_F32;
    t->ne[0] = cols;
    t->ne[1] = rows;
    t->ne[2] = t->ne[3] = 1;
    t->data = b->at;
    t->nbytes = (uint64_t)(cols * rows) * 4;
    b->at += t->nbytes;
    b->mf->n_tensors++;
}

/* One stacked weight per layer: layer l's slice is named blk.l.<name>. */
static void add_layers(builder *b, int n_layer, const char *name, int64_t cols, int64_t rows) {
    for (int l = 0; l < n_layer; l++) {
        char full[NAME_LEN];
        snprintf(full, sizeof full, "blk.%d.%s", l, name);
        add_tensor(b, full, cols, rows);
    }
}

static void add_u32(fm_model_file *mf, const char *key, uint32_t v) {
    fm_meta *m = &mf->meta[mf->n_meta++];
    m->key.ptr = key;
    m->key.len = strlen(key);
    m->type = FM_META_U32;
    m->v.u = v;
}

static void add_f32(fm_model_file *mf, const char *key, float v) {
    fm_meta *m = &mf->meta[mf->n_meta++];
    m->key.ptr = key;
    m->key.len = strlen(key);
    m->type = FM_META_F32;
    m->v.f = v;
}

fm_status fm_llama2c_parse(fm_model_file *mf, const char *path) {
    const size_t size = mf->map.size;
    int32_t h[HDR_COUNT];
    if (size >= 4 && memcmp(mf->map.data, "ak42", 4) == 0)
        return fm_error(FM_STATUS_UNSUPPORTED,
                        "'%s': llama2.c export versions 1+ are not supported; use the legacy export", path);
    if (size < sizeof h)
        return fm_error(FM_STATUS_BAD_FORMAT, "'%s' is neither GGUF nor a llama2.c checkpoint (too short)", path);
    memcpy(h, mf->map.data, sizeof h);
    const int shared = h[HDR_VOCAB] > 0;
    const int64_t dim = h[HDR_DIM], hidden = h[HDR_HIDDEN], n_layer = h[HDR_LAYERS];
    const int64_t n_head = h[HDR_HEADS], n_head_kv = h[HDR_KV_HEADS], seq = h[HDR_SEQ];
    const int64_t vocab = shared ? h[HDR_VOCAB] : -(int64_t)h[HDR_VOCAB];
    const int64_t lim = 1 << 20;
    if (dim <= 0 || dim > lim || hidden <= 0 || hidden > lim || n_layer <= 0 || n_layer > 4096 ||
        n_head <= 0 || n_head > dim || n_head_kv <= 0 || n_head_kv > n_head || vocab <= 0 ||
        vocab > lim || seq <= 0 || seq > lim || dim % n_head != 0 || n_head % n_head_kv != 0 ||
        (dim / n_head) % 2 != 0)
        return fm_error(FM_STATUS_BAD_FORMAT,
                        "'%s' is neither GGUF nor a llama2.c checkpoint (implausible header)", path);
    const int64_t head = dim / n_head, kv_dim = head * n_head_kv;
    const int64_t floats = vocab * dim + n_layer * (2 * dim + 2 * dim * dim + 2 * dim * kv_dim +
                                                    3 * dim * hidden) +
                           dim + seq * head + (shared ? 0 : vocab * dim);
    if ((uint64_t)floats * 4 + sizeof h != size)
        return fm_error(FM_STATUS_BAD_FORMAT,
                        "'%s': llama2.c header implies %lld bytes but the file has %zu", path,
                        (long long)(floats * 4 + (int64_t)sizeof h), size);

    const size_t n_tensors = (size_t)(3 + 9 * n_layer);
    mf->meta = fm_calloc(16, sizeof *mf->meta);
    mf->tensors = fm_calloc(n_tensors, sizeof *mf->tensors);
    mf->strings = fm_malloc(n_tensors * NAME_LEN);
    if (mf->meta == NULL || mf->tensors == NULL || mf->strings == NULL)
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory reading '%s'", path);

    static const char arch_key[] = "general.architecture";
    fm_meta *m = &mf->meta[mf->n_meta++];
    m->key.ptr = arch_key;
    m->key.len = sizeof arch_key - 1;
    m->type = FM_META_STRING;
    m->v.s.ptr = "llama";
    m->v.s.len = 5;
    add_u32(mf, "llama.embedding_length", (uint32_t)dim);
    add_u32(mf, "llama.feed_forward_length", (uint32_t)hidden);
    add_u32(mf, "llama.block_count", (uint32_t)n_layer);
    add_u32(mf, "llama.attention.head_count", (uint32_t)n_head);
    add_u32(mf, "llama.attention.head_count_kv", (uint32_t)n_head_kv);
    add_u32(mf, "llama.context_length", (uint32_t)seq);
    add_u32(mf, "llama.vocab_size", (uint32_t)vocab);
    add_u32(mf, "llama.rope.dimension_count", (uint32_t)head);
    add_f32(mf, "llama.rope.freq_base", 10000.0f);
    add_f32(mf, "llama.attention.layer_norm_rms_epsilon", 1e-5f); /* run.c's rmsnorm */

    /* Weight order and shapes as run.c's memory_map_weights(). */
    builder b = {mf, mf->map.data + sizeof h, mf->strings};
    add_tensor(&b, "token_embd.weight", dim, vocab);
    add_layers(&b, (int)n_layer, "attn_norm.weight", dim, 1);
    add_layers(&b, (int)n_layer, "attn_q.weight", dim, dim);
    add_layers(&b, (int)n_layer, "attn_k.weight", dim, kv_dim);
    add_layers(&b, (int)n_layer, "attn_v.weight", dim, kv_dim);
    add_layers(&b, (int)n_layer, "attn_output.weight", dim, dim);
    add_layers(&b, (int)n_layer, "ffn_norm.weight", dim, 1);
    add_layers(&b, (int)n_layer, "ffn_gate.weight", dim, hidden);
    add_layers(&b, (int)n_layer, "ffn_down.weight", hidden, dim);
    add_layers(&b, (int)n_layer, "ffn_up.weight", dim, hidden);
    add_tensor(&b, "output_norm.weight", dim, 1);
    b.at += seq * head * 4; /* precomputed RoPE tables: libfm computes its own */
    if (!shared) add_tensor(&b, "output.weight", dim, vocab);
    return FM_STATUS_OK;
}
