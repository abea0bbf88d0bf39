#include "utf8.h"

#include <string.h>

/* Length a lead byte announces and the allowed range of the byte after it;
 * 0 for bytes that cannot start a sequence of two or more. */
static size_t lead_info(uint8_t b, uint8_t *lo, uint8_t *hi) {
    *lo = 0x80;
    *hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) return 2;
    if (b >= 0xE0 && b <= 0xEF) {
        if (b == 0xE0) *lo = 0xA0;      /* overlong */
        else if (b == 0xED) *hi = 0x9F; /* surrogates */
        return 3;
    }
    if (b >= 0xF0 && b <= 0xF4) {
        if (b == 0xF0) *lo = 0x90;      /* overlong */
        else if (b == 0xF4) *hi = 0x8F; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

int fm_utf8_is_partial(const uint8_t *s, size_t n) {
    uint8_t lo, hi;
    size_t len = lead_info(s[0], &lo, &hi);
    if (len == 0 || n >= len) return 0;
    if (n >= 2 && (s[1] < lo || s[1] > hi)) return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return 1;
}

size_t fm_utf8_seq_len(const uint8_t *s, size_t n) {
    if (n == 0) return 0;
    if (s[0] < 0x80) return 1;
    uint8_t lo, hi;
    size_t len = lead_info(s[0], &lo, &hi);
    if (len == 0) return 0;
    if (n < len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

size_t fm_utf8_validate(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        /* eight ASCII bytes at a time */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t len = fm_utf8_seq_len(s + i, n - i);
        if (len == 0) return i;
        i += len;
    }
    return n;
}
