/* The template parser: tokens to the statement and expression tree, with
 * Jinja's precedence (or < and < not < comparisons < + - < ~ < * / // % <
 * ** < unary < filters and tests < postfix). Filters and tests are looked
 * up here, so an unknown one is an error at compile time, with its line
 * and column, as in Jinja. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "chat/jinja.h"

typedef struct parser {
    jtemplate *t;
    jtok *tk;
    size_t n, i;
    jerror *err;
    jmp_buf jmp;
    int depth;
} parser;

enum { MAX_NEST = 128 };

static _Noreturn void perr(parser *P, const jtok *at, const char *fmt, ...) FM_PRINTF(3, 4);
static _Noreturn void perr(parser *P, const jtok *at, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    P->err->kind = JERR_SYNTAX;
    P->err->line = at->line;
    P->err->col = at->col;
    vsnprintf(P->err->msg, sizeof P->err->msg, fmt, ap);
    va_end(ap);
    longjmp(P->jmp, 1);
}

static _Noreturn void poom(parser *P) {
    P->err->kind = JERR_MEMORY;
    P->err->line = P->tk[P->i].line;
    P->err->col = P->tk[P->i].col;
    snprintf(P->err->msg, sizeof P->err->msg, "out of memory");
    longjmp(P->jmp, 1);
}

static void *palloc(parser *P, size_t n) {
    void *p = ja_alloc(&P->t->arena, n);
    if (p == NULL) poom(P);
    memset(p, 0, n);
    return p;
}

static jtok *cur(parser *P) { return &P->tk[P->i]; }
static jtok *next(parser *P) { jtok *t = &P->tk[P->i]; if (t->k != TK_EOF) P->i++; return t; }

static int is_op(const jtok *t, const char *op) {
    return t->k == TK_OP && t->n == strlen(op) && memcmp(t->s, op, t->n) == 0;
}
static int is_name(const jtok *t, const char *w) {
    return t->k == TK_NAME && t->n == strlen(w) && memcmp(t->s, w, t->n) == 0;
}

static const char *tok_desc(const jtok *t, char *buf, size_t cap) {
    switch (t->k) {
    case TK_EOF: return "end of template";
    case TK_TEXT: return "text";
    case TK_BEND: return "'%}'";
    case TK_VEND: return "'}}'";
    case TK_BBEGIN: return "'{%'";
    case TK_VBEGIN: return "'{{'";
    case TK_STR: return "string";
    default:
        snprintf(buf, cap, "'%.*s'", (int)(t->n > 40 ? 40 : t->n), t->s);
        return buf;
    }
}

static void expect_op(parser *P, const char *op) {
    jtok *t = cur(P);
    char b[64];
    if (!is_op(t, op)) perr(P, t, "expected '%s', got %s", op, tok_desc(t, b, sizeof b));
    next(P);
}

static jtok *expect_name(parser *P, const char *what) {
    jtok *t = cur(P);
    char b[64];
    if (t->k != TK_NAME) perr(P, t, "expected %s, got %s", what, tok_desc(t, b, sizeof b));
    return next(P);
}

static uint32_t intern(parser *P, const char *s, size_t n) {
    jtemplate *t = P->t;
    for (uint32_t i = 0; i < t->n_sym; i++)
        if (t->sym_len[i] == n && memcmp(t->sym_name[i], s, n) == 0) return i;
    if (t->n_sym == t->cap_sym) {
        uint32_t cap = t->cap_sym ? t->cap_sym * 2 : 32;
        const char **nn = palloc(P, cap * sizeof *nn);
        uint32_t *nl = palloc(P, cap * sizeof *nl);
        if (t->n_sym) {
            jcopy(nn, t->sym_name, t->n_sym * sizeof *nn);
            jcopy(nl, t->sym_len, t->n_sym * sizeof *nl);
        }
        t->sym_name = nn;
        t->sym_len = nl;
        t->cap_sym = cap;
    }
    char *c = palloc(P, n + 1);
    jcopy(c, s, n);
    t->sym_name[t->n_sym] = c;
    t->sym_len[t->n_sym] = (uint32_t)n;
    return t->n_sym++;
}

static jexpr *node(parser *P, jek k, const jtok *at) {
    jexpr *e = palloc(P, sizeof *e);
    e->k = (uint8_t)k;
    e->line = at->line;
    e->col = at->col;
    return e;
}

/* ---- expressions ------------------------------------------------------ */

/* A growing array of nodes in the arena (not on the stack: the parser
 * recurses once per nesting level). */
typedef struct nodes { jexpr **v; uint32_t n, cap; } nodes;

static void nodes_push(parser *P, nodes *a, jexpr *e) {
    if (a->n == a->cap) {
        uint32_t cap = a->cap ? a->cap * 2 : 8;
        if (cap > 65535) perr(P, cur(P), "too many items");
        jexpr **v = palloc(P, cap * sizeof *v);
        jcopy(v, a->v, a->n * sizeof *v);
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = e;
}

static jexpr *items_node(parser *P, jek k, const jtok *at, const nodes *a);

static jexpr *parse_expr(parser *P, int with_cond);
static jexpr *parse_unary(parser *P, int with_filter);

/* ( args ) after the '(' has been read */
static void parse_args(parser *P, jexpr *e) {
    jexpr *pos[64], *kwv[64];
    const char *kw[64];
    uint32_t kwn[64];
    int npos = 0, nkw = 0;
    while (!is_op(cur(P), ")")) {
        jtok *t = cur(P);
        if (npos + nkw >= 64) perr(P, t, "more than 64 arguments");
        if (t->k == TK_NAME && is_op(&P->tk[P->i + 1], "=")) {
            next(P);
            next(P);
            kw[nkw] = t->s;
            kwn[nkw] = (uint32_t)t->n;
            kwv[nkw++] = parse_expr(P, 1);
        } else {
            if (nkw) perr(P, t, "a positional argument follows keyword arguments");
            pos[npos++] = parse_expr(P, 1);
        }
        if (!is_op(cur(P), ",")) break;
        next(P);
    }
    expect_op(P, ")");
    int total = npos + nkw;
    e->args = total ? palloc(P, (size_t)total * sizeof *e->args) : NULL;
    jcopy(e->args, pos, (size_t)npos * sizeof *pos);
    if (nkw) {
        jcopy(e->args + npos, kwv, (size_t)nkw * sizeof *kwv);
        e->kw = palloc(P, (size_t)nkw * sizeof *e->kw);
        e->kw_n = palloc(P, (size_t)nkw * sizeof *e->kw_n);
        jcopy(e->kw, kw, (size_t)nkw * sizeof *kw);
        jcopy(e->kw_n, kwn, (size_t)nkw * sizeof *kwn);
    }
    e->npos = (uint16_t)npos;
    e->nkw = (uint16_t)nkw;
}

/* A comma-separated run of expressions: one alone, or a tuple. `simple`
 * stops at names only (for loop targets). */
static jexpr *parse_tuple(parser *P, int with_cond, int explicit_paren) {
    jtok *at = cur(P);
    nodes items = {0};
    int comma = 0;
    for (;;) {
        if (items.n && (cur(P)->k == TK_BEND || cur(P)->k == TK_VEND || is_op(cur(P), ")") || is_op(cur(P), "=") ||
                        is_name(cur(P), "in")))
            break;
        if (explicit_paren && items.n == 0 && is_op(cur(P), ")")) break;
        nodes_push(P, &items, parse_expr(P, with_cond));
        if (!is_op(cur(P), ",")) break;
        comma = 1;
        next(P);
    }
    if (items.n == 1 && !comma) return items.v[0];
    if (items.n == 0 && !explicit_paren) perr(P, at, "expected an expression");
    return items_node(P, JE_TUPLE, at, &items);
}

static jexpr *items_node(parser *P, jek k, const jtok *at, const nodes *a) {
    jexpr *e = node(P, k, at);
    e->args = a->v;
    e->npos = (uint16_t)a->n;
    return e;
}

static jexpr *parse_primary(parser *P) {
    jtok *t = cur(P);
    char b[64];
    if (++P->depth > MAX_NEST) perr(P, t, "expressions nest deeper than %d levels", MAX_NEST);
    jexpr *e;
    switch (t->k) {
    case TK_NAME:
        next(P);
        e = node(P, JE_LIT, t);
        if (is_name(t, "true") || is_name(t, "True")) e->lit = jv_bool(1);
        else if (is_name(t, "false") || is_name(t, "False")) e->lit = jv_bool(0);
        else if (is_name(t, "none") || is_name(t, "None")) e->lit = jv_none();
        else {
            e->k = JE_NAME;
            e->name = t->s;
            e->name_n = (uint32_t)t->n;
            e->sym = intern(P, t->s, t->n);
        }
        break;
    case TK_STR: {
        next(P);
        /* adjacent literals concatenate */
        size_t total = t->n, k = P->i;
        while (P->tk[k].k == TK_STR) total += P->tk[k++].n;
        char *s = palloc(P, total + 1);
        jcopy(s, t->s, t->n);
        size_t o = t->n;
        while (cur(P)->k == TK_STR) {
            jtok *u = next(P);
            jcopy(s + o, u->s, u->n);
            o += u->n;
        }
        e = node(P, JE_LIT, t);
        e->lit = jv_str(s, total);
        break;
    }
    case TK_INT:
        next(P);
        e = node(P, JE_LIT, t);
        e->lit = jv_int(t->i);
        break;
    case TK_FLOAT:
        next(P);
        e = node(P, JE_LIT, t);
        e->lit = jv_float(t->f);
        break;
    case TK_OP:
        if (is_op(t, "(")) {
            next(P);
            e = parse_tuple(P, 1, 1);
            expect_op(P, ")");
            break;
        }
        if (is_op(t, "[") || is_op(t, "{")) {
            int dict = is_op(t, "{");
            next(P);
            nodes items = {0};
            while (!is_op(cur(P), dict ? "}" : "]")) {
                nodes_push(P, &items, parse_expr(P, 1));
                if (dict) {
                    expect_op(P, ":");
                    nodes_push(P, &items, parse_expr(P, 1));
                }
                if (!is_op(cur(P), ",")) break;
                next(P);
            }
            expect_op(P, dict ? "}" : "]");
            e = items_node(P, dict ? JE_DICT : JE_LIST, t, &items);
            break;
        }
        /* fall through */
    default:
        perr(P, t, "unexpected %s", tok_desc(t, b, sizeof b));
    }
    P->depth--;
    return e;
}

static jexpr *parse_postfix(parser *P, jexpr *e) {
    for (;;) {
        jtok *t = cur(P);
        if (is_op(t, ".")) {
            next(P);
            jtok *a = cur(P);
            if (a->k == TK_INT) {
                next(P);
                jexpr *x = node(P, JE_ITEM, t);
                x->a = e;
                x->b = node(P, JE_LIT, a);
                x->b->lit = jv_int(a->i);
                e = x;
                continue;
            }
            expect_name(P, "an attribute name");
            jexpr *x = node(P, JE_ATTR, a);
            x->line = e->line;
            x->col = e->col;
            x->a = e;
            x->name = a->s;
            x->name_n = (uint32_t)a->n;
            e = x;
        } else if (is_op(t, "[")) {
            next(P);
            jexpr *idx[3] = {NULL, NULL, NULL};
            int slice = 0, part = 0;
            for (;;) {
                if (is_op(cur(P), ":")) {
                    if (++part > 2) perr(P, cur(P), "a slice has at most three parts");
                    slice = 1;
                    next(P);
                    continue;
                }
                if (is_op(cur(P), "]")) break;
                if (idx[part]) perr(P, cur(P), "expected ':' or ']'");
                idx[part] = parse_expr(P, 1);
            }
            expect_op(P, "]");
            jexpr *x = node(P, slice ? JE_SLICE : JE_ITEM, t);
            x->line = e->line;
            x->col = e->col;
            x->a = e;
            if (!slice && idx[0] == NULL) perr(P, t, "empty subscript");
            x->b = idx[0];
            x->c = idx[1];
            if (slice) {
                x->args = palloc(P, sizeof *x->args);
                x->args[0] = idx[2];
            }
            e = x;
        } else if (is_op(t, "(")) {
            next(P);
            jexpr *x = node(P, JE_CALL, t);
            x->line = e->line;
            x->col = e->col;
            x->a = e;
            parse_args(P, x);
            e = x;
        } else {
            return e;
        }
    }
}

/* name [ (args) ] of a filter applied to e */
static jexpr *filter_node(parser *P, jexpr *e) {
    jtok *f = expect_name(P, "a filter name");
    int id = jinja_filter_id(f->s, f->n);
    if (id < 0) perr(P, f, "no filter named '%.*s'", (int)(f->n > 40 ? 40 : f->n), f->s);
    jexpr *x = node(P, JE_FILTER, f);
    x->a = e;
    x->sym = (uint32_t)id;
    x->name = f->s;
    x->name_n = (uint32_t)f->n;
    if (is_op(cur(P), "(")) {
        next(P);
        parse_args(P, x);
    }
    return x;
}

static jexpr *parse_filter_expr(parser *P, jexpr *e) {
    for (;;) {
        jtok *t = cur(P);
        if (is_op(t, "|")) {
            next(P);
            e = filter_node(P, e);
        } else if (is_name(t, "is")) {
            next(P);
            int neg = 0;
            if (is_name(cur(P), "not")) { next(P); neg = 1; }
            jtok *f = expect_name(P, "a test name");
            int id = jinja_test_id(f->s, f->n);
            if (id < 0) perr(P, f, "no test named '%.*s'", (int)(f->n > 40 ? 40 : f->n), f->s);
            jexpr *x = node(P, JE_TEST, f);
            x->a = e;
            x->neg = (uint8_t)neg;
            x->sym = (uint32_t)id;
            x->name = f->s;
            x->name_n = (uint32_t)f->n;
            jtok *n = cur(P);
            if (is_op(n, "(")) {
                next(P);
                parse_args(P, x);
            } else if ((n->k == TK_NAME || n->k == TK_STR || n->k == TK_INT || n->k == TK_FLOAT || is_op(n, "[") ||
                        is_op(n, "{")) && !is_name(n, "else") && !is_name(n, "or") && !is_name(n, "and") &&
                       !is_name(n, "if") && !is_name(n, "in") && !is_name(n, "is") && !is_name(n, "not")) {
                x->args = palloc(P, sizeof *x->args);
                x->args[0] = parse_postfix(P, parse_primary(P));
                x->npos = 1;
            }
            e = x;
        } else {
            return e;
        }
    }
}

static jexpr *parse_unary(parser *P, int with_filter) {
    jtok *t = cur(P);
    jexpr *e;
    if (++P->depth > MAX_NEST) perr(P, t, "expressions nest deeper than %d levels", MAX_NEST);
    if (is_op(t, "-") || is_op(t, "+")) {
        next(P);
        e = node(P, is_op(t, "-") ? JE_NEG : JE_POS, t);
        e->a = parse_unary(P, 0);
    } else {
        e = parse_primary(P);
    }
    e = parse_postfix(P, e);
    if (with_filter) e = parse_filter_expr(P, e);
    P->depth--;
    return e;
}

static jexpr *binary(parser *P, const jtok *at, jop op, jexpr *a, jexpr *b) {
    jexpr *e = node(P, JE_BIN, at);
    e->op = (uint8_t)op;
    e->a = a;
    e->b = b;
    return e;
}

static jexpr *parse_pow(parser *P) {
    jexpr *e = parse_unary(P, 1);
    while (is_op(cur(P), "**")) {
        jtok *t = next(P);
        e = binary(P, t, JO_POW, e, parse_unary(P, 1));
    }
    return e;
}

static jexpr *parse_math2(parser *P) {
    jexpr *e = parse_pow(P);
    for (;;) {
        jtok *t = cur(P);
        jop op;
        if (is_op(t, "*")) op = JO_MUL;
        else if (is_op(t, "/")) op = JO_DIV;
        else if (is_op(t, "//")) op = JO_FLOORDIV;
        else if (is_op(t, "%")) op = JO_MOD;
        else return e;
        next(P);
        e = binary(P, t, op, e, parse_pow(P));
    }
}

static jexpr *parse_concat(parser *P) {
    jexpr *e = parse_math2(P);
    while (is_op(cur(P), "~")) {
        jtok *t = next(P);
        e = binary(P, t, JO_CONCAT, e, parse_math2(P));
    }
    return e;
}

static jexpr *parse_math1(parser *P) {
    jexpr *e = parse_concat(P);
    for (;;) {
        jtok *t = cur(P);
        if (!is_op(t, "+") && !is_op(t, "-")) return e;
        next(P);
        e = binary(P, t, is_op(t, "+") ? JO_ADD : JO_SUB, e, parse_concat(P));
    }
}

static jexpr *parse_compare(parser *P) {
    jexpr *e = parse_math1(P), *prev = e, *chain = NULL;
    for (;;) {
        jtok *t = cur(P);
        jop op;
        if (is_op(t, "==")) op = JO_EQ;
        else if (is_op(t, "!=")) op = JO_NE;
        else if (is_op(t, "<")) op = JO_LT;
        else if (is_op(t, "<=")) op = JO_LE;
        else if (is_op(t, ">")) op = JO_GT;
        else if (is_op(t, ">=")) op = JO_GE;
        else if (is_name(t, "in")) op = JO_IN;
        else if (is_name(t, "not") && is_name(&P->tk[P->i + 1], "in")) { op = JO_NOTIN; next(P); }
        else break;
        next(P);
        jexpr *rhs = parse_math1(P);
        jexpr *c = node(P, JE_CMP, t);
        c->op = (uint8_t)op;
        c->a = prev;
        c->b = rhs;
        /* a < b < c is (a < b) and (b < c); b has no side effects to repeat */
        if (chain == NULL) chain = c;
        else {
            jexpr *x = node(P, JE_AND, t);
            x->a = chain;
            x->b = c;
            chain = x;
        }
        prev = rhs;
    }
    return chain ? chain : e;
}

static jexpr *parse_not(parser *P) {
    jtok *t = cur(P);
    if (is_name(t, "not")) {
        next(P);
        if (++P->depth > MAX_NEST) perr(P, t, "expressions nest deeper than %d levels", MAX_NEST);
        jexpr *e = node(P, JE_NOT, t);
        e->a = parse_not(P);
        P->depth--;
        return e;
    }
    return parse_compare(P);
}

static jexpr *parse_and(parser *P) {
    jexpr *e = parse_not(P);
    while (is_name(cur(P), "and")) {
        jtok *t = next(P);
        jexpr *x = node(P, JE_AND, t);
        x->a = e;
        x->b = parse_not(P);
        e = x;
    }
    return e;
}

static jexpr *parse_or(parser *P) {
    jexpr *e = parse_and(P);
    while (is_name(cur(P), "or")) {
        jtok *t = next(P);
        jexpr *x = node(P, JE_OR, t);
        x->a = e;
        x->b = parse_and(P);
        e = x;
    }
    return e;
}

static jexpr *parse_expr(parser *P, int with_cond) {
    jtok *t = cur(P);
    if (++P->depth > MAX_NEST) perr(P, t, "expressions nest deeper than %d levels", MAX_NEST);
    jexpr *e = parse_or(P);
    while (with_cond && is_name(cur(P), "if")) {
        jtok *at = next(P);
        jexpr *c = node(P, JE_COND, at);
        c->a = e;
        c->b = parse_or(P);
        if (is_name(cur(P), "else")) {
            next(P);
            c->c = parse_expr(P, 1);
        }
        e = c;
    }
    P->depth--;
    return e;
}

/* ---- statements ------------------------------------------------------- */

static jstmt *parse_body(parser *P, const char *const *stops, jtok **stop_at, const jtok *open);

static jstmt *stmt(parser *P, jsk k, const jtok *at) {
    jstmt *s = palloc(P, sizeof *s);
    s->k = (uint8_t)k;
    s->line = at->line;
    s->col = at->col;
    return s;
}

static void end_tag(parser *P) {
    jtok *t = cur(P);
    char b[64];
    if (t->k != TK_BEND) perr(P, t, "expected '%%}', got %s", tok_desc(t, b, sizeof b));
    next(P);
}

/* the name list of a for loop or set: a or a, b */
static void parse_targets(parser *P, jstmt *s) {
    uint32_t syms[16];
    int n = 0, paren = 0;
    if (is_op(cur(P), "(")) { next(P); paren = 1; }
    for (;;) {
        jtok *t = expect_name(P, "a variable name");
        if (n >= 16) perr(P, t, "more than 16 targets");
        syms[n++] = intern(P, t->s, t->n);
        if (!is_op(cur(P), ",")) break;
        next(P);
    }
    if (paren) expect_op(P, ")");
    s->syms = palloc(P, (size_t)n * sizeof *s->syms);
    jcopy(s->syms, syms, (size_t)n * sizeof *syms);
    s->nsyms = (uint16_t)n;
}

static jstmt *parse_if(parser *P, jtok *at) {
    static const char *const stops[] = {"elif", "else", "endif", NULL};
    jstmt *s = stmt(P, JS_IF, at);
    s->e = parse_tuple(P, 1, 0);
    end_tag(P);
    jtok *stop;
    s->body = parse_body(P, stops, &stop, at);
    if (is_name(stop, "elif")) {
        s->orelse = parse_if(P, stop);
        return s;  /* the nested if consumed the endif */
    }
    if (is_name(stop, "else")) {
        static const char *const stops2[] = {"endif", NULL};
        end_tag(P);
        s->orelse = parse_body(P, stops2, &stop, at);
    }
    end_tag(P);
    return s;
}

static jstmt *parse_for(parser *P, jtok *at) {
    static const char *const stops[] = {"else", "endfor", NULL};
    jstmt *s = stmt(P, JS_FOR, at);
    parse_targets(P, s);
    if (!is_name(cur(P), "in")) perr(P, cur(P), "expected 'in'");
    next(P);
    s->e = parse_tuple(P, 0, 0);
    if (is_name(cur(P), "if")) {
        next(P);
        s->cond = parse_expr(P, 1);
    }
    if (is_name(cur(P), "recursive")) perr(P, cur(P), "recursive loops are not supported");
    end_tag(P);
    jtok *stop;
    s->body = parse_body(P, stops, &stop, at);
    if (is_name(stop, "else")) {
        static const char *const stops2[] = {"endfor", NULL};
        end_tag(P);
        s->orelse = parse_body(P, stops2, &stop, at);
    }
    end_tag(P);
    return s;
}

static jstmt *parse_set(parser *P, jtok *at) {
    jtok *t = cur(P);
    if (t->k == TK_NAME && is_op(&P->tk[P->i + 1], ".")) {
        jstmt *s = stmt(P, JS_SET_ATTR, at);
        next(P);
        next(P);
        jtok *a = expect_name(P, "an attribute name");
        s->syms = palloc(P, sizeof *s->syms);
        s->syms[0] = intern(P, t->s, t->n);
        s->nsyms = 1;
        s->attr = a->s;
        s->attr_n = (uint32_t)a->n;
        expect_op(P, "=");
        s->e = parse_tuple(P, 1, 0);
        end_tag(P);
        return s;
    }
    jstmt *s = stmt(P, JS_SET, at);
    parse_targets(P, s);
    if (is_op(cur(P), "=")) {
        next(P);
        s->e = parse_tuple(P, 1, 0);
        end_tag(P);
        return s;
    }
    if (s->nsyms != 1) perr(P, cur(P), "a block set has one target");
    s->k = JS_SET_BLOCK;
    s->e = parse_filter_expr(P, node(P, JE_BODY, at));
    end_tag(P);
    static const char *const stops[] = {"endset", NULL};
    jtok *stop;
    s->body = parse_body(P, stops, &stop, at);
    end_tag(P);
    return s;
}

static jstmt *parse_macro(parser *P, jtok *at) {
    jstmt *s = stmt(P, JS_MACRO, at);
    jtok *name = expect_name(P, "a macro name");
    s->name = name->s;
    s->name_n = (uint32_t)name->n;
    uint32_t syms[65];
    jexpr *defs[65];
    int n = 0;
    syms[n] = intern(P, name->s, name->n);
    defs[n++] = NULL;
    expect_op(P, "(");
    while (!is_op(cur(P), ")")) {
        jtok *p = expect_name(P, "a parameter name");
        if (n >= 65) perr(P, p, "more than 64 parameters");
        syms[n] = intern(P, p->s, p->n);
        defs[n] = NULL;
        if (is_op(cur(P), "=")) {
            next(P);
            defs[n] = parse_expr(P, 1);
        }
        n++;
        if (!is_op(cur(P), ",")) break;
        next(P);
    }
    expect_op(P, ")");
    end_tag(P);
    s->syms = palloc(P, (size_t)n * sizeof *s->syms);
    s->defaults = palloc(P, (size_t)n * sizeof *s->defaults);
    jcopy(s->syms, syms, (size_t)n * sizeof *syms);
    jcopy(s->defaults, defs, (size_t)n * sizeof *defs);
    s->nsyms = (uint16_t)n;
    static const char *const stops[] = {"endmacro", NULL};
    jtok *stop;
    s->body = parse_body(P, stops, &stop, at);
    if (cur(P)->k == TK_NAME) next(P);  /* {% endmacro name %} */
    end_tag(P);
    return s;
}

static jstmt *parse_stmt(parser *P) {
    jtok *at = cur(P);
    jtok *t = expect_name(P, "a statement name");
    char b[64];
    if (is_name(t, "if")) return parse_if(P, t);
    if (is_name(t, "for")) return parse_for(P, t);
    if (is_name(t, "set")) return parse_set(P, t);
    if (is_name(t, "macro")) return parse_macro(P, t);
    if (is_name(t, "break") || is_name(t, "continue")) {
        jstmt *s = stmt(P, is_name(t, "break") ? JS_BREAK : JS_CONTINUE, t);
        end_tag(P);
        return s;
    }
    if (is_name(t, "filter")) {
        jstmt *s = stmt(P, JS_FILTER, t);
        /* {% filter f(args) | g %}: the first filter has no '|' */
        jexpr *y = filter_node(P, node(P, JE_BODY, t));
        s->e = parse_filter_expr(P, y);
        end_tag(P);
        static const char *const stops[] = {"endfilter", NULL};
        jtok *stop;
        s->body = parse_body(P, stops, &stop, at);
        end_tag(P);
        return s;
    }
    if (is_name(t, "include") || is_name(t, "import") || is_name(t, "from") || is_name(t, "extends") ||
        is_name(t, "block"))
        perr(P, t, "'%.*s' is not available: templates cannot read other templates", (int)t->n, t->s);
    (void)at;
    perr(P, t, "unknown tag %s", tok_desc(t, b, sizeof b));
}

/* Statements until a block tag named in `stops` (NULL: the end); leaves
 * the parser on that tag's name token, returned in *stop_at. */
static jstmt *parse_body(parser *P, const char *const *stops, jtok **stop_at, const jtok *open) {
    jstmt *head = NULL, **tail = &head;
    if (++P->depth > MAX_NEST) perr(P, cur(P), "blocks nest deeper than %d levels", MAX_NEST);
    for (;;) {
        jtok *t = cur(P);
        jstmt *s = NULL;
        if (t->k == TK_EOF) {
            if (stops) {
                char want[64];
                snprintf(want, sizeof want, "%s", stops[0]);
                for (int i = 0; stops[i]; i++)
                    if (strncmp(stops[i], "end", 3) == 0) snprintf(want, sizeof want, "%s", stops[i]);
                perr(P, open, "unexpected end of template: the block opened here needs {%% %s %%}", want);
            }
            *stop_at = t;
            break;
        }
        if (t->k == TK_TEXT) {
            next(P);
            s = stmt(P, JS_TEXT, t);
            s->text = t->s;
            s->text_n = t->n;
        } else if (t->k == TK_VBEGIN) {
            next(P);
            s = stmt(P, JS_OUT, t);
            s->e = parse_tuple(P, 1, 0);
            jtok *e = cur(P);
            char b[64];
            if (e->k != TK_VEND) perr(P, e, "expected '}}', got %s", tok_desc(e, b, sizeof b));
            next(P);
        } else if (t->k == TK_BBEGIN) {
            jtok *name = &P->tk[P->i + 1];
            if (name->k == TK_NAME) {
                for (int i = 0; stops && stops[i]; i++) {
                    if (is_name(name, stops[i])) {
                        P->i += 2;
                        *stop_at = name;
                        P->depth--;
                        return head;
                    }
                }
                static const char *const enders[] = {"endif", "endfor", "elif", "else", "endset", "endmacro", "endfilter", NULL};
                for (int i = 0; enders[i]; i++)
                    if (is_name(name, enders[i]))
                        perr(P, name, "unexpected {%% %s %%}", enders[i]);
            }
            next(P);
            s = parse_stmt(P);
        } else {
            char b[64];
            perr(P, t, "unexpected %s", tok_desc(t, b, sizeof b));
        }
        *tail = s;
        tail = &s->next;
    }
    P->depth--;
    return head;
}

/* ---- compile ---------------------------------------------------------- */

int jinja_compile(const char *src, size_t n, jtemplate **out, jerror *err) {
    *out = NULL;
    jtemplate *t = fm_calloc(1, sizeof *t);
    if (t == NULL) {
        err->kind = JERR_MEMORY;
        err->line = err->col = 0;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return -1;
    }
    ja_init(&t->arena, 0);
    /* newlines become \n, and one final newline goes (keep_trailing_newline off) */
    char *s = ja_alloc(&t->arena, n + 1);
    if (s == NULL) {
        jinja_free(t);
        err->kind = JERR_MEMORY;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '\r') {
            s[k++] = '\n';
            if (i + 1 < n && src[i + 1] == '\n') i++;
        } else {
            s[k++] = src[i];
        }
    }
    if (k && s[k - 1] == '\n') k--;
    s[k] = 0;
    t->source = s;
    t->source_n = k;
    parser P = {0};
    P.t = t;
    P.err = err;
    if (jinja_lex(&t->arena, s, k, &P.tk, &P.n, err)) {
        jinja_free(t);
        return -1;
    }
    if (setjmp(P.jmp)) {
        jinja_free(t);
        return -1;
    }
    jtok *stop;
    t->body = parse_body(&P, NULL, &stop, P.tk);
    *out = t;
    return 0;
}

void jinja_free(jtemplate *t) {
    if (t == NULL) return;
    ja_free(&t->arena);
    free(t);
}

int jinja_sym_find(const jtemplate *t, const char *name) {
    size_t n = strlen(name);
    for (uint32_t i = 0; i < t->n_sym; i++)
        if (t->sym_len[i] == n && memcmp(t->sym_name[i], name, n) == 0) return (int)i;
    return -1;
}
