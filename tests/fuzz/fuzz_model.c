/* libFuzzer target: loading a model from arbitrary bytes (reader,
 * architecture binding, tokenizer), and for a file that loads, a context
 * of 8 positions that tokenizes a short text and runs it - decode for a
 * decoder, embed for an encoder. Every failure must be a status, never a
 * crash, a leak or undefined behaviour. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "format/model_file.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fm_model_file *mf;
    if (fm_model_file_open_memory(data, size, "fuzz-input", &mf) != FM_STATUS_OK) return 0;
    fm_model_params mp;
    fm_model_params_init(&mp, sizeof mp);
    fm_model *m;
    if (fm_model_from_file(mf, "fuzz-input", &mp, &m) != FM_STATUS_OK) return 0;
    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_ctx = 8;
    cp.n_threads = 1;
    fm_context *c;
    if (fm_context_new(m, &cp, &c) == FM_STATUS_OK) {
        fm_token ids[8];
        size_t n = 0;
        const char *text = "Hello, w\xc3\xb6rld 42";
        if (fm_tokenizer_encode(fm_model_tokenizer(m), text, strlen(text), FM_ENCODE_ADD_SPECIAL_AUTO, ids, 8, &n) !=
                FM_STATUS_OK ||
            n == 0) {
            ids[0] = 0;
            n = 1;
        }
        if (fm_model_get_info(m, FM_MODEL_IS_ENCODER)) {
            float out[4096];
            size_t n_out;
            fm_context_embed(c, ids, n, FM_POOLING_MODEL, FM_EMBED_NORMALIZE, out, 4096, &n_out);
        } else if (fm_context_decode(c, ids, n, FM_LOGITS_ALL) == FM_STATUS_OK) {
            fm_token next = 0;
            fm_context_decode(c, &next, 1, FM_LOGITS_LAST);
        }
        fm_context_free(c);
    }
    fm_model_free(m);
    return 0;
}
