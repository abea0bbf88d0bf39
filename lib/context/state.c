/* Saved states: a context's cells (or one sequence's) in a versioned,
 * checksummed, zstd-compressed format (docs/formats.md "Saved states").
 *
 *   header (88 bytes, little-endian), then zsize bytes of zstd frame whose
 *   content is:
 *     pos[n_cells] (i32), tok[n_cells] (i32), for whole states
 *     seqset[n_cells] (32 bytes each)
 *     for whole states: logit_row[n_last] (i32), logits[n_rows][n_vocab] (f32)
 *     rows: for each layer the K rows of the used cells, then the V rows,
 *           in blocks of whole rows (about 256 Ki elements), each block as
 *           byte planes (byte 0 of its elements, then byte 1, ...)
 *
 * Saving and loading stream through zstd a block at a time, so neither
 * holds a second copy of the cache (docs/performance.md: MB/s).
 *
 * Byte planes: a float's sign/exponent byte repeats far more than its
 * low mantissa bytes, and zstd finds that only when equal bytes sit
 * together (docs/performance.md has the measured ratios). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "../core/alloc.h"
#include "../core/atomic_file.h"
#include "../core/error.h"
#include "../core/hash64.h"
#include "../core/mapped_file.h"
#include "context_impl.h"

#define STATE_MAGIC "FMSTATE\0"
#define STATE_VERSION 1u
#define HEADER_BYTES 88
#define KIND_ALL 0u
#define KIND_SEQ 1u
#define LAYOUT_PLANES 1u
#define ZSTD_LEVEL 1

typedef struct state_header {
    uint32_t version, kind;
    uint64_t fingerprint;
    uint32_t n_layer, row, kv_type, n_cells, n_seq_max, layout, n_rows, n_vocab;
    uint64_t raw_size, zsize, checksum;
    uint32_t n_last, reserved;
} state_header;

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void write_header(uint8_t *b, const state_header *h) {
    memset(b, 0, HEADER_BYTES);
    memcpy(b, STATE_MAGIC, 8);
    put32(b + 8, h->version), put32(b + 12, h->kind), put64(b + 16, h->fingerprint);
    put32(b + 24, h->n_layer), put32(b + 28, h->row), put32(b + 32, h->kv_type), put32(b + 36, h->n_cells);
    put32(b + 40, h->n_seq_max), put32(b + 44, h->layout), put32(b + 48, h->n_rows), put32(b + 52, h->n_vocab);
    put64(b + 56, h->raw_size), put64(b + 64, h->zsize), put64(b + 72, h->checksum);
    put32(b + 80, h->n_last), put32(b + 84, h->reserved);
}

static void read_header(const uint8_t *b, state_header *h) {
    h->version = get32(b + 8), h->kind = get32(b + 12), h->fingerprint = get64(b + 16);
    h->n_layer = get32(b + 24), h->row = get32(b + 28), h->kv_type = get32(b + 32), h->n_cells = get32(b + 36);
    h->n_seq_max = get32(b + 40), h->layout = get32(b + 44), h->n_rows = get32(b + 48), h->n_vocab = get32(b + 52);
    h->raw_size = get64(b + 56), h->zsize = get64(b + 64), h->checksum = get64(b + 72);
    h->n_last = get32(b + 80), h->reserved = get32(b + 84);
}

/* The checksum covers the header (its checksum field as zero) and the
 * compressed payload. */
static uint64_t checksum(const uint8_t *header, const uint8_t *payload, size_t zsize) {
    uint8_t h[HEADER_BYTES];
    memcpy(h, header, HEADER_BYTES);
    memset(h + 72, 0, 8);
    fm_hash64 st;
    fm_hash64_init(&st, 0x73746174);
    fm_hash64_update(&st, h, HEADER_BYTES);
    fm_hash64_update(&st, payload, zsize);
    return fm_hash64_final(&st);
}

/* The raw payload's size for a header's counts, or 0 on overflow. */
static uint64_t raw_size_of(const state_header *h, uint64_t n_used, size_t esize) {
    const uint64_t cells = (uint64_t)h->n_cells * (8u + (h->kind == KIND_ALL ? sizeof(fm_seqset) : 0u));
    const uint64_t logits = (uint64_t)h->n_last * 4u + (uint64_t)h->n_rows * h->n_vocab * 4u;
    const uint64_t rows = n_used * h->n_layer * 2u * h->row * esize;
    if (h->n_layer && h->row && n_used > UINT64_MAX / h->n_layer / 2u / h->row / esize) return 0;
    return cells + logits + rows;
}

/* Byte planes: element i's byte b goes to plane b, position i. */
static void to_planes(const uint8_t *src, uint8_t *dst, size_t n_elems, size_t esize) {
    if (esize == 2) {
        for (size_t i = 0; i < n_elems; i++) dst[i] = src[2 * i], dst[n_elems + i] = src[2 * i + 1];
    } else {
        for (size_t i = 0; i < n_elems; i++)
            for (size_t b = 0; b < esize; b++) dst[b * n_elems + i] = src[esize * i + b];
    }
}
static void from_planes(const uint8_t *src, uint8_t *dst, size_t n_elems, size_t esize) {
    if (esize == 2) {
        for (size_t i = 0; i < n_elems; i++) dst[2 * i] = src[i], dst[2 * i + 1] = src[n_elems + i];
    } else {
        for (size_t i = 0; i < n_elems; i++)
            for (size_t b = 0; b < esize; b++) dst[esize * i + b] = src[b * n_elems + i];
    }
}

static int planes_wanted(void) {
    const char *e = getenv("FM_STATE_PLANES"); /* for the measurements in docs/performance.md */
    return e == NULL || strcmp(e, "0") != 0;
}

static int zstd_level(void) {
    const char *e = getenv("FM_STATE_ZSTD_LEVEL");
    const int l = e ? atoi(e) : ZSTD_LEVEL;
    return l >= 1 && l <= 19 ? l : ZSTD_LEVEL;
}

static fm_status check_target(const fm_context *c, fm_seq_id seq, const char *fn) {
    if (c == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "%s: context is NULL", fn);
    if (seq != FM_STATE_ALL && (seq < 0 || seq >= c->n_seq_max))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "%s: sequence %d is outside 0..%d (or FM_STATE_ALL)", fn, seq,
                        c->n_seq_max - 1);
    return FM_STATUS_OK;
}

/* The cells a save covers: all of [0, hi) for a whole state (free ones
 * too, so that the cells come back where they were), else the sequence's
 * in cell order. */
static int32_t cells_of(const fm_context *c, fm_seq_id seq, int32_t *list, uint64_t *n_used) {
    const fm_kv_cache *kv = &c->kv;
    int32_t n = 0;
    *n_used = 0;
    for (int32_t i = 0; i < kv->hi; i++) {
        if (seq == FM_STATE_ALL) {
            list[n++] = i;
            if (kv->pos[i] >= 0) (*n_used)++;
        } else if (kv->pos[i] >= 0 && fm_seqset_has(&kv->seq[i], seq)) {
            list[n++] = i;
            (*n_used)++;
        }
    }
    return n;
}

/* The rows of a state, in order: layer, K then V, cell. */
#define BLOCK_ELEMS (256 * 1024)

typedef struct rows_plan {
    uint32_t n_used;      /* cells with rows */
    size_t row_bytes, es, total_rows, block_rows;
} rows_plan;

static rows_plan plan_rows(const fm_kv_cache *kv, uint32_t n_used) {
    rows_plan r;
    r.n_used = n_used, r.es = fm_kv_elem_size(kv), r.row_bytes = (size_t)kv->row * r.es;
    r.total_rows = (size_t)n_used * (size_t)kv->n_layer * 2;
    r.block_rows = kv->row > 0 && (size_t)kv->row < BLOCK_ELEMS ? BLOCK_ELEMS / (size_t)kv->row : 1;
    return r;
}

/* Row r's place: in the cache (cells[i] of the used cells), or, with
 * `flat`, at r in a buffer of rows. */
static uint8_t *row_at(const fm_kv_cache *kv, const rows_plan *rp, const int32_t *cells, uint8_t *flat, size_t r) {
    if (flat != NULL) return flat + r * rp->row_bytes;
    const size_t per_layer = 2 * (size_t)rp->n_used;
    const int32_t l = (int32_t)(r / per_layer);
    const int v = (int)((r % per_layer) / rp->n_used);
    return fm_kv_row(kv, v, l, cells[r % rp->n_used]);
}

/* Feeds src through the compressor into out; end finishes the frame. */
static fm_status feed(ZSTD_CCtx *z, ZSTD_outBuffer *out, const void *src, size_t n, int end) {
    ZSTD_inBuffer in = {src, n, 0};
    for (;;) {
        const size_t before = out->pos, at = in.pos;
        const size_t left = ZSTD_compressStream2(z, out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(left)) return fm_error(FM_STATUS_INTERNAL, "zstd: %s", ZSTD_getErrorName(left));
        if (end ? left == 0 : in.pos == in.size) return FM_STATUS_OK;
        if (out->pos == before && in.pos == at) return fm_error(FM_STATUS_INTERNAL, "zstd: the output bound was short");
    }
}

/* The header fields and the metadata section (positions, tokens, sets,
 * logits) of a save; the used cells' indices go to `used`. */
static fm_status describe(fm_context *c, fm_seq_id seq, state_header *h, uint8_t **meta, size_t *meta_len,
                          int32_t *used, uint32_t *n_used_out) {
    const fm_kv_cache *kv = &c->kv;
    uint64_t n_used;
    const int32_t n = cells_of(c, seq, c->placed, &n_used);
    memset(h, 0, sizeof *h);
    h->version = STATE_VERSION;
    h->kind = seq == FM_STATE_ALL ? KIND_ALL : KIND_SEQ;
    h->fingerprint = c->model->fingerprint;
    h->n_layer = (uint32_t)kv->n_layer, h->row = (uint32_t)kv->row, h->kv_type = kv->f16 ? FM_KV_F16 : FM_KV_F32;
    h->n_cells = (uint32_t)n, h->n_seq_max = seq == FM_STATE_ALL ? (uint32_t)c->n_seq_max : 0;
    h->layout = planes_wanted() ? LAYOUT_PLANES : 0;
    h->n_vocab = (uint32_t)c->model->hp.n_vocab;
    if (seq == FM_STATE_ALL) {
        h->n_last = (uint32_t)c->n_last;
        for (int32_t i = 0; i < c->n_last; i++)
            if (c->logit_row[i] >= 0) h->n_rows++;
    }
    h->raw_size = raw_size_of(h, n_used, fm_kv_elem_size(kv));
    *meta_len = (size_t)raw_size_of(h, 0, fm_kv_elem_size(kv));
    uint8_t *q = *meta = fm_malloc(*meta_len ? *meta_len : 1);
    if (q == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a state");
    uint32_t k = 0;
    for (int32_t i = 0; i < n; i++, q += 4) {
        const int32_t cell = c->placed[i];
        put32(q, (uint32_t)kv->pos[cell]);
        if (kv->pos[cell] >= 0) used[k++] = cell;
    }
    for (int32_t i = 0; i < n; i++, q += 4) put32(q, (uint32_t)(kv->pos[c->placed[i]] >= 0 ? kv->tok[c->placed[i]] : 0));
    if (seq == FM_STATE_ALL) {
        for (int32_t i = 0; i < n; i++, q += sizeof(fm_seqset)) memcpy(q, &kv->seq[c->placed[i]], sizeof(fm_seqset));
        for (int32_t i = 0; i < c->n_last; i++, q += 4) put32(q, (uint32_t)c->logit_row[i]);
        memcpy(q, c->logits, (size_t)h->n_rows * h->n_vocab * sizeof(float));
    }
    *n_used_out = k;
    return FM_STATUS_OK;
}

/* Header + compressed payload into out (cap bytes, at least the bound);
 * *len its size. */
static fm_status save_into(fm_context *c, fm_seq_id seq, const state_header *h0, const uint8_t *meta, size_t meta_len,
                           const int32_t *used, uint32_t n_used, uint8_t *out, size_t cap, size_t *len) {
    const fm_kv_cache *kv = &c->kv;
    state_header h = *h0;
    const rows_plan rp = plan_rows(kv, n_used);
    const size_t bb = rp.block_rows * rp.row_bytes;
    uint8_t *blk = fm_malloc(2 * bb);
    ZSTD_CCtx *z = ZSTD_createCCtx();
    fm_status s = FM_STATUS_OK;
    if (blk == NULL || z == NULL) {
        s = fm_error(FM_STATUS_NO_MEMORY, "out of memory for a state");
        goto done;
    }
    ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, zstd_level());
    ZSTD_CCtx_setPledgedSrcSize(z, h.raw_size);
    ZSTD_outBuffer ob = {out + HEADER_BYTES, cap - HEADER_BYTES, 0};
    if ((s = feed(z, &ob, meta, meta_len, 0))) goto done;
    for (size_t r0 = 0; r0 < rp.total_rows; r0 += rp.block_rows) {
        const size_t nr = rp.total_rows - r0 < rp.block_rows ? rp.total_rows - r0 : rp.block_rows;
        for (size_t r = 0; r < nr; r++) memcpy(blk + r * rp.row_bytes, row_at(kv, &rp, used, NULL, r0 + r), rp.row_bytes);
        const uint8_t *src = blk;
        if (h.layout & LAYOUT_PLANES) {
            to_planes(blk, blk + bb, nr * rp.row_bytes / rp.es, rp.es);
            src = blk + bb;
        }
        if ((s = feed(z, &ob, src, nr * rp.row_bytes, 0))) goto done;
    }
    if ((s = feed(z, &ob, NULL, 0, 1))) goto done;
    h.zsize = ob.pos;
    write_header(out, &h);
    put64(out + 72, checksum(out, out + HEADER_BYTES, ob.pos));
    *len = HEADER_BYTES + ob.pos;
done:
    (void)seq;
    ZSTD_freeCCtx(z);
    free(blk);
    return s;
}

/* A save into a malloc'd buffer of the bound, or into the caller's. */
static fm_status save_state(fm_context *c, fm_seq_id seq, uint8_t *buf, size_t capacity, uint8_t **owned,
                            size_t *n_bytes) {
    fm_status s = fm_context_reserve(c, (size_t)c->kv.n_cells);
    if (s) return s;
    int32_t *used = fm_malloc((size_t)(c->kv.n_cells ? c->kv.n_cells : 1) * sizeof *used);
    if (used == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a state");
    state_header h;
    uint8_t *meta = NULL;
    size_t meta_len = 0;
    uint32_t n_used = 0;
    if ((s = describe(c, seq, &h, &meta, &meta_len, used, &n_used))) goto done;
    const size_t bound = HEADER_BYTES + ZSTD_compressBound(h.raw_size);
    if (owned != NULL) {
        buf = *owned = fm_malloc(bound);
        capacity = bound;
        if (buf == NULL) {
            s = fm_error(FM_STATUS_NO_MEMORY, "out of memory for a state of %zu bytes", bound);
            goto done;
        }
    } else if (capacity < bound) {
        *n_bytes = bound;
        s = fm_error(FM_STATUS_BUFFER_TOO_SMALL, "a state needs up to %zu bytes, %zu given", bound, capacity);
        goto done;
    }
    s = save_into(c, seq, &h, meta, meta_len, used, n_used, buf, capacity, n_bytes);
done:
    free(meta), free(used);
    return s;
}

fm_status fm_context_state_save(fm_context *c, fm_seq_id seq, void *buf, size_t capacity, size_t *n_bytes) {
    fm_error_clear();
    fm_status s = check_target(c, seq, "fm_context_state_save");
    if (s) return s;
    if (n_bytes == NULL || (buf == NULL && capacity > 0))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_state_save: NULL argument");
    return save_state(c, seq, buf, capacity, NULL, n_bytes);
}

fm_status fm_context_state_save_file(fm_context *c, fm_seq_id seq, const char *path) {
    fm_error_clear();
    fm_status s = check_target(c, seq, "fm_context_state_save_file");
    if (s) return s;
    if (path == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_state_save_file: path is NULL");
    uint8_t *out = NULL;
    size_t len = 0;
    if (!(s = save_state(c, seq, NULL, 0, &out, &len))) {
        const void *parts[1] = {out};
        s = fm_write_file_atomic(path, parts, &len, 1);
    }
    free(out);
    return s;
}

/* ---- loading ---- */

typedef struct parsed {
    state_header h;
    uint8_t *meta; /* the decompressed metadata section */
    const uint8_t *pos, *tok, *seqs, *logit_row, *logits;
    uint32_t n_used;
    ZSTD_DCtx *z;
    ZSTD_inBuffer in; /* the compressed payload, read up to the rows */
    size_t last;      /* the decompressor's last answer: 0 once the frame is complete */
} parsed;

static fm_status bad(const char *what) { return fm_error(FM_STATUS_BAD_FORMAT, "not a valid libfm state: %s", what); }

/* Exactly n decompressed bytes into dst. */
static fm_status read_exact(parsed *P, void *dst, size_t n) {
    ZSTD_outBuffer out = {dst, n, 0};
    while (out.pos < out.size) {
        const size_t at = P->in.pos, was = out.pos;
        const size_t r = ZSTD_decompressStream(P->z, &out, &P->in);
        if (ZSTD_isError(r)) return bad("the compressed payload is damaged");
        P->last = r;
        if (out.pos == was && P->in.pos == at) return bad("the compressed payload ends early");
        if (r == 0 && out.pos < out.size) return bad("the compressed payload ends early");
    }
    return FM_STATUS_OK;
}

/* The frame must end where the payload does, with nothing more in it. */
static fm_status read_end(parsed *P) {
    if (P->last != 0) { /* the frame's last block or checksum not read yet */
        uint8_t extra;
        ZSTD_outBuffer out = {&extra, 1, 0};
        const size_t r = ZSTD_decompressStream(P->z, &out, &P->in);
        if (ZSTD_isError(r) || r != 0 || out.pos != 0) return bad("payload size");
    }
    if (P->in.pos != P->in.size) return bad("bytes after the compressed frame");
    return FM_STATUS_OK;
}

/* Every check that needs no change to the context, and the metadata
 * decompressed (the rows follow in P->in). */
static fm_status parse(const fm_context *c, fm_seq_id seq, const uint8_t *b, size_t len, parsed *P) {
    memset(P, 0, sizeof *P);
    const fm_kv_cache *kv = &c->kv;
    if (len < HEADER_BYTES || memcmp(b, STATE_MAGIC, 8) != 0)
        return len < HEADER_BYTES && len >= 8 && memcmp(b, STATE_MAGIC, 8) == 0 ? bad("truncated header")
                                                                                 : bad("no FMSTATE magic");
    state_header *h = &P->h;
    read_header(b, h);
    if (h->version > STATE_VERSION)
        return fm_error(FM_STATUS_UNSUPPORTED, "the state is of format version %u; this libfm reads up to %u",
                        h->version, STATE_VERSION);
    if (h->version == 0 || h->reserved != 0 || h->kind > KIND_SEQ || h->layout > LAYOUT_PLANES) return bad("header fields");
    if (h->zsize != len - HEADER_BYTES)
        return bad(h->zsize > len - HEADER_BYTES ? "truncated (payload shorter than its header says)"
                                                 : "bytes after the payload");
    if (checksum(b, b + HEADER_BYTES, len - HEADER_BYTES) != h->checksum) return bad("checksum mismatch (corrupted)");
    /* from here the bytes are what a save wrote: mismatches are the caller's */
    if ((h->kind == KIND_ALL) != (seq == FM_STATE_ALL))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "this is a %s state; load it with %s",
                        h->kind == KIND_ALL ? "whole-context" : "one-sequence",
                        h->kind == KIND_ALL ? "FM_STATE_ALL" : "a sequence id");
    if (h->fingerprint != c->model->fingerprint || h->n_layer != (uint32_t)kv->n_layer || h->row != (uint32_t)kv->row)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "the state was saved from another model (fingerprint %016llx, "
                                                    "this model %016llx)",
                        (unsigned long long)h->fingerprint, (unsigned long long)c->model->fingerprint);
    if (h->kv_type != (kv->f16 ? (uint32_t)FM_KV_F16 : (uint32_t)FM_KV_F32))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "the state holds an %s KV cache, this context an %s one",
                        h->kv_type == FM_KV_F16 ? "f16" : "f32", kv->f16 ? "f16" : "f32");
    if (h->n_vocab != (uint32_t)c->model->hp.n_vocab) return bad("vocabulary size");
    if (h->n_cells > (uint32_t)kv->n_cells)
        return fm_error(FM_STATUS_CONTEXT_FULL, "the state has %u cells, this context only %d", h->n_cells,
                        kv->n_cells);
    if (h->kind == KIND_SEQ && (h->n_last || h->n_rows || h->n_seq_max)) return bad("sequence state with logits");
    if (h->n_rows > h->n_last || h->n_last > (uint32_t)c->kv.n_cells) return bad("logit rows");
    /* the decompressed size follows from the counts, so it is bounded by
     * this context's own cache before anything is allocated */
    const size_t es = fm_kv_elem_size(kv);
    const uint64_t meta_len = raw_size_of(h, 0, es), expect_max = raw_size_of(h, h->n_cells, es);
    if (expect_max == 0 || h->raw_size < meta_len || h->raw_size > expect_max) return bad("payload size");
    const uint64_t per_cell = (uint64_t)h->n_layer * 2u * h->row * es;
    if (per_cell && (h->raw_size - meta_len) % per_cell) return bad("payload size");
    P->n_used = per_cell ? (uint32_t)((h->raw_size - meta_len) / per_cell) : h->n_cells;
    P->meta = fm_malloc(meta_len ? meta_len : 1);
    P->z = ZSTD_createDCtx();
    if (P->meta == NULL || P->z == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a state");
    P->in = (ZSTD_inBuffer){b + HEADER_BYTES, h->zsize, 0};
    P->last = 1;
    fm_status s = read_exact(P, P->meta, meta_len);
    if (s) return s;
    const uint8_t *q = P->meta;
    P->pos = q, q += (size_t)h->n_cells * 4;
    P->tok = q, q += (size_t)h->n_cells * 4;
    if (h->kind == KIND_ALL) P->seqs = q, q += (size_t)h->n_cells * sizeof(fm_seqset);
    P->logit_row = q, q += (size_t)h->n_last * 4;
    P->logits = q;
    /* cells: used ones counted as the payload says; positions and tokens
     * sane; whole states' sequence sets within this context's n_seq_max */
    uint32_t used = 0;
    for (uint32_t i = 0; i < h->n_cells; i++) {
        const int32_t p = (int32_t)get32(P->pos + 4 * (size_t)i);
        if (p < -1 || (h->kind == KIND_SEQ && p < 0)) return bad("cell position");
        if (p < 0) continue;
        used++;
        if (get32(P->tok + 4 * (size_t)i) >= h->n_vocab) return bad("cell token");
        if (h->kind == KIND_ALL) {
            fm_seqset set;
            memcpy(&set, P->seqs + (size_t)i * sizeof set, sizeof set);
            if (fm_seqset_empty(&set)) return bad("a used cell of no sequence");
            fm_seqset over = set;
            for (int32_t sq = 0; sq < c->n_seq_max; sq++) fm_seqset_del(&over, sq);
            if (!fm_seqset_empty(&over))
                return fm_error(FM_STATUS_INVALID_ARGUMENT, "the state holds sequences beyond this context's n_seq_max %d",
                                c->n_seq_max);
        }
    }
    if (used != P->n_used) return bad("cell count");
    uint32_t kept = 0;
    for (uint32_t i = 0; i < h->n_last; i++) {
        const int32_t r = (int32_t)get32(P->logit_row + 4 * (size_t)i);
        if (r < -1 || r >= (int32_t)h->n_rows) return bad("logit row");
        if (r >= 0) kept++;
    }
    if (kept != h->n_rows) return bad("logit rows");
    return FM_STATUS_OK;
}

static void parsed_free(parsed *P) {
    free(P->meta);
    ZSTD_freeDCtx(P->z);
}

/* The rows, block by block out of the decompressor, into their places:
 * the cache rows of cells[] (`flat` NULL) or a buffer of rows. */
static fm_status read_rows(parsed *P, const fm_kv_cache *kv, const int32_t *cells, uint8_t *flat) {
    const rows_plan rp = plan_rows(kv, P->n_used);
    const size_t bb = rp.block_rows * rp.row_bytes;
    uint8_t *blk = fm_malloc(2 * (bb ? bb : 1));
    if (blk == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a state");
    fm_status s = FM_STATUS_OK;
    for (size_t r0 = 0; r0 < rp.total_rows && !s; r0 += rp.block_rows) {
        const size_t nr = rp.total_rows - r0 < rp.block_rows ? rp.total_rows - r0 : rp.block_rows;
        if ((s = read_exact(P, blk, nr * rp.row_bytes))) break;
        const uint8_t *src = blk;
        if (P->h.layout & LAYOUT_PLANES) {
            from_planes(blk, blk + bb, nr * rp.row_bytes / rp.es, rp.es);
            src = blk + bb;
        }
        for (size_t r = 0; r < nr; r++) memcpy(row_at(kv, &rp, cells, flat, r0 + r), src + r * rp.row_bytes, rp.row_bytes);
    }
    free(blk);
    return s ? s : read_end(P);
}

/* The rows kept aside until they all decompressed: for loads whose
 * cells are not free, so that a damaged payload changes nothing. */
static fm_status read_rows_aside(parsed *P, const fm_kv_cache *kv, uint8_t **flat) {
    const rows_plan rp = plan_rows(kv, P->n_used);
    const size_t bytes = rp.total_rows * rp.row_bytes;
    *flat = fm_malloc(bytes ? bytes : 1);
    if (*flat == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a state");
    return read_rows(P, kv, NULL, *flat);
}

static void put_rows(fm_kv_cache *kv, const parsed *P, const int32_t *cells, const uint8_t *flat) {
    const rows_plan rp = plan_rows(kv, P->n_used);
    for (size_t r = 0; r < rp.total_rows; r++) memcpy(row_at(kv, &rp, cells, NULL, r), flat + r * rp.row_bytes, rp.row_bytes);
}

static fm_status load_all(fm_context *c, parsed *P) {
    fm_kv_cache *kv = &c->kv;
    const state_header *h = &P->h;
    fm_status s = fm_context_reserve(c, (size_t)kv->n_cells);
    if (s) return s;
    if (h->n_rows > c->logits_rows) {
        float *p = fm_realloc(c->logits, (size_t)h->n_rows * h->n_vocab * sizeof *p);
        if (p == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for %u rows of logits", h->n_rows);
        c->logits = p, c->logits_rows = h->n_rows;
    }
    int32_t n = 0; /* the used cells come back where they were */
    for (uint32_t i = 0; i < h->n_cells; i++)
        if ((int32_t)get32(P->pos + 4 * (size_t)i) >= 0) c->placed[n++] = (int32_t)i;
    uint8_t *flat = NULL;
    if (kv->used == 0) { /* every cell is free: straight in; a failure leaves them free */
        s = read_rows(P, kv, c->placed, NULL);
    } else if (!(s = read_rows_aside(P, kv, &flat))) {
        put_rows(kv, P, c->placed, flat);
    }
    free(flat);
    if (s) return s;
    fm_kv_clear(kv);
    for (int32_t k = 0; k < n; k++) {
        const int32_t i = c->placed[k];
        fm_seqset set;
        memcpy(&set, P->seqs + (size_t)i * sizeof set, sizeof set);
        fm_kv_restore(kv, i, (int32_t)get32(P->pos + 4 * (size_t)i), (int32_t)get32(P->tok + 4 * (size_t)i), &set);
    }
    for (uint32_t i = 0; i < h->n_last; i++) c->logit_row[i] = (int32_t)get32(P->logit_row + 4 * (size_t)i);
    memcpy(c->logits, P->logits, (size_t)h->n_rows * h->n_vocab * sizeof(float));
    c->n_last = (int32_t)h->n_last;
    return FM_STATUS_OK;
}

static fm_status load_seq(fm_context *c, fm_seq_id seq, parsed *P) {
    fm_kv_cache *kv = &c->kv;
    const uint32_t n = P->h.n_cells;
    /* room: the free cells plus those only `seq` holds now */
    int32_t own = 0;
    for (int32_t i = 0; i < kv->hi; i++)
        if (kv->pos[i] >= 0 && fm_seqset_has(&kv->seq[i], seq)) {
            fm_seqset o = kv->seq[i];
            fm_seqset_del(&o, seq);
            own += fm_seqset_empty(&o);
        }
    const uint32_t free_cells = (uint32_t)(kv->n_cells - kv->used);
    if (n > free_cells + (uint32_t)own)
        return fm_error(FM_STATUS_CONTEXT_FULL, "the state's %u cells do not fit: %d of %d cells are used", n, kv->used,
                        kv->n_cells);
    fm_status s = fm_context_reserve(c, n > (uint32_t)kv->n_cells ? n : (uint32_t)kv->n_cells);
    if (s) return s;
    int32_t *toks = fm_malloc((n ? n : 1) * sizeof *toks);
    if (toks == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a state of %u cells", n);
    for (uint32_t i = 0; i < n; i++)
        c->rpos[i] = (int32_t)get32(P->pos + 4 * (size_t)i), toks[i] = (int32_t)get32(P->tok + 4 * (size_t)i);
    fm_seqset none, set;
    memset(&none, 0, sizeof none);
    set = none;
    fm_seqset_add(&set, seq);
    uint8_t *flat = NULL;
    /* enough free cells: placed first as cells of no sequence (invisible),
     * filled, then given to `seq`; else the rows wait aside while seq's
     * old cells make room */
    const int direct = n <= free_cells;
    if (!direct) {
        if ((s = read_rows_aside(P, kv, &flat))) goto done;
        fm_kv_seq_rm(kv, seq, 0, -1);
    }
    for (uint32_t done = 0; done < n;) {
        const uint32_t m = n - done < (uint32_t)c->st.n_batch ? n - done : (uint32_t)c->st.n_batch;
        for (uint32_t i = 0; i < m; i++) c->seqbuf[i] = direct ? none : set;
        if ((s = fm_kv_place(kv, (int32_t)m, c->rpos + done, c->seqbuf, toks + done, c->placed + done))) break;
        done += m; /* (cannot fail: the room was counted) */
    }
    if (s) goto done;
    if (direct) {
        if ((s = read_rows(P, kv, c->placed, NULL))) {
            fm_kv_unplace(kv, (int32_t)n, c->placed);
            goto done;
        }
        fm_kv_seq_rm(kv, seq, 0, -1);
        for (uint32_t i = 0; i < n; i++) fm_kv_join(kv, c->placed[i], seq);
    } else {
        put_rows(kv, P, c->placed, flat);
    }
    c->n_last = 0;
done:
    free(toks), free(flat);
    return s;
}

fm_status fm_context_state_load(fm_context *c, fm_seq_id seq, const void *buf, size_t len) {
    fm_error_clear();
    fm_status s = check_target(c, seq, "fm_context_state_load");
    if (s) return s;
    if (buf == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_state_load: buf is NULL");
    parsed P;
    if (!(s = parse(c, seq, buf, len, &P))) s = seq == FM_STATE_ALL ? load_all(c, &P) : load_seq(c, seq, &P);
    parsed_free(&P);
    return s;
}

fm_status fm_context_state_load_file(fm_context *c, fm_seq_id seq, const char *path) {
    fm_error_clear();
    fm_status s = check_target(c, seq, "fm_context_state_load_file");
    if (s) return s;
    if (path == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_context_state_load_file: path is NULL");
    fm_mapped_file mf;
    if ((s = fm_mapped_file_open(&mf, path))) return s;
    s = fm_context_state_load(c, seq, mf.data ? mf.data : (const uint8_t *)"", mf.size);
    fm_mapped_file_close(&mf);
    if (s && strstr(fm_last_error(), path) == NULL) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", fm_last_error());
        fm_error(s, "'%s': %s", path, msg);
    }
    return s;
}
