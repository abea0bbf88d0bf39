/* The "cpu" backend's table and life cycle. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/alloc.h"
#include "../../core/error.h"
#include "../backend.h"
#include "../../format/quant.h"
#include "../../core/log.h"
#include "cpu.h"

static fm_status cpu_set_n_threads(void *ctx, int32_t n_threads) {
    fm_cpu_ctx *c = ctx;
    if (n_threads < 1) return fm_error(FM_STATUS_INVALID_ARGUMENT, "cpu backend: %d threads", n_threads);
    fm_threadpool *pool;
    float *scores = fm_malloc((size_t)n_threads * (size_t)c->n_ctx * sizeof *scores);
    if (scores == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for attention scratch");
    fm_status s = fm_threadpool_new(n_threads, &pool);
    if (s) {
        free(scores);
        return s;
    }
    fm_threadpool_free(c->pool);
    free(c->scores);
    c->pool = pool;
    c->scores = scores;
    c->n_threads = n_threads;
    return FM_STATUS_OK;
}

/* Float-weight prompts: the table's own GEMM where it has one (measured
 * faster than OpenBLAS even where OpenBLAS knows the CPU, and independent
 * of whether it does: docs/performance.md), else BLAS. FM_FLOAT_GEMM=blas
 * forces BLAS, for side-by-side measurements. */
static void choose_float_path(fm_cpu_ctx *c) {
    const char *core = fm_cpu_blas_core(), *force = getenv("FM_FLOAT_GEMM");
    const int own = c->k->gemm_f[FM_DTYPE_F32] != NULL;
    c->float_blas = core != NULL && (!own || (force != NULL && strcmp(force, "blas") == 0));
    static atomic_int logged;
    if (atomic_exchange(&logged, 1) == 0) { /* once per process: contexts come and go */
        fm_log(FM_LOG_INFO, "cpu backend: %s kernels; float-weight prompts through %s (BLAS: %s)", c->k->name,
               c->float_blas ? "BLAS" : own ? "libfm's GEMM" : "the matmul kernels", core ? core : "none");
    }
}

static fm_status cpu_init(void *ctx, const fm_backend_init_params *p) {
    fm_cpu_ctx *c = ctx;
    c->k = fm_cpu_kernels_select();
    choose_float_path(c);
    c->n_ctx = p->n_ctx > 0 ? p->n_ctx : 1;
    return cpu_set_n_threads(ctx, p->n_threads);
}

static fm_status cpu_ref_init(void *ctx, const fm_backend_init_params *p) {
    fm_status s = cpu_init(ctx, p);
    ((fm_cpu_ctx *)ctx)->k = fm_cpu_kernels_ref();
    return s;
}

static void cpu_release(void *ctx) {
    fm_cpu_ctx *c = ctx;
    fm_threadpool_free(c->pool);
    free(c->scores);
    free(c->rowbuf);
    free(c->actbuf);
    free(c->chunkbuf);
    free(c->gemmbuf);
    free(c->attnbuf);
    free(c->runbuf);
    free(c->rope.cs);
    free(c->rope.pos);
}

static fm_status cpu_set_flags(void *ctx, uint32_t flags) {
    fm_cpu_ctx *c = ctx;
    if (flags & ~FM_BACKEND_BATCH_INVARIANT) return fm_error(FM_STATUS_UNSUPPORTED, "cpu backend: flags %#x", flags);
    c->batch_invariant = (flags & FM_BACKEND_BATCH_INVARIANT) != 0;
    return FM_STATUS_OK;
}

static int cpu_supports_op(void *ctx, fm_op op, int32_t dtype) {
    (void)ctx;
    if (op != FM_OP_MATMUL && op != FM_OP_GET_ROWS) return 1;
    return fm_dtype_can_dequantize(dtype);
}

int fm_cpu_threads_for(const fm_cpu_ctx *c, int64_t work) {
    /* below ~64k multiply-adds waking threads costs more than it saves */
    int64_t n = work / 65536 + 1;
    return n < c->n_threads ? (int)n : c->n_threads;
}

#define CPU_OPS                                                                                                    \
    .struct_size = sizeof(fm_backend_iface), .abi_version = FM_BACKEND_ABI_VERSION, .ctx_size = sizeof(fm_cpu_ctx), \
    .release = cpu_release, .supports_op = cpu_supports_op, .set_n_threads = cpu_set_n_threads, .set_flags = cpu_set_flags,                   \
    .matmul = fm_cpu_matmul, .get_rows = fm_cpu_get_rows, .rmsnorm = fm_cpu_rmsnorm, .rope = fm_cpu_rope,          \
    .attention = fm_cpu_attention, .swiglu = fm_cpu_swiglu, .add = fm_cpu_add, .layernorm = fm_cpu_layernorm,      \
    .gelu = fm_cpu_gelu, .add_rows = fm_cpu_add_rows, .rope_ext = fm_cpu_rope_ext

/* the default: the fastest kernels this CPU runs */
const fm_backend_iface fm_cpu_backend = {CPU_OPS, .name = "cpu", .init = cpu_init};

/* the oracle: portable kernels, f32 activations, exact math on the weights */
const fm_backend_iface fm_cpu_ref_backend = {CPU_OPS, .name = "cpu-ref", .init = cpu_ref_init};
