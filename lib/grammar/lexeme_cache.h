/* Lexeme caches: for a DFA terminal in state q, the tokens that stay
 * inside the terminal, and the trie nodes where it may end with more of a
 * token below (exits). They depend on the terminal's language from q and
 * on the vocabulary alone, so they are kept per tokenizer and shared by
 * every grammar and matcher that meets the same language: the JSON string
 * body of one schema is the JSON string body of the next. */
#ifndef FM_GRAMMAR_LEXEME_CACHE_H
#define FM_GRAMMAR_LEXEME_CACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "../tokenizer/token_trie.h"
#include "grammar.h"

/* Immutable once built; shared by reference count. */
typedef struct fm_lexcache {
    atomic_int refs;
    uint64_t sig[2];
    uint32_t n_reach;
    uint32_t *mask;     /* tokens that stay inside the terminal */
    uint32_t *exits;    /* trie nodes where it may end with more below, in order */
    size_t n_exits;
    /* per first byte: the language of the state it steps to (signed when
     * succ_ok), or none (succ_dead), so a new cache can start from a
     * stored one of another grammar that differs on a few bytes */
    uint64_t succ[256][2];
    uint8_t succ_ok[256], succ_dead[256];
    size_t bytes;
    uint64_t used;      /* the store's clock at the last lookup (LRU) */
} fm_lexcache;

/* The cache of DFA d from state q for the trie's vocabulary: found in the
 * tokenizer's store or built (and stored). `base`, when not NULL, is the
 * cache of state bq of the same DFA, to build from when few first bytes
 * step differently from q and bq (fm_lexcache_delta counts them). The
 * caller owns one reference. NULL when out of memory. Thread-safe. */
fm_lexcache *fm_lexcache_get(const fm_token_trie *tr, const fm_gdfa *d, uint32_t q, const fm_lexcache *base,
                             uint32_t bq);
/* How many first bytes DFA d steps differently from states q and bq. */
unsigned fm_lexcache_delta(const fm_gdfa *d, uint32_t q, uint32_t bq);
void fm_lexcache_release(fm_lexcache *c);
/* How many caches the trie's store holds now (for tests); thread-safe. */
size_t fm_lexcache_stored(const fm_token_trie *tr);

#endif
