/* Token table construction and lookup. */
#include "vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"

static uint32_t hash_bytes(const char *s, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

fm_status fm_vocab_begin(fm_vocab_builder *b, int64_t n_vocab) {
    b->tok = NULL;
    if (n_vocab <= 0 || n_vocab > (1 << 24))
        return fm_error(FM_STATUS_BAD_FORMAT, "vocabulary of %lld tokens is out of range", (long long)n_vocab);
    fm_tokenizer *t = calloc(1, sizeof *t);
    if (t == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the vocabulary");
    b->tok = t;
    t->n_vocab = (int32_t)n_vocab;
    t->tokens = calloc((size_t)n_vocab, sizeof *t->tokens);
    b->text_cap = (size_t)n_vocab * 8 + 64;
    t->text = malloc(b->text_cap);
    if (t->tokens == NULL || t->text == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the vocabulary");
    b->text_used = 0;
    for (int i = 0; i < 7; i++) t->special[i] = FM_TOKEN_NONE;
    t->kind = FM_TOKENIZER_SPM;
    return FM_STATUS_OK;
}

fm_status fm_vocab_set(fm_vocab_builder *b, int32_t id, const char *text, size_t len, float score,
                       fm_token_type type) {
    fm_tokenizer *t = b->tok;
    if (len > 65536) return fm_error(FM_STATUS_BAD_FORMAT, "token %d is %zu bytes long", id, len);
    if (b->text_used + len + 1 > b->text_cap) {
        size_t cap = (b->text_cap + len + 1) * 2;
        if (cap > UINT32_MAX) return fm_error(FM_STATUS_BAD_FORMAT, "vocabulary text exceeds 4 GiB");
        char *p = realloc(t->text, cap);
        if (p == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the vocabulary");
        t->text = p;
        b->text_cap = cap;
    }
    memcpy(t->text + b->text_used, text, len);
    t->text[b->text_used + len] = '\0';
    t->tokens[id].off = (uint32_t)b->text_used;
    t->tokens[id].len = (uint32_t)len;
    t->tokens[id].score = score;
    t->tokens[id].type = (uint8_t)type;
    b->text_used += len + 1;
    if (len > t->max_token_len) t->max_token_len = (uint32_t)len;
    return FM_STATUS_OK;
}

/* Sort keys: longer texts first, then lower ids. */
static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

fm_status fm_vocab_finish(fm_vocab_builder *b) {
    fm_tokenizer *t = b->tok;
    uint32_t size = 1;
    while (size < (uint32_t)t->n_vocab * 2u) size <<= 1;
    t->hash = malloc(size * sizeof *t->hash);
    t->splitters = malloc((size_t)t->n_vocab * sizeof *t->splitters);
    if (t->hash == NULL || t->splitters == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the vocabulary");
    memset(t->hash, 0xff, size * sizeof *t->hash);
    t->hash_mask = size - 1;
    /* Where two tokens share a text the higher id wins, as in llama.cpp. */
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const fm_vocab_token *tk = &t->tokens[id];
        if (tk->len == 0) continue; /* holes in a vocabulary have no text */
        uint32_t h = hash_bytes(t->text + tk->off, tk->len) & t->hash_mask;
        int dup = 0;
        while (t->hash[h] >= 0) {
            const fm_vocab_token *o = &t->tokens[t->hash[h]];
            if (o->len == tk->len && memcmp(t->text + o->off, t->text + tk->off, tk->len) == 0) {
                dup = 1;
                t->hash[h] = id;
                break;
            }
            h = (h + 1) & t->hash_mask;
        }
        if (!dup) t->hash[h] = id;
    }
    for (int i = 0; i < 256; i++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", i);
        t->byte_token[i] = fm_vocab_lookup(t, name, 6);
    }
    uint64_t *keys = malloc((size_t)t->n_vocab * sizeof *keys);
    if (keys == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the vocabulary");
    t->n_splitters = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        uint8_t ty = t->tokens[id].type;
        if ((ty == FM_TT_CONTROL || ty == FM_TT_USER_DEFINED || ty == FM_TT_UNKNOWN) && t->tokens[id].len > 0)
            keys[t->n_splitters++] = ((uint64_t)(UINT32_MAX - t->tokens[id].len) << 32) | (uint32_t)id;
    }
    qsort(keys, (size_t)t->n_splitters, sizeof *keys, cmp_u64);
    for (int32_t i = 0; i < t->n_splitters; i++) t->splitters[i] = (fm_token)(keys[i] & 0xffffffffu);
    free(keys);
    return FM_STATUS_OK;
}

fm_token fm_vocab_lookup(const fm_tokenizer *t, const char *s, size_t n) {
    uint32_t h = hash_bytes(s, n) & t->hash_mask;
    while (t->hash[h] >= 0) {
        const fm_vocab_token *o = &t->tokens[t->hash[h]];
        if (o->len == n && memcmp(t->text + o->off, s, n) == 0) return t->hash[h];
        h = (h + 1) & t->hash_mask;
    }
    return -1;
}

fm_status fm_vocab_index_bytes(fm_tokenizer *t) {
    uint32_t size = 1;
    while (size < (uint32_t)t->n_vocab * 2u) size <<= 1;
    t->bhash = malloc(size * sizeof *t->bhash);
    if (t->bhash == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the vocabulary");
    memset(t->bhash, 0xff, size * sizeof *t->bhash);
    t->bhash_mask = size - 1;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const fm_vocab_token *tk = &t->tokens[id];
        if (tk->blen == 0) continue;
        uint32_t h = hash_bytes(t->bytes + tk->boff, tk->blen) & t->bhash_mask;
        while (t->bhash[h] >= 0) {
            const fm_vocab_token *o = &t->tokens[t->bhash[h]];
            if (o->blen == tk->blen && memcmp(t->bytes + o->boff, t->bytes + tk->boff, tk->blen) == 0) break;
            h = (h + 1) & t->bhash_mask;
        }
        t->bhash[h] = id; /* a later duplicate wins, as for texts */
    }
    return FM_STATUS_OK;
}

fm_token fm_vocab_lookup_bytes(const fm_tokenizer *t, const char *s, size_t n) {
    uint32_t h = hash_bytes(s, n) & t->bhash_mask;
    while (t->bhash[h] >= 0) {
        const fm_vocab_token *o = &t->tokens[t->bhash[h]];
        if (o->blen == n && memcmp(t->bytes + o->boff, s, n) == 0) return t->bhash[h];
        h = (h + 1) & t->bhash_mask;
    }
    return -1;
}
