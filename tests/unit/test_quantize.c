/* fm_model_quantize against llama.cpp's own outputs and its refusals:
 *  1. --pure q8_0, q4_0, q4_K, q6_K of llama-k256.f32.gguf: every tensor's
 *     type and bytes identical to the llama-quantize --pure files shared in
 *     models/ (the reference quantizers are deterministic);
 *  2. the Q4_K_M mixture of the same file: the per-tensor types llama.cpp's
 *     rules give (listed below), and the same bytes for 1, 2 and 3 threads;
 *  3. rows that are not whole blocks (llama-gqa's 64-wide rows under
 *     Q4_K_M) kept in q5_0 with a warning naming the tensor;
 *  4. errors, each leaving no output and no temporary file: a quantized
 *     input (accepted only with FM_QUANTIZE_ALLOW_REQUANTIZE), an unknown
 *     ftype or name, a missing output folder, a full disk (RLIMIT_FSIZE in
 *     a child process), a cancelling progress callback. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/testutil.h"
#include "format/model_file.h"
#include "format/quant.h"
#include "quantize/quantize.h"
#include <math.h>
#include "fm.h"
#include "fm_backend.h"

static char dir[64];

static const char *out_path(const char *name) {
    static char buf[4][256];
    static int slot;
    char *p = buf[slot++ % 4];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

/* files in the scratch folder (temporaries included) */
static int count_files(void) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

static fm_status quantize(const char *in, const char *out, int32_t ftype, uint32_t flags, int threads) {
    fm_quantize_params p;
    fm_quantize_params_init(&p, sizeof p);
    p.ftype = ftype;
    p.flags = flags;
    p.n_threads = threads;
    return fm_model_quantize(in, out, &p);
}

static char *name_of(const fm_tensor_info *t) {
    static char n[256];
    snprintf(n, sizeof n, "%.*s", (int)t->name.len, t->name.ptr);
    return n;
}

/* every tensor of `a` in `b` with the same type, shape and bytes */
static int same_tensors(const char *a, const char *b, const char *what) {
    fm_model_file *fa, *fb;
    if (fm_model_file_open(a, &fa) != FM_STATUS_OK) return 0;
    if (fm_model_file_open(b, &fb) != FM_STATUS_OK) {
        fm_model_file_close(fa);
        return 0;
    }
    int same = fa->n_tensors == fb->n_tensors, n_same = 0;
    for (size_t i = 0; i < fa->n_tensors && same; i++) {
        const fm_tensor_info *ta = &fa->tensors[i];
        const fm_tensor_info *tb = fm_model_file_tensor(fb, name_of(ta));
        const int ok = tb != NULL && ta->dtype == tb->dtype && ta->nbytes == tb->nbytes &&
                       memcmp(ta->ne, tb->ne, sizeof ta->ne) == 0 && memcmp(ta->data, tb->data, ta->nbytes) == 0;
        CHECK(ok, "%s: tensor '%s' differs", what, name_of(ta));
        same &= ok;
        n_same += ok;
    }
    fm_model_file_close(fa);
    fm_model_file_close(fb);
    if (same) printf("%s: %d tensors, types and bytes identical\n", what, n_same);
    return same;
}

static void fidelity(void) {
    static const struct {
        const char *name;
        int32_t ftype;
    } types[] = {{"q8_0", FM_FTYPE_Q8_0}, {"q4_0", FM_FTYPE_Q4_0}, {"q4_k", FM_FTYPE_Q4_K_M}, {"q6_k", FM_FTYPE_Q6_K}};
    const char *f32 = tu_data("models/llama-k256.f32.gguf");
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char ref[64], what[96];
        snprintf(ref, sizeof ref, "models/llama-k256.%s.gguf", types[i].name);
        snprintf(what, sizeof what, "--pure %s against llama-quantize", types[i].name);
        const char *out = out_path("pure.gguf");
        CHECK(quantize(f32, out, types[i].ftype, FM_QUANTIZE_PURE, 2) == FM_STATUS_OK, "%s: %s", what, fm_last_error());
        CHECK(same_tensors(out, tu_data(ref), what), "%s", what);
        unlink(out);
    }
}

/* llama.cpp's Q4_K_M rules on a 2-layer model with 4 query heads per KV
 * head: the second layer's attn_v and ffn_down (use_more_bits) and the
 * output get q6_K, other matrices q4_K, vectors stay f32 */
static void mixture(void) {
    static const struct {
        const char *name;
        int32_t dtype;
    } want[] = {
        {"token_embd.weight", 12},       {"output.weight", 14},           {"output_norm.weight", 0},
        {"blk.0.attn_norm.weight", 0},   {"blk.0.attn_q.weight", 12},     {"blk.0.attn_k.weight", 12},
        {"blk.0.attn_v.weight", 12},     {"blk.0.attn_output.weight", 12}, {"blk.0.ffn_gate.weight", 12},
        {"blk.0.ffn_up.weight", 12},     {"blk.0.ffn_down.weight", 12},   {"blk.0.ffn_norm.weight", 0},
        {"blk.1.attn_q.weight", 12},     {"blk.1.attn_k.weight", 12},     {"blk.1.attn_v.weight", 14},
        {"blk.1.attn_output.weight", 12}, {"blk.1.ffn_gate.weight", 12},  {"blk.1.ffn_up.weight", 12},
        {"blk.1.ffn_down.weight", 14},
    };
    const char *f32 = tu_data("models/llama-k256.f32.gguf"), *out = out_path("q4km.gguf");
    CHECK(quantize(f32, out, FM_FTYPE_Q4_K_M, 0, 1) == FM_STATUS_OK, "Q4_K_M: %s", fm_last_error());
    fm_model_file *mf;
    CHECK(fm_model_file_open(out, &mf) == FM_STATUS_OK, "open Q4_K_M");
    int ok = 1;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const fm_tensor_info *t = fm_model_file_tensor(mf, want[i].name);
        CHECK(t != NULL && (int32_t)t->dtype == want[i].dtype, "Q4_K_M: %s has type %d, want %d", want[i].name,
              t ? (int)t->dtype : -1, want[i].dtype);
        ok &= t != NULL && (int32_t)t->dtype == want[i].dtype;
    }
    uint32_t ft = 0;
    CHECK(fm_meta_get_u32(mf, "general.file_type", &ft) == FM_STATUS_OK && ft == FM_FTYPE_Q4_K_M, "file_type %u", ft);
    fm_model_file_close(mf);
    if (ok) printf("Q4_K_M mixture: the %zu tensor types llama.cpp's rules give\n", sizeof want / sizeof want[0]);
    /* the bytes do not depend on the thread count */
    for (int th = 2; th <= 3; th++) {
        char what[64];
        snprintf(what, sizeof what, "Q4_K_M on %d threads against 1", th);
        const char *o2 = out_path("q4km-t.gguf");
        CHECK(quantize(f32, o2, FM_FTYPE_Q4_K_M, 0, th) == FM_STATUS_OK, "%s", what);
        CHECK(same_tensors(o2, out, what), "%s", what);
        unlink(o2);
    }
    /* the quantized file runs */
    fm_model *m = NULL;
    CHECK(fm_model_load(out, NULL, &m) == FM_STATUS_OK, "load Q4_K_M: %s", fm_last_error());
    fm_model_free(m);
    unlink(out);
}

static char warned[512];
static void on_log(fm_log_level level, const char *message, void *user) {
    (void)user;
    if (level == FM_LOG_WARN && warned[0] == '\0') snprintf(warned, sizeof warned, "%s", message);
}

static void fallback(void) {
    const char *in = tu_data("models/llama-gqa.f32.gguf"), *out = out_path("gqa.gguf");
    fm_set_log_callback(on_log, NULL, FM_LOG_WARN);
    CHECK(quantize(in, out, FM_FTYPE_Q4_K_M, 0, 0) == FM_STATUS_OK, "gqa Q4_K_M: %s", fm_last_error());
    fm_set_log_callback(NULL, NULL, FM_LOG_WARN);
    CHECK(strstr(warned, "token_embd.weight") != NULL && strstr(warned, "q5_0") != NULL, "warning: '%s'", warned);
    fm_model_file *mf;
    CHECK(fm_model_file_open(out, &mf) == FM_STATUS_OK, "open gqa");
    const fm_tensor_info *q = fm_model_file_tensor(mf, "blk.0.attn_q.weight");
    const fm_tensor_info *o = fm_model_file_tensor(mf, "output.weight");
    CHECK(q != NULL && q->dtype == 6, "64-wide rows under q4_K: q5_0 (type %d)", q ? (int)q->dtype : -1);
    CHECK(o != NULL && o->dtype == 8, "64-wide output: q8_0 (type %d)", o ? (int)o->dtype : -1);
    fm_model_file_close(mf);
    printf("rows of 64 under Q4_K_M: q5_0 (output q8_0), warned: %s\n", warned);
    unlink(out);
}

static int cancel_at_half(float done, void *user) {
    (void)user;
    return done > 0.5f;
}

static void errors(void) {
    const char *f32 = tu_data("models/llama-k256.f32.gguf"), *q40 = tu_data("models/llama-k256.q4_0.gguf");
    const char *out = out_path("err.gguf");
    const int before = count_files();
    fm_status s = quantize(q40, out, FM_FTYPE_Q4_K_M, 0, 1);
    CHECK(s == FM_STATUS_UNSUPPORTED && strstr(fm_last_error(), "already quantized"), "requantize: %s (%s)",
          fm_status_name(s), fm_last_error());
    CHECK(count_files() == before, "requantize refused: files left behind");
    CHECK(quantize(q40, out, FM_FTYPE_Q4_K_M, FM_QUANTIZE_ALLOW_REQUANTIZE, 1) == FM_STATUS_OK, "requantize allowed: %s",
          fm_last_error());
    unlink(out);

    CHECK(quantize(f32, out, 99, 0, 1) == FM_STATUS_INVALID_ARGUMENT, "ftype 99");
    int32_t ft = -1;
    CHECK(fm_ftype_from_name("q4_k_m", &ft) == FM_STATUS_OK && ft == FM_FTYPE_Q4_K_M, "name q4_k_m");
    CHECK(fm_ftype_from_name("Q4_K", &ft) == FM_STATUS_OK && ft == FM_FTYPE_Q4_K_M, "alias Q4_K");
    CHECK(fm_ftype_from_name("IQ4_xs", &ft) == FM_STATUS_OK && ft == FM_FTYPE_IQ4_XS, "name IQ4_xs");
    CHECK(fm_ftype_from_name("Q9_K", &ft) == FM_STATUS_NOT_FOUND && strstr(fm_last_error(), "Q9_K"), "unknown name");
    CHECK(fm_ftype_name(FM_FTYPE_Q5_K_S) && strcmp(fm_ftype_name(FM_FTYPE_Q5_K_S), "Q5_K_S") == 0, "name of Q5_K_S");

    s = quantize(f32, out_path("no-such-folder/x.gguf"), FM_FTYPE_Q8_0, 0, 1);
    CHECK(s == FM_STATUS_IO && strstr(fm_last_error(), "no-such-folder"), "missing folder: %s (%s)", fm_status_name(s),
          fm_last_error());
    s = quantize(out_path("missing.gguf"), out, FM_FTYPE_Q8_0, 0, 1);
    CHECK(s == FM_STATUS_IO, "missing input: %s", fm_status_name(s));
    CHECK(count_files() == before, "errors left files behind");

    /* a full disk: the file size limit cuts the writes short */
    const pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {100000, 100000};
        setrlimit(RLIMIT_FSIZE, &rl);
        const fm_status st = quantize(f32, out, FM_FTYPE_Q8_0, 0, 1);
        _exit(st == FM_STATUS_IO && strstr(fm_last_error(), "cannot write") ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "full disk: not an IO error");
    CHECK(count_files() == before, "full disk: a partial file was left behind");

    fm_quantize_params p;
    fm_quantize_params_init(&p, sizeof p);
    p.ftype = FM_FTYPE_Q8_0;
    p.progress = cancel_at_half;
    s = fm_model_quantize(f32, out, &p);
    CHECK(s == FM_STATUS_CANCELLED, "cancel: %s", fm_status_name(s));
    CHECK(count_files() == before, "cancel: files left behind");
    /* params from a newer header with an unknown field set */
    struct {
        fm_quantize_params p;
        int extra;
    } newer;
    fm_quantize_params_init(&newer.p, sizeof newer);
    newer.extra = 1;
    CHECK(fm_model_quantize(f32, out, &newer.p) == FM_STATUS_INVALID_ARGUMENT, "newer params with a field set");
    CHECK(fm_quantize_params_init(NULL, sizeof p) == FM_STATUS_INVALID_ARGUMENT, "init NULL");
    printf("refusals: requantize, ftype, name, missing folder and input, full disk, cancel - no files left\n");
}

/* Groups whose values are all equal take the search's degenerate branch
 * (no range to fit: zero quants, the value carried by the min alone), and
 * the vectorised search handles them lane by lane next to ordinary
 * groups: the dequantized row must give them back, never NaN. */
static void flat_groups(void) {
    const int32_t types[] = {FM_DTYPE_Q4_K, FM_DTYPE_Q5_K, FM_DTYPE_Q2_K};
    float x[512], y[512];
    uint32_t seed = 7;
    for (int i = 0; i < 512; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
    for (int i = 0; i < 32; i++) x[i] = 0.0f;          /* zero group */
    for (int i = 32; i < 64; i++) x[i] = -0.5f;        /* flat negative group */
    for (int i = 96; i < 112; i++) x[i] = -0.25f;      /* flat for 16-wide groups */
    for (int i = 256; i < 512; i++) x[i] = 0.0f;       /* an all-zero super-block */
    uint8_t q[512];
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        CHECK(fm_quantize_row(types[t], x, 512, q) > 0, "quantize type %d", (int)types[t]);
        CHECK(fm_dequantize_row(types[t], q, 512, y) != 0, "dequantize type %d", (int)types[t]);
        /* and their quants are 0, the bytes llama-quantize writes (the
         * values would not show it: a zero scale hides the quants) */
        int nonzero = 0;
        for (int l = 0; l < 32; l++) {
            if (types[t] == FM_DTYPE_Q4_K) nonzero |= q[16 + l];                    /* groups 0, 1 */
            if (types[t] == FM_DTYPE_Q5_K) nonzero |= q[48 + l] | (q[16 + l] & 3); /* and their 5th bits */
            if (types[t] == FM_DTYPE_Q2_K) nonzero |= (q[16 + l] & 15) | (l < 16 ? q[16 + l] & 0xC0 : 0);
        }
        CHECK(nonzero == 0, "type %d: flat groups have nonzero quants", (int)types[t]);
        float worst = 0;
        for (int i = 0; i < 512; i++) CHECK(y[i] == y[i], "type %d: NaN at %d", (int)types[t], i);
        for (int i = 0; i < 32; i++) worst = fmaxf(worst, fabsf(y[i]));
        for (int i = 256; i < 512; i++) CHECK(y[i] == 0.0f, "type %d: zero super-block gives %g at %d", (int)types[t], y[i], i);
        for (int i = 32; i < 64; i++) worst = fmaxf(worst, fabsf(y[i] + 0.5f));
        for (int i = 96; i < 112; i++) worst = fmaxf(worst, fabsf(y[i] + 0.25f));
        /* the min is one of 6-bit (q4/5_K) or 4-bit (q2_K) steps of the
         * largest min (about 0.5 here) */
        CHECK(worst <= (types[t] == FM_DTYPE_Q2_K ? 0.5f / 15 : 0.5f / 63) + 1e-3f, "type %d: flat groups off by %g",
              (int)types[t], worst);
    }
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/fm-test-quantize-XXXXXX");
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    fidelity();
    mixture();
    fallback();
    flat_groups();
    errors();
    rmdir(dir);
    return tu_finish("quantizer");
}
