/* llama2.c checkpoints with a separate classifier (negative vocab size in
 * the header, wcls after the RoPE tables): built here from stories260K.bin by
 * appending a copy of its embedding table, so the logits must not change. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/testutil.h"
#include "fm.h"

static void last_logits(const char *model, float *out) {
    fm_model_params mp;
    fm_model_params_init(&mp, sizeof mp);
    mp.tokenizer_path = tu_data("models/tok512.bin");
    fm_model *m;
    fm_status s = fm_model_load(model, &mp, &m);
    CHECK(s == FM_STATUS_OK, "load %s: %s", model, fm_last_error());
    if (s) return;
    fm_context *ctx;
    CHECK(fm_context_new(m, NULL, &ctx) == FM_STATUS_OK, "context");
    const fm_token ids[] = {1, 403, 407, 261, 378};
    CHECK(fm_context_decode(ctx, ids, 5, FM_LOGITS_LAST) == FM_STATUS_OK, "decode");
    memcpy(out, fm_context_logits(ctx, -1), 512 * sizeof *out);
    CHECK(fm_model_get_info(m, FM_MODEL_N_LAYER) == 5 && fm_model_get_info(m, FM_MODEL_N_CTX_TRAIN) == 512,
          "hyper-parameters");
    fm_context_free(ctx);
    fm_model_free(m);
}

int main(void) {
    size_t len;
    char *bin = tu_read_file(tu_data("models/stories260K.bin"), &len);
    CHECK(bin != NULL, "read stories260K.bin");
    if (bin == NULL) return tu_finish("test_llama2c");
    int32_t hdr[7];
    memcpy(hdr, bin, sizeof hdr);
    CHECK(hdr[5] == 512, "shared classifier in the original");
    const size_t emb = (size_t)hdr[0] * 512 * sizeof(float);
    char *sep = malloc(len + emb);
    memcpy(sep, bin, len);
    memcpy(sep + len, bin + sizeof hdr, emb); /* wcls = token embeddings */
    hdr[5] = -512;
    memcpy(sep, hdr, sizeof hdr);
    const char *path = tu_temp_file(sep, len + emb);

    float a[512], b[512];
    last_logits(tu_data("models/stories260K.bin"), a);
    last_logits(path, b);
    CHECK(memcmp(a, b, sizeof a) == 0, "separate classifier gives the same logits");

    /* the same file without its classifier is refused (size mismatch) */
    const char *cut = tu_temp_file(sep, len);
    fm_model *m = NULL;
    fm_model_params mp;
    fm_model_params_init(&mp, sizeof mp);
    mp.tokenizer_path = tu_data("models/tok512.bin");
    CHECK(fm_model_load(cut, &mp, &m) == FM_STATUS_BAD_FORMAT && m == NULL, "missing classifier");
    unlink(path);
    unlink(cut);
    free(sep);
    free(bin);
    return tu_finish("test_llama2c");
}
