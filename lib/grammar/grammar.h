/* The grammar layer's shared definitions: the compiled form every front
 * end (GBNF, JSON Schema, regular expressions) produces, the builder they
 * produce it with, and the byte-level Earley recognizer that runs it.
 *
 * A grammar is a context-free grammar over bytes: terminals are sets of
 * bytes, so UTF-8 character classes become small alternations of byte
 * sequences (utf8_ranges.c) and a token, which is a byte string that may
 * split a character, is matched byte by byte. Earley parsing accepts every
 * context-free grammar (ambiguous ones included) in at most cubic time,
 * and in linear time for the unambiguous, left-recursive shapes the
 * builder generates for repetition. */
#ifndef FM_GRAMMAR_H
#define FM_GRAMMAR_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "fm.h"

/* A symbol: kind in the top two bits, value below. */
#define FM_GS_NT 0u   /* nonterminal (rule id) */
#define FM_GS_TERM 1u /* terminal (byte set id) */
#define FM_GS_END 2u  /* end of a production (value: its rule) */
#define FM_GS_DFA 3u  /* a byte DFA terminal (value: its id), a regular
                         sub-language matched as one symbol */
#define FM_GS_KIND(s) ((s) >> 30)
#define FM_GS_VAL(s) ((s) & 0x3fffffffu)
#define FM_GS_MAKE(k, v) ((uint32_t)(k) << 30 | (uint32_t)(v))

typedef struct fm_byteset {
    uint64_t w[4];
} fm_byteset;

static inline int fm_byteset_has(const fm_byteset *s, unsigned b) { return (int)(s->w[b >> 6] >> (b & 63) & 1); }
static inline void fm_byteset_add_range(fm_byteset *s, unsigned lo, unsigned hi) {
    for (unsigned b = lo; b <= hi; b++) s->w[b >> 6] |= 1ull << (b & 63);
}

/* A byte DFA: state 0 starts; next[q * 256 + b] is the next state or
 * FM_DFA_DEAD; every state can still reach acceptance. */
#define FM_DFA_DEAD 0xFFFFFFFFu
/* A state's language signature (lexeme_cache.c), worked out once: the
 * grammar is shared, so `known` is set last, with release order. */
typedef struct fm_gdfa_sig {
    uint64_t sig[2];
    uint32_t n_reach;
    atomic_uint known; /* 0 not yet, 1 signed, 2 too large to sign, 3 being written */
} fm_gdfa_sig;

/* A DFA terminal. A counted one (bound != NULL) also counts characters:
 * the table is the pattern's alone, and a parse state q is the pair
 * (pattern state q & pmask, characters so far q >> pbits), the count
 * going up on entering a `bound`ary state (a character ends there) and
 * saturating at cap when there is no upper bound. live[] says which pairs
 * can still end within [cmin, cmax]. This is how a pattern with long
 * length bounds stays one small table instead of a table per count. */
typedef struct fm_gdfa {
    uint32_t n_states; /* of the table */
    uint32_t *next;
    uint8_t *accept;
    fm_byteset *out;  /* per state: the bytes with a transition */
    fm_gdfa_sig *sig; /* per table state */
    uint8_t *bound;   /* per state, counted DFAs only: a character ends on entering it */
    uint64_t *live;   /* bit p * (cap + 1) + c: (p, c) can still end well */
    uint32_t cmin, cmax, cap, pbits, pmask;
} fm_gdfa;

static inline int fm_gdfa_live(const fm_gdfa *d, uint32_t p, uint32_t c) {
    const uint64_t bit = (uint64_t)p * (d->cap + 1) + c;
    return (int)(d->live[bit >> 6] >> (bit & 63) & 1);
}

/* The parse state after byte b from q, or FM_DFA_DEAD. */
static inline uint32_t fm_gdfa_step(const fm_gdfa *d, uint32_t q, unsigned b) {
    if (d->bound == NULL) return d->next[(size_t)q * 256 + b];
    const uint32_t np = d->next[(size_t)(q & d->pmask) * 256 + b];
    if (np == FM_DFA_DEAD) return FM_DFA_DEAD;
    uint32_t nc = (q >> d->pbits) + d->bound[np];
    if (nc > d->cap) {
        if (d->cmax != UINT32_MAX) return FM_DFA_DEAD;
        nc = d->cap;
    }
    return fm_gdfa_live(d, np, nc) ? nc << d->pbits | np : FM_DFA_DEAD;
}

static inline int fm_gdfa_accepts(const fm_gdfa *d, uint32_t q) {
    if (d->bound == NULL) return d->accept[q];
    return d->accept[q & d->pmask] && (q >> d->pbits) >= d->cmin;
}

/* The bytes that may step from q (for a counted DFA, a superset). */
static inline const fm_byteset *fm_gdfa_out(const fm_gdfa *d, uint32_t q) {
    return &d->out[d->bound ? q & d->pmask : q];
}

/* The compiled grammar (immutable once built; share it freely). */
struct fm_grammar {
    uint32_t *syms;        /* productions laid end to end, each closed by END */
    uint32_t n_syms;
    uint32_t *rule_start;  /* rule r's productions start at dots
                              prods[rule_start[r] .. rule_start[r + 1]) */
    uint32_t *prods;       /* first dot of each production, grouped by rule */
    uint32_t n_rules;
    uint8_t *nullable;     /* per rule */
    fm_byteset *terms;
    uint32_t n_terms;
    fm_gdfa *dfas;
    uint32_t n_dfas;
    uint32_t root;
    char **names;          /* per rule: its name, or NULL for a helper */
    size_t bytes;          /* memory held, for fm_grammar_bytes */
    atomic_int refs;       /* the caller's, and one per matcher */
};

/* Takes a reference (fm_grammar_free drops one). */
void fm_grammar_ref(const fm_grammar *g);

/* --- building (grammar_build.c) --- */

typedef struct fm_gbuild fm_gbuild;

fm_status fm_gbuild_new(fm_gbuild **out);
void fm_gbuild_free(fm_gbuild *b);
/* The rule named name[0..len), made on first use (a reference before the
 * definition is fine). Returns its id or -1 when out of memory. */
int32_t fm_gbuild_named(fm_gbuild *b, const char *name, size_t len);
/* Whether the named rule has productions yet (a definition was seen). */
int fm_gbuild_defined(const fm_gbuild *b, int32_t rule);
/* A new helper rule (no name; exempt from the left-recursion check). */
int32_t fm_gbuild_helper(fm_gbuild *b);
/* Adds the production rule -> syms[0..n) (n may be 0: empty). */
fm_status fm_gbuild_prod(fm_gbuild *b, int32_t rule, const uint32_t *syms, size_t n);
/* A DFA terminal (the builder takes next/accept; out is derived). Returns
 * its symbol, 0xFFFFFFFF when out of memory, 0xFFFFFFFE when the grammar's
 * DFA states would pass their limit (write rules instead). */
uint32_t fm_gbuild_dfa(fm_gbuild *b, uint32_t n_states, uint32_t *next, uint8_t *accept);
/* The same for a counted DFA (see fm_gdfa; it takes bound too): strings
 * whose count of boundary states entered is within [cmin, cmax]
 * (UINT32_MAX: no upper bound). Also 0xFFFFFFFE when the counts need too
 * large a table, 0xFFFFFFFD when no string is within the bounds. */
uint32_t fm_gbuild_dfa_counted(fm_gbuild *b, uint32_t n_states, uint32_t *next, uint8_t *accept, uint8_t *bound,
                               uint32_t cmin, uint32_t cmax);
/* The live table of a counted DFA (dfa_count.c): bit p * (cap + 1) + c
 * of *live; cap is cmax, or cmin with no upper bound. 1 done, 0 out of
 * memory, -1 too large a table, -2 the start cannot end within the
 * bounds. */
int fm_dfa_count_live(uint32_t n, const uint32_t *next, const uint8_t *accept, const uint8_t *bound, uint32_t cmin,
                      uint32_t cmax, uint32_t *cap, uint64_t **live);
/* Merges the states of a byte DFA that accept the same strings (state 0
 * stays the start; the arrays may be replaced); with mark (may be NULL),
 * only states of the same mark merge, and mark is renumbered with them.
 * 0 when out of memory or when the refinement would take too long, the DFA
 * then left as it was. */
int fm_dfa_minimize(uint32_t *n_states, uint32_t **next, uint8_t **accept, uint8_t **mark);
/* The terminal symbol for a byte set (deduplicated). */
uint32_t fm_gbuild_term(fm_gbuild *b, const fm_byteset *set);
/* A symbol matching one code point of the sorted, disjoint, inclusive
 * ranges cp[0..2n) (UTF-8 encoded): a single terminal when all are ASCII,
 * else a helper rule. 0xFFFFFFFF when out of memory or empty. */
uint32_t fm_gbuild_class(fm_gbuild *b, const uint32_t *cp, size_t n);
/* Repetition of sym between min and max times (max UINT32_MAX: unbounded),
 * as helper rules. 0xFFFFFFFF on failure (message set). */
uint32_t fm_gbuild_repeat(fm_gbuild *b, uint32_t sym, uint32_t min, uint32_t max);
/* Finishes: checks every referenced rule is defined and no named rule is
 * left-recursive, computes what the recognizer needs. `b` is consumed. */
fm_status fm_gbuild_finish(fm_gbuild *b, int32_t root, fm_grammar **out);

/* Code point ranges: sorts and merges cp[0..2n) in place, returns the new n. */
size_t fm_cp_ranges_normalize(uint32_t *cp, size_t n);
/* The complement of normalized ranges within [0, 0x10FFFF] minus the
 * surrogates, into out (room for n + 2 ranges); returns its count. */
size_t fm_cp_ranges_complement(const uint32_t *cp, size_t n, uint32_t *out);

/* UTF-8 byte-range sequences for [lo, hi] (utf8_ranges.c): calls emit with
 * each sequence of 1-4 (lo, hi) byte pairs. */
typedef int (*fm_utf8_emit_fn)(void *user, const uint8_t *lo, const uint8_t *hi, int n);
int fm_utf8_ranges(uint32_t lo, uint32_t hi, fm_utf8_emit_fn emit, void *user);

/* --- recognizing (earley.c) --- */

typedef struct fm_eitem {
    uint32_t dot;    /* index into syms */
    uint32_t origin; /* set index where the production started */
    uint32_t q;      /* at a DFA terminal: its state (0 otherwise) */
} fm_eitem;

/* The Earley sets of one input so far: set k holds the items after k
 * bytes. Sets can be pushed (a byte) and popped (backtracking in a trie
 * walk), so one parser serves both committing and probing. */
typedef struct fm_earley {
    const struct fm_grammar *g;
    fm_eitem *items;
    size_t n_items, cap_items;
    uint32_t *set_start; /* set k is items[set_start[k] .. set_start[k + 1]) */
    fm_byteset *set_bytes; /* per set: the bytes some item can scan next */
    uint32_t n_sets, cap_sets;
    /* per set, its items waiting on a rule, as (rule << 32 | item index)
     * sorted: completion finds the items to advance by binary search
     * instead of scanning the whole origin set */
    uint64_t *wait;
    size_t n_wait, cap_wait;
    uint32_t *wait_start; /* set k's are wait[wait_start[k] .. wait_start[k + 1]) */
    /* dedupe table for the set being built: generation-stamped slots */
    uint64_t *dk;
    uint32_t *dq;
    uint32_t *dgen;
    uint32_t dmask, gen;
    size_t steps; /* additions tried for the set being built */
    /* set when an add was refused for FM_EARLEY_MAX_STEPS / _ITEMS (the
     * failure is then a limit, not memory); fm_earley_failed() reads and
     * clears it */
    int over;
} fm_earley;

/* A highly ambiguous grammar (say ("" [a-z]+){200}) gives sets that grow
 * with every byte and a parser whose time grows with the cube of the text
 * and memory with its square. A set may take at most FM_EARLEY_MAX_STEPS
 * item additions (duplicates included: the work of one byte) and a parser
 * hold FM_EARLEY_MAX_ITEMS items (12 bytes each, plus 8 for the waiting
 * index). Ordinary grammars stay far below: over all of MaskBench's JSON
 * Schema instances (cl100k) the busiest set took 3,006 steps and held
 * 2,008 items, the largest parser 25,374. */
#define FM_EARLEY_MAX_STEPS ((size_t)1 << 17)
#define FM_EARLEY_MAX_ITEMS ((size_t)1 << 23)
/* Records and returns the error for a step that failed (-1): UNSUPPORTED
 * naming those limits when one was reached, else NO_MEMORY. */
fm_status fm_earley_failed(fm_earley *e);

fm_status fm_earley_init(fm_earley *e, const struct fm_grammar *g);
void fm_earley_free(fm_earley *e);
/* Back to the start (one set: the root's predictions). */
fm_status fm_earley_reset(fm_earley *e);
/* Adds a set for byte b. Returns 1 if the input can go on (the new set is
 * not empty; it stays pushed), 0 if b cannot come next (nothing pushed),
 * -1 out of memory. */
int fm_earley_push(fm_earley *e, uint8_t b);
/* As fm_earley_push, but the top set's items at the indexes skip[0..n_skip)
 * (ascending) do not scan: the parses that begin with the other items. */
int fm_earley_push_except(fm_earley *e, uint8_t b, const uint32_t *skip, size_t n_skip);
/* Adds a set holding items[0..n) (origins at earlier sets) and their
 * closure, consuming no byte: the parser as it is after a terminal that
 * the caller stepped itself ended (see the matcher's lexeme masks). 1 ok,
 * -1 out of memory (nothing pushed). */
int fm_earley_push_items(fm_earley *e, const fm_eitem *items, size_t n);
/* dst (uninitialised) becomes a copy of src. */
fm_status fm_earley_copy(fm_earley *dst, const fm_earley *src);
/* Removes the last set. */
void fm_earley_pop(fm_earley *e);
/* Whether the input so far is a complete sentence of the root. */
int fm_earley_accepting(const fm_earley *e);
static inline const fm_byteset *fm_earley_next_bytes(const fm_earley *e) { return &e->set_bytes[e->n_sets - 1]; }

#endif
