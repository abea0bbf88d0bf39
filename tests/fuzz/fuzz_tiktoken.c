/* libFuzzer target: the .tiktoken loader on arbitrary bytes. Byte 0 picks
 * the encoding the file is named for (which sets the special tokens and
 * the pre-tokenizer), the rest is the file, written to a temporary folder
 * (the loader maps a path). A file that loads must encode and decode. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fm.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/fuzz_tiktoken.XXXXXX", tmp);
    if (mkdtemp(dir) == NULL) {
        perror("fuzz_tiktoken: mkdtemp");
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const names[] = {"r50k_base", "p50k_base", "cl100k_base", "o200k_base"};
    if (size < 1) return 0;
    char path[512];
    snprintf(path, sizeof path, "%s/%s.tiktoken", dir, names[data[0] % 4]);
    FILE *f = fopen(path, "wb");
    if (f == NULL) return 0;
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    fm_tokenizer *t = NULL;
    if (fm_tokenizer_load(path, NULL, &t) == FM_STATUS_OK) {
        static const char text[] = "Hello, world! <|endoftext|> 12345  tabs\tand\nnewlines \xc3\xa9\xe6\x97\xa5";
        fm_token ids[256];
        size_t n = 0;
        char buf[1024];
        size_t nb;
        if (fm_tokenizer_encode(t, text, sizeof text - 1, FM_ENCODE_PARSE_SPECIAL, ids, 256, &n) == FM_STATUS_OK)
            fm_tokenizer_decode(t, ids, n, FM_DECODE_RENDER_SPECIAL, buf, sizeof buf, &nb);
        fm_tokenizer_free(t);
    }
    unlink(path);
    return 0;
}
