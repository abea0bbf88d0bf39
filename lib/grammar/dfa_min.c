/* Minimizing a byte DFA (Moore's partition refinement). The subset
 * construction over UTF-8 bytes leaves one copy of every multi-byte
 * sequence per code point state, so states that behave alike stay apart:
 * merging them makes the tables smaller and, more to the point, makes
 * equal languages equal states, which the lexeme caches key on (a JSON
 * key that has left the schema's names behind is in the same state as any
 * other string, whatever name it left). */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "grammar.h"

/* A state's class followed by its successors' classes, as the refinement
 * compares them; DEAD is its own class. */
static inline uint64_t mix_in(uint64_t h, uint32_t v) {
    h = (h ^ v) * 0x100000001B3ull;
    return h ^ (h >> 31);
}

static uint64_t row_hash(const uint32_t *next, const uint32_t *cls, uint32_t q, const uint8_t *rep, unsigned n_rep) {
    /* the class is mixed in like each successor's, never XORed straight
     * against the first: on a chain (class q stepping to class q + 1) that
     * cancelled all but a few bits, 2,041 states hashed to 17 values and
     * every lookup walked a long run of the table (a 21-byte regex, 0.8 s) */
    uint64_t h = mix_in(0x9E3779B97F4A7C15ull, cls[q]);
    const uint32_t *r = &next[(size_t)q * 256];
    for (unsigned i = 0; i < n_rep; i++) {
        const unsigned b = rep[i];
        h = mix_in(h, r[b] == FM_DFA_DEAD ? 0xFFFFFFFFu : cls[r[b]]);
    }
    h ^= h >> 33; /* the table indexes by the high bits */
    h *= 0xFF51AFD7ED558CCDull;
    return h ^ (h >> 33);
}

static int rows_equal(const uint32_t *next, const uint32_t *cls, uint32_t p, uint32_t q, const uint8_t *rep,
                      unsigned n_rep) {
    if (cls[p] != cls[q]) return 0;
    const uint32_t *a = &next[(size_t)p * 256], *b = &next[(size_t)q * 256];
    for (unsigned i = 0; i < n_rep; i++) {
        const uint32_t x = a[rep[i]] == FM_DFA_DEAD ? 0xFFFFFFFFu : cls[a[rep[i]]];
        const uint32_t y = b[rep[i]] == FM_DFA_DEAD ? 0xFFFFFFFFu : cls[b[rep[i]]];
        if (x != y) return 0;
    }
    return 1;
}

/* Moore's refinement takes up to one round per state on a long chain (a
 * counted repetition: {2030} of a class, 2,041 states, 2,032 rounds), n
 * states x the compared bytes a round. Past this many row steps the DFA
 * is kept as built - correct, only larger and sharing fewer lexeme caches.
 * The largest refinement over MaskBench's schemas takes 27,695,720. */
#define MIN_WORK ((uint64_t)1 << 25)

int fm_dfa_minimize(uint32_t *n_states, uint32_t **next_p, uint8_t **accept_p, uint8_t **mark_p) {
    const uint32_t n = *n_states;
    uint32_t *next = *next_p;
    const uint8_t *accept = *accept_p, *mark = mark_p ? *mark_p : NULL;
    if (n < 2) return 1;
    uint32_t slots = 1;
    while (slots < 2 * n) slots <<= 1;
    uint32_t *cls = fm_malloc(n * sizeof *cls), *ncls = fm_malloc(n * sizeof *ncls);
    uint32_t *tab = fm_malloc(slots * sizeof *tab);
    uint64_t *th = fm_malloc(slots * sizeof *th);
    if (cls == NULL || ncls == NULL || tab == NULL || th == NULL) goto fail;
    /* bytes every state steps alike form one class: one of each is compared */
    uint8_t rep[256];
    unsigned n_rep = 0;
    {
        uint64_t col[256];
        for (unsigned b = 0; b < 256; b++) {
            uint64_t h = 0xCBF29CE484222325ull;
            for (uint32_t q = 0; q < n; q++) h = (h ^ next[(size_t)q * 256 + b]) * 0x100000001B3ull;
            col[b] = h;
        }
        for (unsigned b = 0; b < 256; b++) {
            int dup = 0;
            for (unsigned i = 0; i < n_rep && !dup; i++) {
                if (col[rep[i]] != col[b]) continue;
                dup = 1;
                for (uint32_t q = 0; q < n && dup; q++) dup = next[(size_t)q * 256 + b] == next[(size_t)q * 256 + rep[i]];
            }
            if (!dup) rep[n_rep++] = (uint8_t)b;
        }
    }
    uint32_t k = 0;
    { /* accepting or not (and marked or not) */
        int seen[4] = {-1, -1, -1, -1};
        for (uint32_t q = 0; q < n; q++) {
            const int a = (accept[q] != 0) | (mark && mark[q]) << 1;
            if (seen[a] < 0) seen[a] = (int)k++;
            cls[q] = (uint32_t)seen[a];
        }
    }
    uint64_t work = 0;
    for (;;) {
        work += (uint64_t)n * (n_rep + 1);
        if (work > MIN_WORK) goto fail; /* too long a refinement: keep the DFA as built */
        memset(tab, 0xFF, slots * sizeof *tab);
        uint32_t nk = 0;
        for (uint32_t q = 0; q < n; q++) {
            const uint64_t h = row_hash(next, cls, q, rep, n_rep);
            uint32_t s = (uint32_t)(h >> 32) & (slots - 1);
            for (;; s = (s + 1) & (slots - 1)) {
                if (tab[s] == 0xFFFFFFFFu) {
                    tab[s] = q, th[s] = h, ncls[q] = nk++;
                    break;
                }
                if (th[s] == h && rows_equal(next, cls, tab[s], q, rep, n_rep)) {
                    ncls[q] = ncls[tab[s]];
                    break;
                }
            }
        }
        uint32_t *t = cls;
        cls = ncls, ncls = t;
        if (nk == k) break; /* no class split: stable */
        k = nk;
    }
    if (k < n) {
        /* renumber by first appearance so the start state stays 0 */
        uint32_t *map = ncls;
        memset(map, 0xFF, n * sizeof *map);
        uint32_t m = 0;
        uint32_t *rep = tab; /* class -> a state of it (slots >= n) */
        for (uint32_t q = 0; q < n; q++)
            if (map[cls[q]] == 0xFFFFFFFFu) map[cls[q]] = m, rep[m++] = q;
        uint32_t *nn = fm_malloc((size_t)m * 256 * sizeof *nn);
        uint8_t *na = fm_malloc(m), *nm = mark ? fm_malloc(m) : NULL;
        if (nn == NULL || na == NULL || (mark && nm == NULL)) {
            free(nn), free(na), free(nm);
            goto fail;
        }
        for (uint32_t c = 0; c < m; c++) {
            const uint32_t *r = &next[(size_t)rep[c] * 256];
            for (unsigned b = 0; b < 256; b++) nn[(size_t)c * 256 + b] = r[b] == FM_DFA_DEAD ? FM_DFA_DEAD : map[cls[r[b]]];
            na[c] = accept[rep[c]];
            if (nm) nm[c] = mark[rep[c]];
        }
        free(*next_p), free(*accept_p);
        *next_p = nn, *accept_p = na, *n_states = m;
        if (mark) free(*mark_p), *mark_p = nm;
    }
    free(cls), free(ncls), free(tab), free(th);
    return 1;
fail:
    free(cls), free(ncls), free(tab), free(th);
    return 0;
}
