/* Acceptance 4 of the core runtime: bad input of every kind returns an error
 * status and a message naming the problem; nothing crashes or leaks (the
 * suite also runs under ASan/UBSan) and handles stay usable. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/testutil.h"
#include "fm.h"
#include "fm_backend.h"

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

/* Loading `data` as a model must fail with `want` (0: any error). */
static void expect_load_fails(const void *data, size_t len, fm_status want, const char *msg_part, const char *what) {
    const char *path = tu_temp_file(data, len);
    CHECK(path != NULL, "temp file");
    if (path == NULL) return;
    fm_model *m = (fm_model *)1;
    fm_status s = fm_model_load(path, NULL, &m);
    CHECK(s != FM_STATUS_OK && m == NULL, "%s: load succeeded", what);
    if (want != 0) CHECK(s == want, "%s: got %s, want %s (%s)", what, fm_status_name(s), fm_status_name(want), fm_last_error());
    CHECK(fm_last_error()[0] != '\0', "%s: no error message", what);
    if (msg_part) CHECK(contains(fm_last_error(), msg_part), "%s: message '%s' lacks '%s'", what, fm_last_error(), msg_part);
    /* the tokenizer loader reads the same files, except model keys and weights */
    fm_tokenizer *t = (fm_tokenizer *)1;
    s = fm_tokenizer_load(path, NULL, &t);
    if (!contains(what, "block_count") && !contains(what, "(model)")) CHECK(s != FM_STATUS_OK && t == NULL, "%s: tokenizer load succeeded", what);
    if (s == FM_STATUS_OK) fm_tokenizer_free(t);
    unlink(path);
}

/* Offset just past the name `name` in a GGUF header (its tensor-info entry
 * or metadata key), found by searching for the length-prefixed string. */
static size_t find_entry(const uint8_t *buf, size_t len, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 8; i + n <= len; i++) {
        uint64_t l;
        memcpy(&l, buf + i - 8, 8);
        if (l == n && memcmp(buf + i, name, n) == 0) return i + n;
    }
    return 0;
}

static void test_files(void) {
    fm_model *m = (fm_model *)1;
    fm_status s = fm_model_load("/nonexistent/model.gguf", NULL, &m);
    CHECK(s == FM_STATUS_IO && m == NULL, "missing file: %s", fm_status_name(s));
    CHECK(contains(fm_last_error(), "/nonexistent/model.gguf"), "message names the path: %s", fm_last_error());

    expect_load_fails("", 0, FM_STATUS_BAD_FORMAT, "empty", "empty file");
    char junk[4096];
    memset(junk, 'x', sizeof junk);
    expect_load_fails(junk, sizeof junk, FM_STATUS_BAD_FORMAT, "neither GGUF nor", "wrong magic");
    expect_load_fails("GGUF", 4, FM_STATUS_BAD_FORMAT, "truncated", "magic only");

    size_t len;
    uint8_t *gguf = (uint8_t *)tu_read_file(tu_data("models/stories260K.gguf"), &len);
    CHECK(gguf != NULL, "read stories260K.gguf");
    if (gguf == NULL) return;
    for (int k = 1; k < 16; k++) {
        char what[64];
        snprintf(what, sizeof what, "GGUF truncated at %d/16", k);
        expect_load_fails(gguf, len * (size_t)k / 16, FM_STATUS_BAD_FORMAT, NULL, what);
    }
    expect_load_fails(gguf, len - 1, FM_STATUS_BAD_FORMAT, "past the end", "GGUF missing its last byte");

    uint8_t *bad = malloc(len);
    /* tensor entry: name, n_dims u32, dims u64 x n_dims, type u32, offset u64 */
    size_t at = find_entry(gguf, len, "output.weight");
    CHECK(at != 0, "output.weight entry");
    uint32_t n_dims;
    memcpy(&n_dims, gguf + at, 4);
    const size_t dims_at = at + 4, off_at = at + 4 + 8 * n_dims + 4;
    const uint64_t huge = 1ull << 36;
    memcpy(bad, gguf, len);
    memcpy(bad + off_at, &huge, 8);
    expect_load_fails(bad, len, FM_STATUS_BAD_FORMAT, "output.weight", "tensor offset past the end");
    memcpy(bad, gguf, len);
    memcpy(bad + dims_at + 8, &huge, 8);
    expect_load_fails(bad, len, FM_STATUS_BAD_FORMAT, "output.weight", "tensor dimension past the end");
    const uint64_t zero = 0;
    memcpy(bad, gguf, len);
    memcpy(bad + dims_at, &zero, 8);
    expect_load_fails(bad, len, FM_STATUS_BAD_FORMAT, "output.weight", "tensor dimension 0");
    const uint64_t max = UINT64_MAX;
    memcpy(bad, gguf, len);
    memcpy(bad + dims_at, &max, 8);
    expect_load_fails(bad, len, FM_STATUS_BAD_FORMAT, "output.weight", "tensor dimension 2^64-1");
    const uint32_t bad_type = 99;
    memcpy(bad, gguf, len);
    memcpy(bad + off_at - 4, &bad_type, 4);
    expect_load_fails(bad, len, FM_STATUS_BAD_FORMAT, "unknown type", "tensor type 99");

    /* metadata: key, type u32, then for strings a u64 length */
    at = find_entry(gguf, len, "general.architecture");
    CHECK(at != 0, "general.architecture entry");
    const uint64_t len63 = 1ull << 63;
    memcpy(bad, gguf, len);
    memcpy(bad + at + 4, &len63, 8);
    expect_load_fails(bad, len, FM_STATUS_BAD_FORMAT, "general.architecture", "string length 2^63");
    memcpy(bad, gguf, len);
    memcpy(bad + at - strlen("general.architecture") - 8, &len63, 8);
    expect_load_fails(bad, len, FM_STATUS_BAD_FORMAT, "length", "key length 2^63");
    const uint32_t bad_vtype = 77;
    memcpy(bad, gguf, len);
    memcpy(bad + at, &bad_vtype, 4);
    expect_load_fails(bad, len, FM_STATUS_BAD_FORMAT, "unknown value type", "metadata type 77");
    at = find_entry(gguf, len, "tokenizer.ggml.tokens");
    memcpy(bad, gguf, len);
    memcpy(bad + at + 8, &len63, 8); /* after type u32 and element type u32: the count */
    expect_load_fails(bad, len, FM_STATUS_BAD_FORMAT, "tokenizer.ggml.tokens", "array count 2^63");
    /* header counts */
    memcpy(bad, gguf, len);
    memcpy(bad + 8, &len63, 8);
    expect_load_fails(bad, len, FM_STATUS_BAD_FORMAT, "more than the file", "tensor count 2^63");
    const uint32_t v1 = 1;
    memcpy(bad, gguf, len);
    memcpy(bad + 4, &v1, 4);
    expect_load_fails(bad, len, FM_STATUS_UNSUPPORTED, "version 1", "GGUF v1");
    /* a required key of the wrong type */
    at = find_entry(gguf, len, "llama.block_count");
    const uint32_t f32_type = 6;
    memcpy(bad, gguf, len);
    memcpy(bad + at, &f32_type, 4);
    expect_load_fails(bad, len, FM_STATUS_BAD_FORMAT, "llama.block_count", "block_count as float");
    free(bad);
    free(gguf);

    /* llama2.c checkpoint cut short, and a tokenizer.bin cut short */
    uint8_t *bin = (uint8_t *)tu_read_file(tu_data("models/stories260K.bin"), &len);
    CHECK(bin != NULL, "read stories260K.bin");
    if (bin) expect_load_fails(bin, len / 2, FM_STATUS_BAD_FORMAT, "llama2.c", "llama2.c checkpoint truncated");
    free(bin);
    uint8_t *tb = (uint8_t *)tu_read_file(tu_data("models/tok512.bin"), &len);
    if (tb) {
        const char *path = tu_temp_file(tb, len - 3);
        fm_tokenizer *t = (fm_tokenizer *)1;
        s = fm_tokenizer_load(path, NULL, &t);
        CHECK(s == FM_STATUS_BAD_FORMAT && t == NULL, "truncated tokenizer.bin: %s", fm_status_name(s));
        fm_model_params mp;
        fm_model_params_init(&mp, sizeof mp);
        mp.tokenizer_path = path;
        s = fm_model_load(tu_data("models/stories260K.bin"), &mp, &m);
        CHECK(s == FM_STATUS_BAD_FORMAT && m == NULL, "model with truncated tokenizer: %s", fm_status_name(s));
        unlink(path);
    }
    free(tb);
    /* a tokenizer of the wrong size for the model */
    fm_model_params mp;
    fm_model_params_init(&mp, sizeof mp);
    mp.tokenizer_path = tu_data("vocab/ggml-vocab-llama-spm.gguf");
    s = fm_model_load(tu_data("models/stories260K.bin"), &mp, &m);
    CHECK(s == FM_STATUS_BAD_FORMAT && contains(fm_last_error(), "32000"), "mismatched tokenizer: %s",
          fm_last_error());
    /* a vocab-only GGUF is not a model */
    s = fm_model_load(tu_data("vocab/ggml-vocab-llama-spm.gguf"), NULL, &m);
    CHECK(s == FM_STATUS_BAD_FORMAT && contains(fm_last_error(), "token_embd"), "vocab-only file: %s",
          fm_last_error());
}

/* Renames a length-prefixed name in place (same length). */
static void rename_entry(uint8_t *buf, size_t len, const char *from, const char *to) {
    size_t at = find_entry(buf, len, from);
    CHECK(at != 0 && strlen(from) == strlen(to), "entry %s", from);
    if (at) memcpy(buf + at - strlen(from), to, strlen(to));
}

/* The tensor entry of `name`: where its dims, type and offset are. */
typedef struct entry {
    size_t dims, type, offset;
} entry;

static entry tensor_entry(const uint8_t *buf, size_t len, const char *name) {
    entry e = {0, 0, 0};
    size_t at = find_entry(buf, len, name);
    CHECK(at != 0, "tensor entry %s", name);
    if (at == 0) return e;
    uint32_t n_dims;
    memcpy(&n_dims, buf + at, 4);
    e.dims = at + 4;
    e.type = at + 4 + 8 * n_dims;
    e.offset = e.type + 4;
    return e;
}

/* The model-zoo loader refusals: each a crafted file, each named. */
static void test_crafted_refusals(void) {
    size_t len;
    uint8_t *gguf = (uint8_t *)tu_read_file(tu_data("models/llama-k256.f32.gguf"), &len);
    CHECK(gguf != NULL, "read llama-k256.f32.gguf");
    if (gguf == NULL) return;
    uint8_t *bad = malloc(len);

    memcpy(bad, gguf, len);
    rename_entry(bad, len, "llama.context_length", "general.architecture");
    expect_load_fails(bad, len, FM_STATUS_BAD_FORMAT, "'general.architecture' appears twice", "duplicate key");
    memcpy(bad, gguf, len);
    rename_entry(bad, len, "blk.1.attn_q.weight", "blk.1.attn_k.weight");
    expect_load_fails(bad, len, FM_STATUS_BAD_FORMAT, "'blk.1.attn_k.weight' appears twice", "duplicate tensor");

    const entry q = tensor_entry(gguf, len, "blk.0.attn_q.weight"), k = tensor_entry(gguf, len, "blk.0.attn_k.weight");
    uint64_t off;
    memcpy(&off, gguf + q.offset, 8);
    const uint64_t misaligned = off + 4;
    memcpy(bad, gguf, len);
    memcpy(bad + q.offset, &misaligned, 8);
    expect_load_fails(bad, len, FM_STATUS_BAD_FORMAT, "blk.0.attn_q.weight' offset", "misaligned tensor data");
    memcpy(bad, gguf, len);
    memcpy(bad + k.offset, &off, 8); /* attn_k's data at attn_q's */
    expect_load_fails(bad, len, FM_STATUS_BAD_FORMAT, "overlap", "overlapping tensor data");

    const uint64_t big = 1ull << 33; /* 2^33 x 2^33 elements: the count overflows 63 bits */
    memcpy(bad, gguf, len);
    memcpy(bad + q.dims, &big, 8);
    memcpy(bad + q.dims + 8, &big, 8);
    expect_load_fails(bad, len, FM_STATUS_BAD_FORMAT, "blk.0.attn_q.weight", "element count overflow");

    /* block_count beyond the blocks present */
    size_t at = find_entry(gguf, len, "llama.block_count");
    const uint32_t seven = 7;
    memcpy(bad, gguf, len);
    memcpy(bad + at + 4, &seven, 4);
    expect_load_fails(bad, len, FM_STATUS_BAD_FORMAT, "no tensors for block 6", "block_count beyond the tensors");

    /* a type GGUF knows but libfm does not run: refused by tensor and type */
    const uint32_t q2_k = FM_DTYPE_Q2_K, iq2_xxs = 16;
    /* a K-quant tensor whose rows are not whole 256-element blocks */
    const uint64_t half_row = 128, two_rows = 512;
    memcpy(bad, gguf, len);
    memcpy(bad + q.type, &q2_k, 4);
    memcpy(bad + q.dims, &half_row, 8);
    memcpy(bad + q.dims + 8, &two_rows, 8);
    expect_load_fails(bad, len, FM_STATUS_BAD_FORMAT, "row of 128 is not a multiple of the q2_k block (256)",
                      "q2_K tensor of partial blocks");
    memcpy(bad, gguf, len);
    memcpy(bad + q.type, &iq2_xxs, 4);
    expect_load_fails(bad, len, FM_STATUS_UNSUPPORTED, "'blk.0.attn_q.weight' has type iq2_xxs", "iq2_xxs weight (model)");
    /* an unknown architecture */
    memcpy(bad, gguf, len);
    at = find_entry(bad, len, "general.architecture");
    memcpy(bad + at + 4 + 8, "xxxxx", 5); /* "llama" -> "xxxxx" */
    expect_load_fails(bad, len, FM_STATUS_UNSUPPORTED, "architecture 'xxxxx'", "unknown architecture (model)");
    free(bad);
    free(gguf);
}

static void test_text_and_context(void) {
    fm_model *m;
    fm_status s = fm_model_load(tu_data("models/stories260K.gguf"), NULL, &m);
    CHECK(s == FM_STATUS_OK, "load: %s", fm_last_error());
    if (s) return;
    const fm_tokenizer *tok = fm_model_tokenizer(m);
    fm_token ids[64];
    size_t n = 99;
    static const char *const bad_utf8[] = {"abc\xff", "\xc3", "\xc3\x28", "\xe2\x82", "\xed\xa0\x80",
                                           "\xf4\x90\x80\x80", "\xc0\xaf", "ok\x80ok"};
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        s = fm_tokenizer_encode(tok, bad_utf8[i], strlen(bad_utf8[i]), 0, ids, 64, &n);
        CHECK(s == FM_STATUS_INVALID_UTF8 && contains(fm_last_error(), "UTF-8"), "invalid UTF-8 %zu: %s", i,
              fm_status_name(s));
    }
    /* text with an embedded NUL is fine: lengths, not terminators */
    s = fm_tokenizer_encode(tok, "a\0b", 3, 0, ids, 64, &n);
    CHECK(s == FM_STATUS_OK && n >= 3, "text with NUL: %s", fm_status_name(s));
    /* a buffer too small reports the count needed */
    s = fm_tokenizer_encode(tok, "Once upon a time", 16, FM_ENCODE_ADD_BOS, ids, 2, &n);
    CHECK(s == FM_STATUS_BUFFER_TOO_SMALL && n == 5, "small buffer: %s, n %zu", fm_status_name(s), n);
    s = fm_tokenizer_encode(tok, "x", 1, 0x100, ids, 64, &n);
    CHECK(s == FM_STATUS_INVALID_ARGUMENT, "unknown encode flag");
    char piece[8];
    s = fm_tokenizer_token_to_piece(tok, 512, 0, piece, sizeof piece, &n);
    CHECK(s == FM_STATUS_INVALID_ARGUMENT, "piece of id 512");
    s = fm_tokenizer_token_to_piece(tok, -1, 0, piece, sizeof piece, &n);
    CHECK(s == FM_STATUS_INVALID_ARGUMENT, "piece of id -1");

    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_ctx = 16;
    cp.n_threads = 1;
    fm_context *ctx;
    CHECK(fm_context_new(m, &cp, &ctx) == FM_STATUS_OK, "context");
    fm_token many[17];
    for (int i = 0; i < 17; i++) many[i] = 300;
    s = fm_context_decode(ctx, many, 17, FM_LOGITS_LAST);
    CHECK(s == FM_STATUS_CONTEXT_FULL && contains(fm_last_error(), "16"), "prompt over n_ctx: %s (%s)",
          fm_status_name(s), fm_last_error());
    CHECK(fm_context_n_past(ctx) == 0, "failed decode changed n_past");
    CHECK(fm_context_decode(ctx, many, 10, FM_LOGITS_LAST) == FM_STATUS_OK, "context usable after the error");
    s = fm_context_decode(ctx, many, 7, FM_LOGITS_LAST);
    CHECK(s == FM_STATUS_CONTEXT_FULL && fm_context_n_past(ctx) == 10, "10 + 7 > 16");
    CHECK(fm_context_decode(ctx, many, 6, FM_LOGITS_LAST) == FM_STATUS_OK, "10 + 6 fits");
    CHECK(fm_context_decode(ctx, many, 1, FM_LOGITS_LAST) == FM_STATUS_CONTEXT_FULL, "full context");
    CHECK(fm_context_truncate(ctx, 17) == FM_STATUS_INVALID_ARGUMENT, "truncate past n_past");
    CHECK(fm_context_truncate(ctx, 4) == FM_STATUS_OK && fm_context_n_past(ctx) == 4, "truncate");
    fm_token bad_id = 512;
    CHECK(fm_context_decode(ctx, &bad_id, 1, FM_LOGITS_LAST) == FM_STATUS_INVALID_ARGUMENT, "token 512");
    bad_id = -5;
    CHECK(fm_context_decode(ctx, &bad_id, 1, FM_LOGITS_LAST) == FM_STATUS_INVALID_ARGUMENT, "token -5");
    CHECK(fm_context_decode(ctx, many, 1, 7) == FM_STATUS_INVALID_ARGUMENT, "logits mode 7");
    CHECK(fm_context_decode(ctx, many, 0, FM_LOGITS_LAST) == FM_STATUS_INVALID_ARGUMENT, "no tokens");
    CHECK(fm_context_n_past(ctx) == 4, "failed decodes left n_past alone");
    CHECK(fm_context_decode(ctx, many, 2, FM_LOGITS_LAST) == FM_STATUS_OK, "decode after errors");
    CHECK(fm_context_logits(ctx, -1) != NULL, "last logits");
    CHECK(fm_context_logits(ctx, 0) == NULL && fm_last_error()[0], "row 0 not kept with FM_LOGITS_LAST");
    CHECK(fm_context_logits(ctx, 5) == NULL, "row past the batch");
    /* the message names the index the caller passed (issue 20 point 9) */
    CHECK(fm_context_logits(ctx, -9) == NULL && strstr(fm_last_error(), "token -9 ") != NULL, "index -9: '%s'",
          fm_last_error());
    CHECK(fm_context_set_flags(ctx, 0x80) == FM_STATUS_INVALID_ARGUMENT, "unknown flag");
    CHECK(fm_context_decode(ctx, many, 1, FM_LOGITS_LAST) == FM_STATUS_OK, "decode after refused flags");
    fm_context_free(ctx);

    cp.backend = "no-such-backend";
    ctx = (fm_context *)1;
    s = fm_context_new(m, &cp, &ctx);
    CHECK(s == FM_STATUS_NOT_FOUND && ctx == NULL && contains(fm_last_error(), "no-such-backend"), "unknown backend");
    fm_context_params_init(&cp, sizeof cp);
    cp.struct_size = sizeof cp + 8; /* a newer caller's struct ... */
    unsigned char big[sizeof cp + 8];
    memset(big, 0, sizeof big);
    memcpy(big, &cp, sizeof cp);
    s = fm_context_new(m, (const fm_context_params *)(void *)big, &ctx);
    CHECK(s == FM_STATUS_OK, "... with a zero tail is accepted");
    fm_context_free(ctx);
    big[sizeof cp + 3] = 1;
    s = fm_context_new(m, (const fm_context_params *)(void *)big, &ctx);
    CHECK(s == FM_STATUS_INVALID_ARGUMENT, "... with a non-zero tail is refused");
    fm_model_free(m);
}

static void test_null_arguments(void) {
    fm_token id;
    size_t n;
    char buf[8];
    fm_model *m;
    fm_tokenizer *t;
    fm_context *c;
    fm_sampler *s;
    fm_detokenizer *d;
    float logits[4] = {0};
    CHECK(fm_model_load(NULL, NULL, &m) == FM_STATUS_INVALID_ARGUMENT, "model path NULL");
    CHECK(fm_model_load("x", NULL, NULL) == FM_STATUS_INVALID_ARGUMENT, "model out NULL");
    CHECK(fm_tokenizer_load(NULL, NULL, &t) == FM_STATUS_INVALID_ARGUMENT, "tokenizer path NULL");
    CHECK(fm_tokenizer_load("x", NULL, NULL) == FM_STATUS_INVALID_ARGUMENT, "tokenizer out NULL");
    CHECK(fm_tokenizer_encode(NULL, "a", 1, 0, &id, 1, &n) == FM_STATUS_INVALID_ARGUMENT, "encode NULL tok");
    CHECK(fm_tokenizer_token_to_piece(NULL, 0, 0, buf, 8, &n) == FM_STATUS_INVALID_ARGUMENT, "piece NULL");
    CHECK(fm_tokenizer_decode(NULL, &id, 1, 0, buf, 8, &n) == FM_STATUS_INVALID_ARGUMENT, "decode NULL");
    CHECK(fm_tokenizer_find(NULL, "a", 1, &id) == FM_STATUS_INVALID_ARGUMENT, "find NULL");
    CHECK(fm_tokenizer_n_vocab(NULL) == 0 && fm_tokenizer_special(NULL, FM_SPECIAL_BOS) == FM_TOKEN_NONE, "NULL tok");
    CHECK(fm_detokenizer_new(NULL, 0, &d) == FM_STATUS_INVALID_ARGUMENT, "detok NULL");
    CHECK(fm_detokenizer_push(NULL, 0, buf, 8, &n) == FM_STATUS_INVALID_ARGUMENT, "push NULL");
    CHECK(fm_detokenizer_flush(NULL, buf, 8, &n) == FM_STATUS_INVALID_ARGUMENT, "flush NULL");
    CHECK(fm_context_new(NULL, NULL, &c) == FM_STATUS_INVALID_ARGUMENT, "context NULL model");
    CHECK(fm_context_decode(NULL, &id, 1, 0) == FM_STATUS_INVALID_ARGUMENT, "decode NULL ctx");
    CHECK(fm_context_logits(NULL, 0) == NULL, "logits NULL");
    CHECK(fm_context_truncate(NULL, 0) == FM_STATUS_INVALID_ARGUMENT, "truncate NULL");
    CHECK(fm_sampler_new(NULL, NULL) == FM_STATUS_INVALID_ARGUMENT, "sampler out NULL");
    CHECK(fm_sampler_new(NULL, &s) == FM_STATUS_OK, "sampler default");
    CHECK(fm_sampler_sample(s, NULL, 4, &id) == FM_STATUS_INVALID_ARGUMENT, "sample NULL logits");
    CHECK(fm_sampler_sample(s, logits, 0, &id) == FM_STATUS_INVALID_ARGUMENT, "sample n_vocab 0");
    CHECK(fm_sampler_sample(NULL, logits, 4, &id) == FM_STATUS_INVALID_ARGUMENT, "sample NULL sampler");
    fm_sampler_free(s);
    CHECK(fm_model_meta(NULL, "k", buf, 8, &n) == FM_STATUS_INVALID_ARGUMENT, "meta NULL");
    CHECK(fm_model_tokenizer(NULL) == NULL && fm_model_get_info(NULL, FM_MODEL_N_VOCAB) == 0, "NULL model");
    fm_model_free(NULL);
    fm_tokenizer_free(NULL);
    fm_context_free(NULL);
    fm_sampler_free(NULL);
    fm_detokenizer_free(NULL);
    CHECK(fm_backend_register(NULL) == FM_STATUS_INVALID_ARGUMENT, "register NULL");
    CHECK(fm_backend_find(NULL) == NULL && fm_backend_find("cpu") != NULL, "find backend");
    CHECK(strcmp(fm_status_name((fm_status)-999), "FM_STATUS_UNKNOWN") == 0, "unknown status name");
    CHECK(strcmp(fm_status_name(FM_STATUS_CONTEXT_FULL), "FM_STATUS_CONTEXT_FULL") == 0, "status name");
}

int main(void) {
    test_crafted_refusals();
    test_files();
    test_text_and_context();
    test_null_arguments();
    return tu_finish("test_bad_inputs");
}
