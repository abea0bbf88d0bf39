/* The per-tokenizer store of lexeme caches (lexeme_cache.h). A cache is
 * found by its DFA's signature: the reachable part of the DFA from q,
 * numbered breadth first, hashed twice; equal signatures mean the same
 * language and accepting structure, so the same tokens and exits. The
 * store is bounded (STORE_BYTES and STORE_MAX entries per tokenizer,
 * least recently used out first); a matcher keeps a reference to what it uses, so eviction never
 * frees a cache in use. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/grow.h"
#include "lexeme_cache.h"

#define STORE_BYTES ((size_t)64 << 20)
/* Lookups, evictions and the search for a cache to build from scan the
 * entries: bounded, or a long-lived tokenizer that has seen thousands of
 * grammars pays for all of them on every new lexeme (a small
 * vocabulary's caches are small, so 64 MB held tens of thousands; each
 * new grammar got 4.5x slower over 4,000 grammars, and a fuzzed regex
 * took 37 s). */
#define STORE_MAX 4096
#define DELTA_SCAN 64 /* the most recently stored entries a new cache may be built from */
#define SIG_MAX_STATES 4096 /* larger languages are built, not shared */
#define DELTA_MAX 24          /* first bytes that may differ for a cache built from another */

typedef struct store {
    pthread_mutex_t lock;
    fm_lexcache **e;
    size_t n, cap, bytes;
    uint64_t clock;
} store;

static void cache_destroy(fm_lexcache *c) {
    free(c->mask);
    free(c->exits);
    free(c);
}

void fm_lexcache_release(fm_lexcache *c) {
    if (c != NULL && atomic_fetch_sub(&c->refs, 1) == 1) cache_destroy(c);
}

static void *store_make(void) {
    store *s = fm_calloc(1, sizeof *s);
    if (s != NULL && pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        s = NULL;
    }
    return s;
}

static void store_free(void *p) {
    store *s = p;
    for (size_t i = 0; i < s->n; i++) fm_lexcache_release(s->e[i]);
    free(s->e);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* 1 with the signature set, 0 when the language is too large to share,
 * -1 out of memory. A row is hashed as its runs of equal targets (where
 * each starts, where it goes): the same rows give the same runs. */
static int sign(const fm_gdfa *d, uint32_t q, uint64_t sig[2], uint32_t *n_reach) {
    uint32_t *num = fm_malloc(d->n_states * sizeof *num), *order = fm_malloc(d->n_states * sizeof *order);
    if (num == NULL || order == NULL) {
        free(num), free(order);
        return -1;
    }
    for (uint32_t i = 0; i < d->n_states; i++) num[i] = UINT32_MAX;
    uint32_t n = 0;
    num[q] = n, order[n++] = q;
    uint64_t a = 0xCBF29CE484222325ull, b = 0x84222325CBF29CE4ull;
    int ok = 1;
    for (uint32_t k = 0; k < n && ok; k++) {
        const uint32_t s = order[k];
        const unsigned tag = d->accept[s] | (d->bound ? d->bound[s] << 1 : 0);
        a = (a ^ tag) * 0x100000001B3ull;
        b = (b + tag + 1) * 0x9E3779B97F4A7C15ull;
        const uint32_t *row = &d->next[(size_t)s * 256];
        for (unsigned c = 0; c < 256; c++) {
            const uint32_t t = row[c];
            if (c > 0 && t == row[c - 1]) continue; /* runs of one target: hashed where they start */
            uint32_t v = UINT32_MAX;
            if (t != FM_DFA_DEAD) {
                if (num[t] == UINT32_MAX) {
                    if (n == SIG_MAX_STATES) {
                        ok = 0;
                        break;
                    }
                    num[t] = n, order[n++] = t;
                }
                v = num[t];
            }
            a = (a ^ v) * 0x100000001B3ull;
            b = (b ^ (v + c * 0x10001u)) * 0xD6E8FEB86659FD93ull;
            b ^= b >> 29;
        }
    }
    free(num), free(order);
    sig[0] = a, sig[1] = b ^ n;
    *n_reach = n;
    return ok;
}

static uint64_t mix(uint64_t h) {
    h ^= h >> 33, h *= 0xFF51AFD7ED558CCDull, h ^= h >> 33, h *= 0xC4CEB9FE1A85EC53ull;
    return h ^ (h >> 33);
}

/* The base state's signature, memoized (a race only signs twice): 1
 * signed, 0 not (too large, or out of memory). */
static int base_signature(const fm_gdfa *d, uint32_t p, uint64_t sig[2], uint32_t *n_reach) {
    fm_gdfa_sig *m = d->sig ? &d->sig[p] : NULL;
    const unsigned k = m ? atomic_load_explicit(&m->known, memory_order_acquire) : 0;
    if (k == 0 || k == 3) { /* 3: another thread is writing it */
        const int ok = sign(d, p, sig, n_reach);
        unsigned expect = 0;
        if (m != NULL && ok >= 0 && atomic_compare_exchange_strong(&m->known, &expect, 3u)) {
            m->sig[0] = sig[0], m->sig[1] = sig[1], m->n_reach = *n_reach;
            atomic_store_explicit(&m->known, ok ? 1u : 2u, memory_order_release);
        }
        return ok > 0;
    }
    sig[0] = m->sig[0], sig[1] = m->sig[1], *n_reach = m->n_reach;
    return k == 1;
}

#define FAR UINT64_MAX

/* The signature of parse state q. A counted DFA's (p, c) is p's, with
 * what is left of the bounds, lo = cmin - c (or 0) and hi = cmax - c -
 * each replaced by FAR where its value cannot matter to a token (at most
 * `depth` characters) starting there (n: the states p reaches):
 *  - hi, when hi >= depth + n and hi - lo >= 3n: within the token every
 *    state is live exactly when it can reach acceptance at a count of at
 *    least lo - j at all (a shortest way is under n characters, and a
 *    state on a loop of k <= n characters reaches every window of 3n);
 *  - lo, when hi is FAR and lo >= depth + 2n: no acceptance within
 *    reach, and a state is live exactly when it is on the way to a loop.
 * So a long string's middle is one cache, and a bound k characters away
 * is the same cache in every schema. */
static int signature(const fm_gdfa *d, uint32_t q, uint32_t depth, uint64_t sig[2], uint32_t *n_reach) {
    if (d->bound == NULL) return base_signature(d, q, sig, n_reach);
    const uint32_t p = q & d->pmask, c = q >> d->pbits;
    if (!base_signature(d, p, sig, n_reach)) return 0;
    const uint64_t n = *n_reach;
    uint64_t lo = d->cmin > c ? d->cmin - c : 0, hi = d->cmax == UINT32_MAX ? FAR : (uint64_t)d->cmax - c;
    if (hi != FAR && hi >= depth + n && hi - lo >= 3 * n) hi = FAR;
    if (hi == FAR && lo >= depth + 2 * n) lo = FAR;
    sig[0] = mix(sig[0] ^ mix(lo + 0x632BE59BD9B4E019ull));
    sig[1] = mix(sig[1] + mix(hi ^ 0x9E3779B97F4A7C15ull));
    return 1;
}

static void set_bit(uint32_t *mask, int32_t t) { mask[t >> 5] |= 1u << (t & 31); }

/* Exits under construction. */
typedef struct exits {
    uint32_t *v;
    size_t n, cap;
} exits;

static int exit_add(exits *x, uint32_t node) {
    uint32_t *v = fm_grow(x->v, &x->cap, x->n + 1, sizeof *v, 64);
    if (v == NULL) return 0;
    x->v = v;
    v[x->n++] = node;
    return 1;
}

/* The trie nodes [begin, end) stepped through the DFA alone from q0: the
 * tokens that stay alive into mask, the exits into x. 0 out of memory. */
static int walk_dfa(const fm_token_trie *tr, const fm_gdfa *d, uint32_t begin, uint32_t end, uint32_t q0,
                    uint32_t *mask, exits *x, uint32_t *stk) {
    const fm_trie_node *nd = tr->nodes;
    size_t sp = 1;
    stk[0] = begin, stk[1] = end, stk[2] = q0;
    while (sp > 0) {
        uint32_t *top = &stk[3 * (sp - 1)];
        if (top[0] >= top[1]) {
            sp--;
            continue;
        }
        const uint32_t i = top[0];
        top[0] = nd[i].end;
        const uint32_t nq = fm_gdfa_step(d, top[2], nd[i].byte);
        if (nq == FM_DFA_DEAD) continue;
        for (int32_t t = nd[i].tok; t >= 0; t = tr->same_next[t]) set_bit(mask, t);
        if (i + 1 >= nd[i].end) continue;
        if (fm_gdfa_accepts(d, nq) && !exit_add(x, i)) return 0;
        uint32_t *nt = &stk[3 * sp];
        nt[0] = i + 1, nt[1] = nd[i].end, nt[2] = nq;
        sp++;
    }
    return 1;
}

/* The cache of (d, q0): one trie walk - or, given a cache `base` whose
 * state goes, on every first byte b with same[b], to a state with the
 * same language as q0's successor on b, that cache with the subtrees of
 * the other first bytes walked again. (A JSON key that has left the
 * schema's names behind is any string, and its subtree is that of any
 * string: only the subtrees of the names' first bytes differ.) */
static fm_lexcache *build(const fm_token_trie *tr, const fm_gdfa *d, uint32_t q0, const fm_lexcache *base,
                          const uint8_t *same) {
    const size_t nw = ((size_t)tr->n_vocab + 31) / 32;
    fm_lexcache *c = fm_calloc(1, sizeof *c);
    if (c == NULL) return NULL;
    atomic_init(&c->refs, 1);
    c->mask = base ? fm_malloc(nw * sizeof *c->mask) : fm_calloc(nw, sizeof *c->mask);
    uint32_t *stk = fm_malloc(3 * ((size_t)tr->max_depth + 2) * sizeof *stk); /* (cursor, end, dfa state) triples */
    exits x = {NULL, 0, 0};
    if (c->mask == NULL || stk == NULL) goto fail;
    const fm_trie_node *nd = tr->nodes;
    if (base == NULL) {
        if (!walk_dfa(tr, d, 1, nd[0].end, q0, c->mask, &x, stk)) goto fail;
    } else {
        memcpy(c->mask, base->mask, nw * sizeof *c->mask);
        size_t k = 0; /* the base's exits, in node order */
        for (uint32_t j = 1; j < nd[0].end; j = nd[j].end) {
            const uint32_t e = nd[j].end;
            if (same[nd[j].byte]) {
                for (; k < base->n_exits && base->exits[k] < j; k++) {
                }
                for (; k < base->n_exits && base->exits[k] < e; k++)
                    if (!exit_add(&x, base->exits[k])) goto fail;
                continue;
            }
            for (uint32_t i = j; i < e; i++) /* the base's tokens here out, this state's in */
                for (int32_t t = nd[i].tok; t >= 0; t = tr->same_next[t]) c->mask[t >> 5] &= ~(1u << (t & 31));
            if (!walk_dfa(tr, d, j, e, q0, c->mask, &x, stk)) goto fail;
        }
    }
    c->exits = x.v, c->n_exits = x.n;
    free(stk);
    c->bytes = sizeof *c + nw * sizeof *c->mask + c->n_exits * sizeof *c->exits;
    return c;
fail:
    free(stk);
    free(x.v);
    cache_destroy(c);
    return NULL;
}

/* The signatures of q's successors, one per byte (a dead byte, or a
 * language too large to sign, gets none: succ_ok 0). */
static void successors(const fm_gdfa *d, uint32_t q, uint32_t depth, fm_lexcache *c) {
    uint32_t seen[256], n_seen = 0, at[256];
    for (unsigned b = 0; b < 256; b++) {
        const uint32_t t = fm_gdfa_step(d, q, b);
        c->succ_ok[b] = 0;
        c->succ_dead[b] = t == FM_DFA_DEAD;
        if (t == FM_DFA_DEAD) continue;
        uint32_t i = 0;
        while (i < n_seen && seen[i] != t) i++;
        if (i == n_seen) {
            uint32_t nr;
            seen[n_seen] = t;
            at[n_seen++] = b;
            if (!signature(d, t, depth, c->succ[b], &nr)) continue;
            c->succ[b][1] ^= (uint64_t)nr << 40;
            c->succ_ok[b] = 1;
        } else if (c->succ_ok[at[i]]) {
            c->succ[b][0] = c->succ[at[i]][0], c->succ[b][1] = c->succ[at[i]][1];
            c->succ_ok[b] = 1;
        }
    }
}

/* How many first bytes step differently from the state of `now` and that
 * of `old` (both dead, or both to the same language, is alike); same[]
 * marks the alike ones. */
static unsigned delta_sig(const fm_lexcache *now, const fm_lexcache *old, uint8_t *same) {
    unsigned n = 0;
    for (unsigned b = 0; b < 256; b++) {
        int eq;
        if (now->succ_dead[b] || old->succ_dead[b]) eq = now->succ_dead[b] && old->succ_dead[b];
        else eq = now->succ_ok[b] && old->succ_ok[b] && now->succ[b][0] == old->succ[b][0] && now->succ[b][1] == old->succ[b][1];
        same[b] = (uint8_t)eq;
        n += !eq;
    }
    return n;
}

static fm_lexcache *find(store *s, const uint64_t sig[2], uint32_t n_reach) {
    for (size_t i = 0; i < s->n; i++)
        if (s->e[i]->sig[0] == sig[0] && s->e[i]->sig[1] == sig[1] && s->e[i]->n_reach == n_reach) {
            s->e[i]->used = ++s->clock;
            atomic_fetch_add(&s->e[i]->refs, 1);
            return s->e[i];
        }
    return NULL;
}

fm_lexcache *fm_lexcache_get(const fm_token_trie *tr, const fm_gdfa *d, uint32_t q, const fm_lexcache *base,
                             uint32_t bq) {
    uint8_t same[256], same2[256];
    unsigned best = DELTA_MAX + 1;
    if (base != NULL) { /* a state of the same DFA: alike where it steps to the same state */
        best = 0;
        for (unsigned b = 0; b < 256; b++) {
            same[b] = fm_gdfa_step(d, q, b) == fm_gdfa_step(d, bq, b);
            best += !same[b];
        }
        if (best > DELTA_MAX) base = NULL;
    }
    uint64_t sig[2];
    uint32_t n_reach;
    store *s = fm_token_trie_ext(tr, store_make, store_free);
    if (s == NULL || !signature(d, q, tr->max_depth, sig, &n_reach)) return build(tr, d, q, base, same); /* private */
    pthread_mutex_lock(&s->lock);
    fm_lexcache *c = find(s, sig, n_reach);
    pthread_mutex_unlock(&s->lock);
    if (c != NULL) return c;
    /* a stored cache of any grammar whose state steps alike on most first
     * bytes: its successors' languages are compared by signature */
    fm_lexcache *probe = fm_malloc(sizeof *probe);
    if (probe == NULL) return NULL;
    successors(d, q, tr->max_depth, probe);
    fm_lexcache *stored = NULL;
    pthread_mutex_lock(&s->lock);
    for (size_t i = s->n > DELTA_SCAN ? s->n - DELTA_SCAN : 0; i < s->n && best > 1; i++) {
        const unsigned n = delta_sig(probe, s->e[i], same2);
        if (n < best) best = n, stored = s->e[i], memcpy(same, same2, sizeof same);
    }
    if (stored != NULL) atomic_fetch_add(&stored->refs, 1), base = stored;
    pthread_mutex_unlock(&s->lock);
    /* built outside the lock: another thread may build the same one, and
     * the first to store it wins */
    fm_lexcache *made = build(tr, d, q, base, same);
    fm_lexcache_release(stored);
    if (made == NULL) return free(probe), NULL;
    memcpy(made->succ, probe->succ, sizeof made->succ);
    memcpy(made->succ_ok, probe->succ_ok, sizeof made->succ_ok);
    memcpy(made->succ_dead, probe->succ_dead, sizeof made->succ_dead);
    free(probe);
    made->sig[0] = sig[0], made->sig[1] = sig[1], made->n_reach = n_reach;
    pthread_mutex_lock(&s->lock);
    if ((c = find(s, sig, n_reach)) != NULL) {
        pthread_mutex_unlock(&s->lock);
        fm_lexcache_release(made);
        return c;
    }
    while (s->n > 0 && (s->bytes + made->bytes > STORE_BYTES || s->n >= STORE_MAX)) { /* least recently used out */
        size_t old = 0;
        for (size_t i = 1; i < s->n; i++)
            if (s->e[i]->used < s->e[old]->used) old = i;
        s->bytes -= s->e[old]->bytes;
        fm_lexcache_release(s->e[old]);
        s->e[old] = s->e[--s->n];
    }
    fm_lexcache **e = fm_grow(s->e, &s->cap, s->n + 1, sizeof *e, 64);
    if (e != NULL) {
        s->e = e;
        atomic_fetch_add(&made->refs, 1); /* the store's */
        made->used = ++s->clock;
        s->e[s->n++] = made;
        s->bytes += made->bytes;
    }
    pthread_mutex_unlock(&s->lock);
    return made;
}

size_t fm_lexcache_stored(const fm_token_trie *tr) {
    store *s = fm_token_trie_ext(tr, store_make, store_free);
    if (s == NULL) return 0;
    pthread_mutex_lock(&s->lock);
    const size_t n = s->n;
    pthread_mutex_unlock(&s->lock);
    return n;
}

unsigned fm_lexcache_delta(const fm_gdfa *d, uint32_t q, uint32_t bq) {
    unsigned n = 0;
    for (unsigned i = 0; i < 256; i++) n += fm_gdfa_step(d, q, i) != fm_gdfa_step(d, bq, i);
    return n;
}
