/* JSON Schema to grammar. Every schema becomes a symbol for "a JSON value
 * that validates": types and their keywords map to rules, strings with a
 * pattern, a format or length bounds to automata (regex.h), integer and
 * number bounds to exact digit-range expressions, allOf to a merged
 * schema, anyOf / oneOf to alternatives (oneOf as anyOf: an instance that
 * matches two branches is accepted), $ref to a rule per target (so
 * recursion works). Objects list their properties in the schema's order,
 * the optional ones optional. A validation keyword this compiler cannot
 * enforce is an error naming it and its JSON pointer: nothing is silently
 * dropped in a way that would accept an invalid instance. Annotations and
 * keys that are no JSON Schema keyword are ignored, as the specification
 * says.
 *
 * Documents are read with jansson (docs/grammars.md says why). */
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/grow.h"
#include "regex.h"

#define BAD 0xFFFFFFFFu
#define MAX_DEPTH 64
#define FM_JSON_MAX_WS 20 /* whitespace characters between two tokens */
#define FM_JSON_MAX_COUNT (1 << 17) /* largest minLength/maxLength/minItems/maxItems */

typedef struct refmap {
    char **ptr;
    uint32_t *sym;
    size_t n, cap;
} refmap;

typedef struct jc {
    fm_gbuild *b;
    json_t *root;
    uint32_t flags;
    char path[1024]; /* JSON pointer of the schema being compiled */
    size_t plen;
    refmap refs;
    uint32_t ws, any_value, any_string, any_number, any_int; /* shared rules, BAD until made */
    fm_status st;
    int depth;
    json_t *merged; /* schemas made by allOf merges, kept alive until the end */
} jc;

static void failf(jc *c, fm_status st, const char *fmt, ...) FM_PRINTF(3, 4);
static void failf(jc *c, fm_status st, const char *fmt, ...) {
    if (c->st) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->st = fm_error(st, "JSON Schema at '%s': %s", c->plen ? c->path : "#", msg);
}

static void oom(jc *c) { failf(c, FM_STATUS_NO_MEMORY, "out of memory"); }

/* The JSON pointer grows and shrinks with the descent. */
static size_t path_push(jc *c, const char *seg) {
    const size_t old = c->plen;
    if (c->plen + 1 < sizeof c->path) c->path[c->plen++] = '/';
    for (const char *p = seg; *p && c->plen + 2 < sizeof c->path; p++) {
        if (*p == '~') c->path[c->plen++] = '~', c->path[c->plen++] = '0';
        else if (*p == '/') c->path[c->plen++] = '~', c->path[c->plen++] = '1';
        else c->path[c->plen++] = *p;
    }
    c->path[c->plen] = 0;
    return old;
}
static size_t path_push_i(jc *c, size_t i) {
    char b[24];
    snprintf(b, sizeof b, "%zu", i);
    return path_push(c, b);
}
static void path_pop(jc *c, size_t old) {
    c->plen = old;
    c->path[old] = 0;
}

/* --- small grammar pieces ------------------------------------------------- */

static uint32_t lit(jc *c, const char *s, size_t n) {
    if (c->st) return BAD;
    const int32_t h = fm_gbuild_helper(c->b);
    uint32_t *syms = fm_malloc((n ? n : 1) * sizeof *syms);
    if (h < 0 || syms == NULL) return free(syms), oom(c), BAD;
    for (size_t i = 0; i < n; i++) {
        fm_byteset set = {{0, 0, 0, 0}};
        fm_byteset_add_range(&set, (uint8_t)s[i], (uint8_t)s[i]);
        syms[i] = fm_gbuild_term(c->b, &set);
    }
    fm_status st = fm_gbuild_prod(c->b, h, syms, n);
    free(syms);
    if (st) return c->st = st, BAD;
    return FM_GS_MAKE(FM_GS_NT, h);
}

static uint32_t lits(jc *c, const char *s) { return lit(c, s, strlen(s)); }

/* A helper rule with the given productions (each a symbol list ending in BAD). */
static uint32_t seq(jc *c, const uint32_t *syms, size_t n) {
    if (c->st) return BAD;
    for (size_t i = 0; i < n; i++)
        if (syms[i] == BAD) return BAD;
    const int32_t h = fm_gbuild_helper(c->b);
    if (h < 0) return oom(c), BAD;
    fm_status st = fm_gbuild_prod(c->b, h, syms, n);
    if (st) return c->st = st, BAD;
    return FM_GS_MAKE(FM_GS_NT, h);
}

static int32_t new_alt(jc *c) {
    const int32_t h = fm_gbuild_helper(c->b);
    if (h < 0) oom(c);
    return h;
}

static void alt_add(jc *c, int32_t h, uint32_t sym) {
    if (c->st || h < 0 || sym == BAD) return;
    fm_status st = fm_gbuild_prod(c->b, h, &sym, 1);
    if (st) c->st = st;
}

static uint32_t alt_sym(jc *c, int32_t h) { return c->st || h < 0 ? BAD : FM_GS_MAKE(FM_GS_NT, h); }

static uint32_t regex_sym(jc *c, const char *re, int search, uint32_t min_len, uint32_t max_len, fm_char_encoding enc) {
    if (c->st) return BAD;
    fm_nfa nfa;
    fm_status st = fm_regex_to_nfa(re, strlen(re), search, c->plen ? c->path : "#", &nfa);
    uint32_t sym = BAD;
    if (!st) st = fm_nfa_emit(c->b, &nfa, min_len, max_len, enc, c->plen ? c->path : "#", &sym);
    fm_nfa_free(&nfa);
    if (st == FM_STATUS_NOT_FOUND) st = FM_STATUS_INVALID_ARGUMENT; /* the message stays */
    if (st) c->st = st;
    return st ? BAD : sym;
}

static uint32_t ws(jc *c) {
    if (c->ws == BAD && !c->st) {
        if (c->flags & FM_JSON_COMPACT) {
            c->ws = seq(c, NULL, 0);
        } else {
            /* bounded: enough for any pretty-printing, and a model cannot
             * spend its whole budget on blanks; a DFA terminal, so a mask
             * does not push an indentation token's blanks one by one */
            char re[32];
            snprintf(re, sizeof re, "[\\t\\n\\r ]{0,%d}", FM_JSON_MAX_WS);
            c->ws = regex_sym(c, re, 0, 0, UINT32_MAX, FM_ENC_UTF8);
        }
    }
    return c->ws;
}

/* a JSON string as any JSON allows it (every escape), one DFA terminal */
static uint32_t any_string(jc *c) {
    if (c->any_string == BAD && !c->st)
        c->any_string = regex_sym(c, "\"([^\"\\\\\\x00-\\x1F]|\\\\([\"\\\\/bfnrt]|u[0-9a-fA-F]{4}))*\"", 0, 0,
                                  UINT32_MAX, FM_ENC_UTF8);
    return c->any_string;
}

static uint32_t any_number(jc *c, int integer) {
    uint32_t *slot = integer ? &c->any_int : &c->any_number;
    if (*slot == BAD && !c->st)
        *slot = regex_sym(c, integer ? "-?(0|[1-9][0-9]*)" : "-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][-+]?[0-9]+)?", 0, 0,
                          UINT32_MAX, FM_ENC_UTF8);
    return *slot;
}

static uint32_t any_value(jc *c);

/* "[" ws (item ("," ws item)*)? "]" and "{" ... "}" over any values */
static uint32_t any_value(jc *c) {
    if (c->any_value != BAD || c->st) return c->any_value;
    const int32_t v = new_alt(c);
    c->any_value = alt_sym(c, v); /* set first: the containers refer to it */
    const uint32_t W = ws(c), V = c->any_value;
    const uint32_t item[] = {V, W};
    const uint32_t it = seq(c, item, 2);
    const uint32_t more[] = {lits(c, ","), W, it};
    const uint32_t rest = c->st ? BAD : fm_gbuild_repeat(c->b, seq(c, more, 3), 0, UINT32_MAX);
    const uint32_t items[] = {it, rest};
    const uint32_t opt_items = c->st ? BAD : fm_gbuild_repeat(c->b, seq(c, items, 2), 0, 1);
    const uint32_t arr[] = {lits(c, "["), W, opt_items, lits(c, "]")};
    const uint32_t kv[] = {any_string(c), W, lits(c, ":"), W, V, W};
    const uint32_t k = seq(c, kv, 6);
    const uint32_t morek[] = {lits(c, ","), W, k};
    const uint32_t restk = c->st ? BAD : fm_gbuild_repeat(c->b, seq(c, morek, 3), 0, UINT32_MAX);
    const uint32_t kvs[] = {k, restk};
    const uint32_t opt_kvs = c->st ? BAD : fm_gbuild_repeat(c->b, seq(c, kvs, 2), 0, 1);
    const uint32_t obj[] = {lits(c, "{"), W, opt_kvs, lits(c, "}")};
    alt_add(c, v, seq(c, obj, 4));
    alt_add(c, v, seq(c, arr, 4));
    alt_add(c, v, any_string(c));
    alt_add(c, v, any_number(c, 0));
    alt_add(c, v, lits(c, "true"));
    alt_add(c, v, lits(c, "false"));
    alt_add(c, v, lits(c, "null"));
    return c->any_value;
}

/* --- literal JSON values (enum, const) --------------------------------------- */

/* Appends s as the canonical JSON string text (json.dumps, ensure_ascii off). */
static int json_quote(char **buf, size_t *n, size_t *cap, const char *s, size_t len) {
    char *b = fm_grow(*buf, cap, *n + 6 * len + 3, 1, 64);
    if (b == NULL) return 0;
    *buf = b;
    b[(*n)++] = '"';
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        const unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') b[(*n)++] = '\\', b[(*n)++] = (char)ch;
        else if (ch == '\n') b[(*n)++] = '\\', b[(*n)++] = 'n';
        else if (ch == '\r') b[(*n)++] = '\\', b[(*n)++] = 'r';
        else if (ch == '\t') b[(*n)++] = '\\', b[(*n)++] = 't';
        else if (ch == '\b') b[(*n)++] = '\\', b[(*n)++] = 'b';
        else if (ch == '\f') b[(*n)++] = '\\', b[(*n)++] = 'f';
        else if (ch < 0x20) {
            b[(*n)++] = '\\', b[(*n)++] = 'u', b[(*n)++] = '0', b[(*n)++] = '0';
            b[(*n)++] = hex[ch >> 4], b[(*n)++] = hex[ch & 15];
        } else b[(*n)++] = (char)ch;
    }
    b[(*n)++] = '"';
    return 1;
}

/* The shortest decimal that reads back as d (Python's repr does the same). */
static void real_text(double d, char *out, size_t size) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, size, "%.*g", prec, d);
        if (strtod(out, NULL) == d) break;
    }
    if (!strpbrk(out, ".eEn")) strncat(out, ".0", size - strlen(out) - 1); /* 1.0 stays a float's text */
}

static uint32_t value_literal(jc *c, const json_t *v) {
    if (c->st) return BAD;
    switch (json_typeof(v)) {
    case JSON_NULL: return lits(c, "null");
    case JSON_TRUE: return lits(c, "true");
    case JSON_FALSE: return lits(c, "false");
    case JSON_INTEGER: {
        char t[32];
        snprintf(t, sizeof t, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        /* 1 and 1.0 are the same number: accept both spellings */
        char t2[40];
        snprintf(t2, sizeof t2, "%s.0", t);
        const int32_t h = new_alt(c);
        alt_add(c, h, lits(c, t));
        alt_add(c, h, lits(c, t2));
        return alt_sym(c, h);
    }
    case JSON_REAL: {
        char t[40];
        const double d = json_real_value(v);
        if (!isfinite(d)) return failf(c, FM_STATUS_INVALID_ARGUMENT, "a non-finite number"), BAD;
        real_text(d, t, sizeof t);
        const int32_t h = new_alt(c);
        alt_add(c, h, lits(c, t));
        if (d == floor(d) && fabs(d) < 1e15) { /* 2.0 may be written 2 */
            char i[32];
            snprintf(i, sizeof i, "%.0f", d);
            alt_add(c, h, lits(c, i));
        }
        return alt_sym(c, h);
    }
    case JSON_STRING: {
        char *buf = NULL;
        size_t n = 0, cap = 0;
        if (!json_quote(&buf, &n, &cap, json_string_value(v), json_string_length(v))) return oom(c), BAD;
        const uint32_t s = lit(c, buf, n);
        free(buf);
        return s;
    }
    case JSON_ARRAY: {
        const uint32_t W = ws(c);
        uint32_t syms[3] = {lits(c, "["), W, BAD};
        uint32_t acc = seq(c, syms, 2);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            const uint32_t parts[4] = {acc, i ? lits(c, ",") : seq(c, NULL, 0), i ? W : seq(c, NULL, 0),
                                       value_literal(c, x)};
            const uint32_t p2[3] = {seq(c, parts, 4), W, BAD};
            acc = seq(c, p2, 2);
        }
        const uint32_t end[2] = {acc, lits(c, "]")};
        return seq(c, end, 2);
    }
    case JSON_OBJECT: {
        const uint32_t W = ws(c);
        uint32_t start[2] = {lits(c, "{"), W};
        uint32_t acc = seq(c, start, 2);
        const char *k;
        json_t *x;
        size_t i = 0;
        json_object_foreach((json_t *)v, k, x) {
            char *buf = NULL;
            size_t n = 0, cap = 0;
            if (!json_quote(&buf, &n, &cap, k, strlen(k))) return oom(c), BAD;
            const uint32_t parts[8] = {acc, i ? lits(c, ",") : seq(c, NULL, 0), i ? W : seq(c, NULL, 0),
                                       lit(c, buf, n), W, lits(c, ":"), W, value_literal(c, x)};
            free(buf);
            const uint32_t p2[2] = {seq(c, parts, 8), W};
            acc = seq(c, p2, 2);
            i++;
        }
        const uint32_t end[2] = {acc, lits(c, "}")};
        return seq(c, end, 2);
    }
    }
    return BAD;
}

/* --- numbers with bounds --------------------------------------------------------- */

/* Appends to a regex buffer. */
typedef struct rbuf {
    char *s;
    size_t n, cap;
    int oom;
} rbuf;

static void rb_add(rbuf *r, const char *t) {
    const size_t l = strlen(t);
    char *s = fm_grow(r->s, &r->cap, r->n + l + 1, 1, 64);
    if (s == NULL) {
        r->oom = 1;
        return;
    }
    r->s = s;
    memcpy(s + r->n, t, l + 1);
    r->n += l;
}

/* Alternatives for the digit strings from a to b, both of length n. */
static void same_len(rbuf *r, const char *a, const char *b, size_t n, int *first) {
    size_t i = 0;
    while (i < n && a[i] == b[i]) i++;
    char t[32];
    if (i == n) {
        if (!*first) rb_add(r, "|");
        *first = 0;
        char lit[32];
        memcpy(lit, a, n);
        lit[n] = 0;
        rb_add(r, lit);
        return;
    }
    int tail_lo = 1, tail_hi = 1; /* a's rest all 0, b's rest all 9 */
    for (size_t k = i + 1; k < n; k++) tail_lo &= a[k] == '0', tail_hi &= b[k] == '9';
    char prefix[32];
    memcpy(prefix, a, i);
    prefix[i] = 0;
    const size_t rest = n - i - 1;
    if (tail_lo && tail_hi) {
        if (!*first) rb_add(r, "|");
        *first = 0;
        rb_add(r, prefix);
        snprintf(t, sizeof t, "[%c-%c]", a[i], b[i]);
        rb_add(r, t);
        if (rest) {
            snprintf(t, sizeof t, "[0-9]{%zu}", rest);
            rb_add(r, t);
        }
        return;
    }
    char a2[32], b2[32];
    /* a .. a[0..i] 99..9 */
    memcpy(b2, a, i + 1);
    memset(b2 + i + 1, '9', rest);
    same_len(r, a, b2, n, first);
    if (a[i] + 1 <= b[i] - 1) {
        if (!*first) rb_add(r, "|");
        *first = 0;
        rb_add(r, prefix);
        snprintf(t, sizeof t, "[%c-%c]", a[i] + 1, b[i] - 1);
        rb_add(r, t);
        if (rest) {
            snprintf(t, sizeof t, "[0-9]{%zu}", rest);
            rb_add(r, t);
        }
    }
    memcpy(a2, b, i + 1);
    memset(a2 + i + 1, '0', rest);
    same_len(r, a2, b, n, first);
}

/* Alternatives for the integers lo..hi (0 <= lo <= hi, hi < 0: unbounded),
 * written without sign or leading zeros. */
static void uint_range(rbuf *r, long long lo, long long hi, int *first) {
    char a[32], b[32];
    const int la = snprintf(a, sizeof a, "%lld", lo);
    const int lb = hi >= 0 ? snprintf(b, sizeof b, "%lld", hi) : 0;
    for (int d = la; hi < 0 ? d <= la : d <= lb; d++) {
        char x[32], y[32];
        if (d == la) memcpy(x, a, (size_t)la + 1);
        else {
            x[0] = '1';
            memset(x + 1, '0', (size_t)d - 1);
            x[d] = 0;
        }
        if (hi >= 0 && d == lb) memcpy(y, b, (size_t)lb + 1);
        else {
            memset(y, '9', (size_t)d);
            y[d] = 0;
        }
        same_len(r, x, y, (size_t)d, first);
    }
    if (hi < 0) { /* every longer number */
        char t[40];
        if (!*first) rb_add(r, "|");
        *first = 0;
        snprintf(t, sizeof t, "[1-9][0-9]{%d,}", la);
        rb_add(r, t);
    }
}

#define NO_BOUND LLONG_MIN

/* Non-negative numbers x (no sign) with lo (<) <= x <= (<) hi, bounds
 * integers or NO_BOUND (lo NO_BOUND means >= 0). With `fraction`, x may
 * have a decimal fraction (no exponent: bounds are checked on the digits). */
static void nonneg_range(rbuf *r, long long lo, int lo_ex, long long hi, int hi_ex, int fraction, int *first) {
    static const char *ANY = "(\\.[0-9]+)?", *ZERO = "(\\.0+)?", *NONZERO = "\\.[0-9]*[1-9][0-9]*";
    if (lo == NO_BOUND || lo < 0) lo = 0, lo_ex = 0;
    if (!fraction) { /* integers: exclusive bounds move by one */
        if (lo_ex) lo++;
        if (hi != NO_BOUND && hi_ex) hi--;
        if (hi != NO_BOUND && hi < lo) return;
        rb_add(r, *first ? "(" : "|(");
        *first = 0;
        int f = 1;
        uint_range(r, lo, hi == NO_BOUND ? -1 : hi, &f);
        rb_add(r, ")");
        return;
    }
    /* integer parts with any fraction: [lo + lo_ex, hi - 1]; the ends on their own */
    const long long a = lo + (lo_ex ? 1 : 0), b = hi == NO_BOUND ? -1 : hi - 1;
    if (hi == NO_BOUND || a <= b) {
        rb_add(r, *first ? "((" : "|((");
        *first = 0;
        int f = 1;
        uint_range(r, a, hi == NO_BOUND ? -1 : b, &f);
        rb_add(r, ")");
        rb_add(r, ANY);
        rb_add(r, ")");
    }
    char t[64];
    if (lo_ex && (hi == NO_BOUND || hi > lo)) { /* lo itself with a non-zero fraction */
        snprintf(t, sizeof t, "%s(%lld%s)", *first ? "" : "|", lo, NONZERO);
        rb_add(r, t);
        *first = 0;
    }
    if (hi != NO_BOUND && !hi_ex && hi >= lo && !(hi == lo && lo_ex)) { /* hi itself, fraction zero */
        snprintf(t, sizeof t, "%s(%lld%s)", *first ? "" : "|", hi, ZERO);
        rb_add(r, t);
        *first = 0;
    }
}

/* A bound from the schema: integral, or an error. */
static int bound(jc *c, const json_t *v, int integer, int is_min, long long *out) {
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        if (*out == LLONG_MIN) *out = LLONG_MIN + 1;
        return 1;
    }
    if (json_is_real(v)) {
        const double d = json_real_value(v);
        if (d != d || fabs(d) > 9e18) return failf(c, FM_STATUS_UNSUPPORTED, "bound %g is out of range", d), 0;
        if (integer) { /* for integers a fractional bound rounds inward */
            *out = (long long)(is_min ? ceil(d) : floor(d));
            return 2; /* inclusive after rounding */
        }
        if (d != floor(d))
            return failf(c, FM_STATUS_UNSUPPORTED, "a non-integral bound (%g) on a number is not supported", d), 0;
        *out = (long long)d;
        return 1;
    }
    return failf(c, FM_STATUS_INVALID_ARGUMENT, "a bound must be a number"), 0;
}

static uint32_t number_sym(jc *c, const json_t *s, int integer) {
    const json_t *mn = json_object_get(s, "minimum"), *mx = json_object_get(s, "maximum");
    const json_t *emn = json_object_get(s, "exclusiveMinimum"), *emx = json_object_get(s, "exclusiveMaximum");
    long long lo = NO_BOUND, hi = NO_BOUND;
    int lo_ex = 0, hi_ex = 0;
    int k;
    if (mn && !(k = bound(c, mn, integer, 1, &lo))) return BAD;
    if (mx && !(k = bound(c, mx, integer, 0, &hi))) return BAD;
    /* draft 4: booleans beside minimum/maximum; later drafts: numbers */
    if (emn) {
        if (json_is_boolean(emn)) lo_ex = json_is_true(emn) && mn && json_is_integer(mn);
        else {
            long long e;
            const int kk = bound(c, emn, integer, 1, &e);
            if (!kk) return BAD;
            if (lo == NO_BOUND || e >= lo) lo = e, lo_ex = kk == 1;
            if (kk == 2 && integer && json_real_value(emn) == (double)e) lo_ex = 1;
        }
    }
    if (emx) {
        if (json_is_boolean(emx)) hi_ex = json_is_true(emx) && mx && json_is_integer(mx);
        else {
            long long e;
            const int kk = bound(c, emx, integer, 0, &e);
            if (!kk) return BAD;
            if (hi == NO_BOUND || e <= hi) hi = e, hi_ex = kk == 1;
            if (kk == 2 && integer && json_real_value(emx) == (double)e) hi_ex = 1;
        }
    }
    if (json_is_boolean(emn) && json_is_true(emn) && mn && json_is_real(mn)) {
        if (!integer) return failf(c, FM_STATUS_UNSUPPORTED, "exclusiveMinimum with a fractional minimum"), BAD;
        if (json_real_value(mn) == (double)lo) lo_ex = 1;
    }
    if (json_is_boolean(emx) && json_is_true(emx) && mx && json_is_real(mx)) {
        if (!integer) return failf(c, FM_STATUS_UNSUPPORTED, "exclusiveMaximum with a fractional maximum"), BAD;
        if (json_real_value(mx) == (double)hi) hi_ex = 1;
    }
    if (lo == NO_BOUND && hi == NO_BOUND) return any_number(c, integer);
    if (lo != NO_BOUND && hi != NO_BOUND && (lo > hi || (lo == hi && (lo_ex || hi_ex))))
        return failf(c, FM_STATUS_INVALID_ARGUMENT, "no number lies between minimum and maximum"), BAD;
    rbuf r = {NULL, 0, 0, 0};
    int first = 1;
    rb_add(&r, "(");
    /* x >= 0 */
    if (hi == NO_BOUND || hi > 0 || (hi == 0 && !hi_ex)) nonneg_range(&r, lo, lo_ex, hi, hi_ex, !integer, &first);
    /* x < 0, as "-" and its magnitude m = -x with bounds -hi .. -lo */
    if (lo == NO_BOUND || lo < 0) {
        long long mlo = hi == NO_BOUND || hi >= 0 ? 0 : -hi;
        int mlo_ex = hi == NO_BOUND || hi >= 0 ? 1 : hi_ex; /* m > 0 */
        const long long mhi = lo == NO_BOUND ? NO_BOUND : -lo;
        const int mhi_ex = lo_ex;
        rbuf neg = {NULL, 0, 0, 0};
        int f2 = 1;
        nonneg_range(&neg, mlo, mlo_ex, mhi, mhi_ex, !integer, &f2);
        if (!f2) {
            rb_add(&r, first ? "-(" : "|-(");
            first = 0;
            rb_add(&r, neg.s);
            rb_add(&r, ")");
        }
        r.oom |= neg.oom;
        free(neg.s);
    }
    rb_add(&r, ")");
    uint32_t sym = BAD;
    if (r.oom) oom(c);
    else if (first) failf(c, FM_STATUS_INVALID_ARGUMENT, "no number satisfies the bounds");
    else sym = regex_sym(c, r.s, 0, 0, UINT32_MAX, FM_ENC_UTF8);
    free(r.s);
    return sym;
}

/* --- strings ------------------------------------------------------------------------ */

/* The formats enforced, as regular expressions (RFC 3339 dates with real
 * month lengths and leap years, RFC 1123 host names, ...). */
#define DATE_RE                                                                                                 \
    "([0-9]{4}-(0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|[0-9]{4}-(0[469]|11)-(0[1-9]|[12][0-9]|30)|"           \
    "[0-9]{4}-02-(0[1-9]|1[0-9]|2[0-8])|([0-9]{2}(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00)-02-29)"
#define TIME_RE "([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
#define LABEL_RE "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
#define H16 "[0-9A-Fa-f]{1,4}"
#define V4 "((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#define URI_CHARS "[^\\x00-\\x20\"<>\\\\^`{|}\\x7F-\\u{10FFFF}]"
#define IRI_CHARS "[^\\x00-\\x20\"<>\\\\^`{|}\\x7F]"

static const char *format_regex(const char *f, int *known) {
    static const struct {
        const char *name, *re;
    } formats[] = {
        {"date", DATE_RE},
        {"time", TIME_RE},
        {"date-time", DATE_RE "[Tt]" TIME_RE},
        {"duration", "P(([0-9]+D|[0-9]+M([0-9]+D)?|[0-9]+Y([0-9]+M([0-9]+D)?)?)(T([0-9]+H([0-9]+M([0-9]+S)?)?|"
                     "[0-9]+M([0-9]+S)?|[0-9]+S))?|T([0-9]+H([0-9]+M([0-9]+S)?)?|[0-9]+M([0-9]+S)?|[0-9]+S)|[0-9]+W)"},
        {"uuid", "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"},
        /* labels of any length here: the 63-character cap would multiply
         * the automaton of an email with a maxLength by 60 */
        {"email", "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@"
                  "[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*"},
        {"hostname", LABEL_RE "(\\." LABEL_RE ")*"},
        {"ipv4", V4},
        {"ipv6", "((" H16 ":){7}" H16 "|(" H16 ":){1,7}:|(" H16 ":){1,6}:" H16 "|(" H16 ":){1,5}(:" H16 "){1,2}|(" H16
                 ":){1,4}(:" H16 "){1,3}|(" H16 ":){1,3}(:" H16 "){1,4}|(" H16 ":){1,2}(:" H16 "){1,5}|" H16 ":(:" H16
                 "){1,6}|:((:" H16 "){1,7}|:)|(" H16 ":){6}" V4 "|::(" H16 ":){0,5}" V4 ")"},
        {"uri", "[A-Za-z][A-Za-z0-9+.-]*:" URI_CHARS "*"},
        {"uri-reference", URI_CHARS "*"},
        {"iri", "[A-Za-z][A-Za-z0-9+.-]*:" IRI_CHARS "*"},
        {"iri-reference", IRI_CHARS "*"},
        {"json-pointer", "(/([^~/]|~[01])*)*"},
        {"relative-json-pointer", "(0|[1-9][0-9]*)(#|(/([^~/]|~[01])*)*)"},
    };
    /* the standard formats this compiler cannot enforce exactly */
    static const char *const refused[] = {"regex", "idn-email", "idn-hostname", "uri-template"};
    *known = 0;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (!strcmp(f, formats[i].name)) return *known = 1, formats[i].re;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (!strcmp(f, refused[i])) return *known = -1, NULL;
    return NULL;
}

static int get_len(jc *c, const json_t *s, const char *key, uint32_t dflt, uint32_t *out) {
    const json_t *v = json_object_get(s, key);
    *out = dflt;
    if (v == NULL) return 1;
    if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) && json_real_value(v) >= 0 &&
        json_real_value(v) <= FM_JSON_MAX_COUNT) {
        *out = (uint32_t)json_real_value(v);
        return 1;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return failf(c, FM_STATUS_INVALID_ARGUMENT, "%s must be a non-negative integer", key), 0;
    /* counting costs grammar size linear in the bound: beyond this, refuse */
    if (json_integer_value(v) > FM_JSON_MAX_COUNT)
        return failf(c, FM_STATUS_UNSUPPORTED, "%s %lld is above the largest bound enforced (%d)", key,
                     (long long)json_integer_value(v), FM_JSON_MAX_COUNT), 0;
    *out = (uint32_t)json_integer_value(v);
    return 1;
}

static uint32_t string_sym(jc *c, const json_t *s) {
    uint32_t min_len, max_len;
    if (!get_len(c, s, "minLength", 0, &min_len) || !get_len(c, s, "maxLength", UINT32_MAX, &max_len)) return BAD;
    const json_t *pat = json_object_get(s, "pattern"), *fmt = json_object_get(s, "format");
    const char *fre = NULL;
    if (fmt && json_is_string(fmt)) { /* formats outside the standard's list are annotations */
        int known;
        fre = format_regex(json_string_value(fmt), &known);
        if (known < 0) return failf(c, FM_STATUS_UNSUPPORTED, "format '%s' is not supported", json_string_value(fmt)), BAD;
    }
    if (pat && !json_is_string(pat)) return failf(c, FM_STATUS_INVALID_ARGUMENT, "pattern must be a string"), BAD;
    if (pat && fre) return failf(c, FM_STATUS_UNSUPPORTED, "pattern together with format '%s'", json_string_value(fmt)), BAD;
    if (min_len > max_len) return failf(c, FM_STATUS_INVALID_ARGUMENT, "minLength is above maxLength"), BAD;
    if (!pat && !fre && min_len == 0 && max_len == UINT32_MAX) return any_string(c);
    /* the whole string, quotes included, as one terminal where it fits */
    if (pat) return regex_sym(c, json_string_value(pat), 1, min_len, max_len, FM_ENC_JSON_QUOTED);
    if (fre) return regex_sym(c, fre, 0, min_len, max_len, FM_ENC_JSON_QUOTED);
    /* length bounds alone: any characters, counted (automaton.c) */
    return regex_sym(c, "[^]*", 0, min_len, max_len, FM_ENC_JSON_QUOTED);
}

/* --- references ---------------------------------------------------------------------- */

/* The schema a local "#/..." pointer names, or NULL. */
static json_t *resolve(jc *c, const char *ref) {
    if (ref[0] != '#') return NULL;
    json_t *cur = c->root;
    const char *p = ref + 1;
    while (*p == '/') {
        p++;
        char seg[256];
        size_t n = 0;
        while (*p && *p != '/' && n + 1 < sizeof seg) {
            if (p[0] == '~' && p[1] == '0') seg[n++] = '~', p += 2;
            else if (p[0] == '~' && p[1] == '1') seg[n++] = '/', p += 2;
            else if (p[0] == '%' && p[1] && p[2]) { /* URI percent-encoding */
                char h[3] = {p[1], p[2], 0};
                seg[n++] = (char)strtol(h, NULL, 16), p += 3;
            } else seg[n++] = *p++;
        }
        seg[n] = 0;
        if (json_is_object(cur)) cur = json_object_get(cur, seg);
        else if (json_is_array(cur)) {
            char *end;
            const long i = strtol(seg, &end, 10);
            cur = *end == 0 && i >= 0 ? json_array_get(cur, (size_t)i) : NULL;
        } else cur = NULL;
        if (cur == NULL) return NULL;
    }
    return *p == 0 ? cur : NULL;
}

static uint32_t schema_sym(jc *c, json_t *s);

static uint32_t ref_sym(jc *c, const char *ref) {
    for (size_t i = 0; i < c->refs.n; i++)
        if (!strcmp(c->refs.ptr[i], ref)) return c->refs.sym[i];
    json_t *target = resolve(c, ref);
    if (target == NULL) return failf(c, FM_STATUS_UNSUPPORTED, "$ref '%s' is not a pointer into this schema", ref), BAD;
    char **p = fm_grow(c->refs.ptr, &c->refs.cap, c->refs.n + 1, sizeof *p, 16);
    if (p == NULL) return oom(c), BAD;
    c->refs.ptr = p;
    size_t cap = c->refs.n;
    uint32_t *q = fm_grow(c->refs.sym, &cap, c->refs.cap, sizeof *q, 16);
    if (q == NULL) return oom(c), BAD;
    c->refs.sym = q;
    const int32_t h = new_alt(c);
    if (h < 0) return BAD;
    c->refs.ptr[c->refs.n] = fm_strdup(ref);
    if (c->refs.ptr[c->refs.n] == NULL) return oom(c), BAD;
    c->refs.sym[c->refs.n++] = FM_GS_MAKE(FM_GS_NT, h); /* before the body: recursion finds it */
    /* the target compiles with its own pointer in messages */
    char saved[sizeof c->path];
    const size_t saved_len = c->plen;
    memcpy(saved, c->path, sizeof saved);
    snprintf(c->path, sizeof c->path, "%s", ref[1] ? ref + 1 : "");
    c->plen = strlen(c->path);
    const int depth = c->depth;
    c->depth = 0;
    alt_add(c, h, schema_sym(c, target));
    c->depth = depth;
    memcpy(c->path, saved, sizeof saved);
    c->plen = saved_len;
    return FM_GS_MAKE(FM_GS_NT, h);
}

/* --- allOf: merging schemas -------------------------------------------------------------- */

static json_t *deref(jc *c, json_t *s, int depth) {
    while (json_is_object(s) && json_is_string(json_object_get(s, "$ref")) && depth++ < 32) {
        json_t *t = resolve(c, json_string_value(json_object_get(s, "$ref")));
        if (t == NULL) return NULL;
        if (json_object_size(s) > 1) return s; /* siblings: merged by the caller */
        s = t;
    }
    return s;
}

static json_t *merge(jc *c, json_t *a, json_t *b, int depth);

static int has_type(const json_t *t, const char *name) {
    if (t == NULL) return 1;
    if (json_is_string(t)) return !strcmp(json_string_value(t), name) || (!strcmp(name, "integer") && !strcmp(json_string_value(t), "number"));
    size_t i;
    json_t *x;
    json_array_foreach(t, i, x) if (json_is_string(x) &&
                                    (!strcmp(json_string_value(x), name) ||
                                     (!strcmp(name, "integer") && !strcmp(json_string_value(x), "number")))) return 1;
    return 0;
}

static json_t *merge(jc *c, json_t *a, json_t *b, int depth) {
    if (depth > 16) return failf(c, FM_STATUS_UNSUPPORTED, "allOf nests too deeply"), NULL;
    a = deref(c, a, 0), b = deref(c, b, 0);
    if (a == NULL || b == NULL) return failf(c, FM_STATUS_UNSUPPORTED, "allOf with an unresolvable $ref"), NULL;
    if (json_is_true(a) || (json_is_object(a) && json_object_size(a) == 0)) return json_incref(b);
    if (json_is_true(b) || (json_is_object(b) && json_object_size(b) == 0)) return json_incref(a);
    if (!json_is_object(a) || !json_is_object(b))
        return failf(c, FM_STATUS_UNSUPPORTED, "allOf with a false schema"), NULL;
    json_t *m = json_deep_copy(a);
    if (m == NULL) return oom(c), NULL;
    const char *k;
    json_t *bv;
    json_object_foreach(b, k, bv) {
        json_t *av = json_object_get(m, k);
        if (av == NULL) {
            json_object_set(m, k, bv);
            continue;
        }
        if (!strcmp(k, "properties") && json_is_object(av) && json_is_object(bv)) {
            const char *pk;
            json_t *pv;
            json_object_foreach(bv, pk, pv) {
                json_t *old = json_object_get(av, pk);
                if (old == NULL) json_object_set(av, pk, pv);
                else {
                    json_t *mm = merge(c, old, pv, depth + 1);
                    if (mm == NULL) break;
                    json_object_set_new(av, pk, mm);
                }
            }
        } else if (!strcmp(k, "required") && json_is_array(av) && json_is_array(bv)) {
            size_t i;
            json_t *x;
            json_array_foreach(bv, i, x) {
                size_t j;
                json_t *y;
                int dup = 0;
                json_array_foreach(av, j, y) dup |= json_equal(x, y);
                if (!dup) json_array_append(av, x);
            }
        } else if (!strcmp(k, "type")) {
            json_t *t = json_array();
            static const char *const all[] = {"null", "boolean", "object", "array", "number", "string", "integer"};
            for (int i = 0; i < 7; i++) {
                const int ina = has_type(av, all[i]), inb = has_type(bv, all[i]);
                if (ina && inb) json_array_append_new(t, json_string(all[i]));
            }
            /* "number" in one and "integer" in the other give integer only */
            int num_a = 0, num_b = 0;
            size_t i;
            json_t *x;
            json_t *ta = json_is_string(av) ? json_pack("[O]", av) : json_incref(av);
            json_t *tb = json_is_string(bv) ? json_pack("[O]", bv) : json_incref(bv);
            json_array_foreach(ta, i, x) num_a |= json_is_string(x) && !strcmp(json_string_value(x), "number");
            json_array_foreach(tb, i, x) num_b |= json_is_string(x) && !strcmp(json_string_value(x), "number");
            if (!(num_a && num_b)) { /* drop "number" unless both allow every number */
                json_t *t2 = json_array();
                json_array_foreach(t, i, x) if (strcmp(json_string_value(x), "number")) json_array_append(t2, x);
                json_decref(t);
                t = t2;
            }
            json_decref(ta);
            json_decref(tb);
            if (json_array_size(t) == 0) {
                json_decref(t);
                json_decref(m);
                return failf(c, FM_STATUS_UNSUPPORTED, "allOf of schemas with no type in common"), NULL;
            }
            json_object_set_new(m, "type", t);
        } else if (!strcmp(k, "minimum") || !strcmp(k, "minLength") || !strcmp(k, "minItems")) {
            if (json_number_value(bv) > json_number_value(av)) json_object_set(m, k, bv);
        } else if (!strcmp(k, "maximum") || !strcmp(k, "maxLength") || !strcmp(k, "maxItems")) {
            if (json_number_value(bv) < json_number_value(av)) json_object_set(m, k, bv);
        } else if (!strcmp(k, "additionalProperties")) {
            if (json_is_false(av) || json_is_false(bv)) json_object_set_new(m, k, json_false());
            else if (json_is_true(av)) json_object_set(m, k, bv);
            else if (!json_is_true(bv)) {
                json_t *mm = merge(c, av, bv, depth + 1);
                if (mm) json_object_set_new(m, k, mm);
            }
        } else if (!strcmp(k, "items") && json_is_object(av) && json_is_object(bv)) {
            json_t *mm = merge(c, av, bv, depth + 1);
            if (mm) json_object_set_new(m, k, mm);
        } else if (!strcmp(k, "enum") && json_is_array(av) && json_is_array(bv)) {
            json_t *e = json_array();
            size_t i, j;
            json_t *x, *y;
            json_array_foreach(av, i, x) {
                int in = 0;
                json_array_foreach(bv, j, y) in |= json_equal(x, y);
                if (in) json_array_append(e, x);
            }
            json_object_set_new(m, k, e);
        } else if (!strcmp(k, "allOf") && json_is_array(av) && json_is_array(bv)) {
            json_array_extend(av, bv);
        } else if (!strcmp(k, "description") || !strcmp(k, "title") || !strcmp(k, "$comment") ||
                   !strcmp(k, "default") || !strcmp(k, "examples") || !strcmp(k, "$schema") || !strcmp(k, "$id") ||
                   !strcmp(k, "id") || !strcmp(k, "definitions") || !strcmp(k, "$defs")) {
            /* annotations and containers: the first one stays */
        } else if (!json_equal(av, bv)) {
            if (!strcmp(k, "anyOf") || !strcmp(k, "oneOf")) { /* both: nest one in an allOf */
                json_t *all = json_object_get(m, "allOf");
                if (all == NULL) json_object_set_new(m, "allOf", all = json_array());
                json_t *w = json_object();
                json_object_set(w, k, bv);
                json_array_append_new(all, w);
            } else {
                json_decref(m);
                return failf(c, FM_STATUS_UNSUPPORTED, "allOf with two different '%s'", k), NULL;
            }
        }
    }
    /* additionalProperties false on one side: the other side's extra properties are not allowed */
    json_t *ap_a = json_object_get(a, "additionalProperties"), *ap_b = json_object_get(b, "additionalProperties");
    json_t *props = json_object_get(m, "properties");
    if (props && (json_is_false(ap_a) || json_is_false(ap_b))) {
        json_t *pa = json_object_get(a, "properties"), *pb = json_object_get(b, "properties");
        const char *pk;
        json_t *pv;
        void *tmp;
        json_object_foreach_safe(props, tmp, pk, pv) {
            if ((json_is_false(ap_a) && !json_object_get(pa, pk) && !json_object_get(json_object_get(a, "patternProperties"), pk)) ||
                (json_is_false(ap_b) && !json_object_get(pb, pk) && !json_object_get(json_object_get(b, "patternProperties"), pk)))
                json_object_del(props, pk);
        }
    }
    if (c->st) {
        json_decref(m);
        return NULL;
    }
    return m;
}

/* --- arrays -------------------------------------------------------------------------------- */

static uint32_t array_sym(jc *c, json_t *s) {
    uint32_t min_i, max_i;
    if (!get_len(c, s, "minItems", 0, &min_i) || !get_len(c, s, "maxItems", UINT32_MAX, &max_i)) return BAD;
    if (json_is_true(json_object_get(s, "uniqueItems")) && max_i > 1)
        return failf(c, FM_STATUS_UNSUPPORTED, "uniqueItems is not supported"), BAD;
    if (json_object_get(s, "contains")) return failf(c, FM_STATUS_UNSUPPORTED, "contains is not supported"), BAD;
    json_t *items = json_object_get(s, "items"), *prefix = json_object_get(s, "prefixItems"),
           *additional = json_object_get(s, "additionalItems");
    json_t *rest = items;
    if (json_is_array(items)) prefix = items, rest = additional; /* draft 4-7 tuples */
    if (prefix && !json_is_array(prefix)) return failf(c, FM_STATUS_INVALID_ARGUMENT, "prefixItems must be an array"), BAD;
    const size_t np = prefix ? json_array_size(prefix) : 0;
    const int rest_none = json_is_false(rest);
    if (min_i > max_i) return failf(c, FM_STATUS_INVALID_ARGUMENT, "minItems is above maxItems"), BAD;
    if (rest_none && min_i > np) return failf(c, FM_STATUS_INVALID_ARGUMENT, "minItems exceeds the tuple"), BAD;
    const uint32_t W = ws(c);
    /* item symbols: prefix ones in order, then the rest */
    size_t n_pre = np < max_i ? np : max_i;
    uint32_t *pre = fm_malloc((n_pre ? n_pre : 1) * sizeof *pre);
    if (pre == NULL) return oom(c), BAD;
    for (size_t i = 0; i < n_pre && !c->st; i++) {
        const size_t o = path_push(c, json_is_array(items) ? "items" : "prefixItems");
        const size_t o2 = path_push_i(c, i);
        pre[i] = schema_sym(c, json_array_get(prefix, i));
        path_pop(c, o2);
        path_pop(c, o);
    }
    uint32_t rest_sym = BAD;
    if (!rest_none && !c->st) {
        const size_t o = path_push(c, json_is_array(items) ? "additionalItems" : "items");
        rest_sym = rest ? schema_sym(c, rest) : any_value(c);
        path_pop(c, o);
    }
    if (c->st) return free(pre), BAD;
    /* elements: the k-th is pre[k] while k < n_pre, then rest; the list is
     * e1 ("," ws e2 ...) with its length in [min_i, max_i] */
    const uint32_t comma = lits(c, ",");
    /* tail after the prefix: between lo and hi more rest items */
    const uint32_t lo_rest = min_i > n_pre ? min_i - (uint32_t)n_pre : 0;
    const uint32_t hi_rest = rest_none ? 0 : max_i == UINT32_MAX ? UINT32_MAX : max_i - (uint32_t)n_pre;
    const int32_t list = new_alt(c);
    /* a list of exactly j prefix items then (if j == n_pre) the rest tail */
    for (size_t j = 0; j <= n_pre && !c->st; j++) {
        if (j < min_i && j < n_pre) continue;
        if (j < n_pre && j > 0 && j < min_i) continue;
        /* j prefix items */
        uint32_t acc = BAD;
        for (size_t i = 0; i < j; i++) {
            const uint32_t item[2] = {pre[i], W};
            const uint32_t it = seq(c, item, 2);
            if (i == 0) acc = it;
            else {
                const uint32_t p3[4] = {acc, comma, W, it};
                acc = seq(c, p3, 4);
            }
        }
        if (j < n_pre) { /* stops inside the tuple */
            if (j >= min_i) alt_add(c, list, j ? acc : seq(c, NULL, 0));
            continue;
        }
        /* after the whole tuple: lo_rest .. hi_rest rest items */
        if (hi_rest == 0 || rest_sym == BAD) {
            if (j >= min_i) alt_add(c, list, j ? acc : seq(c, NULL, 0));
            continue;
        }
        const uint32_t item[2] = {rest_sym, W};
        const uint32_t it = seq(c, item, 2);
        const uint32_t more[3] = {comma, W, it};
        const uint32_t more_s = seq(c, more, 3);
        if (j == 0) { /* no tuple: it (, it){lo-1, hi-1} or empty */
            if (lo_rest == 0) alt_add(c, list, seq(c, NULL, 0));
            const uint32_t reps = c->st ? BAD : fm_gbuild_repeat(c->b, more_s, lo_rest ? lo_rest - 1 : 0,
                                                                 hi_rest == UINT32_MAX ? UINT32_MAX : hi_rest - 1);
            if (reps == BAD) c->st = c->st ? c->st : FM_STATUS_INVALID_ARGUMENT;
            const uint32_t l[2] = {it, reps};
            alt_add(c, list, seq(c, l, 2));
        } else {
            const uint32_t reps = c->st ? BAD : fm_gbuild_repeat(c->b, more_s, lo_rest, hi_rest);
            if (reps == BAD) c->st = c->st ? c->st : FM_STATUS_INVALID_ARGUMENT;
            const uint32_t l[2] = {acc, reps};
            alt_add(c, list, seq(c, l, 2));
        }
    }
    free(pre);
    const uint32_t arr[4] = {lits(c, "["), W, alt_sym(c, list), lits(c, "]")};
    return seq(c, arr, 4);
}

/* --- objects --------------------------------------------------------------------------------- */

/* Appends a regex-escaped literal. */
static void rb_escaped(rbuf *r, const char *s) {
    for (; *s; s++) {
        char t[3] = {0, 0, 0};
        if (strchr("\\^$.|?*+()[]{}/-", *s)) t[0] = '\\', t[1] = *s;
        else t[0] = *s;
        rb_add(r, t);
    }
}

static uint32_t key_sym(jc *c, const char *k) {
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (!json_quote(&buf, &n, &cap, k, strlen(k))) return oom(c), BAD;
    const uint32_t s = lit(c, buf, n);
    free(buf);
    return s;
}

/* The key of an extra property: a JSON string whose text is in `pattern`
 * (search semantics) or, with pattern NULL, any; never one of the names,
 * nor (when `exclude_patterns`) one matching the schema's patternProperties. */
static uint32_t extra_key_sym(jc *c, json_t *names, const char *pattern, json_t *pprops) {
    fm_nfa nfa;
    fm_status st;
    /* the excluded language: names exactly, and the other patterns */
    rbuf r = {NULL, 0, 0, 0};
    rb_add(&r, "^(");
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(names, k, v) {
        if (i++) rb_add(&r, "|");
        rb_escaped(&r, k);
    }
    rb_add(&r, i ? ")$" : "[])$");
    if (r.oom) return free(r.s), oom(c), BAD;
    st = fm_regex_to_nfa(r.s, r.n, 1, c->path, &nfa);
    free(r.s);
    if (!st && pprops && !pattern) {
        json_object_foreach(pprops, k, v) {
            fm_nfa p;
            if ((st = fm_regex_to_nfa(k, strlen(k), 1, c->path, &p))) break;
            st = fm_nfa_union(&nfa, &p);
            fm_nfa_free(&p);
            if (st) break;
        }
    }
    uint32_t body = BAD;
    if (!st && pattern) {
        /* keys matching `pattern` but no name: pattern ∩ ¬names, done as
         * ¬(¬pattern ∪ names) would need a complement of a union of
         * complements; names are few, so: pattern minus names exactly */
        fm_nfa p;
        st = fm_regex_to_nfa(pattern, strlen(pattern), 1, c->path, &p);
        if (!st) {
            if (json_object_size(names) == 0) st = fm_nfa_emit(c->b, &p, 0, UINT32_MAX, FM_ENC_JSON_QUOTED, c->path, &body);
            else st = fm_error(FM_STATUS_UNSUPPORTED, "JSON Schema at '%s': patternProperties beside properties with additional keys", c->path);
            fm_nfa_free(&p);
        }
    } else if (!st) {
        st = fm_nfa_emit_complement(c->b, &nfa, 0, UINT32_MAX, FM_ENC_JSON_QUOTED, c->path, &body);
    }
    fm_nfa_free(&nfa);
    if (st == FM_STATUS_NOT_FOUND) { /* no key is left for extra properties */
        fm_error_clear();
        return BAD;
    }
    if (st) return c->st = c->st ? c->st : st, BAD;
    return body;
}

static uint32_t object_sym(jc *c, json_t *s) {
    static const char *const refused[] = {"dependencies", "dependentRequired", "dependentSchemas", "propertyNames",
                                          "maxProperties", "unevaluatedProperties"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (json_object_get(s, refused[i])) {
            const json_t *v = json_object_get(s, refused[i]);
            if (json_is_object(v) && json_object_size(v) == 0) continue; /* {} constrains nothing */
            return failf(c, FM_STATUS_UNSUPPORTED, "'%s' is not supported", refused[i]), BAD;
        }
    const json_t *minp = json_object_get(s, "minProperties");
    json_t *props = json_object_get(s, "properties"), *req = json_object_get(s, "required");
    json_t *addl = json_object_get(s, "additionalProperties"), *pprops = json_object_get(s, "patternProperties");
    if (props && !json_is_object(props)) return failf(c, FM_STATUS_INVALID_ARGUMENT, "properties must be an object"), BAD;
    if (pprops && !json_is_object(pprops))
        return failf(c, FM_STATUS_INVALID_ARGUMENT, "patternProperties must be an object"), BAD;
    if (pprops && json_object_size(pprops) == 0) pprops = NULL;
    /* the properties in order, with required ones the schema does not define added;
     * `taken` also has the ones set to false: no extra property may use them */
    json_t *names = json_object(), *taken = json_object();
    if (props) json_object_update(taken, props);
    const char *k;
    json_t *v;
    if (props) json_object_foreach(props, k, v) if (!json_is_false(v)) json_object_set(names, k, v);
    size_t i;
    json_t *x;
    if (req && json_is_array(req)) {
        json_array_foreach(req, i, x) {
            if (!json_is_string(x)) continue;
            if (json_object_get(names, json_string_value(x))) continue;
            if (props && json_is_false(json_object_get(props, json_string_value(x)))) {
                json_decref(names);
                json_decref(taken);
                return failf(c, FM_STATUS_INVALID_ARGUMENT, "required property '%s' is false", json_string_value(x)), BAD;
            }
            if (json_is_false(addl) && !pprops) {
                json_decref(names);
                json_decref(taken);
                return failf(c, FM_STATUS_INVALID_ARGUMENT, "required property '%s' is not allowed", json_string_value(x)),
                       BAD;
            }
            json_object_set_new(names, json_string_value(x), addl && !json_is_boolean(addl) ? json_incref(addl) : json_true());
        }
    }
    const size_t n = json_object_size(names);
    uint32_t *kv = fm_calloc(n + 1, sizeof *kv);
    int *is_req = fm_calloc(n + 1, sizeof *is_req);
    if (kv == NULL || is_req == NULL) {
        free(kv), free(is_req), json_decref(names), json_decref(taken);
        return oom(c), BAD;
    }
    const uint32_t W = ws(c), colon = lits(c, ":"), comma = lits(c, ",");
    size_t n_req = 0;
    i = 0;
    json_object_foreach(names, k, v) {
        if (req && json_is_array(req)) {
            size_t j;
            json_array_foreach(req, j, x) if (json_is_string(x) && !strcmp(json_string_value(x), k)) is_req[i] = 1;
        }
        n_req += (size_t)is_req[i];
        const size_t o = path_push(c, "properties"), o2 = path_push(c, k);
        const uint32_t val = schema_sym(c, v);
        path_pop(c, o2), path_pop(c, o);
        const uint32_t parts[6] = {key_sym(c, k), W, colon, W, val, W};
        kv[i++] = seq(c, parts, 6);
    }
    if (minp && json_is_integer(minp) && json_integer_value(minp) > (json_int_t)n_req)
        return free(kv), free(is_req), json_decref(names), json_decref(taken),
               failf(c, FM_STATUS_UNSUPPORTED, "minProperties above the required count is not supported"), BAD;
    /* extra properties: additionalProperties and patternProperties */
    const int32_t extra = new_alt(c);
    int has_extra = 0;
    if (!json_is_false(addl) && !c->st) {
        const size_t o = path_push(c, "additionalProperties");
        json_object_update(taken, names);
        const uint32_t key = extra_key_sym(c, taken, NULL, pprops);
        if (key != BAD) {
            const uint32_t val = addl && !json_is_true(addl) ? schema_sym(c, addl) : any_value(c);
            const uint32_t parts[6] = {key, W, colon, W, val, W};
            alt_add(c, extra, seq(c, parts, 6));
            has_extra = 1;
        }
        path_pop(c, o);
    }
    if (pprops && !c->st) {
        json_object_foreach(pprops, k, v) {
            const size_t o = path_push(c, "patternProperties"), o2 = path_push(c, k);
            const uint32_t key = extra_key_sym(c, taken, k, NULL);
            if (key == BAD) {
                path_pop(c, o2), path_pop(c, o);
                continue;
            }
            const uint32_t val = schema_sym(c, v);
            path_pop(c, o2), path_pop(c, o);
            if (json_object_size(pprops) > 1 && !c->st) {
                failf(c, FM_STATUS_UNSUPPORTED, "more than one patternProperties entry");
                break;
            }
            const uint32_t parts[6] = {key, W, colon, W, val, W};
            alt_add(c, extra, seq(c, parts, 6));
            has_extra = 1;
        }
    }
    /* A_i: the rest from property i on, after something was written (each
     * written one is preceded by a comma); B_i: the same before anything was */
    const uint32_t ex = has_extra ? alt_sym(c, extra) : BAD;
    uint32_t extras_after = seq(c, NULL, 0), extras_first = seq(c, NULL, 0);
    if (has_extra && !c->st) {
        const uint32_t more[3] = {comma, W, ex};
        const uint32_t reps = fm_gbuild_repeat(c->b, seq(c, more, 3), 0, UINT32_MAX);
        extras_after = reps;
        const uint32_t l[2] = {ex, reps};
        const int32_t f = new_alt(c);
        alt_add(c, f, seq(c, NULL, 0));
        alt_add(c, f, seq(c, l, 2));
        extras_first = alt_sym(c, f);
    }
    uint32_t A = extras_after, B = extras_first;
    for (size_t j = n; j-- > 0 && !c->st;) {
        const uint32_t with_c[4] = {comma, W, kv[j], A};
        const uint32_t a_with = seq(c, with_c, 4);
        const uint32_t b_with[2] = {kv[j], A};
        const uint32_t bw = seq(c, b_with, 2);
        const int32_t na = new_alt(c), nb = new_alt(c);
        alt_add(c, na, a_with);
        alt_add(c, nb, bw);
        if (!is_req[j]) {
            alt_add(c, na, A);
            alt_add(c, nb, B);
        }
        A = alt_sym(c, na), B = alt_sym(c, nb);
    }
    free(kv);
    free(is_req);
    json_decref(names);
    json_decref(taken);
    const uint32_t obj[4] = {lits(c, "{"), W, B, lits(c, "}")};
    return seq(c, obj, 4);
}


/* --- oneOf: exactly one branch --------------------------------------------------------------- */

/* Types a schema admits, as bits: null 1, boolean 2, object 4, array 8,
 * string 16, integer 32, other numbers 64. */
static unsigned type_bits(const json_t *s) {
    static const char *const names[] = {"null", "boolean", "object", "array", "string", "integer", "number"};
    static const unsigned bits[] = {1, 2, 4, 8, 16, 32, 96};
    const json_t *vals = json_object_get(s, "enum"), *cn = json_object_get(s, "const");
    unsigned v = 127;
    if (cn || json_is_array(vals)) {
        v = 0;
        size_t i;
        json_t *x;
        json_t *list = cn ? json_pack("[O]", cn) : json_incref((json_t *)vals);
        json_array_foreach(list, i, x) v |= json_is_null(x) ? 1 : json_is_boolean(x) ? 2 : json_is_object(x) ? 4
                                           : json_is_array(x) ? 8 : json_is_string(x) ? 16 : json_is_integer(x) ? 32 : 64;
        json_decref(list);
    }
    const json_t *t = json_object_get(s, "type");
    if (t == NULL) return v;
    unsigned tv = 0;
    for (int i = 0; i < 7; i++) {
        int in = 0;
        if (json_is_string(t)) in = !strcmp(json_string_value(t), names[i]);
        else {
            size_t k;
            json_t *x;
            json_array_foreach(t, k, x) in |= json_is_string(x) && !strcmp(json_string_value(x), names[i]);
        }
        if (in) tv |= bits[i];
    }
    return v & tv;
}

static int requires(const json_t *s, const char *k) {
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(s, "required"), i, x) if (json_is_string(x) && !strcmp(json_string_value(x), k)) return 1;
    return 0;
}

static int forbids(const json_t *s, const char *k) {
    const json_t *p = json_object_get(json_object_get(s, "properties"), k);
    if (json_is_false(p)) return 1;
    return p == NULL && json_is_false(json_object_get(s, "additionalProperties")) &&
           json_object_get(s, "patternProperties") == NULL;
}

/* Whether no instance can satisfy both (a proof; 0 means "maybe"). */
static int disjoint(jc *c, json_t *a, json_t *b, int depth) {
    a = deref(c, a, 0), b = deref(c, b, 0);
    if (!json_is_object(a) || !json_is_object(b) || depth > 8) return json_is_false(a) || json_is_false(b);
    const unsigned common = type_bits(a) & type_bits(b);
    if (common == 0) return 1;
    json_t *va = json_object_get(a, "const") ? json_pack("[O]", json_object_get(a, "const")) : json_incref(json_object_get(a, "enum"));
    json_t *vb = json_object_get(b, "const") ? json_pack("[O]", json_object_get(b, "const")) : json_incref(json_object_get(b, "enum"));
    int dis = 0;
    if (json_is_array(va) && json_is_array(vb)) {
        dis = 1;
        size_t i, j;
        json_t *x, *y;
        json_array_foreach(va, i, x) json_array_foreach(vb, j, y) if (json_equal(x, y)) dis = 0;
    }
    json_decref(va);
    json_decref(vb);
    if (dis) return 1;
    if (common != 4) return 0; /* the property arguments hold for objects only */
    json_t *pa = json_object_get(a, "properties"), *pb = json_object_get(b, "properties");
    const char *k;
    json_t *x;
    json_object_foreach(pa, k, x) {
        json_t *y = json_object_get(pb, k);
        if (y && requires(a, k) && requires(b, k) && disjoint(c, x, y, depth + 1)) return 1;
    }
    size_t i;
    json_array_foreach(json_object_get(a, "required"), i, x) if (json_is_string(x) && forbids(b, json_string_value(x))) return 1;
    json_array_foreach(json_object_get(b, "required"), i, x) if (json_is_string(x) && forbids(a, json_string_value(x))) return 1;
    return 0;
}

/* A branch that only adds required properties to the base (its properties,
 * if any, restate the base's): "not this branch" is "one of them absent". */
static int required_only(const json_t *x, const json_t *base) {
    if (!json_is_object(x) || !json_is_array(json_object_get(x, "required"))) return 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)x, k, v) {
        if (!strcmp(k, "required") || !strcmp(k, "description") || !strcmp(k, "title") || !strcmp(k, "$comment")) continue;
        if (!strcmp(k, "type") && json_is_string(v) && !strcmp(json_string_value(v), "object")) continue;
        if (!strcmp(k, "properties") && json_is_object(v)) {
            const char *pk;
            json_t *pv;
            json_t *bp = json_object_get(base, "properties");
            json_object_foreach(v, pk, pv) {
                json_t *bv = json_object_get(bp, pk);
                if (!(json_is_object(pv) && json_object_size(pv) == 0) && !(bv && json_equal(bv, pv))) return 0;
            }
            continue;
        }
        return 0;
    }
    return 1;
}

#define MAX_ONEOF_CHOICES 64

static uint32_t one_of_sym(jc *c, json_t *s, json_t *list) {
    json_t *base = json_deep_copy(s);
    json_object_del(base, "oneOf");
    const size_t n = json_array_size(list);
    json_t **m = fm_calloc(n + 1, sizeof *m);
    const int32_t h = new_alt(c);
    if (m == NULL || base == NULL) {
        free(m);
        json_decref(base);
        return oom(c), BAD;
    }
    for (size_t i = 0; i < n && !c->st; i++) {
        json_t *x = json_array_get(list, i);
        m[i] = json_is_false(x) ? NULL : merge(c, base, x, 0);
        if (m[i]) json_array_append_new(c->merged, m[i]);
    }
    for (size_t i = 0; i < n && !c->st; i++) {
        if (m[i] == NULL) continue;
        const size_t o = path_push(c, "oneOf"), o2 = path_push_i(c, i);
        /* for every other branch that may overlap: a set of keys one of
         * which must be absent here */
        json_t *choices = json_array(); /* array of arrays of keys */
        int dead = 0;
        for (size_t j = 0; j < n && !c->st && !dead; j++) {
            if (j == i || m[j] == NULL || disjoint(c, m[i], m[j], 0)) continue;
            json_t *xj = json_array_get(list, j);
            if (!required_only(xj, base)) {
                failf(c, FM_STATUS_UNSUPPORTED, "oneOf branches %zu and %zu may both match (not provably exclusive)", i, j);
                break;
            }
            json_t *keys = json_array();
            size_t k;
            json_t *r;
            json_array_foreach(json_object_get(xj, "required"), k, r) if (json_is_string(r) && !requires(m[i], json_string_value(r)))
                json_array_append(keys, r);
            if (json_array_size(keys) == 0) dead = 1; /* branch i implies branch j */
            json_array_append_new(choices, keys);
        }
        /* every combination of one key per overlapping branch */
        size_t total = 1;
        size_t k;
        json_t *keys;
        json_array_foreach(choices, k, keys) total *= json_array_size(keys) ? json_array_size(keys) : 1;
        if (!c->st && !dead && total > MAX_ONEOF_CHOICES)
            failf(c, FM_STATUS_UNSUPPORTED, "oneOf exclusivity needs more than %d alternatives", MAX_ONEOF_CHOICES);
        for (size_t combo = 0; !c->st && !dead && combo < total; combo++) {
            json_t *b = json_deep_copy(m[i]);
            if (json_array_size(choices) > 0) {
                json_object_set_new(b, "type", json_string("object")); /* non-objects would match every branch */
                json_t *props = json_object_get(b, "properties");
                if (props == NULL) json_object_set_new(b, "properties", props = json_object());
                size_t rest = combo;
                json_array_foreach(choices, k, keys) {
                    const size_t nk = json_array_size(keys);
                    json_t *key = json_array_get(keys, rest % nk);
                    rest /= nk;
                    json_object_set_new(props, json_string_value(key), json_false());
                }
            }
            json_array_append_new(c->merged, b);
            alt_add(c, h, schema_sym(c, b));
        }
        json_decref(choices);
        path_pop(c, o2), path_pop(c, o);
    }
    free(m);
    json_decref(base);
    return alt_sym(c, h);
}

/* --- schemas ------------------------------------------------------------------------------------ */

static int is_keyword_refused(const char *k) {
    static const char *const refused[] = {"not", "multipleOf", "if", "then", "else", "$dynamicRef", "$recursiveRef",
                                          "unevaluatedItems", "minContains", "maxContains"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (!strcmp(k, refused[i])) return 1;
    return 0;
}

static uint32_t typed_sym(jc *c, json_t *s, const char *t) {
    if (!strcmp(t, "null")) return lits(c, "null");
    if (!strcmp(t, "boolean")) {
        const int32_t h = new_alt(c);
        alt_add(c, h, lits(c, "true"));
        alt_add(c, h, lits(c, "false"));
        return alt_sym(c, h);
    }
    if (!strcmp(t, "integer")) return number_sym(c, s, 1);
    if (!strcmp(t, "number")) return number_sym(c, s, 0);
    if (!strcmp(t, "string")) return string_sym(c, s);
    if (!strcmp(t, "array")) return array_sym(c, s);
    if (!strcmp(t, "object")) return object_sym(c, s);
    return failf(c, FM_STATUS_INVALID_ARGUMENT, "unknown type '%s'", t), BAD;
}

/* The type keywords apply only to their own type: a schema without "type"
 * takes every type its keywords do not rule out. */
static uint32_t types_sym(jc *c, json_t *s) {
    json_t *t = json_object_get(s, "type");
    static const char *const all[] = {"object", "array", "string", "number", "boolean", "null"};
    const int32_t h = new_alt(c);
    if (t == NULL) {
        for (size_t i = 0; i < 6; i++) alt_add(c, h, typed_sym(c, s, all[i]));
    } else if (json_is_string(t)) {
        return typed_sym(c, s, json_string_value(t));
    } else if (json_is_array(t)) {
        size_t i;
        json_t *x;
        int has_number = 0;
        json_array_foreach(t, i, x) has_number |= json_is_string(x) && !strcmp(json_string_value(x), "number");
        json_array_foreach(t, i, x) {
            if (!json_is_string(x)) return failf(c, FM_STATUS_INVALID_ARGUMENT, "type entries must be strings"), BAD;
            if (has_number && !strcmp(json_string_value(x), "integer")) continue; /* inside number */
            alt_add(c, h, typed_sym(c, s, json_string_value(x)));
        }
        if (json_array_size(t) == 0) return failf(c, FM_STATUS_INVALID_ARGUMENT, "an empty type list"), BAD;
    } else {
        return failf(c, FM_STATUS_INVALID_ARGUMENT, "type must be a string or a list"), BAD;
    }
    return alt_sym(c, h);
}

static uint32_t schema_sym(jc *c, json_t *s) {
    if (c->st) return BAD;
    if (json_is_true(s)) return any_value(c);
    if (json_is_false(s)) return failf(c, FM_STATUS_INVALID_ARGUMENT, "the schema false matches nothing"), BAD;
    if (!json_is_object(s)) return failf(c, FM_STATUS_INVALID_ARGUMENT, "a schema must be an object or a boolean"), BAD;
    if (++c->depth > MAX_DEPTH) return failf(c, FM_STATUS_UNSUPPORTED, "schemas nest more than %d deep", MAX_DEPTH), BAD;
    uint32_t r = BAD;
    const char *k;
    json_t *v;
    json_object_foreach(s, k, v) if (is_keyword_refused(k)) {
        const size_t o = path_push(c, k);
        failf(c, FM_STATUS_UNSUPPORTED, "'%s' is not supported", k);
        path_pop(c, o);
        c->depth--;
        return BAD;
    }
    json_t *ref = json_object_get(s, "$ref"), *all = json_object_get(s, "allOf");
    json_t *any = json_object_get(s, "anyOf"), *one = json_object_get(s, "oneOf");
    json_t *en = json_object_get(s, "enum"), *cn = json_object_get(s, "const");
    if (ref && json_is_string(ref)) {
        /* alone: the target's rule; with siblings: both must hold */
        int siblings = 0;
        json_object_foreach(s, k, v) siblings |= strcmp(k, "$ref") && strcmp(k, "description") && strcmp(k, "title") &&
                                                 strcmp(k, "$schema") && strcmp(k, "$id") && strcmp(k, "id") &&
                                                 strcmp(k, "definitions") && strcmp(k, "$defs") && strcmp(k, "default") &&
                                                 strcmp(k, "$comment") && strcmp(k, "examples");
        if (!siblings) r = ref_sym(c, json_string_value(ref));
        else {
            json_t *rest = json_deep_copy(s);
            json_object_del(rest, "$ref");
            json_t *target = resolve(c, json_string_value(ref));
            json_t *m = target ? merge(c, target, rest, 0) : NULL;
            json_decref(rest);
            if (target == NULL) failf(c, FM_STATUS_UNSUPPORTED, "$ref '%s' is not a pointer into this schema", json_string_value(ref));
            if (m) {
                json_array_append_new(c->merged, m);
                r = schema_sym(c, m);
            }
        }
    } else if (all && json_is_array(all)) {
        json_t *acc = json_deep_copy(s);
        json_object_del(acc, "allOf");
        size_t i;
        json_t *x;
        json_array_foreach(all, i, x) {
            const size_t o = path_push(c, "allOf"), o2 = path_push_i(c, i);
            json_t *m = merge(c, acc, x, 0);
            path_pop(c, o2), path_pop(c, o);
            json_decref(acc);
            acc = m;
            if (acc == NULL) break;
        }
        if (acc) {
            json_array_append_new(c->merged, acc);
            r = schema_sym(c, acc);
        }
    } else if (one && json_is_array(one) && !any) {
        r = one_of_sym(c, s, one);
    } else if ((any && json_is_array(any)) || (one && json_is_array(one))) {
        json_t *list = any ? any : one;
        const char *name = any ? "anyOf" : "oneOf";
        json_t *base = json_deep_copy(s);
        json_object_del(base, name);
        const int trivial_base = json_object_size(base) == 0;
        const int32_t h = new_alt(c);
        size_t i;
        json_t *x;
        json_array_foreach(list, i, x) {
            const size_t o = path_push(c, name), o2 = path_push_i(c, i);
            if (json_is_false(x)) {
                path_pop(c, o2), path_pop(c, o);
                continue;
            }
            if (trivial_base) alt_add(c, h, schema_sym(c, x));
            else {
                json_t *m = merge(c, base, x, 0);
                if (m) {
                    json_array_append_new(c->merged, m);
                    alt_add(c, h, schema_sym(c, m));
                }
            }
            path_pop(c, o2), path_pop(c, o);
        }
        json_decref(base);
        r = alt_sym(c, h);
    } else if (cn) {
        r = value_literal(c, cn); /* the type keywords cannot add to a constant */
    } else if (en) {
        if (!json_is_array(en) || json_array_size(en) == 0)
            failf(c, FM_STATUS_INVALID_ARGUMENT, "enum must be a non-empty array");
        const int32_t h = new_alt(c);
        size_t i;
        json_t *x;
        json_t *t = json_object_get(s, "type");
        json_array_foreach(en, i, x) {
            /* a value the type rules out is no option */
            const char *tn = json_is_null(x) ? "null" : json_is_boolean(x) ? "boolean" : json_is_integer(x) ? "integer"
                             : json_is_real(x) ? "number" : json_is_string(x) ? "string" : json_is_array(x) ? "array" : "object";
            if (t && !has_type(t, tn)) continue;
            alt_add(c, h, value_literal(c, x));
        }
        r = alt_sym(c, h);
    } else {
        r = types_sym(c, s);
    }
    c->depth--;
    return c->st ? BAD : r;
}

fm_status fm_grammar_from_json_schema(const char *schema, size_t len, uint32_t flags, fm_grammar **out) {
    fm_error_clear();
    if (out == NULL || (schema == NULL && len > 0))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_grammar_from_json_schema: NULL argument");
    *out = NULL;
    if (flags & ~(uint32_t)FM_JSON_COMPACT)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_grammar_from_json_schema: unknown flags 0x%x", flags);
    json_error_t je;
    json_t *root = json_loadb(schema ? schema : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (root == NULL && strstr(je.text, "too big"))
        root = json_loadb(schema, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &je);
    if (root == NULL)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "JSON Schema is not valid JSON: line %d, column %d: %s", je.line,
                        je.column, je.text);
    jc c;
    memset(&c, 0, sizeof c);
    c.root = root, c.flags = flags;
    c.ws = c.any_value = c.any_string = c.any_number = c.any_int = BAD;
    c.merged = json_array();
    fm_status st = fm_gbuild_new(&c.b);
    if (st || c.merged == NULL) {
        json_decref(root);
        json_decref(c.merged);
        fm_gbuild_free(c.b);
        return st ? st : fm_error(FM_STATUS_NO_MEMORY, "out of memory");
    }
    const uint32_t value = schema_sym(&c, root);
    int32_t top = -1;
    if (!c.st) {
        /* leading whitespace is JSON too */
        top = fm_gbuild_named(c.b, "root", 4);
        const uint32_t parts[2] = {ws(&c), value};
        if (top < 0) oom(&c);
        else if (!c.st && (st = fm_gbuild_prod(c.b, top, parts, 2))) c.st = st;
    }
    for (size_t i = 0; i < c.refs.n; i++) free(c.refs.ptr[i]);
    free(c.refs.ptr);
    free(c.refs.sym);
    json_decref(c.merged);
    json_decref(root);
    if (c.st) {
        fm_gbuild_free(c.b);
        return c.st;
    }
    return fm_gbuild_finish(c.b, top, out);
}
