/* Random and malformed input through every tokenizer kind, with and without
 * special-token parsing: no crash and no read past the buffer (the suite
 * also runs under ASan/UBSan); byte-level BPE gives the bytes back, the
 * others behave as docs/tokenizers.md says. */
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "fm.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* Bytes biased towards what breaks tokenizers: UTF-8 lead and continuation
 * bytes, spaces, special-token punctuation. */
static void random_text(char *buf, size_t n) {
    static const char pool[] = " \t\n\r<>|/[]'sa0\xC3\xA9\xE2\x96\x81\xF0\x9F\x98\x80\x80\xBF\xFF\xC0\xED\xA0";
    for (size_t i = 0; i < n; i++) buf[i] = next() % 4 ? pool[next() % (sizeof pool - 1)] : (char)next();
}

static void run(const char *vocab, int byte_level, int spm) {
    fm_tokenizer *t;
    fm_status s = fm_tokenizer_load(tu_data(vocab), NULL, &t);
    CHECK(s == FM_STATUS_OK, "%s: %s", vocab, fm_last_error());
    if (s) return;
    static char text[5000], back[50000], kept[5000];
    static fm_token ids[10000];
    int fails = 0;
    /* bytes the vocabulary has no token for are dropped (docs/tokenizers.md) */
    int has[256];
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        size_t k = 0;
        has[b] = !byte_level || (fm_tokenizer_encode(t, &c, 1, 0, NULL, 0, &k) == FM_STATUS_BUFFER_TOO_SMALL && k > 0);
    }
    for (int k = 0; k < 300; k++) {
        size_t len = k < 10 ? (size_t)k : next() % (k < 290 ? 200 : 5000);
        random_text(text, len);
        for (int special = 0; special < 2; special++) {
            /* the exact-size buffer: any write past it is caught by ASan */
            size_t n = 0;
            s = fm_tokenizer_encode(t, text, len, special ? FM_ENCODE_PARSE_SPECIAL : 0, NULL, 0, &n);
            if (spm && s == FM_STATUS_INVALID_UTF8) continue;
            if (s != FM_STATUS_OK && s != FM_STATUS_BUFFER_TOO_SMALL) {
                fails++;
                continue;
            }
            fm_token *exact = malloc((n ? n : 1) * sizeof *exact);
            size_t m = 0;
            s = fm_tokenizer_encode(t, text, len, special ? FM_ENCODE_PARSE_SPECIAL : 0, exact, n, &m);
            CHECK(s == FM_STATUS_OK && m == n, "%s: second encode %s", vocab, fm_status_name(s));
            for (size_t i = 0; i < m; i++) CHECK(exact[i] >= 0 && exact[i] < fm_tokenizer_n_vocab(t), "id range");
            if (byte_level && !special && m <= sizeof ids / sizeof ids[0]) {
                size_t bl = 0, kl = 0;
                for (size_t i = 0; i < len; i++)
                    if (has[(unsigned char)text[i]]) kept[kl++] = text[i];
                s = fm_tokenizer_decode(t, exact, m, 0, back, sizeof back, &bl);
                CHECK(s == FM_STATUS_OK && bl == kl && memcmp(back, kept, kl) == 0, "%s: round trip of %zu bytes",
                      vocab, len);
            }
            /* streaming decode never emits broken UTF-8 */
            fm_detokenizer *d;
            CHECK(fm_detokenizer_new(t, 0, &d) == FM_STATUS_OK, "detokenizer");
            for (size_t i = 0; i < m; i++) {
                char piece[512];
                size_t pl;
                if (fm_detokenizer_push(d, exact[i], piece, sizeof piece, &pl) != FM_STATUS_OK) continue;
                for (size_t q = 0; q < pl;) {
                    size_t c = 1;
                    unsigned char b = (unsigned char)piece[q];
                    if (b >= 0xF0) c = 4;
                    else if (b >= 0xE0) c = 3;
                    else if (b >= 0xC0) c = 2;
                    CHECK(b < 0x80 || (b >= 0xC2 && b <= 0xF4 && q + c <= pl), "%s: streamed bytes are not UTF-8", vocab);
                    q += c;
                }
            }
            fm_detokenizer_free(d);
            free(exact);
        }
    }
    CHECK(fails == 0, "%s: %d encodes failed", vocab, fails);
    fm_tokenizer_free(t);
}

int main(void) {
    run("models/tok512.bin", 0, 1);
    run("vocab/ggml-vocab-phi-3.gguf", 0, 1);
    run("vocab/ggml-vocab-gpt-2.gguf", 1, 0);
    run("vocab/ggml-vocab-mpt.gguf", 1, 0);
    run("vocab/ggml-vocab-deepseek-llm.gguf", 0, 0); /* lacks no byte, but its user-defined letters are lossy */
    run("vocab/ggml-vocab-bert-bge.gguf", 0, 0);
    run("vocab/cl100k_base.tiktoken", 1, 0);
    run("vocab/o200k_base.tiktoken", 1, 0);
    return tu_finish("test_tokenizer_random");
}
