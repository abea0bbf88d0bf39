/* libFuzzer target: loading saved states from arbitrary bytes into a live
 * context (stories260K, two sequences), as a whole-context state and as a
 * sequence state. Half the inputs get a correct checksum first, so the
 * fuzzer gets past it to the payload checks and the decompressor. After
 * any load the context must still decode. Seeds: with
 * FM_FUZZ_STATE_SEEDS=DIR set, the initializer writes real states there. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash64.h"
#include "fm.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fm_model *model;
static fm_context *ctx;

static void base(void) {
    static const fm_token ids[3] = {1, 403, 407};
    fm_context_clear(ctx);
    fm_context_decode(ctx, ids, 3, FM_LOGITS_LAST);
}

static void write_seed(const char *dir, const char *name, fm_seq_id seq) {
    size_t need = 0, len = 0;
    fm_context_state_save(ctx, seq, NULL, 0, &need);
    uint8_t *buf = malloc(need);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = buf && fm_context_state_save(ctx, seq, buf, need, &len) == FM_STATUS_OK ? fopen(path, "wb") : NULL;
    if (f) fwrite(buf, 1, len, f), fclose(f);
    free(buf);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *d = getenv("FM_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", d ? d : "../shared");
    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_ctx = 32, cp.n_seq_max = 2, cp.n_threads = 1;
    if (fm_model_load(path, NULL, &model) != FM_STATUS_OK || fm_context_new(model, &cp, &ctx) != FM_STATUS_OK) {
        fprintf(stderr, "fuzz_state: %s: %s\n", path, fm_last_error());
        exit(1);
    }
    const char *seeds = getenv("FM_FUZZ_STATE_SEEDS");
    if (seeds) {
        base();
        fm_batch *b;
        const fm_seq_id one = 1;
        fm_batch_new(&b);
        fm_batch_add(b, 300, 0, &one, 1, 1);
        fm_batch_add(b, 301, 1, &one, 1, 1);
        fm_context_decode_batch(ctx, b);
        fm_batch_free(b);
        write_seed(seeds, "state-all", FM_STATE_ALL);
        write_seed(seeds, "state-seq", 1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *buf = malloc(size ? size : 1);
    if (buf == NULL) return 0;
    memcpy(buf, data, size);
    if (size >= 88 && (size & 1)) { /* the checksum the header says: header (field zeroed) + payload */
        memset(buf + 72, 0, 8);
        fm_hash64 h;
        fm_hash64_init(&h, 0x73746174);
        fm_hash64_update(&h, buf, 88);
        fm_hash64_update(&h, buf + 88, size - 88);
        const uint64_t c = fm_hash64_final(&h);
        for (int i = 0; i < 8; i++) buf[72 + i] = (uint8_t)(c >> (8 * i));
    }
    for (int k = 0; k < 2; k++) {
        base();
        fm_context_state_load(ctx, k == 0 ? FM_STATE_ALL : 1, buf, size);
        const fm_token t = 5;
        fm_context_decode(ctx, &t, 1, FM_LOGITS_LAST);
    }
    free(buf);
    return 0;
}
