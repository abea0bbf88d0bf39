/* Building a grammar: rules, productions and byte-set terminals, the
 * repetition and character-class shapes every front end needs, and the
 * checks and tables the recognizer relies on. */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/grow.h"
#include "grammar.h"

/* Far above real grammars (a large JSON Schema gives some 10^5 symbols),
 * low enough that a hostile {0,99999999} is refused instead of eating
 * gigabytes. */
#define MAX_SYMS (1u << 23)
static void grammar_destroy(fm_grammar *g);

#define MAX_RULES (1u << 22)
/* DFA states over all terminals of a grammar (1 KiB of table each) */
#define MAX_DFA_TOTAL (1u << 17)

typedef struct brule {
    char *name; /* NULL: helper */
    int defined;
} brule;

typedef struct bprod {
    uint32_t rule, off, len;
} bprod;

struct fm_gbuild {
    brule *rules;
    size_t n_rules, cap_rules;
    bprod *prods;
    size_t n_prods, cap_prods;
    uint32_t *syms;
    size_t n_syms, cap_syms;
    fm_byteset *terms;
    size_t n_terms, cap_terms;
    fm_gdfa *dfas;
    size_t n_dfas, cap_dfas;
    size_t dfa_states; /* over all DFAs, against MAX_DFA_TOTAL */
    /* name -> rule, and byte set -> terminal: open addressing over ids + 1 */
    uint32_t *name_tab, *term_tab;
    size_t name_mask, term_mask;
    int oom;
};

static uint64_t hash_bytes(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

fm_status fm_gbuild_new(fm_gbuild **out) {
    fm_gbuild *b = fm_calloc(1, sizeof *b);
    if (b == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a grammar");
    b->name_mask = b->term_mask = 255;
    b->name_tab = fm_calloc(256, sizeof *b->name_tab);
    b->term_tab = fm_calloc(256, sizeof *b->term_tab);
    if (b->name_tab == NULL || b->term_tab == NULL) {
        fm_gbuild_free(b);
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a grammar");
    }
    *out = b;
    return FM_STATUS_OK;
}

static void dfa_free(fm_gdfa *d) {
    free(d->next), free(d->accept), free(d->out), free(d->sig), free(d->bound), free(d->live);
}

void fm_gbuild_free(fm_gbuild *b) {
    if (b == NULL) return;
    for (size_t i = 0; i < b->n_rules; i++) free(b->rules[i].name);
    free(b->rules);
    free(b->prods);
    free(b->syms);
    free(b->terms);
    for (size_t i = 0; i < b->n_dfas; i++) dfa_free(&b->dfas[i]);
    free(b->dfas);
    free(b->name_tab);
    free(b->term_tab);
    free(b);
}

/* Doubles an id table when half full; `key_of` rehashes an id. */
static int table_grow(uint32_t **tab, size_t *mask, size_t used, uint64_t (*key_of)(const fm_gbuild *, uint32_t),
                      const fm_gbuild *b) {
    if (2 * (used + 1) <= *mask + 1) return 1;
    const size_t cap = 2 * (*mask + 1);
    uint32_t *t = fm_calloc(cap, sizeof *t);
    if (t == NULL) return 0;
    for (size_t i = 0; i <= *mask; i++) {
        if ((*tab)[i] == 0) continue;
        size_t h = key_of(b, (*tab)[i] - 1) & (cap - 1);
        while (t[h]) h = (h + 1) & (cap - 1);
        t[h] = (*tab)[i];
    }
    free(*tab);
    *tab = t;
    *mask = cap - 1;
    return 1;
}

static uint64_t name_key(const fm_gbuild *b, uint32_t id) {
    return hash_bytes(b->rules[id].name, strlen(b->rules[id].name));
}
static uint64_t term_key(const fm_gbuild *b, uint32_t id) { return hash_bytes(&b->terms[id], sizeof(fm_byteset)); }

static int32_t new_rule(fm_gbuild *b, char *name) {
    if (b->n_rules >= MAX_RULES) return -1;
    brule *r = fm_grow(b->rules, &b->cap_rules, b->n_rules + 1, sizeof *r, 64);
    if (r == NULL) return -1;
    b->rules = r;
    b->rules[b->n_rules] = (brule){name, 0};
    return (int32_t)b->n_rules++;
}

int32_t fm_gbuild_named(fm_gbuild *b, const char *name, size_t len) {
    size_t h = hash_bytes(name, len) & b->name_mask;
    for (; b->name_tab[h]; h = (h + 1) & b->name_mask) {
        const char *n = b->rules[b->name_tab[h] - 1].name;
        if (strlen(n) == len && memcmp(n, name, len) == 0) return (int32_t)b->name_tab[h] - 1;
    }
    char *copy = fm_malloc(len + 1);
    if (copy == NULL) return b->oom = 1, -1;
    memcpy(copy, name, len);
    copy[len] = 0;
    const int32_t id = new_rule(b, copy);
    if (id < 0) {
        free(copy);
        return b->oom = 1, -1;
    }
    if (!table_grow(&b->name_tab, &b->name_mask, b->n_rules, name_key, b)) return b->oom = 1, -1;
    h = hash_bytes(name, len) & b->name_mask;
    while (b->name_tab[h]) h = (h + 1) & b->name_mask;
    b->name_tab[h] = (uint32_t)id + 1;
    return id;
}

int fm_gbuild_defined(const fm_gbuild *b, int32_t rule) { return b->rules[rule].defined; }

int32_t fm_gbuild_helper(fm_gbuild *b) {
    int32_t id = new_rule(b, NULL);
    if (id < 0) b->oom = 1;
    return id;
}

fm_status fm_gbuild_prod(fm_gbuild *b, int32_t rule, const uint32_t *syms, size_t n) {
    if (b->oom || rule < 0) return fm_error(FM_STATUS_NO_MEMORY, "out of memory building a grammar");
    if (b->n_syms + n + b->n_prods + 1 > MAX_SYMS)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "the grammar is too large (more than %u symbols)", MAX_SYMS);
    uint32_t *s = fm_grow(b->syms, &b->cap_syms, b->n_syms + n + 1, sizeof *s, 256);
    bprod *p = s ? fm_grow(b->prods, &b->cap_prods, b->n_prods + 1, sizeof *p, 64) : NULL;
    if (s) b->syms = s;
    if (p == NULL) return b->oom = 1, fm_error(FM_STATUS_NO_MEMORY, "out of memory building a grammar");
    b->prods = p;
    if (n) memcpy(b->syms + b->n_syms, syms, n * sizeof *syms);
    b->prods[b->n_prods++] = (bprod){(uint32_t)rule, (uint32_t)b->n_syms, (uint32_t)n};
    b->n_syms += n;
    b->rules[rule].defined = 1;
    return FM_STATUS_OK;
}

uint32_t fm_gbuild_term(fm_gbuild *b, const fm_byteset *set) {
    size_t h = hash_bytes(set, sizeof *set) & b->term_mask;
    for (; b->term_tab[h]; h = (h + 1) & b->term_mask)
        if (memcmp(&b->terms[b->term_tab[h] - 1], set, sizeof *set) == 0)
            return FM_GS_MAKE(FM_GS_TERM, b->term_tab[h] - 1);
    fm_byteset *t = fm_grow(b->terms, &b->cap_terms, b->n_terms + 1, sizeof *t, 64);
    if (t == NULL) return b->oom = 1, FM_GS_MAKE(FM_GS_TERM, 0);
    b->terms = t;
    b->terms[b->n_terms] = *set;
    const uint32_t id = (uint32_t)b->n_terms++;
    if (!table_grow(&b->term_tab, &b->term_mask, b->n_terms, term_key, b)) return b->oom = 1, FM_GS_MAKE(FM_GS_TERM, 0);
    h = hash_bytes(set, sizeof *set) & b->term_mask;
    while (b->term_tab[h]) h = (h + 1) & b->term_mask;
    b->term_tab[h] = id + 1;
    return FM_GS_MAKE(FM_GS_TERM, id);
}

/* Takes next, accept and bound (NULL: an uncounted DFA). */
static uint32_t add_dfa(fm_gbuild *b, uint32_t n_states, uint32_t *next, uint8_t *accept, uint8_t *bound, uint32_t cmin,
                        uint32_t cmax) {
    fm_dfa_minimize(&n_states, &next, &accept, bound ? &bound : NULL); /* out of memory or too long: kept as it is */
    fm_gdfa g = {n_states, next, accept, NULL, NULL, bound, NULL, cmin, cmax, 0, 0, 0};
    uint32_t ret = 0xFFFFFFFFu;
    if (b->dfa_states + n_states > MAX_DFA_TOTAL) { /* the caller falls back to rules */
        ret = 0xFFFFFFFEu;
        goto fail;
    }
    if (bound != NULL) {
        unsigned pbits = 1;
        while (pbits < 32 && (1u << pbits) < n_states) pbits++;
        const int r = fm_dfa_count_live(n_states, next, accept, bound, cmin, cmax, &g.cap, &g.live);
        if (r <= 0 || ((uint64_t)g.cap << pbits | (n_states - 1)) >= FM_DFA_DEAD) {
            ret = r == 0 ? 0xFFFFFFFFu : r == -2 ? 0xFFFFFFFDu : 0xFFFFFFFEu;
            if (r == 0) b->oom = 1;
            goto fail;
        }
        g.pbits = pbits, g.pmask = (1u << pbits) - 1;
    }
    g.out = fm_calloc(n_states ? n_states : 1, sizeof *g.out);
    g.sig = fm_calloc(n_states ? n_states : 1, sizeof *g.sig);
    fm_gdfa *d = g.out && g.sig ? fm_grow(b->dfas, &b->cap_dfas, b->n_dfas + 1, sizeof *d, 16) : NULL;
    if (d == NULL) {
        b->oom = 1;
        goto fail;
    }
    b->dfas = d;
    for (uint32_t q = 0; q < n_states; q++)
        for (unsigned c = 0; c < 256; c++)
            if (next[(size_t)q * 256 + c] != FM_DFA_DEAD) g.out[q].w[c >> 6] |= 1ull << (c & 63);
    b->dfas[b->n_dfas] = g;
    b->dfa_states += n_states;
    return FM_GS_MAKE(FM_GS_DFA, b->n_dfas++);
fail:
    free(g.out), free(g.sig), free(g.live), free(next), free(accept), free(bound);
    return ret;
}

uint32_t fm_gbuild_dfa(fm_gbuild *b, uint32_t n_states, uint32_t *next, uint8_t *accept) {
    return add_dfa(b, n_states, next, accept, NULL, 0, UINT32_MAX);
}

uint32_t fm_gbuild_dfa_counted(fm_gbuild *b, uint32_t n_states, uint32_t *next, uint8_t *accept, uint8_t *bound,
                               uint32_t cmin, uint32_t cmax) {
    return add_dfa(b, n_states, next, accept, bound, cmin, cmax);
}

/* --- character classes ---------------------------------------------------- */

typedef struct class_ctx {
    fm_gbuild *b;
    int32_t rule;
    fm_byteset ascii; /* one-byte characters gathered into one terminal */
    int has_ascii;
    fm_status st;
} class_ctx;

static int class_emit(void *user, const uint8_t *lo, const uint8_t *hi, int n) {
    class_ctx *c = user;
    if (n == 1) {
        fm_byteset_add_range(&c->ascii, lo[0], hi[0]);
        c->has_ascii = 1;
        return 0;
    }
    uint32_t syms[4];
    for (int i = 0; i < n; i++) {
        fm_byteset s = {{0, 0, 0, 0}};
        fm_byteset_add_range(&s, lo[i], hi[i]);
        syms[i] = fm_gbuild_term(c->b, &s);
    }
    c->st = fm_gbuild_prod(c->b, c->rule, syms, (size_t)n);
    return c->st != FM_STATUS_OK;
}

uint32_t fm_gbuild_class(fm_gbuild *b, const uint32_t *cp, size_t n) {
    int ascii_only = 1;
    for (size_t i = 0; i < n; i++) ascii_only &= cp[2 * i + 1] < 0x80;
    if (ascii_only) {
        fm_byteset s = {{0, 0, 0, 0}};
        for (size_t i = 0; i < n; i++) fm_byteset_add_range(&s, cp[2 * i], cp[2 * i + 1]);
        if (n == 0) return 0xFFFFFFFFu;
        return b->oom ? 0xFFFFFFFFu : fm_gbuild_term(b, &s);
    }
    class_ctx c = {b, fm_gbuild_helper(b), {{0, 0, 0, 0}}, 0, FM_STATUS_OK};
    if (c.rule < 0) return 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        if (fm_utf8_ranges(cp[2 * i], cp[2 * i + 1], class_emit, &c)) return 0xFFFFFFFFu;
    if (c.has_ascii) {
        const uint32_t t = fm_gbuild_term(b, &c.ascii);
        if (fm_gbuild_prod(b, c.rule, &t, 1)) return 0xFFFFFFFFu;
    }
    if (!b->rules[c.rule].defined) return 0xFFFFFFFFu; /* only surrogates */
    return b->oom ? 0xFFFFFFFFu : FM_GS_MAKE(FM_GS_NT, c.rule);
}

/* --- repetition ----------------------------------------------------------- */

/* x{min,max}: the prefixes P_i = x^i are left-linear (P_i ::= P_{i-1} x),
 * and the result chooses among P_min .. P_max - or, unbounded, is
 * Q ::= P_min | Q x. Each x then completes one item: linear, not the
 * quadratic cascade nested optionals give an Earley parser. */
uint32_t fm_gbuild_repeat(fm_gbuild *b, uint32_t x, uint32_t min, uint32_t max) {
    const uint32_t bad = 0xFFFFFFFFu;
    const uint32_t top = max == UINT32_MAX ? min : max;
    if (top > MAX_SYMS / 4) {
        fm_error(FM_STATUS_INVALID_ARGUMENT, "repetition bound %u is too large", top);
        return bad;
    }
    const int32_t h = fm_gbuild_helper(b);
    if (h < 0) return fm_error(FM_STATUS_NO_MEMORY, "out of memory building a grammar"), bad;
    if (max == 1 && min <= 1) { /* x? and x{1,1} */
        if (min == 0 && fm_gbuild_prod(b, h, NULL, 0)) return bad;
        return fm_gbuild_prod(b, h, &x, 1) ? bad : FM_GS_MAKE(FM_GS_NT, h);
    }
    /* P_0 is the empty sequence: the alternatives use x^i directly for i <= 1 */
    uint32_t prev = bad; /* the symbol of P_i, i >= 1 */
    for (uint32_t i = 0; i <= top; i++) {
        uint32_t pi;
        if (i == 0) {
            pi = bad;
        } else if (i == 1) {
            pi = x;
        } else {
            const int32_t r = fm_gbuild_helper(b);
            if (r < 0) return fm_error(FM_STATUS_NO_MEMORY, "out of memory building a grammar"), bad;
            const uint32_t seq[2] = {prev, x};
            if (fm_gbuild_prod(b, r, seq, 2)) return bad;
            pi = FM_GS_MAKE(FM_GS_NT, r);
        }
        if (max != UINT32_MAX && i >= min) {
            if (fm_gbuild_prod(b, h, i ? &pi : NULL, i ? 1 : 0)) return bad;
        }
        prev = pi;
    }
    if (max == UINT32_MAX) { /* h ::= P_min | h x */
        if (fm_gbuild_prod(b, h, min ? &prev : NULL, min ? 1 : 0)) return bad;
        const uint32_t seq[2] = {FM_GS_MAKE(FM_GS_NT, h), x};
        if (fm_gbuild_prod(b, h, seq, 2)) return bad;
    }
    return FM_GS_MAKE(FM_GS_NT, h);
}

/* --- finishing ------------------------------------------------------------ */

static fm_status check_left_recursion(const fm_gbuild *b, const uint8_t *nullable, const uint32_t *first,
                                      const uint32_t *by_rule) {
    /* left-corner edges A -> B; a named rule that reaches itself is left-recursive */
    const size_t n = b->n_rules;
    uint32_t *stack = fm_malloc(n * sizeof *stack);
    uint32_t *seen = fm_calloc(n, sizeof *seen);
    if (stack == NULL || seen == NULL) {
        free(stack);
        free(seen);
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory checking a grammar");
    }
    fm_status st = FM_STATUS_OK;
    for (size_t a = 0; a < n && st == FM_STATUS_OK; a++) {
        if (b->rules[a].name == NULL) continue;
        size_t sp = 0;
        stack[sp++] = (uint32_t)a;
        const uint32_t mark = (uint32_t)a + 1;
        while (sp > 0 && st == FM_STATUS_OK) {
            const uint32_t r = stack[--sp];
            for (uint32_t k = first[r]; k < first[r + 1] && st == FM_STATUS_OK; k++) {
                const bprod *p = &b->prods[by_rule[k]];
                for (uint32_t i = 0; i < p->len; i++) {
                    const uint32_t s = b->syms[p->off + i];
                    if (FM_GS_KIND(s) == FM_GS_DFA && fm_gdfa_accepts(&b->dfas[FM_GS_VAL(s)], 0)) continue;
                    if (FM_GS_KIND(s) != FM_GS_NT) break;
                    const uint32_t c = FM_GS_VAL(s);
                    if (c == a) {
                        st = fm_error(FM_STATUS_INVALID_ARGUMENT,
                                      "rule '%s' is left-recursive (it can begin with itself), which GBNF does not "
                                      "allow",
                                      b->rules[a].name);
                        break;
                    }
                    if (seen[c] != mark) {
                        seen[c] = mark;
                        stack[sp++] = c;
                    }
                    if (!nullable[c]) break;
                }
            }
        }
    }
    free(stack);
    free(seen);
    return st;
}

fm_status fm_gbuild_finish(fm_gbuild *b, int32_t root, fm_grammar **out) {
    *out = NULL;
    fm_status st = FM_STATUS_OK;
    if (b->oom) st = fm_error(FM_STATUS_NO_MEMORY, "out of memory building a grammar");
    /* a helper without productions matches nothing (anyOf of false
     * schemas, say): the productivity pass below drops what uses it */
    for (size_t r = 0; st == FM_STATUS_OK && r < b->n_rules; r++)
        if (!b->rules[r].defined && b->rules[r].name != NULL)
            st = fm_error(FM_STATUS_INVALID_ARGUMENT, "rule '%s' is used but never defined",
                          b->rules[r].name ? b->rules[r].name : "(helper)");
    if (st == FM_STATUS_OK && (root < 0 || (size_t)root >= b->n_rules))
        st = fm_error(FM_STATUS_INVALID_ARGUMENT, "the grammar has no root rule");
    /* productive rules (some string derives from them); a production that
     * uses another rule goes, so that every prefix the recognizer allows can
     * still be completed */
    uint8_t *prod_ok = st ? NULL : fm_calloc(b->n_rules + 1, 1);
    if (!st && prod_ok == NULL) st = fm_error(FM_STATUS_NO_MEMORY, "out of memory finishing a grammar");
    for (int changed = 1; !st && changed;) {
        changed = 0;
        for (size_t k = 0; k < b->n_prods; k++) {
            const bprod *p = &b->prods[k];
            if (prod_ok[p->rule]) continue;
            uint32_t i = 0;
            while (i < p->len && (FM_GS_KIND(b->syms[p->off + i]) != FM_GS_NT || prod_ok[FM_GS_VAL(b->syms[p->off + i])]))
                i++;
            if (i == p->len) prod_ok[p->rule] = 1, changed = 1;
        }
    }
    if (!st && !prod_ok[root]) st = fm_error(FM_STATUS_INVALID_ARGUMENT, "the grammar matches no string (its root never ends)");
    if (!st) {
        size_t m = 0;
        for (size_t k = 0; k < b->n_prods; k++) {
            const bprod *p = &b->prods[k];
            uint32_t i = 0;
            while (i < p->len && (FM_GS_KIND(b->syms[p->off + i]) != FM_GS_NT || prod_ok[FM_GS_VAL(b->syms[p->off + i])]))
                i++;
            if (i == p->len) b->prods[m++] = *p;
        }
        b->n_prods = m;
    }
    free(prod_ok);
    const size_t nr = b->n_rules, np = b->n_prods;
    fm_grammar *g = st ? NULL : fm_calloc(1, sizeof *g);
    uint32_t *first = st ? NULL : fm_calloc(nr + 1, sizeof *first), *by_rule = st ? NULL : fm_malloc((np + 1) * sizeof *by_rule);
    if (st == FM_STATUS_OK && (g == NULL || first == NULL || by_rule == NULL))
        st = fm_error(FM_STATUS_NO_MEMORY, "out of memory finishing a grammar");
    if (st == FM_STATUS_OK) {
        /* productions grouped by rule (counting sort keeps their order) */
        for (size_t p = 0; p < np; p++) first[b->prods[p].rule + 1]++;
        for (size_t r = 0; r < nr; r++) first[r + 1] += first[r];
        uint32_t *fill = fm_malloc((nr + 1) * sizeof *fill);
        g->n_syms = (uint32_t)(b->n_syms + np);
        g->syms = fm_malloc((size_t)g->n_syms * sizeof *g->syms);
        g->prods = fm_malloc((np + 1) * sizeof *g->prods);
        g->rule_start = fm_malloc((nr + 1) * sizeof *g->rule_start);
        g->nullable = fm_calloc(nr + 1, 1);
        g->names = fm_calloc(nr + 1, sizeof *g->names);
        if (fill == NULL || g->syms == NULL || g->prods == NULL || g->rule_start == NULL || g->nullable == NULL ||
            g->names == NULL) {
            st = fm_error(FM_STATUS_NO_MEMORY, "out of memory finishing a grammar");
        } else {
            memcpy(fill, first, (nr + 1) * sizeof *fill);
            for (size_t p = 0; p < np; p++) by_rule[fill[b->prods[p].rule]++] = (uint32_t)p;
            uint32_t dot = 0;
            for (size_t k = 0; k < np; k++) {
                const bprod *p = &b->prods[by_rule[k]];
                g->prods[k] = dot;
                if (p->len) memcpy(g->syms + dot, b->syms + p->off, p->len * sizeof *g->syms);
                dot += p->len;
                g->syms[dot++] = FM_GS_MAKE(FM_GS_END, p->rule);
            }
            memcpy(g->rule_start, first, (nr + 1) * sizeof *first);
            /* nullable: fixpoint */
            for (int changed = 1; changed;) {
                changed = 0;
                for (size_t k = 0; k < np; k++) {
                    const bprod *p = &b->prods[by_rule[k]];
                    if (g->nullable[p->rule]) continue;
                    uint32_t i = 0;
                    for (; i < p->len; i++) {
                        const uint32_t sy = b->syms[p->off + i];
                        if (FM_GS_KIND(sy) == FM_GS_NT && g->nullable[FM_GS_VAL(sy)]) continue;
                        if (FM_GS_KIND(sy) == FM_GS_DFA && fm_gdfa_accepts(&b->dfas[FM_GS_VAL(sy)], 0)) continue;
                        break;
                    }
                    if (i == p->len) g->nullable[p->rule] = 1, changed = 1;
                }
            }
            st = check_left_recursion(b, g->nullable, first, by_rule);
        }
        free(fill);
    }
    if (st == FM_STATUS_OK) {
        g->n_rules = (uint32_t)nr;
        g->n_terms = (uint32_t)b->n_terms;
        g->terms = b->terms; /* moved */
        b->terms = NULL;
        g->dfas = b->dfas, g->n_dfas = (uint32_t)b->n_dfas;
        b->dfas = NULL, b->n_dfas = 0;
        for (size_t r = 0; r < nr; r++) g->names[r] = b->rules[r].name, b->rules[r].name = NULL;
        g->root = (uint32_t)root;
        atomic_init(&g->refs, 1);
        g->bytes = sizeof *g + g->n_syms * sizeof *g->syms + (np + 1) * sizeof *g->prods +
                   (nr + 1) * (sizeof *g->rule_start + 1 + sizeof *g->names) + g->n_terms * sizeof *g->terms;
        for (uint32_t i = 0; i < g->n_dfas; i++)
            g->bytes += g->dfas[i].n_states * (256 * sizeof(uint32_t) + 1 + sizeof(fm_byteset) + sizeof(fm_gdfa_sig)) +
                        (g->dfas[i].bound ? g->dfas[i].n_states + ((size_t)g->dfas[i].n_states * (g->dfas[i].cap + 1) + 63) / 64 * 8 : 0);
        *out = g;
    } else if (g != NULL) {
        grammar_destroy(g);
    }
    free(first);
    free(by_rule);
    fm_gbuild_free(b);
    return st;
}

void fm_grammar_ref(const fm_grammar *g) { atomic_fetch_add(&((fm_grammar *)g)->refs, 1); }

/* Frees the grammar's memory (also of one that never got a reference). */
static void grammar_destroy(fm_grammar *g) {
    free(g->syms);
    free(g->prods);
    free(g->rule_start);
    free(g->nullable);
    if (g->names)
        for (uint32_t r = 0; r < g->n_rules; r++) free(g->names[r]);
    free(g->names);
    free(g->terms);
    for (uint32_t i = 0; i < g->n_dfas; i++) dfa_free(&g->dfas[i]);
    free(g->dfas);
    free(g);
}

void fm_grammar_free(fm_grammar *g) {
    if (g != NULL && atomic_fetch_sub(&g->refs, 1) == 1) grammar_destroy(g);
}

size_t fm_grammar_bytes(const fm_grammar *g) { return g ? g->bytes : 0; }
