/* Values of the template interpreter: the arena they live in, lists and
 * ordered dicts, and the Python conversions templates can observe: str(),
 * repr(), json.dumps() and truth. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "../core/alloc.h"
#include "chat/jinja.h"

/* ---- arena ------------------------------------------------------------ */

struct jchunk { jchunk *next; size_t cap; max_align_t data[]; };

enum { JA_CHUNK = 64 * 1024 };

void ja_init(jarena *a, size_t limit) {
    memset(a, 0, sizeof *a);
    a->limit = limit;
}

void ja_free(jarena *a) {
    jchunk *c = a->head;
    while (c) {
        jchunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used = a->cap = a->total = 0;
}

void *ja_alloc(jarena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    if (a->head == NULL || a->cap - a->used < n) {
        size_t cap = n > JA_CHUNK / 4 ? n : JA_CHUNK;
        if (a->limit && (a->total + cap > a->limit || cap > a->limit)) {
            a->over_limit = 1;
            return NULL;
        }
        jchunk *c = fm_malloc(sizeof *c + cap);
        if (c == NULL) return NULL;
        c->cap = cap;
        a->total += cap;
        if (cap != JA_CHUNK && a->head) {
            /* a big block of its own: keep filling the current chunk */
            c->next = a->head->next;
            a->head->next = c;
            return c->data;
        }
        c->next = a->head;
        a->head = c;
        a->used = 0;
        a->cap = cap;
    }
    void *p = (char *)a->head->data + a->used;
    a->used += n;
    return p;
}

void *jr_alloc(jrt *rt, size_t n) {
    void *p = ja_alloc(&rt->arena, n);
    if (p == NULL && rt->arena.over_limit)
        jr_fail(rt, JERR_LIMIT, "the template needs more than %zu bytes of memory", rt->lim.max_memory);
    if (p == NULL) jr_fail(rt, JERR_MEMORY, "out of memory");
    return p;
}

char *jr_strdup(jrt *rt, const char *s, size_t n) {
    char *p = jr_alloc(rt, n + 1);
    jcopy(p, s, n);
    p[n] = 0;
    return p;
}

_Noreturn void jr_fail(jrt *rt, jerrk kind, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    rt->err->kind = kind;
    rt->err->line = rt->line;
    rt->err->col = rt->col;
    vsnprintf(rt->err->msg, sizeof rt->err->msg, fmt, ap);
    va_end(ap);
    longjmp(rt->jmp, 1);
}

/* ---- buffers ---------------------------------------------------------- */

void jb_put(jrt *rt, jbuf *b, const char *s, size_t n) {
    if (n == 0) return;
    if (b->cap - b->n < n) {
        if (b->n + n > rt->lim.max_output)
            jr_fail(rt, JERR_LIMIT, "the output would pass %zu bytes", rt->lim.max_output);
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n) cap *= 2;
        char *p = jr_alloc(rt, cap);
        jcopy(p, b->p, b->n);
        b->p = p;
        b->cap = cap;
    }
    jcopy(b->p + b->n, s, n);
    b->n += n;
}

jval jb_value(jrt *rt, const jbuf *b) {
    return jv_str(b->n ? jr_strdup(rt, b->p, b->n) : "", b->n);
}

/* ---- lists and dicts -------------------------------------------------- */

jlist *jl_new(jrt *rt, uint32_t cap) {
    jlist *l = jr_alloc(rt, sizeof *l);
    l->n = 0;
    l->cap = cap;
    l->v = cap ? jr_alloc(rt, cap * sizeof *l->v) : NULL;
    return l;
}

void jl_push(jrt *rt, jlist *l, jval v) {
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 4;
        jval *nv = jr_alloc(rt, (size_t)cap * sizeof *nv);
        jcopy(nv, l->v, l->n * sizeof *nv);
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = v;
}

jdict *jd_new(jrt *rt, uint32_t cap) {
    jdict *d = jr_alloc(rt, sizeof *d);
    d->n = 0;
    d->cap = cap;
    d->k = cap ? jr_alloc(rt, cap * sizeof *d->k) : NULL;
    d->v = cap ? jr_alloc(rt, cap * sizeof *d->v) : NULL;
    return d;
}

int jd_find_str(const jdict *d, const char *s, size_t n) {
    for (uint32_t i = 0; i < d->n; i++)
        if (d->k[i].t == JV_STR && d->k[i].n == n && memcmp(d->k[i].u.s, s, n) == 0) return (int)i;
    return -1;
}

int jd_find(const jdict *d, jval k) {
    if (k.t == JV_STR) return jd_find_str(d, k.u.s, k.n);
    for (uint32_t i = 0; i < d->n; i++)
        if (jv_eq(d->k[i], k)) return (int)i;
    return -1;
}

void jd_set(jrt *rt, jdict *d, jval k, jval v) {
    int i = jd_find(d, k);
    if (i >= 0) {
        d->v[i] = v;
        return;
    }
    if (d->n == d->cap) {
        uint32_t cap = d->cap ? d->cap * 2 : 4;
        jval *nk = jr_alloc(rt, (size_t)cap * sizeof *nk), *nv = jr_alloc(rt, (size_t)cap * sizeof *nv);
        if (d->n) {
            jcopy(nk, d->k, d->n * sizeof *nk);
            jcopy(nv, d->v, d->n * sizeof *nv);
        }
        d->k = nk;
        d->v = nv;
        d->cap = cap;
    }
    d->k[d->n] = k;
    d->v[d->n++] = v;
}

/* ---- truth, equality, order ------------------------------------------- */

int jv_truthy(jval v) {
    switch (v.t) {
    case JV_UNDEF: case JV_NONE: return 0;
    case JV_BOOL: case JV_INT: return v.u.i != 0;
    case JV_FLOAT: return v.u.f != 0.0;
    case JV_STR: return v.n > 0;
    case JV_LIST: return (v.fl & JF_GEN) || v.u.l->n > 0;  /* a generator is always true */
    case JV_DICT: return v.u.d->n > 0;
    default: return 1;
    }
}

static int is_num(jval v) { return v.t == JV_BOOL || v.t == JV_INT || v.t == JV_FLOAT; }
static double num_f(jval v) { return v.t == JV_FLOAT ? v.u.f : (double)v.u.i; }

int jv_eq(jval a, jval b) {
    if (is_num(a) && is_num(b)) {
        if (a.t != JV_FLOAT && b.t != JV_FLOAT) return a.u.i == b.u.i;
        return num_f(a) == num_f(b);
    }
    if (a.t != b.t) return 0;
    switch (a.t) {
    case JV_UNDEF: case JV_NONE: return 1;
    case JV_STR: return a.n == b.n && memcmp(a.u.s, b.u.s, a.n) == 0;
    case JV_LIST:
        if ((a.fl & JF_GEN) || (b.fl & JF_GEN)) return a.u.l == b.u.l;
        if ((a.fl & JF_TUPLE) != (b.fl & JF_TUPLE) || a.u.l->n != b.u.l->n) return 0;
        for (uint32_t i = 0; i < a.u.l->n; i++)
            if (!jv_eq(a.u.l->v[i], b.u.l->v[i])) return 0;
        return 1;
    case JV_DICT:
        if (a.u.d->n != b.u.d->n) return 0;
        for (uint32_t i = 0; i < a.u.d->n; i++) {
            int j = jd_find(b.u.d, a.u.d->k[i]);
            if (j < 0 || !jv_eq(a.u.d->v[i], b.u.d->v[j])) return 0;
        }
        return 1;
    default: return a.u.p == b.u.p && a.n == b.n;
    }
}

int jv_cmp(jrt *rt, jval a, jval b) {
    if (a.t == JV_UNDEF || b.t == JV_UNDEF)
        jr_fail(rt, JERR_UNDEFINED, "'%s' is undefined", a.t == JV_UNDEF && a.u.s ? a.u.s : b.t == JV_UNDEF && b.u.s ? b.u.s : "value");
    if (is_num(a) && is_num(b)) {
        if (a.t != JV_FLOAT && b.t != JV_FLOAT) return (a.u.i > b.u.i) - (a.u.i < b.u.i);
        double x = num_f(a), y = num_f(b);
        return (x > y) - (x < y);
    }
    if (a.t == JV_STR && b.t == JV_STR) {
        /* UTF-8 byte order is code point order */
        size_t n = a.n < b.n ? a.n : b.n;
        int c = n ? memcmp(a.u.s, b.u.s, n) : 0;
        if (c) return c;
        return (a.n > b.n) - (a.n < b.n);
    }
    if (a.t == JV_LIST && b.t == JV_LIST && !((a.fl | b.fl) & JF_GEN)) {
        uint32_t n = a.u.l->n < b.u.l->n ? a.u.l->n : b.u.l->n;
        for (uint32_t i = 0; i < n; i++)
            if (!jv_eq(a.u.l->v[i], b.u.l->v[i])) return jv_cmp(rt, a.u.l->v[i], b.u.l->v[i]);
        return (a.u.l->n > b.u.l->n) - (a.u.l->n < b.u.l->n);
    }
    jr_fail(rt, JERR_TYPE, "'<' not supported between instances of '%s' and '%s'", jv_type_name(a), jv_type_name(b));
}

const char *jv_type_name(jval v) {
    switch (v.t) {
    case JV_UNDEF: return "Undefined";
    case JV_NONE: return "NoneType";
    case JV_BOOL: return "bool";
    case JV_INT: return "int";
    case JV_FLOAT: return "float";
    case JV_STR: return "str";
    case JV_LIST: return v.fl & JF_GEN ? "generator" : v.fl & JF_TUPLE ? "tuple" : "list";
    case JV_DICT: return "dict";
    case JV_NS: return "Namespace";
    case JV_MACRO: return "Macro";
    case JV_FUNC: return "builtin_function_or_method";
    case JV_LOOP: return "LoopContext";
    }
    return "object";
}

size_t ju_len(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* ---- str() and repr() ------------------------------------------------- */

/* repr(float): the shortest digits that read back to the same double, laid
 * out as Python does (exponent form below 1e-4 and from 1e16 up). */
void jv_float_repr(char *out, size_t cap, double f) {
    if (isnan(f)) { snprintf(out, cap, "nan"); return; }
    if (isinf(f)) { snprintf(out, cap, f < 0 ? "-inf" : "inf"); return; }
    if (f == 0) { snprintf(out, cap, signbit(f) ? "-0.0" : "0.0"); return; }
    char e[40];
    int p;
    for (p = 1; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, f);
        if (strtod(e, NULL) == f) break;
    }
    /* e = [-]d[.ddd]e[+-]XX */
    const char *s = e;
    int neg = *s == '-';
    if (neg) s++;
    char digits[24];
    int nd = 0;
    for (; *s && *s != 'e'; s++)
        if (*s != '.') digits[nd++] = *s;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    int exp = atoi(s + 1);
    char *o = out;
    size_t left = cap;
#define PUT(...) do { int w_ = snprintf(o, left, __VA_ARGS__); if (w_ < 0 || (size_t)w_ >= left) return; o += w_; left -= (size_t)w_; } while (0)
    if (neg) PUT("-");
    if (exp < -4 || exp >= 16) {
        PUT("%c", digits[0]);
        if (nd > 1) PUT(".%.*s", nd - 1, digits + 1);
        PUT("e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp < 0) {
        PUT("0.");
        for (int i = 0; i < -exp - 1; i++) PUT("0");
        PUT("%.*s", nd, digits);
    } else {
        if (nd <= exp + 1) {
            PUT("%.*s", nd, digits);
            for (int i = nd; i < exp + 1; i++) PUT("0");
            PUT(".0");
        } else {
            PUT("%.*s.%.*s", exp + 1, digits, nd - exp - 1, digits + exp + 1);
        }
    }
#undef PUT
}

static int py_printable(int32_t c) {
    if (c == ' ') return 1;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN: case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_ZS:
        return 0;
    default:
        return 1;
    }
}

static void repr_str(jrt *rt, jbuf *b, const char *s, size_t n) {
    int has_sq = memchr(s, '\'', n) != NULL, has_dq = memchr(s, '"', n) != NULL;
    char q = has_sq && !has_dq ? '"' : '\'';
    jb_putc(rt, b, q);
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            char esc[8];
            if (c == '\\' || c == (unsigned char)q) { esc[0] = '\\'; esc[1] = (char)c; jb_put(rt, b, esc, 2); }
            else if (c == '\n') jb_put(rt, b, "\\n", 2);
            else if (c == '\r') jb_put(rt, b, "\\r", 2);
            else if (c == '\t') jb_put(rt, b, "\\t", 2);
            else if (c < 0x20 || c == 0x7f) { snprintf(esc, sizeof esc, "\\x%02x", c); jb_put(rt, b, esc, 4); }
            else jb_putc(rt, b, (char)c);
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) { k = 1; cp = 0xFFFD; }
        if (py_printable(cp)) {
            jb_put(rt, b, s + i, (size_t)k);
        } else {
            char esc[16];
            if (cp < 0x100) snprintf(esc, sizeof esc, "\\x%02x", (unsigned)cp);
            else if (cp < 0x10000) snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
            else snprintf(esc, sizeof esc, "\\U%08x", (unsigned)cp);
            jb_put(rt, b, esc, strlen(esc));
        }
        i += (size_t)k;
    }
    jb_putc(rt, b, q);
}

static void put_num(jrt *rt, jbuf *b, jval v) {
    char tmp[40];
    if (v.t == JV_FLOAT) jv_float_repr(tmp, sizeof tmp, v.u.f);
    else snprintf(tmp, sizeof tmp, "%lld", (long long)v.u.i);
    jb_put(rt, b, tmp, strlen(tmp));
}

static void repr_any(jrt *rt, jbuf *b, jval v, int depth) {
    if (depth > 64) jr_fail(rt, JERR_LIMIT, "values nest deeper than 64 levels");
    switch (v.t) {
    case JV_STR: repr_str(rt, b, v.u.s, v.n); return;
    case JV_LIST:
        if (v.fl & JF_GEN) { jb_put(rt, b, "<generator object>", 18); return; }
        jb_putc(rt, b, v.fl & JF_TUPLE ? '(' : '[');
        for (uint32_t i = 0; i < v.u.l->n; i++) {
            if (i) jb_put(rt, b, ", ", 2);
            repr_any(rt, b, v.u.l->v[i], depth + 1);
        }
        if ((v.fl & JF_TUPLE) && v.u.l->n == 1) jb_putc(rt, b, ',');
        jb_putc(rt, b, v.fl & JF_TUPLE ? ')' : ']');
        return;
    case JV_DICT:
        jb_putc(rt, b, '{');
        for (uint32_t i = 0; i < v.u.d->n; i++) {
            if (i) jb_put(rt, b, ", ", 2);
            repr_any(rt, b, v.u.d->k[i], depth + 1);
            jb_put(rt, b, ": ", 2);
            repr_any(rt, b, v.u.d->v[i], depth + 1);
        }
        jb_putc(rt, b, '}');
        return;
    default:
        jv_str_into(rt, b, v);
    }
}

void jv_repr_into(jrt *rt, jbuf *b, jval v) { repr_any(rt, b, v, 0); }

void jv_str_into(jrt *rt, jbuf *b, jval v) {
    switch (v.t) {
    case JV_UNDEF: return;
    case JV_NONE: jb_put(rt, b, "None", 4); return;
    case JV_BOOL: if (v.u.i) jb_put(rt, b, "True", 4); else jb_put(rt, b, "False", 5); return;
    case JV_INT: case JV_FLOAT: put_num(rt, b, v); return;
    case JV_STR: jb_put(rt, b, v.u.s, v.n); return;
    case JV_LIST: case JV_DICT: repr_any(rt, b, v, 0); return;
    case JV_NS: jb_put(rt, b, "<Namespace>", 11); return;
    case JV_MACRO: jb_put(rt, b, "<Macro>", 7); return;
    case JV_FUNC: jb_put(rt, b, "<built-in function>", 19); return;
    case JV_LOOP: jb_put(rt, b, "<LoopContext>", 13); return;
    }
}

jval jv_to_str(jrt *rt, jval v) {
    if (v.t == JV_STR) return v;
    jbuf b = {0};
    jv_str_into(rt, &b, v);
    return jb_value(rt, &b);
}

/* ---- json.dumps -------------------------------------------------------- */

static void json_str(jrt *rt, jbuf *b, const char *s, size_t n) {
    jb_putc(rt, b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        jb_put(rt, b, s + run, i - run);
        run = i + 1;
        char esc[8];
        switch (c) {
        case '"': jb_put(rt, b, "\\\"", 2); break;
        case '\\': jb_put(rt, b, "\\\\", 2); break;
        case '\n': jb_put(rt, b, "\\n", 2); break;
        case '\r': jb_put(rt, b, "\\r", 2); break;
        case '\t': jb_put(rt, b, "\\t", 2); break;
        case '\b': jb_put(rt, b, "\\b", 2); break;
        case '\f': jb_put(rt, b, "\\f", 2); break;
        default: snprintf(esc, sizeof esc, "\\u%04x", c); jb_put(rt, b, esc, 6);
        }
    }
    jb_put(rt, b, s + run, n - run);
    jb_putc(rt, b, '"');
}

typedef struct jsonopt { int indent; const char *isep, *ksep; int sort; } jsonopt;

static void json_nl(jrt *rt, jbuf *b, const jsonopt *o, int level) {
    jb_putc(rt, b, '\n');
    for (int i = 0; i < o->indent * level; i++) jb_putc(rt, b, ' ');
}

static void json_key(jrt *rt, jbuf *b, jval k) {
    /* json.dumps turns the scalar keys Python allows into strings */
    if (k.t == JV_STR) { json_str(rt, b, k.u.s, k.n); return; }
    jbuf t = {0};
    if (k.t == JV_BOOL) jb_put(rt, &t, k.u.i ? "true" : "false", k.u.i ? 4 : 5);
    else if (k.t == JV_NONE) jb_put(rt, &t, "null", 4);
    else if (k.t == JV_INT || k.t == JV_FLOAT) put_num(rt, &t, k);
    else jr_fail(rt, JERR_TYPE, "keys must be str, int, float, bool or None, not %s", jv_type_name(k));
    json_str(rt, b, t.p, t.n);
}

static void json_any(jrt *rt, jbuf *b, jval v, const jsonopt *o, int level) {
    if (level > 64) jr_fail(rt, JERR_LIMIT, "values nest deeper than 64 levels");
    switch (v.t) {
    case JV_NONE: jb_put(rt, b, "null", 4); return;
    case JV_BOOL: jb_put(rt, b, v.u.i ? "true" : "false", v.u.i ? 4 : 5); return;
    case JV_INT: put_num(rt, b, v); return;
    case JV_FLOAT:
        if (isnan(v.u.f)) jb_put(rt, b, "NaN", 3);
        else if (isinf(v.u.f)) { if (v.u.f < 0) jb_put(rt, b, "-Infinity", 9); else jb_put(rt, b, "Infinity", 8); }
        else put_num(rt, b, v);
        return;
    case JV_STR: json_str(rt, b, v.u.s, v.n); return;
    case JV_LIST:
        if (v.fl & JF_GEN) break;
        if (v.u.l->n == 0) { jb_put(rt, b, "[]", 2); return; }
        jb_putc(rt, b, '[');
        for (uint32_t i = 0; i < v.u.l->n; i++) {
            if (i) jb_put(rt, b, o->isep, strlen(o->isep));
            if (o->indent >= 0) json_nl(rt, b, o, level + 1);
            json_any(rt, b, v.u.l->v[i], o, level + 1);
        }
        if (o->indent >= 0) json_nl(rt, b, o, level);
        jb_putc(rt, b, ']');
        return;
    case JV_DICT: {
        const jdict *d = v.u.d;
        if (d->n == 0) { jb_put(rt, b, "{}", 2); return; }
        uint32_t *ord = jr_alloc(rt, d->n * sizeof *ord);
        for (uint32_t i = 0; i < d->n; i++) ord[i] = i;
        if (o->sort) {
            /* insertion sort on the keys (only strings sort; Python raises otherwise) */
            for (uint32_t i = 1; i < d->n; i++) {
                uint32_t x = ord[i], j = i;
                while (j > 0 && jv_cmp(rt, d->k[ord[j - 1]], d->k[x]) > 0) { ord[j] = ord[j - 1]; j--; }
                ord[j] = x;
            }
        }
        jb_putc(rt, b, '{');
        for (uint32_t i = 0; i < d->n; i++) {
            if (i) jb_put(rt, b, o->isep, strlen(o->isep));
            if (o->indent >= 0) json_nl(rt, b, o, level + 1);
            json_key(rt, b, d->k[ord[i]]);
            jb_put(rt, b, o->ksep, strlen(o->ksep));
            json_any(rt, b, d->v[ord[i]], o, level + 1);
        }
        if (o->indent >= 0) json_nl(rt, b, o, level);
        jb_putc(rt, b, '}');
        return;
    }
    default: break;
    }
    jr_fail(rt, JERR_TYPE, "Object of type %s is not JSON serializable", jv_type_name(v));
}

void jv_tojson(jrt *rt, jbuf *b, jval v, int indent, const char *item_sep, const char *key_sep, int sort_keys) {
    jsonopt o = {indent, item_sep, key_sep, sort_keys};
    if (o.isep == NULL) o.isep = indent >= 0 ? "," : ", ";
    if (o.ksep == NULL) o.ksep = ": ";
    json_any(rt, b, v, &o, 0);
}

/* ---- from JSON (jansson) ---------------------------------------------- */

static jval from_json(jrt *rt, const json_t *j, int depth) {
    if (depth > 64) jr_fail(rt, JERR_LIMIT, "JSON input nests deeper than 64 levels");
    switch (json_typeof(j)) {
    case JSON_NULL: return jv_none();
    case JSON_TRUE: return jv_bool(1);
    case JSON_FALSE: return jv_bool(0);
    case JSON_INTEGER: return jv_int((int64_t)json_integer_value(j));
    case JSON_REAL: return jv_float(json_real_value(j));
    case JSON_STRING: {
        size_t n = json_string_length(j);
        return jv_str(jr_strdup(rt, json_string_value(j), n), n);
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        jlist *l = jl_new(rt, (uint32_t)n);
        for (size_t i = 0; i < n; i++) l->v[l->n++] = from_json(rt, json_array_get(j, i), depth + 1);
        return jv_list(l, 0);
    }
    case JSON_OBJECT: {
        jdict *d = jd_new(rt, (uint32_t)json_object_size(j));
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)j, k, x) {
            size_t kn = strlen(k);
            jd_set(rt, d, jv_str(jr_strdup(rt, k, kn), kn), from_json(rt, x, depth + 1));
        }
        return jv_dict(d);
    }
    }
    return jv_none();
}

int jv_from_json(jrt *rt, const char *text, size_t len, jval *out, char *err, size_t errcap) {
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (j == NULL) {
        snprintf(err, errcap, "line %d, column %d: %s", je.line, je.column, je.text);
        return 0;
    }
    /* the conversion can unwind (memory limit): take the JSON tree with us */
    jmp_buf saved;
    memcpy(&saved, &rt->jmp, sizeof saved);
    if (setjmp(rt->jmp)) {
        json_decref(j);
        memcpy(&rt->jmp, &saved, sizeof saved);
        longjmp(rt->jmp, 1);
    }
    *out = from_json(rt, j, 0);
    memcpy(&rt->jmp, &saved, sizeof saved);
    json_decref(j);
    return 1;
}
