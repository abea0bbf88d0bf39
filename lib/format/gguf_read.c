/* GGUF v2/v3 reader. The file is untrusted: every read goes through a cursor
 * that checks the remaining length first, and every count is checked against
 * what the rest of the file could possibly hold before anything is allocated
 * for it. */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "dtype.h"
#include "model_file.h"

#define GGUF_MAGIC 0x46554747u /* "GGUF" little-endian */
#define GGUF_DEFAULT_ALIGNMENT 32u
#define GGUF_MAX_DIMS 4u
#define GGUF_MAX_ARRAY_DEPTH 8

typedef struct cursor {
    const uint8_t *base;
    size_t size;
    size_t off;
    const char *path;
} cursor;

static size_t remaining(const cursor *c) { return c->size - c->off; }

static fm_status need(const cursor *c, uint64_t n, const char *what) {
    if (n > remaining(c))
        return fm_error(FM_STATUS_BAD_FORMAT,
                        "'%s': truncated GGUF: %s at offset %zu needs %llu bytes, %zu left",
                        c->path, what, c->off, (unsigned long long)n, remaining(c));
    return FM_STATUS_OK;
}

static fm_status rd_u32(cursor *c, uint32_t *v, const char *what) {
    fm_status s = need(c, 4, what);
    if (s) return s;
    memcpy(v, c->base + c->off, 4);
    c->off += 4;
    return FM_STATUS_OK;
}

static fm_status rd_u64(cursor *c, uint64_t *v, const char *what) {
    fm_status s = need(c, 8, what);
    if (s) return s;
    memcpy(v, c->base + c->off, 8);
    c->off += 8;
    return FM_STATUS_OK;
}

static fm_status rd_str(cursor *c, fm_str *out, const char *what) {
    uint64_t len;
    fm_status s = rd_u64(c, &len, what);
    if (s) return s;
    if (len > remaining(c))
        return fm_error(FM_STATUS_BAD_FORMAT,
                        "'%s': %s at offset %zu has length %llu but only %zu bytes follow",
                        c->path, what, c->off - 8, (unsigned long long)len, remaining(c));
    out->ptr = (const char *)c->base + c->off;
    out->len = (size_t)len;
    c->off += (size_t)len;
    return FM_STATUS_OK;
}

/* Reads a scalar of `type` at the cursor into m->v. */
static fm_status rd_scalar(cursor *c, uint32_t type, fm_meta *m, const char *key) {
    size_t n = fm_meta_scalar_size(type);
    fm_status s = need(c, n, key);
    if (s) return s;
    const uint8_t *p = c->base + c->off;
    c->off += n;
    switch (type) {
    case FM_META_U8: m->v.u = p[0]; break;
    case FM_META_I8: m->v.i = (int8_t)p[0]; break;
    case FM_META_BOOL:
        if (p[0] > 1)
            return fm_error(FM_STATUS_BAD_FORMAT, "'%s': key '%s' has bool value %u",
                            c->path, key, p[0]);
        m->v.u = p[0];
        break;
    case FM_META_U16: { uint16_t x; memcpy(&x, p, 2); m->v.u = x; break; }
    case FM_META_I16: { int16_t x; memcpy(&x, p, 2); m->v.i = x; break; }
    case FM_META_U32: { uint32_t x; memcpy(&x, p, 4); m->v.u = x; break; }
    case FM_META_I32: { int32_t x; memcpy(&x, p, 4); m->v.i = x; break; }
    case FM_META_F32: { float x; memcpy(&x, p, 4); m->v.f = x; break; }
    case FM_META_U64: memcpy(&m->v.u, p, 8); break;
    case FM_META_I64: memcpy(&m->v.i, p, 8); break;
    case FM_META_F64: memcpy(&m->v.f, p, 8); break;
    default: break;
    }
    return FM_STATUS_OK;
}

/* Skips over an array's elements (used for nested arrays, which no model
 * key needs today but which a valid file may contain). */
static fm_status skip_array(cursor *c, const char *key, int depth) {
    if (depth > GGUF_MAX_ARRAY_DEPTH)
        return fm_error(FM_STATUS_BAD_FORMAT, "'%s': key '%s' nests arrays too deeply", c->path, key);
    uint32_t et;
    uint64_t n;
    fm_status s = rd_u32(c, &et, key);
    if (!s) s = rd_u64(c, &n, key);
    if (s) return s;
    if (et == FM_META_STRING) {
        for (uint64_t i = 0; i < n; i++) {
            fm_str tmp;
            if ((s = rd_str(c, &tmp, key))) return s;
        }
    } else if (et == FM_META_ARRAY) {
        for (uint64_t i = 0; i < n; i++)
            if ((s = skip_array(c, key, depth + 1))) return s;
    } else {
        size_t es = fm_meta_scalar_size(et);
        if (es == 0)
            return fm_error(FM_STATUS_BAD_FORMAT, "'%s': key '%s' has unknown array element type %u",
                            c->path, key, et);
        if (n > remaining(c) / es) return need(c, UINT64_MAX, key);
        c->off += (size_t)(n * es);
    }
    return FM_STATUS_OK;
}

static fm_status rd_array(cursor *c, fm_meta *m, const char *key) {
    fm_status s = rd_u32(c, &m->elem_type, key);
    if (!s) s = rd_u64(c, &m->n, key);
    if (s) return s;
    const size_t start = c->off;
    if (m->elem_type == FM_META_STRING) {
        /* every string takes at least its 8-byte length */
        if (m->n > remaining(c) / 8)
            return fm_error(FM_STATUS_BAD_FORMAT,
                            "'%s': key '%s' claims %llu strings, more than the file can hold",
                            c->path, key, (unsigned long long)m->n);
        m->strs = fm_malloc((m->n ? m->n : 1) * sizeof *m->strs);
        if (m->strs == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory reading key '%s'", key);
        for (uint64_t i = 0; i < m->n; i++)
            if ((s = rd_str(c, &m->strs[i], key))) return s;
    } else if (m->elem_type == FM_META_ARRAY) {
        for (uint64_t i = 0; i < m->n; i++)
            if ((s = skip_array(c, key, 1))) return s;
    } else {
        size_t es = fm_meta_scalar_size(m->elem_type);
        if (es == 0)
            return fm_error(FM_STATUS_BAD_FORMAT, "'%s': key '%s' has unknown array element type %u",
                            c->path, key, m->elem_type);
        if (m->n > remaining(c) / es)
            return fm_error(FM_STATUS_BAD_FORMAT,
                            "'%s': key '%s' claims %llu elements, more than the file can hold",
                            c->path, key, (unsigned long long)m->n);
        c->off += (size_t)(m->n * es);
    }
    m->arr = c->base + start;
    return FM_STATUS_OK;
}

static fm_status rd_meta(cursor *c, fm_meta *m) {
    fm_status s = rd_str(c, &m->key, "metadata key");
    if (s) return s;
    char key[128];
    size_t kl = m->key.len < sizeof key - 1 ? m->key.len : sizeof key - 1;
    memcpy(key, m->key.ptr, kl);
    key[kl] = '\0';
    if ((s = rd_u32(c, &m->type, key))) return s;
    switch (m->type) {
    case FM_META_STRING: return rd_str(c, &m->v.s, key);
    case FM_META_ARRAY: return rd_array(c, m, key);
    default:
        if (fm_meta_scalar_size(m->type) == 0)
            return fm_error(FM_STATUS_BAD_FORMAT, "'%s': key '%s' has unknown value type %u",
                            c->path, key, m->type);
        return rd_scalar(c, m->type, m, key);
    }
}

static fm_status rd_tensor_info(cursor *c, fm_tensor_info *t, size_t index) {
    fm_status s = rd_str(c, &t->name, "tensor name");
    if (s) return s;
    if (t->name.len == 0 || t->name.len > 255)
        return fm_error(FM_STATUS_BAD_FORMAT, "'%s': tensor %zu has a name of length %zu",
                        c->path, index, t->name.len);
    const int nl = (int)t->name.len;
    if ((s = rd_u32(c, &t->n_dims, "tensor dims"))) return s;
    if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)
        return fm_error(FM_STATUS_BAD_FORMAT, "'%s': tensor '%.*s' has %u dimensions (1..4 allowed)",
                        c->path, nl, t->name.ptr, t->n_dims);
    uint64_t total = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        uint64_t ne = 1;
        if (d < t->n_dims && (s = rd_u64(c, &ne, "tensor shape"))) return s;
        /* 2^40 elements per dimension is far beyond any file this size */
        if (ne == 0 || ne > (1ull << 40) || total > (UINT64_MAX >> 1) / ne)
            return fm_error(FM_STATUS_BAD_FORMAT, "'%s': tensor '%.*s' has dimension %u of size %llu",
                            c->path, nl, t->name.ptr, d, (unsigned long long)ne);
        total *= ne;
        t->ne[d] = (int64_t)ne;
    }
    if ((s = rd_u32(c, &t->dtype, "tensor type"))) return s;
    const fm_dtype_traits *tr = fm_dtype_get(t->dtype);
    if (tr == NULL)
        return fm_error(FM_STATUS_BAD_FORMAT, "'%s': tensor '%.*s' has unknown type %u",
                        c->path, nl, t->name.ptr, t->dtype);
    if (t->ne[0] % tr->block_elems != 0)
        return fm_error(FM_STATUS_BAD_FORMAT,
                        "'%s': tensor '%.*s' row of %lld is not a multiple of the %s block (%u)",
                        c->path, nl, t->name.ptr, (long long)t->ne[0], tr->name, tr->block_elems);
    /* the element count fits, its bytes may not: [2^40, 2^22] f32 would wrap to 0 */
    if (total / tr->block_elems > UINT64_MAX / tr->block_bytes)
        return fm_error(FM_STATUS_BAD_FORMAT, "'%s': tensor '%.*s' of %llu elements is too large (its bytes overflow)",
                        c->path, nl, t->name.ptr, (unsigned long long)total);
    t->nbytes = total / tr->block_elems * tr->block_bytes;
    uint64_t off;
    if ((s = rd_u64(c, &off, "tensor offset"))) return s;
    t->data = (const uint8_t *)(uintptr_t)off; /* made absolute once the data start is known */
    return FM_STATUS_OK;
}

static int cmp_str(fm_str a, fm_str b) {
    int r = memcmp(a.ptr, b.ptr, a.len < b.len ? a.len : b.len);
    return r ? r : (a.len > b.len) - (a.len < b.len);
}

/* qsort has no context argument: the arrays being sorted are of pointers. */
static int cmp_meta_key(const void *a, const void *b) {
    return cmp_str((*(const fm_meta *const *)a)->key, (*(const fm_meta *const *)b)->key);
}

static int cmp_tensor_name(const void *a, const void *b) {
    return cmp_str((*(const fm_tensor_info *const *)a)->name, (*(const fm_tensor_info *const *)b)->name);
}

static int cmp_tensor_data(const void *a, const void *b) {
    const uint8_t *x = (*(const fm_tensor_info *const *)a)->data, *y = (*(const fm_tensor_info *const *)b)->data;
    return (x > y) - (x < y);
}

/* A key or tensor name given twice makes the file ambiguous: which one a
 * reader sees would depend on the reader. Sorting keeps this n log n. */
static fm_status check_unique(const fm_model_file *mf, const char *path) {
    const size_t n = mf->n_meta > mf->n_tensors ? mf->n_meta : mf->n_tensors;
    const void **v = fm_malloc((n ? n : 1) * sizeof *v);
    if (v == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory reading '%s'", path);
    fm_status s = FM_STATUS_OK;
    for (size_t i = 0; i < mf->n_meta; i++) v[i] = &mf->meta[i];
    qsort(v, mf->n_meta, sizeof *v, cmp_meta_key);
    for (size_t i = 1; i < mf->n_meta && !s; i++) {
        const fm_str k = ((const fm_meta *)v[i])->key;
        if (cmp_str(((const fm_meta *)v[i - 1])->key, k) == 0)
            s = fm_error(FM_STATUS_BAD_FORMAT, "'%s': metadata key '%.*s' appears twice", path, (int)k.len, k.ptr);
    }
    for (size_t i = 0; i < mf->n_tensors && !s; i++) v[i] = &mf->tensors[i];
    if (!s) qsort(v, mf->n_tensors, sizeof *v, cmp_tensor_name);
    for (size_t i = 1; i < mf->n_tensors && !s; i++) {
        const fm_str k = ((const fm_tensor_info *)v[i])->name;
        if (cmp_str(((const fm_tensor_info *)v[i - 1])->name, k) == 0)
            s = fm_error(FM_STATUS_BAD_FORMAT, "'%s': tensor '%.*s' appears twice", path, (int)k.len, k.ptr);
    }
    free(v);
    return s;
}

/* Two tensors sharing bytes would let a write-through of one (none today,
 * but a backend may repack) corrupt the other, and no converter makes such
 * files. Empty tensors cannot exist (every dimension is >= 1). */
static fm_status check_overlap(const fm_model_file *mf, const char *path) {
    const fm_tensor_info **v = fm_malloc((mf->n_tensors ? mf->n_tensors : 1) * sizeof *v);
    if (v == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory reading '%s'", path);
    for (size_t i = 0; i < mf->n_tensors; i++) v[i] = &mf->tensors[i];
    qsort(v, mf->n_tensors, sizeof *v, cmp_tensor_data);
    fm_status s = FM_STATUS_OK;
    for (size_t i = 1; i < mf->n_tensors && !s; i++)
        if (v[i - 1]->data + v[i - 1]->nbytes > v[i]->data)
            s = fm_error(FM_STATUS_BAD_FORMAT, "'%s': the data of tensors '%.*s' and '%.*s' overlap", path,
                         (int)v[i - 1]->name.len, v[i - 1]->name.ptr, (int)v[i]->name.len, v[i]->name.ptr);
    free(v);
    return s;
}

int fm_gguf_has_magic(const fm_mapped_file *map) {
    uint32_t magic;
    if (map->size < 4) return 0;
    memcpy(&magic, map->data, 4);
    return magic == GGUF_MAGIC;
}

fm_status fm_gguf_parse(fm_model_file *mf, const char *path) {
    cursor c = {mf->map.data, mf->map.size, 0, path};
    uint32_t magic;
    uint64_t n_tensors, n_meta;
    fm_status s = rd_u32(&c, &magic, "magic");
    if (s) return s;
    if (magic != GGUF_MAGIC) return fm_error(FM_STATUS_BAD_FORMAT, "'%s' is not a GGUF file", path);
    if ((s = rd_u32(&c, &mf->version, "version"))) return s;
    if (mf->version < 2 || mf->version > 3)
        return fm_error(FM_STATUS_UNSUPPORTED, "'%s': GGUF version %u is not supported (2 and 3 are)",
                        path, mf->version);
    if ((s = rd_u64(&c, &n_tensors, "tensor count"))) return s;
    if ((s = rd_u64(&c, &n_meta, "metadata count"))) return s;
    /* a key takes at least 12 bytes, a tensor entry at least 32 */
    if (n_meta > remaining(&c) / 12 || n_tensors > remaining(&c) / 32)
        return fm_error(FM_STATUS_BAD_FORMAT,
                        "'%s': header claims %llu keys and %llu tensors, more than the file can hold",
                        path, (unsigned long long)n_meta, (unsigned long long)n_tensors);
    mf->meta = fm_calloc(n_meta ? n_meta : 1, sizeof *mf->meta);
    mf->tensors = fm_calloc(n_tensors ? n_tensors : 1, sizeof *mf->tensors);
    if (mf->meta == NULL || mf->tensors == NULL)
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory reading '%s'", path);
    for (uint64_t i = 0; i < n_meta; i++) {
        mf->n_meta = i + 1; /* so a partly read entry is freed too */
        if ((s = rd_meta(&c, &mf->meta[i]))) return s;
    }
    for (uint64_t i = 0; i < n_tensors; i++) {
        if ((s = rd_tensor_info(&c, &mf->tensors[i], i))) return s;
        mf->n_tensors = i + 1;
    }
    if ((s = check_unique(mf, path))) return s;

    uint32_t alignment = GGUF_DEFAULT_ALIGNMENT;
    const fm_meta *am = fm_model_file_meta(mf, "general.alignment");
    if (am != NULL) {
        if (am->type != FM_META_U32 || am->v.u == 0 || (am->v.u & (am->v.u - 1)) != 0 || am->v.u > 65536)
            return fm_error(FM_STATUS_BAD_FORMAT, "'%s': general.alignment must be a power of two u32", path);
        alignment = (uint32_t)am->v.u;
    }
    size_t data_start = (c.off + alignment - 1) / alignment * alignment;
    if (n_tensors > 0 && data_start > mf->map.size)
        return fm_error(FM_STATUS_BAD_FORMAT, "'%s': truncated before the tensor data", path);
    const uint64_t data_size = n_tensors > 0 ? mf->map.size - data_start : 0;
    for (size_t i = 0; i < mf->n_tensors; i++) {
        fm_tensor_info *t = &mf->tensors[i];
        uint64_t off = (uint64_t)(uintptr_t)t->data;
        if (off % alignment != 0)
            return fm_error(FM_STATUS_BAD_FORMAT, "'%s': tensor '%.*s' offset %llu is not aligned to %u",
                            path, (int)t->name.len, t->name.ptr, (unsigned long long)off, alignment);
        if (off > data_size || t->nbytes > data_size - off)
            return fm_error(FM_STATUS_BAD_FORMAT,
                            "'%s': tensor '%.*s' (%llu bytes at data offset %llu) runs past the end of the file",
                            path, (int)t->name.len, t->name.ptr, (unsigned long long)t->nbytes,
                            (unsigned long long)off);
        t->data = mf->map.data + data_start + off;
    }
    return check_overlap(mf, path);
}
