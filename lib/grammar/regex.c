/* Regular expressions to NFAs: a recursive-descent parser that builds
 * Thompson fragments as it goes. A bounded repetition re-parses its atom
 * once per copy, so no syntax tree is kept. Supported: alternation, groups
 * ((...), (?:...), (?<name>...)), quantifiers (* + ? {m} {m,} {m,n}, lazy
 * forms alike: the language is the same), classes with ranges and
 * negation, escapes (\d \w \s \D \W \S \t \n \r \v \f \0 \xHH \uHHHH
 * \u{H..} \cX, escaped punctuation), '.', and ^ / $ at the ends of a
 * top-level alternative. Refused with a message: backreferences, lookaround,
 * word boundaries, anchors elsewhere. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/grow.h"
#include "regex.h"

#define MAX_NFA_STATES 200000u

typedef struct frag {
    uint32_t s, e;
} frag;

typedef struct rp {
    const char *src, *p, *end, *what;
    fm_nfa_edge *edges; /* unsorted: `lo` of the edge, `to`; from in from[] */
    uint32_t *from;
    size_t n, cap, cap_from;
    uint32_t n_states;
    fm_status st;
} rp;

static void fail(rp *r, const char *fmt, ...) FM_PRINTF(2, 3);
static void fail(rp *r, const char *fmt, ...) {
    if (r->st) return;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->st = fm_error(FM_STATUS_INVALID_ARGUMENT, "%s: regular expression at offset %d: %s", r->what,
                     (int)(r->p - r->src), msg);
}

static uint32_t state(rp *r) {
    if (r->n_states >= MAX_NFA_STATES) {
        fail(r, "the expression is too large (more than %u NFA states)", MAX_NFA_STATES);
        return 0;
    }
    return r->n_states++;
}

static void edge(rp *r, uint32_t from, uint32_t lo, uint32_t hi, uint32_t to) {
    if (r->st) return;
    fm_nfa_edge *e = fm_grow(r->edges, &r->cap, r->n + 1, sizeof *e, 64);
    uint32_t *f = e ? fm_grow(r->from, &r->cap_from, r->n + 1, sizeof *f, 64) : NULL;
    if (e) r->edges = e;
    if (f == NULL) {
        r->st = fm_error(FM_STATUS_NO_MEMORY, "out of memory compiling a regular expression");
        return;
    }
    r->from = f;
    r->edges[r->n] = (fm_nfa_edge){lo, hi, to};
    r->from[r->n++] = from;
}

static frag set_frag(rp *r, const uint32_t *cp, size_t n) {
    frag f = {state(r), state(r)};
    for (size_t i = 0; i < n; i++) edge(r, f.s, cp[2 * i], cp[2 * i + 1], f.e);
    return f;
}

static frag empty_frag(rp *r) {
    frag f = {state(r), state(r)};
    edge(r, f.s, FM_NFA_EPS, FM_NFA_EPS, f.e);
    return f;
}

/* --- character sets -------------------------------------------------------- */

typedef struct cpset {
    uint32_t *v; /* ranges */
    size_t n, cap;
} cpset;

static void cp_add(rp *r, cpset *c, uint32_t lo, uint32_t hi) {
    uint32_t *v = fm_grow(c->v, &c->cap, 2 * c->n + 2, sizeof *v, 16);
    if (v == NULL) {
        r->st = fm_error(FM_STATUS_NO_MEMORY, "out of memory compiling a regular expression");
        return;
    }
    c->v = v;
    c->v[2 * c->n] = lo, c->v[2 * c->n + 1] = hi;
    c->n++;
}

static const uint32_t SPACE[] = {0x09, 0x0D, 0x20, 0x20, 0xA0, 0xA0, 0x1680, 0x1680, 0x2000, 0x200A,
                                 0x2028, 0x2029, 0x202F, 0x202F, 0x205F, 0x205F, 0x3000, 0x3000, 0xFEFF, 0xFEFF};
static const uint32_t DIGIT[] = {'0', '9'};
static const uint32_t WORD[] = {'0', '9', 'A', 'Z', '_', '_', 'a', 'z'};

static void cp_add_class(rp *r, cpset *c, char k) {
    const uint32_t *v;
    size_t n;
    switch (k | 0x20) {
    case 'd': v = DIGIT, n = 1; break;
    case 'w': v = WORD, n = 4; break;
    default: v = SPACE, n = sizeof SPACE / sizeof SPACE[0] / 2; break;
    }
    if (k >= 'a') {
        for (size_t i = 0; i < n; i++) cp_add(r, c, v[2 * i], v[2 * i + 1]);
        return;
    }
    uint32_t tmp[64], out[70];
    memcpy(tmp, v, 2 * n * sizeof *v);
    const size_t m = fm_cp_ranges_complement(tmp, n, out);
    for (size_t i = 0; i < m; i++) cp_add(r, c, out[2 * i], out[2 * i + 1]);
}

static int hexv(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
    return -1;
}

/* A UTF-8 character of the pattern. */
static uint32_t utf8_char(rp *r) {
    const unsigned char c = (unsigned char)*r->p;
    const int n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || r->p + n > r->end) {
        fail(r, "invalid UTF-8");
        r->p = r->end;
        return 0;
    }
    uint32_t v = n == 1 ? c : c & (0x3Fu >> (n - 1));
    for (int i = 1; i < n; i++) v = v << 6 | ((unsigned char)r->p[i] & 0x3F);
    r->p += n;
    return v;
}

/* After a backslash: a class escape adds to `set` and returns 1; a
 * character escape sets *cp and returns 0; -1 on error. in_class: \b is a
 * backspace there, and \B refused. */
static int escape(rp *r, cpset *set, uint32_t *cp, int in_class) {
    if (r->p >= r->end) return fail(r, "a pattern cannot end with '\\'"), -1;
    const char c = *r->p++;
    int digits = 0;
    switch (c) {
    case 'd': case 'D': case 'w': case 'W': case 's': case 'S': cp_add_class(r, set, c); return 1;
    case 't': *cp = '\t'; return 0;
    case 'n': *cp = '\n'; return 0;
    case 'r': *cp = '\r'; return 0;
    case 'v': *cp = '\v'; return 0;
    case 'f': *cp = '\f'; return 0;
    case '0':
        if (r->p < r->end && *r->p >= '0' && *r->p <= '9') return fail(r, "octal escapes are not supported"), -1;
        *cp = 0;
        return 0;
    case 'b':
        if (in_class) return *cp = 8, 0;
        return fail(r, "word boundaries (\\b) are not supported"), -1;
    case 'B': return fail(r, "word boundaries (\\B) are not supported"), -1;
    case 'c':
        if (r->p < r->end && ((*r->p | 0x20) >= 'a' && (*r->p | 0x20) <= 'z')) return *cp = (uint32_t)(*r->p++ % 32), 0;
        return fail(r, "\\c needs a letter"), -1;
    case 'x': digits = 2; break;
    case 'u':
        if (r->p < r->end && *r->p == '{') {
            r->p++;
            uint32_t v = 0;
            int n = 0;
            while (r->p < r->end && hexv(*r->p) >= 0 && n < 7) v = v << 4 | (uint32_t)hexv(*r->p++), n++;
            if (n == 0 || r->p >= r->end || *r->p != '}' || v > 0x10FFFF) return fail(r, "bad \\u{...} escape"), -1;
            r->p++;
            *cp = v;
            return 0;
        }
        digits = 4;
        break;
    default:
        if ((c >= '1' && c <= '9')) return fail(r, "backreferences are not supported"), -1;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            return fail(r, "unknown escape '\\%c'", c), -1;
        r->p--;
        *cp = utf8_char(r);
        return 0;
    }
    uint32_t v = 0;
    for (int i = 0; i < digits; i++) {
        if (r->p >= r->end || hexv(*r->p) < 0) return fail(r, "escape '\\%c' needs %d hex digits", c, digits), -1;
        v = v << 4 | (uint32_t)hexv(*r->p++);
    }
    /* a surrogate pair written as two \u escapes is one character */
    if (c == 'u' && v >= 0xD800 && v <= 0xDBFF && r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u') {
        uint32_t lo = 0;
        int ok = 1;
        for (int i = 0; i < 4; i++) ok &= hexv(r->p[2 + i]) >= 0, lo = lo << 4 | (uint32_t)(ok ? hexv(r->p[2 + i]) : 0);
        if (ok && lo >= 0xDC00 && lo <= 0xDFFF) {
            r->p += 6;
            v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
        }
    }
    *cp = v;
    return 0;
}

static frag class_frag(rp *r) {
    const char *at = r->p++;
    int negate = 0;
    if (r->p < r->end && *r->p == '^') negate = 1, r->p++;
    cpset set = {NULL, 0, 0};
    while (!r->st && r->p < r->end && *r->p != ']') { /* "[]" matches nothing, "[^]" anything */
        uint32_t lo;
        if (*r->p == '\\') {
            r->p++;
            const int k = escape(r, &set, &lo, 1);
            if (k < 0) break;
            if (k == 1) continue; /* \d etc.: no range from it */
        } else {
            lo = utf8_char(r);
        }
        uint32_t hi = lo;
        if (r->p + 1 < r->end && *r->p == '-' && r->p[1] != ']') {
            r->p++;
            if (*r->p == '\\') {
                r->p++;
                cpset dummy = {NULL, 0, 0};
                const int k = escape(r, &dummy, &hi, 1);
                free(dummy.v);
                if (k < 0) break;
                if (k == 1) {
                    fail(r, "a range cannot end in a class escape");
                    break;
                }
            } else {
                hi = utf8_char(r);
            }
            if (hi < lo) {
                fail(r, "character range out of order");
                break;
            }
        }
        cp_add(r, &set, lo, hi);
    }
    frag f = {0, 0};
    if (!r->st && r->p >= r->end) {
        r->p = at;
        fail(r, "unterminated character class");
    }
    if (!r->st) {
        r->p++;
        set.n = fm_cp_ranges_normalize(set.v, set.n);
        if (negate) {
            uint32_t *c = fm_malloc((2 * set.n + 4) * sizeof *c);
            if (c == NULL) {
                r->st = fm_error(FM_STATUS_NO_MEMORY, "out of memory compiling a regular expression");
            } else {
                set.n = fm_cp_ranges_complement(set.v, set.n, c);
                free(set.v);
                set.v = c;
            }
        }
        if (!r->st) f = set_frag(r, set.v, set.n); /* an empty class matches nothing: no edges */
    }
    free(set.v);
    return f;
}

static frag disjunction(rp *r, int depth);

/* An atom; *ok 0 at the end of an alternative (nothing consumed). */
static frag atom(rp *r, int depth, int *ok) {
    *ok = 1;
    frag none = {0, 0};
    const char c = *r->p;
    if (c == '(') {
        r->p++;
        if (r->p < r->end && *r->p == '?') {
            if (r->p + 1 < r->end && r->p[1] == ':') r->p += 2;
            else if (r->p + 1 < r->end && r->p[1] == '<' && r->p + 2 < r->end && r->p[2] != '=' && r->p[2] != '!') {
                while (r->p < r->end && *r->p != '>') r->p++;
                if (r->p < r->end) r->p++;
            } else {
                fail(r, "lookaround assertions are not supported");
                return none;
            }
        }
        if (depth > 100) {
            fail(r, "groups are nested too deeply");
            return none;
        }
        frag f = disjunction(r, depth + 1);
        if (r->st) return none;
        if (r->p >= r->end || *r->p != ')') {
            fail(r, "'(' without ')'");
            return none;
        }
        r->p++;
        return f;
    }
    if (c == '[') return class_frag(r);
    if (c == '.') {
        r->p++;
        static const uint32_t dot[] = {0, 9, 11, 12, 14, 0x2027, 0x202A, 0x10FFFF};
        return set_frag(r, dot, 4);
    }
    if (c == '\\') {
        r->p++;
        cpset set = {NULL, 0, 0};
        uint32_t cp;
        const int k = escape(r, &set, &cp, 0);
        frag f = none;
        if (k == 1) {
            set.n = fm_cp_ranges_normalize(set.v, set.n);
            f = set_frag(r, set.v, set.n);
        } else if (k == 0) {
            const uint32_t one[2] = {cp, cp};
            f = set_frag(r, one, 1);
        }
        free(set.v);
        return f;
    }
    if (c == '*' || c == '+' || c == '?') {
        fail(r, "nothing to repeat");
        return none;
    }
    if (c == ')' && depth == 0) {
        fail(r, "')' without '('");
        return none;
    }
    const uint32_t cp = utf8_char(r);
    const uint32_t one[2] = {cp, cp};
    return set_frag(r, one, 1);
}

/* A quantifier at r->p: 1 and the bounds, or 0 (none; a '{' that is not
 * a quantifier is a literal, as ECMAScript's Annex B has it). */
static int quantifier(rp *r, uint32_t *lo, uint32_t *hi) {
    const char c = *r->p;
    if (c == '*') return r->p++, *lo = 0, *hi = UINT32_MAX, 1;
    if (c == '+') return r->p++, *lo = 1, *hi = UINT32_MAX, 1;
    if (c == '?') return r->p++, *lo = 0, *hi = 1, 1;
    if (c != '{') return 0;
    const char *q = r->p + 1;
    uint64_t a = 0, b;
    int na = 0;
    while (q < r->end && *q >= '0' && *q <= '9' && a < 100000000) a = a * 10 + (uint64_t)(*q++ - '0'), na++;
    if (na == 0) return 0;
    b = a;
    if (q < r->end && *q == ',') {
        q++;
        b = UINT32_MAX;
        int nb = 0;
        uint64_t v = 0;
        while (q < r->end && *q >= '0' && *q <= '9' && v < 100000000) v = v * 10 + (uint64_t)(*q++ - '0'), nb++;
        if (nb) b = v;
    }
    if (q >= r->end || *q != '}') return 0;
    r->p = q + 1;
    if (b < a) {
        fail(r, "repetition {%llu,%llu} out of order", (unsigned long long)a, (unsigned long long)b);
        return 0;
    }
    if (a > 100000 || (b != UINT32_MAX && b > 100000)) {
        fail(r, "repetition count is too large");
        return 0;
    }
    *lo = (uint32_t)a, *hi = (uint32_t)b;
    return 1;
}

static frag concat(rp *r, frag a, frag b) {
    edge(r, a.e, FM_NFA_EPS, FM_NFA_EPS, b.s);
    return (frag){a.s, b.e};
}

static frag alternative(rp *r, int depth, int top, int *anchored_start, int *anchored_end) {
    frag f = empty_frag(r);
    if (top && r->p < r->end && *r->p == '^') r->p++, *anchored_start = 1;
    while (!r->st && r->p < r->end && *r->p != '|' && *r->p != ')') {
        if (*r->p == '^') {
            fail(r, "'^' is supported only at the start of the pattern or of a top-level alternative");
            break;
        }
        if (*r->p == '$') {
            r->p++;
            if (top && (r->p >= r->end || *r->p == '|')) {
                *anchored_end = 1;
                break;
            }
            r->p--;
            fail(r, "'$' is supported only at the end of the pattern or of a top-level alternative");
            break;
        }
        const char *start = r->p;
        int ok;
        frag a = atom(r, depth, &ok);
        if (r->st) break;
        uint32_t lo, hi;
        if (r->p < r->end && quantifier(r, &lo, &hi)) {
            if (r->p < r->end && *r->p == '?') r->p++; /* lazy: same language */
            const char *after = r->p;
            /* copies 2.. re-parse the atom */
            frag rep = empty_frag(r);
            const uint32_t copies = hi == UINT32_MAX ? lo + 1 : hi;
            for (uint32_t i = 0; i < copies && !r->st; i++) {
                frag c;
                if (i == 0) c = a;
                else {
                    r->p = start;
                    c = atom(r, depth, &ok);
                    r->p = after;
                }
                if (r->st) break;
                if (hi == UINT32_MAX && i == lo) { /* the last copy loops */
                    const uint32_t s = state(r), e = state(r);
                    edge(r, s, FM_NFA_EPS, FM_NFA_EPS, c.s);
                    edge(r, s, FM_NFA_EPS, FM_NFA_EPS, e);
                    edge(r, c.e, FM_NFA_EPS, FM_NFA_EPS, c.s);
                    edge(r, c.e, FM_NFA_EPS, FM_NFA_EPS, e);
                    c = (frag){s, e};
                } else if (i >= lo) { /* optional copy */
                    edge(r, c.s, FM_NFA_EPS, FM_NFA_EPS, c.e);
                }
                rep = concat(r, rep, c);
            }
            r->p = after;
            if (r->p < r->end && (*r->p == '*' || *r->p == '+' || (*r->p == '{' && quantifier(r, &lo, &hi)))) {
                fail(r, "nothing to repeat");
                break;
            }
            a = rep;
        }
        f = concat(r, f, a);
    }
    return f;
}

static frag disjunction(rp *r, int depth) {
    int as = 0, ae = 0;
    frag f = alternative(r, depth, 0, &as, &ae);
    if (r->p < r->end && *r->p == '|') {
        const uint32_t s = state(r), e = state(r);
        edge(r, s, FM_NFA_EPS, FM_NFA_EPS, f.s);
        edge(r, f.e, FM_NFA_EPS, FM_NFA_EPS, e);
        while (!r->st && r->p < r->end && *r->p == '|') {
            r->p++;
            frag g = alternative(r, depth, 0, &as, &ae);
            edge(r, s, FM_NFA_EPS, FM_NFA_EPS, g.s);
            edge(r, g.e, FM_NFA_EPS, FM_NFA_EPS, e);
        }
        f = (frag){s, e};
    }
    return f;
}

/* anything (every code point), any number of times */
static frag any_star(rp *r) {
    const uint32_t s = state(r);
    edge(r, s, 0, 0x10FFFF, s);
    return (frag){s, s};
}

static fm_status finish(rp *r, uint32_t start, uint32_t accept, fm_nfa *out) {
    memset(out, 0, sizeof *out);
    if (r->st) {
        free(r->edges);
        free(r->from);
        return r->st;
    }
    out->n_states = r->n_states, out->start = start, out->accept = accept;
    out->edge_start = fm_calloc((size_t)r->n_states + 1, sizeof *out->edge_start);
    out->edges = fm_malloc((r->n ? r->n : 1) * sizeof *out->edges);
    if (out->edge_start == NULL || out->edges == NULL) {
        free(r->edges);
        free(r->from);
        fm_nfa_free(out);
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory compiling a regular expression");
    }
    for (size_t i = 0; i < r->n; i++) out->edge_start[r->from[i] + 1]++;
    for (uint32_t s = 0; s < r->n_states; s++) out->edge_start[s + 1] += out->edge_start[s];
    uint32_t *fill = fm_malloc(((size_t)r->n_states + 1) * sizeof *fill);
    if (fill == NULL) {
        free(r->edges);
        free(r->from);
        fm_nfa_free(out);
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory compiling a regular expression");
    }
    memcpy(fill, out->edge_start, ((size_t)r->n_states + 1) * sizeof *fill);
    for (size_t i = 0; i < r->n; i++) out->edges[fill[r->from[i]]++] = r->edges[i];
    out->n_edges = r->n;
    free(fill);
    free(r->edges);
    free(r->from);
    return FM_STATUS_OK;
}

fm_status fm_regex_to_nfa(const char *re, size_t len, int search, const char *what, fm_nfa *out) {
    rp r = {re, re, re + len, what ? what : "pattern", NULL, NULL, 0, 0, 0, 0, FM_STATUS_OK};
    /* top level: alternatives, each anchored or not on its own. The
     * unanchored ones share one "anything" before and one after: with a
     * tail each, the DFA would remember which of them had matched (2^n
     * subsets of tails that all accept everything) */
    const uint32_t s = state(&r), e = state(&r);
    uint32_t head = FM_NFA_EPS, tail = FM_NFA_EPS;
    if (search) {
        head = any_star(&r).s, tail = any_star(&r).s;
        edge(&r, tail, FM_NFA_EPS, FM_NFA_EPS, e);
    }
    int head_used = 0; /* (entered only if some alternative needs it) */
    do {
        if (r.p < r.end && *r.p == '|') r.p++;
        int as = 0, ae = 0;
        frag f = alternative(&r, 0, 1, &as, &ae);
        if (search && !as && !head_used) edge(&r, s, FM_NFA_EPS, FM_NFA_EPS, head), head_used = 1;
        edge(&r, search && !as ? head : s, FM_NFA_EPS, FM_NFA_EPS, f.s);
        edge(&r, f.e, FM_NFA_EPS, FM_NFA_EPS, search && !ae ? tail : e);
    } while (!r.st && r.p < r.end && *r.p == '|');
    if (!r.st && r.p < r.end) fail(&r, *r.p == ')' ? "')' without '('" : "unexpected '%c'", *r.p);
    return finish(&r, s, e, out);
}

fm_status fm_nfa_any(fm_nfa *out, const uint32_t *cp, size_t n_ranges) {
    rp r = {"", "", "", "set", NULL, NULL, 0, 0, 0, 0, FM_STATUS_OK};
    frag f = set_frag(&r, cp, n_ranges);
    return finish(&r, f.s, f.e, out);
}

void fm_nfa_free(fm_nfa *n) {
    free(n->edges);
    free(n->edge_start);
    memset(n, 0, sizeof *n);
}
