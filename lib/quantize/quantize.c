/* fm_model_quantize: a GGUF file's matrices rewritten in another weight
 * type. Two passes over the tensor directory: the first decides every
 * tensor's type (the mixture rules count tensors in file order) so the
 * writer can declare them; the second converts one tensor at a time, its
 * rows split across threads (each row is quantized alone, so the bytes do
 * not depend on the thread count), and streams it out. The output goes to
 * a temporary file beside the target, renamed only when complete. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/log.h"
#include "../core/params.h"
#include "../core/threadpool.h"
#include "../format/dtype.h"
#include "../format/gguf_write.h"
#include "../format/model_file.h"
#include "../format/quant.h"
#include "fm_backend.h"
#include "quantize.h"

static const struct {
    const char *name;
    int32_t ftype;
} ftype_names[] = {
    {"F32", FM_FTYPE_ALL_F32},    {"F16", FM_FTYPE_F16},       {"BF16", FM_FTYPE_BF16},     {"Q4_0", FM_FTYPE_Q4_0},
    {"Q4_1", FM_FTYPE_Q4_1},      {"Q5_0", FM_FTYPE_Q5_0},     {"Q5_1", FM_FTYPE_Q5_1},     {"Q8_0", FM_FTYPE_Q8_0},
    {"Q2_K", FM_FTYPE_Q2_K},      {"Q3_K_S", FM_FTYPE_Q3_K_S}, {"Q3_K_M", FM_FTYPE_Q3_K_M}, {"Q3_K_L", FM_FTYPE_Q3_K_L},
    {"Q4_K_S", FM_FTYPE_Q4_K_S},  {"Q4_K_M", FM_FTYPE_Q4_K_M}, {"Q5_K_S", FM_FTYPE_Q5_K_S}, {"Q5_K_M", FM_FTYPE_Q5_K_M},
    {"Q6_K", FM_FTYPE_Q6_K},      {"IQ4_NL", FM_FTYPE_IQ4_NL}, {"IQ4_XS", FM_FTYPE_IQ4_XS},
    /* llama-quantize's aliases: the _M mixture */
    {"Q3_K", FM_FTYPE_Q3_K_M},    {"Q4_K", FM_FTYPE_Q4_K_M},   {"Q5_K", FM_FTYPE_Q5_K_M},
};

fm_status fm_ftype_from_name(const char *name, int32_t *ftype) {
    if (name == NULL || ftype == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_ftype_from_name: NULL argument");
    for (size_t i = 0; i < sizeof ftype_names / sizeof ftype_names[0]; i++)
        if (strcasecmp(name, ftype_names[i].name) == 0) {
            *ftype = ftype_names[i].ftype;
            return FM_STATUS_OK;
        }
    return fm_error(FM_STATUS_NOT_FOUND, "unknown quantization type '%s'", name);
}

const char *fm_ftype_name(int32_t ftype) {
    for (size_t i = 0; i < sizeof ftype_names / sizeof ftype_names[0]; i++)
        if (ftype_names[i].ftype == ftype) return ftype_names[i].name;
    return NULL;
}

fm_status fm_quantize_params_init(fm_quantize_params *p, size_t size) {
    const fm_quantize_params d = {sizeof d, 0, FM_FTYPE_Q4_K_M, 0, NULL, NULL};
    return fm_params_init(p, size, &d, sizeof d, "fm_quantize_params_init");
}

/* Whether llama-quantize would quantize this tensor: 2-D or more weights,
 * except norms, the MoE router and position / token-type embeddings. */
static int is_quantizable(const fm_tensor_info *t, const char *name) {
    const size_t n = strlen(name);
    if (n < 6 || strcmp(name + n - 6, "weight") != 0) return 0;
    if (t->n_dims < 2) return 0;
    static const char *const never[] = {"_norm.weight", "ffn_gate_inp.weight", "attn_rel_b.weight"};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        if (strstr(name, never[i]) != NULL) return 0;
    return strcmp(name, "position_embd.weight") != 0 && strcmp(name, "token_types.weight") != 0;
}

static int64_t rows_of(const fm_tensor_info *t) {
    int64_t r = 1;
    for (uint32_t d = 1; d < t->n_dims; d++) r *= t->ne[d];
    return r;
}

/* The rule counters and model shape the mixtures look at. */
static fm_status read_rules(const fm_model_file *mf, int32_t ftype, fm_quant_rules *r) {
    memset(r, 0, sizeof *r);
    r->ftype = ftype;
    fm_str arch = {"", 0};
    fm_meta_get_str(mf, "general.architecture", &arch);
    r->falcon = fm_str_eq(arch, "falcon");
    char key[128];
    uint32_t v = 0, heads = 0, kv = 0;
    snprintf(key, sizeof key, "%.*s.block_count", (int)(arch.len < 64 ? arch.len : 64), arch.ptr);
    if (fm_meta_get_u32(mf, key, &v) == FM_STATUS_OK) r->n_layer = (int)v;
    snprintf(key, sizeof key, "%.*s.attention.head_count", (int)(arch.len < 64 ? arch.len : 64), arch.ptr);
    fm_meta_get_u32(mf, key, &heads);
    snprintf(key, sizeof key, "%.*s.attention.head_count_kv", (int)(arch.len < 64 ? arch.len : 64), arch.ptr);
    if (fm_meta_get_u32(mf, key, &kv) != FM_STATUS_OK) kv = heads;
    r->n_gqa = kv > 0 ? (int)(heads / kv) : 1;
    for (size_t i = 0; i < mf->n_tensors; i++) {
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(mf->tensors[i].name.len < 255 ? mf->tensors[i].name.len : 255),
                 mf->tensors[i].name.ptr);
        if (strcmp(name, "output.weight") == 0) r->has_output = 1;
        if (strstr(name, "attn_v.weight") != NULL || strstr(name, "attn_qkv.weight") != NULL) r->n_attention_wv++;
    }
    return FM_STATUS_OK;
}

typedef struct plan {
    int32_t type;   /* output type */
    int convert;    /* rows are converted (else copied) */
    size_t rb;      /* output row bytes */
} plan;

typedef struct convert_job {
    const fm_tensor_info *t;
    int32_t type;
    size_t rb;
    int64_t rows;
    uint8_t *out;
    float *bufs; /* ne0 floats per thread */
    int failed;
} convert_job;

static void convert_slice(void *arg, int ith, int nth) {
    convert_job *j = arg;
    const int64_t n = j->t->ne[0];
    const size_t in_rb = fm_dtype_row_bytes(j->t->dtype, n);
    float *row = j->bufs + (size_t)ith * (size_t)n;
    const int64_t per = (j->rows + nth - 1) / nth, lo = per * ith, hi = lo + per < j->rows ? lo + per : j->rows;
    for (int64_t r = lo; r < hi; r++)
        if (!fm_dequantize_row((int32_t)j->t->dtype, j->t->data + (size_t)r * in_rb, n, row) ||
            !fm_quantize_row(j->type, row, n, j->out + (size_t)r * j->rb))
            j->failed = 1;
}

static fm_status fail(fm_status s, fm_gguf_writer *w, const char *tmp) {
    if (w != NULL) fm_gguf_writer_close(w);
    if (tmp != NULL) unlink(tmp);
    return s;
}

fm_status fm_model_quantize(const char *in_path, const char *out_path, const fm_quantize_params *params) {
    if (in_path == NULL || out_path == NULL)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_model_quantize: NULL path");
    fm_quantize_params p;
    fm_quantize_params_init(&p, sizeof p);
    fm_status s = fm_params_read(&p, sizeof p, params, "fm_quantize_params");
    if (s) return s;
    int ok;
    const int32_t base = fm_ftype_base_type(p.ftype, &ok);
    if (!ok) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_model_quantize: unknown ftype %d", p.ftype);
    if (p.flags & ~(FM_QUANTIZE_PURE | FM_QUANTIZE_ALLOW_REQUANTIZE))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_model_quantize: unknown flags 0x%x", p.flags);
    if (p.n_threads < 0) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_model_quantize: n_threads %d", p.n_threads);
    const int cpus = fm_cpu_count(), nth = p.n_threads == 0 || p.n_threads > cpus ? cpus : p.n_threads;
    const int quantized_target = base != FM_DTYPE_F32 && base != FM_DTYPE_F16 && base != FM_DTYPE_BF16;

    fm_model_file *mf;
    if ((s = fm_model_file_open(in_path, &mf))) return s;
    if (mf->kind != FM_FILE_GGUF) {
        fm_model_file_close(mf);
        return fm_error(FM_STATUS_UNSUPPORTED, "'%s': only GGUF files can be quantized", in_path);
    }
    fm_quant_rules rules;
    read_rules(mf, p.ftype, &rules);

    /* pass 1: every tensor's type */
    plan *pl = fm_calloc(mf->n_tensors ? mf->n_tensors : 1, sizeof *pl);
    char *tmp = fm_malloc(strlen(out_path) + 8);
    fm_threadpool *pool = NULL;
    fm_gguf_writer *w = NULL;
    uint8_t *out = NULL;
    float *bufs = NULL;
    if (pl == NULL || tmp == NULL) {
        s = fm_error(FM_STATUS_NO_MEMORY, "out of memory");
        goto done;
    }
    uint64_t total = 0, done_elems = 0;
    for (size_t i = 0; i < mf->n_tensors; i++) {
        const fm_tensor_info *t = &mf->tensors[i];
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(t->name.len < 255 ? t->name.len : 255), t->name.ptr);
        int32_t type = (int32_t)t->dtype;
        if (is_quantizable(t, name)) {
            type = base;
            if (!(p.flags & FM_QUANTIZE_PURE) && quantized_target) type = fm_quant_tensor_type(&rules, name, t->ne[0], base);
            if (fm_dtype_row_bytes((uint32_t)type, t->ne[0]) == 0) {
                const int32_t alt = fm_quant_fallback_type(type, t->ne[0]);
                fm_log(FM_LOG_WARN, "tensor '%s': rows of %lld are not whole %s blocks; using %s", name,
                       (long long)t->ne[0], fm_dtype_get((uint32_t)type)->name, fm_dtype_get((uint32_t)alt)->name);
                type = alt;
            }
        }
        pl[i].type = type;
        pl[i].convert = type != (int32_t)t->dtype;
        pl[i].rb = fm_dtype_row_bytes((uint32_t)type, t->ne[0]);
        if (pl[i].convert) {
            const fm_dtype_traits *in = fm_dtype_get(t->dtype);
            const int in_float = t->dtype == FM_DTYPE_F32 || t->dtype == FM_DTYPE_F16 || t->dtype == FM_DTYPE_BF16;
            if (!fm_dtype_can_dequantize((int32_t)t->dtype)) {
                s = fm_error(FM_STATUS_UNSUPPORTED, "'%s': tensor '%s' has type %s, which libfm cannot read", in_path,
                             name, in ? in->name : "unknown");
                goto done;
            }
            if (!in_float && !(p.flags & FM_QUANTIZE_ALLOW_REQUANTIZE)) {
                s = fm_error(FM_STATUS_UNSUPPORTED,
                             "'%s': tensor '%s' is already quantized (%s); requantizing loses quality and is refused "
                             "unless asked (FM_QUANTIZE_ALLOW_REQUANTIZE, fm-quantize --allow-requantize)",
                             in_path, name, in->name);
                goto done;
            }
        }
        total += (uint64_t)(t->ne[0] * rows_of(t));
    }

    /* the output, under a temporary name in the target's folder */
    sprintf(tmp, "%s.XXXXXX", out_path);
    const int fd = mkstemp(tmp);
    if (fd < 0) {
        s = fm_error(FM_STATUS_IO, "cannot create '%s': %s", out_path, strerror(errno));
        free(tmp);
        tmp = NULL;
        goto done;
    }
    close(fd);
    if ((s = fm_gguf_writer_open(tmp, &w))) goto done;
    int have_ft = 0, have_qv = 0;
    for (size_t i = 0; i < mf->n_meta && !s; i++) {
        const fm_meta *m = &mf->meta[i];
        if (fm_str_eq(m->key, "general.file_type")) {
            s = fm_gguf_add_u32(w, "general.file_type", (uint32_t)p.ftype);
            have_ft = 1;
        } else if (fm_str_eq(m->key, "general.quantization_version")) {
            s = fm_gguf_add_u32(w, "general.quantization_version", 2);
            have_qv = 1;
        } else if (m->key.len >= 6 && memcmp(m->key.ptr, "split.", 6) == 0) {
            continue; /* one output file */
        } else {
            s = fm_gguf_add_meta(w, m);
        }
    }
    if (!s && !have_qv) s = fm_gguf_add_u32(w, "general.quantization_version", 2);
    if (!s && !have_ft) s = fm_gguf_add_u32(w, "general.file_type", (uint32_t)p.ftype);
    for (size_t i = 0; i < mf->n_tensors && !s; i++) {
        const fm_tensor_info *t = &mf->tensors[i];
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(t->name.len < 255 ? t->name.len : 255), t->name.ptr);
        s = fm_gguf_add_tensor(w, name, t->n_dims, t->ne, (uint32_t)pl[i].type);
    }
    if (s) goto done;

    /* pass 2: the data */
    int64_t max_cols = 1;
    size_t max_out = 0;
    for (size_t i = 0; i < mf->n_tensors; i++)
        if (pl[i].convert) {
            const size_t bytes = pl[i].rb * (size_t)rows_of(&mf->tensors[i]);
            if (bytes > max_out) max_out = bytes;
            if (mf->tensors[i].ne[0] > max_cols) max_cols = mf->tensors[i].ne[0];
        }
    if ((s = fm_threadpool_new(nth, &pool))) goto done;
    out = fm_malloc(max_out ? max_out : 1);
    bufs = fm_malloc((size_t)nth * (size_t)max_cols * sizeof *bufs);
    if (out == NULL || bufs == NULL) {
        s = fm_error(FM_STATUS_NO_MEMORY, "out of memory quantizing '%s'", in_path);
        goto done;
    }
    for (size_t i = 0; i < mf->n_tensors; i++) {
        const fm_tensor_info *t = &mf->tensors[i];
        if (!pl[i].convert) {
            s = fm_gguf_write_data(w, t->data, (size_t)t->nbytes);
        } else {
            convert_job j = {t, pl[i].type, pl[i].rb, rows_of(t), out, bufs, 0};
            fm_threadpool_run(pool, convert_slice, &j, nth);
            if (j.failed) {
                s = fm_error(FM_STATUS_INTERNAL, "tensor '%.*s': conversion to %s failed", (int)t->name.len,
                             t->name.ptr, fm_dtype_get((uint32_t)pl[i].type)->name);
                goto done;
            }
            s = fm_gguf_write_data(w, out, pl[i].rb * (size_t)j.rows);
        }
        if (s) goto done;
        done_elems += (uint64_t)(t->ne[0] * rows_of(t));
        if (p.progress != NULL && p.progress(total ? (float)((double)done_elems / (double)total) : 1.0f, p.progress_user)) {
            s = fm_error(FM_STATUS_CANCELLED, "quantizing '%s' was cancelled", in_path);
            goto done;
        }
    }
    s = fm_gguf_writer_close(w);
    w = NULL;
    if (!s && rename(tmp, out_path) != 0)
        s = fm_error(FM_STATUS_IO, "cannot rename '%s' to '%s': %s", tmp, out_path, strerror(errno));

done:
    if (s) fail(s, w, tmp);
    fm_threadpool_free(pool);
    free(out);
    free(bufs);
    free(pl);
    free(tmp);
    fm_model_file_close(mf);
    return s;
}
