/* The template interpreter: statements write to the current output
 * buffer, expressions give values, with Jinja's scoping (a for loop's body
 * gets a fresh scope each iteration; if blocks get none; a macro sees the
 * scope it was defined in as it is when called) and Python's operators. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "chat/jinja.h"

typedef struct jmacro { const jstmt *def; jscope *closure; } jmacro;

typedef struct jloop {
    jlist *items;
    uint32_t i;
    int depth;
} jloop;

/* a method looked up but not called yet (`x.items` without parentheses) */
typedef struct jbound { jval self; const char *name; uint32_t n; } jbound;

enum { UNDEF_ATTR = 0x80 };

static jval undef_attr(jval obj, const char *name, size_t n) {
    jval u = jv_undef(name);
    u.n = (uint32_t)n;
    u.fl = (uint8_t)(UNDEF_ATTR | obj.t);
    return u;
}

static jval undef_name(const char *name, size_t n) {
    jval u = jv_undef(name);
    u.n = (uint32_t)n;
    return u;
}

_Noreturn void jinja_undefined(jrt *rt, jval u) {
    if (u.fl & UNDEF_ATTR) {
        jval o = {(uint8_t)(u.fl & 0x7f), 0, 0, {0}};
        jr_fail(rt, JERR_UNDEFINED, "'%s object' has no attribute '%.*s'", jv_type_name(o), (int)u.n, u.u.s);
    }
    if (u.u.s) jr_fail(rt, JERR_UNDEFINED, "'%.*s' is undefined", (int)u.n, u.u.s);
    jr_fail(rt, JERR_UNDEFINED, "value is undefined");
}

/* ---- scopes ----------------------------------------------------------- */

static jscope *scope_new(jrt *rt, jscope *parent) {
    jscope *s = jr_alloc(rt, sizeof *s);
    s->parent = parent;
    s->sym = NULL;
    s->val = NULL;
    s->n = s->cap = 0;
    return s;
}

static const jval *lookup(const jscope *s, uint32_t sym) {
    for (; s; s = s->parent)
        for (uint32_t i = 0; i < s->n; i++)
            if (s->sym[i] == sym) return &s->val[i];
    return NULL;
}

static void scope_set(jrt *rt, jscope *s, uint32_t sym, jval v) {
    for (uint32_t i = 0; i < s->n; i++)
        if (s->sym[i] == sym) { s->val[i] = v; return; }
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 8;
        uint32_t *ns = jr_alloc(rt, cap * sizeof *ns);
        jval *nv = jr_alloc(rt, cap * sizeof *nv);
        if (s->n) {
            jcopy(ns, s->sym, s->n * sizeof *ns);
            jcopy(nv, s->val, s->n * sizeof *nv);
        }
        s->sym = ns;
        s->val = nv;
        s->cap = cap;
    }
    s->sym[s->n] = sym;
    s->val[s->n++] = v;
}

void jinja_set_var(jrt *rt, const char *name, jval v) {
    int sym = jinja_sym_find(rt->t, name);
    if (sym >= 0) scope_set(rt, rt->root, (uint32_t)sym, v);
}

static void step(jrt *rt) {
    if (++rt->steps > rt->lim.max_steps)
        jr_fail(rt, JERR_LIMIT, "the template ran more than %llu loop iterations and calls",
                (unsigned long long)rt->lim.max_steps);
}

/* ---- access ----------------------------------------------------------- */

static jval loop_attr(jrt *rt, const jloop *L, const char *name, size_t n) {
    uint32_t len = L->items->n, i = L->i;
#define IS(w) (n == sizeof(w) - 1 && memcmp(name, w, n) == 0)
    if (IS("index")) return jv_int(i + 1);
    if (IS("index0")) return jv_int(i);
    if (IS("revindex")) return jv_int(len - i);
    if (IS("revindex0")) return jv_int(len - i - 1);
    if (IS("first")) return jv_bool(i == 0);
    if (IS("last")) return jv_bool(i + 1 == len);
    if (IS("length")) return jv_int(len);
    if (IS("depth")) return jv_int(L->depth);
    if (IS("depth0")) return jv_int(L->depth - 1);
    if (IS("previtem")) return i > 0 ? L->items->v[i - 1] : undef_name("previtem", 8);
    if (IS("nextitem")) return i + 1 < len ? L->items->v[i + 1] : undef_name("nextitem", 8);
#undef IS
    (void)rt;
    jval o = {JV_LOOP, 0, 0, {0}};
    return undef_attr(o, name, n);
}

jval jinja_getattr(jrt *rt, jval obj, const char *name, size_t n) {
    switch (obj.t) {
    case JV_UNDEF:
        jinja_undefined(rt, obj);
    case JV_DICT: {
        /* Jinja tries the Python attribute first: d.items is the method */
        if (jinja_has_method(obj, name, n)) break;
        int i = jd_find_str(obj.u.d, name, n);
        return i >= 0 ? obj.u.d->v[i] : undef_attr(obj, name, n);
    }
    case JV_NS: {
        int i = jd_find_str(obj.u.d, name, n);
        return i >= 0 ? obj.u.d->v[i] : undef_attr(obj, name, n);
    }
    case JV_LOOP:
        if (n == 5 && memcmp(name, "cycle", 5) == 0) break;
        return loop_attr(rt, obj.u.p, name, n);
    case JV_STR: case JV_LIST:
        if (jinja_has_method(obj, name, n)) break;
        return undef_attr(obj, name, n);
    default:
        return undef_attr(obj, name, n);
    }
    jbound *b = jr_alloc(rt, sizeof *b);
    b->self = obj;
    b->name = name;
    b->n = (uint32_t)n;
    jval f = {JV_FUNC, 1, 0, {0}};
    f.u.p = b;
    return f;
}

static int64_t norm_index(int64_t i, int64_t len) { return i < 0 ? i + len : i; }

/* byte offset of code point `cp` in s (n if past the end) */
static size_t cp_offset(const char *s, size_t n, size_t cp) {
    size_t i = 0;
    while (i < n && cp) {
        i++;
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
        cp--;
    }
    return i;
}

jval jinja_getitem(jrt *rt, jval obj, jval key) {
    switch (obj.t) {
    case JV_UNDEF:
        jinja_undefined(rt, obj);
    case JV_LIST:
        if ((key.t == JV_INT || key.t == JV_BOOL) && !(obj.fl & JF_GEN)) {
            int64_t i = norm_index(key.u.i, obj.u.l->n);
            if (i >= 0 && i < (int64_t)obj.u.l->n) return obj.u.l->v[i];
        }
        break;
    case JV_STR:
        if (key.t == JV_INT || key.t == JV_BOOL) {
            int64_t len = (int64_t)ju_len(obj.u.s, obj.n);
            int64_t i = norm_index(key.u.i, len);
            if (i >= 0 && i < len) {
                size_t a = cp_offset(obj.u.s, obj.n, (size_t)i);
                size_t b = cp_offset(obj.u.s + a, obj.n - a, 1) + a;
                return jv_str(obj.u.s + a, b - a);
            }
        }
        break;
    case JV_DICT: case JV_NS: {
        int i = jd_find(obj.u.d, key);
        if (i >= 0) return obj.u.d->v[i];
        break;
    }
    case JV_LOOP:
        if (key.t == JV_STR) return loop_attr(rt, obj.u.p, key.u.s, key.n);
        break;
    default:
        break;
    }
    /* then the attribute, as Jinja's getitem does */
    if (key.t == JV_STR && obj.t != JV_DICT && obj.t != JV_NS) return jinja_getattr(rt, obj, key.u.s, key.n);
    if (key.t == JV_STR) return undef_attr(obj, key.u.s, key.n);
    return undef_name(NULL, 0);
}

/* Python's slice indices for a sequence of `len` items */
static void slice_bounds(jrt *rt, jval a, jval b, jval c, int64_t len, int64_t *start, int64_t *stop, int64_t *stp) {
    int64_t st = 1;
    if (c.t == JV_INT || c.t == JV_BOOL) st = c.u.i;
    else if (c.t != JV_NONE && c.t != JV_UNDEF) jr_fail(rt, JERR_TYPE, "slice indices must be integers or None");
    if (st == 0) jr_fail(rt, JERR_VALUE, "slice step cannot be zero");
    int64_t lo = st > 0 ? 0 : -1, hi = st > 0 ? len : -1;
    int64_t s0 = st > 0 ? 0 : len - 1, s1 = st > 0 ? len : -1;
    if (a.t == JV_INT || a.t == JV_BOOL) {
        s0 = a.u.i < 0 ? a.u.i + len : a.u.i;
        if (s0 < lo) s0 = lo;
        if (s0 > (st > 0 ? hi : len - 1)) s0 = st > 0 ? hi : len - 1;
        if (s0 < 0 && st > 0) s0 = 0;
    } else if (a.t != JV_NONE && a.t != JV_UNDEF) jr_fail(rt, JERR_TYPE, "slice indices must be integers or None");
    if (b.t == JV_INT || b.t == JV_BOOL) {
        s1 = b.u.i < 0 ? b.u.i + len : b.u.i;
        if (s1 < lo) s1 = lo;
        if (s1 > (st > 0 ? hi : len - 1)) s1 = st > 0 ? hi : len - 1;
    } else if (b.t != JV_NONE && b.t != JV_UNDEF) jr_fail(rt, JERR_TYPE, "slice indices must be integers or None");
    *start = s0;
    *stop = s1;
    *stp = st;
}

static jval do_slice(jrt *rt, jval obj, jval a, jval b, jval c) {
    int64_t s0, s1, st;
    if (obj.t == JV_UNDEF) jinja_undefined(rt, obj);
    if (obj.t == JV_LIST && !(obj.fl & JF_GEN)) {
        slice_bounds(rt, a, b, c, obj.u.l->n, &s0, &s1, &st);
        jlist *l = jl_new(rt, 0);
        for (int64_t i = s0; st > 0 ? i < s1 : i > s1; i += st) jl_push(rt, l, obj.u.l->v[i]);
        return jv_list(l, obj.fl & JF_TUPLE);
    }
    if (obj.t == JV_STR) {
        int64_t len = (int64_t)ju_len(obj.u.s, obj.n);
        slice_bounds(rt, a, b, c, len, &s0, &s1, &st);
        if (st == 1) {
            if (s1 <= s0) return jv_str("", 0);
            size_t x = cp_offset(obj.u.s, obj.n, (size_t)s0);
            size_t y = cp_offset(obj.u.s + x, obj.n - x, (size_t)(s1 - s0)) + x;
            return jv_str(obj.u.s + x, y - x);
        }
        /* a step: walk code points */
        size_t *off = jr_alloc(rt, ((size_t)len + 1) * sizeof *off);
        size_t k = 0;
        for (size_t i = 0; i < obj.n; i++)
            if (((unsigned char)obj.u.s[i] & 0xC0) != 0x80) off[k++] = i;
        off[k] = obj.n;
        jbuf out = {0};
        for (int64_t i = s0; st > 0 ? i < s1 : i > s1; i += st) jb_put(rt, &out, obj.u.s + off[i], off[i + 1] - off[i]);
        return jb_value(rt, &out);
    }
    jr_fail(rt, JERR_TYPE, "'%s' object is not subscriptable", jv_type_name(obj));
}

/* ---- operators -------------------------------------------------------- */

static int is_int(jval v) { return v.t == JV_INT || v.t == JV_BOOL; }
static int is_num(jval v) { return is_int(v) || v.t == JV_FLOAT; }
static double fnum(jval v) { return v.t == JV_FLOAT ? v.u.f : (double)v.u.i; }

static const char *op_name(jop op) {
    static const char *const names[] = {"+", "-", "*", "/", "//", "%", "**", "~"};
    return op <= JO_CONCAT ? names[op] : "?";
}

static _Noreturn void bad_operands(jrt *rt, jop op, jval a, jval b) {
    if (a.t == JV_UNDEF) jinja_undefined(rt, a);
    if (b.t == JV_UNDEF) jinja_undefined(rt, b);
    if (op == JO_ADD && (a.t == JV_STR || a.t == JV_LIST))
        jr_fail(rt, JERR_TYPE, "can only concatenate %s (not \"%s\") to %s", jv_type_name(a), jv_type_name(b), jv_type_name(a));
    jr_fail(rt, JERR_TYPE, "unsupported operand type(s) for %s: '%s' and '%s'", op_name(op), jv_type_name(a), jv_type_name(b));
}

static jval repeat(jrt *rt, jval seq, int64_t times) {
    if (times <= 0) return seq.t == JV_STR ? jv_str("", 0) : jv_list(jl_new(rt, 0), seq.fl & JF_TUPLE);
    if (seq.t == JV_STR) {
        if (seq.n && (uint64_t)times > rt->lim.max_output / seq.n)
            jr_fail(rt, JERR_LIMIT, "string repetition would pass %zu bytes", rt->lim.max_output);
        char *p = jr_alloc(rt, seq.n * (size_t)times + 1);
        for (int64_t i = 0; i < times; i++) jcopy(p + (size_t)i * seq.n, seq.u.s, seq.n);
        return jv_str(p, seq.n * (size_t)times);
    }
    if (seq.u.l->n && (uint64_t)times > rt->lim.max_steps / seq.u.l->n)
        jr_fail(rt, JERR_LIMIT, "list repetition too large");
    jlist *l = jl_new(rt, (uint32_t)(seq.u.l->n * times));
    for (int64_t i = 0; i < times; i++)
        for (uint32_t j = 0; j < seq.u.l->n; j++) l->v[l->n++] = seq.u.l->v[j];
    return jv_list(l, seq.fl & JF_TUPLE);
}

static jval arith(jrt *rt, jop op, jval a, jval b) {
    if (op == JO_CONCAT) {
        jbuf o = {0};
        jv_str_into(rt, &o, a);
        jv_str_into(rt, &o, b);
        return jb_value(rt, &o);
    }
    if (is_int(a) && is_int(b)) {
        int64_t x = a.u.i, y = b.u.i, r;
        switch (op) {
        case JO_ADD:
            if ((y > 0 && x > INT64_MAX - y) || (y < 0 && x < INT64_MIN - y)) break;
            return jv_int(x + y);
        case JO_SUB:
            if ((y < 0 && x > INT64_MAX + y) || (y > 0 && x < INT64_MIN + y)) break;
            return jv_int(x - y);
        case JO_MUL:
            if (x && (y > INT64_MAX / (x < 0 ? -x : x) || y < -(INT64_MAX / (x < 0 ? -x : x)))) break;
            return jv_int(x * y);
        case JO_DIV:
            if (y == 0) jr_fail(rt, JERR_VALUE, "division by zero");
            return jv_float((double)x / (double)y);
        case JO_FLOORDIV: case JO_MOD:
            if (y == 0) jr_fail(rt, JERR_VALUE, "integer division or modulo by zero");
            if (x == INT64_MIN && y == -1) break;
            r = x % y;
            if (r != 0 && ((r < 0) != (y < 0))) r += y;
            return op == JO_MOD ? jv_int(r) : jv_int((x - r) / y);
        case JO_POW:
            if (y >= 0) {
                int64_t p = 1;
                for (int64_t i = 0; i < y; i++) {
                    if (p && (x > INT64_MAX / (p < 0 ? -p : p) || x < -(INT64_MAX / (p < 0 ? -p : p)))) goto overflow;
                    p *= x;
                    if (p == 0 || p == 1) break;
                }
                return jv_int(p);
            }
            return jv_float(pow((double)x, (double)y));
        default: break;
        }
    overflow:
        jr_fail(rt, JERR_VALUE, "integer overflow in %s", op_name(op));
    }
    if (is_num(a) && is_num(b)) {
        double x = fnum(a), y = fnum(b);
        switch (op) {
        case JO_ADD: return jv_float(x + y);
        case JO_SUB: return jv_float(x - y);
        case JO_MUL: return jv_float(x * y);
        case JO_DIV:
            if (y == 0) jr_fail(rt, JERR_VALUE, "float division by zero");
            return jv_float(x / y);
        case JO_FLOORDIV: case JO_MOD: {
            if (y == 0) jr_fail(rt, JERR_VALUE, "float modulo");
            double m = fmod(x, y);
            if (m != 0 && ((m < 0) != (y < 0))) m += y;
            return op == JO_MOD ? jv_float(m) : jv_float(floor((x - m) / y + 0.5));
        }
        case JO_POW: return jv_float(pow(x, y));
        default: break;
        }
    }
    if (op == JO_ADD && a.t == JV_STR && b.t == JV_STR && ((a.fl | b.fl) & JF_SAFE)) {
        /* Markup + str escapes the plain side (markupsafe), even without autoescape */
        jval x = a.fl & JF_SAFE ? a : jinja_escape(rt, a), y = b.fl & JF_SAFE ? b : jinja_escape(rt, b);
        jval r = arith(rt, op, jv_str(x.u.s, x.n), jv_str(y.u.s, y.n));
        r.fl |= JF_SAFE;
        return r;
    }
    if (op == JO_ADD && a.t == JV_STR && b.t == JV_STR) {
        char *p = jr_alloc(rt, (size_t)a.n + b.n + 1);
        jcopy(p, a.u.s, a.n);
        jcopy(p + a.n, b.u.s, b.n);
        return jv_str(p, (size_t)a.n + b.n);
    }
    if (op == JO_ADD && a.t == JV_LIST && b.t == JV_LIST && !((a.fl | b.fl) & JF_GEN) &&
        (a.fl & JF_TUPLE) == (b.fl & JF_TUPLE)) {
        jlist *l = jl_new(rt, a.u.l->n + b.u.l->n);
        jcopy(l->v, a.u.l->v, a.u.l->n * sizeof *l->v);
        jcopy(l->v + a.u.l->n, b.u.l->v, b.u.l->n * sizeof *l->v);
        l->n = a.u.l->n + b.u.l->n;
        return jv_list(l, a.fl);
    }
    if (op == JO_MUL) {
        if ((a.t == JV_STR || (a.t == JV_LIST && !(a.fl & JF_GEN))) && is_int(b)) return repeat(rt, a, b.u.i);
        if ((b.t == JV_STR || (b.t == JV_LIST && !(b.fl & JF_GEN))) && is_int(a)) return repeat(rt, b, a.u.i);
    }
    if (op == JO_MOD && a.t == JV_STR) jr_fail(rt, JERR_TYPE, "printf-style string formatting is not supported");
    bad_operands(rt, op, a, b);
}

static int contains(jrt *rt, jval hay, jval x) {
    switch (hay.t) {
    case JV_UNDEF: return 0;
    case JV_STR:
        if (x.t != JV_STR) jr_fail(rt, JERR_TYPE, "'in <string>' requires string as left operand, not %s", jv_type_name(x));
        if (x.n == 0) return 1;
        for (size_t i = 0; i + x.n <= hay.n; i++)
            if (memcmp(hay.u.s + i, x.u.s, x.n) == 0) return 1;
        return 0;
    case JV_LIST:
        for (uint32_t i = 0; i < hay.u.l->n; i++)
            if (jv_eq(hay.u.l->v[i], x)) return 1;
        return 0;
    case JV_DICT: case JV_NS:
        return jd_find(hay.u.d, x) >= 0;
    default:
        jr_fail(rt, JERR_TYPE, "argument of type '%s' is not iterable", jv_type_name(hay));
    }
}

/* ---- expressions ------------------------------------------------------ */

static jval eval(jrt *rt, jscope *sc, const jexpr *e);
static void exec(jrt *rt, jscope *sc, const jstmt *s);

/* Arguments: a few inline, more from the arena, so that an eval frame stays
 * small (templates recurse through macros and nested expressions). */
enum { INLINE_ARGS = 6 };

typedef struct evargs { jval pos_in[INLINE_ARGS], kwv_in[INLINE_ARGS]; jargs a; } evargs;

static void eval_args(jrt *rt, jscope *sc, const jexpr *e, evargs *ea) {
    jval *pos = e->npos <= INLINE_ARGS ? ea->pos_in : jr_alloc(rt, e->npos * sizeof *pos);
    jval *kwv = e->nkw <= INLINE_ARGS ? ea->kwv_in : jr_alloc(rt, e->nkw * sizeof *kwv);
    for (int i = 0; i < e->npos; i++) pos[i] = eval(rt, sc, e->args[i]);
    for (int i = 0; i < e->nkw; i++) kwv[i] = eval(rt, sc, e->args[e->npos + i]);
    ea->a.pos = pos;
    ea->a.npos = e->npos;
    ea->a.kwv = kwv;
    ea->a.kw = e->kw;
    ea->a.kw_n = e->kw_n;
    ea->a.nkw = e->nkw;
}

static jval call_macro(jrt *rt, const jmacro *m, const jargs *a) {
    const jstmt *d = m->def;
    int nparams = d->nsyms - 1;
    if (a->npos > nparams)
        jr_fail(rt, JERR_TYPE, "macro '%.*s' takes not more than %d argument(s)", (int)d->name_n, d->name, nparams);
    if (++rt->depth > rt->lim.max_depth)
        jr_fail(rt, JERR_LIMIT, "macro calls nest deeper than %d levels", rt->lim.max_depth);
    step(rt);
    jscope *sc = scope_new(rt, m->closure);
    for (int k = 0; k < a->nkw; k++) {
        int found = 0;
        for (int p = 0; p < nparams; p++) {
            const jtemplate *t = rt->t;
            uint32_t sym = d->syms[p + 1];
            if (t->sym_len[sym] == a->kw_n[k] && memcmp(t->sym_name[sym], a->kw[k], a->kw_n[k]) == 0) found = 1;
        }
        if (!found)
            jr_fail(rt, JERR_TYPE, "macro '%.*s' takes no keyword argument '%.*s'", (int)d->name_n, d->name,
                    (int)a->kw_n[k], a->kw[k]);
    }
    for (int p = 0; p < nparams; p++) {
        uint32_t sym = d->syms[p + 1];
        jval v;
        int have = 0;
        if (p < a->npos) { v = a->pos[p]; have = 1; }
        for (int k = 0; k < a->nkw && !have; k++)
            if (rt->t->sym_len[sym] == a->kw_n[k] && memcmp(rt->t->sym_name[sym], a->kw[k], a->kw_n[k]) == 0) {
                v = a->kwv[k];
                have = 1;
            }
        if (!have) v = d->defaults[p + 1] ? eval(rt, sc, d->defaults[p + 1]) : undef_name(rt->t->sym_name[sym], rt->t->sym_len[sym]);
        scope_set(rt, sc, sym, v);
    }
    jbuf out = {0}, *saved = rt->out;
    rt->out = &out;
    exec(rt, sc, d->body);
    rt->out = saved;
    rt->ctl = 0;
    rt->depth--;
    return jb_value(rt, &out);
}

static jval call_value(jrt *rt, jval fn, const jargs *a) {
    if (fn.t == JV_MACRO) return call_macro(rt, fn.u.p, a);
    if (fn.t == JV_FUNC) {
        if (fn.fl == 1) {
            const jbound *b = fn.u.p;
            return jinja_method(rt, b->self, b->name, b->n, a);
        }
        return jinja_call_global(rt, (int)fn.n, a);
    }
    if (fn.t == JV_UNDEF) jinja_undefined(rt, fn);
    jr_fail(rt, JERR_TYPE, "'%s' object is not callable", jv_type_name(fn));
}

static jval eval_call(jrt *rt, jscope *sc, const jexpr *e) {
    evargs ea;
    const jexpr *f = e->a;
    if (f->k == JE_ATTR) {
        jval obj = eval(rt, sc, f->a);
        rt->line = e->line;
        rt->col = e->col;
        if (obj.t == JV_LOOP && f->name_n == 5 && memcmp(f->name, "cycle", 5) == 0) {
            eval_args(rt, sc, e, &ea);
            if (ea.a.npos == 0) jr_fail(rt, JERR_TYPE, "no items for cycling given");
            const jloop *L = obj.u.p;
            return ea.a.pos[L->i % (uint32_t)ea.a.npos];
        }
        if (obj.t != JV_UNDEF && jinja_has_method(obj, f->name, f->name_n)) {
            eval_args(rt, sc, e, &ea);
            rt->line = e->line;
            rt->col = e->col;
            return jinja_method(rt, obj, f->name, f->name_n, &ea.a);
        }
        jval fn = jinja_getattr(rt, obj, f->name, f->name_n);
        eval_args(rt, sc, e, &ea);
        return call_value(rt, fn, &ea.a);
    }
    jval fn = eval(rt, sc, f);
    eval_args(rt, sc, e, &ea);
    rt->line = e->line;
    rt->col = e->col;
    return call_value(rt, fn, &ea.a);
}

static jval eval_filter_test(jrt *rt, jscope *sc, const jexpr *e) {
    jval v = eval(rt, sc, e->a);
    evargs ea;
    eval_args(rt, sc, e, &ea);
    rt->line = e->line;
    rt->col = e->col;
    if (e->k == JE_FILTER) return jinja_filter(rt, (int)e->sym, v, &ea.a);
    int r = jinja_test(rt, (int)e->sym, v, &ea.a);
    return jv_bool(e->neg ? !r : r);
}

static jval eval_node(jrt *rt, jscope *sc, const jexpr *e);

/* C recursion is bounded as a whole (macros nest expressions nest blocks),
 * so a hostile template runs out of budget, not out of stack. */
enum { MAX_NEST_FRAMES = 1500 };

static jval eval(jrt *rt, jscope *sc, const jexpr *e) {
    if (++rt->nest > MAX_NEST_FRAMES) jr_fail(rt, JERR_LIMIT, "the template nests too deeply");
    jval v = eval_node(rt, sc, e);
    rt->nest--;
    return v;
}

static jval eval_node(jrt *rt, jscope *sc, const jexpr *e) {
    rt->line = e->line;
    rt->col = e->col;
    switch ((jek)e->k) {
    case JE_LIT:
        return e->lit;
    case JE_NAME: {
        const jval *v = lookup(sc, e->sym);
        if (v) return *v;
        int g = jinja_global_id(e->name, e->name_n);
        if (g >= 0) {
            jval f = {JV_FUNC, 0, (uint32_t)g, {0}};
            return f;
        }
        return undef_name(e->name, e->name_n);
    }
    case JE_LIST: case JE_TUPLE: {
        jlist *l = jl_new(rt, e->npos);
        for (int i = 0; i < e->npos; i++) l->v[l->n++] = eval(rt, sc, e->args[i]);
        return jv_list(l, e->k == JE_TUPLE ? JF_TUPLE : 0);
    }
    case JE_DICT: {
        jdict *d = jd_new(rt, e->npos / 2u);
        for (int i = 0; i + 1 < e->npos; i += 2) {
            jval k = eval(rt, sc, e->args[i]);
            if (k.t == JV_LIST && !(k.fl & JF_TUPLE)) jr_fail(rt, JERR_TYPE, "unhashable type: 'list'");
            if (k.t == JV_DICT) jr_fail(rt, JERR_TYPE, "unhashable type: 'dict'");
            jd_set(rt, d, k, eval(rt, sc, e->args[i + 1]));
        }
        return jv_dict(d);
    }
    case JE_ATTR: {
        jval o = eval(rt, sc, e->a);
        rt->line = e->line;
        rt->col = e->col;
        return jinja_getattr(rt, o, e->name, e->name_n);
    }
    case JE_ITEM: {
        jval o = eval(rt, sc, e->a), k = eval(rt, sc, e->b);
        rt->line = e->line;
        rt->col = e->col;
        return jinja_getitem(rt, o, k);
    }
    case JE_SLICE: {
        jval o = eval(rt, sc, e->a);
        jval a = e->b ? eval(rt, sc, e->b) : jv_none();
        jval b = e->c ? eval(rt, sc, e->c) : jv_none();
        jval c = e->args[0] ? eval(rt, sc, e->args[0]) : jv_none();
        rt->line = e->line;
        rt->col = e->col;
        return do_slice(rt, o, a, b, c);
    }
    case JE_CALL:
        return eval_call(rt, sc, e);
    case JE_FILTER: case JE_TEST:
        return eval_filter_test(rt, sc, e);
    case JE_NEG: case JE_POS: {
        jval v = eval(rt, sc, e->a);
        rt->line = e->line;
        rt->col = e->col;
        if (v.t == JV_UNDEF) jinja_undefined(rt, v);
        if (!is_num(v)) jr_fail(rt, JERR_TYPE, "bad operand type for unary %c: '%s'", e->k == JE_NEG ? '-' : '+', jv_type_name(v));
        if (e->k == JE_POS) return v.t == JV_BOOL ? jv_int(v.u.i) : v;
        if (v.t == JV_FLOAT) return jv_float(-v.u.f);
        if (v.u.i == INT64_MIN) jr_fail(rt, JERR_VALUE, "integer overflow in unary -");
        return jv_int(-v.u.i);
    }
    case JE_NOT:
        return jv_bool(!jv_truthy(eval(rt, sc, e->a)));
    case JE_AND: {
        jval a = eval(rt, sc, e->a);
        return jv_truthy(a) ? eval(rt, sc, e->b) : a;
    }
    case JE_OR: {
        jval a = eval(rt, sc, e->a);
        return jv_truthy(a) ? a : eval(rt, sc, e->b);
    }
    case JE_BIN: {
        jval a = eval(rt, sc, e->a), b = eval(rt, sc, e->b);
        rt->line = e->line;
        rt->col = e->col;
        return arith(rt, (jop)e->op, a, b);
    }
    case JE_CMP: {
        jval a = eval(rt, sc, e->a), b = eval(rt, sc, e->b);
        rt->line = e->line;
        rt->col = e->col;
        switch ((jop)e->op) {
        case JO_EQ: return jv_bool(jv_eq(a, b));
        case JO_NE: return jv_bool(!jv_eq(a, b));
        case JO_LT: return jv_bool(jv_cmp(rt, a, b) < 0);
        case JO_LE: return jv_bool(jv_cmp(rt, a, b) <= 0);
        case JO_GT: return jv_bool(jv_cmp(rt, a, b) > 0);
        case JO_GE: return jv_bool(jv_cmp(rt, a, b) >= 0);
        case JO_IN: return jv_bool(contains(rt, b, a));
        case JO_NOTIN: return jv_bool(!contains(rt, b, a));
        default: break;
        }
        break;
    }
    case JE_COND:
        if (jv_truthy(eval(rt, sc, e->b))) return eval(rt, sc, e->a);
        return e->c ? eval(rt, sc, e->c) : undef_name(NULL, 0);
    case JE_BODY:
        return rt->body;
    }
    jr_fail(rt, JERR_VALUE, "internal: unknown expression kind %d", e->k);
}

/* ---- statements ------------------------------------------------------- */

static void assign(jrt *rt, jscope *sc, const jstmt *s, jval v) {
    if (s->nsyms == 1) {
        scope_set(rt, sc, s->syms[0], v);
        return;
    }
    jlist *items = jinja_iter(rt, v);
    if (items->n != s->nsyms)
        jr_fail(rt, JERR_VALUE, items->n < s->nsyms ? "not enough values to unpack (expected %u, got %u)"
                                                    : "too many values to unpack (expected %u, got %u)",
                (unsigned)s->nsyms, (unsigned)items->n);
    for (uint32_t i = 0; i < items->n; i++) scope_set(rt, sc, s->syms[i], items->v[i]);
}

static jval render_body(jrt *rt, jscope *sc, const jstmt *body) {
    jbuf out = {0}, *saved = rt->out;
    rt->out = &out;
    exec(rt, sc, body);
    rt->out = saved;
    return jb_value(rt, &out);
}

static jval apply_body_filters(jrt *rt, jscope *sc, const jexpr *e, jval body) {
    jval saved = rt->body;
    rt->body = body;
    jval v = eval(rt, sc, e);
    rt->body = saved;
    return v;
}

static void exec_for(jrt *rt, jscope *sc, const jstmt *s) {
    jval it = eval(rt, sc, s->e);
    rt->line = s->line;
    rt->col = s->col;
    jlist *items = jinja_iter(rt, it);
    if (s->cond) {
        jlist *kept = jl_new(rt, items->n);
        jscope *tmp = scope_new(rt, sc);
        for (uint32_t i = 0; i < items->n; i++) {
            step(rt);
            tmp->n = 0;
            assign(rt, tmp, s, items->v[i]);
            if (jv_truthy(eval(rt, tmp, s->cond))) kept->v[kept->n++] = items->v[i];
        }
        items = kept;
    }
    if (items->n == 0) {
        exec(rt, sc, s->orelse);
        return;
    }
    jloop *L = jr_alloc(rt, sizeof *L);
    L->items = items;
    L->depth = 1;
    const jval *outer = rt->sym_loop >= 0 ? lookup(sc, (uint32_t)rt->sym_loop) : NULL;
    if (outer && outer->t == JV_LOOP) L->depth = ((const jloop *)outer->u.p)->depth + 1;
    jscope *body = scope_new(rt, sc);
    jval lv = {JV_LOOP, 0, 0, {0}};
    lv.u.p = L;
    for (uint32_t i = 0; i < items->n; i++) {
        step(rt);
        L->i = i;
        body->n = 0;
        if (rt->sym_loop >= 0) scope_set(rt, body, (uint32_t)rt->sym_loop, lv);
        assign(rt, body, s, items->v[i]);
        exec(rt, body, s->body);
        if (rt->ctl == 1) { rt->ctl = 0; break; }
        rt->ctl = 0;
    }
}

static void exec(jrt *rt, jscope *sc, const jstmt *s) {
    if (++rt->nest > MAX_NEST_FRAMES) jr_fail(rt, JERR_LIMIT, "the template nests too deeply");
    for (; s; s = s->next) {
        switch ((jsk)s->k) {
        case JS_TEXT:
            jb_put(rt, rt->out, s->text, s->text_n);
            break;
        case JS_OUT: {
            jval v = eval(rt, sc, s->e);
            if (v.t == JV_STR) jb_put(rt, rt->out, v.u.s, v.n);
            else jv_str_into(rt, rt->out, v);
            break;
        }
        case JS_IF:
            if (jv_truthy(eval(rt, sc, s->e))) exec(rt, sc, s->body);
            else exec(rt, sc, s->orelse);
            break;
        case JS_FOR:
            exec_for(rt, sc, s);
            break;
        case JS_SET:
            assign(rt, sc, s, eval(rt, sc, s->e));
            break;
        case JS_SET_ATTR: {
            const jval *ns = lookup(sc, s->syms[0]);
            jval v = eval(rt, sc, s->e);
            rt->line = s->line;
            rt->col = s->col;
            if (ns == NULL || ns->t != JV_NS) jr_fail(rt, JERR_TYPE, "cannot assign attribute on non-namespace object");
            jd_set(rt, ns->u.d, jv_str(s->attr, s->attr_n), v);
            break;
        }
        case JS_SET_BLOCK:
            scope_set(rt, sc, s->syms[0], apply_body_filters(rt, sc, s->e, render_body(rt, sc, s->body)));
            break;
        case JS_FILTER: {
            jval v = apply_body_filters(rt, sc, s->e, render_body(rt, sc, s->body));
            jv_str_into(rt, rt->out, v);
            break;
        }
        case JS_MACRO: {
            jmacro *m = jr_alloc(rt, sizeof *m);
            m->def = s;
            m->closure = sc;
            jval v = {JV_MACRO, 0, 0, {0}};
            v.u.p = m;
            scope_set(rt, sc, s->syms[0], v);
            break;
        }
        case JS_BREAK:
            rt->ctl = 1;
            break;
        case JS_CONTINUE:
            rt->ctl = 2;
            break;
        }
        if (rt->ctl) break;
    }
    rt->nest--;
}

int jinja_render(const jtemplate *t, const jlimits *lim, int64_t now,
                 void (*bind)(jrt *rt, void *user), void *user,
                 jbuf *out, jerror *err) {
    out->p = NULL;
    out->n = out->cap = 0;
    /* on the heap: what changes after setjmp must not live in registers */
    jrt *rt = fm_calloc(1, sizeof *rt);
    if (rt == NULL) {
        err->kind = JERR_MEMORY;
        err->line = err->col = 0;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return -1;
    }
    rt->t = t;
    rt->lim = *lim;
    rt->err = err;
    rt->now = now;
    ja_init(&rt->arena, lim->max_memory);
    jbuf main_out = {0};
    rt->out = &main_out;
    rt->body = jv_none();
    if (setjmp(rt->jmp)) {
        ja_free(&rt->arena);
        free(rt);
        return -1;
    }
    rt->sym_loop = jinja_sym_find(t, "loop");
    rt->root = scope_new(rt, NULL);
    if (bind) bind(rt, user);
    exec(rt, rt->root, t->body);
    out->p = fm_malloc(main_out.n + 1);
    if (out->p == NULL) jr_fail(rt, JERR_MEMORY, "out of memory");
    jcopy(out->p, main_out.p, main_out.n);
    out->p[main_out.n] = 0;
    out->n = out->cap = main_out.n;
    ja_free(&rt->arena);
    free(rt);
    return 0;
}
