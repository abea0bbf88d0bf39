/* Opening a model container and reading its metadata, whatever the format. */
#include "model_file.h"

#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"

int fm_str_eq(fm_str a, const char *b) {
    size_t n = strlen(b);
    return a.len == n && memcmp(a.ptr, b, n) == 0;
}

static fm_status open_mapped(fm_model_file *mf, fm_status s, const char *path, fm_model_file **out);

fm_status fm_model_file_open(const char *path, fm_model_file **out) {
    *out = NULL;
    fm_model_file *mf = fm_calloc(1, sizeof *mf);
    if (mf == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory opening '%s'", path);
    return open_mapped(mf, fm_mapped_file_open(&mf->map, path), path, out);
}

fm_status fm_model_file_open_memory(const void *data, size_t size, const char *name, fm_model_file **out) {
    *out = NULL;
    fm_model_file *mf = fm_calloc(1, sizeof *mf);
    if (mf == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory opening '%s'", name);
    mf->map.data = data;
    mf->map.size = size;
    mf->borrowed = 1;
    return open_mapped(mf, FM_STATUS_OK, name, out);
}

/* Parses the bytes in mf->map (s: how mapping them went). */
static fm_status open_mapped(fm_model_file *mf, fm_status s, const char *path, fm_model_file **out) {
    if (s == FM_STATUS_OK && mf->map.size == 0) s = fm_error(FM_STATUS_BAD_FORMAT, "'%s' is empty", path);
    if (s == FM_STATUS_OK) {
        if (fm_gguf_has_magic(&mf->map)) {
            mf->kind = FM_FILE_GGUF;
            s = fm_gguf_parse(mf, path);
        } else {
            mf->kind = FM_FILE_LLAMA2C;
            s = fm_llama2c_parse(mf, path);
        }
    }
    if (s != FM_STATUS_OK) {
        fm_model_file_close(mf);
        return s;
    }
    *out = mf;
    return FM_STATUS_OK;
}

void fm_model_file_close(fm_model_file *mf) {
    if (mf == NULL) return;
    for (size_t i = 0; i < mf->n_meta; i++) free(mf->meta[i].strs);
    free(mf->meta);
    free(mf->tensors);
    free(mf->strings);
    if (!mf->borrowed) fm_mapped_file_close(&mf->map);
    free(mf);
}

const fm_meta *fm_model_file_meta(const fm_model_file *mf, const char *key) {
    for (size_t i = 0; i < mf->n_meta; i++)
        if (fm_str_eq(mf->meta[i].key, key)) return &mf->meta[i];
    return NULL;
}

const fm_tensor_info *fm_model_file_tensor(const fm_model_file *mf, const char *name) {
    for (size_t i = 0; i < mf->n_tensors; i++)
        if (fm_str_eq(mf->tensors[i].name, name)) return &mf->tensors[i];
    return NULL;
}

size_t fm_meta_scalar_size(uint32_t type) {
    switch (type) {
    case FM_META_U8: case FM_META_I8: case FM_META_BOOL: return 1;
    case FM_META_U16: case FM_META_I16: return 2;
    case FM_META_U32: case FM_META_I32: case FM_META_F32: return 4;
    case FM_META_U64: case FM_META_I64: case FM_META_F64: return 8;
    default: return 0;
    }
}

int fm_meta_is_integer_type(uint32_t type) {
    return type <= FM_META_I32 || type == FM_META_U64 || type == FM_META_I64;
}

int fm_meta_is_float_type(uint32_t type) { return type == FM_META_F32 || type == FM_META_F64; }

static int is_signed(uint32_t type) {
    return type == FM_META_I8 || type == FM_META_I16 || type == FM_META_I32 || type == FM_META_I64;
}

fm_status fm_meta_get_i64(const fm_model_file *mf, const char *key, int64_t *out) {
    const fm_meta *m = fm_model_file_meta(mf, key);
    if (m == NULL) return FM_STATUS_NOT_FOUND;
    if (!fm_meta_is_integer_type(m->type))
        return fm_error(FM_STATUS_BAD_FORMAT, "metadata key '%s' is not an integer (type %u)", key, m->type);
    if (!is_signed(m->type) && m->v.u > (uint64_t)INT64_MAX)
        return fm_error(FM_STATUS_BAD_FORMAT, "metadata key '%s' is out of range", key);
    *out = is_signed(m->type) ? m->v.i : (int64_t)m->v.u;
    return FM_STATUS_OK;
}

fm_status fm_meta_get_u32(const fm_model_file *mf, const char *key, uint32_t *out) {
    int64_t v;
    fm_status s = fm_meta_get_i64(mf, key, &v);
    if (s) return s;
    if (v < 0 || v > (int64_t)UINT32_MAX)
        return fm_error(FM_STATUS_BAD_FORMAT, "metadata key '%s' = %lld is out of range", key, (long long)v);
    *out = (uint32_t)v;
    return FM_STATUS_OK;
}

fm_status fm_meta_get_f32(const fm_model_file *mf, const char *key, float *out) {
    const fm_meta *m = fm_model_file_meta(mf, key);
    if (m == NULL) return FM_STATUS_NOT_FOUND;
    if (!fm_meta_is_float_type(m->type))
        return fm_error(FM_STATUS_BAD_FORMAT, "metadata key '%s' is not a float (type %u)", key, m->type);
    *out = (float)m->v.f;
    return FM_STATUS_OK;
}

fm_status fm_meta_get_bool(const fm_model_file *mf, const char *key, int *out) {
    const fm_meta *m = fm_model_file_meta(mf, key);
    if (m == NULL) return FM_STATUS_NOT_FOUND;
    if (m->type != FM_META_BOOL)
        return fm_error(FM_STATUS_BAD_FORMAT, "metadata key '%s' is not a bool (type %u)", key, m->type);
    *out = m->v.u != 0;
    return FM_STATUS_OK;
}

fm_status fm_meta_get_str(const fm_model_file *mf, const char *key, fm_str *out) {
    const fm_meta *m = fm_model_file_meta(mf, key);
    if (m == NULL) return FM_STATUS_NOT_FOUND;
    if (m->type != FM_META_STRING)
        return fm_error(FM_STATUS_BAD_FORMAT, "metadata key '%s' is not a string (type %u)", key, m->type);
    *out = m->v.s;
    return FM_STATUS_OK;
}

double fm_meta_arr_f64(const fm_meta *m, uint64_t i) {
    const uint8_t *p = m->arr;
    switch (m->elem_type) {
    case FM_META_F32: { float f; memcpy(&f, p + 4 * i, 4); return f; }
    case FM_META_F64: { double d; memcpy(&d, p + 8 * i, 8); return d; }
    default: return (double)fm_meta_arr_i64(m, i);
    }
}

/* Floats read as integers: truncated, NaN as 0 and out-of-range values
 * clamped, since a hostile file must not reach an undefined conversion. */
static int64_t f64_to_i64(double d) {
    if (!(d == d)) return 0;
    if (d >= 9223372036854775807.0) return INT64_MAX;
    if (d <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)d;
}

int64_t fm_meta_arr_i64(const fm_meta *m, uint64_t i) {
    const uint8_t *p = m->arr;
    switch (m->elem_type) {
    case FM_META_U8: case FM_META_BOOL: return p[i];
    case FM_META_I8: return (int8_t)p[i];
    case FM_META_U16: { uint16_t x; memcpy(&x, p + 2 * i, 2); return x; }
    case FM_META_I16: { int16_t x; memcpy(&x, p + 2 * i, 2); return x; }
    case FM_META_U32: { uint32_t x; memcpy(&x, p + 4 * i, 4); return x; }
    case FM_META_I32: { int32_t x; memcpy(&x, p + 4 * i, 4); return x; }
    case FM_META_U64: case FM_META_I64: { int64_t x; memcpy(&x, p + 8 * i, 8); return x; }
    case FM_META_F32: { float f; memcpy(&f, p + 4 * i, 4); return f64_to_i64(f); }
    case FM_META_F64: { double d; memcpy(&d, p + 8 * i, 8); return f64_to_i64(d); }
    default: return 0;
    }
}
