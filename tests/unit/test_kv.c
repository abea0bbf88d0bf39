/* The KV module's bookkeeping against its own invariants, after every one
 * of many random operations: every used cell is in exactly the lists of
 * its sequences, each list sorted by (position, cell), the counts and the
 * high-water mark right, positions and ranges as a plain model says. */
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "kv/kv_cache.h"

enum { CELLS = 96, SEQS = 5, POS = 64 };

static unsigned rng = 99;
static int rnd(int n) {
    rng = rng * 1103515245u + 12345u;
    return (int)((rng >> 8) % (unsigned)n);
}

/* the model: which cells each sequence holds at each position */
static int model[SEQS][POS];

static int check(const fm_kv_cache *kv, int step) {
    int ok = 1, used = 0, hi = 0;
    for (int32_t c = 0; c < kv->n_cells; c++) {
        if (kv->pos[c] < 0) {
            ok &= fm_seqset_empty(&kv->seq[c]);
            continue;
        }
        used++, hi = c + 1;
        for (int32_t s = 0; s < SEQS; s++) {
            int32_t n, found = 0;
            const int32_t *l = fm_kv_seq_cells(kv, s, &n);
            for (int32_t i = 0; i < n; i++) found += l[i] == c;
            ok &= found == fm_seqset_has(&kv->seq[c], s);
        }
    }
    ok &= used == kv->used && hi == kv->hi;
    for (int32_t s = 0; s < SEQS; s++) {
        int32_t n;
        const int32_t *l = fm_kv_seq_cells(kv, s, &n);
        int count = 0;
        for (int p = 0; p < POS; p++) count += model[s][p];
        ok &= n == count;
        for (int32_t i = 0; i < n; i++) {
            ok &= kv->pos[l[i]] >= 0 && fm_seqset_has(&kv->seq[l[i]], s) && model[s][kv->pos[l[i]]] > 0;
            if (i > 0) ok &= kv->pos[l[i - 1]] < kv->pos[l[i]] || (kv->pos[l[i - 1]] == kv->pos[l[i]] && l[i - 1] < l[i]);
        }
        int32_t lo = -1, hi2 = -1;
        for (int p = 0; p < POS; p++)
            if (model[s][p]) {
                if (lo < 0) lo = p;
                hi2 = p;
            }
        ok &= fm_kv_seq_pos_min(kv, s) == lo && fm_kv_seq_pos_max(kv, s) == hi2;
        for (int p = 0; p < POS; p++) ok &= fm_kv_has(kv, s, p) == (model[s][p] > 0);
    }
    CHECK(ok, "step %d: the cache's bookkeeping is inconsistent", step);
    return ok;
}

int main(void) {
    fm_kv_cache kv;
    CHECK(fm_kv_init(&kv, 2, CELLS, 4, 0, SEQS) == FM_STATUS_OK, "init");
    int32_t cells[CELLS], moved[CELLS], pos[CELLS], toks[CELLS];
    fm_seqset sets[CELLS];
    int ops[6] = {0};
    for (int step = 0; step < 4000; step++) {
        const int op = rnd(6), s = rnd(SEQS);
        const int p0 = rnd(POS), p1 = p0 + rnd(POS - p0 + 1);
        if (op <= 1) { /* place 1..5 tokens at free positions of 1..2 sequences */
            const int n = 1 + rnd(5);
            int k = 0;
            for (int i = 0; i < n; i++) {
                const int q = (s + rnd(2)) % SEQS, p = rnd(POS);
                if (model[q][p]) continue;
                memset(&sets[k], 0, sizeof sets[k]);
                fm_seqset_add(&sets[k], q);
                int dup = 0;
                for (int j = 0; j < k; j++) dup |= pos[j] == p && fm_seqset_has(&sets[j], q);
                if (dup) continue;
                pos[k] = p, toks[k] = step, k++;
            }
            if (k == 0) continue;
            if (fm_kv_place(&kv, k, pos, sets, toks, cells) == FM_STATUS_OK) {
                if (rnd(5) == 0) { /* a failed decode gives them back */
                    fm_kv_unplace(&kv, k, cells);
                } else {
                    for (int i = 0; i < k; i++)
                        for (int q = 0; q < SEQS; q++)
                            if (fm_seqset_has(&sets[i], q)) model[q][pos[i]]++;
                }
            }
        } else if (op == 2) { /* a range of one sequence or of all, to the end now and then */
            const int all = rnd(4) == 0, to_end = rnd(3) == 0;
            fm_kv_seq_rm(&kv, all ? -1 : s, p0, to_end ? -1 : p1);
            for (int q = 0; q < SEQS; q++)
                if (all || q == s)
                    for (int p = p0; p < (to_end ? POS : p1); p++) model[q][p] = 0;
        } else if (op == 3) {
            const int d = (s + 1 + rnd(SEQS - 1)) % SEQS;
            fm_kv_seq_rm(&kv, d, p0, p1);
            for (int p = p0; p < p1; p++) model[d][p] = 0;
            fm_kv_seq_cp(&kv, s, d, p0, p1);
            for (int p = p0; p < p1; p++) model[d][p] = model[s][p];
        } else if (op == 4 && rnd(8) == 0) {
            fm_kv_seq_keep(&kv, s);
            for (int q = 0; q < SEQS; q++)
                if (q != s) memset(model[q], 0, sizeof model[q]);
        } else if (op == 5) { /* shift a range down into room cleared for it */
            const int delta = -rnd(8);
            fm_kv_seq_rm(&kv, s, p0 + delta < 0 ? 0 : p0 + delta, p0);
            for (int p = p0 + delta < 0 ? 0 : p0 + delta; p < p0; p++) model[s][p] = 0;
            int32_t n_moved;
            if (fm_kv_seq_add(&kv, s, p0, p1, delta, moved, &n_moved) == FM_STATUS_OK) {
                int tmp[POS] = {0};
                for (int p = 0; p < POS; p++) {
                    if (p >= p0 && p < p1) {
                        if (p + delta >= 0) tmp[p + delta] += model[s][p];
                    } else {
                        tmp[p] += model[s][p];
                    }
                }
                memcpy(model[s], tmp, sizeof tmp);
            }
        }
        ops[op]++;
        if (!check(&kv, step)) break;
    }
    printf("kv: 4000 random steps (place %d, rm %d, cp %d, keep/skip %d, shift %d), bookkeeping checked after each\n",
           ops[0] + ops[1], ops[2], ops[3], ops[4], ops[5]);
    fm_kv_release(&kv);
    return tu_finish("test_kv");
}
