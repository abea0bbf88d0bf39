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

/* Appends code point cp to buf as UTF-8. */
static size_t put_utf8(char *buf, uint32_t cp) {
    if (cp < 0x80) return buf[0] = (char)cp, 1;
    if (cp < 0x800) return buf[0] = (char)(0xC0 | cp >> 6), buf[1] = (char)(0x80 | (cp & 0x3F)), 2;
    if (cp < 0x10000) {
        buf[0] = (char)(0xE0 | cp >> 12), buf[1] = (char)(0x80 | (cp >> 6 & 0x3F)), buf[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    buf[0] = (char)(0xF0 | cp >> 18), buf[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    buf[2] = (char)(0x80 | (cp >> 6 & 0x3F)), buf[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A long text in many scripts, as byte-level BPE takes it in batches of
 * pieces (docs/tokenizers.md, Speed): 600 KB of words drawn from 3,000
 * random ones, so that pieces repeat and the memo both hits and grows,
 * with stray invalid bytes. The ids must decode to the text. */
static void run_long(const char *vocab) {
    fm_tokenizer *t;
    fm_status s = fm_tokenizer_load(tu_data(vocab), NULL, &t);
    CHECK(s == FM_STATUS_OK, "%s: %s", vocab, fm_last_error());
    if (s) return;
    static const uint32_t script[][2] = {{0x410, 64}, {0x391, 25}, {0x4E00, 2000}, {0x905, 50}, {0x627, 26},
                                         {0xE01, 46}, {0xAC00, 500}, {0x1F600, 80}, {'a', 26}, {'A', 26}};
    enum { WORDS = 3000, TEXT = 600 * 1024 };
    static char words[WORDS][64], text[TEXT + 64];
    static size_t wlen[WORDS];
    for (int w = 0; w < WORDS; w++) {
        const uint32_t *sc = script[next() % (sizeof script / sizeof script[0])];
        const int n = 1 + (int)(next() % 10);
        wlen[w] = 0;
        for (int i = 0; i < n; i++) wlen[w] += put_utf8(words[w] + wlen[w], sc[0] + next() % sc[1]);
    }
    size_t len = 0;
    while (len < TEXT) {
        const int w = (int)(next() % WORDS);
        memcpy(text + len, words[w], wlen[w]);
        len += wlen[w];
        const uint32_t r = next() % 64;
        text[len++] = r < 50 ? ' ' : r < 55 ? '\n' : r < 60 ? ',' : r < 63 ? '.' : (char)(0x80 | next() % 64);
    }
    fm_token *ids = malloc(len * sizeof *ids);
    char *back = malloc(len);
    size_t n = 0, bl = 0;
    s = fm_tokenizer_encode(t, text, len, 0, ids, len, &n);
    CHECK(s == FM_STATUS_OK, "%s: long text: %s", vocab, fm_last_error());
    if (s == FM_STATUS_OK) s = fm_tokenizer_decode(t, ids, n, 0, back, len, &bl);
    CHECK(s == FM_STATUS_OK && bl == len && memcmp(back, text, len) == 0, "%s: round trip of %zu bytes in %zu ids",
          vocab, len, n);
    free(ids);
    free(back);
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
    run_long("vocab/ggml-vocab-gpt-2.gguf");
    run_long("vocab/cl100k_base.tiktoken");
    run_long("vocab/o200k_base.tiktoken");
    return tu_finish("test_tokenizer_random");
}
