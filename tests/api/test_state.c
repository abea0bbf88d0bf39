/* Saved states: save -> load -> continue is bit-identical (whole context
 * and one sequence, memory and files); every mismatch and every damaged
 * file is an error that leaves the context as it was. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/testutil.h"
#include "fm.h"

static fm_context *new_ctx(fm_model *m, uint32_t n_ctx, uint32_t n_seq, int kv_type) {
    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_ctx = n_ctx;
    cp.n_seq_max = n_seq;
    cp.n_threads = 1;
    cp.kv_type = kv_type;
    fm_context *c = NULL;
    CHECK(fm_context_new(m, &cp, &c) == FM_STATUS_OK, "context: %s", fm_last_error());
    return c;
}

/* A state in a malloc'd buffer. */
static uint8_t *save(fm_context *c, fm_seq_id seq, size_t *len) {
    size_t need = 0;
    CHECK(fm_context_state_save(c, seq, NULL, 0, &need) == FM_STATUS_BUFFER_TOO_SMALL && need > 0, "size query");
    uint8_t *buf = malloc(need);
    CHECK(fm_context_state_save(c, seq, buf, need, len) == FM_STATUS_OK && *len <= need, "save: %s", fm_last_error());
    return buf;
}

/* Whether a context is as it was: its own whole state, byte for byte. */
static int same_state(fm_context *c, const uint8_t *before, size_t len) {
    size_t n;
    uint8_t *now = save(c, FM_STATE_ALL, &n);
    const int same = n == len && memcmp(now, before, len) == 0;
    free(now);
    return same;
}

static void greedy_tail(fm_context *c, int V, int n, fm_token *out, float *logits) {
    fm_sampler_params sp;
    fm_sampler_params_init(&sp, sizeof sp);
    sp.temperature = 0;
    fm_sampler *smp;
    fm_sampler_new(&sp, &smp);
    for (int i = 0; i < n; i++) {
        const float *l = fm_context_logits(c, -1);
        if (l == NULL) {
            CHECK(0, "no logits to continue from");
            break;
        }
        memcpy(logits + (size_t)i * (size_t)V, l, (size_t)V * sizeof *logits);
        fm_sampler_sample(smp, l, V, &out[i]);
        CHECK(fm_context_decode(c, &out[i], 1, FM_LOGITS_LAST) == FM_STATUS_OK, "decode");
    }
    fm_sampler_free(smp);
}

static void check_roundtrip(fm_model *m, int kv_type) {
    const int V = (int)fm_model_get_info(m, FM_MODEL_N_VOCAB);
    const fm_token prompt[9] = {1, 403, 407, 261, 378, 300, 301, 302, 303};
    enum { N = 24 };
    fm_context *a = new_ctx(m, 128, 2, kv_type);
    CHECK(fm_context_decode(a, prompt, 9, FM_LOGITS_LAST) == FM_STATUS_OK, "prompt");
    size_t len;
    uint8_t *st = save(a, FM_STATE_ALL, &len);
    fm_token ta[N], tb[N];
    float *la = malloc((size_t)N * V * sizeof *la), *lb = malloc((size_t)N * V * sizeof *lb);
    greedy_tail(a, V, N, ta, la);
    fm_context *b = new_ctx(m, 128, 2, kv_type);
    CHECK(fm_context_state_load(b, FM_STATE_ALL, st, len) == FM_STATUS_OK, "load: %s", fm_last_error());
    CHECK(fm_context_n_past(b) == 9, "n_past after load %u", fm_context_n_past(b));
    greedy_tail(b, V, N, tb, lb);
    CHECK(memcmp(ta, tb, sizeof ta) == 0 && memcmp(la, lb, (size_t)N * V * sizeof *la) == 0,
          "%s cache: a restored context does not continue bit-identically", kv_type ? "f16" : "f32");
    /* seeded sampling from the same logits takes the same draws */
    fm_sampler_params sp;
    fm_sampler_params_init(&sp, sizeof sp);
    sp.seed = 99;
    fm_sampler *s1, *s2;
    fm_sampler_new(&sp, &s1), fm_sampler_new(&sp, &s2);
    int same = 1;
    for (int i = 0; i < 8; i++) {
        fm_token x, y;
        fm_sampler_sample(s1, fm_context_logits(a, -1), V, &x);
        fm_sampler_sample(s2, fm_context_logits(b, -1), V, &y);
        same &= x == y;
        fm_context_decode(a, &x, 1, FM_LOGITS_LAST), fm_context_decode(b, &y, 1, FM_LOGITS_LAST);
    }
    CHECK(same, "seeded sampling after a restore diverged");
    fm_sampler_free(s1), fm_sampler_free(s2);
    printf("whole state, %s cache, 9 positions: %zu bytes\n", kv_type ? "f16" : "f32", len);

    /* one sequence: sequence 1 of a, saved, loaded as sequence 0 of a
     * context that holds something else in sequence 1 */
    fm_batch *bt;
    fm_batch_new(&bt);
    const fm_seq_id one = 1, zero = 0;
    for (int i = 0; i < 6; i++) fm_batch_add(bt, prompt[8 - i], i, &one, 1, i == 5);
    CHECK(fm_context_decode_batch(a, bt) == FM_STATUS_OK, "sequence 1");
    size_t slen;
    uint8_t *ss = save(a, 1, &slen);
    fm_context *c = new_ctx(m, 64, 2, kv_type);
    fm_batch_clear(bt);
    for (int i = 0; i < 4; i++) fm_batch_add(bt, prompt[i], i, &one, 1, 0);
    fm_batch_add(bt, 77, 0, &zero, 1, 0);
    CHECK(fm_context_decode_batch(c, bt) == FM_STATUS_OK, "other contents");
    CHECK(fm_context_state_load(c, 0, ss, slen) == FM_STATUS_OK, "load sequence: %s", fm_last_error());
    int32_t lo, hi;
    fm_context_seq_pos_range(c, 0, &lo, &hi);
    CHECK(lo == 0 && hi == 5, "loaded sequence holds 0..5 (%d..%d)", lo, hi);
    fm_context_seq_pos_range(c, 1, &lo, &hi);
    CHECK(lo == 0 && hi == 3, "the other sequence is untouched (%d..%d)", lo, hi);
    for (int i = 0; i < 3; i++) {
        const fm_token t = (fm_token)(50 + i);
        fm_batch_clear(bt);
        fm_batch_add(bt, t, FM_POS_NEXT, &one, 1, 1);
        CHECK(fm_context_decode_batch(a, bt) == FM_STATUS_OK, "a");
        fm_batch_clear(bt);
        fm_batch_add(bt, t, FM_POS_NEXT, &zero, 1, 1);
        CHECK(fm_context_decode_batch(c, bt) == FM_STATUS_OK, "c");
        CHECK(memcmp(fm_context_logits(a, 0), fm_context_logits(c, 0), (size_t)V * sizeof(float)) == 0,
              "step %d: the loaded sequence does not continue bit-identically", i);
    }
    CHECK(fm_context_state_load(c, FM_STATE_ALL, ss, slen) == FM_STATUS_INVALID_ARGUMENT,
          "a sequence state loaded as a whole one");
    CHECK(fm_context_state_load(c, 0, st, len) == FM_STATUS_INVALID_ARGUMENT, "a whole state loaded as a sequence");
    CHECK(fm_context_state_load(c, 5, ss, slen) == FM_STATUS_INVALID_ARGUMENT, "sequence 5 of 2");
    fm_batch_free(bt);
    free(st), free(ss), free(la), free(lb);
    fm_context_free(a), fm_context_free(b), fm_context_free(c);
}

static void check_bad(fm_model *m, fm_model *other) {
    const fm_token prompt[12] = {1, 403, 407, 261, 378, 300, 301, 302, 303, 304, 305, 306};
    fm_context *a = new_ctx(m, 64, 1, FM_KV_F32);
    CHECK(fm_context_decode(a, prompt, 12, FM_LOGITS_LAST) == FM_STATUS_OK, "prompt");
    size_t len, blen;
    uint8_t *st = save(a, FM_STATE_ALL, &len);
    /* the target holds something of its own, which must survive every failure */
    fm_context *t = new_ctx(m, 64, 1, FM_KV_F32);
    CHECK(fm_context_decode(t, prompt + 3, 5, FM_LOGITS_LAST) == FM_STATUS_OK, "target");
    uint8_t *before = save(t, FM_STATE_ALL, &blen);
    fm_status s;
    int n_trunc = 0;
    for (int k = 0; k < 16; k++) {
        const size_t cut = len * (size_t)k / 16;
        s = fm_context_state_load(t, FM_STATE_ALL, st, cut);
        n_trunc += s == FM_STATUS_BAD_FORMAT;
        CHECK(s == FM_STATUS_BAD_FORMAT && same_state(t, before, blen), "truncated at %zu of %zu: %s (%s)", cut, len,
              fm_status_name(s), fm_last_error());
    }
    /* single bytes flipped all over the header and through the payload */
    uint8_t *bad = malloc(len);
    int n_flip = 0;
    for (size_t at = 0; at < len; at += at < 96 ? 1 : len / 40 + 1) {
        memcpy(bad, st, len);
        bad[at] ^= 0x20;
        s = fm_context_state_load(t, FM_STATE_ALL, bad, len);
        n_flip++;
        CHECK(s != FM_STATUS_OK && same_state(t, before, blen), "byte %zu flipped: %s", at, fm_status_name(s));
    }
    memcpy(bad, st, len);
    bad[8] = 9; /* a newer format version (the checksum is checked after the version) */
    CHECK(fm_context_state_load(t, FM_STATE_ALL, bad, len) == FM_STATUS_UNSUPPORTED, "version 9");
    free(bad);
    fm_context *o = new_ctx(other, 64, 1, FM_KV_F32);
    s = fm_context_state_load(o, FM_STATE_ALL, st, len);
    CHECK(s == FM_STATUS_INVALID_ARGUMENT && strstr(fm_last_error(), "another model"), "another model: %s",
          fm_last_error());
    CHECK(fm_context_n_past(o) == 0, "unchanged");
    fm_context *f16 = new_ctx(m, 64, 1, FM_KV_F16);
    s = fm_context_state_load(f16, FM_STATE_ALL, st, len);
    CHECK(s == FM_STATUS_INVALID_ARGUMENT && strstr(fm_last_error(), "f32 KV cache"), "cache type: %s",
          fm_last_error());
    fm_context *small = new_ctx(m, 8, 1, FM_KV_F32);
    s = fm_context_state_load(small, FM_STATE_ALL, st, len);
    CHECK(s == FM_STATUS_CONTEXT_FULL && fm_context_n_past(small) == 0, "8 cells: %s", fm_last_error());
    size_t slen;
    uint8_t *ss = save(a, 0, &slen);
    CHECK(fm_context_decode(small, prompt, 4, FM_LOGITS_LAST) == FM_STATUS_OK, "small holds 4");
    s = fm_context_state_load(small, 0, ss, slen); /* 12 cells into 8, of which 4 are this sequence's own */
    CHECK(s == FM_STATUS_CONTEXT_FULL && fm_context_n_past(small) == 4, "sequence of 12 into 8 cells: %s",
          fm_last_error());
    fm_context *two = new_ctx(m, 64, 2, FM_KV_F32);
    fm_batch *b;
    fm_batch_new(&b);
    const fm_seq_id one = 1;
    fm_batch_add(b, 5, 0, &one, 1, 1);
    fm_context_decode_batch(two, b);
    size_t tlen;
    uint8_t *ts = save(two, FM_STATE_ALL, &tlen);
    s = fm_context_state_load(t, FM_STATE_ALL, ts, tlen);
    CHECK(s == FM_STATUS_INVALID_ARGUMENT && strstr(fm_last_error(), "n_seq_max") && same_state(t, before, blen),
          "a state of 2 sequences into a context of 1: %s", fm_last_error());
    printf("bad states: %d truncations, %d flipped bytes, 5 mismatches refused, the context unchanged\n", n_trunc,
           n_flip);

    /* files */
    char dir[] = "/tmp/fm-state-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    char path[256], missing[300];
    snprintf(path, sizeof path, "%s/prompt.fmstate", dir);
    snprintf(missing, sizeof missing, "%s/no/such/folder/x.fmstate", dir);
    CHECK(fm_context_state_save_file(a, FM_STATE_ALL, path) == FM_STATUS_OK, "save file: %s", fm_last_error());
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (size_t)sb.st_size == len, "the file holds the state");
    fm_context *r = new_ctx(m, 64, 1, FM_KV_F32);
    CHECK(fm_context_state_load_file(r, FM_STATE_ALL, path) == FM_STATUS_OK && fm_context_n_past(r) == 12,
          "load file: %s", fm_last_error());
    CHECK(fm_context_state_save_file(a, FM_STATE_ALL, missing) == FM_STATUS_IO, "save into a missing folder");
    s = fm_context_state_load_file(r, FM_STATE_ALL, missing);
    CHECK(s == FM_STATUS_IO && strstr(fm_last_error(), "x.fmstate"), "load a missing file: %s", fm_last_error());
    FILE *fp = fopen(path, "wb");
    fwrite(st, 1, len / 2, fp);
    fclose(fp);
    s = fm_context_state_load_file(r, FM_STATE_ALL, path);
    CHECK(s == FM_STATUS_BAD_FORMAT && strstr(fm_last_error(), "prompt.fmstate") && fm_context_n_past(r) == 12,
          "a truncated file: %s", fm_last_error());
    unlink(path);
    CHECK(rmdir(dir) == 0, "nothing else was left in the folder");
    fm_batch_free(b);
    free(st), free(before), free(ss), free(ts);
    fm_context_free(a), fm_context_free(t), fm_context_free(o), fm_context_free(f16), fm_context_free(small);
    fm_context_free(two), fm_context_free(r);
}

int main(void) {
    fm_model *m, *other;
    if (fm_model_load(tu_data("models/stories260K.gguf"), NULL, &m) != FM_STATUS_OK ||
        fm_model_load(tu_data("models/llama-gqa.f32.gguf"), NULL, &other) != FM_STATUS_OK) {
        CHECK(0, "load: %s", fm_last_error());
        return tu_finish("test_state");
    }
    check_roundtrip(m, FM_KV_F32);
    check_roundtrip(m, FM_KV_F16);
    check_bad(m, other);
    size_t n;
    CHECK(fm_context_state_save(NULL, FM_STATE_ALL, NULL, 0, &n) == FM_STATUS_INVALID_ARGUMENT, "NULL context");
    fm_model_free(m);
    fm_model_free(other);
    return tu_finish("test_state");
}
