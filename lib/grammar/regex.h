/* Regular expressions (the ECMAScript subset JSON Schema's `pattern` uses)
 * as automata over code points, and those automata as grammar rules.
 *
 * A pattern parses to a syntax tree, becomes a Thompson NFA whose edges
 * carry code point ranges, then a DFA by subset construction - optionally
 * in product with a length counter, which is how minLength / maxLength and
 * a pattern hold together - and the DFA becomes left-linear rules
 * (L_q ::= L_p c for each edge p -c-> q), which an Earley parser runs in
 * linear time. Each code point is written out by an encoder: raw UTF-8, or
 * as the text of a JSON string (quote, backslash and control characters
 * escaped). */
#ifndef FM_GRAMMAR_REGEX_H
#define FM_GRAMMAR_REGEX_H

#include <stddef.h>
#include <stdint.h>

#include "grammar.h"

typedef struct fm_nfa_edge {
    uint32_t lo, hi; /* code points; lo == FM_NFA_EPS: an empty move */
    uint32_t to;
} fm_nfa_edge;

#define FM_NFA_EPS 0xFFFFFFFFu

typedef struct fm_nfa {
    uint32_t n_states, start, accept;
    fm_nfa_edge *edges; /* grouped by state: edge_start[s] .. edge_start[s + 1] */
    uint32_t *edge_start;
    size_t n_edges;
} fm_nfa;

void fm_nfa_free(fm_nfa *n);

/* The NFA of `re` (len bytes). search: JSON Schema semantics - the pattern
 * may match anywhere unless anchored with ^ / $; else the whole input must
 * match. `what` names the source in messages. */
fm_status fm_regex_to_nfa(const char *re, size_t len, int search, const char *what, fm_nfa *out);

/* An NFA of exactly one code point in the ranges (for building by hand). */
fm_status fm_nfa_any(fm_nfa *out, const uint32_t *cp, size_t n_ranges);

typedef enum fm_char_encoding {
    FM_ENC_UTF8 = 0,        /* the code point's UTF-8 bytes */
    FM_ENC_JSON_STRING = 1, /* as inside a JSON string: \" \\ \n ... \u00XX */
    FM_ENC_JSON_QUOTED = 2  /* the same between the string's quotes */
} fm_char_encoding;

/* The symbol for the language of `nfa` (code point strings whose length is
 * within [min_len, max_len], UINT32_MAX: unbounded), each code point
 * written with `enc`. Errors (message set): a DFA over the state limit,
 * an empty language (INVALID_ARGUMENT, naming `what`), NO_MEMORY. */
fm_status fm_nfa_emit(fm_gbuild *b, const fm_nfa *nfa, uint32_t min_len, uint32_t max_len, fm_char_encoding enc,
                      const char *what, uint32_t *sym);
/* The same for the complement of the NFA's language (within the bounds). */
fm_status fm_nfa_emit_complement(fm_gbuild *b, const fm_nfa *nfa, uint32_t min_len, uint32_t max_len,
                                 fm_char_encoding enc, const char *what, uint32_t *sym);
/* a becomes the union of a and b (b is left as it was). */
fm_status fm_nfa_union(fm_nfa *a, const fm_nfa *b);

/* One code point of the ranges, written with `enc`. 0xFFFFFFFF on failure. */
uint32_t fm_gbuild_char(fm_gbuild *b, const uint32_t *cp, size_t n_ranges, fm_char_encoding enc);

#endif
