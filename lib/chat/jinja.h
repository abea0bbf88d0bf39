/* The chat-template interpreter: a sandboxed Jinja subset (what Hugging
 * Face chat templates use, rendered as transformers' environment does:
 * trim_blocks, lstrip_blocks, loop controls, an immutable sandbox).
 *
 * A template compiles once into an AST held in its own arena; each render
 * gets a fresh arena for its values, so nothing is reference-counted and an
 * error anywhere unwinds with longjmp to the entry point, which frees the
 * arena. Values follow Python's semantics where templates can see them
 * (str() and repr() of lists and dicts, json.dumps, integer floor
 * division, code point lengths), because transformers' output is the
 * oracle. */
#ifndef FM_CHAT_JINJA_H
#define FM_CHAT_JINJA_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"

/* ---- arena ------------------------------------------------------------ */

typedef struct jchunk jchunk;
typedef struct jarena {
    jchunk *head;
    size_t used, cap;   /* in head */
    size_t total;       /* bytes of all chunks */
    size_t limit;       /* total may not pass this; 0 = no limit */
    int over_limit;     /* an allocation failed for the limit, not for malloc */
} jarena;

/* ---- values ------------------------------------------------------------ */

typedef enum jvt {
    JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR,
    JV_LIST,  /* also tuples (JF_TUPLE) and generators (JF_GEN) */
    JV_DICT,
    JV_NS,    /* namespace(): the one mutable object */
    JV_MACRO, JV_FUNC, JV_LOOP
} jvt;

enum { JF_TUPLE = 1, JF_GEN = 2, JF_SAFE = 4 };

typedef struct jlist jlist;
typedef struct jdict jdict;

typedef struct jval {
    uint8_t t, fl;
    uint32_t n;          /* string length in bytes; function id */
    union {
        int64_t i;
        double f;
        const char *s;   /* JV_STR; JV_UNDEF: the name, for messages (may be NULL) */
        jlist *l;
        jdict *d;
        const void *p;   /* JV_MACRO: the macro; JV_LOOP: the loop state; JV_FUNC: bound self */
    } u;
} jval;

struct jlist { jval *v; uint32_t n, cap; };
struct jdict { jval *k, *v; uint32_t n, cap; };

/* memcpy with a zero length may still be handed NULL (an empty list or
 * string has no storage); C makes that undefined, so every copy goes here. */
static inline void jcopy(void *dst, const void *src, size_t n) { if (n) memcpy(dst, src, n); }

static inline jval jv_undef(const char *name) { jval v = {JV_UNDEF, 0, 0, {0}}; v.u.s = name; return v; }
static inline jval jv_none(void) { jval v = {JV_NONE, 0, 0, {0}}; return v; }
static inline jval jv_bool(int b) { jval v = {JV_BOOL, 0, 0, {0}}; v.u.i = b != 0; return v; }
static inline jval jv_int(int64_t i) { jval v = {JV_INT, 0, 0, {0}}; v.u.i = i; return v; }
static inline jval jv_float(double f) { jval v = {JV_FLOAT, 0, 0, {0}}; v.u.f = f; return v; }
static inline jval jv_str(const char *s, size_t n) { jval v = {JV_STR, 0, (uint32_t)n, {0}}; v.u.s = s; return v; }
static inline jval jv_list(jlist *l, uint8_t fl) { jval v = {JV_LIST, fl, 0, {0}}; v.u.l = l; return v; }
static inline jval jv_dict(jdict *d) { jval v = {JV_DICT, 0, 0, {0}}; v.u.d = d; return v; }

/* ---- output buffer ---------------------------------------------------- */

typedef struct jbuf { char *p; size_t n, cap; } jbuf;

/* ---- AST ------------------------------------------------------------- */

typedef enum jek {
    JE_LIT, JE_NAME, JE_LIST, JE_TUPLE, JE_DICT, JE_ATTR, JE_ITEM, JE_SLICE,
    JE_CALL, JE_FILTER, JE_TEST, JE_NEG, JE_POS, JE_NOT, JE_AND, JE_OR,
    JE_BIN, JE_CMP, JE_COND, JE_BODY /* a filter block's or block set's body */
} jek;

typedef enum jop {
    JO_ADD, JO_SUB, JO_MUL, JO_DIV, JO_FLOORDIV, JO_MOD, JO_POW, JO_CONCAT,
    JO_EQ, JO_NE, JO_LT, JO_LE, JO_GT, JO_GE, JO_IN, JO_NOTIN
} jop;

typedef struct jexpr jexpr;
struct jexpr {
    uint8_t k, op, neg;
    int line, col;
    uint32_t sym;            /* JE_NAME: symbol; JE_FILTER/JE_TEST: builtin id */
    const char *name;        /* JE_ATTR, JE_NAME, JE_FILTER, JE_TEST */
    uint32_t name_n;
    jval lit;                /* JE_LIT */
    jexpr *a, *b, *c;        /* operands; JE_SLICE: a[b:c:args[0]] */
    jexpr **args;            /* positional then keyword arguments; list items; dict k,v pairs */
    const char **kw;         /* names of the keyword arguments */
    uint32_t *kw_n;
    uint16_t npos, nkw;
};

typedef enum jsk {
    JS_TEXT, JS_OUT, JS_IF, JS_FOR, JS_SET, JS_SET_ATTR, JS_SET_BLOCK,
    JS_MACRO, JS_FILTER, JS_BREAK, JS_CONTINUE
} jsk;

typedef struct jstmt jstmt;
struct jstmt {
    uint8_t k;
    int line, col;
    jstmt *next;
    const char *text;        /* JS_TEXT */
    size_t text_n;
    jexpr *e;                /* JS_OUT, JS_IF cond, JS_FOR iterable, JS_SET value, JS_FILTER filter chain */
    jexpr *cond;             /* JS_FOR: the loop filter */
    jstmt *body, *orelse;
    uint32_t *syms;          /* JS_FOR/JS_SET targets; JS_MACRO: name then parameters */
    uint16_t nsyms;
    const char *attr;        /* JS_SET_ATTR: ns.attr */
    uint32_t attr_n;
    jexpr **defaults;        /* JS_MACRO: per parameter, NULL = none */
    const char *name;        /* JS_MACRO */
    uint32_t name_n;
};

typedef struct jtemplate {
    jarena arena;            /* AST, symbols, literals */
    jstmt *body;
    const char **sym_name;   /* symbol id -> name */
    uint32_t *sym_len;
    uint32_t n_sym, cap_sym;
    char *source;            /* normalized source, owned by the arena */
    size_t source_n;
} jtemplate;

/* ---- errors ------------------------------------------------------------ */

/* The kinds match Jinja's exception classes, for messages and tests. */
typedef enum jerrk {
    JERR_SYNTAX, JERR_UNDEFINED, JERR_TYPE, JERR_RAISED, JERR_SECURITY,
    JERR_LIMIT, JERR_MEMORY, JERR_VALUE
} jerrk;

typedef struct jerror {
    jerrk kind;
    int line, col;
    char msg[256];
} jerror;

/* ---- rendering --------------------------------------------------------- */

typedef struct jscope jscope;
struct jscope {
    jscope *parent;
    uint32_t *sym;
    jval *val;
    uint32_t n, cap;
};

typedef struct jlimits {
    size_t max_output;       /* bytes of rendered text */
    size_t max_memory;       /* bytes of the render's arena */
    uint64_t max_steps;      /* loop iterations and macro calls together */
    int max_depth;           /* macro call nesting */
} jlimits;

typedef struct jrt {
    const jtemplate *t;
    jarena arena;
    jmp_buf jmp;
    jerror *err;
    jbuf *out;               /* where output goes now (macro calls redirect it) */
    jscope *root;
    jlimits lim;
    uint64_t steps;
    int depth;               /* macro calls in progress */
    int nest;                /* eval/exec frames in progress */
    int ctl;                 /* 1 break, 2 continue */
    int sym_loop;            /* the symbol of `loop`, -1 if the template never names it */
    jval body;               /* a filter block's or block set's rendered body */
    int64_t now;             /* seconds since the epoch for strftime_now */
    int line, col;           /* the node being evaluated, for messages */
} jrt;

/* arena (jinja_value.c) */
void ja_init(jarena *a, size_t limit);
void ja_free(jarena *a);
void *ja_alloc(jarena *a, size_t n);   /* NULL when out of memory or over the limit */
void *jr_alloc(jrt *rt, size_t n);     /* fails the render instead of returning NULL */
char *jr_strdup(jrt *rt, const char *s, size_t n);

/* errors: record the message and unwind to jinja_render's setjmp */
_Noreturn void jr_fail(jrt *rt, jerrk kind, const char *fmt, ...) FM_PRINTF(3, 4);

/* buffers */
void jb_put(jrt *rt, jbuf *b, const char *s, size_t n);
static inline void jb_putc(jrt *rt, jbuf *b, char c) { jb_put(rt, b, &c, 1); }
jval jb_value(jrt *rt, const jbuf *b);  /* copies the buffer into the arena as a string */

/* values */
jlist *jl_new(jrt *rt, uint32_t cap);
void jl_push(jrt *rt, jlist *l, jval v);
jdict *jd_new(jrt *rt, uint32_t cap);
void jd_set(jrt *rt, jdict *d, jval k, jval v);
int jd_find(const jdict *d, jval k);                 /* index or -1 */
int jd_find_str(const jdict *d, const char *s, size_t n);
int jv_truthy(jval v);
int jv_eq(jval a, jval b);
const char *jv_type_name(jval v);                    /* Python's type names */
void jv_str_into(jrt *rt, jbuf *b, jval v);          /* str(v) */
void jv_repr_into(jrt *rt, jbuf *b, jval v);         /* repr(v) */
jval jv_to_str(jrt *rt, jval v);
void jv_float_repr(char *out, size_t cap, double f); /* Python's float repr */
/* json.dumps(v, ensure_ascii=False, indent, separators, sort_keys); indent < 0 = None */
void jv_tojson(jrt *rt, jbuf *b, jval v, int indent, const char *item_sep, const char *key_sep, int sort_keys);
/* a value from JSON text (jansson); returns 0 on bad JSON with a message in err */
int jv_from_json(jrt *rt, const char *text, size_t len, jval *out, char *err, size_t errcap);
size_t ju_len(const char *s, size_t n);              /* code points in UTF-8 */
int jv_cmp(jrt *rt, jval a, jval b);                 /* <0 0 >0, TypeError if not ordered */

/* tokens (jinja_lex.c): text with the whitespace rules already applied,
 * tag delimiters, and the expression tokens inside tags */
typedef enum jtk {
    TK_TEXT, TK_BBEGIN, TK_BEND, TK_VBEGIN, TK_VEND,
    TK_NAME, TK_STR, TK_INT, TK_FLOAT, TK_OP, TK_EOF
} jtk;

typedef struct jtok {
    uint8_t k;
    int line, col;
    const char *s;           /* TEXT, NAME, OP: into the source; STR: decoded, in the arena */
    size_t n;
    int64_t i;
    double f;
} jtok;

/* Splits normalized source into tokens in the arena; 0 or -1 with *err. */
int jinja_lex(jarena *a, const char *src, size_t n, jtok **toks, size_t *ntok, jerror *err);

/* compile (jinja_lex.c + jinja_parse.c) */
int jinja_compile(const char *src, size_t n, jtemplate **out, jerror *err);
void jinja_free(jtemplate *t);
int jinja_sym_find(const jtemplate *t, const char *name);   /* -1 if the template never names it */

/* arguments of a filter, test, method or global call */
typedef struct jargs {
    const jval *pos;
    int npos;
    const jval *kwv;
    const char *const *kw;
    const uint32_t *kw_n;
    int nkw;
} jargs;

/* builtins (jinja_filters.c) */
int jinja_filter_id(const char *name, size_t n);            /* -1 unknown */
int jinja_test_id(const char *name, size_t n);
int jinja_global_id(const char *name, size_t n);            /* range, namespace, dict, raise_exception, strftime_now */
jval jinja_filter(jrt *rt, int id, jval v, const jargs *a);
int jinja_test(jrt *rt, int id, jval v, const jargs *a);
jval jinja_call_global(jrt *rt, int id, const jargs *a);
int jinja_has_method(jval obj, const char *name, size_t n);
jval jinja_method(jrt *rt, jval obj, const char *name, size_t n, const jargs *a);
/* markupsafe's escape(): & < > " ' as entities, the result marked safe */
jval jinja_escape(jrt *rt, jval v);
/* for loops: the items (dict keys, string characters) */
jlist *jinja_iter(jrt *rt, jval v);

/* attribute and item access as Jinja's environment does them (jinja_eval.c) */
jval jinja_getattr(jrt *rt, jval obj, const char *name, size_t n);
jval jinja_getitem(jrt *rt, jval obj, jval key);
/* fails with UndefinedError naming what was undefined */
_Noreturn void jinja_undefined(jrt *rt, jval u);

/* render (jinja_eval.c): `bind` runs inside the render (so a failure
 * there unwinds like any other) and binds the variables with
 * jinja_set_var(). Returns 0 with the text in *out (malloc'd; the caller
 * frees out->p) or -1 with *err filled. */
int jinja_render(const jtemplate *t, const jlimits *lim, int64_t now,
                 void (*bind)(jrt *rt, void *user), void *user,
                 jbuf *out, jerror *err);
/* Binds a top-level variable; a name the template never uses is ignored. */
void jinja_set_var(jrt *rt, const char *name, jval v);

#endif
