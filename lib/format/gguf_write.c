/* GGUF v3 writer (see gguf_write.h). Metadata and tensor entries are
 * serialized into memory until the first data byte; then the header goes
 * out and data streams straight to the file, padded to the alignment. */
#include "gguf_write.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "dtype.h"

#define ALIGNMENT 32u

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

struct fm_gguf_writer {
    FILE *f;
    char *path;
    buf kv, ti;
    uint64_t n_kv, n_tensors;
    uint64_t *sizes;   /* bytes of each declared tensor */
    uint64_t data_end; /* offset after the last declared tensor (padded) */
    int header_done;
    uint64_t cur, cur_written; /* tensor being written and its bytes so far */
    fm_status err;
};

static int put(buf *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        uint8_t *q = fm_realloc(b->p, cap);
        if (q == NULL) return 0;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    return 1;
}

static int put_u32(buf *b, uint32_t v) { return put(b, &v, 4); } /* little-endian hosts only */
static int put_u64(buf *b, uint64_t v) { return put(b, &v, 8); }
static int put_str(buf *b, const char *s, size_t n) { return put_u64(b, n) && put(b, s, n); }

static fm_status oom(fm_gguf_writer *w) { return w->err = fm_error(FM_STATUS_NO_MEMORY, "out of memory writing '%s'", w->path); }

fm_status fm_gguf_writer_open(const char *path, fm_gguf_writer **out) {
    *out = NULL;
    fm_gguf_writer *w = fm_calloc(1, sizeof *w);
    if (w == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory");
    w->path = fm_malloc(strlen(path) + 1);
    if (w->path) memcpy(w->path, path, strlen(path) + 1);
    w->f = fopen(path, "wb");
    if (w->f == NULL || w->path == NULL) {
        fm_status s = fm_error(FM_STATUS_IO, "cannot create '%s': %s", path, strerror(errno));
        if (w->f) fclose(w->f);
        free(w->path);
        free(w);
        return s;
    }
    *out = w;
    return FM_STATUS_OK;
}

static fm_status begin_kv(fm_gguf_writer *w, const char *key, uint32_t type) {
    if (w->err) return w->err;
    if (w->header_done) return w->err = fm_error(FM_STATUS_INVALID_ARGUMENT, "metadata after tensor data");
    if (!put_str(&w->kv, key, strlen(key)) || !put_u32(&w->kv, type)) return oom(w);
    w->n_kv++;
    return FM_STATUS_OK;
}

fm_status fm_gguf_add_u32(fm_gguf_writer *w, const char *key, uint32_t v) {
    fm_status s = begin_kv(w, key, FM_META_U32);
    return s ? s : put_u32(&w->kv, v) ? FM_STATUS_OK : oom(w);
}

fm_status fm_gguf_add_f32(fm_gguf_writer *w, const char *key, float v) {
    fm_status s = begin_kv(w, key, FM_META_F32);
    return s ? s : put(&w->kv, &v, 4) ? FM_STATUS_OK : oom(w);
}

fm_status fm_gguf_add_str(fm_gguf_writer *w, const char *key, const char *v) {
    fm_status s = begin_kv(w, key, FM_META_STRING);
    return s ? s : put_str(&w->kv, v, strlen(v)) ? FM_STATUS_OK : oom(w);
}

fm_status fm_gguf_add_meta(fm_gguf_writer *w, const fm_meta *m) {
    if (w->err) return w->err;
    if (w->header_done) return w->err = fm_error(FM_STATUS_INVALID_ARGUMENT, "metadata after tensor data");
    if (!put_str(&w->kv, m->key.ptr, m->key.len) || !put_u32(&w->kv, m->type)) return oom(w);
    int ok = 1;
    if (m->type == FM_META_STRING) {
        ok = put_str(&w->kv, m->v.s.ptr, m->v.s.len);
    } else if (m->type == FM_META_ARRAY) {
        ok = put_u32(&w->kv, m->elem_type) && put_u64(&w->kv, m->n);
        if (m->elem_type == FM_META_STRING) {
            for (uint64_t i = 0; i < m->n && ok; i++) ok = put_str(&w->kv, m->strs[i].ptr, m->strs[i].len);
        } else if (fm_meta_scalar_size(m->elem_type) != 0) {
            ok = ok && put(&w->kv, m->arr, (size_t)m->n * fm_meta_scalar_size(m->elem_type));
        } else {
            return w->err = fm_error(FM_STATUS_UNSUPPORTED, "cannot copy nested array '%.*s'", (int)m->key.len,
                                     m->key.ptr);
        }
    } else {
        const size_t n = fm_meta_scalar_size(m->type);
        uint8_t v[8];
        if (m->type == FM_META_F32) {
            float f = (float)m->v.f;
            memcpy(v, &f, 4);
        } else if (m->type == FM_META_F64) {
            memcpy(v, &m->v.f, 8);
        } else {
            memcpy(v, &m->v.u, 8); /* the low bytes hold the value on little-endian hosts */
        }
        ok = put(&w->kv, v, n);
    }
    if (!ok) return oom(w);
    w->n_kv++;
    return FM_STATUS_OK;
}

fm_status fm_gguf_add_tensor(fm_gguf_writer *w, const char *name, uint32_t n_dims, const int64_t *ne, uint32_t dtype) {
    if (w->err) return w->err;
    const fm_dtype_traits *t = fm_dtype_get(dtype);
    if (w->header_done || n_dims == 0 || n_dims > 4 || t == NULL)
        return w->err = fm_error(FM_STATUS_INVALID_ARGUMENT, "bad tensor declaration '%s'", name);
    uint64_t elems = 1;
    for (uint32_t d = 0; d < n_dims; d++) elems *= (uint64_t)ne[d];
    if (ne[0] % t->block_elems != 0)
        return w->err = fm_error(FM_STATUS_INVALID_ARGUMENT, "tensor '%s': %lld is not a multiple of the %s block",
                                 name, (long long)ne[0], t->name);
    const uint64_t bytes = elems / t->block_elems * t->block_bytes;
    uint64_t *sizes = fm_realloc(w->sizes, (w->n_tensors + 1) * sizeof *sizes);
    if (sizes == NULL) return oom(w);
    w->sizes = sizes;
    sizes[w->n_tensors++] = bytes;
    int ok = put_str(&w->ti, name, strlen(name)) && put_u32(&w->ti, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) ok = ok && put_u64(&w->ti, (uint64_t)ne[d]);
    ok = ok && put_u32(&w->ti, dtype) && put_u64(&w->ti, w->data_end);
    if (!ok) return oom(w);
    w->data_end += (bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    return FM_STATUS_OK;
}

static fm_status io_error(fm_gguf_writer *w) {
    return w->err = fm_error(FM_STATUS_IO, "cannot write '%s': %s", w->path, strerror(errno));
}

static const uint8_t zeros[ALIGNMENT];

static fm_status write_header(fm_gguf_writer *w) {
    buf h = {0};
    int ok = put_u32(&h, 0x46554747u) && put_u32(&h, 3) && put_u64(&h, w->n_tensors) && put_u64(&h, w->n_kv);
    if (!ok) {
        free(h.p);
        return oom(w);
    }
    const size_t head = h.n + w->kv.n + w->ti.n;
    const size_t pad = (ALIGNMENT - head % ALIGNMENT) % ALIGNMENT;
    ok = fwrite(h.p, 1, h.n, w->f) == h.n && fwrite(w->kv.p, 1, w->kv.n, w->f) == w->kv.n &&
         fwrite(w->ti.p, 1, w->ti.n, w->f) == w->ti.n && fwrite(zeros, 1, pad, w->f) == pad;
    free(h.p);
    w->header_done = 1;
    return ok ? FM_STATUS_OK : io_error(w);
}

fm_status fm_gguf_write_data(fm_gguf_writer *w, const void *data, size_t n) {
    if (w->err) return w->err;
    if (!w->header_done && write_header(w)) return w->err;
    const uint8_t *p = data;
    while (n > 0) {
        if (w->cur >= w->n_tensors)
            return w->err = fm_error(FM_STATUS_INVALID_ARGUMENT, "'%s': more data than the tensors hold", w->path);
        const uint64_t left = w->sizes[w->cur] - w->cur_written;
        const size_t k = n < left ? n : (size_t)left;
        if (fwrite(p, 1, k, w->f) != k) return io_error(w);
        p += k, n -= k, w->cur_written += k;
        if (w->cur_written == w->sizes[w->cur]) {
            const size_t pad = (ALIGNMENT - w->sizes[w->cur] % ALIGNMENT) % ALIGNMENT;
            if (fwrite(zeros, 1, pad, w->f) != pad) return io_error(w);
            w->cur++;
            w->cur_written = 0;
        }
    }
    return FM_STATUS_OK;
}

fm_status fm_gguf_writer_close(fm_gguf_writer *w) {
    fm_status s = w->err;
    if (!s && !w->header_done) s = write_header(w);
    if (!s && w->cur != w->n_tensors)
        s = fm_error(FM_STATUS_INVALID_ARGUMENT, "'%s': tensor %llu of %llu has no data", w->path,
                     (unsigned long long)w->cur, (unsigned long long)w->n_tensors);
    if (fclose(w->f) != 0 && !s) s = fm_error(FM_STATUS_IO, "cannot write '%s': %s", w->path, strerror(errno));
    free(w->kv.p);
    free(w->ti.p);
    free(w->sizes);
    free(w->path);
    free(w);
    return s;
}
