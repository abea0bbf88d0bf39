/* Every token's bytes in one trie, for walking a vocabulary against a
 * grammar: tokens that share a prefix share the work. Built once per
 * tokenizer, on first use, and kept with it. */
#ifndef FM_TOKENIZER_TOKEN_TRIE_H
#define FM_TOKENIZER_TOKEN_TRIE_H

#include <stdint.h>

#include "fm.h"

/* Nodes in depth-first order: node i's children are the nodes from i + 1
 * up to end, each child's subtree ending at its own `end`. Node 0 is the
 * root (no byte). */
typedef struct fm_trie_node {
    uint32_t end;
    int32_t tok; /* a token whose bytes end here, or -1; more in same_next */
    uint8_t byte;
} fm_trie_node;

typedef struct fm_token_trie {
    fm_trie_node *nodes;
    uint32_t n_nodes;
    int32_t *same_next; /* per token: the next token with the same bytes, or -1 */
    int32_t n_vocab;
    uint32_t max_depth;
    uint8_t **bytes;    /* per token: its bytes (NULL: none) */
    uint32_t *len;
    uint8_t *pool;
    /* what another layer derives from the vocabulary and keeps while the
     * tokenizer lives (the grammar layer's lexeme caches): made once by
     * fm_token_trie_ext, freed with the trie */
    void *ext;
    void (*ext_free)(void *);
} fm_token_trie;

/* The tokenizer's trie, built on first call (thread-safe). NULL when out
 * of memory (message set). */
const fm_token_trie *fm_token_trie_get(const fm_tokenizer *tok);
void fm_token_trie_free(fm_token_trie *t);

/* The trie's extension, made by make() on the first call (thread-safe;
 * destroy frees it with the trie). NULL when make() fails. */
void *fm_token_trie_ext(const fm_token_trie *t, void *(*make)(void), void (*destroy)(void *));

#endif
