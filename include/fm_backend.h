/*
 * fm_backend.h - the compute backend interface of libfm, for implementers.
 *
 * An architecture's forward pass never calls a kernel directly: it calls the
 * ops of the backend its context was created with. A backend is a table of
 * function pointers (fm_backend_iface) registered by name; a context picks it
 * with fm_context_params.backend. The built-in "cpu" backend is plain
 * portable C and is the oracle every faster backend is tested against.
 *
 * Versioning: the table starts with struct_size and abi_version and is only
 * ever appended to. libfm never reads past struct_size. Entries marked
 * (optional) may be NULL; the core then supplies a default or skips the call.
 * All tensors handed to ops are host memory in this ABI version.
 */
#ifndef FM_BACKEND_H
#define FM_BACKEND_H

#include "fm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FM_BACKEND_ABI_VERSION 4

/** Element types of weights. The numbers are GGUF's tensor type ids. */
typedef enum fm_dtype {
    FM_DTYPE_F32 = 0,
    FM_DTYPE_F16 = 1,
    FM_DTYPE_Q4_0 = 2,
    FM_DTYPE_Q4_1 = 3,
    FM_DTYPE_Q5_0 = 6,
    FM_DTYPE_Q5_1 = 7,
    FM_DTYPE_Q8_0 = 8,
    FM_DTYPE_Q8_1 = 9,
    FM_DTYPE_Q2_K = 10,
    FM_DTYPE_Q3_K = 11,
    FM_DTYPE_Q4_K = 12,
    FM_DTYPE_Q5_K = 13,
    FM_DTYPE_Q6_K = 14,
    FM_DTYPE_Q8_K = 15,
    FM_DTYPE_IQ4_NL = 20,
    FM_DTYPE_IQ4_XS = 23,
    FM_DTYPE_I8 = 24,
    FM_DTYPE_I16 = 25,
    FM_DTYPE_I32 = 26,
    FM_DTYPE_I64 = 27,
    FM_DTYPE_F64 = 28,
    FM_DTYPE_BF16 = 30
} fm_dtype;

/** A read-only 2-D weight: `rows` rows of `cols` elements, row-major, each
 *  row `row_bytes` long (GGUF shape {cols, rows}). Owned by the model. */
typedef struct fm_weight {
    const void *data;
    int32_t dtype; /* fm_dtype */
    int32_t reserved;
    int64_t rows;
    int64_t cols;
    size_t row_bytes;
} fm_weight;

/** The ops an architecture may ask for; used by supports_op(). */
typedef enum fm_op {
    FM_OP_MATMUL = 0,
    FM_OP_GET_ROWS = 1,
    FM_OP_RMSNORM = 2,
    FM_OP_ROPE = 3,
    FM_OP_ATTENTION = 4,
    FM_OP_SWIGLU = 5,
    FM_OP_ADD = 6,
    FM_OP_LAYERNORM = 7, /* ABI 2 */
    FM_OP_GELU = 8,      /* ABI 2 */
    FM_OP_ADD_ROWS = 9,  /* ABI 2 */
    FM_OP_ROPE_EXT = 10  /* ABI 2 */
} fm_op;

/** RoPE pairings: NORMAL rotates (2i, 2i+1) as llama and llama2.c do; NEOX
 *  rotates (i, i + n_rot/2). */
typedef enum fm_rope_mode { FM_ROPE_NORMAL = 0, FM_ROPE_NEOX = 2 } fm_rope_mode;

/** Scaled dot-product attention of n_tok query rows against a KV cache.
 *  The cache is rows of cells; ABI 4 says which rows each query row sees
 *  (`runs`): the cells of its own sequences at positions <= pos[t] (for
 *  causal models) and inside the sliding window, which need not be
 *  contiguous nor in position order once several sequences share the
 *  cache or it has been edited. Query head h reads KV head
 *  h / (n_head / n_head_kv).
 *  Before ABI 4 the contract was cell == position: row t saw rows
 *  0..pos[t] (causal, from pos[t]-window+1 with a window) or 0..n_kv-1.
 *  libfm hands a backend registered with abi_version < 4 only batches that
 *  fit that contract (one sequence, unedited positions), and refuses the
 *  others with UNSUPPORTED rather than feed it rows it would misread. */
typedef struct fm_attention_args {
    uint32_t struct_size;
    int32_t n_tok;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t head_dim;
    int32_t n_kv;          /* cache positions filled, including this batch */
    int32_t causal;        /* nonzero: mask future positions */
    float scale;           /* usually 1/sqrt(head_dim) */
    const float *q;        /* [n_tok][n_head*head_dim] */
    const float *k;        /* [n_kv][kv_stride] */
    const float *v;        /* [n_kv][kv_stride] */
    int64_t kv_stride;     /* floats between cache rows */
    const int32_t *pos;    /* [n_tok] */
    float *out;            /* [n_tok][n_head*head_dim] */
    /* ABI 2: sliding window; > 0 hides cache positions p with
       pos[t] - p >= window (Phi-3, Mistral v0.1). Backends registered with
       abi_version 1 never see a model that needs it. */
    int32_t window;
    /* ABI 3: the cache's element type, FM_DTYPE_F32 or FM_DTYPE_F16; for
       F16, k and v point at uint16_t halves (kv_stride still counts
       elements). Backends registered with abi_version < 3 only ever see
       F32 caches (a context asking for F16 with them fails). */
    int32_t kv_dtype;
    /* ABI 4: the rows query row t sees, in ascending, disjoint runs: rows runs[2r] ..
       runs[2r+1]-1 for r = run_off[t] .. run_off[t+1]-1 (run_off has
       n_tok+1 entries; causality and the window are already applied, pos,
       causal and window above stay filled for information). k and v then
       index cells: n_kv is one past the last cell in use. */
    const int32_t *runs;
    const int32_t *run_off;
} fm_attention_args;

/** Arguments every backend receives at context creation. */
typedef struct fm_backend_init_params {
    uint32_t struct_size;
    int32_t n_threads;  /* >= 1 */
    int32_t n_ctx;      /* cells of the KV cache: most rows attention will see */
    int32_t n_batch;    /* most rows per op call */
} fm_backend_init_params;

/** set_flags() bits: ops must give every row the bits it would get if it
 *  were the only row of the call (fm_context_set_flags' BATCH_INVARIANT). */
#define FM_BACKEND_BATCH_INVARIANT 1u

/** A backend. `ctx` in every entry is the backend's own state: libfm
 *  allocates ctx_size zeroed bytes per context and frees them after
 *  release(). Ops return FM_STATUS_OK or an error status; an op that fails
 *  aborts the decode and the context's KV cache is rolled back. */
typedef struct fm_backend_iface {
    uint32_t struct_size; /* sizeof(fm_backend_iface) of the implementer */
    uint32_t abi_version; /* FM_BACKEND_ABI_VERSION the implementer used */
    const char *name;     /* unique, e.g. "cpu"; static storage */
    size_t ctx_size;      /* bytes of per-context state */

    /* (optional) set up ctx; may fail with any fm_status */
    fm_status (*init)(void *ctx, const fm_backend_init_params *params);
    /* (optional) release what init acquired */
    void (*release)(void *ctx);
    /* (optional) nonzero if `op` works on weights of `dtype`
       (-1 for ops without weights); NULL means "everything". A context
       over a model whose forward pass needs an op (or weight type) this
       answers 0 for fails with UNSUPPORTED naming it (ops left NULL run on
       libfm's portable stand-ins and are not asked about; since 1.1) */
    int (*supports_op)(void *ctx, fm_op op, int32_t dtype);
    /* (optional) change the thread count of a live context */
    fm_status (*set_n_threads)(void *ctx, int32_t n_threads);

    /* y[t][r] = sum_c w[r][c] * x[t][c] for t < n_tok, r < w->rows;
       x rows are w->cols floats apart, y rows y_stride floats apart */
    fm_status (*matmul)(void *ctx, const fm_weight *w, const float *x,
                        int32_t n_tok, float *y, int64_t y_stride);
    /* out[i] = row ids[i] of table, as f32 (embedding lookup) */
    fm_status (*get_rows)(void *ctx, const fm_weight *table, const int32_t *ids,
                          int32_t n, float *out);
    /* y = x / sqrt(mean(x^2) + eps) * weight, per row of n floats */
    fm_status (*rmsnorm)(void *ctx, const float *x, const float *weight,
                         int32_t n, int32_t n_rows, float eps, float *y);
    /* rotate the first n_rot dims of each head of x in place;
       x is [n_tok][n_head*head_dim] */
    fm_status (*rope)(void *ctx, float *x, int32_t n_tok, int32_t n_head,
                      int32_t head_dim, int32_t n_rot, const int32_t *pos,
                      float freq_base, int32_t mode);
    fm_status (*attention)(void *ctx, const fm_attention_args *args);
    /* out[i] = silu(gate[i]) * up[i] */
    fm_status (*swiglu)(void *ctx, const float *gate, const float *up, int64_t n,
                        float *out);
    /* y[i] += x[i] */
    fm_status (*add)(void *ctx, float *y, const float *x, int64_t n);

    /* ---- ABI version 2 (all optional: where NULL, or past a version-1
       table's struct_size, libfm uses the cpu backend's kernel) ---- */

    /* y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias, per row of n
       floats; bias may be NULL */
    fm_status (*layernorm)(void *ctx, const float *x, const float *weight,
                           const float *bias, int32_t n, int32_t n_rows,
                           float eps, float *y);
    /* out[i] = gelu(x[i]), the tanh approximation GPT-2 and BERT use:
       0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
    fm_status (*gelu)(void *ctx, const float *x, int64_t n, float *out);
    /* y[r][i] += row[i] for r < n_rows, i < n (bias add) */
    fm_status (*add_rows)(void *ctx, float *y, const float *row, int32_t n,
                          int32_t n_rows);
    /* (optional) FM_BACKEND_* behaviour flags for this context; NULL means
       the backend honours none (asking for one is then UNSUPPORTED) */
    fm_status (*set_flags)(void *ctx, uint32_t flags);
    /* rope() with positions multiplied by freq_scale (linear RoPE scaling) */
    fm_status (*rope_ext)(void *ctx, float *x, int32_t n_tok, int32_t n_head,
                          int32_t head_dim, int32_t n_rot, const int32_t *pos,
                          float freq_base, float freq_scale, int32_t mode);
} fm_backend_iface;

/** Registers a backend under iface->name. The table is borrowed and must stay
 *  valid (usually static) until the process ends. Registering a name again
 *  replaces the earlier table for contexts created afterwards.
 *  Errors: INVALID_ARGUMENT (NULL, no name, a struct_size smaller than ABI
 *  version 1's table, an abi_version newer than this library, a required op
 *  missing), NO_MEMORY (more than 32 backends).
 *  Thread safety: init only. Since: 0.1 */
FM_API fm_status fm_backend_register(const fm_backend_iface *iface);

/** The name of registered backend number `i` (0 .. count-1, "cpu" and
 *  "cpu-ref" first), or NULL past the last: for listing the choices.
 *  Static storage (the backend's own). Thread safety: any thread once
 *  registration is done. Since: 1.1 */
FM_API const char *fm_backend_name(size_t i);

/** The registered table named `name` (NULL if none). The built-in "cpu" one
 *  is always present, so another backend may wrap it.
 *  Thread safety: any thread once registration is done. Since: 0.1 */
FM_API const fm_backend_iface *fm_backend_find(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* FM_BACKEND_H */
