/* What templates call: Jinja's filters and tests, the Python str, dict and
 * list methods the sandbox allows (the mutating ones raise SecurityError,
 * as in Jinja's immutable sandbox), and the globals transformers provides.
 * Where Python's behaviour shows in the output (lazy map/select results,
 * Unicode whitespace in strip, str.title), it is reproduced. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

#include "chat/jinja.h"

/* ---- arguments --------------------------------------------------------- */

static int has_arg(const jargs *a, int i, const char *name) {
    if (i >= 0 && i < a->npos) return 1;
    size_t n = strlen(name);
    for (int k = 0; k < a->nkw; k++)
        if (a->kw_n[k] == n && memcmp(a->kw[k], name, n) == 0) return 1;
    return 0;
}

static jval arg(const jargs *a, int i, const char *name, jval dflt) {
    if (i >= 0 && i < a->npos) return a->pos[i];
    size_t n = strlen(name);
    for (int k = 0; k < a->nkw; k++)
        if (a->kw_n[k] == n && memcmp(a->kw[k], name, n) == 0) return a->kwv[k];
    return dflt;
}

static jval str_arg(jrt *rt, const jargs *a, int i, const char *name, const char *what) {
    jval v = arg(a, i, name, jv_undef(NULL));
    if (v.t != JV_STR) jr_fail(rt, JERR_TYPE, "%s: the '%s' argument must be a string, not %s", what, name, jv_type_name(v));
    return v;
}

static const jargs no_args = {NULL, 0, NULL, NULL, NULL, 0};

/* ---- Unicode helpers ---------------------------------------------------- */

/* the code point at s (n bytes left) and its length; bad bytes read as one */
static int32_t dec(const char *s, size_t n, size_t *len) {
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &c);
    if (k <= 0) { *len = 1; return (unsigned char)s[0]; }
    *len = (size_t)k;
    return c;
}

static void enc(jrt *rt, jbuf *b, int32_t c) {
    utf8proc_uint8_t tmp[4];
    utf8proc_ssize_t k = utf8proc_encode_char(c, tmp);
    jb_put(rt, b, (const char *)tmp, (size_t)k);
}

/* str.isspace() */
static int py_space(int32_t c) {
    return c == ' ' || (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x1f) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

static int is_cased(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT;
}

static jval to_s(jrt *rt, jval v) { return jv_to_str(rt, v); }

static int contains_cp(jval chars, int32_t c) {
    for (size_t i = 0; i < chars.n;) {
        size_t k;
        if (dec(chars.u.s + i, chars.n - i, &k) == c) return 1;
        i += k;
    }
    return 0;
}

static jval strip(jrt *rt, jval s, jval chars, int left, int right) {
    size_t a = 0, b = s.n;
    int use_chars = chars.t == JV_STR;
    while (left && a < b) {
        size_t k;
        int32_t c = dec(s.u.s + a, b - a, &k);
        int hit = use_chars ? contains_cp(chars, c) : py_space(c);
        if (!hit) break;
        a += k;
    }
    while (right && b > a) {
        size_t p = b - 1;
        while (p > a && ((unsigned char)s.u.s[p] & 0xC0) == 0x80) p--;
        size_t k;
        int32_t c = dec(s.u.s + p, b - p, &k);
        int hit = use_chars ? contains_cp(chars, c) : py_space(c);
        if (!hit) break;
        b = p;
    }
    (void)rt;
    return jv_str(s.u.s + a, b - a);
}

typedef enum { CASE_UPPER, CASE_LOWER, CASE_TITLE_PY, CASE_TITLE_JINJA, CASE_CAPITALIZE, CASE_SWAP } casemode;

static jval recase(jrt *rt, jval s, casemode m) {
    jbuf b = {0};
    int prev_cased = 0, word_start = 1, first = 1;
    for (size_t i = 0; i < s.n;) {
        size_t k;
        int32_t c = dec(s.u.s + i, s.n - i, &k), o = c;
        switch (m) {
        case CASE_UPPER: o = utf8proc_toupper(c); break;
        case CASE_LOWER: o = utf8proc_tolower(c); break;
        case CASE_TITLE_PY:
            /* str.title(): a cased character after an uncased one starts a word */
            if (is_cased(c)) { o = prev_cased ? utf8proc_tolower(c) : utf8proc_totitle(c); prev_cased = 1; }
            else prev_cased = 0;
            break;
        case CASE_TITLE_JINJA: {
            /* Jinja's title filter: words begin after runs of - ( { [ < or whitespace */
            int sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || py_space(c);
            if (sep) { word_start = 1; break; }
            o = word_start ? utf8proc_toupper(c) : utf8proc_tolower(c);
            word_start = 0;
            break;
        }
        case CASE_CAPITALIZE: o = first ? utf8proc_totitle(c) : utf8proc_tolower(c); break;
        case CASE_SWAP:
            o = utf8proc_category(c) == UTF8PROC_CATEGORY_LU ? utf8proc_tolower(c) : utf8proc_toupper(c);
            break;
        }
        first = 0;
        if (o == c) jb_put(rt, &b, s.u.s + i, k);
        else enc(rt, &b, o);
        i += k;
    }
    return jb_value(rt, &b);
}

static int64_t cp_index(const char *s, size_t byte) { return (int64_t)ju_len(s, byte); }

static const char *find_bytes(const char *h, size_t hn, const char *x, size_t xn) {
    if (xn == 0) return h;
    for (size_t i = 0; i + xn <= hn; i++)
        if (h[i] == x[0] && memcmp(h + i, x, xn) == 0) return h + i;
    return NULL;
}

static jval replace(jrt *rt, jval s, jval old, jval new_, int64_t count) {
    jbuf b = {0};
    size_t i = 0;
    int64_t done = 0;
    if (old.n == 0) {
        /* Python inserts `new` before every character and at the end */
        for (;;) {
            if (count >= 0 && done >= count) break;
            jb_put(rt, &b, new_.u.s, new_.n);
            done++;
            if (i >= s.n) break;
            size_t k;
            dec(s.u.s + i, s.n - i, &k);
            jb_put(rt, &b, s.u.s + i, k);
            i += k;
        }
        jb_put(rt, &b, s.u.s + i, s.n - i);
        return jb_value(rt, &b);
    }
    while (i < s.n && (count < 0 || done < count)) {
        const char *p = find_bytes(s.u.s + i, s.n - i, old.u.s, old.n);
        if (p == NULL) break;
        size_t at = (size_t)(p - s.u.s);
        jb_put(rt, &b, s.u.s + i, at - i);
        jb_put(rt, &b, new_.u.s, new_.n);
        i = at + old.n;
        done++;
    }
    jb_put(rt, &b, s.u.s + i, s.n - i);
    return jb_value(rt, &b);
}

static jlist *split(jrt *rt, jval s, jval sep, int64_t maxsplit) {
    jlist *l = jl_new(rt, 4);
    if (sep.t == JV_STR) {
        if (sep.n == 0) jr_fail(rt, JERR_VALUE, "empty separator");
        size_t i = 0;
        for (;;) {
            const char *p = (maxsplit < 0 || (int64_t)l->n < maxsplit) ? find_bytes(s.u.s + i, s.n - i, sep.u.s, sep.n) : NULL;
            if (p == NULL) break;
            size_t at = (size_t)(p - s.u.s);
            jl_push(rt, l, jv_str(s.u.s + i, at - i));
            i = at + sep.n;
        }
        jl_push(rt, l, jv_str(s.u.s + i, s.n - i));
        return l;
    }
    /* runs of whitespace, none at the ends */
    size_t i = 0;
    for (;;) {
        size_t k;
        while (i < s.n && py_space(dec(s.u.s + i, s.n - i, &k))) i += k;
        if (i >= s.n) break;
        if (maxsplit >= 0 && (int64_t)l->n >= maxsplit) {
            size_t e = s.n;
            /* the rest, with trailing whitespace kept as Python does */
            jl_push(rt, l, jv_str(s.u.s + i, e - i));
            break;
        }
        size_t j = i;
        while (j < s.n && !py_space(dec(s.u.s + j, s.n - j, &k))) j += k;
        jl_push(rt, l, jv_str(s.u.s + i, j - i));
        i = j;
    }
    return l;
}

/* str.splitlines() */
static jlist *splitlines(jrt *rt, jval s) {
    jlist *l = jl_new(rt, 4);
    size_t i = 0, start = 0;
    while (i < s.n) {
        size_t k;
        int32_t c = dec(s.u.s + i, s.n - i, &k);
        int brk = c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || (c >= 0x1c && c <= 0x1e) || c == 0x85 ||
                  c == 0x2028 || c == 0x2029;
        if (brk) {
            jl_push(rt, l, jv_str(s.u.s + start, i - start));
            if (c == '\r' && i + 1 < s.n && s.u.s[i + 1] == '\n') k++;
            start = i + k;
        }
        i += k;
    }
    if (start < s.n) jl_push(rt, l, jv_str(s.u.s + start, s.n - start));
    return l;
}

static jval gen(jlist *l) { return jv_list(l, JF_GEN); }

/* ---- iteration ---------------------------------------------------------- */

jlist *jinja_iter(jrt *rt, jval v) {
    switch (v.t) {
    case JV_UNDEF: return jl_new(rt, 0);
    case JV_LIST: return v.u.l;
    case JV_DICT: {
        jlist *l = jl_new(rt, v.u.d->n);
        jcopy(l->v, v.u.d->k, v.u.d->n * sizeof *l->v);
        l->n = v.u.d->n;
        return l;
    }
    case JV_STR: {
        jlist *l = jl_new(rt, (uint32_t)ju_len(v.u.s, v.n));
        for (size_t i = 0; i < v.n;) {
            size_t k;
            dec(v.u.s + i, v.n - i, &k);
            l->v[l->n++] = jv_str(v.u.s + i, k);
            i += k;
        }
        return l;
    }
    default:
        jr_fail(rt, JERR_TYPE, "'%s' object is not iterable", jv_type_name(v));
    }
}

/* environment.getitem along "a.b.0" (what attribute= arguments name) */
static jval attr_path(jrt *rt, jval v, jval path) {
    if (path.t == JV_INT) return jinja_getitem(rt, v, path);
    if (path.t != JV_STR) jr_fail(rt, JERR_TYPE, "attribute must be a string");
    size_t i = 0;
    while (i <= path.n) {
        size_t j = i;
        while (j < path.n && path.u.s[j] != '.') j++;
        jval key = jv_str(path.u.s + i, j - i);
        int digits = j > i;
        for (size_t k = i; k < j; k++) digits &= path.u.s[k] >= '0' && path.u.s[k] <= '9';
        if (digits && j - i < 18) key = jv_int(strtoll(path.u.s + i, NULL, 10));
        v = jinja_getitem(rt, v, key);
        i = j + 1;
    }
    return v;
}

static jval len_of(jrt *rt, jval v) {
    switch (v.t) {
    case JV_UNDEF: return jv_int(0);
    case JV_STR: return jv_int((int64_t)ju_len(v.u.s, v.n));
    case JV_LIST:
        if (v.fl & JF_GEN) break;
        return jv_int(v.u.l->n);
    case JV_DICT: return jv_int(v.u.d->n);
    default: break;
    }
    jr_fail(rt, JERR_TYPE, "object of type '%s' has no len()", jv_type_name(v));
}

static jval join(jrt *rt, jval v, jval sep, jval attribute) {
    jlist *l = jinja_iter(rt, v);
    jbuf b = {0};
    for (uint32_t i = 0; i < l->n; i++) {
        if (i) jv_str_into(rt, &b, sep);
        jval x = attribute.t == JV_NONE || attribute.t == JV_UNDEF ? l->v[i] : attr_path(rt, l->v[i], attribute);
        jv_str_into(rt, &b, x);
    }
    return jb_value(rt, &b);
}

/* sort keys: strings compare lower-cased unless case_sensitive */
static jval sort_key(jrt *rt, jval v, int case_sensitive) {
    return v.t == JV_STR && !case_sensitive ? recase(rt, v, CASE_LOWER) : v;
}

static void sort_vals(jrt *rt, jval *items, jval *keys, uint32_t n, int reverse) {
    /* insertion sort: stable, and the lists templates sort are short */
    for (uint32_t i = 1; i < n; i++) {
        jval x = items[i], kx = keys[i];
        uint32_t j = i;
        while (j > 0) {
            int c = jv_cmp(rt, keys[j - 1], kx);
            if (reverse ? c >= 0 : c <= 0) break;
            items[j] = items[j - 1];
            keys[j] = keys[j - 1];
            j--;
        }
        items[j] = x;
        keys[j] = kx;
    }
}

/* select/reject/selectattr/rejectattr: `off` arguments precede the test */
static jval select_items(jrt *rt, jval v, const jargs *a, int by_attr, int keep) {
    /* Jinja yields nothing for a false sequence (none included) */
    jlist *l = jv_truthy(v) ? jinja_iter(rt, v) : jl_new(rt, 0), *out = jl_new(rt, l->n);
    int off = by_attr ? 1 : 0;
    jval attribute = by_attr ? arg(a, 0, "attribute", jv_none()) : jv_none();
    int test = -1;
    if (a->npos > off) {
        jval name = a->pos[off];
        if (name.t != JV_STR) jr_fail(rt, JERR_TYPE, "the test name must be a string");
        test = jinja_test_id(name.u.s, name.n);
        if (test < 0) jr_fail(rt, JERR_VALUE, "no test named '%.*s'", (int)name.n, name.u.s);
    }
    jargs targs = {a->pos + off + 1, a->npos > off + 1 ? a->npos - off - 1 : 0, NULL, NULL, NULL, 0};
    for (uint32_t i = 0; i < l->n; i++) {
        jval x = by_attr ? attr_path(rt, l->v[i], attribute) : l->v[i];
        int r = test >= 0 ? jinja_test(rt, test, x, &targs) : jv_truthy(x);
        if (r == keep) out->v[out->n++] = l->v[i];
    }
    return gen(out);
}

/* ---- filters ------------------------------------------------------------ */

typedef jval (*filter_fn)(jrt *rt, jval v, const jargs *a);

static jval f_abs(jrt *rt, jval v, const jargs *a) {
    (void)a;
    if (v.t == JV_INT || v.t == JV_BOOL) return jv_int(v.u.i < 0 ? -v.u.i : v.u.i);
    if (v.t == JV_FLOAT) return jv_float(fabs(v.u.f));
    jr_fail(rt, JERR_TYPE, "bad operand type for abs(): '%s'", jv_type_name(v));
}

static jval f_attr(jrt *rt, jval v, const jargs *a) {
    jval name = str_arg(rt, a, 0, "name", "attr");
    return jinja_getattr(rt, v, name.u.s, name.n);
}

static jval f_capitalize(jrt *rt, jval v, const jargs *a) { (void)a; return recase(rt, to_s(rt, v), CASE_CAPITALIZE); }
static jval f_lower(jrt *rt, jval v, const jargs *a) { (void)a; return recase(rt, to_s(rt, v), CASE_LOWER); }
static jval f_upper(jrt *rt, jval v, const jargs *a) { (void)a; return recase(rt, to_s(rt, v), CASE_UPPER); }
static jval f_title(jrt *rt, jval v, const jargs *a) { (void)a; return recase(rt, to_s(rt, v), CASE_TITLE_JINJA); }
static jval f_length(jrt *rt, jval v, const jargs *a) { (void)a; return len_of(rt, v); }
static jval f_string(jrt *rt, jval v, const jargs *a) { (void)a; return to_s(rt, v); }

static jval f_safe(jrt *rt, jval v, const jargs *a) {
    (void)a;
    jval s = to_s(rt, v);
    s.fl |= JF_SAFE;
    return s;
}

static jval f_escape(jrt *rt, jval v, const jargs *a) {
    (void)a;
    return jinja_escape(rt, v);
}

jval jinja_escape(jrt *rt, jval v) {
    if (v.t == JV_STR && (v.fl & JF_SAFE)) return v;
    jval s = to_s(rt, v);
    jbuf b = {0};
    for (size_t i = 0; i < s.n; i++) {
        switch (s.u.s[i]) {
        case '&': jb_put(rt, &b, "&amp;", 5); break;
        case '<': jb_put(rt, &b, "&lt;", 4); break;
        case '>': jb_put(rt, &b, "&gt;", 4); break;
        case '"': jb_put(rt, &b, "&#34;", 5); break;
        case '\'': jb_put(rt, &b, "&#39;", 5); break;
        default: jb_putc(rt, &b, s.u.s[i]);
        }
    }
    jval r = jb_value(rt, &b);
    r.fl |= JF_SAFE;
    return r;
}

static jval f_default(jrt *rt, jval v, const jargs *a) {
    (void)rt;
    jval d = arg(a, 0, "default_value", jv_str("", 0));
    int boolean = jv_truthy(arg(a, 1, "boolean", jv_bool(0)));
    if (v.t == JV_UNDEF || (boolean && !jv_truthy(v))) return d;
    return v;
}

static jval f_first(jrt *rt, jval v, const jargs *a) {
    (void)a;
    jlist *l = jinja_iter(rt, v);
    return l->n ? l->v[0] : jv_undef("first");
}

static jval f_last(jrt *rt, jval v, const jargs *a) {
    (void)a;
    if (v.t == JV_LIST && (v.fl & JF_GEN)) jr_fail(rt, JERR_TYPE, "'generator' object is not reversible");
    jlist *l = jinja_iter(rt, v);
    return l->n ? l->v[l->n - 1] : jv_undef("last");
}

static jval f_float(jrt *rt, jval v, const jargs *a) {
    jval d = arg(a, 0, "default", jv_float(0.0));
    if (v.t == JV_FLOAT) return v;
    if (v.t == JV_INT || v.t == JV_BOOL) return jv_float((double)v.u.i);
    if (v.t == JV_STR) {
        char *s = jr_strdup(rt, v.u.s, v.n), *end;
        double f = strtod(s, &end);
        while (*end == ' ' || *end == '\t' || *end == '\n') end++;
        if (end != s && *end == 0) return jv_float(f);
    }
    return d;
}

static jval f_int(jrt *rt, jval v, const jargs *a) {
    jval d = arg(a, 0, "default", jv_int(0));
    int base = (int)arg(a, 1, "base", jv_int(10)).u.i;
    if (v.t == JV_INT) return v;
    if (v.t == JV_BOOL) return jv_int(v.u.i);
    if (v.t == JV_FLOAT) return isfinite(v.u.f) && fabs(v.u.f) < 9.2e18 ? jv_int((int64_t)v.u.f) : d;
    if (v.t == JV_STR) {
        char *s = jr_strdup(rt, v.u.s, v.n), *end;
        long long i = strtoll(s, &end, base == 10 ? 10 : base);
        while (*end == ' ' || *end == '\t' || *end == '\n') end++;
        if (end != s && *end == 0) return jv_int(i);
        double f = strtod(s, &end);
        while (*end == ' ' || *end == '\t' || *end == '\n') end++;
        if (end != s && *end == 0 && isfinite(f) && fabs(f) < 9.2e18) return jv_int((int64_t)f);
    }
    return d;
}

static jval f_indent(jrt *rt, jval v, const jargs *a) {
    jval w = arg(a, 0, "width", jv_int(4));
    int first = jv_truthy(arg(a, 1, "first", jv_bool(0)));
    int blank = jv_truthy(arg(a, 2, "blank", jv_bool(0)));
    jval ind;
    if (w.t == JV_STR) ind = w;
    else {
        int64_t n = w.t == JV_INT ? w.u.i : 0;
        if (n < 0) n = 0;
        if (n > 4096) jr_fail(rt, JERR_LIMIT, "indent width too large");
        char *p = jr_alloc(rt, (size_t)n + 1);
        memset(p, ' ', (size_t)n);
        ind = jv_str(p, (size_t)n);
    }
    jval s = to_s(rt, v);
    /* Jinja appends a newline before splitlines() so a trailing one survives */
    jbuf t = {0};
    jb_put(rt, &t, s.u.s, s.n);
    jb_putc(rt, &t, '\n');
    jlist *lines = splitlines(rt, jb_value(rt, &t));
    jbuf b = {0};
    if (first) jb_put(rt, &b, ind.u.s, ind.n);
    for (uint32_t i = 0; i < lines->n; i++) {
        jval ln = lines->v[i];
        if (i) {
            jb_putc(rt, &b, '\n');
            if (blank || ln.n) jb_put(rt, &b, ind.u.s, ind.n);
        }
        jb_put(rt, &b, ln.u.s, ln.n);
    }
    return jb_value(rt, &b);
}

static jval f_items(jrt *rt, jval v, const jargs *a) {
    (void)a;
    if (v.t == JV_UNDEF) return gen(jl_new(rt, 0));
    if (v.t != JV_DICT) jr_fail(rt, JERR_TYPE, "Can only get item pairs from a mapping.");
    jlist *l = jl_new(rt, v.u.d->n);
    for (uint32_t i = 0; i < v.u.d->n; i++) {
        jlist *pair = jl_new(rt, 2);
        pair->v[0] = v.u.d->k[i];
        pair->v[1] = v.u.d->v[i];
        pair->n = 2;
        l->v[l->n++] = jv_list(pair, JF_TUPLE);
    }
    return gen(l);
}

static jval f_dictsort(jrt *rt, jval v, const jargs *a) {
    int cs = jv_truthy(arg(a, 0, "case_sensitive", jv_bool(0)));
    jval by = arg(a, 1, "by", jv_str("key", 3));
    int rev = jv_truthy(arg(a, 2, "reverse", jv_bool(0)));
    if (v.t != JV_DICT) jr_fail(rt, JERR_TYPE, "dictsort needs a mapping");
    int by_value = by.t == JV_STR && by.n == 5 && memcmp(by.u.s, "value", 5) == 0;
    jlist *l = f_items(rt, v, &no_args).u.l;
    jval *keys = jr_alloc(rt, (l->n + 1) * sizeof *keys);
    for (uint32_t i = 0; i < l->n; i++) keys[i] = sort_key(rt, l->v[i].u.l->v[by_value], cs);
    sort_vals(rt, l->v, keys, l->n, rev);
    return jv_list(l, 0);
}

static jval f_join(jrt *rt, jval v, const jargs *a) {
    return join(rt, v, arg(a, 0, "d", jv_str("", 0)), arg(a, 1, "attribute", jv_none()));
}

static jval f_list(jrt *rt, jval v, const jargs *a) {
    (void)a;
    jlist *l = jinja_iter(rt, v);
    if (v.t == JV_LIST) {
        jlist *c = jl_new(rt, l->n);
        jcopy(c->v, l->v, l->n * sizeof *c->v);
        c->n = l->n;
        l = c;
    }
    return jv_list(l, 0);
}

static jval f_map(jrt *rt, jval v, const jargs *a) {
    jlist *l = jv_truthy(v) ? jinja_iter(rt, v) : jl_new(rt, 0), *out = jl_new(rt, l->n);
    if (a->npos == 0 && has_arg(a, -1, "attribute")) {
        jval attribute = arg(a, -1, "attribute", jv_none());
        int has_def = has_arg(a, -1, "default");
        jval d = arg(a, -1, "default", jv_none());
        for (uint32_t i = 0; i < l->n; i++) {
            jval x = attr_path(rt, l->v[i], attribute);
            out->v[out->n++] = x.t == JV_UNDEF && has_def ? d : x;
        }
        return gen(out);
    }
    if (a->npos == 0 || a->pos[0].t != JV_STR) jr_fail(rt, JERR_TYPE, "map needs a filter name or attribute=");
    int id = jinja_filter_id(a->pos[0].u.s, a->pos[0].n);
    if (id < 0) jr_fail(rt, JERR_VALUE, "no filter named '%.*s'", (int)a->pos[0].n, a->pos[0].u.s);
    jargs rest = {a->pos + 1, a->npos - 1, a->kwv, a->kw, a->kw_n, a->nkw};
    for (uint32_t i = 0; i < l->n; i++) out->v[out->n++] = jinja_filter(rt, id, l->v[i], &rest);
    return gen(out);
}

static jval minmax(jrt *rt, jval v, const jargs *a, int want_max) {
    int cs = jv_truthy(arg(a, 0, "case_sensitive", jv_bool(0)));
    jval attribute = arg(a, 1, "attribute", jv_none());
    jlist *l = jinja_iter(rt, v);
    if (l->n == 0) return jv_undef(want_max ? "max" : "min");
    uint32_t best = 0;
    jval bk = sort_key(rt, attribute.t == JV_NONE ? l->v[0] : attr_path(rt, l->v[0], attribute), cs);
    for (uint32_t i = 1; i < l->n; i++) {
        jval k = sort_key(rt, attribute.t == JV_NONE ? l->v[i] : attr_path(rt, l->v[i], attribute), cs);
        int c = jv_cmp(rt, k, bk);
        if (want_max ? c > 0 : c < 0) { best = i; bk = k; }
    }
    return l->v[best];
}

static jval f_max(jrt *rt, jval v, const jargs *a) { return minmax(rt, v, a, 1); }
static jval f_min(jrt *rt, jval v, const jargs *a) { return minmax(rt, v, a, 0); }

static jval f_replace(jrt *rt, jval v, const jargs *a) {
    jval old = to_s(rt, arg(a, 0, "old", jv_str("", 0)));
    jval new_ = to_s(rt, arg(a, 1, "new", jv_str("", 0)));
    jval c = arg(a, 2, "count", jv_none());
    return replace(rt, to_s(rt, v), old, new_, c.t == JV_INT ? c.u.i : -1);
}

static jval f_reverse(jrt *rt, jval v, const jargs *a) {
    (void)a;
    if (v.t == JV_STR) {
        jlist *chars = jinja_iter(rt, v);
        jbuf b = {0};
        for (uint32_t i = chars->n; i-- > 0;) jb_put(rt, &b, chars->v[i].u.s, chars->v[i].n);
        return jb_value(rt, &b);
    }
    jlist *l = jinja_iter(rt, v), *out = jl_new(rt, l->n);
    for (uint32_t i = l->n; i-- > 0;) out->v[out->n++] = l->v[i];
    /* reversed(list) is an iterator; list(generator) reversed is a list */
    return jv_list(out, v.t == JV_LIST && !(v.fl & JF_GEN) ? JF_GEN : 0);
}

static jval f_round(jrt *rt, jval v, const jargs *a) {
    int64_t prec = arg(a, 0, "precision", jv_int(0)).u.i;
    jval method = arg(a, 1, "method", jv_str("common", 6));
    if (v.t != JV_FLOAT && v.t != JV_INT && v.t != JV_BOOL) jr_fail(rt, JERR_TYPE, "round needs a number");
    double x = v.t == JV_FLOAT ? v.u.f : (double)v.u.i, m = pow(10.0, (double)prec), r;
    if (method.t == JV_STR && method.n == 4 && memcmp(method.u.s, "ceil", 4) == 0) r = ceil(x * m) / m;
    else if (method.t == JV_STR && method.n == 5 && memcmp(method.u.s, "floor", 5) == 0) r = floor(x * m) / m;
    else r = nearbyint(x * m) / m;  /* Python's round: half to even */
    return jv_float(r);
}

static jval f_sort(jrt *rt, jval v, const jargs *a) {
    int rev = jv_truthy(arg(a, 0, "reverse", jv_bool(0)));
    int cs = jv_truthy(arg(a, 1, "case_sensitive", jv_bool(0)));
    jval attribute = arg(a, 2, "attribute", jv_none());
    jlist *l = f_list(rt, v, &no_args).u.l;
    jval *keys = jr_alloc(rt, (l->n + 1) * sizeof *keys);
    for (uint32_t i = 0; i < l->n; i++)
        keys[i] = sort_key(rt, attribute.t == JV_NONE ? l->v[i] : attr_path(rt, l->v[i], attribute), cs);
    sort_vals(rt, l->v, keys, l->n, rev);
    return jv_list(l, 0);
}

static jval f_sum(jrt *rt, jval v, const jargs *a) {
    jval attribute = arg(a, 0, "attribute", jv_none());
    jval acc = arg(a, 1, "start", jv_int(0));
    jlist *l = jinja_iter(rt, v);
    for (uint32_t i = 0; i < l->n; i++) {
        jval x = attribute.t == JV_NONE ? l->v[i] : attr_path(rt, l->v[i], attribute);
        if ((acc.t == JV_INT || acc.t == JV_BOOL) && (x.t == JV_INT || x.t == JV_BOOL)) acc = jv_int(acc.u.i + x.u.i);
        else if ((acc.t == JV_INT || acc.t == JV_FLOAT || acc.t == JV_BOOL) && (x.t == JV_INT || x.t == JV_FLOAT || x.t == JV_BOOL))
            acc = jv_float((acc.t == JV_FLOAT ? acc.u.f : (double)acc.u.i) + (x.t == JV_FLOAT ? x.u.f : (double)x.u.i));
        else jr_fail(rt, JERR_TYPE, "unsupported operand type(s) for +: '%s' and '%s'", jv_type_name(acc), jv_type_name(x));
    }
    return acc;
}

static jval f_tojson(jrt *rt, jval v, const jargs *a) {
    /* transformers: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False) */
    int ascii = jv_truthy(arg(a, 0, "ensure_ascii", jv_bool(0)));
    jval ind = arg(a, 1, "indent", jv_none());
    jval seps = arg(a, 2, "separators", jv_none());
    int sort = jv_truthy(arg(a, 3, "sort_keys", jv_bool(0)));
    int indent = -1;
    if (ind.t == JV_INT || ind.t == JV_BOOL) indent = ind.u.i < 0 ? 0 : ind.u.i > 64 ? 64 : (int)ind.u.i;
    else if (ind.t != JV_NONE) jr_fail(rt, JERR_TYPE, "tojson: indent must be an integer or None");
    const char *isep = NULL, *ksep = NULL;
    if (seps.t == JV_LIST && !(seps.fl & JF_GEN)) {
        if (seps.u.l->n != 2 || seps.u.l->v[0].t != JV_STR || seps.u.l->v[1].t != JV_STR)
            jr_fail(rt, JERR_TYPE, "tojson: separators must be two strings");
        isep = jr_strdup(rt, seps.u.l->v[0].u.s, seps.u.l->v[0].n);
        ksep = jr_strdup(rt, seps.u.l->v[1].u.s, seps.u.l->v[1].n);
    } else if (seps.t != JV_NONE) jr_fail(rt, JERR_TYPE, "tojson: separators must be two strings");
    jbuf b = {0};
    jv_tojson(rt, &b, v, indent, isep, ksep, sort);
    if (!ascii) return jb_value(rt, &b);
    /* ensure_ascii: non-ASCII appears only inside strings, as \uXXXX (surrogate pairs above the BMP) */
    jbuf o = {0};
    for (size_t i = 0; i < b.n;) {
        size_t k;
        int32_t c = (unsigned char)b.p[i] < 0x80 ? (k = 1, (unsigned char)b.p[i]) : dec(b.p + i, b.n - i, &k);
        char esc[16];
        if (c < 0x80) jb_putc(rt, &o, (char)c);
        else if (c < 0x10000) { snprintf(esc, sizeof esc, "\\u%04x", (unsigned)c); jb_put(rt, &o, esc, 6); }
        else {
            unsigned x = (unsigned)c - 0x10000;
            snprintf(esc, sizeof esc, "\\u%04x\\u%04x", 0xD800 + (x >> 10), 0xDC00 + (x & 0x3FF));
            jb_put(rt, &o, esc, 12);
        }
        i += k;
    }
    return jb_value(rt, &o);
}

static jval f_trim(jrt *rt, jval v, const jargs *a) {
    jval chars = arg(a, 0, "chars", jv_none());
    return strip(rt, to_s(rt, v), chars, 1, 1);
}

static jval f_unique(jrt *rt, jval v, const jargs *a) {
    int cs = jv_truthy(arg(a, 0, "case_sensitive", jv_bool(0)));
    jval attribute = arg(a, 1, "attribute", jv_none());
    jlist *l = jinja_iter(rt, v), *out = jl_new(rt, l->n);
    jval *seen = jr_alloc(rt, (l->n + 1) * sizeof *seen);
    uint32_t ns = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        jval k = sort_key(rt, attribute.t == JV_NONE ? l->v[i] : attr_path(rt, l->v[i], attribute), cs);
        int dup = 0;
        for (uint32_t j = 0; j < ns && !dup; j++) dup = jv_eq(seen[j], k);
        if (dup) continue;
        seen[ns++] = k;
        out->v[out->n++] = l->v[i];
    }
    return gen(out);
}

static jval f_wordcount(jrt *rt, jval v, const jargs *a) {
    (void)a;
    jval s = to_s(rt, v);
    int64_t n = 0;
    int in = 0;
    for (size_t i = 0; i < s.n;) {
        size_t k;
        int32_t c = dec(s.u.s + i, s.n - i, &k);
        utf8proc_category_t cat = utf8proc_category(c);
        int w = c == '_' || (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) || cat == UTF8PROC_CATEGORY_ND;
        if (w && !in) n++;
        in = w;
        i += k;
    }
    return jv_int(n);
}

static jval f_select(jrt *rt, jval v, const jargs *a) { return select_items(rt, v, a, 0, 1); }
static jval f_reject(jrt *rt, jval v, const jargs *a) { return select_items(rt, v, a, 0, 0); }
static jval f_selectattr(jrt *rt, jval v, const jargs *a) { return select_items(rt, v, a, 1, 1); }
static jval f_rejectattr(jrt *rt, jval v, const jargs *a) { return select_items(rt, v, a, 1, 0); }

static jval f_center(jrt *rt, jval v, const jargs *a) {
    int64_t width = arg(a, 0, "width", jv_int(80)).u.i;
    jval s = to_s(rt, v);
    int64_t len = (int64_t)ju_len(s.u.s, s.n);
    if (width > 4096) jr_fail(rt, JERR_LIMIT, "center width too large");
    if (width <= len) return s;
    int64_t pad = width - len, left = pad / 2 + (pad & width & 1);
    jbuf b = {0};
    for (int64_t i = 0; i < left; i++) jb_putc(rt, &b, ' ');
    jb_put(rt, &b, s.u.s, s.n);
    for (int64_t i = 0; i < pad - left; i++) jb_putc(rt, &b, ' ');
    return jb_value(rt, &b);
}

static const struct { const char *name; filter_fn fn; } filters[] = {
    {"abs", f_abs}, {"attr", f_attr}, {"capitalize", f_capitalize}, {"center", f_center},
    {"count", f_length}, {"d", f_default}, {"default", f_default}, {"dictsort", f_dictsort},
    {"e", f_escape}, {"escape", f_escape}, {"first", f_first}, {"float", f_float},
    {"forceescape", f_escape}, {"indent", f_indent}, {"int", f_int}, {"items", f_items},
    {"join", f_join}, {"last", f_last}, {"length", f_length}, {"list", f_list}, {"lower", f_lower},
    {"map", f_map}, {"max", f_max}, {"min", f_min}, {"reject", f_reject}, {"rejectattr", f_rejectattr},
    {"replace", f_replace}, {"reverse", f_reverse}, {"round", f_round}, {"safe", f_safe},
    {"select", f_select}, {"selectattr", f_selectattr}, {"sort", f_sort}, {"string", f_string},
    {"sum", f_sum}, {"title", f_title}, {"tojson", f_tojson}, {"trim", f_trim}, {"unique", f_unique},
    {"upper", f_upper}, {"wordcount", f_wordcount},
};

int jinja_filter_id(const char *name, size_t n) {
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++)
        if (strlen(filters[i].name) == n && memcmp(filters[i].name, name, n) == 0) return (int)i;
    return -1;
}

jval jinja_filter(jrt *rt, int id, jval v, const jargs *a) { return filters[id].fn(rt, v, a); }

/* ---- tests ------------------------------------------------------------- */

typedef int (*test_fn)(jrt *rt, jval v, const jargs *a);

static jval targ(jrt *rt, const jargs *a, const char *test) {
    if (a->npos < 1) jr_fail(rt, JERR_TYPE, "the '%s' test needs an argument", test);
    return a->pos[0];
}

static int t_defined(jrt *rt, jval v, const jargs *a) { (void)rt; (void)a; return v.t != JV_UNDEF; }
static int t_undefined(jrt *rt, jval v, const jargs *a) { (void)rt; (void)a; return v.t == JV_UNDEF; }
static int t_none(jrt *rt, jval v, const jargs *a) { (void)rt; (void)a; return v.t == JV_NONE; }
static int t_boolean(jrt *rt, jval v, const jargs *a) { (void)rt; (void)a; return v.t == JV_BOOL; }
static int t_true(jrt *rt, jval v, const jargs *a) { (void)rt; (void)a; return v.t == JV_BOOL && v.u.i; }
static int t_false(jrt *rt, jval v, const jargs *a) { (void)rt; (void)a; return v.t == JV_BOOL && !v.u.i; }
static int t_integer(jrt *rt, jval v, const jargs *a) { (void)rt; (void)a; return v.t == JV_INT; }
static int t_float(jrt *rt, jval v, const jargs *a) { (void)rt; (void)a; return v.t == JV_FLOAT; }
static int t_number(jrt *rt, jval v, const jargs *a) { (void)rt; (void)a; return v.t == JV_INT || v.t == JV_FLOAT || v.t == JV_BOOL; }
static int t_string(jrt *rt, jval v, const jargs *a) { (void)rt; (void)a; return v.t == JV_STR; }
static int t_mapping(jrt *rt, jval v, const jargs *a) { (void)rt; (void)a; return v.t == JV_DICT; }
static int t_iterable(jrt *rt, jval v, const jargs *a) {
    (void)rt; (void)a;
    return v.t == JV_STR || v.t == JV_LIST || v.t == JV_DICT || v.t == JV_UNDEF;  /* Undefined iterates (empty) */
}
static int t_sequence(jrt *rt, jval v, const jargs *a) {
    (void)rt; (void)a;
    return v.t == JV_STR || (v.t == JV_LIST && !(v.fl & JF_GEN)) || v.t == JV_DICT || v.t == JV_UNDEF;
}
static int t_callable(jrt *rt, jval v, const jargs *a) { (void)rt; (void)a; return v.t == JV_MACRO || v.t == JV_FUNC; }
static int t_escaped(jrt *rt, jval v, const jargs *a) { (void)rt; (void)a; return v.t == JV_STR && (v.fl & JF_SAFE); }
static int t_eq(jrt *rt, jval v, const jargs *a) { return jv_eq(v, targ(rt, a, "eq")); }
static int t_ne(jrt *rt, jval v, const jargs *a) { return !jv_eq(v, targ(rt, a, "ne")); }
static int t_lt(jrt *rt, jval v, const jargs *a) { return jv_cmp(rt, v, targ(rt, a, "lt")) < 0; }
static int t_le(jrt *rt, jval v, const jargs *a) { return jv_cmp(rt, v, targ(rt, a, "le")) <= 0; }
static int t_gt(jrt *rt, jval v, const jargs *a) { return jv_cmp(rt, v, targ(rt, a, "gt")) > 0; }
static int t_ge(jrt *rt, jval v, const jargs *a) { return jv_cmp(rt, v, targ(rt, a, "ge")) >= 0; }
static int t_sameas(jrt *rt, jval v, const jargs *a) {
    jval o = targ(rt, a, "sameas");
    if (v.t != o.t) return 0;
    if (v.t == JV_NONE || v.t == JV_UNDEF) return 1;
    if (v.t == JV_BOOL || v.t == JV_INT) return v.u.i == o.u.i;
    return v.u.p == o.u.p && v.n == o.n;
}
static int t_in(jrt *rt, jval v, const jargs *a) {
    jval hay = targ(rt, a, "in");
    if (hay.t == JV_STR && v.t == JV_STR) return find_bytes(hay.u.s, hay.n, v.u.s, v.n) != NULL;
    jlist *l = jinja_iter(rt, hay);
    for (uint32_t i = 0; i < l->n; i++)
        if (jv_eq(l->v[i], v)) return 1;
    return 0;
}
static int64_t int_of(jrt *rt, jval v, const char *test) {
    if (v.t == JV_INT || v.t == JV_BOOL) return v.u.i;
    if (v.t == JV_UNDEF) jinja_undefined(rt, v);
    jr_fail(rt, JERR_TYPE, "the '%s' test needs an integer, not %s", test, jv_type_name(v));
}
static int t_odd(jrt *rt, jval v, const jargs *a) { (void)a; return (int_of(rt, v, "odd") & 1) != 0; }
static int t_even(jrt *rt, jval v, const jargs *a) { (void)a; return (int_of(rt, v, "even") & 1) == 0; }
static int t_divisibleby(jrt *rt, jval v, const jargs *a) {
    int64_t d = int_of(rt, targ(rt, a, "divisibleby"), "divisibleby");
    if (d == 0) jr_fail(rt, JERR_VALUE, "integer division or modulo by zero");
    return int_of(rt, v, "divisibleby") % d == 0;
}
static int t_lower(jrt *rt, jval v, const jargs *a) {
    (void)a;
    if (v.t != JV_STR) return 0;
    jval l = recase(rt, v, CASE_LOWER);
    return l.n == v.n && memcmp(l.u.s, v.u.s, v.n) == 0;
}
static int t_upper(jrt *rt, jval v, const jargs *a) {
    (void)a;
    if (v.t != JV_STR) return 0;
    jval u = recase(rt, v, CASE_UPPER);
    return u.n == v.n && memcmp(u.u.s, v.u.s, v.n) == 0;
}
static int t_filter(jrt *rt, jval v, const jargs *a) { (void)rt; (void)a; return v.t == JV_STR && jinja_filter_id(v.u.s, v.n) >= 0; }
static int t_test(jrt *rt, jval v, const jargs *a) { (void)rt; (void)a; return v.t == JV_STR && jinja_test_id(v.u.s, v.n) >= 0; }

static const struct { const char *name; test_fn fn; } tests[] = {
    {"!=", t_ne}, {"<", t_lt}, {"<=", t_le}, {"==", t_eq}, {">", t_gt}, {">=", t_ge},
    {"boolean", t_boolean}, {"callable", t_callable}, {"defined", t_defined}, {"divisibleby", t_divisibleby},
    {"eq", t_eq}, {"equalto", t_eq}, {"escaped", t_escaped}, {"even", t_even}, {"false", t_false},
    {"filter", t_filter}, {"float", t_float}, {"ge", t_ge}, {"greaterthan", t_gt}, {"gt", t_gt}, {"in", t_in},
    {"integer", t_integer}, {"iterable", t_iterable}, {"le", t_le}, {"lessthan", t_lt}, {"lower", t_lower},
    {"lt", t_lt}, {"mapping", t_mapping}, {"ne", t_ne}, {"none", t_none}, {"number", t_number}, {"odd", t_odd},
    {"sameas", t_sameas}, {"sequence", t_sequence}, {"string", t_string}, {"test", t_test}, {"true", t_true},
    {"undefined", t_undefined}, {"upper", t_upper},
};

int jinja_test_id(const char *name, size_t n) {
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (strlen(tests[i].name) == n && memcmp(tests[i].name, name, n) == 0) return (int)i;
    return -1;
}

int jinja_test(jrt *rt, int id, jval v, const jargs *a) { return tests[id].fn(rt, v, a); }

/* ---- methods ------------------------------------------------------------ */

static const char *const str_methods[] = {
    "capitalize", "center", "count", "endswith", "find", "isalnum", "isalpha", "isdigit", "islower", "isspace",
    "isupper", "join", "lower", "lstrip", "removeprefix", "removesuffix", "replace", "rfind", "rsplit", "rstrip",
    "split", "splitlines", "startswith", "strip", "swapcase", "title", "upper", NULL};
static const char *const dict_methods[] = {"copy", "get", "items", "keys", "values", NULL};
static const char *const dict_unsafe[] = {"clear", "pop", "popitem", "setdefault", "update", NULL};
static const char *const list_methods[] = {"copy", "count", "index", NULL};
static const char *const list_unsafe[] = {"append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort", NULL};

static int in_names(const char *const *names, const char *name, size_t n) {
    for (; *names; names++)
        if (strlen(*names) == n && memcmp(*names, name, n) == 0) return 1;
    return 0;
}

int jinja_has_method(jval obj, const char *name, size_t n) {
    switch (obj.t) {
    case JV_STR: return in_names(str_methods, name, n);
    case JV_DICT: return in_names(dict_methods, name, n) || in_names(dict_unsafe, name, n);
    case JV_LIST: return !(obj.fl & JF_GEN) && (in_names(list_methods, name, n) || in_names(list_unsafe, name, n));
    default: return 0;
    }
}

static int starts_or_ends(jrt *rt, jval s, jval x, int ends) {
    if (x.t == JV_LIST && (x.fl & JF_TUPLE)) {
        for (uint32_t i = 0; i < x.u.l->n; i++)
            if (starts_or_ends(rt, s, x.u.l->v[i], ends)) return 1;
        return 0;
    }
    if (x.t != JV_STR) jr_fail(rt, JERR_TYPE, "%s first arg must be str or a tuple of str, not %s",
                               ends ? "endswith" : "startswith", jv_type_name(x));
    if (x.n > s.n) return 0;
    return memcmp(s.u.s + (ends ? s.n - x.n : 0), x.u.s, x.n) == 0;
}

static int all_chars(jval s, int (*pred)(int32_t)) {
    if (s.n == 0) return 0;
    for (size_t i = 0; i < s.n;) {
        size_t k;
        if (!pred(dec(s.u.s + i, s.n - i, &k))) return 0;
        i += k;
    }
    return 1;
}
static int p_digit(int32_t c) { return utf8proc_category(c) == UTF8PROC_CATEGORY_ND; }
static int p_alpha(int32_t c) { utf8proc_category_t k = utf8proc_category(c); return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO; }
static int p_alnum(int32_t c) { return p_alpha(c) || p_digit(c) || utf8proc_category(c) == UTF8PROC_CATEGORY_NL || utf8proc_category(c) == UTF8PROC_CATEGORY_NO; }

#define NAME_IS(w) (n == sizeof(w) - 1 && memcmp(name, w, n) == 0)

static jval str_method(jrt *rt, jval s, const char *name, size_t n, const jargs *a) {
    if (NAME_IS("strip")) return strip(rt, s, arg(a, 0, "chars", jv_none()), 1, 1);
    if (NAME_IS("lstrip")) return strip(rt, s, arg(a, 0, "chars", jv_none()), 1, 0);
    if (NAME_IS("rstrip")) return strip(rt, s, arg(a, 0, "chars", jv_none()), 0, 1);
    if (NAME_IS("upper")) return recase(rt, s, CASE_UPPER);
    if (NAME_IS("lower")) return recase(rt, s, CASE_LOWER);
    if (NAME_IS("title")) return recase(rt, s, CASE_TITLE_PY);
    if (NAME_IS("capitalize")) return recase(rt, s, CASE_CAPITALIZE);
    if (NAME_IS("swapcase")) return recase(rt, s, CASE_SWAP);
    if (NAME_IS("split") || NAME_IS("rsplit")) {
        jval sep = arg(a, 0, "sep", jv_none());
        int64_t maxsplit = arg(a, 1, "maxsplit", jv_int(-1)).u.i;
        if (sep.t != JV_NONE && sep.t != JV_STR) jr_fail(rt, JERR_TYPE, "must be str or None, not %s", jv_type_name(sep));
        if (NAME_IS("rsplit") && maxsplit >= 0 && sep.t == JV_STR) {
            /* from the right: split all, then glue the leading pieces back */
            jlist *all = split(rt, s, sep, -1);
            if ((int64_t)all->n <= maxsplit + 1) return jv_list(all, 0);
            uint32_t glue = all->n - (uint32_t)maxsplit;
            const char *start = all->v[0].u.s;
            const char *end = all->v[glue - 1].u.s + all->v[glue - 1].n;
            jlist *l = jl_new(rt, (uint32_t)maxsplit + 1);
            l->v[l->n++] = jv_str(start, (size_t)(end - start));
            for (uint32_t i = glue; i < all->n; i++) l->v[l->n++] = all->v[i];
            return jv_list(l, 0);
        }
        return jv_list(split(rt, s, sep, NAME_IS("rsplit") ? -1 : maxsplit), 0);
    }
    if (NAME_IS("splitlines")) return jv_list(splitlines(rt, s), 0);
    if (NAME_IS("startswith")) return jv_bool(starts_or_ends(rt, s, arg(a, 0, "prefix", jv_none()), 0));
    if (NAME_IS("endswith")) return jv_bool(starts_or_ends(rt, s, arg(a, 0, "suffix", jv_none()), 1));
    if (NAME_IS("replace")) {
        jval old = str_arg(rt, a, 0, "old", "replace"), new_ = str_arg(rt, a, 1, "new", "replace");
        jval c = arg(a, 2, "count", jv_int(-1));
        return replace(rt, s, old, new_, c.u.i);
    }
    if (NAME_IS("find") || NAME_IS("rfind") || NAME_IS("count")) {
        jval x = str_arg(rt, a, 0, "sub", "find");
        if (NAME_IS("count")) {
            if (x.n == 0) return jv_int((int64_t)ju_len(s.u.s, s.n) + 1);
            int64_t c = 0;
            for (size_t i = 0; i + x.n <= s.n;) {
                const char *p = find_bytes(s.u.s + i, s.n - i, x.u.s, x.n);
                if (p == NULL) break;
                c++;
                i = (size_t)(p - s.u.s) + x.n;
            }
            return jv_int(c);
        }
        const char *hit = NULL;
        if (NAME_IS("find")) hit = find_bytes(s.u.s, s.n, x.u.s, x.n);
        else
            for (size_t i = s.n - (x.n <= s.n ? x.n : s.n) + 1; i-- > 0 && x.n <= s.n;)
                if (memcmp(s.u.s + i, x.u.s, x.n) == 0) { hit = s.u.s + i; break; }
        return jv_int(hit ? cp_index(s.u.s, (size_t)(hit - s.u.s)) : -1);
    }
    if (NAME_IS("join")) {
        jlist *l = jinja_iter(rt, arg(a, 0, "iterable", jv_none()));
        jbuf b = {0};
        for (uint32_t i = 0; i < l->n; i++) {
            if (l->v[i].t != JV_STR)
                jr_fail(rt, JERR_TYPE, "sequence item %u: expected str instance, %s found", (unsigned)i, jv_type_name(l->v[i]));
            if (i) jb_put(rt, &b, s.u.s, s.n);
            jb_put(rt, &b, l->v[i].u.s, l->v[i].n);
        }
        return jb_value(rt, &b);
    }
    if (NAME_IS("removeprefix") || NAME_IS("removesuffix")) {
        jval x = str_arg(rt, a, 0, NAME_IS("removeprefix") ? "prefix" : "suffix", "removeprefix");
        int ends = NAME_IS("removesuffix");
        if (x.n <= s.n && memcmp(s.u.s + (ends ? s.n - x.n : 0), x.u.s, x.n) == 0)
            return jv_str(s.u.s + (ends ? 0 : x.n), s.n - x.n);
        return s;
    }
    if (NAME_IS("isdigit")) return jv_bool(all_chars(s, p_digit));
    if (NAME_IS("isalpha")) return jv_bool(all_chars(s, p_alpha));
    if (NAME_IS("isalnum")) return jv_bool(all_chars(s, p_alnum));
    if (NAME_IS("isspace")) return jv_bool(all_chars(s, py_space));
    if (NAME_IS("islower") || NAME_IS("isupper")) {
        int any = 0, up = NAME_IS("isupper");
        for (size_t i = 0; i < s.n;) {
            size_t k;
            int32_t c = dec(s.u.s + i, s.n - i, &k);
            utf8proc_category_t cat = utf8proc_category(c);
            if (cat == UTF8PROC_CATEGORY_LT || cat == (up ? UTF8PROC_CATEGORY_LL : UTF8PROC_CATEGORY_LU)) return jv_bool(0);
            if (cat == (up ? UTF8PROC_CATEGORY_LU : UTF8PROC_CATEGORY_LL)) any = 1;
            i += k;
        }
        return jv_bool(any);
    }
    if (NAME_IS("center")) return f_center(rt, s, a);
    jr_fail(rt, JERR_TYPE, "'str' object has no method '%.*s'", (int)n, name);
}

jval jinja_method(jrt *rt, jval obj, const char *name, size_t n, const jargs *a) {
    if (obj.t == JV_STR) return str_method(rt, obj, name, n, a);
    if ((obj.t == JV_DICT && in_names(dict_unsafe, name, n)) || (obj.t == JV_LIST && in_names(list_unsafe, name, n)))
        jr_fail(rt, JERR_SECURITY, "access to attribute '%.*s' of '%s' object is unsafe.", (int)n, name, jv_type_name(obj));
    if (obj.t == JV_DICT) {
        const jdict *d = obj.u.d;
        if (NAME_IS("get")) {
            if (a->npos < 1) jr_fail(rt, JERR_TYPE, "get expected at least 1 argument, got 0");
            int i = jd_find(d, a->pos[0]);
            return i >= 0 ? d->v[i] : a->npos > 1 ? a->pos[1] : jv_none();
        }
        if (NAME_IS("items")) return jv_list(f_items(rt, obj, &no_args).u.l, 0);
        if (NAME_IS("keys") || NAME_IS("values")) {
            jlist *l = jl_new(rt, d->n);
            jcopy(l->v, NAME_IS("keys") ? d->k : d->v, d->n * sizeof *l->v);
            l->n = d->n;
            return jv_list(l, 0);
        }
        if (NAME_IS("copy")) {
            jdict *c = jd_new(rt, d->n);
            for (uint32_t i = 0; i < d->n; i++) jd_set(rt, c, d->k[i], d->v[i]);
            return jv_dict(c);
        }
    }
    if (obj.t == JV_LIST) {
        const jlist *l = obj.u.l;
        if (NAME_IS("copy")) return f_list(rt, obj, &no_args);
        if (NAME_IS("count") || NAME_IS("index")) {
            if (a->npos < 1) jr_fail(rt, JERR_TYPE, "%.*s takes exactly one argument", (int)n, name);
            int64_t c = 0;
            for (uint32_t i = 0; i < l->n; i++) {
                if (!jv_eq(l->v[i], a->pos[0])) continue;
                if (NAME_IS("index")) return jv_int(i);
                c++;
            }
            if (NAME_IS("index")) jr_fail(rt, JERR_VALUE, "value is not in list");
            return jv_int(c);
        }
    }
    jr_fail(rt, JERR_TYPE, "'%s' object has no attribute '%.*s'", jv_type_name(obj), (int)n, name);
}

/* ---- globals ------------------------------------------------------------ */

static const char *const globals[] = {"range", "namespace", "dict", "raise_exception", "strftime_now", NULL};

int jinja_global_id(const char *name, size_t n) {
    for (int i = 0; globals[i]; i++)
        if (strlen(globals[i]) == n && memcmp(globals[i], name, n) == 0) return i;
    return -1;
}

/* strftime with C-locale names, independent of the process locale */
static void strftime_c(jrt *rt, jbuf *b, jval fmt, int64_t now) {
    static const char *const mon[] = {"January", "February", "March", "April", "May", "June", "July",
                                      "August", "September", "October", "November", "December"};
    static const char *const day[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
    time_t t = (time_t)now;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) jr_fail(rt, JERR_VALUE, "the clock is out of range");
    char tmp[64];
    for (size_t i = 0; i < fmt.n; i++) {
        char c = fmt.u.s[i];
        if (c != '%' || i + 1 >= fmt.n) { jb_putc(rt, b, c); continue; }
        c = fmt.u.s[++i];
        tmp[0] = 0;
        switch (c) {
        case 'd': snprintf(tmp, sizeof tmp, "%02d", tm.tm_mday); break;
        case 'e': snprintf(tmp, sizeof tmp, "%2d", tm.tm_mday); break;
        case 'm': snprintf(tmp, sizeof tmp, "%02d", tm.tm_mon + 1); break;
        case 'Y': snprintf(tmp, sizeof tmp, "%d", tm.tm_year + 1900); break;
        case 'y': snprintf(tmp, sizeof tmp, "%02d", tm.tm_year % 100); break;
        case 'H': snprintf(tmp, sizeof tmp, "%02d", tm.tm_hour); break;
        case 'I': snprintf(tmp, sizeof tmp, "%02d", tm.tm_hour % 12 ? tm.tm_hour % 12 : 12); break;
        case 'M': snprintf(tmp, sizeof tmp, "%02d", tm.tm_min); break;
        case 'S': snprintf(tmp, sizeof tmp, "%02d", tm.tm_sec); break;
        case 'p': snprintf(tmp, sizeof tmp, "%s", tm.tm_hour < 12 ? "AM" : "PM"); break;
        case 'j': snprintf(tmp, sizeof tmp, "%03d", tm.tm_yday + 1); break;
        case 'B': snprintf(tmp, sizeof tmp, "%s", mon[tm.tm_mon]); break;
        case 'b': case 'h': snprintf(tmp, sizeof tmp, "%.3s", mon[tm.tm_mon]); break;
        case 'A': snprintf(tmp, sizeof tmp, "%s", day[tm.tm_wday]); break;
        case 'a': snprintf(tmp, sizeof tmp, "%.3s", day[tm.tm_wday]); break;
        case 'w': snprintf(tmp, sizeof tmp, "%d", tm.tm_wday); break;
        case '%': snprintf(tmp, sizeof tmp, "%%"); break;
        default: snprintf(tmp, sizeof tmp, "%%%c", c); break;
        }
        jb_put(rt, b, tmp, strlen(tmp));
    }
}

jval jinja_call_global(jrt *rt, int id, const jargs *a) {
    switch (id) {
    case 0: { /* range */
        int64_t v[3] = {0, 0, 1};
        if (a->npos < 1 || a->npos > 3) jr_fail(rt, JERR_TYPE, "range expected 1 to 3 arguments, got %d", a->npos);
        for (int i = 0; i < a->npos; i++) {
            if (a->pos[i].t != JV_INT && a->pos[i].t != JV_BOOL)
                jr_fail(rt, JERR_TYPE, "'%s' object cannot be interpreted as an integer", jv_type_name(a->pos[i]));
        }
        if (a->npos == 1) v[1] = a->pos[0].u.i;
        else { v[0] = a->pos[0].u.i; v[1] = a->pos[1].u.i; }
        if (a->npos == 3) v[2] = a->pos[2].u.i;
        if (v[2] == 0) jr_fail(rt, JERR_VALUE, "range() arg 3 must not be zero");
        double count = ceil(((double)v[1] - (double)v[0]) / (double)v[2]);
        if (count < 0) count = 0;
        if (count > (double)rt->lim.max_steps)
            jr_fail(rt, JERR_LIMIT, "range of %.0f items is past the limit of %llu", count, (unsigned long long)rt->lim.max_steps);
        jlist *l = jl_new(rt, (uint32_t)count);
        for (int64_t i = v[0]; v[2] > 0 ? i < v[1] : i > v[1]; i += v[2]) l->v[l->n++] = jv_int(i);
        return jv_list(l, 0);
    }
    case 1: case 2: { /* namespace(**kw), dict(**kw) */
        jdict *d = jd_new(rt, (uint32_t)a->nkw);
        if (a->npos > 1) jr_fail(rt, JERR_TYPE, "expected at most 1 positional argument");
        if (a->npos == 1) {
            if (a->pos[0].t != JV_DICT) jr_fail(rt, JERR_TYPE, "'%s' object is not a mapping", jv_type_name(a->pos[0]));
            for (uint32_t i = 0; i < a->pos[0].u.d->n; i++) jd_set(rt, d, a->pos[0].u.d->k[i], a->pos[0].u.d->v[i]);
        }
        for (int i = 0; i < a->nkw; i++) jd_set(rt, d, jv_str(a->kw[i], a->kw_n[i]), a->kwv[i]);
        jval v = jv_dict(d);
        if (id == 1) v.t = JV_NS;
        return v;
    }
    case 3: { /* raise_exception(message) */
        jval m = a->npos ? jv_to_str(rt, a->pos[0]) : jv_str("", 0);
        jr_fail(rt, JERR_RAISED, "%.*s", (int)(m.n > 200 ? 200 : m.n), m.u.s);
    }
    case 4: { /* strftime_now(format) */
        jval f = str_arg(rt, a, 0, "format", "strftime_now");
        jbuf b = {0};
        strftime_c(rt, &b, f, rt->now);
        return jb_value(rt, &b);
    }
    default:
        jr_fail(rt, JERR_VALUE, "internal: unknown global %d", id);
    }
}
