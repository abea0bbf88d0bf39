/* Code point ranges and their UTF-8 byte-range sequences: [lo, hi] splits
 * into pieces whose encodings share a length and differ only in trailing
 * bytes that cover whole 6-bit blocks, so each piece is one sequence of
 * byte ranges (the construction RE2 and Rust's regex-syntax use). */
#include <stdlib.h>

#include "../core/utf8.h"
#include "grammar.h"


int fm_utf8_ranges(uint32_t lo, uint32_t hi, fm_utf8_emit_fn emit, void *user) {
    if (lo > hi) return 0;
    if (hi > 0x10FFFF) hi = 0x10FFFF;
    if (lo > hi) return 0;
    /* surrogates are not characters */
    if (lo < 0xD800 && hi >= 0xD800) {
        int r = fm_utf8_ranges(lo, 0xD7FF, emit, user);
        return r ? r : hi > 0xDFFF ? fm_utf8_ranges(0xE000, hi, emit, user) : 0;
    }
    if (lo >= 0xD800 && lo <= 0xDFFF) return hi > 0xDFFF ? fm_utf8_ranges(0xE000, hi, emit, user) : 0;
    static const uint32_t limits[3] = {0x7F, 0x7FF, 0xFFFF};
    for (int i = 0; i < 3; i++)
        if (lo <= limits[i] && hi > limits[i]) {
            int r = fm_utf8_ranges(lo, limits[i], emit, user);
            return r ? r : fm_utf8_ranges(limits[i] + 1, hi, emit, user);
        }
    if (hi < 0x80) {
        uint8_t a = (uint8_t)lo, b = (uint8_t)hi;
        return emit(user, &a, &b, 1);
    }
    for (int i = 1; i < 4; i++) {
        const uint32_t m = (1u << (6 * i)) - 1;
        if ((lo & ~m) != (hi & ~m)) {
            if ((lo & m) != 0) {
                int r = fm_utf8_ranges(lo, lo | m, emit, user);
                return r ? r : fm_utf8_ranges((lo | m) + 1, hi, emit, user);
            }
            if ((hi & m) != m) {
                int r = fm_utf8_ranges(lo, (hi & ~m) - 1, emit, user);
                return r ? r : fm_utf8_ranges(hi & ~m, hi, emit, user);
            }
        }
    }
    uint8_t a[4], b[4];
    const int n = (int)fm_utf8_encode(lo, a);
    fm_utf8_encode(hi, b);
    return emit(user, a, b, n);
}

static int cmp_range(const void *x, const void *y) {
    const uint32_t *a = x, *b = y;
    return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : (a[1] < b[1] ? -1 : a[1] > b[1]);
}

size_t fm_cp_ranges_normalize(uint32_t *cp, size_t n) {
    if (n == 0) return 0;
    qsort(cp, n, 2 * sizeof *cp, cmp_range);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (cp[2 * i] > cp[2 * i + 1]) continue;
        if (m > 0 && cp[2 * i] <= cp[2 * m - 1] + 1) {
            if (cp[2 * i + 1] > cp[2 * m - 1]) cp[2 * m - 1] = cp[2 * i + 1];
        } else {
            cp[2 * m] = cp[2 * i], cp[2 * m + 1] = cp[2 * i + 1];
            m++;
        }
    }
    return m;
}

size_t fm_cp_ranges_complement(const uint32_t *cp, size_t n, uint32_t *out) {
    size_t m = 0;
    uint32_t next = 0;
    for (size_t i = 0; i < n && next <= 0x10FFFF; i++) {
        if (cp[2 * i] > next) out[2 * m] = next, out[2 * m + 1] = cp[2 * i] - 1, m++;
        next = cp[2 * i + 1] + 1;
    }
    if (next <= 0x10FFFF) out[2 * m] = next, out[2 * m + 1] = 0x10FFFF, m++;
    return m; /* surrogates fall out when the ranges are encoded */
}
