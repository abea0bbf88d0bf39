/* libFuzzer target: a llama2.c checkpoint and its tokenizer.bin from
 * arbitrary bytes, and for a pair that loads, a forward pass. Input: a
 * little-endian u32 L, then L bytes of checkpoint, then the tokenizer
 * (both written to a temporary folder: the loader maps paths). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fm.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256], model_path[300], tok_path[300];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/fuzz_llama2c.XXXXXX", tmp);
    if (mkdtemp(dir) == NULL) {
        perror("fuzz_llama2c: mkdtemp");
        exit(1);
    }
    snprintf(model_path, sizeof model_path, "%s/model.bin", dir);
    snprintf(tok_path, sizeof tok_path, "%s/tokenizer.bin", dir);
    return 0;
}

static int put(const char *path, const uint8_t *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f == NULL) return 0;
    const int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    uint32_t l;
    memcpy(&l, data, 4);
    if (l > size - 4) l = (uint32_t)(size - 4);
    if (!put(model_path, data + 4, l) || !put(tok_path, data + 4 + l, size - 4 - l)) return 0;
    fm_model *m = NULL;
    if (fm_model_load(model_path, NULL, &m) == FM_STATUS_OK) {
        fm_context_params cp;
        fm_context_params_init(&cp, sizeof cp);
        cp.n_ctx = 8;
        cp.n_threads = 1;
        fm_context *c = NULL;
        if (fm_context_new(m, &cp, &c) == FM_STATUS_OK) {
            fm_token ids[8];
            size_t n = 0;
            if (fm_tokenizer_encode(fm_model_tokenizer(m), "Once upon a time", 16, FM_ENCODE_ADD_BOS, ids, 8, &n) !=
                    FM_STATUS_OK ||
                n == 0)
                ids[0] = 0, n = 1;
            if (fm_context_decode(c, ids, n, FM_LOGITS_ALL) == FM_STATUS_OK) {
                const fm_token next = 1;
                fm_context_decode(c, &next, 1, FM_LOGITS_LAST);
            }
            fm_context_free(c);
        }
        fm_model_free(m);
    }
    unlink(model_path);
    unlink(tok_path);
    return 0;
}
