/* Loading a model file: pick the architecture, bind its weights, attach the
 * tokenizer; plus the public read-only queries on a model. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/params.h"
#include "../format/dtype.h"
#include "model.h"

static const fm_arch *const architectures[] = {&fm_arch_llama};

fm_model_params fm_model_default_params(void) {
    fm_model_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    return p;
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

/* "tokenizer.bin" in the directory of `path`. */
static char *sibling_tokenizer(const char *path) {
    const char *slash = strrchr(path, '/');
    size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
    char *p = malloc(dir + sizeof "tokenizer.bin");
    if (p == NULL) return NULL;
    memcpy(p, path, dir);
    memcpy(p + dir, "tokenizer.bin", sizeof "tokenizer.bin");
    return p;
}

static fm_status load_tokenizer(fm_model *m, const char *path, const fm_model_params *p) {
    if (p->tokenizer_path != NULL) {
        fm_tokenizer_params tp = fm_tokenizer_default_params();
        fm_status s = fm_tokenizer_load(p->tokenizer_path, &tp, &m->tok);
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

fm_status fm_model_load(const char *path, const fm_model_params *params, fm_model **out) {
    fm_error_clear();
    if (out == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_model_load: out is NULL");
    *out = NULL;
    if (path == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_model_load: path is NULL");
    fm_model_params p = fm_model_default_params();
    fm_status s = fm_params_read(&p, sizeof p, params, "fm_model_params");
    if (s) return s;
    if (p.flags != 0) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_model_params.flags must be 0");
    fm_model *m = calloc(1, sizeof *m);
    if (m == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory loading '%s'", path);
    if ((s = fm_model_file_open(path, &m->file))) goto fail;
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
    if ((s = m->arch->load(m))) goto fail;
    if ((s = load_tokenizer(m, path, &p))) goto fail;
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
    }
    return 0;
}

fm_status fm_model_meta(const fm_model *m, const char *key, char *buf, size_t capacity, size_t *n_bytes) {
    fm_error_clear();
    if (m == NULL || key == NULL || n_bytes == NULL || (buf == NULL && capacity > 0))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_model_meta: NULL argument");
    const fm_meta *v = fm_model_file_meta(m->file, key);
    if (v == NULL) return fm_error(FM_STATUS_NOT_FOUND, "no metadata key '%s'", key);
    char tmp[64];
    const char *src = tmp;
    size_t len;
    if (v->type == FM_META_STRING) {
        src = v->v.s.ptr;
        len = v->v.s.len;
    } else {
        if (v->type == FM_META_ARRAY) snprintf(tmp, sizeof tmp, "[array of %" PRIu64 "]", v->n);
        else if (v->type == FM_META_BOOL) snprintf(tmp, sizeof tmp, "%s", v->v.u ? "true" : "false");
        else if (fm_meta_is_float_type(v->type)) snprintf(tmp, sizeof tmp, "%.9g", v->v.f);
        else if (v->type == FM_META_I8 || v->type == FM_META_I16 || v->type == FM_META_I32 || v->type == FM_META_I64)
            snprintf(tmp, sizeof tmp, "%" PRId64, v->v.i);
        else snprintf(tmp, sizeof tmp, "%" PRIu64, v->v.u);
        len = strlen(tmp);
    }
    *n_bytes = len;
    if (len + 1 > capacity)
        return fm_error(FM_STATUS_BUFFER_TOO_SMALL, "value of '%s' needs %zu bytes with its NUL", key, len + 1);
    memcpy(buf, src, len);
    buf[len] = '\0';
    return FM_STATUS_OK;
}
