/* Acceptance 6 of the core runtime: a backend registered by the program
 * itself (here: one that wraps "cpu" and counts calls) runs a whole model
 * when picked by name, with the same logits as "cpu". */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "fm.h"
#include "fm_backend.h"

static const fm_backend_iface *cpu;
static long calls[8];

typedef struct counting_ctx {
    void *inner; /* the cpu backend's state, allocated by us */
} counting_ctx;

static fm_status c_init(void *ctx, const fm_backend_init_params *p) {
    counting_ctx *c = ctx;
    c->inner = calloc(1, cpu->ctx_size);
    if (c->inner == NULL) return FM_STATUS_NO_MEMORY;
    return cpu->init(c->inner, p);
}
static void c_release(void *ctx) {
    counting_ctx *c = ctx;
    cpu->release(c->inner);
    free(c->inner);
}
static int c_supports(void *ctx, fm_op op, int32_t dtype) {
    return cpu->supports_op(((counting_ctx *)ctx)->inner, op, dtype);
}
static fm_status c_matmul(void *ctx, const fm_weight *w, const float *x, int32_t n, float *y, int64_t ys) {
    calls[FM_OP_MATMUL]++;
    return cpu->matmul(((counting_ctx *)ctx)->inner, w, x, n, y, ys);
}
static fm_status c_get_rows(void *ctx, const fm_weight *t, const int32_t *ids, int32_t n, float *out) {
    calls[FM_OP_GET_ROWS]++;
    return cpu->get_rows(((counting_ctx *)ctx)->inner, t, ids, n, out);
}
static fm_status c_rmsnorm(void *ctx, const float *x, const float *w, int32_t n, int32_t rows, float eps, float *y) {
    calls[FM_OP_RMSNORM]++;
    return cpu->rmsnorm(((counting_ctx *)ctx)->inner, x, w, n, rows, eps, y);
}
static fm_status c_rope(void *ctx, float *x, int32_t n_tok, int32_t n_head, int32_t hd, int32_t n_rot,
                        const int32_t *pos, float base, int32_t mode) {
    calls[FM_OP_ROPE]++;
    return cpu->rope(((counting_ctx *)ctx)->inner, x, n_tok, n_head, hd, n_rot, pos, base, mode);
}
static fm_status c_attention(void *ctx, const fm_attention_args *a) {
    calls[FM_OP_ATTENTION]++;
    return cpu->attention(((counting_ctx *)ctx)->inner, a);
}
static fm_status c_swiglu(void *ctx, const float *g, const float *u, int64_t n, float *out) {
    calls[FM_OP_SWIGLU]++;
    return cpu->swiglu(((counting_ctx *)ctx)->inner, g, u, n, out);
}
static fm_status c_add(void *ctx, float *y, const float *x, int64_t n) {
    calls[FM_OP_ADD]++;
    return cpu->add(((counting_ctx *)ctx)->inner, y, x, n);
}

static const fm_backend_iface counting = {
    .struct_size = sizeof(fm_backend_iface),
    .abi_version = FM_BACKEND_ABI_VERSION,
    .name = "counting",
    .ctx_size = sizeof(counting_ctx),
    .init = c_init,
    .release = c_release,
    .supports_op = c_supports,
    .matmul = c_matmul,
    .get_rows = c_get_rows,
    .rmsnorm = c_rmsnorm,
    .rope = c_rope,
    .attention = c_attention,
    .swiglu = c_swiglu,
    .add = c_add,
};

/* A backend that refuses f16 weights, to show the check at context creation. */
static int f32_only(void *ctx, fm_op op, int32_t dtype) {
    (void)ctx;
    return (op != FM_OP_MATMUL && op != FM_OP_GET_ROWS) || dtype == FM_DTYPE_F32;
}

static void logits_of(fm_model *m, const char *backend, const fm_token *ids, size_t n, float *out, int n_vocab) {
    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.backend = backend;
    cp.n_ctx = 64;
    cp.n_threads = 1;
    fm_context *ctx;
    fm_status s = fm_context_new(m, &cp, &ctx);
    CHECK(s == FM_STATUS_OK, "context on %s: %s", backend, fm_last_error());
    if (s) return;
    CHECK(fm_context_decode(ctx, ids, n, FM_LOGITS_LAST) == FM_STATUS_OK, "decode on %s", backend);
    memcpy(out, fm_context_logits(ctx, -1), (size_t)n_vocab * sizeof *out);
    fm_context_free(ctx);
}

int main(void) {
    cpu = fm_backend_find("cpu");
    CHECK(cpu != NULL, "the cpu backend is registered");
    if (cpu == NULL) return tu_finish("test_backend_register");
    CHECK(fm_backend_find("counting") == NULL, "not registered yet");
    CHECK(fm_backend_register(&counting) == FM_STATUS_OK, "register: %s", fm_last_error());
    CHECK(fm_backend_find("counting") == &counting, "found by name");

    fm_model *m;
    CHECK(fm_model_load(tu_data("models/stories260K.gguf"), NULL, &m) == FM_STATUS_OK, "load");
    const fm_token ids[] = {1, 403, 407, 261, 378};
    float a[512], b[512];
    logits_of(m, "cpu", ids, 5, a, 512);
    memset(calls, 0, sizeof calls);
    logits_of(m, "counting", ids, 5, b, 512);
    /* 5 layers: 7 matmuls each plus the LM head, 2 ropes, 1 attention ... */
    CHECK(calls[FM_OP_MATMUL] == 5 * 7 + 1, "matmul calls %ld", calls[FM_OP_MATMUL]);
    CHECK(calls[FM_OP_ATTENTION] == 5 && calls[FM_OP_ROPE] == 10 && calls[FM_OP_SWIGLU] == 5, "attention/rope/swiglu");
    CHECK(calls[FM_OP_RMSNORM] == 11 && calls[FM_OP_ADD] == 10 && calls[FM_OP_GET_ROWS] == 1, "rmsnorm/add/get_rows");
    CHECK(memcmp(a, b, sizeof a) == 0, "the wrapped backend gives the cpu backend's logits");
    fm_model_free(m);

    /* capability check: a backend without f16 cannot run an f16 model */
    static fm_backend_iface narrow;
    narrow = counting;
    narrow.name = "f32-only";
    narrow.supports_op = f32_only;
    CHECK(fm_backend_register(&narrow) == FM_STATUS_OK, "register f32-only");
    CHECK(fm_model_load(tu_data("models/llama-k256.f16.gguf"), NULL, &m) == FM_STATUS_OK, "load f16");
    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.backend = "f32-only";
    fm_context *ctx = (fm_context *)1;
    fm_status s = fm_context_new(m, &cp, &ctx);
    CHECK(s == FM_STATUS_UNSUPPORTED && ctx == NULL && strstr(fm_last_error(), "f16"), "f16 refused: %s",
          fm_last_error());
    fm_model_free(m);

    /* a backend built against ABI 2 never sees an F16 KV cache */
    static fm_backend_iface abi2;
    abi2 = counting;
    abi2.name = "abi-2";
    abi2.abi_version = 2;
    CHECK(fm_backend_register(&abi2) == FM_STATUS_OK, "register abi-2");
    CHECK(fm_model_load(tu_data("models/stories260K.gguf"), NULL, &m) == FM_STATUS_OK, "load");
    cp.backend = "abi-2";
    cp.kv_type = FM_KV_F16;
    ctx = (fm_context *)1;
    s = fm_context_new(m, &cp, &ctx);
    CHECK(s == FM_STATUS_UNSUPPORTED && ctx == NULL && strstr(fm_last_error(), "F16 KV"), "F16 KV refused: %s",
          fm_last_error());
    cp.kv_type = FM_KV_F32;
    CHECK(fm_context_new(m, &cp, &ctx) == FM_STATUS_OK, "abi-2 context: %s", fm_last_error());
    CHECK(fm_context_decode(ctx, ids, 5, FM_LOGITS_LAST) == FM_STATUS_OK, "abi-2 runs one sequence");
    /* before ABI 4 attention read cache rows as positions: a hole in the
     * sequence breaks that, and the old backend is refused, not misled */
    CHECK(fm_context_seq_rm(ctx, 0, 1, 3) == FM_STATUS_OK, "remove positions 1..2");
    s = fm_context_decode(ctx, ids, 1, FM_LOGITS_LAST);
    CHECK(s == FM_STATUS_UNSUPPORTED && strstr(fm_last_error(), "ABI 4"), "edited cache on abi-2: %s",
          fm_last_error());
    CHECK(fm_context_n_past(ctx) == 5, "refused decode kept nothing");
    fm_context_free(ctx);
    cp.n_seq_max = 2;
    CHECK(fm_context_new(m, &cp, &ctx) == FM_STATUS_OK, "abi-2 context of 2 sequences");
    CHECK(fm_context_decode(ctx, ids, 3, FM_LOGITS_LAST) == FM_STATUS_OK, "sequence 0 on abi-2");
    fm_batch *batch;
    const fm_seq_id one = 1;
    CHECK(fm_batch_new(&batch) == FM_STATUS_OK && fm_batch_add(batch, ids[0], 0, &one, 1, 1) == FM_STATUS_OK, "batch");
    s = fm_context_decode_batch(ctx, batch);
    CHECK(s == FM_STATUS_UNSUPPORTED, "a second sequence on abi-2: %s", fm_status_name(s));
    fm_batch_free(batch);
    fm_context_free(ctx);
    fm_model_free(m);

    /* malformed tables are refused */
    static fm_backend_iface broken;
    broken = counting;
    broken.name = "broken";
    broken.matmul = NULL;
    CHECK(fm_backend_register(&broken) == FM_STATUS_INVALID_ARGUMENT, "missing op");
    broken = counting;
    broken.abi_version = FM_BACKEND_ABI_VERSION + 1;
    CHECK(fm_backend_register(&broken) == FM_STATUS_INVALID_ARGUMENT, "future ABI");
    broken = counting;
    broken.struct_size = 16;
    CHECK(fm_backend_register(&broken) == FM_STATUS_INVALID_ARGUMENT, "short table");
    broken = counting;
    broken.name = "";
    CHECK(fm_backend_register(&broken) == FM_STATUS_INVALID_ARGUMENT, "empty name");
    return tu_finish("test_backend_register");
}
