/* UTF-8 validation and decoding, strict per RFC 3629 (no overlongs, no
 * surrogates, nothing above U+10FFFF). */
#ifndef FM_CORE_UTF8_H
#define FM_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of the valid sequence at s[0..n), or 0 if it is malformed or cut. */
size_t fm_utf8_seq_len(const uint8_t *s, size_t n);

/* Offset of the first malformed byte, or n if all of s[0..n) is valid. */
size_t fm_utf8_validate(const uint8_t *s, size_t n);

/* 1 if s[0..n) (n >= 1) is a proper prefix of some valid sequence, i.e.
 * more bytes could still complete it. */
int fm_utf8_is_partial(const uint8_t *s, size_t n);

/* Bytes a sequence starting with lead byte `b` claims (1 for a stray byte). */
static inline size_t fm_utf8_lead_len(uint8_t b) {
    if (b < 0x80) return 1;
    if ((b & 0xE0) == 0xC0) return 2;
    if ((b & 0xF0) == 0xE0) return 3;
    if ((b & 0xF8) == 0xF0) return 4;
    return 1;
}

/* Writes code point c (at most U+10FFFF) as UTF-8 to b; returns the length. */
static inline uint32_t fm_utf8_encode(uint32_t c, uint8_t *b) {
    if (c < 0x80) return b[0] = (uint8_t)c, 1;
    if (c < 0x800) return b[0] = (uint8_t)(0xC0 | c >> 6), b[1] = (uint8_t)(0x80 | (c & 0x3F)), 2;
    if (c < 0x10000)
        return b[0] = (uint8_t)(0xE0 | c >> 12), b[1] = (uint8_t)(0x80 | (c >> 6 & 0x3F)),
               b[2] = (uint8_t)(0x80 | (c & 0x3F)), 3;
    b[0] = (uint8_t)(0xF0 | c >> 18), b[1] = (uint8_t)(0x80 | (c >> 12 & 0x3F));
    b[2] = (uint8_t)(0x80 | (c >> 6 & 0x3F)), b[3] = (uint8_t)(0x80 | (c & 0x3F));
    return 4;
}

#endif
