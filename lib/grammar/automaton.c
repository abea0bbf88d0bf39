/* NFA -> DFA (subset construction, in product with a code point counter
 * when lengths are bounded) -> left-linear grammar rules. */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/grow.h"
#include "regex.h"

#define MAX_DFA_STATES 100000u
/* and the work the construction may do (NFA edges looked at): a pattern
 * whose DFA grows too big is refused in about a third of a second (ten
 * times that under ASan: 30,000,000 let fuzzed patterns such as
 * (\w?){1015} run past the fuzzers' timeouts). The largest construction
 * over all of MaskBench's schemas does 5,118,544. */
#define MAX_DFA_WORK 15000000ull

/* --- encoders --------------------------------------------------------------- */

static uint32_t literal_seq(fm_gbuild *b, const char *s, size_t n) {
    uint32_t syms[8];
    for (size_t i = 0; i < n; i++) {
        fm_byteset set = {{0, 0, 0, 0}};
        fm_byteset_add_range(&set, (uint8_t)s[i], (uint8_t)s[i]);
        syms[i] = fm_gbuild_term(b, &set);
    }
    const int32_t h = fm_gbuild_helper(b);
    if (h < 0 || fm_gbuild_prod(b, h, syms, n)) return 0xFFFFFFFFu;
    return FM_GS_MAKE(FM_GS_NT, h);
}

uint32_t fm_gbuild_char(fm_gbuild *b, const uint32_t *cp, size_t n, fm_char_encoding enc) {
    if (enc == FM_ENC_UTF8) return n ? fm_gbuild_class(b, cp, n) : 0xFFFFFFFFu;
    /* the part written as itself: no controls, quote or backslash */
    uint32_t *plain = fm_malloc((2 * n + 6) * sizeof *plain);
    if (plain == NULL) return 0xFFFFFFFFu;
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t lo = cp[2 * i] < 0x20 ? 0x20 : cp[2 * i], hi = cp[2 * i + 1];
        /* cut out '"' (0x22) and '\\' (0x5C) */
        const uint32_t cuts[2] = {0x22, 0x5C};
        for (int k = 0; k < 2 && lo <= hi; k++)
            if (lo <= cuts[k] && cuts[k] <= hi) {
                if (lo < cuts[k]) plain[2 * np] = lo, plain[2 * np + 1] = cuts[k] - 1, np++;
                lo = cuts[k] + 1;
            }
        if (lo <= hi) plain[2 * np] = lo, plain[2 * np + 1] = hi, np++;
    }
    int has[0x60] = {0}; /* the escaped characters present: controls, '"', '\\' */
    int any_special = 0, slash = 0;
    for (size_t i = 0; i < n; i++)
        for (uint32_t c = cp[2 * i]; c <= cp[2 * i + 1] && c < 0x60; c++)
            if (c < 0x20 || c == 0x22 || c == 0x5C) has[c] = 1, any_special = 1;
            else if (c == '/') slash = 1;
    uint32_t plain_sym = np ? fm_gbuild_class(b, plain, np) : 0xFFFFFFFFu;
    free(plain);
    if (!any_special && !slash) return plain_sym;
    const int32_t h = fm_gbuild_helper(b);
    if (h < 0) return 0xFFFFFFFFu;
    if (np && (plain_sym == 0xFFFFFFFFu || fm_gbuild_prod(b, h, &plain_sym, 1))) return 0xFFFFFFFFu;
    static const char hex[] = "0123456789abcdef";
    for (uint32_t c = 0; c < 0x60; c++) {
        if (!has[c]) continue;
        char e[6];
        size_t len = 2;
        e[0] = '\\';
        switch (c) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        default: e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hex[c >> 4], e[5] = hex[c & 15], len = 6; break;
        }
        const uint32_t s = literal_seq(b, e, len);
        if (s == 0xFFFFFFFFu || fm_gbuild_prod(b, h, &s, 1)) return 0xFFFFFFFFu;
    }
    if (slash) { /* "\/" is a JSON spelling of '/' too */
        const uint32_t s = literal_seq(b, "\\/", 2);
        if (s == 0xFFFFFFFFu || fm_gbuild_prod(b, h, &s, 1)) return 0xFFFFFFFFu;
    }
    return FM_GS_MAKE(FM_GS_NT, h);
}

/* --- subset construction ------------------------------------------------------ */

typedef struct dstate {
    uint32_t off, n; /* its NFA states: pool[off .. off + n) sorted */
    uint32_t count;
    int accepting;
    uint32_t t_off, t_n; /* transitions: trans[t_off ..) */
} dstate;

typedef struct dtrans {
    uint32_t to;
    uint32_t r_off, r_n; /* ranges: rpool[2 * r_off ..) */
} dtrans;

typedef struct dfa {
    dstate *st;
    size_t n, cap;
    uint32_t *pool;
    size_t n_pool, cap_pool;
    dtrans *tr;
    size_t n_tr, cap_tr;
    uint32_t *rpool;
    size_t n_r, cap_r; /* in ranges (pairs) */
    uint32_t *tab; /* hash of states: id + 1 */
    size_t mask;
} dfa;

static uint64_t set_hash(const uint32_t *v, uint32_t n, uint32_t count) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ count;
    for (uint32_t i = 0; i < n; i++) h = (h ^ v[i]) * 0x100000001B3ull;
    return h ^ (h >> 31);
}

static void dfa_free(dfa *d) {
    free(d->st);
    free(d->pool);
    free(d->tr);
    free(d->rpool);
    free(d->tab);
}

/* The DFA state for the sorted set v[0..n) at `count`: found or added.
 * Returns its id, or -1 (out of memory or over the limit: *err says). */
static int64_t intern(dfa *d, const uint32_t *v, uint32_t n, uint32_t count, const fm_nfa *nfa, uint32_t min_len,
                      int complement, int *err) {
    if (2 * (d->n + 1) > d->mask + 1) {
        const size_t cap = 2 * (d->mask + 1);
        uint32_t *t = fm_calloc(cap, sizeof *t);
        if (t == NULL) return *err = 1, -1;
        for (size_t i = 0; i < d->n; i++) {
            size_t h = set_hash(d->pool + d->st[i].off, d->st[i].n, d->st[i].count) & (cap - 1);
            while (t[h]) h = (h + 1) & (cap - 1);
            t[h] = (uint32_t)i + 1;
        }
        free(d->tab);
        d->tab = t, d->mask = cap - 1;
    }
    size_t h = set_hash(v, n, count) & d->mask;
    for (; d->tab[h]; h = (h + 1) & d->mask) {
        const dstate *s = &d->st[d->tab[h] - 1];
        if (s->n == n && s->count == count && memcmp(d->pool + s->off, v, n * sizeof *v) == 0) return d->tab[h] - 1;
    }
    if (d->n >= MAX_DFA_STATES) return *err = 2, -1;
    dstate *st = fm_grow(d->st, &d->cap, d->n + 1, sizeof *st, 64);
    if (st == NULL) return *err = 1, -1;
    d->st = st;
    uint32_t *p = fm_grow(d->pool, &d->cap_pool, d->n_pool + n, sizeof *p, 256);
    if (p == NULL) return *err = 1, -1;
    d->pool = p;
    memcpy(d->pool + d->n_pool, v, n * sizeof *v);
    int acc = 0;
    for (uint32_t i = 0; i < n; i++) acc |= v[i] == nfa->accept;
    if (complement) acc = !acc;
    d->st[d->n] = (dstate){(uint32_t)d->n_pool, n, count, acc && count >= min_len, 0, 0};
    d->n_pool += n;
    d->tab[h] = (uint32_t)d->n + 1;
    return (int64_t)d->n++;
}

static int cmp_u32(const void *a, const void *b) {
    const uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Epsilon closure of v[0..n) into out (sorted, unique); `mark` is scratch
 * per NFA state, stamped with `stamp`. Returns the size. */
static uint32_t closure(const fm_nfa *nfa, const uint32_t *v, uint32_t n, uint32_t *out, uint32_t *mark,
                        uint32_t stamp) {
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++)
        if (mark[v[i]] != stamp) mark[v[i]] = stamp, out[m++] = v[i];
    for (uint32_t i = 0; i < m; i++) {
        const uint32_t s = out[i];
        for (uint32_t k = nfa->edge_start[s]; k < nfa->edge_start[s + 1]; k++) {
            const fm_nfa_edge *e = &nfa->edges[k];
            if (e->lo == FM_NFA_EPS && mark[e->to] != stamp) mark[e->to] = stamp, out[m++] = e->to;
        }
    }
    qsort(out, m, sizeof *out, cmp_u32);
    return m;
}

/* --- the byte DFA ------------------------------------------------------------------ */

/* A byte NFA without empty moves: the code point DFA's edges written out as
 * the byte sequences of their encoding, through inner states. An inner
 * state stands for "these byte ranges, then state `to`" and is made once
 * per such tail: every multi-byte character class of every state that
 * leads to `to` shares it, so the subset construction does not make one
 * copy of each continuation per source state. */
typedef struct tail_key {
    uint32_t to;
    uint8_t n, r[12]; /* n (lo, hi) pairs: a UTF-8 tail (3) or an escape (5) */
} tail_key;

typedef struct bnfa {
    uint32_t *from, *to;
    uint8_t *lo, *hi;
    size_t n, cap;
    uint32_t n_states;
    int oom;
    tail_key *tk; /* open addressing; tv[i] == 0: empty (state 0 is never a tail) */
    uint32_t *tv;
    size_t t_mask, t_n;
} bnfa;

static uint64_t tail_hash(const tail_key *k) {
    uint64_t h = k->to * 0x9E3779B97F4A7C15ull ^ k->n;
    for (int i = 0; i < 2 * k->n; i++) h = (h ^ k->r[i]) * 0x100000001B3ull;
    return h ^ h >> 29;
}

static int tail_eq(const tail_key *a, const tail_key *b) {
    return a->to == b->to && a->n == b->n && !memcmp(a->r, b->r, 2u * a->n);
}

/* The inner state for the tail lo/hi[0..n) then `to` (its edges are made
 * by the caller on creation: *fresh set). 0 when out of memory. */
static uint32_t tail_state(bnfa *a, uint32_t to, const uint8_t *lo, const uint8_t *hi, int n, int *fresh) {
    tail_key k;
    memset(&k, 0, sizeof k);
    k.to = to, k.n = (uint8_t)n;
    for (int i = 0; i < n; i++) k.r[2 * i] = lo[i], k.r[2 * i + 1] = hi[i];
    if (2 * (a->t_n + 1) > a->t_mask + 1) { /* grow */
        const size_t cap = a->t_mask ? 2 * (a->t_mask + 1) : 256;
        tail_key *nk = fm_malloc(cap * sizeof *nk);
        uint32_t *nv = fm_calloc(cap, sizeof *nv);
        if (nk == NULL || nv == NULL) {
            free(nk), free(nv);
            a->oom = 1;
            return 0;
        }
        for (size_t i = 0; a->t_mask && i <= a->t_mask; i++) {
            if (a->tv[i] == 0) continue;
            size_t h = tail_hash(&a->tk[i]) & (cap - 1);
            while (nv[h]) h = (h + 1) & (cap - 1);
            nk[h] = a->tk[i], nv[h] = a->tv[i];
        }
        free(a->tk), free(a->tv);
        a->tk = nk, a->tv = nv, a->t_mask = cap - 1;
    }
    size_t h = tail_hash(&k) & a->t_mask;
    for (; a->tv[h]; h = (h + 1) & a->t_mask)
        if (tail_eq(&a->tk[h], &k)) {
            *fresh = 0;
            return a->tv[h];
        }
    a->tk[h] = k, a->tv[h] = a->n_states++;
    a->t_n++;
    *fresh = 1;
    return a->tv[h];
}

static void bedge(bnfa *a, uint32_t from, uint8_t lo, uint8_t hi, uint32_t to) {
    if (a->n == a->cap) {
        const size_t cap = a->cap ? 2 * a->cap : 256;
        uint32_t *f = fm_realloc(a->from, cap * sizeof *f);
        if (f) a->from = f;
        uint32_t *t = fm_realloc(a->to, cap * sizeof *t);
        if (t) a->to = t;
        uint8_t *l = fm_realloc(a->lo, cap);
        if (l) a->lo = l;
        uint8_t *h = fm_realloc(a->hi, cap);
        if (h) a->hi = h;
        if (!f || !t || !l || !h) {
            a->oom = 1;
            return;
        }
        a->cap = cap;
    }
    a->from[a->n] = from, a->to[a->n] = to, a->lo[a->n] = lo, a->hi[a->n] = hi;
    a->n++;
}

typedef struct path_ctx {
    bnfa *a;
    uint32_t from, to;
} path_ctx;

static int bpath(void *user, const uint8_t *lo, const uint8_t *hi, int n) {
    path_ctx *c = user;
    uint32_t cur = c->from;
    for (int i = 0; i < n && !c->a->oom; i++) {
        int fresh = 1;
        const uint32_t next = i + 1 == n ? c->to : tail_state(c->a, c->to, lo + i + 1, hi + i + 1, n - i - 1, &fresh);
        if (c->a->oom) break;
        bedge(c->a, cur, lo[i], hi[i], next);
        if (!fresh) break; /* the rest of the tail exists already */
        cur = next;
    }
    return c->a->oom;
}

static void bliteral(bnfa *a, uint32_t from, const char *s, size_t n, uint32_t to) {
    path_ctx c = {a, from, to};
    uint8_t v[8];
    memcpy(v, s, n);
    bpath(&c, v, v, (int)n);
}

/* The edge from -> to for the code points in cp[0..2n), encoded. */
static void bencode(bnfa *a, uint32_t from, uint32_t to, const uint32_t *cp, size_t n, fm_char_encoding enc) {
    path_ctx c = {a, from, to};
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n && !a->oom; i++) {
        uint32_t lo = cp[2 * i], hi = cp[2 * i + 1];
        if (enc == FM_ENC_UTF8) {
            fm_utf8_ranges(lo, hi, bpath, &c);
            continue;
        }
        /* JSON: controls, '"' and '\\' escaped; '/' also as "\\/" */
        for (uint32_t ch = lo; ch <= hi && ch < 0x60; ch++) {
            char e[6];
            size_t len = 2;
            e[0] = '\\';
            switch (ch) {
            case '"': e[1] = '"'; break;
            case '\\': e[1] = '\\'; break;
            case '/': e[1] = '/'; break;
            case '\b': e[1] = 'b'; break;
            case '\f': e[1] = 'f'; break;
            case '\n': e[1] = 'n'; break;
            case '\r': e[1] = 'r'; break;
            case '\t': e[1] = 't'; break;
            default:
                if (ch >= 0x20) continue;
                e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hex[ch >> 4], e[5] = hex[ch & 15], len = 6;
                break;
            }
            bliteral(a, from, e, len, to);
        }
        /* the rest as itself */
        if (lo < 0x20) lo = 0x20;
        const uint32_t cuts[2] = {0x22, 0x5C};
        for (int k = 0; k < 2 && lo <= hi; k++)
            if (lo <= cuts[k] && cuts[k] <= hi) {
                if (lo < cuts[k]) fm_utf8_ranges(lo, cuts[k] - 1, bpath, &c);
                lo = cuts[k] + 1;
            }
        if (lo <= hi) fm_utf8_ranges(lo, hi, bpath, &c);
    }
}

#define MAX_BYTE_DFA 16384u
/* code point DFAs above this many states are written as rules */
#define BYTE_DFA_FROM 2048u

static int cmp_u32b(const void *a, const void *b) {
    const uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The code point DFA's live part as a byte DFA terminal in the builder;
 * counted, the terminal counts characters itself (fm_gdfa), within
 * [cmin, cmax]. */
static fm_status byte_dfa(fm_gbuild *b, const dfa *d, const uint8_t *live, fm_char_encoding enc, int counted,
                         uint32_t cmin, uint32_t cmax, uint32_t *sym) {
    bnfa a = {0};
    /* NFA states: code point DFA state q is q (+1 when quoted: 0 is the
     * opening quote's start), then the final state, then inner states */
    const int quoted = enc == FM_ENC_JSON_QUOTED;
    const uint32_t off = quoted ? 1 : 0, final = (uint32_t)d->n + off;
    a.n_states = final + 1;
    if (quoted) {
        bliteral(&a, 0, "\"", 1, off);
        enc = FM_ENC_JSON_STRING;
    }
    uint8_t *acc0 = fm_calloc((size_t)d->n + 2, 1);
    if (acc0 == NULL) a.oom = 1;
    for (size_t q = 0; q < d->n && !a.oom; q++) {
        if (!live[q]) continue;
        if (d->st[q].accepting) {
            if (quoted) bliteral(&a, (uint32_t)q + off, "\"", 1, final);
            else acc0[q] = 1;
        }
        for (uint32_t t = 0; t < d->st[q].t_n; t++) {
            const dtrans *tr = &d->tr[d->st[q].t_off + t];
            if (live[tr->to]) bencode(&a, (uint32_t)q + off, tr->to + off, d->rpool + 2 * tr->r_off, tr->r_n, enc);
        }
    }
    if (quoted && acc0 != NULL) acc0[final] = 1; /* (acc0 is indexed by NFA state below when quoted) */
    fm_status st = a.oom ? fm_error(FM_STATUS_NO_MEMORY, "out of memory building an automaton") : FM_STATUS_OK;
    /* edges grouped by source */
    uint32_t *start = st ? NULL : fm_calloc((size_t)a.n_states + 1, sizeof *start);
    uint32_t *order = st ? NULL : fm_malloc((a.n ? a.n : 1) * sizeof *order);
    if (!st && (start == NULL || order == NULL)) st = fm_error(FM_STATUS_NO_MEMORY, "out of memory building an automaton");
    if (!st) {
        for (size_t i = 0; i < a.n; i++) start[a.from[i] + 1]++;
        for (uint32_t i = 0; i < a.n_states; i++) start[i + 1] += start[i];
        uint32_t *fill = fm_malloc(((size_t)a.n_states + 1) * sizeof *fill);
        if (fill == NULL) st = fm_error(FM_STATUS_NO_MEMORY, "out of memory building an automaton");
        else {
            memcpy(fill, start, ((size_t)a.n_states + 1) * sizeof *fill);
            for (size_t i = 0; i < a.n; i++) order[fill[a.from[i]]++] = (uint32_t)i;
            free(fill);
        }
    }
    /* subset construction over bytes */
    dfa s;
    memset(&s, 0, sizeof s);
    s.mask = 255;
    s.tab = fm_calloc(256, sizeof *s.tab);
    uint32_t *next = NULL;
    uint8_t *accept = NULL, *bound = NULL;
    size_t cap_next = 0, cap_acc = 0, cap_bound = 0;
    /* per DFA state: (byte, target) pairs of every edge, grouped by byte */
    uint32_t *pairs = NULL, *bucket = NULL, *bcount = NULL, *bstart = NULL, *tmp = NULL;
    uint8_t *pbyte = NULL;
    size_t cap_pairs = 0, cap_pbyte = 0, cap_bucket = 0;
    uint32_t *mark = fm_calloc((size_t)a.n_states + 1, sizeof *mark);
    bcount = fm_malloc(256 * sizeof *bcount);
    bstart = fm_malloc(257 * sizeof *bstart);
    tmp = fm_malloc(((size_t)a.n_states + 1) * sizeof *tmp);
    if (!st && (s.tab == NULL || mark == NULL || bcount == NULL || bstart == NULL || tmp == NULL))
        st = fm_error(FM_STATUS_NO_MEMORY, "out of memory building an automaton");
    int err = 0;
    const uint32_t begin = 0;
    /* the subset interning reuses the code point DFA's table code with a fake NFA (no accept) */
    fm_nfa fake = {a.n_states, 0, a.n_states + 1, NULL, NULL, 0};
    if (!st && intern(&s, &begin, 1, 0, &fake, 0, 0, &err) < 0) st = fm_error(FM_STATUS_NO_MEMORY, "out of memory");
    uint32_t stamp = 0;
    for (size_t q = 0; !st && q < s.n; q++) {
        if (s.n > MAX_BYTE_DFA) {
            st = FM_STATUS_UNSUPPORTED; /* too big for tables: the caller writes rules */
            break;
        }
        uint32_t *nx = fm_grow(next, &cap_next, 256 * (q + 1), sizeof *nx, 256 * 64);
        uint8_t *ac = nx ? fm_grow(accept, &cap_acc, q + 1, 1, 64) : NULL;
        if (nx) next = nx;
        if (ac == NULL) {
            st = fm_error(FM_STATUS_NO_MEMORY, "out of memory building an automaton");
            break;
        }
        accept = ac;
        uint8_t *bd = counted ? fm_grow(bound, &cap_bound, q + 1, 1, 64) : NULL;
        if (counted && bd == NULL) {
            st = fm_error(FM_STATUS_NO_MEMORY, "out of memory building an automaton");
            break;
        }
        bound = bd;
        const dstate cur = s.st[q];
        int is_acc = 0, is_bound = 0;
        memset(bcount, 0, 256 * sizeof *bcount);
        size_t np = 0;
        for (uint32_t i = 0; i < cur.n && !st; i++) {
            const uint32_t ns = s.pool[cur.off + i];
            is_acc |= quoted ? ns == final : (ns >= off && ns < final && acc0[ns - off]);
            is_bound |= ns >= off && ns < final; /* a code point state: a character has ended */
            for (uint32_t k = start[ns]; k < start[ns + 1] && !st; k++) {
                const uint32_t e = order[k];
                const size_t w = (size_t)a.hi[e] - a.lo[e] + 1;
                uint32_t *pp = fm_grow(pairs, &cap_pairs, np + w, sizeof *pp, 1024);
                uint8_t *pb = pp ? fm_grow(pbyte, &cap_pbyte, np + w, 1, 1024) : NULL;
                if (pp) pairs = pp;
                if (pb == NULL) {
                    st = fm_error(FM_STATUS_NO_MEMORY, "out of memory building an automaton");
                    break;
                }
                pbyte = pb;
                for (unsigned c = a.lo[e]; c <= a.hi[e]; c++) pairs[np] = a.to[e], pbyte[np++] = (uint8_t)c, bcount[c]++;
            }
        }
        if (st) break;
        uint32_t *bk = fm_grow(bucket, &cap_bucket, np ? np : 1, sizeof *bk, 1024);
        if (bk == NULL) {
            st = fm_error(FM_STATUS_NO_MEMORY, "out of memory building an automaton");
            break;
        }
        bucket = bk;
        bstart[0] = 0;
        for (unsigned c = 0; c < 256; c++) bstart[c + 1] = bstart[c] + bcount[c];
        for (unsigned c = 0; c < 256; c++) bcount[c] = bstart[c];
        for (size_t i = 0; i < np; i++) bucket[bcount[pbyte[i]]++] = pairs[i];
        accept[q] = (uint8_t)is_acc;
        if (counted) bound[q] = (uint8_t)is_bound;
        for (unsigned c = 0; c < 256 && !st; c++) {
            next[q * 256 + c] = FM_DFA_DEAD;
            if (bstart[c + 1] == bstart[c]) continue;
            uint32_t m = 0;
            ++stamp;
            for (uint32_t i = bstart[c]; i < bstart[c + 1]; i++) {
                const uint32_t t = bucket[i];
                if (mark[t] != stamp) mark[t] = stamp, tmp[m++] = t;
            }
            qsort(tmp, m, sizeof *tmp, cmp_u32b);
            const int64_t to = intern(&s, tmp, m, 0, &fake, 0, 0, &err);
            if (to < 0) {
                st = err == 2 ? FM_STATUS_UNSUPPORTED : fm_error(FM_STATUS_NO_MEMORY, "out of memory building an automaton");
                break;
            }
            next[q * 256 + c] = (uint32_t)to;
        }
    }
    if (!st) {
        /* the opening quote enters code point state 0 too: one more count */
        const uint32_t shift = quoted ? 1 : 0;
        *sym = counted ? fm_gbuild_dfa_counted(b, (uint32_t)s.n, next, accept, bound, cmin + shift,
                                               cmax == UINT32_MAX ? cmax : cmax + shift)
                       : fm_gbuild_dfa(b, (uint32_t)s.n, next, accept); /* takes the arrays */
        next = NULL, accept = NULL, bound = NULL;
        if (*sym == 0xFFFFFFFEu) st = FM_STATUS_UNSUPPORTED;
        else if (*sym == 0xFFFFFFFDu) st = FM_STATUS_NOT_FOUND;
        else if (*sym == 0xFFFFFFFFu) st = fm_error(FM_STATUS_NO_MEMORY, "out of memory building an automaton");
    }
    free(next);
    free(accept);
    free(bound);
    free(bucket), free(bcount), free(bstart), free(tmp), free(mark), free(acc0), free(pairs), free(pbyte);
    free(start), free(order);
    dfa_free(&s);
    free(a.from), free(a.to), free(a.lo), free(a.hi), free(a.tk), free(a.tv);
    return st;
}

/* The code point DFA's live part as left-linear rules (L_q ::= L_p c):
 * for automata too large for byte tables (long length counters). */
static fm_status dfa_rules(fm_gbuild *b, const dfa *d, const uint8_t *live, fm_char_encoding enc, uint32_t *sym) {
    const int quoted = enc == FM_ENC_JSON_QUOTED;
    if (quoted) enc = FM_ENC_JSON_STRING;
    fm_status st = FM_STATUS_OK;
    int32_t *rule = fm_calloc(d->n, sizeof *rule);
    const int32_t h = fm_gbuild_helper(b);
    if (rule == NULL || h < 0) st = fm_error(FM_STATUS_NO_MEMORY, "out of memory building an automaton");
    for (size_t q = 0; !st && q < d->n; q++) rule[q] = live[q] ? fm_gbuild_helper(b) : -1;
    if (!st) st = fm_gbuild_prod(b, rule[0], NULL, 0);
    for (size_t q = 0; !st && q < d->n; q++) {
        if (!live[q]) continue;
        if (d->st[q].accepting) {
            const uint32_t s = FM_GS_MAKE(FM_GS_NT, rule[q]);
            st = fm_gbuild_prod(b, h, &s, 1);
        }
        for (uint32_t t = 0; !st && t < d->st[q].t_n; t++) {
            const dtrans *tr = &d->tr[d->st[q].t_off + t];
            if (!live[tr->to]) continue;
            const uint32_t c = fm_gbuild_char(b, d->rpool + 2 * tr->r_off, tr->r_n, enc);
            if (c == 0xFFFFFFFFu) {
                st = fm_error(FM_STATUS_NO_MEMORY, "out of memory building an automaton");
                break;
            }
            const uint32_t seq[2] = {FM_GS_MAKE(FM_GS_NT, rule[q]), c};
            st = fm_gbuild_prod(b, rule[tr->to], seq, 2);
        }
    }
    free(rule);
    if (st) return st;
    *sym = FM_GS_MAKE(FM_GS_NT, h);
    if (quoted) {
        fm_byteset qs = {{0, 0, 0, 0}};
        fm_byteset_add_range(&qs, '"', '"');
        const uint32_t q = fm_gbuild_term(b, &qs);
        const uint32_t parts[3] = {q, *sym, q};
        const int32_t w = fm_gbuild_helper(b);
        if (w < 0) return fm_error(FM_STATUS_NO_MEMORY, "out of memory building an automaton");
        if ((st = fm_gbuild_prod(b, w, parts, 3))) return st;
        *sym = FM_GS_MAKE(FM_GS_NT, w);
    }
    return FM_STATUS_OK;
}

/* How emit_as writes the automaton: a code point DFA in product with the
 * length counter, as a byte table or else as rules (PRODUCT), or a byte
 * table of the pattern alone that counts for itself (COUNTED). */
enum { PRODUCT, COUNTED };

static fm_status emit_as(fm_gbuild *b, const fm_nfa *nfa, uint32_t min_len, uint32_t max_len, fm_char_encoding enc,
                         const char *what, int complement, int mode, uint32_t *sym) {
    const uint32_t cmin = min_len, cmax = max_len;
    if (mode == COUNTED) min_len = 0, max_len = UINT32_MAX;
    dfa d;
    memset(&d, 0, sizeof d);
    d.mask = 255;
    d.tab = fm_calloc(256, sizeof *d.tab);
    const uint32_t ns = nfa->n_states;
    uint32_t *mark = fm_calloc(ns + 1, sizeof *mark), *buf = fm_malloc((ns + 1) * sizeof *buf),
             *cl = fm_malloc((ns + 1) * sizeof *cl);
    uint32_t *bounds = NULL, *tset = NULL;
    size_t cap_bounds = 0;
    uint32_t stamp = 0;
    int err = 0;
    fm_status st = FM_STATUS_OK;
    /* the counter saturates where it stops mattering */
    const uint32_t cap_count = max_len != UINT32_MAX ? max_len : min_len;
    if (d.tab == NULL || mark == NULL || buf == NULL || cl == NULL) err = 1;
    if (!err) {
        const uint32_t n0 = closure(nfa, &nfa->start, 1, cl, mark, ++stamp);
        if (intern(&d, cl, n0, 0, nfa, min_len, complement, &err) < 0) err = err ? err : 1;
    }
    tset = fm_malloc((ns + 1) * sizeof *tset);
    if (tset == NULL) err = 1;
    unsigned long long work = 0;
    for (size_t q = 0; !err && q < d.n; q++) {
        d.st[q].t_off = (uint32_t)d.n_tr;
        const dstate cur = d.st[q];
        work += cur.n;
        if (work > MAX_DFA_WORK) {
            err = 2;
            break;
        }
        if (max_len != UINT32_MAX && cur.count >= max_len) continue; /* no room for another character */
        /* the interval boundaries of every edge out of the set */
        size_t nb = 0;
        for (uint32_t i = 0; i < cur.n && !err; i++) {
            const uint32_t s = d.pool[cur.off + i];
            for (uint32_t k = nfa->edge_start[s]; k < nfa->edge_start[s + 1]; k++) {
                const fm_nfa_edge *e = &nfa->edges[k];
                if (e->lo == FM_NFA_EPS) continue;
                uint32_t *bb = fm_grow(bounds, &cap_bounds, nb + 2, sizeof *bb, 64);
                if (bb == NULL) {
                    err = 1;
                    break;
                }
                bounds = bb;
                bounds[nb++] = e->lo, bounds[nb++] = e->hi + 1;
            }
        }
        if (err) break;
        if (complement) { /* every code point goes somewhere: the empty set is the sink */
            uint32_t *bb = fm_grow(bounds, &cap_bounds, nb + 2, sizeof *bb, 64);
            if (bb == NULL) {
                err = 1;
                break;
            }
            bounds = bb;
            bounds[nb++] = 0, bounds[nb++] = 0x110000;
        }
        if (nb) qsort(bounds, nb, sizeof *bounds, cmp_u32);
        size_t nu = 0;
        for (size_t i = 0; i < nb; i++)
            if (nu == 0 || bounds[nu - 1] != bounds[i]) bounds[nu++] = bounds[i];
        const uint32_t next_count = cur.count + 1 > cap_count ? cap_count : cur.count + 1;
        for (size_t i = 0; i + 1 < nu && !err; i++) {
            const uint32_t lo = bounds[i], hi = bounds[i + 1] - 1;
            work += cur.n + nb;
            if (work > MAX_DFA_WORK) {
                err = 2;
                break;
            }
            uint32_t m = 0;
            ++stamp;
            for (uint32_t j = 0; j < cur.n; j++) {
                const uint32_t s = d.pool[cur.off + j];
                for (uint32_t k = nfa->edge_start[s]; k < nfa->edge_start[s + 1]; k++) {
                    const fm_nfa_edge *e = &nfa->edges[k];
                    if (e->lo != FM_NFA_EPS && e->lo <= lo && hi <= e->hi && mark[e->to] != stamp)
                        mark[e->to] = stamp, tset[m++] = e->to;
                }
            }
            if (m == 0 && !complement) continue;
            const uint32_t nc = m ? closure(nfa, tset, m, cl, mark, ++stamp) : 0;
            const int64_t to = intern(&d, cl, nc, next_count, nfa, min_len, complement, &err);
            if (to < 0) break;
            /* the same target as the previous transition of this state: extend its ranges */
            dtrans *last = d.n_tr > d.st[q].t_off ? &d.tr[d.n_tr - 1] : NULL;
            uint32_t *rp = fm_grow(d.rpool, &d.cap_r, 2 * (d.n_r + 1), sizeof *rp, 256);
            if (rp == NULL) {
                err = 1;
                break;
            }
            d.rpool = rp;
            if (last != NULL && last->to == (uint32_t)to) {
                if (d.rpool[2 * (d.n_r - 1) + 1] + 1 == lo) d.rpool[2 * (d.n_r - 1) + 1] = hi;
                else d.rpool[2 * d.n_r] = lo, d.rpool[2 * d.n_r + 1] = hi, d.n_r++, last->r_n++;
                continue;
            }
            dtrans *tr = fm_grow(d.tr, &d.cap_tr, d.n_tr + 1, sizeof *tr, 64);
            if (tr == NULL) {
                err = 1;
                break;
            }
            d.tr = tr;
            d.rpool[2 * d.n_r] = lo, d.rpool[2 * d.n_r + 1] = hi;
            d.tr[d.n_tr++] = (dtrans){(uint32_t)to, (uint32_t)d.n_r++, 1};
        }
        d.st[q].t_n = (uint32_t)d.n_tr - d.st[q].t_off;
    }
    free(bounds);
    free(tset);
    free(buf);
    free(cl);
    free(mark);
    if (err == 2)
        st = fm_error(FM_STATUS_INVALID_ARGUMENT,
                      "%s: the pattern and length bounds need too large an automaton (over %u states or %llu steps)",
                      what, MAX_DFA_STATES, MAX_DFA_WORK);
    else if (err)
        st = fm_error(FM_STATUS_NO_MEMORY, "out of memory building an automaton");
    /* states that can still reach acceptance (the others would let the
     * grammar allow prefixes that lead nowhere) */
    uint8_t *live = st ? NULL : fm_calloc(d.n + 1, 1);
    if (!st && live == NULL) st = fm_error(FM_STATUS_NO_MEMORY, "out of memory building an automaton");
    if (!st) {
        for (size_t q = 0; q < d.n; q++) live[q] = (uint8_t)d.st[q].accepting;
        for (int changed = 1; changed;) {
            changed = 0;
            for (size_t q = 0; q < d.n; q++) {
                if (live[q]) continue;
                for (uint32_t t = 0; t < d.st[q].t_n && !live[q]; t++)
                    if (live[d.tr[d.st[q].t_off + t].to]) live[q] = 1, changed = 1;
            }
        }
        if (!live[0]) st = fm_error(FM_STATUS_NOT_FOUND, "%s: no string satisfies the pattern and length bounds", what);
    }
    /* byte tables cost 1 KiB a state: a long counter counts in a table
     * of the pattern's alone, or (failing that) becomes rules */
    if (!st) {
        if (mode == COUNTED) st = byte_dfa(b, &d, live, enc, 1, cmin, cmax, sym);
        else st = d.n <= BYTE_DFA_FROM ? byte_dfa(b, &d, live, enc, 0, 0, 0, sym) : FM_STATUS_UNSUPPORTED;
        if (st == FM_STATUS_UNSUPPORTED && mode != COUNTED) st = dfa_rules(b, &d, live, enc, sym);
        if (st == FM_STATUS_NOT_FOUND)
            st = fm_error(FM_STATUS_NOT_FOUND, "%s: no string satisfies the pattern and length bounds", what);
    }
    free(live);
    dfa_free(&d);
    return st;
}

static fm_status emit(fm_gbuild *b, const fm_nfa *nfa, uint32_t min_len, uint32_t max_len, fm_char_encoding enc,
                      const char *what, int complement, uint32_t *sym) {
    /* counted wherever there are bounds: the product's table per count
     * costs memory, and a new cache for every character of a string;
     * counted, a string's middle is one cache shared by every schema
     * (lexeme_cache.c). The product is left for tables too large to
     * count (dfa_count.c). */
    fm_status st = FM_STATUS_UNSUPPORTED;
    if (min_len > 0 || max_len != UINT32_MAX) st = emit_as(b, nfa, min_len, max_len, enc, what, complement, COUNTED, sym);
    if (st == FM_STATUS_UNSUPPORTED) st = emit_as(b, nfa, min_len, max_len, enc, what, complement, PRODUCT, sym);
    return st;
}

fm_status fm_nfa_emit(fm_gbuild *b, const fm_nfa *nfa, uint32_t min_len, uint32_t max_len, fm_char_encoding enc,
                      const char *what, uint32_t *sym) {
    return emit(b, nfa, min_len, max_len, enc, what, 0, sym);
}

fm_status fm_nfa_emit_complement(fm_gbuild *b, const fm_nfa *nfa, uint32_t min_len, uint32_t max_len,
                                 fm_char_encoding enc, const char *what, uint32_t *sym) {
    return emit(b, nfa, min_len, max_len, enc, what, 1, sym);
}

fm_status fm_nfa_union(fm_nfa *a, const fm_nfa *b) {
    /* states of b follow a's; two new ones: a start and an accept */
    const uint32_t off = a->n_states, ns = a->n_states + b->n_states + 2, s = ns - 2, e = ns - 1;
    const size_t ne = a->n_edges + b->n_edges + 4;
    fm_nfa_edge *edges = fm_malloc(ne * sizeof *edges);
    uint32_t *start = fm_calloc((size_t)ns + 1, sizeof *start);
    if (edges == NULL || start == NULL) {
        free(edges);
        free(start);
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory building an automaton");
    }
    size_t n = 0;
    for (uint32_t q = 0; q < ns; q++) {
        start[q] = (uint32_t)n;
        if (q < off) {
            for (uint32_t k = a->edge_start[q]; k < a->edge_start[q + 1]; k++) edges[n++] = a->edges[k];
            if (q == a->accept) edges[n++] = (fm_nfa_edge){FM_NFA_EPS, FM_NFA_EPS, e};
        } else if (q < s) {
            const uint32_t qb = q - off;
            for (uint32_t k = b->edge_start[qb]; k < b->edge_start[qb + 1]; k++) {
                fm_nfa_edge x = b->edges[k];
                x.to += off;
                edges[n++] = x;
            }
            if (qb == b->accept) edges[n++] = (fm_nfa_edge){FM_NFA_EPS, FM_NFA_EPS, e};
        } else if (q == s) {
            edges[n++] = (fm_nfa_edge){FM_NFA_EPS, FM_NFA_EPS, a->start};
            edges[n++] = (fm_nfa_edge){FM_NFA_EPS, FM_NFA_EPS, b->start + off};
        }
    }
    start[ns] = (uint32_t)n;
    free(a->edges);
    free(a->edge_start);
    a->edges = edges, a->edge_start = start, a->n_edges = n;
    a->n_states = ns, a->start = s, a->accept = e;
    return FM_STATUS_OK;
}
