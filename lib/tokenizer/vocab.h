/* The token table every tokenizer algorithm works over, and the fm_tokenizer
 * handle itself. */
#ifndef FM_TOKENIZER_VOCAB_H
#define FM_TOKENIZER_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "../format/model_file.h"
#include "fm.h"

/* Token types; the numbers are GGUF's tokenizer.ggml.token_type values. */
typedef enum fm_token_type {
    FM_TT_UNDEFINED = 0,
    FM_TT_NORMAL = 1,
    FM_TT_UNKNOWN = 2,
    FM_TT_CONTROL = 3,
    FM_TT_USER_DEFINED = 4,
    FM_TT_UNUSED = 5,
    FM_TT_BYTE = 6
} fm_token_type;

typedef enum fm_tokenizer_kind { FM_TOKENIZER_SPM = 1 } fm_tokenizer_kind;

typedef struct fm_vocab_token {
    uint32_t off; /* text at fm_tokenizer.text + off, NUL-terminated */
    uint32_t len;
    float score;
    uint8_t type; /* fm_token_type */
    uint8_t rstrip;
    uint8_t lstrip;
} fm_vocab_token;

struct fm_tokenizer {
    fm_tokenizer_kind kind;
    int32_t n_vocab;
    fm_vocab_token *tokens;
    char *text;
    /* open-addressing hash from token text to id; -1 marks an empty slot */
    int32_t *hash;
    uint32_t hash_mask;
    int32_t byte_token[256];
    fm_token special[7]; /* indexed by fm_special_token */
    int add_bos, add_eos, add_space_prefix;
    /* tokens cut out of the text before the algorithm runs, longest first */
    fm_token *splitters;
    int32_t n_splitters;
    uint32_t max_token_len;
};

/* A token list under construction: texts are copied in. */
typedef struct fm_vocab_builder {
    fm_tokenizer *tok;
    size_t text_used, text_cap;
} fm_vocab_builder;

fm_status fm_vocab_begin(fm_vocab_builder *b, int64_t n_vocab);
fm_status fm_vocab_set(fm_vocab_builder *b, int32_t id, const char *text, size_t len, float score,
                       fm_token_type type);
/* Builds the lookup tables; after it the tokenizer is complete. */
fm_status fm_vocab_finish(fm_vocab_builder *b);

/* The id of the token whose text is s[0..n), or -1. */
fm_token fm_vocab_lookup(const fm_tokenizer *tok, const char *s, size_t n);

static inline const char *fm_vocab_text(const fm_tokenizer *tok, fm_token id) {
    return tok->text + tok->tokens[id].off;
}

/* Loaders: from a model file's metadata, and from llama2.c's tokenizer.bin
 * (`expect_vocab` > 0 checks the entry count against the model's). */
fm_status fm_tokenizer_from_model_file(const fm_model_file *mf, const char *path, fm_tokenizer **out);
fm_status fm_tokenizer_from_llama2c(const char *path, int64_t expect_vocab, fm_tokenizer **out);

/* SentencePiece-BPE encoding of one text fragment (already escaped: spaces
 * are U+2581). Appends to out[*n..]; *n may exceed cap (count only). */
fm_status fm_spm_encode(const fm_tokenizer *tok, const char *text, size_t len, fm_token *out,
                        size_t cap, size_t *n);

/* A caller's buffer that counts what does not fit (snprintf-style) and can
 * drop the first `skip` bytes written to it. */
typedef struct fm_sink {
    char *buf;
    size_t cap;
    size_t n;
    size_t skip;
} fm_sink;

static inline void fm_sink_put(fm_sink *o, char c) {
    if (o->skip > 0) {
        o->skip--;
        return;
    }
    if (o->n < o->cap) o->buf[o->n] = c;
    o->n++;
}

static inline void fm_sink_write(fm_sink *o, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) fm_sink_put(o, s[i]);
}

/* Appends the text of token `id` (FM_DECODE_* flags) to `o`. */
void fm_tokenizer_piece(const fm_tokenizer *tok, fm_token id, uint32_t flags, fm_sink *o);

/* 1 if the piece of `id` has bytes, 2 if it also starts with the dummy
 * prefix space that FM_DECODE_STRIP_LEADING_SPACE removes, else 0. */
int fm_tokenizer_piece_lead(const fm_tokenizer *tok, fm_token id, uint32_t flags);

#endif
