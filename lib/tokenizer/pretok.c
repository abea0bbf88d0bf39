/* The pre-tokenizer families. Each matcher states the regex it implements;
 * semantics are those of a backtracking, leftmost-first engine (tiktoken's
 * fancy-regex, llama.cpp's std::regex and hand-written splitters), with \s
 * the White_Space property and \p{..} Unicode general categories. A
 * matcher only looks inside its piece [a, b): lookaheads and $ see the end
 * of the piece, as llama.cpp's per-piece regex passes do. */
#include "pretok.h"

#include <pthread.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "unicode.h"

/* 256-entry byte tables from a test on the byte (the start tables at the end,
 * the ASCII halves of character classes). */
#define ROW16(P, b)                                                                                                 \
    P((b) + 0), P((b) + 1), P((b) + 2), P((b) + 3), P((b) + 4), P((b) + 5), P((b) + 6), P((b) + 7), P((b) + 8),       \
        P((b) + 9), P((b) + 10), P((b) + 11), P((b) + 12), P((b) + 13), P((b) + 14), P((b) + 15)
#define BYTE_TABLE(P)                                                                                               \
    {ROW16(P, 0x00), ROW16(P, 0x10), ROW16(P, 0x20), ROW16(P, 0x30), ROW16(P, 0x40), ROW16(P, 0x50),            \
     ROW16(P, 0x60), ROW16(P, 0x70), ROW16(P, 0x80), ROW16(P, 0x90), ROW16(P, 0xA0), ROW16(P, 0xB0),            \
     ROW16(P, 0xC0), ROW16(P, 0xD0), ROW16(P, 0xE0), ROW16(P, 0xF0)}

/* For the matchers of the single-regex families: inlined into their
 * splitting loops (SPLIT_ONE), which is where most text is cut. */
#if defined(__GNUC__)
#define HOT_INLINE inline __attribute__((always_inline))
#else
#define HOT_INLINE inline
#endif

#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define IS_ALPHA(c) (((c) >= 'A' && (c) <= 'Z') || ((c) >= 'a' && (c) <= 'z'))
#define IS_LEAD(c) ((c) >= 0xC0)

/* ---- reading characters ------------------------------------------------ */

typedef struct ch {
    uint32_t cp;
    uint16_t cls; /* 0 past the end of the piece */
    uint8_t len;
} ch;

/* The character at p: ASCII and well-formed sequences up to U+1FFFF
 * inline from the tables, anything else through the general decoder. The
 * table is filled: every scanner is reached through fm_pretok_find, which
 * calls fm_uc_init. */
static inline ch at(const uint8_t *s, size_t p, size_t b) {
    ch c = {0, 0, 0};
    if (p >= b) return c;
    const uint8_t c0 = s[p];
    if (c0 < 0x80) {
        c.cp = c0;
        c.len = 1;
        c.cls = fm_uc_ascii_class[c0];
        return c;
    }
    if (c0 >= 0xC2 && c0 < 0xE0) {
        if (p + 1 < b && (s[p + 1] & 0xC0) == 0x80) {
            c.cp = (uint32_t)(c0 & 0x1F) << 6 | (s[p + 1] & 0x3F);
            c.len = 2;
            c.cls = fm_uc_table[c.cp];
            return c;
        }
    } else if (c0 >= 0xE0 && c0 < 0xF0 && p + 2 < b && (s[p + 1] & 0xC0) == 0x80 && (s[p + 2] & 0xC0) == 0x80) {
        const uint32_t cp = (uint32_t)(c0 & 0x0F) << 12 | (uint32_t)(s[p + 1] & 0x3F) << 6 | (s[p + 2] & 0x3F);
        if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) { /* not overlong, not a surrogate */
            c.cp = cp;
            c.len = 3;
            c.cls = fm_uc_table[cp];
            return c;
        }
    } else if (c0 >= 0xF0 && c0 < 0xF5 && p + 3 < b && (s[p + 1] & 0xC0) == 0x80 && (s[p + 2] & 0xC0) == 0x80 &&
               (s[p + 3] & 0xC0) == 0x80) {
        const uint32_t cp = (uint32_t)(c0 & 0x07) << 18 | (uint32_t)(s[p + 1] & 0x3F) << 12 |
                            (uint32_t)(s[p + 2] & 0x3F) << 6 | (s[p + 3] & 0x3F);
        if (cp >= 0x10000 && cp < FM_UC_TABLE) { /* not overlong; the emoji and the historic scripts */
            c.cp = cp;
            c.len = 4;
            c.cls = fm_uc_table[cp];
            return c;
        }
    }
    c.len = (uint8_t)fm_uc_decode(s + p, b - p, &c.cp);
    c.cls = fm_uc_class(c.cp);
    return c;
}

/* End of the run from p of ASCII bytes in [lo, lo + 26) - with fold 0x20,
 * of either case. Sixteen bytes at a time where SSE2 is there: a word's
 * end is then a bit position, not a mispredicted loop exit. */
static inline size_t ascii_run(const uint8_t *s, size_t p, size_t b, uint8_t lo, uint8_t fold) {
#if defined(__SSE2__) && defined(__GNUC__)
    const __m128i f = _mm_set1_epi8((char)fold), shift = _mm_set1_epi8((char)(0x80 - lo)),
                  lim = _mm_set1_epi8((char)(-128 + 26));
    while (p + 16 <= b) {
        const __m128i x = _mm_or_si128(_mm_loadu_si128((const __m128i *)(s + p)), f);
        const unsigned in = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(_mm_add_epi8(x, shift), lim));
        if (in != 0xFFFF) return p + (size_t)__builtin_ctz(~in);
        p += 16;
    }
#endif
    while (p < b && (uint8_t)((s[p] | fold) - lo) < 26) p++;
    return p;
}

/* End of the run from p of ASCII whitespace (\t\n\v\f\r and space),
 * and in *last_rn the end of its last \r or \n (unchanged if none). */
static inline size_t ascii_ws_run(const uint8_t *s, size_t p, size_t b, size_t *last_rn) {
#if defined(__SSE2__) && defined(__GNUC__)
    const __m128i sp = _mm_set1_epi8(' '), cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n'),
                  shift = _mm_set1_epi8((char)(0x80 - '\t')), lim = _mm_set1_epi8((char)(-128 + 5));
    while (p + 16 <= b) {
        const __m128i x = _mm_loadu_si128((const __m128i *)(s + p));
        const __m128i ws = _mm_or_si128(_mm_cmpeq_epi8(x, sp), _mm_cmplt_epi8(_mm_add_epi8(x, shift), lim));
        const unsigned in = (unsigned)_mm_movemask_epi8(ws);
        const unsigned n = in == 0xFFFF ? 16 : (unsigned)__builtin_ctz(~in);
        const unsigned rn =
            (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, cr), _mm_cmpeq_epi8(x, lf))) & ((1u << n) - 1);
        if (rn) *last_rn = p + 32 - (size_t)__builtin_clz(rn);
        p += n;
        if (n < 16) return p;
    }
#endif
    for (; p < b && ((s[p] >= '\t' && s[p] <= '\r') || s[p] == ' '); p++)
        if (s[p] == '\r' || s[p] == '\n') *last_rn = p + 1;
    return p;
}

/* End of the run of characters whose class intersects `mask`, from p. */
static inline size_t run(const uint8_t *s, size_t p, size_t b, uint16_t mask) {
    for (;;) {
        if (mask == FM_UC_L && p < b && s[p] < 0x80) p = ascii_run(s, p, b, 'a', 0x20); /* mask: a constant */
        while (p < b && s[p] < 0x80 && (fm_uc_ascii_class[s[p]] & mask)) p++; /* ASCII: no decoding */
        if (p >= b || s[p] < 0x80) return p;
        ch c = at(s, p, b);
        if (!(c.cls & mask)) return p;
        p += c.len;
    }
}

/* End of the run of characters whose class is non-zero and misses `mask`. */
static inline size_t run_not(const uint8_t *s, size_t p, size_t b, uint16_t mask) {
    for (;;) {
        while (p < b && s[p] < 0x80 && !(fm_uc_ascii_class[s[p]] & mask)) p++;
        if (p >= b || s[p] < 0x80) return p;
        ch c = at(s, p, b);
        if (c.cls == 0 || (c.cls & mask)) return p;
        p += c.len;
    }
}

static inline fm_match hit(size_t len) { return (fm_match){len, 0}; }
static inline fm_match miss(size_t skip) { return (fm_match){0, skip}; }

/* A miss at p that skips ahead to the next character of a class in `mask`. */
static inline fm_match skip_to(const uint8_t *s, size_t p, size_t b, uint16_t mask) {
    size_t q = run_not(s, p, b, mask);
    return miss(q > p ? q - p : at(s, p, b).len);
}

/* A miss at p that skips ahead to the next character for which `can_start`
 * holds, so a stage that rarely matches costs one tight scan, not a call
 * per character. */
static inline fm_match miss_until(const uint8_t *s, size_t p, size_t b, int (*can_start)(const uint8_t *, size_t, size_t)) {
    size_t q = p;
    do {
        q += s[q] < 0x80 ? 1 : at(s, q, b).len;
    } while (q < b && !can_start(s, q, b));
    return miss(q - p);
}

#define NOT_SLN (FM_UC_WS | FM_UC_L | FM_UC_N) /* [^\s\p{L}\p{N}] misses these */

/* 's|'t|'re|'ve|'m|'ll|'d, optionally case-insensitive. tiktoken's (?i)
 * folds like Unicode: 'ſ' (U+017F) is an 's'; llama.cpp's lowercases only. */
static size_t contraction_at(const uint8_t *s, size_t p, size_t b, int icase, int long_s) {
    ch c1 = at(s, p + 1, b);
    uint32_t x = icase ? fm_uc_tolower(c1.cp) : c1.cp;
    if (long_s && c1.cp == 0x17F) x = 's';
    if (x == 's' || x == 't' || x == 'm' || x == 'd') return 1 + c1.len;
    ch c2 = at(s, p + 1 + c1.len, b);
    uint32_t y = icase ? fm_uc_tolower(c2.cp) : c2.cp;
    if ((x == 'r' && y == 'e') || (x == 'v' && y == 'e') || (x == 'l' && y == 'l')) return 1 + c1.len + c2.len;
    return 0;
}

/* (the apostrophe test always inline: it follows every word) */
static HOT_INLINE size_t contraction(const uint8_t *s, size_t p, size_t b, int icase, int long_s) {
    return p < b && s[p] == '\'' ? contraction_at(s, p, b, icase, long_s) : 0;
}

/* \s+(?!\S)|\s+ at p, which starts a whitespace run ending at e: all of it
 * at the end of the piece, else all but its last character (if that leaves
 * any), else one character. */
static size_t space_run(const uint8_t *s, size_t p, size_t e, size_t b, size_t last) {
    (void)s;
    if (e == b) return e - p;
    if (last > p) return last - p;
    return e - p;
}

/* Walks the whitespace run at p: its end, the start of its last character,
 * and the end of its last \r or \n (0 if none). */
static size_t ws_run(const uint8_t *s, size_t p, size_t b, size_t *last, size_t *last_rn) {
    *last = p;
    if (last_rn) *last_rn = 0;
    for (;;) {
        ch c = at(s, p, b);
        if (!(c.cls & FM_UC_WS)) return p;
        *last = p;
        p += c.len;
        if (last_rn && (c.cp == '\r' || c.cp == '\n')) *last_rn = p;
    }
}

/* ---- GPT-2 -------------------------------------------------------------
 * 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * (GPT-2, r50k_base, p50k_base, and the second stage of llama.cpp's
 * falcon, gpt-neox, starcoder families) */
static HOT_INLINE fm_match m_gpt2(const uint8_t *s, size_t a, size_t b, size_t p) {
    (void)a;
    /* ASCII: a letter or digit, or a space and one (most pieces), without
     * decoding; run() takes the rest of the word, non-ASCII included */
    const size_t q0 = p + (s[p] == ' ' && p + 1 < b);
    if (s[q0] < 0x80) {
        const uint16_t k = fm_uc_ascii_class[s[q0]];
        if (k & FM_UC_L) return hit(run(s, q0 + 1, b, FM_UC_L) - p);
        if (k & FM_UC_N) return hit(run(s, q0 + 1, b, FM_UC_N) - p);
    }
    size_t n = contraction(s, p, b, 0, 0);
    if (n) return hit(n);
    ch c = at(s, p, b);
    size_t q = p;
    ch d = c;
    if (c.cp == ' ') {
        ch nx = at(s, p + 1, b);
        if (nx.cls & ~FM_UC_WS) q = p + 1, d = nx; /* the space belongs to what follows */
    }
    if (d.cls & FM_UC_L) return hit(run(s, q, b, FM_UC_L) - p);
    if (d.cls & FM_UC_N) return hit(run(s, q, b, FM_UC_N) - p);
    if (d.cls && !(d.cls & NOT_SLN)) return hit(run_not(s, q, b, NOT_SLN) - p);
    size_t last, e = ws_run(s, p, b, &last, NULL);
    return hit(space_run(s, p, e, b, last));
}

/* ` ?[^\s\p{L}\p{N}]+[\r\n]*` (with '/' too if slash) from q, where the
 * punctuation starts: its end. */
static inline size_t punct_run(const uint8_t *s, size_t q, size_t b, int slash) {
    q = run_not(s, q, b, NOT_SLN);
    while (q < b && (s[q] == '\r' || s[q] == '\n' || (slash && s[q] == '/'))) q++;
    return q;
}

/* The alternatives cl100k_base and o200k_base end with:
 * \p{N}{1,max_digits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * (o200k also lets '/' follow the punctuation). c is the character at p. */
static fm_match shared_tail(const uint8_t *s, size_t b, size_t p, ch c, int max_digits, int slash) {
    /* ASCII whitespace followed by ASCII (indentation, line ends, a space
     * before punctuation): decided on the bytes. A run that reaches a
     * non-ASCII byte may go on in Unicode whitespace: the general path. */
    if (c.cp < 0x80 && (c.cls & FM_UC_WS)) {
        if (c.cp == ' ' && p + 1 < b && s[p + 1] < 0x80) {
            const uint16_t k = fm_uc_ascii_class[s[p + 1]];
            if (k && !(k & NOT_SLN)) return hit(punct_run(s, p + 1, b, slash) - p);
        }
        size_t last_rn = 0;
        const size_t q = ascii_ws_run(s, p, b, &last_rn);
        if (q >= b || s[q] < 0x80) {
            if (last_rn) return hit(last_rn - p);
            return hit(space_run(s, p, q, b, q - 1));
        }
    }
    if (c.cls & FM_UC_N) {
        size_t q = p;
        for (int i = 0; i < max_digits; i++) {
            ch d = at(s, q, b);
            if (!(d.cls & FM_UC_N)) break;
            q += d.len;
        }
        return hit(q - p);
    }
    size_t q = p;
    ch d = c;
    if (c.cp == ' ') {
        ch nx = at(s, p + 1, b);
        if (nx.cls && !(nx.cls & NOT_SLN)) q = p + 1, d = nx;
    }
    if (d.cls && !(d.cls & NOT_SLN)) return hit(punct_run(s, q, b, slash) - p);
    size_t last, last_rn, e = ws_run(s, p, b, &last, &last_rn);
    if (last_rn) return hit(last_rn - p);
    return hit(space_run(s, p, e, b, last));
}

/* ---- cl100k_base / llama-3 / qwen2 ---------------------------------------
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * qwen2 has \p{N} instead of \p{N}{1,3}. */
static fm_match m_cl100k_impl(const uint8_t *s, size_t b, size_t p, int max_digits, int long_s) {
    /* ASCII: a letter, or a prefix character and a letter (no apostrophe,
     * which may start a contraction instead) */
    const uint8_t c0 = s[p];
    if (c0 < 0x80 && c0 != '\'') {
        const uint16_t k0 = fm_uc_ascii_class[c0];
        if (k0 & FM_UC_L) return hit(run(s, p + 1, b, FM_UC_L) - p);
        const int can_prefix = c0 != '\r' && c0 != '\n' && !(k0 & FM_UC_N);
        if (can_prefix && p + 1 < b && s[p + 1] < 0x80 && (fm_uc_ascii_class[s[p + 1]] & FM_UC_L))
            return hit(run(s, p + 2, b, FM_UC_L) - p);
        /* no letter follows (a digit, \r or \n takes no prefix): only the
         * shared alternatives are left */
        if (!can_prefix || p + 1 >= b || s[p + 1] < 0x80) {
            const ch c = {c0, k0, 1};
            return shared_tail(s, b, p, c, max_digits, 0);
        }
    }
    size_t n = contraction(s, p, b, 1, long_s);
    if (n) return hit(n);
    ch c = at(s, p, b);
    if (c.cls & FM_UC_L) return hit(run(s, p, b, FM_UC_L) - p);
    if (c.cp != '\r' && c.cp != '\n' && !(c.cls & FM_UC_N)) {
        ch nx = at(s, p + c.len, b);
        if (nx.cls & FM_UC_L) return hit(run(s, p + c.len, b, FM_UC_L) - p);
    }
    return shared_tail(s, b, p, c, max_digits, 0);
}

static fm_match m_cl100k(const uint8_t *s, size_t a, size_t b, size_t p) {
    (void)a;
    return m_cl100k_impl(s, b, p, 3, 1);
}

static fm_match m_llama3(const uint8_t *s, size_t a, size_t b, size_t p) {
    (void)a;
    return m_cl100k_impl(s, b, p, 3, 0);
}

static fm_match m_qwen2(const uint8_t *s, size_t a, size_t b, size_t p) {
    (void)a;
    return m_cl100k_impl(s, b, p, 1, 0);
}

/* ---- o200k_base -----------------------------------------------------------
 * [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
 * [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
 * \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
#define UPPERISH (FM_UC_LU | FM_UC_LO | FM_UC_M)
#define LOWERISH (FM_UC_LL | FM_UC_LO | FM_UC_M)

/* The word part of both letter alternatives from q, in one pass: the run
 * of [U] characters (its end *u_end) and, after it, either [L]+ (first
 * alternative, [U]*[L]+) or, backtracking [U]*, the last character of the
 * run that can be [L]+ alone. Returns the first alternative's end, 0 if it
 * fails; then the second alternative, [U]+[L]*, matches up to *u_end if
 * that is past q (the [L]* part is empty, or the first would have matched). */
static HOT_INLINE size_t o200k_word(const uint8_t *s, size_t q, size_t b, size_t *u_end) {
    size_t last_low = 0;
    for (;;) {
        ch d = at(s, q, b);
        if (!(d.cls & UPPERISH)) {
            *u_end = q;
            if (d.cls & LOWERISH) return run(s, q + d.len, b, LOWERISH);
            return last_low;
        }
        q += d.len;
        if (d.cls & LOWERISH) last_low = q;
    }
}

static inline int ascii_upper(uint8_t c) { return c >= 'A' && c <= 'Z'; }
static inline int ascii_lower(uint8_t c) { return c >= 'a' && c <= 'z'; }

static HOT_INLINE fm_match m_o200k(const uint8_t *s, size_t a, size_t b, size_t p) {
    (void)a;
    /* ASCII words: [A-Z]*[a-z]+ or [A-Z]+, after an optional prefix, when
     * nothing non-ASCII could extend them; anything else takes the
     * general path below. */
    if (s[p] < 0x80) {
        const uint8_t c0 = s[p];
        size_t w = p;
        if (!ascii_upper(c0) && !ascii_lower(c0) && c0 != '\r' && c0 != '\n' && !(c0 >= '0' && c0 <= '9')) w = p + 1;
        if (w < b && (ascii_upper(s[w]) || ascii_lower(s[w]))) {
            const size_t u = ascii_run(s, w, b, 'A', 0), l = ascii_run(s, u, b, 'a', 0);
            if (l >= b || s[l] < 0x80) {
                const size_t e = l > u ? l : u;
                return hit(e + contraction(s, e, b, 1, 1) - p);
            }
        } else if (w == p || w >= b || s[w] < 0x80) {
            /* a digit, \r or \n (no prefix, no letter), or another ASCII
             * non-letter followed by one or by the end: neither letter
             * alternative can match */
            return shared_tail(s, b, p, at(s, p, b), 3, 1);
        }
    }
    /* The alternatives in the regex's order: the first with the prefix,
     * without it, the second with it, without it. A prefix character is
     * no letter, so without it the word starts with c itself: that can
     * only match where c is a mark (both [U] and [L]), and then the first
     * alternative matches c alone (its [U]* backtracks to nothing, as
     * with the prefix nothing after c could be [L]). */
    ch c = at(s, p, b);
    const int can_prefix = c.cls && c.cp != '\r' && c.cp != '\n' && !(c.cls & (FM_UC_L | FM_UC_N));
    size_t e, u_end;
    if (can_prefix) {
        const size_t q = p + c.len;
        e = o200k_word(s, q, b, &u_end);
        if (e == 0 && (c.cls & FM_UC_M)) e = q;
        if (e == 0 && u_end > q) e = u_end;
    } else {
        e = o200k_word(s, p, b, &u_end);
        if (e == 0 && u_end > p) e = u_end;
    }
    if (e != 0) return hit(e + contraction(s, e, b, 1, 1) - p);
    return shared_tail(s, b, p, c, 3, 1);
}

/* ---- llama.cpp's regex stages for the other GGUF families ---------------- */

/* ASCII punctuation per Unicode (!"#%&'()*,-./:;?@[\]_{}) plus the symbols
 * the two regexes list */
static int ascii_punct(uint8_t c, int backtick) {
    if (fm_uc_ascii_class[c] & FM_UC_P) return 1;
    switch (c) {
    case '$': case '+': case '<': case '=': case '>': case '^': case '~': case '|': return 1;
    case '`': return backtick;
    default: return 0;
    }
}

static int is_punct_falcon(const uint8_t *s, size_t p, size_t b) {
    return s[p] < 0x80 ? ascii_punct(s[p], 1) : (at(s, p, b).cls & FM_UC_P) != 0;
}

static int is_punct_default(const uint8_t *s, size_t p, size_t b) {
    return s[p] < 0x80 ? ascii_punct(s[p], 0) : (at(s, p, b).cls & FM_UC_P) != 0;
}

/* X+ for a character test X; `ascii` is X on ASCII bytes (no call there) */
static fm_match run_of(const uint8_t *s, size_t b, size_t p, int (*is)(const uint8_t *, size_t, size_t),
                       const uint8_t *ascii) {
    size_t q = p;
    for (;;) {
        while (q < b && s[q] < 0x80 && ascii[s[q]]) q++;
        if (q >= b || s[q] < 0x80 || !is(s, q, b)) break;
        q += at(s, q, b).len;
    }
    return q > p ? hit(q - p) : miss_until(s, p, b, is);
}

/* ASCII punctuation per Unicode (P*), and the symbols the regexes add */
#define ASCII_P(c)                                                                                                  \
    ((c) == '!' || (c) == '"' || (c) == '#' || (c) == '%' || (c) == '&' || (c) == '\'' || (c) == '(' ||              \
     (c) == ')' || (c) == '*' || (c) == ',' || (c) == '-' || (c) == '.' || (c) == '/' || (c) == ':' || (c) == ';' || \
     (c) == '?' || (c) == '@' || (c) == '[' || (c) == '\\' || (c) == ']' || (c) == '_' || (c) == '{' || (c) == '}')
#define PUNCT_DEFAULT(c)                                                                                            \
    (ASCII_P(c) || (c) == '$' || (c) == '+' || (c) == '<' || (c) == '=' || (c) == '>' || (c) == '^' || (c) == '~' || \
     (c) == '|')
#define PUNCT_FALCON(c) (PUNCT_DEFAULT(c) || (c) == '`')
#define NONE(c) (0 * (c)) /* m_cjk: no ASCII character is in its class */
static const uint8_t punct_default_ascii[256] = BYTE_TABLE(PUNCT_DEFAULT);
static const uint8_t punct_falcon_ascii[256] = BYTE_TABLE(PUNCT_FALCON);
static const uint8_t none_ascii[256] = BYTE_TABLE(NONE);

/* [\p{P}\$\+<=>\^~\|`]+ (falcon) */
static fm_match m_punct_falcon(const uint8_t *s, size_t a, size_t b, size_t p) {
    (void)a;
    return run_of(s, b, p, is_punct_falcon, punct_falcon_ascii);
}

/* [\p{P}\$\+<=>\^~\|]+ (gpt-neox and llama.cpp's default) */
static fm_match m_punct_default(const uint8_t *s, size_t a, size_t b, size_t p) {
    (void)a;
    return run_of(s, b, p, is_punct_default, punct_default_ascii);
}


/* [0-9][0-9][0-9] */
static fm_match m_3digits(const uint8_t *s, size_t a, size_t b, size_t p) {
    (void)a;
    if (p + 3 <= b && s[p] >= '0' && s[p] <= '9' && s[p + 1] >= '0' && s[p + 1] <= '9' && s[p + 2] >= '0' &&
        s[p + 2] <= '9')
        return hit(3);
    size_t q = p + 1;
    while (q < b && (s[q] < '0' || s[q] > '9')) q++; /* a digit byte never continues a character */
    return miss(q - p);
}

/* \p{N}+ */
static fm_match m_digits(const uint8_t *s, size_t a, size_t b, size_t p) {
    (void)a;
    size_t q = run(s, p, b, FM_UC_N);
    return q > p ? hit(q - p) : skip_to(s, p, b, FM_UC_N);
}

/* \p{N} */
static fm_match m_digit(const uint8_t *s, size_t a, size_t b, size_t p) {
    (void)a;
    ch c = at(s, p, b);
    return (c.cls & FM_UC_N) ? hit(c.len) : skip_to(s, p, b, FM_UC_N);
}

/* [\r\n] */
static fm_match m_newline(const uint8_t *s, size_t a, size_t b, size_t p) {
    (void)a;
    if (s[p] == '\r' || s[p] == '\n') return hit(1);
    size_t q = p + 1;
    while (q < b && s[q] != '\r' && s[q] != '\n') q++; /* both are ASCII: no decoding needed */
    return miss(q - p);
}

/* \s?X+ for a class test X. On a miss, skips to the next character that
 * is white space or X (only those can start a match). */
static fm_match opt_space_then(const uint8_t *s, size_t b, size_t p, int (*is)(ch), const uint8_t *ascii) {
    ch c = at(s, p, b);
    size_t q = p;
    if ((c.cls & FM_UC_WS) && !is(c)) {
        ch nx = at(s, p + c.len, b);
        if (!is(nx)) return miss(c.len);
        q = p + c.len;
    } else if (!is(c)) {
        size_t r = p + c.len;
        while (r < b) {
            if (s[r] < 0x80) { /* ASCII by table */
                if ((fm_uc_ascii_class[s[r]] & FM_UC_WS) || ascii[s[r]]) break;
                r++;
                continue;
            }
            c = at(s, r, b);
            if ((c.cls & FM_UC_WS) || is(c)) break;
            r += c.len;
        }
        return miss(r - p);
    }
    for (;;) {
        while (q < b && s[q] < 0x80 && ascii[s[q]]) q++;
        if (q >= b || s[q] < 0x80) break;
        ch d = at(s, q, b);
        if (!is(d)) break;
        q += d.len;
    }
    return hit(q - p);
}


/* \s?X+ where X is a class mask: the common case of opt_space_then, with
 * ASCII runs scanned by table. */
static fm_match opt_space_then_mask(const uint8_t *s, size_t b, size_t p, uint16_t mask) {
    ch c = at(s, p, b);
    size_t q = p;
    if ((c.cls & FM_UC_WS) && !(c.cls & mask)) {
        ch nx = at(s, p + c.len, b);
        if (!(nx.cls & mask)) return miss(c.len);
        q = p + c.len;
    } else if (!(c.cls & mask)) {
        size_t r = run_not(s, p, b, (uint16_t)(mask | FM_UC_WS));
        return miss(r > p ? r - p : c.len);
    }
    return hit(run(s, q, b, mask) - p);
}

/* \s?\p{L}+ and \s?\p{P}+ (deepseek-coder) */
static fm_match m_space_letters(const uint8_t *s, size_t a, size_t b, size_t p) {
    (void)a;
    return opt_space_then_mask(s, b, p, FM_UC_L);
}

static fm_match m_space_punct(const uint8_t *s, size_t a, size_t b, size_t p) {
    (void)a;
    return opt_space_then_mask(s, b, p, FM_UC_P);
}

typedef struct cp_range {
    uint32_t lo, hi;
} cp_range;

static int in_ranges(uint32_t cp, const cp_range *r, size_t n) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < r[mid].lo) hi = mid;
        else if (cp > r[mid].hi) lo = mid + 1;
        else return 1;
    }
    return 0;
}

/* llama.cpp runs regexes without \p{..} over code points in which every
 * non-ASCII White_Space character reads as U+000B; a class like
 * [　-。] therefore never matches U+3000. */
static uint32_t wregex_cp(ch c) { return (c.cp > 0x7F && (c.cls & FM_UC_WS)) ? 0x0B : c.cp; }

/* [一-龥ࠀ-一가-퟿]+ (deepseek) */
static const cp_range cjk_hangul[] = {{0x0800, 0x4E00}, {0x4E00, 0x9FA5}, {0xAC00, 0xD7FF}};

static int is_cjk(const uint8_t *s, size_t p, size_t b) {
    if (s[p] < 0xE0) return 0; /* everything in the class takes 3 bytes */
    ch c = at(s, p, b);
    return c.len && in_ranges(wregex_cp(c), cjk_hangul, 3);
}

static fm_match m_cjk(const uint8_t *s, size_t a, size_t b, size_t p) {
    (void)a;
    return run_of(s, b, p, is_cjk, none_ascii);
}

/* deepseek-llm's explicit Latin/Greek/Cyrillic/... letter class */
static const cp_range ds_letters[] = {
    {0x41, 0x5A}, {0x61, 0x7A}, {0xB5, 0xB5}, {0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x1BA}, {0x1BC, 0x1BF},
    {0x1C4, 0x293}, {0x295, 0x2AF}, {0x370, 0x373}, {0x376, 0x377}, {0x37B, 0x37D}, {0x37F, 0x37F},
    {0x386, 0x386}, {0x388, 0x38A}, {0x38C, 0x38C}, {0x38E, 0x3A1}, {0x3A3, 0x3F5}, {0x3F7, 0x481},
    {0x48A, 0x52F}, {0x531, 0x556}, {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD}, {0x1C90, 0x1CBA},
    {0x1CBD, 0x1CBF}, {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15}, {0x1F18, 0x1F1D},
    {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B}, {0x1F5D, 0x1F5D},
    {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE}, {0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC},
    {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC}, {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC}, {0x2102, 0x2102},
    {0x2107, 0x2107}, {0x210A, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124}, {0x2126, 0x2126},
    {0x2128, 0x2128}, {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F}, {0x2145, 0x2149},
    {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE}, {0x2CF2, 0x2CF3},
    {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787}, {0xA78B, 0xA78E}, {0xAB70, 0xABBF},
    {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A}, {0x10400, 0x1044F},
    {0x104B0, 0x104D3}, {0x104D8, 0x104FB}, {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF},
    {0x1E900, 0x1E943},
};

/* [!-/:-~！-／：-～‘-‟　-。] */
static const cp_range ds_punct[] = {{0x21, 0x2F}, {0x3A, 0x7E},     {0x2018, 0x201F},
                                    {0x3000, 0x3002}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E}};

#define DS_LETTER(c) IS_ALPHA(c)
#define DS_PUNCT(c) (((c) >= 0x21 && (c) <= 0x2F) || ((c) >= 0x3A && (c) <= 0x7E))
static const uint8_t ds_letter_ascii[256] = BYTE_TABLE(DS_LETTER);
static const uint8_t ds_punct_ascii[256] = BYTE_TABLE(DS_PUNCT);

/* The two classes over the BMP as bits (1: letter, 2: punctuation), after
 * the White_Space mapping: a binary search over 85 ranges per character
 * was a fifth of deepseek-llm's time on multilingual text. */
static uint8_t ds_bmp[0x10000];
static pthread_once_t ds_once = PTHREAD_ONCE_INIT;

static void ds_fill(void) {
    for (uint32_t cp = 0; cp < 0x10000; cp++) {
        const ch c = {cp, fm_uc_class(cp), 1};
        const uint32_t w = wregex_cp(c);
        ds_bmp[cp] = (uint8_t)(in_ranges(w, ds_letters, sizeof ds_letters / sizeof ds_letters[0]) |
                               in_ranges(w, ds_punct, sizeof ds_punct / sizeof ds_punct[0]) << 1);
    }
}

static int is_ds_letter(ch c) {
    if (c.cp < 0x10000) return c.len && (ds_bmp[c.cp] & 1);
    return c.len && in_ranges(wregex_cp(c), ds_letters, sizeof ds_letters / sizeof ds_letters[0]);
}

static int is_ds_punct(ch c) {
    if (c.cp < 0x10000) return c.len && (ds_bmp[c.cp] & 2);
    return c.len && in_ranges(wregex_cp(c), ds_punct, sizeof ds_punct / sizeof ds_punct[0]);
}

/* \s?[letters]+ and \s?[punct]+ (deepseek-llm) */
static fm_match m_ds_letters(const uint8_t *s, size_t a, size_t b, size_t p) {
    (void)a;
    return opt_space_then(s, b, p, is_ds_letter, ds_letter_ascii);
}

static fm_match m_ds_punct(const uint8_t *s, size_t a, size_t b, size_t p) {
    (void)a;
    return opt_space_then(s, b, p, is_ds_punct, ds_punct_ascii);
}

/* \s+$ : a whitespace run that reaches the end of the piece */
static fm_match m_trailing_space(const uint8_t *s, size_t a, size_t b, size_t p) {
    (void)a;
    ch c = at(s, p, b);
    if (!(c.cls & FM_UC_WS)) return skip_to(s, p, b, FM_UC_WS);
    size_t last, e = ws_run(s, p, b, &last, NULL);
    return e == b ? hit(e - p) : miss(e - p); /* no start inside this run can reach the end either */
}

/* A match of \s?[letters]+ (deepseek-llm's second stage) or \s?\p{L}+
 * (deepseek-coder's) made of ASCII letters after at most one ASCII space
 * character: the later stages leave it whole (deepseek-llm's [!-/:-~]
 * takes it all, deepseek-coder's \s?\p{P}+ finds nothing; it ends in no
 * space, holds no CJK and no digit). Most words of English text and code. */
static int ds_ascii_word(const uint8_t *s, size_t a, size_t b) {
    if (s[a] == ' ' || (s[a] >= 0x09 && s[a] <= 0x0D)) a++;
    for (size_t i = a; i < b; i++)
        if (!IS_ALPHA(s[i])) return 0;
    return 1;
}

/* A piece without a byte that can start a number (ASCII digits, any
 * non-ASCII character): the digit stages after the GPT-2 stage of the
 * default (gpt-neox) family leave it whole; falcon's [0-9]{3} stage
 * needs only no ASCII digit. */
static int no_number(const uint8_t *s, size_t a, size_t b) {
    for (size_t i = a; i < b; i++)
        if (IS_DIGIT(s[i]) || s[i] >= 0x80) return 0;
    return 1;
}

static int no_digit(const uint8_t *s, size_t a, size_t b) {
    for (size_t i = a; i < b; i++)
        if (IS_DIGIT(s[i])) return 0;
    return 1;
}

/* ---- where a stage's match can start ---------------------------------------
 * Supersets are safe (they only cost a call that misses), so each table is a
 * simple byte test. Non-ASCII characters are found by their lead byte
 * (>= 0xC0): a byte 0x80..0xBF never starts a character. */

/* every ASCII punctuation or symbol character, and any non-ASCII one */
#define START_PUNCT(c) (((c) > 0x20 && (c) < 0x7F && !IS_DIGIT(c) && !IS_ALPHA(c)) || IS_LEAD(c))
#define START_NUMBER(c) (IS_DIGIT(c) || IS_LEAD(c))
#define START_NEWLINE(c) ((c) == '\r' || (c) == '\n')
#define START_CJK(c) ((c) >= 0xE0)
/* ASCII control/space characters (a superset of ASCII White_Space), any non-ASCII */
#define START_SPACE(c) (((c) >= 0x09 && (c) <= 0x0D) || ((c) >= 0x1C && (c) <= 0x20) || IS_LEAD(c))

static const uint8_t starts_punct[256] = BYTE_TABLE(START_PUNCT);
static const uint8_t starts_number[256] = BYTE_TABLE(START_NUMBER);
static const uint8_t starts_digit[256] = BYTE_TABLE(IS_DIGIT);
static const uint8_t starts_newline[256] = BYTE_TABLE(START_NEWLINE);
static const uint8_t starts_cjk[256] = BYTE_TABLE(START_CJK);
static const uint8_t starts_space[256] = BYTE_TABLE(START_SPACE);

/* ---- families --------------------------------------------------------- */

static const fm_pretok families[] = {
    {"gpt-2", 0, 1, {m_gpt2}, {NULL}, {NULL}},
    {"r50k_base", 1, 1, {m_gpt2}, {NULL}, {NULL}},
    {"p50k_base", 1, 1, {m_gpt2}, {NULL}, {NULL}},
    {"mpt", 0, 1, {m_gpt2}, {NULL}, {NULL}},
    {"olmo", 0, 1, {m_gpt2}, {NULL}, {NULL}},
    {"jais", 0, 1, {m_gpt2}, {NULL}, {NULL}},
    {"phi-2", 0, 1, {m_gpt2}, {NULL}, {NULL}},
    {"roberta-bpe", 0, 1, {m_gpt2}, {NULL}, {NULL}},
    {"cl100k_base", 1, 1, {m_cl100k}, {NULL}, {NULL}},
    {"llama-bpe", 1, 1, {m_llama3}, {NULL}, {NULL}},
    {"llama3", 1, 1, {m_llama3}, {NULL}, {NULL}},
    {"llama-v3", 1, 1, {m_llama3}, {NULL}, {NULL}},
    {"falcon3", 1, 1, {m_llama3}, {NULL}, {NULL}},
    {"dbrx", 0, 1, {m_llama3}, {NULL}, {NULL}},
    {"smaug-bpe", 0, 1, {m_llama3}, {NULL}, {NULL}},
    {"chatglm-bpe", 0, 1, {m_llama3}, {NULL}, {NULL}},
    {"qwen2", 0, 1, {m_qwen2}, {NULL}, {NULL}},
    {"deepseek-r1-qwen", 0, 1, {m_qwen2}, {NULL}, {NULL}},
    {"stablelm2", 0, 1, {m_qwen2}, {NULL}, {NULL}},
    {"megrez", 0, 1, {m_qwen2}, {NULL}, {NULL}},
    {"o200k_base", 1, 1, {m_o200k}, {NULL}, {NULL}},
    {"falcon", 0, 3, {m_punct_falcon, m_gpt2, m_3digits}, {starts_punct, NULL, starts_digit}, {NULL, no_digit}},
    {"default", 0, 4, {m_punct_default, m_gpt2, m_digits, m_3digits},
     {starts_punct, NULL, starts_number, starts_digit}, {NULL, no_number}},
    {"starcoder", 0, 2, {m_digit, m_gpt2}, {starts_number, NULL}, {NULL}},
    {"refact", 0, 2, {m_digit, m_gpt2}, {starts_number, NULL}, {NULL}},
    {"command-r", 0, 2, {m_digit, m_gpt2}, {starts_number, NULL}, {NULL}},
    {"smollm", 0, 2, {m_digit, m_gpt2}, {starts_number, NULL}, {NULL}},
    {"codeshell", 0, 2, {m_digit, m_gpt2}, {starts_number, NULL}, {NULL}},
    {"exaone", 0, 2, {m_digit, m_gpt2}, {starts_number, NULL}, {NULL}},
    {"minerva-7b", 0, 2, {m_digit, m_gpt2}, {starts_number, NULL}, {NULL}},
    {"deepseek-coder", 0, 5, {m_newline, m_space_letters, m_space_punct, m_cjk, m_digit},
     {starts_newline, NULL, NULL, starts_cjk, starts_number}, {NULL, ds_ascii_word}},
    {"deepseek-llm", 0, 6, {m_newline, m_ds_letters, m_ds_punct, m_trailing_space, m_cjk, m_digits},
     {starts_newline, NULL, NULL, starts_space, starts_cjk, starts_number}, {NULL, ds_ascii_word}},
};

const fm_pretok *fm_pretok_find(const char *name, size_t len) {
    fm_uc_init(); /* at() reads the class table directly */
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        if (strlen(families[i].name) != len || memcmp(families[i].name, name, len) != 0) continue;
        if (families[i].stages[1] == m_ds_letters) pthread_once(&ds_once, ds_fill);
        return &families[i];
    }
    return NULL;
}

/* Applies stage k to [a, b) and recurses into the next stage for every
 * piece it produces. The depth is the stage count, at most 6. */
static int split(const fm_pretok *pt, int k, const uint8_t *s, size_t a, size_t b, fm_piece_fn fn, void *user) {
    if (k == pt->n_stages) return fn(user, a, b - a);
    const uint8_t *starts = pt->starts[k];
    size_t p = a, gap = a;
    while (p < b) {
        if (starts != NULL) {
            while (p < b && !starts[s[p]]) p++;
            if (p == b) break;
        }
        fm_match m = pt->stages[k](s, a, b, p);
        if (m.len == 0) {
            p += m.skip;
            continue;
        }
        if (p > gap && !split(pt, k + 1, s, gap, p, fn, user)) return 0;
        if (pt->final[k] != NULL && pt->final[k](s, p, p + m.len)) {
            if (!fn(user, p, m.len)) return 0;
        } else if (!split(pt, k + 1, s, p, p + m.len, fn, user)) {
            return 0;
        }
        p += m.len;
        gap = p;
    }
    if (gap < b) return split(pt, k + 1, s, gap, b, fn, user);
    return 1;
}

/* split() for a single-regex family, with its matcher called directly so
 * that it can be inlined into the loop: most text is cut by these. */
#define SPLIT_ONE(name, matcher)                                                                                    \
    static int name(const uint8_t *s, size_t n, fm_piece_fn fn, void *user) {                                       \
        size_t p = 0, gap = 0;                                                                                      \
        while (p < n) {                                                                                             \
            fm_match m = matcher(s, 0, n, p);                                                                       \
            if (m.len == 0) {                                                                                       \
                p += m.skip;                                                                                        \
                continue;                                                                                           \
            }                                                                                                       \
            if (p > gap && !fn(user, gap, p - gap)) return 0;                                                       \
            if (!fn(user, p, m.len)) return 0;                                                                      \
            p += m.len;                                                                                             \
            gap = p;                                                                                                \
        }                                                                                                           \
        return gap < n ? fn(user, gap, n - gap) : 1;                                                                \
    }

SPLIT_ONE(split_gpt2, m_gpt2)
SPLIT_ONE(split_cl100k, m_cl100k)
SPLIT_ONE(split_llama3, m_llama3)
SPLIT_ONE(split_qwen2, m_qwen2)
SPLIT_ONE(split_o200k, m_o200k)

int fm_pretok_split(const fm_pretok *pt, const uint8_t *s, size_t n, fm_piece_fn fn, void *user) {
    if (n == 0) return 1;
    if (pt->n_stages == 1) {
        const fm_pretok_stage stage = pt->stages[0];
        if (stage == m_gpt2) return split_gpt2(s, n, fn, user);
        if (stage == m_cl100k) return split_cl100k(s, n, fn, user);
        if (stage == m_llama3) return split_llama3(s, n, fn, user);
        if (stage == m_qwen2) return split_qwen2(s, n, fn, user);
        if (stage == m_o200k) return split_o200k(s, n, fn, user);
    }
    return split(pt, 0, s, 0, n, fn, user);
}
