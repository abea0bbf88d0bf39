/* The neutral description every container reader produces: metadata
 * key/values and a tensor directory over one mapped file. The model and
 * tokenizer layers read only this, never a container format directly. */
#ifndef FM_FORMAT_MODEL_FILE_H
#define FM_FORMAT_MODEL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/mapped_file.h"
#include "fm.h"

/* Metadata value types; the numbers are GGUF's. */
typedef enum fm_meta_type {
    FM_META_U8 = 0,
    FM_META_I8 = 1,
    FM_META_U16 = 2,
    FM_META_I16 = 3,
    FM_META_U32 = 4,
    FM_META_I32 = 5,
    FM_META_F32 = 6,
    FM_META_BOOL = 7,
    FM_META_STRING = 8,
    FM_META_ARRAY = 9,
    FM_META_U64 = 10,
    FM_META_I64 = 11,
    FM_META_F64 = 12,
    FM_META_TYPE_COUNT
} fm_meta_type;

typedef struct fm_str {
    const char *ptr; /* not NUL-terminated */
    size_t len;
} fm_str;

typedef struct fm_meta {
    fm_str key;
    uint32_t type;      /* fm_meta_type */
    uint32_t elem_type; /* arrays: type of the elements */
    uint64_t n;         /* arrays: element count */
    union {
        uint64_t u;
        int64_t i;
        double f;
        fm_str s;
    } v;                 /* scalars and strings */
    const uint8_t *arr;  /* arrays of numbers: packed little-endian elements */
    fm_str *strs;        /* arrays of strings: one entry per element (owned) */
} fm_meta;

typedef struct fm_tensor_info {
    fm_str name;
    uint32_t n_dims;
    uint32_t dtype;     /* fm_dtype */
    int64_t ne[4];      /* ne[0] is the fastest-varying dimension */
    const uint8_t *data;
    uint64_t nbytes;
} fm_tensor_info;

typedef enum fm_file_kind { FM_FILE_GGUF = 1, FM_FILE_LLAMA2C = 2 } fm_file_kind;

typedef struct fm_model_file {
    fm_file_kind kind;
    uint32_t version;
    fm_mapped_file map;
    size_t n_meta;
    fm_meta *meta;
    size_t n_tensors;
    fm_tensor_info *tensors;
    char *strings; /* owned storage for synthesized names (llama2.c) */
    int borrowed;  /* map points at the caller's memory: not unmapped */
} fm_model_file;

/* Opens a GGUF file or a llama2.c checkpoint, picked by content. Every count,
 * length, offset and shape is checked against the file size. */
fm_status fm_model_file_open(const char *path, fm_model_file **out);
void fm_model_file_close(fm_model_file *mf);
/* The same over `size` bytes at `data`, borrowed (they must outlive the
 * result); `name` stands for the path in messages. */
fm_status fm_model_file_open_memory(const void *data, size_t size, const char *name, fm_model_file **out);

/* Container readers behind fm_model_file_open(); `mf` already holds the map. */
fm_status fm_gguf_parse(fm_model_file *mf, const char *path);
fm_status fm_llama2c_parse(fm_model_file *mf, const char *path);
int fm_gguf_has_magic(const fm_mapped_file *map);

const fm_meta *fm_model_file_meta(const fm_model_file *mf, const char *key);
const fm_tensor_info *fm_model_file_tensor(const fm_model_file *mf, const char *name);

/* Typed getters. A missing key gives NOT_FOUND without touching *out and
 * without an error message, so optional keys read as
 * `if (fm_meta_get_u32(...) == FM_STATUS_NOT_FOUND) use default`. A key of the
 * wrong type or out of range gives BAD_FORMAT naming the key. */
fm_status fm_meta_get_u32(const fm_model_file *mf, const char *key, uint32_t *out);
fm_status fm_meta_get_i64(const fm_model_file *mf, const char *key, int64_t *out);
fm_status fm_meta_get_f32(const fm_model_file *mf, const char *key, float *out);
fm_status fm_meta_get_bool(const fm_model_file *mf, const char *key, int *out);
fm_status fm_meta_get_str(const fm_model_file *mf, const char *key, fm_str *out);

/* Element i of a numeric array as double / int64 (caller checks i < n). */
double fm_meta_arr_f64(const fm_meta *m, uint64_t i);
int64_t fm_meta_arr_i64(const fm_meta *m, uint64_t i);
int fm_meta_is_integer_type(uint32_t type);
/* Bytes of a scalar of that type; 0 for strings, arrays and unknown types. */
size_t fm_meta_scalar_size(uint32_t type);
int fm_meta_is_float_type(uint32_t type);

int fm_str_eq(fm_str a, const char *b);

#endif
