/* Loading a model file: pick the architecture, bind its weights, attach the
 * tokenizer; plus the public read-only queries on a model. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/hash64.h"
#include "../core/log.h"
#include "../core/params.h"
#include "../format/dtype.h"
#include "../format/quant.h"
#include "model.h"

static const fm_arch *const architectures[] = {&fm_arch_llama, &fm_arch_qwen2, &fm_arch_phi3, &fm_arch_gpt2,
                                               &fm_arch_bert};

fm_status fm_model_params_init(fm_model_params *p, size_t size) {
    const fm_model_params d = {sizeof d, 0, NULL, NULL, NULL};
    return fm_params_init(p, size, &d, sizeof d, "fm_model_params_init");
}

fm_status fm_model_key_u32(const fm_model *m, const char *suffix, int required, int32_t *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", m->arch->name, suffix);
    uint32_t v;
    fm_status s = fm_meta_get_u32(m->file, key, &v);
    if (s == FM_STATUS_NOT_FOUND)
        return required ? fm_error(FM_STATUS_BAD_FORMAT, "model is missing the metadata key '%s'", key) : FM_STATUS_OK;
    if (s) return s;
    if (v > INT32_MAX) return fm_error(FM_STATUS_BAD_FORMAT, "metadata key '%s' = %u is out of range", key, v);
    *out = (int32_t)v;
    return FM_STATUS_OK;
}

fm_status fm_model_key_f32(const fm_model *m, const char *suffix, int required, float *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", m->arch->name, suffix);
    fm_status s = fm_meta_get_f32(m->file, key, out);
    if (s == FM_STATUS_NOT_FOUND)
        return required ? fm_error(FM_STATUS_BAD_FORMAT, "model is missing the metadata key '%s'", key) : FM_STATUS_OK;
    return s;
}

fm_status fm_model_bind(fm_model *m, fm_weight *w, const char *name, int64_t cols, int64_t rows) {
    const fm_tensor_info *t = fm_model_file_tensor(m->file, name);
    if (t == NULL) return fm_error(FM_STATUS_BAD_FORMAT, "model has no tensor '%s'", name);
    if (t->ne[0] != cols || t->ne[1] != rows || t->ne[2] != 1 || t->ne[3] != 1)
        return fm_error(FM_STATUS_BAD_FORMAT,
                        "tensor '%s' has shape {%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
                        "}, expected {%" PRId64 ", %" PRId64 "}",
                        name, t->ne[0], t->ne[1], t->ne[2], t->ne[3], cols, rows);
    if (!fm_dtype_can_dequantize((int32_t)t->dtype))
        return fm_error(FM_STATUS_UNSUPPORTED,
                        "tensor '%s' has type %s, which libfm does not support (f32, f16, bf16, q8_0, q4_0, q4_1, "
                        "q5_0, q5_1, q4_K, q5_K, q6_K)",
                        name, fm_dtype_get(t->dtype)->name);
    if (rows == 1 && t->dtype != FM_DTYPE_F32)
        return fm_error(FM_STATUS_UNSUPPORTED, "tensor '%s' is a %s vector; norms and biases must be f32", name,
                        fm_dtype_get(t->dtype)->name);
    w->data = t->data;
    w->dtype = (int32_t)t->dtype;
    w->rows = rows;
    w->cols = cols;
    w->row_bytes = fm_dtype_row_bytes(t->dtype, cols);
    m->n_params += cols * rows;
    m->n_bytes += (int64_t)t->nbytes;
    return FM_STATUS_OK;
}

fm_status fm_model_bind_layer(fm_model *m, fm_weight *w, int layer, const char *name, int64_t cols, int64_t rows) {
    char full[96];
    snprintf(full, sizeof full, "blk.%d.%s", layer, name);
    return fm_model_bind(m, w, full, cols, rows);
}

fm_status fm_model_bind_opt(fm_model *m, fm_weight *w, const char *name, int64_t cols, int64_t rows) {
    memset(w, 0, sizeof *w);
    if (fm_model_file_tensor(m->file, name) == NULL) return FM_STATUS_OK;
    return fm_model_bind(m, w, name, cols, rows);
}

fm_status fm_model_bind_vec(fm_model *m, fm_vec *v, int layer, const char *name, int64_t n, int required) {
    char full[96];
    if (layer >= 0) snprintf(full, sizeof full, "blk.%d.%s", layer, name);
    else snprintf(full, sizeof full, "%s", name);
    *v = NULL;
    if (!required && fm_model_file_tensor(m->file, full) == NULL) return FM_STATUS_OK;
    fm_weight w = {0};
    fm_status s = fm_model_bind(m, &w, full, n, 1);
    if (s) return s;
    if (((uintptr_t)w.data & 3) != 0)
        return fm_error(FM_STATUS_BAD_FORMAT, "tensor '%s' is not aligned to 4 bytes", full);
    *v = w.data;
    return FM_STATUS_OK;
}

fm_status fm_model_alloc_layers(fm_model *m) {
    m->layers = fm_calloc((size_t)m->hp.n_layer, sizeof *m->layers);
    return m->layers ? FM_STATUS_OK : fm_error(FM_STATUS_NO_MEMORY, "out of memory for %d layers", m->hp.n_layer);
}

fm_status fm_model_bind_head(fm_model *m, int norm_bias) {
    const int64_t E = m->hp.n_embd, V = m->hp.n_vocab;
    fm_status s;
    if ((s = fm_model_bind(m, &m->tok_embd, "token_embd.weight", E, V)) ||
        (s = fm_model_bind_vec(m, &m->output_norm, -1, "output_norm.weight", E, 1)) ||
        (norm_bias && (s = fm_model_bind_vec(m, &m->output_norm_b, -1, "output_norm.bias", E, 1))) ||
        (s = fm_model_bind_opt(m, &m->output, "output.weight", E, V)))
        return s;
    if (m->output.data == NULL) m->output = m->tok_embd; /* tied */
    return fm_model_alloc_layers(m);
}

fm_weight fm_weight_rows(const fm_weight *w, int64_t first, int64_t rows) {
    fm_weight v = *w;
    v.data = (const uint8_t *)w->data + (size_t)first * w->row_bytes;
    v.rows = rows;
    return v;
}

static int positive(int32_t v) { return v > 0; }

fm_status fm_model_read_hparams(fm_model *m, fm_norm_kind norm) {
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
    hp->rope_scale = 1.0f;
    hp->norm = norm;
    hp->norm_eps = 1e-5f;
    hp->causal = 1;
    hp->pooling = FM_POOLING_LAST;
    const char *eps_key = norm == FM_NORM_RMS ? "attention.layer_norm_rms_epsilon" : "attention.layer_norm_epsilon";
    if ((s = fm_model_key_u32(m, "attention.head_count_kv", 0, &hp->n_head_kv)) ||
        (s = fm_model_key_u32(m, "context_length", 0, &hp->n_ctx_train)) ||
        (s = fm_model_key_f32(m, "rope.freq_base", 0, &hp->rope_base)) ||
        (s = fm_model_key_f32(m, eps_key, 0, &hp->norm_eps)))
        return s;
    if (!positive(hp->n_embd) || !positive(hp->n_layer) || hp->n_layer > 4096 || !positive(hp->n_ff) ||
        !positive(hp->n_head) || !positive(hp->n_head_kv) || !positive(hp->n_ctx_train) ||
        hp->n_head % hp->n_head_kv != 0 || hp->n_embd % hp->n_head != 0 || !(hp->norm_eps >= 0) ||
        !(hp->rope_base > 0))
        return fm_error(FM_STATUS_BAD_FORMAT,
                        "implausible %s hyper-parameters (embd %d, layers %d, ff %d, heads %d/%d, context %d, eps %g, "
                        "rope base %g)",
                        m->arch->name, hp->n_embd, hp->n_layer, hp->n_ff, hp->n_head, hp->n_head_kv, hp->n_ctx_train,
                        hp->norm_eps, hp->rope_base);
    hp->head_dim = hp->n_embd / hp->n_head;
    hp->n_rot = hp->head_dim;
    if ((s = fm_model_key_u32(m, "rope.dimension_count", 0, &hp->n_rot))) return s;
    if (hp->n_rot <= 0 || hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0)
        return fm_error(FM_STATUS_BAD_FORMAT, "rope.dimension_count %d does not fit head size %d", hp->n_rot,
                        hp->head_dim);
    /* rope.scaling.type "linear" divides positions by rope.scaling.factor */
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", m->arch->name);
    fm_str type;
    s = fm_meta_get_str(m->file, key, &type);
    if (s == FM_STATUS_OK && !fm_str_eq(type, "none")) {
        if (!fm_str_eq(type, "linear"))
            return fm_error(FM_STATUS_UNSUPPORTED, "%s '%.*s' is not supported (only linear)", key, (int)type.len,
                            type.ptr);
        float factor = 1.0f;
        if ((s = fm_model_key_f32(m, "rope.scaling.factor", 0, &factor))) return s;
        if (!(factor > 0)) return fm_error(FM_STATUS_BAD_FORMAT, "rope.scaling.factor %g is not positive", factor);
        hp->rope_scale = 1.0f / factor;
    } else if (s != FM_STATUS_NOT_FOUND && s != FM_STATUS_OK) {
        return s;
    }
    hp->rope_mode = FM_ROPE_NORMAL;

    const fm_tensor_info *emb = fm_model_file_tensor(m->file, "token_embd.weight");
    if (emb == NULL) return fm_error(FM_STATUS_BAD_FORMAT, "model has no tensor 'token_embd.weight'");
    if (emb->ne[1] <= 0 || emb->ne[1] > (1 << 24))
        return fm_error(FM_STATUS_BAD_FORMAT, "token_embd.weight has %lld rows", (long long)emb->ne[1]);
    hp->n_vocab = (int32_t)emb->ne[1];
    /* a block count beyond the tensors present is a broken file, not a missing tensor */
    snprintf(key, sizeof key, "blk.%d.", hp->n_layer - 1);
    int found = 0;
    for (size_t i = 0; i < m->file->n_tensors && !found; i++) {
        const fm_str nm = m->file->tensors[i].name;
        found = nm.len > strlen(key) && memcmp(nm.ptr, key, strlen(key)) == 0;
    }
    if (!found)
        return fm_error(FM_STATUS_BAD_FORMAT, "%s.block_count is %d but the file has no tensors for block %d",
                        m->arch->name, hp->n_layer, hp->n_layer - 1);
    return FM_STATUS_OK;
}

/* "tokenizer.bin" in the directory of `path`. */
static char *sibling_tokenizer(const char *path) {
    const char *slash = strrchr(path, '/');
    size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
    char *p = fm_malloc(dir + sizeof "tokenizer.bin");
    if (p == NULL) return NULL;
    memcpy(p, path, dir);
    memcpy(p + dir, "tokenizer.bin", sizeof "tokenizer.bin");
    return p;
}

static fm_status load_tokenizer(fm_model *m, const char *path, const fm_model_params *p) {
    if (p->tokenizer_path != NULL) {
        fm_status s = fm_tokenizer_load(p->tokenizer_path, NULL, &m->tok);
        if (s) return s;
    } else if (m->file->kind == FM_FILE_LLAMA2C) {
        char *tp = sibling_tokenizer(path);
        if (tp == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory");
        fm_status s = fm_tokenizer_from_llama2c(tp, m->hp.n_vocab, &m->tok);
        free(tp);
        if (s) return s;
    } else {
        fm_status s = fm_tokenizer_from_model_file(m->file, path, &m->tok);
        if (s) return s;
    }
    if (m->tok->n_vocab != m->hp.n_vocab)
        return fm_error(FM_STATUS_BAD_FORMAT, "the tokenizer has %d tokens but the model's output has %d",
                        m->tok->n_vocab, m->hp.n_vocab);
    return FM_STATUS_OK;
}

/* NUL-terminated copies of the metadata keys and tensor names, for the
 * introspection calls (the file's strings are not terminated). */
static fm_status build_names(fm_model *m) {
    const fm_model_file *f = m->file;
    size_t bytes = 0;
    for (size_t i = 0; i < f->n_meta; i++) bytes += f->meta[i].key.len + 1;
    for (size_t i = 0; i < f->n_tensors; i++) bytes += f->tensors[i].name.len + 1;
    m->names = fm_malloc(bytes ? bytes : 1);
    m->name_index = fm_malloc((f->n_meta + f->n_tensors + 1) * sizeof *m->name_index);
    if (m->names == NULL || m->name_index == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for names");
    char *p = m->names;
    for (size_t i = 0; i < f->n_meta + f->n_tensors; i++) {
        const fm_str str = i < f->n_meta ? f->meta[i].key : f->tensors[i - f->n_meta].name;
        memcpy(p, str.ptr, str.len);
        p[str.len] = '\0';
        m->name_index[i] = p;
        p += str.len + 1;
    }
    return FM_STATUS_OK;
}

fm_status fm_model_load(const char *path, const fm_model_params *params, fm_model **out) {
    fm_error_clear();
    if (out == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_model_load: out is NULL");
    *out = NULL;
    if (path == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_model_load: path is NULL");
    fm_model_params p;
    fm_model_params_init(&p, sizeof p);
    fm_status s = fm_params_read(&p, sizeof p, params, "fm_model_params");
    if (s) return s;
    if (p.flags != 0) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_model_params.flags must be 0");
    fm_model_file *mf;
    if ((s = fm_model_file_open(path, &mf))) return s;
    return fm_model_from_file(mf, path, &p, out);
}

/* What a saved state depends on: the hyper-parameters and every tensor's
 * name, type, shape and size (not the data: hashing gigabytes at load time
 * would cost more than it protects). */
static void fingerprint(fm_model *m) {
    fm_hash64 h;
    fm_hash64_init(&h, 0x6c6962666d);
    fm_hash64_update(&h, m->arch->name, strlen(m->arch->name));
    fm_hash64_update(&h, &m->hp, sizeof m->hp);
    for (size_t i = 0; i < m->file->n_tensors; i++) {
        const fm_tensor_info *t = &m->file->tensors[i];
        fm_hash64_update(&h, t->name.ptr, t->name.len);
        const uint64_t shape[7] = {t->n_dims, t->dtype, (uint64_t)t->ne[0], (uint64_t)t->ne[1], (uint64_t)t->ne[2],
                                   (uint64_t)t->ne[3], t->nbytes};
        fm_hash64_update(&h, shape, sizeof shape);
    }
    m->fingerprint = fm_hash64_final(&h);
}

/* What a user wants to see once a model is in: the file, its
 * architecture, sizes, and its weight types by bytes. */
static void log_loaded(const fm_model *m, const char *path) {
    uint64_t bytes[64] = {0};
    for (size_t i = 0; i < m->file->n_tensors; i++)
        if (m->file->tensors[i].dtype < 64) bytes[m->file->tensors[i].dtype] += m->file->tensors[i].nbytes;
    char types[256] = "";
    size_t at = 0;
    for (int t = 0; t < 64 && at < sizeof types - 40; t++)
        if (bytes[t])
            at += (size_t)snprintf(types + at, sizeof types - at, "%s%s %.1f MiB", at ? ", " : "",
                                   fm_dtype_get((uint32_t)t)->name, bytes[t] / 1048576.0);
    const fm_hparams *hp = &m->hp;
    fm_log(FM_LOG_INFO, "loaded '%s': %s, %d layers, n_embd %d, %d heads (%d KV), vocabulary %d, %.2f M parameters; %s",
           path, m->arch->name, hp->n_layer, hp->n_embd, hp->n_head, hp->n_head_kv, hp->n_vocab, m->n_params / 1e6,
           types);
    fm_log(FM_LOG_DEBUG, "'%s': training context %d, RoPE base %g scale %g over %d dims, norm eps %g, window %d",
           path, hp->n_ctx_train, (double)hp->rope_base, (double)hp->rope_scale, hp->n_rot, (double)hp->norm_eps,
           hp->n_swa);
}

static fm_status report(const fm_model_params *p, float done) {
    if (p->progress != NULL && p->progress(done, p->progress_user))
        return fm_error(FM_STATUS_CANCELLED, "the progress callback cancelled the load at %.0f %%", done * 100.0);
    return FM_STATUS_OK;
}

fm_status fm_model_from_file(fm_model_file *mf, const char *path, const fm_model_params *params, fm_model **out) {
    fm_model_params p = *params;
    fm_status s;
    fm_model *m = fm_calloc(1, sizeof *m);
    if (m == NULL) {
        fm_model_file_close(mf);
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory loading '%s'", path);
    }
    m->file = mf;
    fm_str arch;
    s = fm_meta_get_str(m->file, "general.architecture", &arch);
    if (s == FM_STATUS_NOT_FOUND) s = fm_error(FM_STATUS_BAD_FORMAT, "'%s' has no general.architecture", path);
    if (s) goto fail;
    for (size_t i = 0; i < sizeof architectures / sizeof architectures[0]; i++)
        if (fm_str_eq(arch, architectures[i]->name)) m->arch = architectures[i];
    if (m->arch == NULL) {
        s = fm_error(FM_STATUS_UNSUPPORTED, "'%s': architecture '%.*s' is not supported", path, (int)arch.len,
                     arch.ptr);
        goto fail;
    }
    /* progress in three coarse steps (the weights are mapped, not read:
     * binding them and building the tokenizer are what takes time) */
    if ((s = report(&p, 0.0f)) || (s = build_names(m)) || (s = m->arch->load(m)) || (s = report(&p, 0.5f)) ||
        (s = load_tokenizer(m, path, &p)) || (s = report(&p, 1.0f)))
        goto fail;
    fingerprint(m);
    log_loaded(m, path);
    *out = m;
    return FM_STATUS_OK;
fail:
    fm_model_free(m);
    return s;
}

void fm_model_free(fm_model *m) {
    if (m == NULL) return;
    fm_tokenizer_free(m->tok);
    free(m->layers);
    free(m->names);
    free(m->name_index);
    fm_model_file_close(m->file);
    free(m);
}

const fm_tokenizer *fm_model_tokenizer(const fm_model *m) { return m ? m->tok : NULL; }

const char *fm_model_arch(const fm_model *m) { return m ? m->arch->name : ""; }

int64_t fm_model_get_info(const fm_model *m, fm_model_info what) {
    if (m == NULL) return 0;
    switch (what) {
    case FM_MODEL_N_VOCAB: return m->hp.n_vocab;
    case FM_MODEL_N_EMBD: return m->hp.n_embd;
    case FM_MODEL_N_LAYER: return m->hp.n_layer;
    case FM_MODEL_N_HEAD: return m->hp.n_head;
    case FM_MODEL_N_HEAD_KV: return m->hp.n_head_kv;
    case FM_MODEL_N_CTX_TRAIN: return m->hp.n_ctx_train;
    case FM_MODEL_N_FF: return m->hp.n_ff;
    case FM_MODEL_N_PARAMS: return m->n_params;
    case FM_MODEL_SIZE_BYTES: return m->n_bytes;
    case FM_MODEL_IS_ENCODER: return !m->hp.causal;
    case FM_MODEL_POOLING: return m->hp.pooling;
    case FM_MODEL_N_TENSORS: return (int64_t)m->file->n_tensors;
    case FM_MODEL_N_META: return (int64_t)m->file->n_meta;
    }
    return 0;
}

/* `src` (len bytes) into the caller's buffer with the BUFFER_TOO_SMALL protocol */
static fm_status copy_text(const char *src, size_t len, char *buf, size_t capacity, size_t *n_bytes, const char *key) {
    *n_bytes = len;
    if (len + 1 > capacity)
        return fm_error(FM_STATUS_BUFFER_TOO_SMALL, "value of '%s' needs %zu bytes with its NUL", key, len + 1);
    memcpy(buf, src, len);
    buf[len] = '\0';
    return FM_STATUS_OK;
}

/* a number or boolean of metadata type `type` as fm_model_meta writes it */
static void format_number(uint32_t type, uint64_t u, int64_t i, double f, char *tmp, size_t cap) {
    if (type == FM_META_BOOL) snprintf(tmp, cap, "%s", u ? "true" : "false");
    else if (fm_meta_is_float_type(type)) snprintf(tmp, cap, "%.9g", f);
    else if (type == FM_META_I8 || type == FM_META_I16 || type == FM_META_I32 || type == FM_META_I64)
        snprintf(tmp, cap, "%" PRId64, i);
    else snprintf(tmp, cap, "%" PRIu64, u);
}

fm_status fm_model_meta(const fm_model *m, const char *key, char *buf, size_t capacity, size_t *n_bytes) {
    fm_error_clear();
    if (m == NULL || key == NULL || n_bytes == NULL || (buf == NULL && capacity > 0))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_model_meta: NULL argument");
    const fm_meta *v = fm_model_file_meta(m->file, key);
    if (v == NULL) return fm_error(FM_STATUS_NOT_FOUND, "no metadata key '%s'", key);
    if (v->type == FM_META_STRING) return copy_text(v->v.s.ptr, v->v.s.len, buf, capacity, n_bytes, key);
    char tmp[64];
    if (v->type == FM_META_ARRAY) snprintf(tmp, sizeof tmp, "[array of %" PRIu64 "]", v->n);
    else format_number(v->type, v->v.u, v->v.i, v->v.f, tmp, sizeof tmp);
    return copy_text(tmp, strlen(tmp), buf, capacity, n_bytes, key);
}

fm_status fm_model_meta_array(const fm_model *m, const char *key, uint64_t i, char *buf, size_t capacity,
                              size_t *n_bytes, uint64_t *n_elems) {
    fm_error_clear();
    if (m == NULL || key == NULL || n_bytes == NULL || (buf == NULL && capacity > 0))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_model_meta_array: NULL argument");
    const fm_meta *v = fm_model_file_meta(m->file, key);
    if (v == NULL) return fm_error(FM_STATUS_NOT_FOUND, "no metadata key '%s'", key);
    if (v->type != FM_META_ARRAY) return fm_error(FM_STATUS_INVALID_ARGUMENT, "metadata '%s' is not an array", key);
    if (n_elems != NULL) *n_elems = v->n;
    if (i >= v->n)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "element %" PRIu64 " of '%s': the array has %" PRIu64, i, key,
                        v->n);
    if (v->elem_type == FM_META_STRING && v->strs != NULL)
        return copy_text(v->strs[i].ptr, v->strs[i].len, buf, capacity, n_bytes, key);
    char tmp[64];
    if (v->arr == NULL) snprintf(tmp, sizeof tmp, "[array]"); /* nested arrays are not kept */
    else
        format_number(v->elem_type, (uint64_t)fm_meta_arr_i64(v, i), fm_meta_arr_i64(v, i), fm_meta_arr_f64(v, i), tmp,
                      sizeof tmp);
    return copy_text(tmp, strlen(tmp), buf, capacity, n_bytes, key);
}

const char *fm_model_meta_key(const fm_model *m, int64_t i) {
    if (m == NULL || i < 0 || (uint64_t)i >= m->file->n_meta) return NULL;
    return m->name_index[i];
}

fm_status fm_model_tensor(const fm_model *m, int64_t i, fm_tensor_desc *desc) {
    fm_error_clear();
    if (m == NULL || desc == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_model_tensor: NULL argument");
    if (i < 0 || (uint64_t)i >= m->file->n_tensors)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_model_tensor: index %lld is out of range (0..%zu)",
                        (long long)i, m->file->n_tensors);
    const size_t have = desc->struct_size;
    if (have < offsetof(fm_tensor_desc, offset) + sizeof desc->offset)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_model_tensor: struct_size %zu is too small", have);
    const fm_tensor_info *t = &m->file->tensors[i];
    const fm_dtype_traits *tr = fm_dtype_get(t->dtype);
    fm_tensor_desc d;
    memset(&d, 0, sizeof d);
    d.struct_size = (uint32_t)(have < sizeof d ? have : sizeof d);
    d.n_dims = (int32_t)t->n_dims;
    d.name = m->name_index[m->file->n_meta + (size_t)i];
    d.type = tr ? tr->name : "?";
    d.dtype = (int32_t)t->dtype;
    for (int k = 0; k < 4; k++) d.ne[k] = t->ne[k];
    d.n_bytes = t->nbytes;
    d.offset = (uint64_t)(t->data - (const uint8_t *)m->file->map.data);
    memcpy(desc, &d, d.struct_size);
    return FM_STATUS_OK;
}
