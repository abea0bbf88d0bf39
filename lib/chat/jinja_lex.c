/* The template lexer: text and tags, with Jinja's whitespace rules as
 * transformers configures them (trim_blocks: the first newline after a
 * block or comment tag goes; lstrip_blocks: spaces and tabs between a line
 * start and a block or comment tag go; `-` strips all whitespace on its
 * side, `+` keeps it), and the expression tokens inside tags. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jinja.h"
#include "core/grow.h"

typedef struct lexer {
    jarena *a;
    const char *src;
    size_t n, pos;
    size_t lpos;          /* position whose line/col is known */
    int line, col;
    jtok *t;
    size_t nt, cap;
    jerror *err;
    int line_starting;    /* the last tag end swallowed a newline (or at the start) */
    int depth;            /* open ( [ { inside the current tag */
} lexer;

static void where(lexer *L, size_t pos, int *line, int *col) {
    if (pos < L->lpos) { L->lpos = 0; L->line = 1; L->col = 1; }
    for (; L->lpos < pos; L->lpos++) {
        if (L->src[L->lpos] == '\n') { L->line++; L->col = 1; }
        else if (((unsigned char)L->src[L->lpos] & 0xC0) != 0x80) L->col++;
    }
    *line = L->line;
    *col = L->col;
}

static int fail(lexer *L, size_t pos, const char *fmt, ...) FM_PRINTF(3, 4);
static int fail(lexer *L, size_t pos, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    L->err->kind = JERR_SYNTAX;
    where(L, pos, &L->err->line, &L->err->col);
    vsnprintf(L->err->msg, sizeof L->err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

/* Not a syntax error: the caller must see NO_MEMORY. */
static int oom(lexer *L, size_t pos) {
    fail(L, pos, "out of memory");
    L->err->kind = JERR_MEMORY;
    return -1;
}

static jtok *push(lexer *L, jtk k, size_t pos, const char *s, size_t n) {
    jtok *t = fm_grow(L->t, &L->cap, L->nt + 1, sizeof *t, 256);
    if (t == NULL) return NULL;
    L->t = t;
    t = &L->t[L->nt++];
    memset(t, 0, sizeof *t);
    t->k = (uint8_t)k;
    t->s = s;
    t->n = n;
    where(L, pos, &t->line, &t->col);
    return t;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
static int is_name0(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Text before a tag whose opening modifier is `mod` ('-', '+' or 0). */
static int emit_text(lexer *L, size_t from, size_t to, char mod, int block) {
    const char *s = L->src + from;
    size_t n = to - from;
    if (mod == '-') {
        while (n && is_space(s[n - 1])) n--;
    } else if (mod != '+' && block) {
        size_t l = n;
        while (l && s[l - 1] != '\n') l--;
        if (l > 0 || L->line_starting) {
            size_t k = l;
            while (k < n && (s[k] == ' ' || s[k] == '\t')) k++;
            if (k == n) n = l;
        }
    }
    if (n && push(L, TK_TEXT, from, s, n) == NULL) return oom(L, from);
    return 0;
}

/* After a tag's end at `pos` with closing modifier `mod`: the position where
 * text resumes. */
static size_t after_end(lexer *L, size_t pos, char mod, int block) {
    size_t start = pos;
    if (mod == '-') {
        while (pos < L->n && is_space(L->src[pos])) pos++;
    } else if (mod != '+' && block && pos < L->n && L->src[pos] == '\n') {
        pos++;
    }
    L->line_starting = pos > start ? L->src[pos - 1] == '\n' : 0;
    return pos;
}

static const char *const ops[] = {
    "**", "//", "==", "!=", "<=", ">=",
    "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ".", ",", ":", "|"
};

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A string literal at L->pos (on the quote), with Python's escapes. */
static int lex_string(lexer *L) {
    size_t start = L->pos;
    char q = L->src[L->pos++];
    size_t end = L->pos;
    while (end < L->n && L->src[end] != q) {
        if (L->src[end] == '\\' && end + 1 < L->n) end++;
        end++;
    }
    if (end >= L->n) return fail(L, start, "unterminated string literal");
    char *o = ja_alloc(L->a, end - L->pos + 1);
    if (o == NULL) return oom(L, start);
    size_t k = 0;
    for (size_t i = L->pos; i < end; i++) {
        char c = L->src[i];
        if (c != '\\') { o[k++] = c; continue; }
        char e = L->src[++i];
        int digits = 0;
        switch (e) {
        case 'n': o[k++] = '\n'; break;
        case 't': o[k++] = '\t'; break;
        case 'r': o[k++] = '\r'; break;
        case '0': o[k++] = '\0'; break;
        case 'a': o[k++] = '\a'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'v': o[k++] = '\v'; break;
        case '\\': case '\'': case '"': o[k++] = e; break;
        case '\n': break;
        case 'x': digits = 2; break;
        case 'u': digits = 4; break;
        case 'U': digits = 8; break;
        default: o[k++] = '\\'; o[k++] = e; break;
        }
        if (digits) {
            uint32_t cp = 0;
            for (int d = 0; d < digits; d++) {
                int h = i + 1 < end ? hexval(L->src[i + 1]) : -1;
                if (h < 0) return fail(L, i, "truncated \\%c escape in a string literal", e);
                cp = cp * 16 + (uint32_t)h;
                i++;
            }
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return fail(L, i, "escape is not a Unicode scalar value");
            k += put_utf8(o + k, cp);
        }
    }
    o[k] = 0;
    jtok *t = push(L, TK_STR, start, o, k);
    if (t == NULL) return oom(L, start);
    L->pos = end + 1;
    return 0;
}

/* Digits go through a fixed buffer for strtod/strtoll; a literal longer
 * than it is refused rather than silently cut (its value would change). */
#define NUM_PUT(c) do { if (bn < sizeof buf - 1) buf[bn++] = (c); else too_long = 1; } while (0)

static int lex_number(lexer *L) {
    size_t start = L->pos, p = L->pos;
    int is_float = 0, too_long = 0;
    char buf[64];
    size_t bn = 0;
    while (p < L->n && (is_digit(L->src[p]) || L->src[p] == '_')) {
        if (L->src[p] != '_') NUM_PUT(L->src[p]);
        p++;
    }
    if (p + 1 < L->n && L->src[p] == '.' && is_digit(L->src[p + 1])) {
        is_float = 1;
        NUM_PUT('.');
        p++;
        while (p < L->n && (is_digit(L->src[p]) || L->src[p] == '_')) {
            if (L->src[p] != '_') NUM_PUT(L->src[p]);
            p++;
        }
    }
    if (p < L->n && (L->src[p] == 'e' || L->src[p] == 'E')) {
        size_t q = p + 1;
        if (q < L->n && (L->src[q] == '+' || L->src[q] == '-')) q++;
        if (q < L->n && is_digit(L->src[q])) {
            is_float = 1;
            for (; p < q; p++) NUM_PUT(L->src[p]);
            while (p < L->n && is_digit(L->src[p])) {
                NUM_PUT(L->src[p]);
                p++;
            }
        }
    }
    if (too_long) return fail(L, start, "number literal too long");
    buf[bn] = 0;
    jtok *t = push(L, is_float ? TK_FLOAT : TK_INT, start, L->src + start, p - start);
    if (t == NULL) return oom(L, start);
    if (is_float) {
        t->f = strtod(buf, NULL);
    } else {
        if (bn > 18) return fail(L, start, "integer literal too large");
        t->i = strtoll(buf, NULL, 10);
    }
    L->pos = p;
    return 0;
}
#undef NUM_PUT

/* The inside of a {{ }} or {% %} tag up to its end, which is pushed too. */
static int lex_tag(lexer *L, int block) {
    L->depth = 0;
    for (;;) {
        while (L->pos < L->n && is_space(L->src[L->pos])) L->pos++;
        if (L->pos >= L->n) return fail(L, L->pos, "unexpected end of template inside a tag");
        const char *s = L->src + L->pos;
        size_t left = L->n - L->pos;
        char endc = block ? '%' : '}';
        if (L->depth == 0) {
            char mod = 0;
            size_t k = 0;
            if ((s[0] == '-' || s[0] == '+') && left >= 3 && s[1] == endc && s[2] == '}') { mod = s[0]; k = 1; }
            if (left >= k + 2 && s[k] == endc && s[k + 1] == '}') {
                if (mod == '+' && !block) return fail(L, L->pos, "'+' is not allowed before '}}'");
                if (push(L, block ? TK_BEND : TK_VEND, L->pos, s, k + 2) == NULL) return oom(L, L->pos);
                L->pos = after_end(L, L->pos + k + 2, mod, block);
                return 0;
            }
        }
        char c = s[0];
        if (c == '\'' || c == '"') {
            if (lex_string(L)) return -1;
        } else if (is_digit(c)) {
            if (lex_number(L)) return -1;
        } else if (is_name0(c)) {
            size_t k = 1;
            while (k < left && (is_name0(s[k]) || is_digit(s[k]))) k++;
            if (push(L, TK_NAME, L->pos, s, k) == NULL) return oom(L, L->pos);
            L->pos += k;
        } else {
            size_t i, k = 0;
            for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
                k = strlen(ops[i]);
                if (k <= left && memcmp(s, ops[i], k) == 0) break;
            }
            if (i == sizeof ops / sizeof ops[0])
                return fail(L, L->pos, "unexpected character '%c'", c >= 0x20 && c < 0x7f ? c : '?');
            if (c == '(' || c == '[' || c == '{') L->depth++;
            else if (c == ')' || c == ']' || c == '}') {
                if (L->depth == 0) return fail(L, L->pos, "unexpected '%c'", c);
                L->depth--;
            }
            if (push(L, TK_OP, L->pos, s, k) == NULL) return oom(L, L->pos);
            L->pos += k;
        }
    }
}

/* At L->pos just past "{%" + modifier: is this {% raw %}? Returns the
 * position past its end and the end's modifier, or 0. */
static size_t raw_tag(lexer *L, size_t p, const char *word, char *endmod) {
    size_t wn = strlen(word);
    while (p < L->n && is_space(L->src[p])) p++;
    if (p + wn > L->n || memcmp(L->src + p, word, wn) != 0) return 0;
    p += wn;
    if (p < L->n && (is_name0(L->src[p]) || is_digit(L->src[p]))) return 0;
    while (p < L->n && is_space(L->src[p])) p++;
    *endmod = 0;
    if (p < L->n && (L->src[p] == '-' || L->src[p] == '+')) *endmod = L->src[p++];
    if (p + 2 <= L->n && L->src[p] == '%' && L->src[p + 1] == '}') return p + 2;
    return 0;
}

static int lex_raw(lexer *L, size_t body) {
    for (size_t p = body; p + 1 < L->n; p++) {
        if (L->src[p] != '{' || L->src[p + 1] != '%') continue;
        size_t q = p + 2;
        char mod = 0, endmod;
        if (q < L->n && (L->src[q] == '-' || L->src[q] == '+')) mod = L->src[q++];
        size_t end = raw_tag(L, q, "endraw", &endmod);
        if (!end) continue;
        if (emit_text(L, body, p, mod, 1)) return -1;
        L->pos = after_end(L, end, endmod, 1);
        return 0;
    }
    return fail(L, body, "missing {%% endraw %%}");
}

int jinja_lex(jarena *a, const char *src, size_t n, jtok **toks, size_t *ntok, jerror *err) {
    lexer L = {0};
    L.a = a;
    L.src = src;
    L.n = n;
    L.line = L.col = 1;
    L.err = err;
    L.line_starting = 1;
    while (L.pos < n) {
        const char *hit = NULL;
        for (size_t p = L.pos; p + 1 < n; p++) {
            const char *m = memchr(src + p, '{', n - p - 1);
            if (m == NULL) break;
            p = (size_t)(m - src);
            char c = src[p + 1];
            if (c == '{' || c == '%' || c == '#') { hit = m; break; }
        }
        if (hit == NULL) {
            if (emit_text(&L, L.pos, n, 0, 0)) goto bad;
            L.pos = n;
            break;
        }
        size_t tp = (size_t)(hit - src);
        char kind = hit[1];
        size_t q = tp + 2;
        char mod = 0;
        if (q < n && (src[q] == '-' || src[q] == '+')) mod = src[q++];
        if (mod == '+' && kind == '{') mod = 0;  /* `{{+x}}` is a unary plus */
        if (emit_text(&L, L.pos, tp, mod, kind != '{')) goto bad;
        if (kind == '#') {
            size_t p = q;
            for (;;) {
                const char *e = p < n ? memchr(src + p, '#', n - p) : NULL;
                if (e == NULL || (size_t)(e - src) + 1 >= n) { fail(&L, tp, "unclosed comment"); goto bad; }
                p = (size_t)(e - src);
                if (src[p + 1] == '}') break;
                p++;
            }
            char emod = p > q && (src[p - 1] == '-' || src[p - 1] == '+') ? src[p - 1] : 0;
            L.pos = after_end(&L, p + 2, emod, 1);
            continue;
        }
        if (kind == '%') {
            char endmod;
            size_t end = raw_tag(&L, q, "raw", &endmod);
            if (end) {
                L.pos = after_end(&L, end, endmod, 1);
                if (lex_raw(&L, L.pos)) goto bad;
                continue;
            }
        }
        if (push(&L, kind == '%' ? TK_BBEGIN : TK_VBEGIN, tp, hit, q - tp) == NULL) { oom(&L, tp); goto bad; }
        L.pos = q;
        if (lex_tag(&L, kind == '%')) goto bad;
    }
    if (push(&L, TK_EOF, n, src + n, 0) == NULL) { oom(&L, n); goto bad; }
    /* the tokens move into the arena so that the template owns one block */
    jtok *t = ja_alloc(a, L.nt * sizeof *t);
    if (t == NULL) { oom(&L, 0); goto bad; }
    jcopy(t, L.t, L.nt * sizeof *t);
    free(L.t);
    *toks = t;
    *ntok = L.nt;
    return 0;
bad:
    free(L.t);
    return -1;
}
