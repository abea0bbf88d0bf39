/* A caller built against an older fm.h passes smaller params structs: the
 * library must fill the missing fields with defaults. */
#include <string.h>

#include "../common/testutil.h"
#include "fm.h"

/* What a 0.0 header might have had: only the first fields. */
typedef struct old_context_params {
    uint32_t struct_size;
    uint32_t n_ctx;
} old_context_params;

/* 0.4's fm_context_params, before flags, kv_type, n_seq_max and abort. */
typedef struct params_0_4 {
    uint32_t struct_size;
    uint32_t n_ctx;
    uint32_t n_batch;
    int32_t n_threads;
    const char *backend;
} params_0_4;

typedef struct old_sampler_params {
    uint32_t struct_size;
    uint32_t flags;
    uint64_t seed;
    float temperature;
} old_sampler_params;

int main(void) {
    fm_model *m;
    CHECK(fm_model_load(tu_data("models/stories260K.gguf"), NULL, &m) == FM_STATUS_OK, "load");
    old_context_params oc = {sizeof oc, 32};
    fm_context *ctx;
    fm_status s = fm_context_new(m, (const fm_context_params *)(const void *)&oc, &ctx);
    CHECK(s == FM_STATUS_OK, "old context params: %s", fm_last_error());
    if (s == FM_STATUS_OK) {
        CHECK(fm_context_n_ctx(ctx) == 32, "n_ctx from the old struct");
        fm_token bos = 1;
        CHECK(fm_context_decode(ctx, &bos, 1, FM_LOGITS_LAST) == FM_STATUS_OK, "decode with default backend");
        fm_context_free(ctx);
    }
    params_0_4 p4 = {sizeof p4, 48, 16, 1, "cpu"};
    s = fm_context_new(m, (const fm_context_params *)(const void *)&p4, &ctx);
    CHECK(s == FM_STATUS_OK, "0.4 context params: %s", fm_last_error());
    if (s == FM_STATUS_OK) {
        const fm_token ids[3] = {1, 2, 3};
        CHECK(fm_context_n_ctx(ctx) == 48, "n_ctx from the 0.4 struct");
        CHECK(fm_context_decode(ctx, ids, 3, FM_LOGITS_LAST) == FM_STATUS_OK, "decode (defaults for the new fields)");
        fm_batch *b;
        const fm_seq_id one = 1;
        fm_batch_new(&b);
        fm_batch_add(b, 1, 0, &one, 1, 1);
        CHECK(fm_context_decode_batch(ctx, b) == FM_STATUS_INVALID_ARGUMENT, "n_seq_max defaults to 1");
        fm_batch_free(b);
        fm_context_free(ctx);
    }
    old_sampler_params os = {sizeof os, 0, 1, 0.0f}; /* greedy; top_k etc. default */
    fm_sampler *smp;
    CHECK(fm_sampler_new((const fm_sampler_params *)(const void *)&os, &smp) == FM_STATUS_OK, "old sampler params");
    const float logits[3] = {0, 2, 1};
    fm_token t;
    CHECK(fm_sampler_sample(smp, logits, 3, &t) == FM_STATUS_OK && t == 1, "greedy from the old struct");
    fm_sampler_free(smp);
    uint32_t tiny = 2; /* struct_size smaller than the size field itself */
    CHECK(fm_context_new(m, (const fm_context_params *)(const void *)&tiny, &ctx) == FM_STATUS_INVALID_ARGUMENT,
          "struct_size 2");
    fm_model_free(m);
    return tu_finish("test_old_params");
}
