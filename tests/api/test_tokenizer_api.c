/* The public tokenizer calls on the llama2.c tokenizer and a GGUF vocab:
 * special ids, lookups, pieces of byte tokens, special-token parsing,
 * decode round trips and the streaming detokenizer. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/testutil.h"
#include "fm.h"

static size_t enc(const fm_tokenizer *t, const char *s, uint32_t flags, fm_token *ids, size_t cap) {
    size_t n = 0;
    fm_status st = fm_tokenizer_encode(t, s, strlen(s), flags, ids, cap, &n);
    CHECK(st == FM_STATUS_OK, "encode '%s': %s", s, fm_last_error());
    return n;
}

static void test_tok512(void) {
    fm_tokenizer *t;
    CHECK(fm_tokenizer_load(tu_data("models/tok512.bin"), NULL, &t) == FM_STATUS_OK, "load tok512: %s",
          fm_last_error());
    CHECK(fm_tokenizer_n_vocab(t) == 512, "512 tokens");
    CHECK(fm_tokenizer_special(t, FM_SPECIAL_BOS) == 1 && fm_tokenizer_special(t, FM_SPECIAL_EOS) == 2 &&
              fm_tokenizer_special(t, FM_SPECIAL_UNK) == 0 && fm_tokenizer_special(t, FM_SPECIAL_PAD) == FM_TOKEN_NONE,
          "special ids");
    CHECK(fm_tokenizer_special(t, (fm_special_token)99) == FM_TOKEN_NONE, "unknown special");
    fm_token id;
    CHECK(fm_tokenizer_find(t, "<0x0A>", 6, &id) == FM_STATUS_OK && id == 13, "find <0x0A>");
    CHECK(fm_tokenizer_find(t, "<s>", 3, &id) == FM_STATUS_OK && id == 1, "find <s>");
    CHECK(fm_tokenizer_find(t, "no such token", 13, &id) == FM_STATUS_NOT_FOUND, "find missing");
    char buf[64];
    size_t n;
    CHECK(fm_tokenizer_token_to_piece(t, 13, 0, buf, sizeof buf, &n) == FM_STATUS_OK && n == 1 && buf[0] == '\n',
          "byte token piece");
    CHECK(fm_tokenizer_token_to_piece(t, 1, 0, buf, sizeof buf, &n) == FM_STATUS_OK && n == 0, "BOS has no text");
    CHECK(fm_tokenizer_token_to_piece(t, 1, FM_DECODE_RENDER_SPECIAL, buf, sizeof buf, &n) == FM_STATUS_OK &&
              n == 3 && memcmp(buf, "<s>", 3) == 0,
          "BOS rendered");
    CHECK(fm_tokenizer_token_to_piece(t, 403, 0, buf, 0, &n) == FM_STATUS_BUFFER_TOO_SMALL && n == 5,
          "piece size query (' Once')");

    /* FM_ENCODE_CONTINUE: no dummy prefix, so "Once" alone and after
     * " upon" tokenize as a continuation would; the ids then decode back
     * to the text without an added space */
    {
        fm_token a[16], b[16];
        size_t na = 0, nb = 0;
        CHECK(fm_tokenizer_encode(t, "Once", 4, 0, a, 16, &na) == FM_STATUS_OK && na == 1 && a[0] == 403,
              "'Once' gets the dummy prefix: one token ' Once'");
        CHECK(fm_tokenizer_encode(t, "Once", 4, FM_ENCODE_CONTINUE, b, 16, &nb) == FM_STATUS_OK &&
                  !(nb == 1 && b[0] == 403),
              "CONTINUE: no dummy prefix");
        char text[64];
        size_t tn = 0;
        CHECK(fm_tokenizer_decode(t, b, nb, 0, text, sizeof text, &tn) == FM_STATUS_OK && tn == 4 &&
                  memcmp(text, "Once", 4) == 0,
              "CONTINUE ids decode to 'Once' (%zu bytes)", tn);
        CHECK(fm_tokenizer_encode(t, "Once", 4, 0x20u, b, 16, &nb) == FM_STATUS_INVALID_ARGUMENT, "unknown flag");
    }

    /* special tokens: plain text by default, control tokens when parsed */
    fm_token ids[128];
    n = enc(t, "a</s>b", 0, ids, 128);
    int has_eos = 0;
    for (size_t i = 0; i < n; i++) has_eos |= ids[i] == 2;
    CHECK(!has_eos, "'</s>' is text without PARSE_SPECIAL");
    n = enc(t, "a</s>b", FM_ENCODE_PARSE_SPECIAL, ids, 128);
    has_eos = 0;
    for (size_t i = 0; i < n; i++) has_eos |= ids[i] == 2;
    CHECK(has_eos, "'</s>' is EOS with PARSE_SPECIAL");
    n = enc(t, "hi", FM_ENCODE_ADD_BOS | FM_ENCODE_ADD_EOS, ids, 128);
    CHECK(n >= 3 && ids[0] == 1 && ids[n - 1] == 2, "BOS and EOS added");
    CHECK(enc(t, "", 0, ids, 128) == 0, "empty text gives no ids");
    CHECK(enc(t, "", FM_ENCODE_ADD_BOS, ids, 128) == 1 && ids[0] == 1, "empty text with BOS");

    /* decode(encode(x)) == x, characters outside the vocab through byte tokens */
    static const char *const texts[] = {"Once upon a time, there was a cat.", "  two  spaces\nand\ttabs ",
                                        "日本語 ünïcödé ✓ 🙂", "x"};
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
        n = enc(t, texts[k], FM_ENCODE_ADD_BOS, ids, 128);
        size_t m;
        fm_status s = fm_tokenizer_decode(t, ids, n, FM_DECODE_STRIP_LEADING_SPACE, buf, sizeof buf, &m);
        CHECK(s == FM_STATUS_OK && m == strlen(texts[k]) && memcmp(buf, texts[k], m) == 0,
              "round trip of '%s' gave '%.*s'", texts[k], (int)m, buf);
        s = fm_tokenizer_decode(t, ids, n, FM_DECODE_STRIP_LEADING_SPACE, buf, strlen(texts[k]) - 1, &m);
        CHECK(s == FM_STATUS_BUFFER_TOO_SMALL && m == strlen(texts[k]), "decode size query");
    }

    /* streaming: the three byte tokens of U+65E5 come out as one character */
    fm_detokenizer *d;
    CHECK(fm_detokenizer_new(t, 0, &d) == FM_STATUS_OK, "detokenizer");
    const fm_token e6 = 3 + 0xE6, x97 = 3 + 0x97, xa5 = 3 + 0xA5;
    CHECK(fm_detokenizer_push(d, e6, buf, sizeof buf, &n) == FM_STATUS_OK && n == 0, "E6 held");
    CHECK(fm_detokenizer_push(d, x97, buf, sizeof buf, &n) == FM_STATUS_OK && n == 0, "97 held");
    CHECK(fm_detokenizer_push(d, xa5, buf, 2, &n) == FM_STATUS_BUFFER_TOO_SMALL && n == 3, "needs 3 bytes");
    CHECK(fm_detokenizer_push(d, xa5, buf, sizeof buf, &n) == FM_STATUS_OK && n == 3 && memcmp(buf, "日", 3) == 0,
          "A5 completes the character");
    /* a lead byte followed by ASCII: the lead byte becomes U+FFFD */
    CHECK(fm_detokenizer_push(d, e6, buf, sizeof buf, &n) == FM_STATUS_OK && n == 0, "E6 held again");
    CHECK(fm_detokenizer_push(d, 3 + 'A', buf, sizeof buf, &n) == FM_STATUS_OK && n == 4 &&
              memcmp(buf, "\xEF\xBF\xBD" "A", 4) == 0,
          "broken sequence");
    CHECK(fm_detokenizer_push(d, e6, buf, sizeof buf, &n) == FM_STATUS_OK && n == 0, "E6 held at the end");
    CHECK(fm_detokenizer_flush(d, buf, sizeof buf, &n) == FM_STATUS_OK && n == 3 && memcmp(buf, "\xEF\xBF\xBD", 3) == 0,
          "flush emits U+FFFD");
    CHECK(fm_detokenizer_push(d, 512, buf, sizeof buf, &n) == FM_STATUS_INVALID_ARGUMENT, "push id 512");
    fm_detokenizer_free(d);
    CHECK(fm_detokenizer_new(t, 0x80, &d) == FM_STATUS_INVALID_ARGUMENT, "unknown detokenizer flag");
    fm_tokenizer_free(t);
}

static void test_gguf_vocab(void) {
    fm_tokenizer *t;
    CHECK(fm_tokenizer_load(tu_data("vocab/ggml-vocab-llama-spm.gguf"), NULL, &t) == FM_STATUS_OK, "load: %s",
          fm_last_error());
    CHECK(fm_tokenizer_n_vocab(t) == 32000, "32000 tokens");
    fm_token ids[64];
    /* "Hello world" is 15043 3186 in Llama 2 */
    size_t n = enc(t, "Hello world", FM_ENCODE_ADD_SPECIAL_AUTO, ids, 64);
    CHECK(n == 3 && ids[0] == 1 && ids[1] == 15043 && ids[2] == 3186, "Hello world");
    fm_token id;
    CHECK(fm_tokenizer_find(t, "\xE2\x96\x81the", 6, &id) == FM_STATUS_OK && id == 278, "find '▁the'");
    fm_tokenizer_free(t);
}

/* Invalid UTF-8: byte-level BPE keeps the bytes, WordPiece drops them,
 * SentencePiece refuses (docs/tokenizers.md). */
/* A .tiktoken file whose one line claims rank 16,000,000: refused at once
 * (it used to build a 16M-entry vocabulary, 1.4 GB, in 4 s), and a
 * well-formed small one with gaps still loads. */
static void test_tiktoken_claimed_ranks(void) {
    char dir[] = "/tmp/fm-tiktoken-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    char path[256];
    snprintf(path, sizeof path, "%s/cl100k_base.tiktoken", dir);
    FILE *f = fopen(path, "w");
    fputs("YQ== 16000000\n", f);
    fclose(f);
    fm_tokenizer *t = NULL;
    const double t0 = (double)clock() / CLOCKS_PER_SEC;
    fm_status s = fm_tokenizer_load(path, NULL, &t);
    CHECK(s == FM_STATUS_BAD_FORMAT && t == NULL && strstr(fm_last_error(), "rank 16000000 with only 1 lines"),
          "huge claimed rank: %s (%s)", fm_status_name(s), fm_last_error());
    CHECK((double)clock() / CLOCKS_PER_SEC - t0 < 0.5, "refused without building the table");
    fm_tokenizer_free(t);
    f = fopen(path, "w");
    fputs("YQ== 0\nYg== 1\nYw== 5\n", f); /* a, b, c with a gap */
    fclose(f);
    s = fm_tokenizer_load(path, NULL, &t);
    CHECK(s == FM_STATUS_OK, "small file with a gap loads: %s", fm_last_error());
    fm_tokenizer_free(t);
    remove(path);
    remove(dir);
}

static void test_invalid_utf8(void) {
    static const char bad[] = "ok \xff\xfe mid \xc3 end \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82";
    const size_t n_bad = sizeof bad - 1;
    fm_tokenizer *t;
    CHECK(fm_tokenizer_load(tu_data("vocab/ggml-vocab-gpt-2.gguf"), NULL, &t) == FM_STATUS_OK, "gpt-2");
    fm_token ids[128];
    size_t n = 0, m = 0;
    CHECK(fm_tokenizer_encode(t, bad, n_bad, 0, ids, 128, &n) == FM_STATUS_OK && n > 0, "BPE takes invalid UTF-8");
    char back[256];
    CHECK(fm_tokenizer_decode(t, ids, n, 0, back, sizeof back, &m) == FM_STATUS_OK && m == n_bad &&
              memcmp(back, bad, m) == 0,
          "BPE round-trips invalid bytes");
    fm_tokenizer_free(t);
    CHECK(fm_tokenizer_load(tu_data("vocab/cl100k_base.tiktoken"), NULL, &t) == FM_STATUS_OK, "cl100k");
    CHECK(fm_tokenizer_encode(t, bad, n_bad, 0, ids, 128, &n) == FM_STATUS_OK &&
              fm_tokenizer_decode(t, ids, n, 0, back, sizeof back, &m) == FM_STATUS_OK && m == n_bad &&
              memcmp(back, bad, m) == 0,
          "tiktoken round-trips invalid bytes");
    fm_tokenizer_free(t);
    CHECK(fm_tokenizer_load(tu_data("vocab/ggml-vocab-bert-bge.gguf"), NULL, &t) == FM_STATUS_OK, "bert");
    fm_token clean[16];
    size_t nc = 0;
    CHECK(fm_tokenizer_encode(t, "ab\xff\xc3" "cd", 6, 0, ids, 128, &n) == FM_STATUS_OK, "WordPiece takes invalid UTF-8");
    CHECK(fm_tokenizer_encode(t, "abcd", 4, 0, clean, 16, &nc) == FM_STATUS_OK && nc == n &&
              memcmp(ids, clean, n * sizeof *ids) == 0,
          "WordPiece drops malformed bytes");
    /* [CLS] text [SEP] with the vocabulary's own settings */
    CHECK(fm_tokenizer_encode(t, "hello", 5, FM_ENCODE_ADD_SPECIAL_AUTO, ids, 128, &n) == FM_STATUS_OK && n >= 3 &&
              ids[0] == 101 && ids[n - 1] == 102,
          "BERT adds [CLS] and [SEP]");
    fm_tokenizer_free(t);
    CHECK(fm_tokenizer_load(tu_data("vocab/ggml-vocab-llama-spm.gguf"), NULL, &t) == FM_STATUS_OK, "spm");
    CHECK(fm_tokenizer_encode(t, bad, n_bad, 0, ids, 128, &n) == FM_STATUS_INVALID_UTF8, "SentencePiece refuses");
    fm_tokenizer_free(t);
}

int main(void) {
    test_tok512();
    test_gguf_vocab();
    test_invalid_utf8();
    test_tiktoken_claimed_ranks();
    return tu_finish("test_tokenizer_api");
}
