/* GBNF, llama.cpp's grammar syntax, read into the grammar builder:
 *
 *   name ::= alternatives      # a rule; "root" is where matching starts
 *   "lit\n\x41\u00e9"          literals, with llama.cpp's escapes
 *   [a-z0-9_] [^"\\] .         character classes, negation, any character
 *   ( ... ) | * + ? {m} {m,} {m,n} {,n}
 *
 * A rule's alternatives end at a newline unless inside parentheses, or
 * after '::=' or '|' (and, beyond llama.cpp, before a '|' that starts the
 * next line). Errors name the line and column. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/grow.h"
#include "../core/utf8.h"
#include "grammar.h"

#define GBNF_MAX_REPEAT 4096

typedef struct gp {
    const char *s, *end, *p;
    fm_gbuild *b;
    /* per rule id: where it was first referenced (offset + 1; 0 none) */
    size_t *ref_at;
    size_t cap_ref;
    int depth;
    fm_status st;
} gp;

static void where(const gp *g, const char *at, int *line, int *col) {
    *line = 1, *col = 1;
    for (const char *q = g->s; q < at; q++) {
        if (*q == '\n') (*line)++, *col = 1;
        else if (((unsigned char)*q & 0xC0) != 0x80) (*col)++;
    }
}

#define FAIL_AT(g, at, ...) (fail_at(g, at, __VA_ARGS__), 0)

static void fail_at(gp *g, const char *at, const char *fmt, ...) FM_PRINTF(3, 4);
static void fail_at(gp *g, const char *at, const char *fmt, ...) {
    if (g->st != FM_STATUS_OK) return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line, col;
    where(g, at, &line, &col);
    g->st = fm_error(FM_STATUS_INVALID_ARGUMENT, "grammar: line %d, column %d: %s", line, col, msg);
}

static void oom(gp *g) {
    if (g->st == FM_STATUS_OK) g->st = fm_error(FM_STATUS_NO_MEMORY, "out of memory parsing a grammar");
}

/* Skips blanks and comments; newlines too when nl. */
static void space(gp *g, int nl) {
    while (g->p < g->end) {
        const char c = *g->p;
        if (c == ' ' || c == '\t' || c == '\r' || (nl && c == '\n')) g->p++;
        else if (c == '#')
            while (g->p < g->end && *g->p != '\n') g->p++;
        else break;
    }
}

static int word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One character of a literal or class (escapes decoded; UTF-8 read as a
 * code point). Returns 0 on error. */
static int read_char(gp *g, uint32_t *cp) {
    const char *at = g->p;
    if (g->p >= g->end) return FAIL_AT(g, at, "unexpected end of grammar");
    unsigned char c = (unsigned char)*g->p;
    if (c == '\\') {
        g->p++;
        if (g->p >= g->end) return FAIL_AT(g, at, "unfinished escape");
        const char e = *g->p++;
        int digits = 0;
        switch (e) {
        case 'n': *cp = '\n'; return 1;
        case 'r': *cp = '\r'; return 1;
        case 't': *cp = '\t'; return 1;
        case '\\': case '"': case '[': case ']': case '-': case '^': *cp = (uint32_t)e; return 1;
        case 'x': digits = 2; break;
        case 'u': digits = 4; break;
        case 'U': digits = 8; break;
        default: return FAIL_AT(g, at, "unknown escape '\\%c'", e);
        }
        uint32_t v = 0;
        for (int i = 0; i < digits; i++) {
            const int h = g->p < g->end ? hexval(*g->p) : -1;
            if (h < 0) return FAIL_AT(g, at, "escape '\\%c' needs %d hex digits", e, digits);
            v = v << 4 | (uint32_t)h;
            g->p++;
        }
        if (v > 0x10FFFF) return FAIL_AT(g, at, "code point U+%X is beyond U+10FFFF", v);
        *cp = v;
        return 1;
    }
    /* UTF-8 */
    int n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || g->p + n > g->end) return FAIL_AT(g, at, "invalid UTF-8 in the grammar");
    uint32_t v = n == 1 ? c : c & (0x3F >> (n - 1));
    for (int i = 1; i < n; i++) {
        const unsigned char d = (unsigned char)g->p[i];
        if ((d & 0xC0) != 0x80) return FAIL_AT(g, at, "invalid UTF-8 in the grammar");
        v = v << 6 | (d & 0x3F);
    }
    g->p += n;
    *cp = v;
    return 1;
}


/* A growable symbol sequence. */
typedef struct seq {
    uint32_t *v;
    size_t n, cap;
} seq;

static int seq_push(gp *g, seq *q, uint32_t s) {
    uint32_t *v = fm_grow(q->v, &q->cap, q->n + 1, sizeof *v, 16);
    if (v == NULL) return oom(g), 0;
    q->v = v;
    q->v[q->n++] = s;
    return 1;
}

static int32_t parse_alternatives(gp *g, int32_t rule, int nested);

/* "..." as byte terminals appended to q */
static int literal(gp *g, seq *q) {
    const char *at = g->p++;
    while (g->p < g->end && *g->p != '"') {
        if (*g->p == '\n') return FAIL_AT(g, at, "unterminated literal");
        uint32_t cp;
        if (!read_char(g, &cp)) return 0;
        uint8_t bytes[4];
        const uint32_t n = fm_utf8_encode(cp, bytes);
        for (uint32_t i = 0; i < n; i++) {
            fm_byteset s = {{0, 0, 0, 0}};
            fm_byteset_add_range(&s, bytes[i], bytes[i]);
            if (!seq_push(g, q, fm_gbuild_term(g->b, &s))) return 0;
        }
    }
    if (g->p >= g->end) return FAIL_AT(g, at, "unterminated literal");
    g->p++;
    return 1;
}

/* [...] or [^...] as one symbol */
static int char_class(gp *g, uint32_t *out) {
    const char *at = g->p++;
    int negate = 0;
    if (g->p < g->end && *g->p == '^') negate = 1, g->p++;
    uint32_t *cp = NULL;
    size_t n = 0, cap = 0;
    int ok = 1;
    while (ok && g->p < g->end && *g->p != ']') {
        uint32_t lo, hi;
        if (*g->p == '\n') {
            ok = FAIL_AT(g, at, "unterminated character class");
            break;
        }
        if (!read_char(g, &lo)) {
            ok = 0;
            break;
        }
        hi = lo;
        if (g->p + 1 < g->end && *g->p == '-' && g->p[1] != ']') {
            g->p++;
            if (*g->p == '\n') {
                ok = FAIL_AT(g, at, "unterminated character class");
                break;
            }
            if (!read_char(g, &hi)) {
                ok = 0;
                break;
            }
            if (hi < lo) {
                ok = FAIL_AT(g, at, "character range U+%04X-U+%04X is reversed", lo, hi);
                break;
            }
        }
        uint32_t *v = fm_grow(cp, &cap, 2 * n + 2, sizeof *v, 16);
        if (v == NULL) {
            oom(g);
            ok = 0;
            break;
        }
        cp = v;
        cp[2 * n] = lo, cp[2 * n + 1] = hi;
        n++;
    }
    if (ok && g->p >= g->end) ok = FAIL_AT(g, at, "unterminated character class");
    if (ok) {
        g->p++;
        n = fm_cp_ranges_normalize(cp, n);
        if (negate) {
            uint32_t *c = fm_malloc((2 * n + 4) * sizeof *c);
            if (c == NULL) {
                oom(g);
                ok = 0;
            } else {
                n = fm_cp_ranges_complement(cp, n, c);
                free(cp);
                cp = c;
            }
        }
        if (ok && n == 0) ok = FAIL_AT(g, at, "the character class matches nothing");
        if (ok) {
            *out = fm_gbuild_class(g->b, cp, n);
            if (*out == 0xFFFFFFFFu) ok = FAIL_AT(g, at, "the character class matches nothing");
        }
    }
    free(cp);
    return ok;
}

static int number(gp *g, uint32_t *v) {
    const char *at = g->p;
    uint64_t x = 0;
    if (g->p >= g->end || *g->p < '0' || *g->p > '9') return FAIL_AT(g, at, "expected a number");
    while (g->p < g->end && *g->p >= '0' && *g->p <= '9') {
        x = x * 10 + (uint64_t)(*g->p++ - '0');
        if (x > 1000000) return FAIL_AT(g, at, "repetition count is too large");
    }
    *v = (uint32_t)x;
    return 1;
}

/* Wraps the symbols q[from..] into one helper symbol (for a postfix
 * operator applied to a multi-symbol literal). */
static int wrap_tail(gp *g, seq *q, size_t from) {
    if (q->n - from == 1) return 1;
    const int32_t h = fm_gbuild_helper(g->b);
    if (h < 0 || fm_gbuild_prod(g->b, h, q->n > from ? q->v + from : NULL, q->n - from)) return oom(g), 0;
    q->n = from;
    return seq_push(g, q, FM_GS_MAKE(FM_GS_NT, h));
}

static int parse_sequence(gp *g, seq *q, int nested) {
    for (;;) {
        space(g, nested);
        if (g->p >= g->end) return 1;
        const char c = *g->p;
        const char *at = g->p;
        const size_t from = q->n;
        if (c == '"') {
            if (!literal(g, q)) return 0;
        } else if (c == '[') {
            uint32_t s;
            if (!char_class(g, &s) || !seq_push(g, q, s)) return 0;
        } else if (c == '.') {
            g->p++;
            const uint32_t any[2] = {0, 0x10FFFF};
            const uint32_t s = fm_gbuild_class(g->b, any, 1);
            if (s == 0xFFFFFFFFu) return oom(g), 0;
            if (!seq_push(g, q, s)) return 0;
        } else if (c == '(') {
            g->p++;
            if (++g->depth > 200) return FAIL_AT(g, at, "groups are nested too deeply");
            const int32_t h = fm_gbuild_helper(g->b);
            if (h < 0) return oom(g), 0;
            if (parse_alternatives(g, h, 1) < 0) return 0;
            space(g, 1);
            if (g->p >= g->end || *g->p != ')') return FAIL_AT(g, at, "'(' without ')'");
            g->p++;
            g->depth--;
            if (!seq_push(g, q, FM_GS_MAKE(FM_GS_NT, h))) return 0;
        } else if (word_char(c)) {
            const char *w = g->p;
            while (g->p < g->end && word_char(*g->p)) g->p++;
            /* a name followed by ::= starts the next rule */
            const char *save = g->p;
            space(g, 0);
            if (g->end - g->p >= 3 && memcmp(g->p, "::=", 3) == 0) {
                g->p = w;
                return 1;
            }
            g->p = save;
            const int32_t r = fm_gbuild_named(g->b, w, (size_t)(save - w));
            if (r < 0) return oom(g), 0;
            if ((size_t)r >= g->cap_ref || g->ref_at[r] == 0) {
                size_t old = g->cap_ref;
                size_t *v = fm_grow(g->ref_at, &g->cap_ref, (size_t)r + 1, sizeof *v, 64);
                if (v == NULL) return oom(g), 0;
                g->ref_at = v;
                for (size_t i = old; i < g->cap_ref; i++) v[i] = 0;
                v[r] = (size_t)(w - g->s) + 1;
            }
            if (!seq_push(g, q, FM_GS_MAKE(FM_GS_NT, r))) return 0;
        } else if (c == '<') {
            return FAIL_AT(g, at, "token references (<...>) are not supported");
        } else {
            return 1; /* '|', ')', newline, or something the caller judges */
        }
        /* postfix operators */
        space(g, nested);
        if (g->p < g->end && (*g->p == '*' || *g->p == '+' || *g->p == '?' || *g->p == '{')) {
            const char op = *g->p;
            const char *opat = g->p++;
            uint32_t lo = 0, hi = UINT32_MAX;
            if (op == '+') lo = 1;
            else if (op == '?') hi = 1;
            else if (op == '{') {
                space(g, nested);
                if (g->p < g->end && *g->p == ',') lo = 0;
                else if (!number(g, &lo)) return 0;
                space(g, nested);
                if (g->p < g->end && *g->p == ',') {
                    g->p++;
                    space(g, nested);
                    if (g->p < g->end && *g->p != '}' && !number(g, &hi)) return 0;
                } else {
                    hi = lo;
                }
                space(g, nested);
                if (g->p >= g->end || *g->p != '}') return FAIL_AT(g, opat, "expected '}'");
                g->p++;
                if (hi < lo) return FAIL_AT(g, opat, "repetition {%u,%u} has max below min", lo, hi);
                /* counting is linear in the bound, for the grammar and for
                 * every position the repetition may start at */
                if ((hi != UINT32_MAX && hi > GBNF_MAX_REPEAT) || lo > GBNF_MAX_REPEAT)
                    return FAIL_AT(g, opat, "repetition bounds above %d are not supported", GBNF_MAX_REPEAT);
            }
            if (!wrap_tail(g, q, from)) return 0;
            const uint32_t r = fm_gbuild_repeat(g->b, q->v[q->n - 1], lo, hi);
            if (r == 0xFFFFFFFFu) {
                g->st = FM_STATUS_INVALID_ARGUMENT;
                return 0;
            }
            q->v[q->n - 1] = r;
            space(g, nested);
            if (g->p < g->end && (*g->p == '*' || *g->p == '+' || *g->p == '?' || *g->p == '{'))
                return FAIL_AT(g, g->p, "two repetition operators in a row");
        }
    }
}

/* alternatives of `rule`; returns the rule or -1 */
static int32_t parse_alternatives(gp *g, int32_t rule, int nested) {
    seq q = {NULL, 0, 0};
    for (;;) {
        q.n = 0;
        if (!parse_sequence(g, &q, nested)) break;
        if (fm_gbuild_prod(g->b, rule, q.v, q.n)) {
            g->st = g->st ? g->st : FM_STATUS_NO_MEMORY;
            break;
        }
        space(g, nested);
        if (!nested) {
            /* a '|' at the start of the next line continues the rule */
            const char *save = g->p;
            space(g, 1);
            if (g->p < g->end && *g->p == '|') {
            } else {
                g->p = save;
            }
        }
        if (g->p < g->end && *g->p == '|') {
            g->p++;
            space(g, 1);
            continue;
        }
        free(q.v);
        return rule;
    }
    free(q.v);
    return -1;
}

fm_status fm_grammar_parse_gbnf(const char *text, size_t len, const char *root, fm_grammar **out) {
    fm_error_clear();
    if (out == NULL || (text == NULL && len > 0))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_grammar_parse_gbnf: NULL argument");
    *out = NULL;
    if (root == NULL) root = "root";
    gp g = {text ? text : "", (text ? text : "") + len, text ? text : "", NULL, NULL, 0, 0, FM_STATUS_OK};
    fm_status st = fm_gbuild_new(&g.b);
    if (st) return st;
    while (g.st == FM_STATUS_OK) {
        space(&g, 1);
        if (g.p >= g.end) break;
        const char *at = g.p;
        const char *w = g.p;
        while (g.p < g.end && word_char(*g.p)) g.p++;
        if (g.p == w) {
            fail_at(&g, at, "expected a rule name");
            break;
        }
        const char *wend = g.p;
        space(&g, 0);
        if (g.end - g.p < 3 || memcmp(g.p, "::=", 3) != 0) {
            fail_at(&g, g.p, "expected '::=' after '%.*s'", (int)(wend - w), w);
            break;
        }
        g.p += 3;
        const int32_t r = fm_gbuild_named(g.b, w, (size_t)(wend - w));
        if (r < 0) {
            oom(&g);
            break;
        }
        if (fm_gbuild_defined(g.b, r)) {
            fail_at(&g, at, "rule '%.*s' is defined twice", (int)(wend - w), w);
            break;
        }
        space(&g, 1);
        if (parse_alternatives(&g, r, 0) < 0) break;
        space(&g, 0);
        if (g.p < g.end && *g.p != '\n') {
            fail_at(&g, g.p, *g.p == ')' ? "')' without '('" : "unexpected '%c'", *g.p);
            break;
        }
    }
    int32_t root_id = -1;
    if (g.st == FM_STATUS_OK) {
        root_id = fm_gbuild_named(g.b, root, strlen(root));
        if (root_id < 0) oom(&g);
        else if (!fm_gbuild_defined(g.b, root_id))
            g.st = fm_error(FM_STATUS_INVALID_ARGUMENT, "grammar: no rule named '%s' (the root)", root);
    }
    if (g.st == FM_STATUS_OK)
        for (size_t r = 0; r < g.cap_ref && g.st == FM_STATUS_OK; r++)
            if (g.ref_at[r] && !fm_gbuild_defined(g.b, (int32_t)r)) {
                const char *at = g.s + g.ref_at[r] - 1, *e = at;
                while (e < g.end && word_char(*e)) e++;
                fail_at(&g, at, "rule '%.*s' is used but never defined", (int)(e - at), at);
            }
    free(g.ref_at);
    if (g.st != FM_STATUS_OK) {
        fm_gbuild_free(g.b);
        return g.st;
    }
    return fm_gbuild_finish(g.b, root_id, out);
}
