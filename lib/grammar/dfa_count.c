/* The live table of a counted DFA (grammar.h, fm_gdfa): which pairs
 * (state p, characters so far c) can still reach acceptance with a count
 * within [cmin, cmax]. A(p), the counts with which p can reach
 * acceptance, is worked out layer by layer (R_k: the states that can
 * with exactly k characters more), going backwards over the transitions:
 * one that enters a boundary state adds a character, the others none.
 * The sets A(p) are not intervals in general ((ab|cdef) gives {2, 4}),
 * which is why the table holds pairs and not two numbers per state. */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "grammar.h"

#define COUNT_BITS_MAX ((uint64_t)1 << 26) /* per table: 8 MiB */

int fm_dfa_count_live(uint32_t n, const uint32_t *next, const uint8_t *accept, const uint8_t *bound, uint32_t cmin,
                      uint32_t cmax, uint32_t *cap_out, uint64_t **live_out) {
    const int bounded = cmax != UINT32_MAX;
    const uint64_t cap = bounded ? cmax : cmin;
    /* with no upper bound, a count past cmin + n is as good as one in
     * [cmin, cmin + n): a path that long repeats a state between two
     * characters, and the loop (at most n characters) can go */
    const uint64_t kmax = bounded ? cmax : (uint64_t)cmin + n;
    if (n == 0 || (uint64_t)n * (kmax + 1) > COUNT_BITS_MAX || (uint64_t)n * (cap + 1) > COUNT_BITS_MAX) return -1;
    const size_t row_a = (size_t)(kmax + 64) / 64;
    uint64_t *a = fm_calloc((size_t)n * row_a, sizeof *a);
    uint64_t *live = fm_calloc(((size_t)n * (cap + 1) + 63) / 64, sizeof *live);
    uint32_t *pred_start = fm_calloc((size_t)n + 1, sizeof *pred_start), *stamp = fm_calloc(n, sizeof *stamp);
    uint32_t *cur = fm_malloc((size_t)n * sizeof *cur), *prev = fm_malloc((size_t)n * sizeof *prev);
    uint32_t *nxt = fm_malloc((size_t)(kmax + 2) * sizeof *nxt);
    uint32_t *pred = NULL;
    int ret = 0;
    if (a == NULL || live == NULL || pred_start == NULL || stamp == NULL || cur == NULL || prev == NULL || nxt == NULL)
        goto out;
    /* predecessors, each distinct edge once */
    size_t n_edges = 0;
    for (int pass = 0; pass < 2; pass++) {
        memset(stamp, 0, n * sizeof *stamp);
        for (uint32_t p = 0; p < n; p++)
            for (unsigned b = 0; b < 256; b++) {
                const uint32_t t = next[(size_t)p * 256 + b];
                if (t == FM_DFA_DEAD || stamp[t] == p + 1) continue;
                stamp[t] = p + 1;
                if (pass == 0) pred_start[t + 1]++, n_edges++;
                else pred[cur[t]++] = p;
            }
        if (pass == 0) {
            for (uint32_t t = 0; t < n; t++) pred_start[t + 1] += pred_start[t];
            pred = fm_malloc((n_edges ? n_edges : 1) * sizeof *pred);
            if (pred == NULL) goto out;
            memcpy(cur, pred_start, n * sizeof *cur);
        }
    }
    memset(stamp, 0, n * sizeof *stamp);
    size_t n_prev = 0;
    for (uint64_t k = 0; k <= kmax; k++) {
        const uint32_t mark = (uint32_t)(k + 1);
        size_t n_cur = 0;
        /* seeds: the accepting states, then those a character away from R_(k-1) */
        if (k == 0) {
            for (uint32_t p = 0; p < n; p++)
                if (accept[p]) stamp[p] = mark, cur[n_cur++] = p;
        } else {
            for (size_t i = 0; i < n_prev; i++) {
                const uint32_t x = prev[i];
                if (!bound[x]) continue;
                for (uint32_t j = pred_start[x]; j < pred_start[x + 1]; j++)
                    if (stamp[pred[j]] != mark) stamp[pred[j]] = mark, cur[n_cur++] = pred[j];
            }
        }
        /* then what reaches those without a character (entering a
         * boundary state adds one: its predecessors seed R_(k+1)) */
        for (size_t i = 0; i < n_cur; i++) {
            const uint32_t x = cur[i];
            a[(size_t)x * row_a + k / 64] |= 1ull << (k & 63);
            if (bound[x]) continue;
            for (uint32_t j = pred_start[x]; j < pred_start[x + 1]; j++)
                if (stamp[pred[j]] != mark) stamp[pred[j]] = mark, cur[n_cur++] = pred[j];
        }
        if (n_cur == 0) break; /* no state can: neither can any with more */
        uint32_t *t = prev;
        prev = cur, cur = t, n_prev = n_cur;
    }
    for (uint32_t p = 0; p < n; p++) {
        /* nxt[k]: the least count >= k in A(p) (kmax + 1: none) */
        nxt[kmax + 1] = (uint32_t)(kmax + 1);
        for (uint64_t k = kmax + 1; k-- > 0;)
            nxt[k] = a[(size_t)p * row_a + k / 64] >> (k & 63) & 1 ? (uint32_t)k : nxt[k + 1];
        for (uint64_t c = 0; c <= cap; c++) {
            const uint64_t lo = cmin > c ? cmin - c : 0, hi = bounded ? cmax - c : kmax;
            if (nxt[lo] <= hi) {
                const uint64_t bit = (uint64_t)p * (cap + 1) + c;
                live[bit >> 6] |= 1ull << (bit & 63);
            }
        }
    }
    if (!(live[0] & 1)) { /* the start cannot end within the bounds */
        ret = -2;
        goto out;
    }
    *cap_out = (uint32_t)cap;
    *live_out = live;
    live = NULL;
    ret = 1;
out:
    free(a), free(live), free(pred_start), free(stamp), free(cur), free(prev), free(nxt), free(pred);
    return ret;
}
