/* The token table every tokenizer algorithm works over, and the fm_tokenizer
 * handle itself. */
#ifndef FM_TOKENIZER_VOCAB_H
#define FM_TOKENIZER_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "../format/model_file.h"
#include "strmap.h"
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

typedef enum fm_tokenizer_kind {
    FM_TOKENIZER_SPM = 1, /* SentencePiece BPE (scores) */
    FM_TOKENIZER_BPE = 2, /* byte-level BPE (merge ranks) */
    FM_TOKENIZER_WPM = 3  /* WordPiece */
} fm_tokenizer_kind;

struct fm_pretok;

/* A BPE merge: the pair (left, right) of token ids becomes `merged`. */
/* The hash of a merge key (left << 32 | right): its low 32 bits place the
 * pair in the merges table, its high bits in the filter. */
static inline uint64_t fm_merge_hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return k;
}

static inline uint64_t fm_merge_filter_bits(uint64_t h) { return (1ull << (h >> 52 & 63)) | (1ull << (h >> 58)); }

/* The most tokens, and merges, a vocabulary may have: 16 M, above every
 * real vocabulary (the largest have about 256 K), far enough below 2^31
 * that sizes derived from it (tables at twice the count) cannot overflow,
 * and small enough that the BPE encoder packs a rank and a position into
 * one 31-bit key (bpe.c). */
#define FM_MAX_RANKS (1 << 24)

typedef struct fm_merge {
    uint64_t key; /* left << 32 | right; UINT64_MAX marks an empty slot */
    int32_t rank;
    fm_token merged;
} fm_merge;

typedef struct fm_vocab_token {
    uint32_t off; /* text at fm_tokenizer.text + off, NUL-terminated */
    uint32_t len;
    float score;
    uint32_t boff; /* byte-level BPE: the raw bytes the token stands for */
    uint32_t blen;
    uint8_t type; /* fm_token_type */
    uint8_t rstrip;
    uint8_t lstrip;
} fm_vocab_token;

struct fm_tokenizer {
    fm_tokenizer_kind kind;
    int32_t n_vocab;
    fm_vocab_token *tokens;
    char *text;
    fm_strmap by_text; /* token text -> id */
    int32_t byte_token[256];
    fm_token special[7]; /* indexed by fm_special_token */
    fm_token *eog;       /* end-of-generation ids, ascending */
    struct fm_token_trie *trie; /* built on first use (token_trie.c) */
    int32_t n_eog;
    int add_bos, add_eos, add_space_prefix;
    int strip_space; /* FM_DECODE_STRIP_LEADING_SPACE drops a first ' ' */
    /* tokens cut out of the text before the algorithm runs, longest first */
    fm_token *splitters;
    int32_t n_splitters;
    /* splitters by their first two bytes (one byte for 1-byte tokens):
     * sp_items[sp_start[b] .. sp_start[b+1]) are splitter indices */
    uint64_t sp_present[65536 / 64];
    uint8_t sp_first[256];  /* bytes some splitter starts with */
    uint32_t *sp_start;
    int32_t *sp_items;
    uint32_t max_token_len;

    /* byte-level BPE */
    const struct fm_pretok *pretok;
    char *bytes;           /* raw bytes of the tokens (boff/blen) */
    fm_strmap by_bytes;    /* raw bytes -> id, for tokens BPE can produce */
    int by_bytes_shared;   /* by_bytes is by_text (tiktoken) */
    /* WordPiece: every prefix of a token text -> record; the record's token
     * (-1 if the prefix is no token) and text offset */
    fm_strmap wpm_prefix;
    uint32_t *wpm_prefix_off;
    fm_token *wpm_prefix_tok;
    fm_merge *merges;      /* pair -> merge; NULL: tiktoken ranks (a pair
                              merges iff its bytes are a token, rank = id) */
    uint32_t merges_mask;
    uint64_t *merge_filter; /* Bloom filter over merges' keys (two bits in one
                               word per pair): most pairs BPE asks about do not
                               merge, and the filter, unlike the table, stays in L2 */
    uint32_t merge_fmask;   /* words - 1 */
    fm_merge *merge_by_rank; /* rank -> its merge (key UINT64_MAX: none) */
    int32_t *byte_pair_rank; /* [a << 8 | b]: the rank at which the tokens of
                                bytes a and b merge, -1 if they do not (BPE) */
    int32_t n_ranks;       /* at most FM_MAX_RANKS */
    uint8_t *whole;        /* per token: BPE/SPM of its own bytes gives just it */
    uint8_t spm_join[8];   /* SentencePiece: bit b of [a] set if some token has a
                              character of class a followed by one of class b */
    fm_token spm_space;    /* the "▁" token, or -1 */
    int64_t spm_ascii[128]; /* SentencePiece symbol key of each ASCII character */
    uint8_t spm_ascii_class[128]; /* and its class for spm_join (spm.c) */
    float *spm_scores;     /* tokens[].score, dense: a merge looks one up */
    struct fm_spm_pair *spm_pairs; /* the merges of two ASCII characters or
                                      "▁" ([a * 129 + b], "▁" = 128, spm.c) */
};

/* A token list under construction: texts are copied in. */
typedef struct fm_vocab_builder {
    fm_tokenizer *tok;
    size_t text_used, text_cap;
} fm_vocab_builder;

fm_status fm_vocab_begin(fm_vocab_builder *b, int64_t n_vocab);
fm_status fm_vocab_set(fm_vocab_builder *b, int32_t id, const char *text, size_t len, float score,
                       fm_token_type type);
/* Collects the end-of-generation ids (fm_tokenizer_is_eog) once the
 * specials are known; mf NULL for files without metadata. */
fm_status fm_vocab_mark_eog(fm_tokenizer *t, const struct fm_model_file *mf);

/* Builds the lookup tables; after it the tokenizer is complete. */
fm_status fm_vocab_finish(fm_vocab_builder *b);

/* The id of the token whose text is s[0..n), or -1. */
static inline fm_token fm_vocab_lookup(const fm_tokenizer *tok, const char *s, size_t n) {
    return fm_strmap_get(&tok->by_text, s, n);
}

static inline const char *fm_vocab_text(const fm_tokenizer *tok, fm_token id) {
    return tok->text + tok->tokens[id].off;
}

/* Loaders: from a model file's metadata, and from llama2.c's tokenizer.bin
 * (`expect_vocab` > 0 checks the entry count against the model's). */
fm_status fm_tokenizer_from_model_file(const fm_model_file *mf, const char *path, fm_tokenizer **out);
fm_status fm_tokenizer_from_llama2c(const char *path, int64_t expect_vocab, fm_tokenizer **out);

/* The id of the token whose raw bytes are s[0..n) (BPE vocabularies), or -1. */
static inline fm_token fm_vocab_lookup_bytes(const fm_tokenizer *tok, const char *s, size_t n) {
    return fm_strmap_get(&tok->by_bytes, s, n);
}

/* Builds the raw-bytes index (by_bytes) over the tokens' boff/blen. */
fm_status fm_vocab_index_bytes(fm_tokenizer *tok);

/* Byte-level BPE of one pre-tokenized piece; appends like fm_spm_encode.
 * head and hash are the piece's strmap head and hash (strmap.h; the
 * caller has them from its piece memo) for the whole-token lookup.
 * `*scratch` is created on first use, its pair memo sized for a text of
 * `text_len` bytes, and reused between calls (free it with
 * fm_bpe_scratch_free). */
typedef struct fm_bpe_scratch fm_bpe_scratch;
fm_status fm_bpe_encode(const fm_tokenizer *tok, const uint8_t *s, size_t len, uint64_t head, uint64_t hash,
                        fm_bpe_scratch **scratch, size_t text_len, fm_token *out, size_t cap, size_t *n);
void fm_bpe_scratch_free(fm_bpe_scratch *scratch);

/* Marks the tokens whose own bytes BPE-encode to themselves (tok->whole). */
fm_status fm_bpe_mark_whole(fm_tokenizer *tok);

/* Tabulates the merges of two byte tokens (tok->byte_pair_rank): every
 * piece starts with them. */
fm_status fm_bpe_index_byte_pairs(fm_tokenizer *tok);

/* Pieces of the GGUF loaders: the token list (texts, scores, types) and
 * the special ids and add-BOS/EOS flags over the kind's defaults. */
fm_status fm_vocab_read_gguf_tokens(const fm_model_file *mf, const char *path, fm_tokenizer_kind kind,
                                    fm_tokenizer **out);
void fm_vocab_read_gguf_specials(fm_tokenizer *t, const fm_model_file *mf, const fm_token dflt[7]);

/* Loaders of the other vocabulary kinds (vocab_load_bpe.c, wpm.c). */
fm_status fm_tokenizer_bpe_from_model_file(const fm_model_file *mf, const char *path, fm_tokenizer **out);
fm_status fm_tokenizer_from_tiktoken(const char *path, fm_tokenizer **out);
fm_status fm_wpm_prepare(fm_tokenizer *tok);
fm_status fm_wpm_encode(const fm_tokenizer *tok, const char *text, size_t len, fm_token *out, size_t cap,
                        size_t *n);

/* SentencePiece-BPE encoding of one text fragment (already escaped: spaces
 * are U+2581). Appends to out[*n..]; *n may exceed cap (count only). */
struct fm_piece_cache;
fm_status fm_spm_encode(const fm_tokenizer *tok, const char *text, size_t len, struct fm_piece_cache *cache,
                        fm_token *out, size_t cap, size_t *n);

/* Load-time analysis for SentencePiece vocabularies (spm_words, whole). */
fm_status fm_spm_prepare(fm_tokenizer *tok);

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
