/* libFuzzer target: arbitrary text through every tokenizer kind - SPM
 * (llama, phi-3), byte-level BPE (gpt-2, deepseek-llm), WordPiece (BERT),
 * tiktoken (r50k_base) and llama2.c tokenizer.bin - with every encode flag,
 * then back through decode, token_to_piece and the streaming detokenizer
 * with every decode flag; and the input's bytes read as token ids (out of
 * range among them) through the same decoders. Input: byte 0 picks the
 * vocabulary, byte 1 the encode flags, byte 2 the decode flags, the rest is
 * the text. Every outcome must be a status, never a crash or a leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const k_vocabs[] = {
    "vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-phi-3.gguf", "vocab/ggml-vocab-gpt-2.gguf",
    "vocab/ggml-vocab-deepseek-llm.gguf", "vocab/ggml-vocab-bert-bge.gguf", "vocab/r50k_base.tiktoken",
    "models/tok512.bin",
};
#define N_VOCABS (sizeof k_vocabs / sizeof *k_vocabs)
static fm_tokenizer *toks[N_VOCABS];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *d = getenv("FM_TEST_DATA");
    for (size_t i = 0; i < N_VOCABS; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", d ? d : "../shared", k_vocabs[i]);
        if (fm_tokenizer_load(path, NULL, &toks[i]) != FM_STATUS_OK) {
            fprintf(stderr, "fuzz_tokenize: %s: %s\n", path, fm_last_error());
            exit(1);
        }
    }
    return 0;
}

static void decode_all(const fm_tokenizer *t, const fm_token *ids, size_t n, uint32_t dflags) {
    static char buf[1 << 16];
    size_t nb = 0;
    fm_status st = fm_tokenizer_decode(t, ids, n, dflags, buf, sizeof buf, &nb);
    if (st == FM_STATUS_BUFFER_TOO_SMALL) {
        char *big = malloc(nb ? nb : 1);
        if (big != NULL) fm_tokenizer_decode(t, ids, n, dflags, big, nb, &nb);
        free(big);
    }
    fm_detokenizer *d = NULL;
    if (fm_detokenizer_new(t, dflags & FM_DECODE_RENDER_SPECIAL, &d) != FM_STATUS_OK) return;
    for (size_t i = 0; i < n; i++) {
        fm_tokenizer_token_to_piece(t, ids[i], dflags, buf, 8, &nb); /* small buffer: BUFFER_TOO_SMALL path */
        fm_detokenizer_push(d, ids[i], buf, sizeof buf, &nb);
    }
    fm_detokenizer_flush(d, buf, sizeof buf, &nb);
    fm_detokenizer_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3) return 0;
    const fm_tokenizer *t = toks[data[0] % N_VOCABS];
    const uint32_t eflags = data[1] & 0x1f, dflags = data[2] & 0x3;
    const char *text = (const char *)data + 3;
    const size_t len = size - 3;
    fm_token small[16];
    size_t n = 0;
    fm_status st = fm_tokenizer_encode(t, text, len, eflags, small, 16, &n);
    fm_token *ids = small;
    if (st == FM_STATUS_BUFFER_TOO_SMALL) {
        ids = malloc(n * sizeof *ids);
        if (ids == NULL) return 0;
        st = fm_tokenizer_encode(t, text, len, eflags, ids, n, &n);
    }
    if (st == FM_STATUS_OK) decode_all(t, ids, n, dflags);
    if (ids != small) free(ids);
    /* the bytes as ids: valid, negative and past the vocabulary */
    fm_token raw[64];
    size_t nr = len / 4 < 64 ? len / 4 : 64;
    for (size_t i = 0; i < nr; i++) {
        int32_t v;
        memcpy(&v, text + 4 * i, 4);
        raw[i] = (data[1] & 0x80) ? v : (fm_token)((uint32_t)v % (uint32_t)(fm_tokenizer_n_vocab(t) + 4));
    }
    decode_all(t, raw, nr, dflags);
    return 0;
}
