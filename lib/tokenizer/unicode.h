/* Character classes for the pre-tokenizers and WordPiece, from utf8proc's
 * Unicode tables (utf8proc 2.8: Unicode 15.0). One bit per class so a
 * scanner tests a set with one AND. */
#ifndef FM_TOKENIZER_UNICODE_H
#define FM_TOKENIZER_UNICODE_H

#include <stddef.h>
#include <stdint.h>

enum {
    FM_UC_LU = 1 << 0,     /* Lu, Lt: upper/title-case letters */
    FM_UC_LL = 1 << 1,     /* Ll */
    FM_UC_LO = 1 << 2,     /* Lm, Lo */
    FM_UC_M = 1 << 3,      /* Mn, Mc, Me */
    FM_UC_N = 1 << 4,      /* Nd, Nl, No */
    FM_UC_P = 1 << 5,      /* Pc .. Po */
    FM_UC_S = 1 << 6,      /* Sm, Sc, Sk, So */
    FM_UC_WS = 1 << 7,     /* the White_Space property (\s) */
    FM_UC_Z = 1 << 8,      /* separators that are not White_Space */
    FM_UC_C = 1 << 9,      /* Cc, Cf, Co, Cs that are not White_Space */
    FM_UC_UNDEF = 1 << 10, /* unassigned */
    FM_UC_L = FM_UC_LU | FM_UC_LL | FM_UC_LO,
};

/* Class bits of code point cp; ASCII answers from a table, inline. */
extern const uint16_t fm_uc_ascii_class[128];
uint16_t fm_uc_class_slow(uint32_t cp);

static inline uint16_t fm_uc_class(uint32_t cp) { return cp < 128 ? fm_uc_ascii_class[cp] : fm_uc_class_slow(cp); }

/* The classes of the Basic and Supplementary Multilingual Planes (U+0000 to
 * U+1FFFF: every script and the emoji), for scanners that read them
 * directly: filled by fm_uc_init(), which they must have called. */
#define FM_UC_TABLE 0x20000
extern uint16_t fm_uc_table[FM_UC_TABLE];

/* Fills fm_uc_table, once per process; thread-safe. */
void fm_uc_init(void);

/* Simple lower-case mapping (UnicodeData), cp itself if none. */
uint32_t fm_uc_tolower(uint32_t cp);

/* First code point of cp's canonical decomposition (cp if none): what
 * llama.cpp's WordPiece calls NFD. */
uint32_t fm_uc_nfd_first(uint32_t cp);


/* Decodes one character at s[0..n) (n >= 1) into *cp and returns its
 * length. A malformed byte decodes as U+FFFD of length 1, so byte-level
 * tokenizers can still carry the original bytes. */
size_t fm_uc_decode(const uint8_t *s, size_t n, uint32_t *cp);

#endif
