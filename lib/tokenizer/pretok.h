/* Pre-tokenizers of the byte-level BPE families: hand-written scanners over
 * code points that split text into the pieces BPE then encodes, each equal
 * to its family's regex (see pretok.c for the patterns).
 *
 * A family is a list of stages, applied as llama.cpp applies its regex lists:
 * each stage splits every piece the previous stage left, its matches become
 * pieces and so does the text between them. A stage is a matcher: given a
 * piece [a, b) and a position p in it, it returns the length of the match
 * starting at p (the regex's leftmost-first alternative), or 0 and how far
 * the search may skip ahead, which keeps every stage linear. */
#ifndef FM_TOKENIZER_PRETOK_H
#define FM_TOKENIZER_PRETOK_H

#include <stddef.h>
#include <stdint.h>

typedef struct fm_match {
    size_t len;  /* bytes matched at p; 0: no match at p */
    size_t skip; /* when len is 0: bytes to skip before trying again (>= 1 char) */
} fm_match;

typedef fm_match (*fm_pretok_stage)(const uint8_t *s, size_t a, size_t b, size_t p);

#define FM_PRETOK_MAX_STAGES 6

typedef struct fm_pretok {
    const char *name;
    int whole_pieces; /* a piece that is a token is that token, without BPE
                         (tiktoken; llama.cpp's ignore_merges for llama-3) */
    int n_stages;
    fm_pretok_stage stages[FM_PRETOK_MAX_STAGES];
    /* per stage, a table of the bytes at which a match can start (NULL: any).
     * The splitter jumps from one such byte to the next, and hands a piece
     * with none on to the next stage untouched. */
    const uint8_t *starts[FM_PRETOK_MAX_STAGES];
    /* per stage, a test for matches that no later stage can split (NULL:
     * none known): those go straight to the caller, without the later
     * stages' scans */
    int (*final[FM_PRETOK_MAX_STAGES])(const uint8_t *s, size_t a, size_t b);
} fm_pretok;

/* Receives each final piece s[off, off+len). Returns 0 to stop. */
typedef int (*fm_piece_fn)(void *user, size_t off, size_t len);

/* Splits s[0..n) and calls fn for every piece, in order. Returns 0 if fn
 * asked to stop. */
int fm_pretok_split(const fm_pretok *pt, const uint8_t *s, size_t n, fm_piece_fn fn, void *user);

/* The family a GGUF tokenizer.ggml.pre value names (llama.cpp's names), or
 * a tiktoken encoding name; NULL if unknown. */
const fm_pretok *fm_pretok_find(const char *name, size_t len);

#endif
