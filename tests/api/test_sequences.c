/* Several sequences in one context: batches against decoding alone, a
 * shared prefix, cache edits against a model of what they must do, context
 * shift against decoding the shifted text from scratch, the abort and
 * progress callbacks, and the errors of bad batches. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "fm.h"

/* Default-mode logits of a sequence decoded beside others agree with it
 * decoded alone within this (docs/api.md): the batched GEMMs group rows
 * differently, nothing else differs. With 8-bit activations (q8_0, q4_0,
 * K-quants) an input that moves by an ulp can flip one activation's
 * rounding, so those models agree within MULTI_SEQ_TOL_Q8. */
#define MULTI_SEQ_TOL 1e-3f
#define MULTI_SEQ_TOL_Q8 0.5f
static float tol_of(const char *name) { return strstr(name, ".q") ? MULTI_SEQ_TOL_Q8 : MULTI_SEQ_TOL; }

static unsigned rng = 12345;
static int rnd(int n) {
    rng = rng * 1103515245u + 12345u;
    return (int)((rng >> 8) % (unsigned)n);
}

static float max_diff(const float *a, const float *b, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; i++) {
        const float d = fabsf(a[i] - b[i]);
        if (!(d <= m)) m = d; /* NaN counts as a difference */
    }
    return m;
}

static fm_context *new_ctx(fm_model *m, uint32_t n_ctx, uint32_t n_seq, uint32_t flags, int threads, int kv_type) {
    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_ctx = n_ctx;
    cp.n_seq_max = n_seq;
    cp.flags = flags;
    cp.n_threads = threads;
    cp.kv_type = kv_type;
    fm_context *c = NULL;
    fm_status s = fm_context_new(m, &cp, &c);
    CHECK(s == FM_STATUS_OK, "context: %s", fm_last_error());
    return c;
}

/* Every token's logits of ids[0..n) decoded as one sequence, appended to
 * what the context holds. */
static void decode_alone(fm_context *c, const fm_token *ids, int n, float *out, int V) {
    CHECK(fm_context_decode(c, ids, (size_t)n, FM_LOGITS_ALL) == FM_STATUS_OK, "decode: %s", fm_last_error());
    for (int t = 0; t < n; t++) {
        const float *l = fm_context_logits(c, t);
        CHECK(l != NULL, "logits %d", t);
        if (l) memcpy(out + (size_t)t * (size_t)V, l, (size_t)V * sizeof *out);
    }
}

enum { NS = 3, MAXP = 64, STEPS = 3 };

/* Three prompts (lengths that cross the batched-kernel threshold of 32
 * tokens alone and together) decoded in one batch, interleaved by
 * position, then STEPS generation steps of one token per sequence in one
 * batch, against each sequence decoded alone. */
static void check_batched(fm_model *m, const char *name, uint32_t flags) {
    const int V = (int)fm_model_get_info(m, FM_MODEL_N_VOCAB);
    const int len[NS] = {40, 33, 9};
    fm_token ids[NS][MAXP + STEPS];
    for (int s = 0; s < NS; s++)
        for (int i = 0; i < len[s] + STEPS; i++) ids[s][i] = (fm_token)(1 + rnd(V - 1));
    float *alone = malloc((size_t)NS * (MAXP + STEPS) * (size_t)V * sizeof *alone);
    float *together = malloc((size_t)NS * (MAXP + STEPS) * (size_t)V * sizeof *together);
    for (int s = 0; s < NS; s++) {
        fm_context *c = new_ctx(m, 128, 1, flags, 1, FM_KV_F32);
        if (c == NULL) goto out;
        float *o = alone + (size_t)s * (MAXP + STEPS) * (size_t)V;
        decode_alone(c, ids[s], len[s], o, V);
        for (int k = 0; k < STEPS; k++) decode_alone(c, &ids[s][len[s] + k], 1, o + (size_t)(len[s] + k) * V, V);
        fm_context_free(c);
    }
    fm_context *c = new_ctx(m, 256, NS, flags, 2, FM_KV_F32);
    fm_batch *b;
    CHECK(fm_batch_new(&b) == FM_STATUS_OK, "batch");
    if (c == NULL) goto out;
    int at[MAXP * NS][2], n = 0; /* batch index -> (sequence, position) */
    for (int p = 0; p < MAXP; p++)
        for (int s = 0; s < NS; s++)
            if (p < len[s]) {
                CHECK(fm_batch_add(b, ids[s][p], p, &s, 1, 1) == FM_STATUS_OK, "add");
                at[n][0] = s, at[n][1] = p, n++;
            }
    CHECK(fm_context_decode_batch(c, b) == FM_STATUS_OK, "%s: batch of 3 prompts: %s", name, fm_last_error());
    for (int i = 0; i < n; i++) {
        const float *l = fm_context_logits(c, i);
        CHECK(l != NULL, "batch logits %d", i);
        if (l) memcpy(together + ((size_t)at[i][0] * (MAXP + STEPS) + (size_t)at[i][1]) * V, l, (size_t)V * 4);
    }
    for (int k = 0; k < STEPS; k++) { /* one token per sequence, one batch */
        fm_batch_clear(b);
        for (int s = 0; s < NS; s++) CHECK(fm_batch_add(b, ids[s][len[s] + k], FM_POS_NEXT, &s, 1, 1) == 0, "add");
        CHECK(fm_context_decode_batch(c, b) == FM_STATUS_OK, "step %d: %s", k, fm_last_error());
        for (int s = 0; s < NS; s++) {
            const float *l = fm_context_logits(c, s);
            CHECK(l != NULL, "step logits");
            if (l) memcpy(together + ((size_t)s * (MAXP + STEPS) + (size_t)(len[s] + k)) * V, l, (size_t)V * 4);
        }
    }
    for (int s = 0; s < NS; s++) {
        int32_t lo, hi;
        CHECK(fm_context_seq_pos_range(c, s, &lo, &hi) == FM_STATUS_OK && lo == 0 && hi == len[s] + STEPS - 1,
              "%s: sequence %d holds 0..%d (%d..%d)", name, s, len[s] + STEPS - 1, lo, hi);
        const size_t off = (size_t)s * (MAXP + STEPS) * (size_t)V, cnt = (size_t)(len[s] + STEPS) * (size_t)V;
        if (flags & FM_CONTEXT_BATCH_INVARIANT) {
            CHECK(memcmp(alone + off, together + off, cnt * sizeof(float)) == 0,
                  "%s: sequence %d in a batch of 3 (2 threads) is not bit-identical to it alone (1 thread): %g", name,
                  s, (double)max_diff(alone + off, together + off, cnt));
        } else {
            const float d = max_diff(alone + off, together + off, cnt);
            CHECK(d <= tol_of(name), "%s: sequence %d batched vs alone differ by %g", name, s, (double)d);
            if (s == 0) printf("%s: batched vs alone, default mode: max |diff| %.3g\n", name, (double)d);
        }
    }
    fm_context_free(c);
out:
    fm_batch_free(b);
    free(alone), free(together);
}

/* A prefix decoded once in sequence 0 and copied to 1 and 2, then three
 * continuations in one batch, against each full prompt decoded alone. */
static void check_shared_prefix(fm_model *m, const char *name, uint32_t flags) {
    const int V = (int)fm_model_get_info(m, FM_MODEL_N_VOCAB);
    enum { P = 20 };
    const int len[NS] = {6, 9, 4};
    fm_token prefix[P], cont[NS][9];
    for (int i = 0; i < P; i++) prefix[i] = (fm_token)(1 + rnd(V - 1));
    for (int s = 0; s < NS; s++)
        for (int i = 0; i < len[s]; i++) cont[s][i] = (fm_token)(1 + rnd(V - 1));
    fm_context *c = new_ctx(m, 128, NS, flags, 2, FM_KV_F32);
    if (c == NULL) return;
    CHECK(fm_context_decode(c, prefix, P, FM_LOGITS_LAST) == FM_STATUS_OK, "prefix");
    for (int s = 1; s < NS; s++) CHECK(fm_context_seq_cp(c, 0, s, 0, -1) == FM_STATUS_OK, "seq_cp");
    fm_batch *b;
    fm_batch_new(&b);
    int first[NS], n = 0;
    for (int s = 0; s < NS; s++) {
        first[s] = n;
        for (int i = 0; i < len[s]; i++, n++) fm_batch_add(b, cont[s][i], P + i, &s, 1, 1);
    }
    CHECK(fm_context_decode_batch(c, b) == FM_STATUS_OK, "continuations: %s", fm_last_error());
    float *ref = malloc((size_t)(P + 9) * (size_t)V * sizeof *ref);
    for (int s = 0; s < NS; s++) {
        fm_context *a = new_ctx(m, 128, 1, flags, 1, FM_KV_F32);
        fm_token full[P + 9];
        memcpy(full, prefix, sizeof prefix);
        memcpy(full + P, cont[s], (size_t)len[s] * sizeof *full);
        decode_alone(a, full, P + len[s], ref, V);
        fm_context_free(a);
        float worst = 0;
        int same = 1;
        for (int i = 0; i < len[s]; i++) {
            const float *l = fm_context_logits(c, first[s] + i);
            const float *r = ref + (size_t)(P + i) * (size_t)V;
            if (l == NULL) {
                CHECK(0, "logits");
                continue;
            }
            const float d = max_diff(l, r, (size_t)V);
            if (d > worst) worst = d;
            if (memcmp(l, r, (size_t)V * sizeof *l) != 0) same = 0;
        }
        if (flags & FM_CONTEXT_BATCH_INVARIANT)
            CHECK(same, "%s: shared prefix, sequence %d: not bit-identical to the full prompt alone (%g)", name, s,
                  (double)worst);
        else
            CHECK(worst <= tol_of(name), "%s: shared prefix, sequence %d: %g", name, s, (double)worst);
    }
    free(ref);
    fm_batch_free(b);
    fm_context_free(c);
}

/* ---- cache edits against a model ----
 * A cell's keys and values depend on what its token saw when it was
 * decoded, so the model's reference for a sequence - a fresh context fed
 * its tokens at their positions - holds only while every cell it has was
 * decoded with exactly the cells now before it: edits that keep that are
 * tail removal, sharing a prefix with an emptied sequence, keep. A removal
 * from the middle makes the sequence "tainted" (positions still checked,
 * logits not) until it is emptied. */

enum { ES = 4, EP = 48 };
typedef struct shadow {
    fm_token tok[ES][EP]; /* -1: the sequence does not hold that position */
    int tainted[ES];
} shadow;

static void shadow_range(const shadow *sh, int s, int32_t *lo, int32_t *hi) {
    *lo = *hi = -1;
    for (int p = 0; p < EP; p++)
        if (sh->tok[s][p] >= 0) {
            if (*lo < 0) *lo = p;
            *hi = p;
        }
}

static void shadow_rm(shadow *sh, int s, int p0, int p1) {
    int32_t lo, hi;
    shadow_range(sh, s, &lo, &hi);
    if (p0 > lo && p0 <= hi && p1 <= hi) sh->tainted[s] = 1; /* a hole, or the head cut off */
    if (p0 <= lo && p1 > lo && p1 <= hi) sh->tainted[s] = 1;
    for (int p = p0; p < p1; p++) sh->tok[s][p] = -1;
    shadow_range(sh, s, &lo, &hi);
    if (hi < 0) sh->tainted[s] = 0;
}

/* A probe token after each sequence's last position, in one batch,
 * against a fresh context fed that sequence's tokens at their positions. */
static void check_against_model(fm_model *m, fm_context *c, const shadow *sh, int step) {
    const int V = (int)fm_model_get_info(m, FM_MODEL_N_VOCAB);
    fm_batch *b;
    fm_batch_new(&b);
    int which[ES], n = 0;
    const fm_token probe = 7;
    for (int s = 0; s < ES; s++) {
        int32_t lo, hi;
        shadow_range(sh, s, &lo, &hi);
        if (hi < 0 || hi + 1 >= EP) continue;
        fm_batch_add(b, probe, hi + 1, &s, 1, 1);
        which[n++] = s;
    }
    if (n > 0) {
        CHECK(fm_context_decode_batch(c, b) == FM_STATUS_OK, "step %d: probe: %s", step, fm_last_error());
        for (int i = 0; i < n; i++) {
            const int s = which[i];
            int32_t lo, hi;
            shadow_range(sh, s, &lo, &hi);
            if (!sh->tainted[s]) {
                fm_context *f = new_ctx(m, 64, 1, FM_CONTEXT_BATCH_INVARIANT, 1, FM_KV_F32);
                fm_batch *fb;
                fm_batch_new(&fb);
                const fm_seq_id zero = 0;
                for (int p = 0; p < EP; p++)
                    if (sh->tok[s][p] >= 0) fm_batch_add(fb, sh->tok[s][p], p, &zero, 1, 0);
                fm_batch_add(fb, probe, hi + 1, &zero, 1, 1);
                CHECK(fm_context_decode_batch(f, fb) == FM_STATUS_OK, "fresh: %s", fm_last_error());
                const float *want = fm_context_logits(f, -1), *got = fm_context_logits(c, i);
                const float d = want && got ? max_diff(want, got, (size_t)V) : INFINITY;
                CHECK(d <= 1e-4f, "step %d: sequence %d after edits differs from decoding it afresh by %g", step, s,
                      (double)d);
                fm_batch_free(fb);
                fm_context_free(f);
            }
            CHECK(fm_context_seq_rm(c, s, hi + 1, hi + 2) == FM_STATUS_OK, "remove the probe");
        }
    }
    fm_batch_free(b);
}

static void check_edits(fm_model *m) {
    const int V = (int)fm_model_get_info(m, FM_MODEL_N_VOCAB);
    fm_context *c = new_ctx(m, 256, ES, FM_CONTEXT_BATCH_INVARIANT, 2, FM_KV_F32);
    if (c == NULL) return;
    shadow sh;
    memset(&sh, 0xff, sizeof sh.tok);
    memset(sh.tainted, 0, sizeof sh.tainted);
    fm_batch *b;
    fm_batch_new(&b);
    int compared = 0;
    for (int step = 0; step < 160; step++) {
        const int op = rnd(7), s = rnd(ES);
        int p0 = rnd(EP), p1 = p0 + rnd(EP - p0 + 1);
        if (op <= 1) { /* append 1..4 tokens to 1..3 sequences in one batch */
            fm_batch_clear(b);
            const int ns = 1 + rnd(3);
            for (int k = 0; k < ns; k++) {
                const int q = (s + k) % ES;
                int32_t lo, hi;
                shadow_range(&sh, q, &lo, &hi);
                const int add = 1 + rnd(4);
                for (int i = 0; i < add && hi + 1 < EP - 1; i++) {
                    const fm_token t = (fm_token)(1 + rnd(V - 1));
                    hi++;
                    fm_batch_add(b, t, hi, &q, 1, 0);
                    sh.tok[q][hi] = t;
                }
            }
            if (fm_batch_n_tokens(b) > 0)
                CHECK(fm_context_decode_batch(c, b) == FM_STATUS_OK, "step %d: decode: %s", step, fm_last_error());
        } else if (op == 2) { /* remove a range (a tail, mostly) of one sequence or of all */
            const int all = rnd(4) == 0;
            if (rnd(3) > 0) p1 = EP;
            CHECK(fm_context_seq_rm(c, all ? -1 : s, p0, p1 == EP ? -1 : p1) == FM_STATUS_OK, "seq_rm");
            for (int q = 0; q < ES; q++)
                if (all || q == s) shadow_rm(&sh, q, p0, p1);
        } else if (op == 3) { /* share a prefix with an emptied sequence */
            const int d = (s + 1 + rnd(ES - 1)) % ES;
            CHECK(fm_context_seq_rm(c, d, 0, -1) == FM_STATUS_OK, "seq_rm before cp");
            CHECK(fm_context_seq_cp(c, s, d, 0, p1) == FM_STATUS_OK, "seq_cp");
            for (int p = 0; p < EP; p++) sh.tok[d][p] = p < p1 ? sh.tok[s][p] : -1;
            sh.tainted[d] = sh.tainted[s];
            int32_t lo, hi;
            shadow_range(&sh, d, &lo, &hi);
            if (hi < 0) sh.tainted[d] = 0;
        } else if (op == 4 && rnd(4) == 0) {
            CHECK(fm_context_seq_keep(c, s) == FM_STATUS_OK, "seq_keep");
            for (int q = 0; q < ES; q++)
                if (q != s) shadow_rm(&sh, q, 0, EP);
        } else {
            check_against_model(m, c, &sh, step);
            compared++;
        }
        for (int q = 0; q < ES; q++) {
            int32_t lo, hi, wlo, whi;
            shadow_range(&sh, q, &wlo, &whi);
            CHECK(fm_context_seq_pos_range(c, q, &lo, &hi) == FM_STATUS_OK && lo == wlo && hi == whi,
                  "step %d (op %d): sequence %d holds %d..%d, the model says %d..%d", step, op, q, lo, hi, wlo, whi);
        }
    }
    check_against_model(m, c, &sh, 999);
    printf("edits: 160 random steps, %d comparisons against fresh decodes\n", compared);
    fm_batch_free(b);
    fm_context_free(c);
}

/* Context shift: 20 tokens decoded at positions 8..27 and shared with
 * sequence 1; sequence 0 moved down by 8. Its cells then hold what
 * decoding the tokens at 0..19 gives, up to the rotation's rounding (a
 * probe at 20 against a fresh context), while sequence 1, whose cells were
 * split off, still continues at 28 as before. */
static void check_shift(fm_model *m, const char *name, int kv_type, float tol) {
    const int V = (int)fm_model_get_info(m, FM_MODEL_N_VOCAB);
    enum { N = 20, AT = 8 };
    fm_token ids[N + 1];
    for (int i = 0; i < N; i++) ids[i] = (fm_token)(1 + rnd(V - 1));
    const fm_token probe = 5;
    ids[N] = probe;
    fm_context *c = new_ctx(m, 64, 2, 0, 1, kv_type);
    if (c == NULL) return;
    fm_batch *b;
    fm_batch_new(&b);
    const fm_seq_id zero = 0, one = 1;
    for (int i = 0; i < N; i++) fm_batch_add(b, ids[i], AT + i, &zero, 1, 0);
    CHECK(fm_context_decode_batch(c, b) == FM_STATUS_OK, "decode at 8..27");
    CHECK(fm_context_seq_cp(c, 0, 1, 0, -1) == FM_STATUS_OK, "share with sequence 1");
    CHECK(fm_context_seq_shift(c, 0, AT, -1, -AT) == FM_STATUS_OK, "%s: shift: %s", name, fm_last_error());
    int32_t lo, hi;
    fm_context_seq_pos_range(c, 0, &lo, &hi);
    CHECK(lo == 0 && hi == N - 1 && fm_context_n_past(c) == N, "%s: shifted range %d..%d", name, lo, hi);
    fm_context_seq_pos_range(c, 1, &lo, &hi);
    CHECK(lo == AT && hi == AT + N - 1, "%s: sequence 1 keeps 8..27 (%d..%d)", name, lo, hi);
    fm_batch_clear(b);
    fm_batch_add(b, probe, FM_POS_NEXT, &zero, 1, 1);
    fm_batch_add(b, probe, FM_POS_NEXT, &one, 1, 1);
    CHECK(fm_context_decode_batch(c, b) == FM_STATUS_OK, "probes");
    fm_context *f = new_ctx(m, 64, 1, 0, 1, kv_type);
    CHECK(fm_context_decode(f, ids, N + 1, FM_LOGITS_LAST) == FM_STATUS_OK, "fresh");
    float d = max_diff(fm_context_logits(c, 0), fm_context_logits(f, -1), (size_t)V);
    CHECK(d <= tol, "%s: shifted cache vs decoding the shifted text afresh: %g > %g", name, (double)d, (double)tol);
    printf("%s (%s cache): shift vs afresh max |diff| %.3g\n", name, kv_type == FM_KV_F16 ? "f16" : "f32", (double)d);
    fm_context_free(f);
    f = new_ctx(m, 64, 1, 0, 1, kv_type);
    fm_batch_clear(b);
    for (int i = 0; i <= N; i++) fm_batch_add(f ? b : b, ids[i], AT + i, &zero, 1, i == N);
    CHECK(fm_context_decode_batch(f, b) == FM_STATUS_OK, "fresh at 8..28");
    d = max_diff(fm_context_logits(c, 1), fm_context_logits(f, -1), (size_t)V);
    CHECK(d <= 1e-4f, "%s: the sequence that shared the shifted cells moved: %g", name, (double)d);
    fm_batch_free(b);
    fm_context_free(f);
    fm_context_free(c);
}

/* ---- callbacks ---- */

static int abort_after, abort_calls;
static int abort_cb(void *user) {
    (void)user;
    return ++abort_calls > abort_after;
}

static void check_abort(fm_model *m) {
    const int V = (int)fm_model_get_info(m, FM_MODEL_N_VOCAB);
    fm_token ids[12];
    for (int i = 0; i < 12; i++) ids[i] = (fm_token)(1 + rnd(V - 1));
    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_ctx = 64;
    cp.n_threads = 1;
    cp.abort = abort_cb;
    fm_context *c, *ref;
    CHECK(fm_context_new(m, &cp, &c) == FM_STATUS_OK, "context");
    cp.abort = NULL;
    CHECK(fm_context_new(m, &cp, &ref) == FM_STATUS_OK, "context");
    abort_after = 1000;
    CHECK(fm_context_decode(c, ids, 8, FM_LOGITS_LAST) == FM_STATUS_OK, "decode before");
    CHECK(fm_context_decode(ref, ids, 8, FM_LOGITS_LAST) == FM_STATUS_OK, "decode before (ref)");
    abort_calls = 0, abort_after = 3; /* stop before layer 3 */
    fm_status s = fm_context_decode(c, ids + 8, 4, FM_LOGITS_LAST);
    CHECK(s == FM_STATUS_ABORTED && strstr(fm_last_error(), "layer 3"), "aborted at layer 3: %s (%s)",
          fm_status_name(s), fm_last_error());
    CHECK(fm_context_n_past(c) == 8 && fm_context_logits(c, -1) == NULL, "the aborted tokens are not in the cache");
    abort_after = 1000;
    CHECK(fm_context_decode(c, ids + 8, 4, FM_LOGITS_ALL) == FM_STATUS_OK, "decode after the abort");
    CHECK(fm_context_decode(ref, ids + 8, 4, FM_LOGITS_ALL) == FM_STATUS_OK, "decode (ref)");
    for (int t = 0; t < 4; t++)
        CHECK(memcmp(fm_context_logits(c, t), fm_context_logits(ref, t), (size_t)V * sizeof(float)) == 0,
              "token %d after the abort differs from a context that never aborted", t);
    fm_context_free(c);
    fm_context_free(ref);
}

static float seen[8];
static int n_seen;
static int progress_cb(float done, void *user) {
    if (n_seen < 8) seen[n_seen++] = done;
    return user != NULL && done >= 0.5f;
}

static void check_progress(void) {
    fm_model_params mp;
    fm_model_params_init(&mp, sizeof mp);
    mp.progress = progress_cb;
    fm_model *m = (fm_model *)1;
    n_seen = 0;
    CHECK(fm_model_load(tu_data("models/stories260K.gguf"), &mp, &m) == FM_STATUS_OK, "load with progress");
    CHECK(n_seen == 3 && seen[0] == 0.0f && seen[1] == 0.5f && seen[2] == 1.0f, "progress 0, 0.5, 1 (%d calls)",
          n_seen);
    fm_model_free(m);
    mp.progress_user = &mp; /* cancel at 0.5 */
    n_seen = 0;
    m = (fm_model *)1;
    fm_status s = fm_model_load(tu_data("models/stories260K.gguf"), &mp, &m);
    CHECK(s == FM_STATUS_CANCELLED && m == NULL && n_seen == 2, "cancelled load: %s", fm_status_name(s));
}

/* ---- bad batches ---- */

static void check_errors(fm_model *m) {
    fm_context *c = new_ctx(m, 16, 2, 0, 1, FM_KV_F32);
    if (c == NULL) return;
    fm_batch *b;
    fm_batch_new(&b);
    const fm_seq_id s0 = 0, s1 = 1, s2 = 2, both[2] = {0, 1}, big = FM_SEQ_MAX;
    CHECK(fm_context_decode_batch(c, b) == FM_STATUS_INVALID_ARGUMENT, "empty batch");
    CHECK(fm_batch_add(b, 3, -2, &s0, 1, 1) == FM_STATUS_INVALID_ARGUMENT, "position -2");
    CHECK(fm_batch_add(b, 3, 0, &big, 1, 1) == FM_STATUS_INVALID_ARGUMENT, "sequence FM_SEQ_MAX");
    CHECK(fm_batch_add(b, 3, 0, &s0, 0, 1) == FM_STATUS_INVALID_ARGUMENT, "no sequence");
    CHECK(fm_batch_n_tokens(b) == 0, "refused adds add nothing");
    fm_batch_add(b, 3, 0, &s2, 1, 1);
    fm_status s = fm_context_decode_batch(c, b);
    CHECK(s == FM_STATUS_INVALID_ARGUMENT && strstr(fm_last_error(), "n_seq_max"), "sequence 2 of 2: %s",
          fm_last_error());
    fm_batch_clear(b);
    fm_batch_add(b, 3, 0, both, 2, 0);
    fm_batch_add(b, 4, 1, both, 2, 0);
    fm_batch_add(b, 5, 2, &s1, 1, 1);
    CHECK(fm_context_decode_batch(c, b) == FM_STATUS_OK, "shared tokens: %s", fm_last_error());
    CHECK(fm_context_logits(c, 0) == NULL && fm_context_logits(c, 2) != NULL, "logits only where asked");
    fm_batch_clear(b);
    fm_batch_add(b, 6, 1, &s0, 1, 1);
    s = fm_context_decode_batch(c, b);
    CHECK(s == FM_STATUS_INVALID_ARGUMENT && strstr(fm_last_error(), "already holds"), "position twice: %s",
          fm_last_error());
    fm_batch_clear(b);
    fm_batch_add(b, 6, 5, &s0, 1, 1);
    fm_batch_add(b, 6, 4, &s0, 1, 1);
    s = fm_context_decode_batch(c, b);
    CHECK(s == FM_STATUS_INVALID_ARGUMENT && strstr(fm_last_error(), "increase"), "decreasing positions: %s",
          fm_last_error());
    fm_batch_clear(b);
    fm_batch_add(b, 100000, FM_POS_NEXT, &s0, 1, 1);
    CHECK(fm_context_decode_batch(c, b) == FM_STATUS_INVALID_ARGUMENT, "token outside the vocabulary");
    fm_batch_clear(b);
    for (int i = 0; i < 14; i++) fm_batch_add(b, 9, FM_POS_NEXT, &s1, 1, 1);
    s = fm_context_decode_batch(c, b);
    CHECK(s == FM_STATUS_CONTEXT_FULL, "14 more tokens in 13 free cells: %s", fm_status_name(s));
    int32_t lo, hi;
    fm_context_seq_pos_range(c, 1, &lo, &hi);
    CHECK(lo == 0 && hi == 2 && fm_context_n_past(c) == 2, "failed batches left the cache alone (%d..%d)", lo, hi);
    CHECK(fm_context_seq_rm(c, 2, 0, -1) == FM_STATUS_INVALID_ARGUMENT, "seq_rm of sequence 2");
    CHECK(fm_context_seq_cp(c, 0, -1, 0, -1) == FM_STATUS_INVALID_ARGUMENT, "seq_cp to -1");
    CHECK(fm_context_seq_rm(c, 0, -1, 3) == FM_STATUS_INVALID_ARGUMENT, "p0 -1");
    CHECK(fm_context_seq_keep(NULL, 0) == FM_STATUS_INVALID_ARGUMENT, "NULL context");
    CHECK(fm_context_seq_pos_range(c, 5, NULL, NULL) == FM_STATUS_INVALID_ARGUMENT, "range of sequence 5");
    CHECK(fm_context_clear(c) == FM_STATUS_OK && fm_context_n_past(c) == 0, "clear");
    fm_batch_free(b);
    fm_context_free(c);

    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_seq_max = FM_SEQ_MAX + 1;
    c = (fm_context *)1;
    CHECK(fm_context_new(m, &cp, &c) == FM_STATUS_INVALID_ARGUMENT && c == NULL, "n_seq_max too large");
    cp.n_seq_max = 1;
    cp.kv_type = 7;
    CHECK(fm_context_new(m, &cp, &c) == FM_STATUS_INVALID_ARGUMENT, "kv_type 7");
    CHECK(fm_context_params_init(NULL, sizeof cp) == FM_STATUS_INVALID_ARGUMENT, "init NULL");
    CHECK(fm_context_params_init(&cp, 2) == FM_STATUS_INVALID_ARGUMENT, "init size 2");
}

/* ---- the log: what was loaded and made, and a warning past the
 * training context ---- */

static char logged[4096];
static void log_cb(fm_log_level level, const char *msg, void *user) {
    (void)user;
    const size_t n = strlen(logged);
    snprintf(logged + n, sizeof logged - n, "%d:%s\n", (int)level, msg);
}

static void check_logging(void) {
    fm_set_log_callback(log_cb, NULL, FM_LOG_DEBUG);
    fm_model *m;
    CHECK(fm_model_load(tu_data("models/stories260K.gguf"), NULL, &m) == FM_STATUS_OK, "load");
    CHECK(strstr(logged, "2:loaded '") && strstr(logged, "llama, 5 layers") && strstr(logged, "f32"),
          "an INFO line names the file, architecture, sizes and types:\n%s", logged);
    logged[0] = '\0';
    fm_context *c = new_ctx(m, 1024, 1, 0, 1, FM_KV_F16);
    CHECK(strstr(logged, "1:n_ctx 1024 for 1 sequence is more than the 128 positions") != NULL, "a WARN past the training context:\n%s",
          logged);
    CHECK(strstr(logged, "2:context: 1024 cells (f16 KV cache") != NULL, "an INFO line for the context:\n%s", logged);
    fm_context_free(c);
    fm_model_free(m);
    fm_set_log_callback(NULL, NULL, FM_LOG_ERROR);
}

int main(void) {
    static const char *const models[] = {"stories260K.gguf", "llama-gqa.f32.gguf", "llama-k256.f16.gguf",
                                         "llama-k256.q4_k.gguf", "qwen2-gpt2v4k.f32.gguf", "phi3-spm4k.f32.gguf",
                                         "gpt2-gpt2v4k.f32.gguf"};
    char path[256];
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        snprintf(path, sizeof path, "models/%s", models[i]);
        fm_model *m;
        if (fm_model_load(tu_data(path), NULL, &m) != FM_STATUS_OK) {
            CHECK(0, "load %s: %s", models[i], fm_last_error());
            continue;
        }
        check_batched(m, models[i], FM_CONTEXT_BATCH_INVARIANT);
        check_batched(m, models[i], 0);
        check_shared_prefix(m, models[i], FM_CONTEXT_BATCH_INVARIANT);
        check_shared_prefix(m, models[i], 0);
        if (strncmp(models[i], "gpt2", 4) == 0) {
            fm_context *c = new_ctx(m, 16, 1, 0, 1, FM_KV_F32);
            const fm_token t[2] = {1, 2};
            fm_context_decode(c, t, 2, FM_LOGITS_LAST);
            CHECK(fm_context_seq_shift(c, 0, 1, -1, -1) == FM_STATUS_UNSUPPORTED, "gpt2 cannot shift");
            fm_context_free(c);
        } else if (i < 2) {
            check_shift(m, models[i], FM_KV_F32, 1e-3f);
            check_shift(m, models[i], FM_KV_F16, 2e-2f);
        }
        if (i == 0) {
            check_edits(m);
            check_abort(m);
            check_errors(m);
        }
        fm_model_free(m);
    }
    check_progress();
    check_logging();
    return tu_finish("test_sequences");
}
