/* Building a tokenizer from GGUF metadata or from llama2.c's tokenizer.bin. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/mapped_file.h"
#include "token_trie.h"
#include "vocab.h"

void fm_tokenizer_free(fm_tokenizer *t) {
    if (t == NULL) return;
    free(t->tokens);
    free(t->text);
    free(t->eog);
    fm_token_trie_free(t->trie);
    fm_strmap_free(&t->by_text);
    free(t->splitters);
    free(t->sp_start);
    free(t->sp_items);
    if (t->bytes != t->text) free(t->bytes); /* tiktoken shares them */
    if (!t->by_bytes_shared) fm_strmap_free(&t->by_bytes);
    fm_strmap_free(&t->wpm_prefix);
    free(t->wpm_prefix_off);
    free(t->wpm_prefix_tok);
    free(t->merges);
    free(t->merge_filter);
    free(t->merge_by_rank);
    free(t->byte_pair_rank);
    free(t->spm_pairs);
    free(t->spm_scores);
    free(t->whole);
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

/* llama.cpp recognises end-of-turn and fill-in-the-middle tokens by their
 * text when the metadata does not name them, and makes them CONTROL tokens
 * whatever the file says (so they are no longer cut out of plain text).
 * Per role the lowest matching id is taken. */
static void mark_control_by_text(fm_tokenizer *t, const fm_model_file *mf) {
    static const struct {
        const char *key;
        const char *texts[8];
    } roles[] = {
        {"tokenizer.ggml.eot_token_id",
         {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>",
          "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"}},
        {"tokenizer.ggml.eom_token_id", {"<|eom_id|>"}},
        {"tokenizer.ggml.fim_pre_token_id",
         {"<|fim_prefix|>", "<fim-prefix>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>", "<PRE>"}},
        {"tokenizer.ggml.fim_suf_token_id",
         {"<|fim_suffix|>", "<fim-suffix>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "hole\xEF\xBD\x9C>", "<SUF>"}},
        {"tokenizer.ggml.fim_mid_token_id",
         {"<|fim_middle|>", "<fim-middle>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "end\xEF\xBD\x9C>", "<MID>"}},
        {"tokenizer.ggml.fim_pad_token_id", {"<|fim_pad|>", "<fim-pad>", "<PAD>"}},
        {"tokenizer.ggml.fim_rep_token_id", {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>"}},
        {"tokenizer.ggml.fim_sep_token_id", {"<|file_sep|>"}},
        {NULL, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>"}},
    };
    for (size_t r = 0; r < sizeof roles / sizeof roles[0]; r++) {
        int64_t v;
        if (roles[r].key && fm_meta_get_i64(mf, roles[r].key, &v) == FM_STATUS_OK && v >= 0 && v < t->n_vocab)
            continue;
        fm_token best = -1;
        for (int i = 0; i < 8 && roles[r].texts[i]; i++) {
            fm_token id = fm_vocab_lookup(t, roles[r].texts[i], strlen(roles[r].texts[i]));
            if (id < 0) continue;
            if (roles[r].key == NULL) t->tokens[id].type = FM_TT_CONTROL; /* the end-of-generation list: all */
            else if (best < 0 || id < best) best = id;
        }
        if (best >= 0) t->tokens[best].type = FM_TT_CONTROL;
    }
}

static int cmp_token(const void *a, const void *b) {
    const fm_token x = *(const fm_token *)a, y = *(const fm_token *)b;
    return x < y ? -1 : x > y;
}

/* llama.cpp's end-of-generation set: EOS, the end-of-turn/message and FIM
 * pad/repo/separator ids the metadata names, and the tokens whose text is
 * a known end of turn. */
fm_status fm_vocab_mark_eog(fm_tokenizer *t, const fm_model_file *mf) {
    static const char *const keys[] = {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id",
                                       "tokenizer.ggml.fim_pad_token_id", "tokenizer.ggml.fim_rep_token_id",
                                       "tokenizer.ggml.fim_sep_token_id"};
    static const char *const texts[] = {
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>",
        "_<EOT>", "<|end_of_text|>", ("<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>")};
    fm_token ids[32];
    int n = 0;
    if (t->special[FM_SPECIAL_EOS] >= 0 && t->special[FM_SPECIAL_EOS] < t->n_vocab) ids[n++] = t->special[FM_SPECIAL_EOS];
    for (size_t i = 0; mf != NULL && i < sizeof keys / sizeof keys[0]; i++) {
        int64_t v;
        if (fm_meta_get_i64(mf, keys[i], &v) == FM_STATUS_OK && v >= 0 && v < t->n_vocab) ids[n++] = (fm_token)v;
    }
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        fm_token id = fm_vocab_lookup(t, texts[i], strlen(texts[i]));
        if (id >= 0) ids[n++] = id;
    }
    qsort(ids, (size_t)n, sizeof ids[0], cmp_token);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (m == 0 || ids[m - 1] != ids[i]) ids[m++] = ids[i];
    free(t->eog);
    t->eog = fm_malloc((size_t)(m ? m : 1) * sizeof *t->eog);
    if (t->eog == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the end-of-generation set");
    memcpy(t->eog, ids, (size_t)m * sizeof *ids);
    t->n_eog = m;
    return FM_STATUS_OK;
}

/* The token list every GGUF vocabulary has: texts, scores, types. Empty
 * texts become "[EMPTY_<id>]", as llama.cpp names them. */
fm_status fm_vocab_read_gguf_tokens(const fm_model_file *mf, const char *path, fm_tokenizer_kind kind,
                                  fm_tokenizer **out) {
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
    fm_status s = fm_vocab_begin(&b, (int64_t)toks->n);
    for (uint64_t i = 0; s == FM_STATUS_OK && i < toks->n; i++) {
        int64_t ty = types ? fm_meta_arr_i64(types, i) : FM_TT_NORMAL;
        if (ty < FM_TT_UNDEFINED || ty > FM_TT_BYTE) ty = FM_TT_UNDEFINED;
        float sc = scores ? (float)fm_meta_arr_f64(scores, i) : 0.0f;
        char empty[32];
        fm_str txt = toks->strs[i];
        if (txt.len == 0) {
            snprintf(empty, sizeof empty, "[EMPTY_%llu]", (unsigned long long)i);
            txt.ptr = empty;
            txt.len = strlen(empty);
        }
        s = fm_vocab_set(&b, (int32_t)i, txt.ptr, txt.len, sc, (fm_token_type)ty);
    }
    if (s == FM_STATUS_OK) s = fm_vocab_finish(&b);
    if (s != FM_STATUS_OK) {
        fm_tokenizer_free(b.tok);
        return s;
    }
    b.tok->kind = kind;
    mark_control_by_text(b.tok, mf);
    *out = b.tok;
    return FM_STATUS_OK;
}

/* Special ids and flags from metadata over the kind's defaults. */
void fm_vocab_read_gguf_specials(fm_tokenizer *t, const fm_model_file *mf, const fm_token dflt[7]) {
    static const char *const keys[7] = {
        "tokenizer.ggml.bos_token_id",     "tokenizer.ggml.eos_token_id",       "tokenizer.ggml.unknown_token_id",
        "tokenizer.ggml.padding_token_id", "tokenizer.ggml.seperator_token_id", "tokenizer.ggml.cls_token_id",
        "tokenizer.ggml.mask_token_id",
    };
    for (int i = 0; i < 7; i++) t->special[i] = special_id(mf, keys[i], dflt[i] < t->n_vocab ? dflt[i] : FM_TOKEN_NONE, t->n_vocab);
    fm_meta_get_bool(mf, "tokenizer.ggml.add_bos_token", &t->add_bos);
    fm_meta_get_bool(mf, "tokenizer.ggml.add_eos_token", &t->add_eos);
    fm_meta_get_bool(mf, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix);
}

fm_status fm_tokenizer_from_model_file(const fm_model_file *mf, const char *path, fm_tokenizer **out) {
    *out = NULL;
    fm_str model;
    fm_status s = fm_meta_get_str(mf, "tokenizer.ggml.model", &model);
    if (s == FM_STATUS_NOT_FOUND)
        return fm_error(FM_STATUS_BAD_FORMAT, "'%s' has no tokenizer (no tokenizer.ggml.model key)", path);
    if (s) return s;
    if (fm_str_eq(model, "gpt2")) return fm_tokenizer_bpe_from_model_file(mf, path, out);
    fm_tokenizer_kind kind;
    if (fm_str_eq(model, "llama")) kind = FM_TOKENIZER_SPM;
    else if (fm_str_eq(model, "bert")) kind = FM_TOKENIZER_WPM;
    else
        return fm_error(FM_STATUS_UNSUPPORTED, "'%s': tokenizer model '%.*s' is not supported", path,
                        (int)model.len, model.ptr);
    fm_tokenizer *t;
    if ((s = fm_vocab_read_gguf_tokens(mf, path, kind, &t))) return s;
    if (kind == FM_TOKENIZER_SPM) {
        static const fm_token spm_defaults[7] = {1, 2, 0, FM_TOKEN_NONE, FM_TOKEN_NONE, FM_TOKEN_NONE, FM_TOKEN_NONE};
        t->add_bos = 1;
        t->add_space_prefix = 1;
        fm_vocab_read_gguf_specials(t, mf, spm_defaults);
        t->strip_space = t->add_space_prefix;
        if ((s = fm_spm_prepare(t))) {
            fm_tokenizer_free(t);
            return s;
        }
    } else {
        /* llama.cpp's BERT defaults: [CLS] 101 doubles as BOS, [SEP] 102 */
        static const fm_token wpm_defaults[7] = {101, FM_TOKEN_NONE, 100, 0, 102, FM_TOKEN_NONE, 103};
        t->add_bos = 1;
        t->add_eos = 1;
        fm_vocab_read_gguf_specials(t, mf, wpm_defaults);
        t->add_space_prefix = 0;
        t->strip_space = 1; /* word-initial pieces start with U+2581 */
        if ((s = fm_wpm_prepare(t))) {
            fm_tokenizer_free(t);
            return s;
        }
    }

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
    if ((s = fm_vocab_mark_eog(t, mf))) {
        fm_tokenizer_free(t);
        return s;
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
    char *buf = fm_malloc((size_t)max_len * 3 + 1);
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
    t->strip_space = 1;
    if ((s = fm_spm_prepare(t)) || (s = fm_vocab_mark_eog(t, NULL))) {
        fm_tokenizer_free(t);
        return s;
    }
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
