/* Token table construction and lookup. */
#include "vocab.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"

fm_status fm_vocab_begin(fm_vocab_builder *b, int64_t n_vocab) {
    b->tok = NULL;
    if (n_vocab <= 0 || n_vocab > FM_MAX_RANKS)
        return fm_error(FM_STATUS_BAD_FORMAT, "vocabulary of %lld tokens is out of range", (long long)n_vocab);
    fm_tokenizer *t = fm_calloc(1, sizeof *t);
    if (t == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the vocabulary");
    b->tok = t;
    t->n_vocab = (int32_t)n_vocab;
    t->tokens = fm_calloc((size_t)n_vocab, sizeof *t->tokens);
    b->text_cap = (size_t)n_vocab * 8 + 64;
    t->text = fm_malloc(b->text_cap);
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
        char *p = fm_realloc(t->text, cap);
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
    t->splitters = fm_malloc((size_t)t->n_vocab * sizeof *t->splitters);
    if (t->splitters == NULL || !fm_strmap_init(&t->by_text, (size_t)t->n_vocab, t->text, t->tokens,
                                                sizeof(fm_vocab_token), offsetof(fm_vocab_token, off)))
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the vocabulary");
    /* where two tokens share a text the higher id wins, as in llama.cpp */
    for (int32_t id = 0; id < t->n_vocab; id++)
        if (t->tokens[id].len > 0) /* holes in a vocabulary have no text */
            fm_strmap_put(&t->by_text, t->text + t->tokens[id].off, t->tokens[id].len, id);
    for (int i = 0; i < 256; i++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", i);
        t->byte_token[i] = fm_vocab_lookup(t, name, 6);
    }
    uint64_t *keys = fm_malloc((size_t)t->n_vocab * sizeof *keys);
    if (keys == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the vocabulary");
    t->n_splitters = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        uint8_t ty = t->tokens[id].type;
        if ((ty == FM_TT_CONTROL || ty == FM_TT_USER_DEFINED || ty == FM_TT_UNKNOWN) && t->tokens[id].len > 0)
            keys[t->n_splitters++] = ((uint64_t)(UINT32_MAX - t->tokens[id].len) << 32) | (uint32_t)id;
    }
    qsort(keys, (size_t)t->n_splitters, sizeof *keys, cmp_u64);
    for (int32_t i = 0; i < t->n_splitters; i++) t->splitters[i] = (fm_token)(keys[i] & 0xffffffffu);
    /* bucket them by their first two bytes, for one-pass matching */
    t->sp_start = fm_calloc(65536 + 1, sizeof *t->sp_start);
    t->sp_items = fm_malloc(((size_t)t->n_splitters + 1) * sizeof *t->sp_items);
    if (t->sp_start == NULL || t->sp_items == NULL) {
        free(keys);
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the vocabulary");
    }
    memset(t->sp_present, 0, sizeof t->sp_present);
    memset(t->sp_first, 0, sizeof t->sp_first);
    for (int32_t i = 0; i < t->n_splitters; i++) {
        const uint8_t *tx = (const uint8_t *)fm_vocab_text(t, t->splitters[i]);
        uint32_t b = t->tokens[t->splitters[i]].len == 1 ? tx[0] : (uint32_t)tx[0] << 8 | tx[1];
        t->sp_start[b + 1]++;
        t->sp_present[b / 64] |= 1ull << (b % 64);
        t->sp_first[tx[0]] = 1;
    }
    for (uint32_t b = 0; b < 65536; b++) t->sp_start[b + 1] += t->sp_start[b];
    uint32_t *fill = fm_calloc(65536, sizeof *fill);
    if (fill == NULL) {
        free(keys);
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the vocabulary");
    }
    for (int32_t i = 0; i < t->n_splitters; i++) { /* in priority order within a bucket */
        const uint8_t *tx = (const uint8_t *)fm_vocab_text(t, t->splitters[i]);
        uint32_t b = t->tokens[t->splitters[i]].len == 1 ? tx[0] : (uint32_t)tx[0] << 8 | tx[1];
        t->sp_items[t->sp_start[b] + fill[b]++] = i;
    }
    free(fill);
    free(keys);
    return FM_STATUS_OK;
}

fm_status fm_vocab_index_bytes(fm_tokenizer *t) {
    if (!fm_strmap_init(&t->by_bytes, (size_t)t->n_vocab, t->bytes, t->tokens, sizeof(fm_vocab_token),
                        offsetof(fm_vocab_token, boff)))
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the vocabulary");
    for (int32_t id = 0; id < t->n_vocab; id++)
        if (t->tokens[id].blen > 0) fm_strmap_put(&t->by_bytes, t->bytes + t->tokens[id].boff, t->tokens[id].blen, id);
    return FM_STATUS_OK;
}
