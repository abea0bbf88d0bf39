/* Building a tokenizer from GGUF metadata or from llama2.c's tokenizer.bin. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/mapped_file.h"
#include "vocab.h"

void fm_tokenizer_free(fm_tokenizer *t) {
    if (t == NULL) return;
    free(t->tokens);
    free(t->text);
    free(t->hash);
    free(t->splitters);
    free(t);
}

/* A special id from metadata; absent, -1 (stored as u32 max) or out of range
 * all mean "none". */
static fm_token special_id(const fm_model_file *mf, const char *key, fm_token dflt, int32_t n_vocab) {
    int64_t v;
    if (fm_meta_get_i64(mf, key, &v) != FM_STATUS_OK) return dflt;
    if (v < 0 || v >= n_vocab) return FM_TOKEN_NONE;
    return (fm_token)v;
}

static int contains_ci(fm_str s, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= s.len; i++) {
        size_t j = 0;
        while (j < n && tolower((unsigned char)s.ptr[i + j]) == needle[j]) j++;
        if (j == n) return 1;
    }
    return 0;
}

static void set_rstrip(fm_tokenizer *t, const char *text, int on) {
    fm_token id = fm_vocab_lookup(t, text, strlen(text));
    if (id >= 0) t->tokens[id].rstrip = (uint8_t)on;
}

fm_status fm_tokenizer_from_model_file(const fm_model_file *mf, const char *path, fm_tokenizer **out) {
    *out = NULL;
    fm_str model;
    fm_status s = fm_meta_get_str(mf, "tokenizer.ggml.model", &model);
    if (s == FM_STATUS_NOT_FOUND)
        return fm_error(FM_STATUS_BAD_FORMAT, "'%s' has no tokenizer (no tokenizer.ggml.model key)", path);
    if (s) return s;
    if (!fm_str_eq(model, "llama"))
        return fm_error(FM_STATUS_UNSUPPORTED, "'%s': tokenizer model '%.*s' is not supported yet", path,
                        (int)model.len, model.ptr);
    const fm_meta *toks = fm_model_file_meta(mf, "tokenizer.ggml.tokens");
    if (toks == NULL || toks->type != FM_META_ARRAY || toks->elem_type != FM_META_STRING)
        return fm_error(FM_STATUS_BAD_FORMAT, "'%s': tokenizer.ggml.tokens is missing or not a string array", path);
    const fm_meta *scores = fm_model_file_meta(mf, "tokenizer.ggml.scores");
    const fm_meta *types = fm_model_file_meta(mf, "tokenizer.ggml.token_type");
    if (scores != NULL && (scores->type != FM_META_ARRAY || !fm_meta_is_float_type(scores->elem_type) ||
                           scores->n != toks->n))
        return fm_error(FM_STATUS_BAD_FORMAT, "'%s': tokenizer.ggml.scores must be %llu floats", path,
                        (unsigned long long)toks->n);
    if (types != NULL && (types->type != FM_META_ARRAY || !fm_meta_is_integer_type(types->elem_type) ||
                          types->n != toks->n))
        return fm_error(FM_STATUS_BAD_FORMAT, "'%s': tokenizer.ggml.token_type must be %llu integers", path,
                        (unsigned long long)toks->n);

    fm_vocab_builder b;
    s = fm_vocab_begin(&b, (int64_t)toks->n);
    for (uint64_t i = 0; s == FM_STATUS_OK && i < toks->n; i++) {
        int64_t ty = types ? fm_meta_arr_i64(types, i) : FM_TT_NORMAL;
        if (ty < FM_TT_UNDEFINED || ty > FM_TT_BYTE) ty = FM_TT_NORMAL;
        float sc = scores ? (float)fm_meta_arr_f64(scores, i) : 0.0f;
        s = fm_vocab_set(&b, (int32_t)i, toks->strs[i].ptr, toks->strs[i].len, sc, (fm_token_type)ty);
    }
    if (s == FM_STATUS_OK) s = fm_vocab_finish(&b);
    fm_tokenizer *t = b.tok;
    if (s != FM_STATUS_OK) {
        fm_tokenizer_free(t);
        return s;
    }
    const int32_t n = t->n_vocab;
    t->special[FM_SPECIAL_BOS] = special_id(mf, "tokenizer.ggml.bos_token_id", 1 < n ? 1 : FM_TOKEN_NONE, n);
    t->special[FM_SPECIAL_EOS] = special_id(mf, "tokenizer.ggml.eos_token_id", 2 < n ? 2 : FM_TOKEN_NONE, n);
    t->special[FM_SPECIAL_UNK] = special_id(mf, "tokenizer.ggml.unknown_token_id", 0, n);
    t->special[FM_SPECIAL_PAD] = special_id(mf, "tokenizer.ggml.padding_token_id", FM_TOKEN_NONE, n);
    t->special[FM_SPECIAL_SEP] = special_id(mf, "tokenizer.ggml.seperator_token_id", FM_TOKEN_NONE, n);
    t->special[FM_SPECIAL_CLS] = special_id(mf, "tokenizer.ggml.cls_token_id", FM_TOKEN_NONE, n);
    t->special[FM_SPECIAL_MASK] = special_id(mf, "tokenizer.ggml.mask_token_id", FM_TOKEN_NONE, n);
    t->add_bos = 1;
    t->add_eos = 0;
    t->add_space_prefix = 1;
    fm_meta_get_bool(mf, "tokenizer.ggml.add_bos_token", &t->add_bos);
    fm_meta_get_bool(mf, "tokenizer.ggml.add_eos_token", &t->add_eos);
    fm_meta_get_bool(mf, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix);

    /* Phi-3 strips the whitespace after its special tokens (llama.cpp does
     * the same, keyed on the model name). */
    fm_str name;
    if (fm_meta_get_str(mf, "general.name", &name) == FM_STATUS_OK &&
        (contains_ci(name, "phi-3") || contains_ci(name, "phi3"))) {
        for (int32_t i = 0; i < t->n_splitters; i++) t->tokens[t->splitters[i]].rstrip = 1;
        set_rstrip(t, "</s>", 1);
        set_rstrip(t, "<unk>", 0);
        set_rstrip(t, "<s>", 0);
        set_rstrip(t, "<|endoftext|>", 0);
    }
    *out = t;
    return FM_STATUS_OK;
}

/* tokenizer.bin: int32 max_token_length, then per token a float score, an
 * int32 length and the bytes. Spaces stand for SentencePiece's U+2581, and
 * ids 0, 1, 2 are <unk>, BOS and EOS (the last two stored as "\n<s>\n" and
 * "\n</s>\n"). */
static fm_status parse_llama2c(const fm_mapped_file *map, const char *path, int64_t expect, fm_tokenizer **out) {
    const uint8_t *p = map->data, *end = map->data + map->size;
    int32_t max_len;
    if (map->size < 4) return fm_error(FM_STATUS_BAD_FORMAT, "'%s' is too short for a tokenizer.bin", path);
    memcpy(&max_len, p, 4);
    if (max_len <= 0 || max_len > 65536)
        return fm_error(FM_STATUS_BAD_FORMAT, "'%s' is not a llama2.c tokenizer (max token length %d)", path, max_len);
    p += 4;
    /* first pass: count and check every entry */
    int64_t n = 0;
    for (const uint8_t *q = p; q < end; n++) {
        int32_t len;
        if (end - q < 8) return fm_error(FM_STATUS_BAD_FORMAT, "'%s': truncated entry %lld", path, (long long)n);
        memcpy(&len, q + 4, 4);
        if (len < 0 || len > max_len || end - q - 8 < len)
            return fm_error(FM_STATUS_BAD_FORMAT, "'%s': entry %lld at offset %td has bad length %d", path,
                            (long long)n, q - map->data, len);
        q += 8 + len;
    }
    if (expect > 0 && n != expect)
        return fm_error(FM_STATUS_BAD_FORMAT, "'%s' has %lld tokens but the model has %lld", path, (long long)n,
                        (long long)expect);
    if (n < 3) return fm_error(FM_STATUS_BAD_FORMAT, "'%s' has only %lld tokens", path, (long long)n);
    fm_vocab_builder b;
    fm_status s = fm_vocab_begin(&b, n);
    char *buf = malloc((size_t)max_len * 3 + 1);
    if (s == FM_STATUS_OK && buf == NULL) s = fm_error(FM_STATUS_NO_MEMORY, "out of memory");
    for (int64_t i = 0; s == FM_STATUS_OK && i < n; i++) {
        float score;
        int32_t len;
        memcpy(&score, p, 4);
        memcpy(&len, p + 4, 4);
        const char *txt = (const char *)p + 8;
        p += 8 + len;
        fm_token_type ty = FM_TT_NORMAL;
        size_t bl = 0;
        if (i == 0) {
            ty = FM_TT_UNKNOWN;
        } else if (i <= 2) {
            ty = FM_TT_CONTROL; /* trim the newlines around <s> and </s> */
            while (len > 0 && txt[0] == '\n') txt++, len--;
            while (len > 0 && txt[len - 1] == '\n') len--;
        } else if (len == 6 && memcmp(txt, "<0x", 3) == 0 && txt[5] == '>' && isxdigit((unsigned char)txt[3]) &&
                   isxdigit((unsigned char)txt[4])) {
            ty = FM_TT_BYTE;
        }
        for (int32_t j = 0; j < len; j++) {
            if (txt[j] == ' ' && ty == FM_TT_NORMAL) {
                memcpy(buf + bl, "\xE2\x96\x81", 3);
                bl += 3;
            } else {
                buf[bl++] = txt[j];
            }
        }
        s = fm_vocab_set(&b, (int32_t)i, buf, bl, score, ty);
    }
    free(buf);
    if (s == FM_STATUS_OK) s = fm_vocab_finish(&b);
    if (s != FM_STATUS_OK) {
        fm_tokenizer_free(b.tok);
        return s;
    }
    fm_tokenizer *t = b.tok;
    t->special[FM_SPECIAL_UNK] = 0;
    t->special[FM_SPECIAL_BOS] = 1;
    t->special[FM_SPECIAL_EOS] = 2;
    t->add_bos = 1;
    t->add_space_prefix = 1;
    *out = t;
    return FM_STATUS_OK;
}

fm_status fm_tokenizer_from_llama2c(const char *path, int64_t expect_vocab, fm_tokenizer **out) {
    *out = NULL;
    fm_mapped_file map;
    fm_status s = fm_mapped_file_open(&map, path);
    if (s) return s;
    s = parse_llama2c(&map, path, expect_vocab, out);
    fm_mapped_file_close(&map);
    return s;
}
