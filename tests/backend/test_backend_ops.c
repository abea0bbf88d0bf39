/* A backend that says (supports_op) it cannot run an op a model needs is
 * refused at context creation with UNSUPPORTED naming the op, as one that
 * cannot use a weight type already was - here rope_ext on a model with
 * linear RoPE scaling (written by fm-mkmodel, argv[1]), while the same
 * backend runs a model without scaling. A backend that leaves rope_ext
 * NULL gets libfm's portable stand-in instead and runs the scaled model
 * with the cpu-ref backend's logits (issue 19: that stand-in used to write
 * into the foreign backend's context). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/testutil.h"
#include "fm.h"
#include "fm_backend.h"

static int (*ref_supports)(void *, fm_op, int32_t);
static int no_rope_ext(void *ctx, fm_op op, int32_t dtype) {
    return op == FM_OP_ROPE_EXT ? 0 : ref_supports(ctx, op, dtype);
}

/* logits after a 6-token prompt on `backend`; NULL and the status on failure */
static float *run(fm_model *m, const char *backend, fm_status *st) {
    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_ctx = 32;
    cp.n_threads = 1;
    cp.backend = backend;
    fm_context *c = NULL;
    const fm_token ids[6] = {1, 403, 407, 261, 472, 342};
    *st = fm_context_new(m, &cp, &c);
    if (*st == FM_STATUS_OK) *st = fm_context_decode(c, ids, 6, FM_LOGITS_LAST);
    float *out = NULL;
    if (*st == FM_STATUS_OK) {
        const size_t nv = (size_t)fm_model_get_info(m, FM_MODEL_N_VOCAB);
        out = malloc(nv * sizeof *out);
        if (out) memcpy(out, fm_context_logits(c, -1), nv * sizeof *out);
    }
    fm_context_free(c);
    return out;
}

int main(int argc, char **argv) {
    CHECK(argc == 2, "usage: test_backend_ops FM_MKMODEL");
    if (argc != 2) return tu_finish("backend ops");
    char path[] = "/tmp/fm-ropescale-XXXXXX";
    const int fd = mkstemp(path);
    CHECK(fd >= 0, "temp file");
    close(fd);
    char cmd[1024];
    fm_model *scaled = NULL, *plain = NULL, *same_unscaled = NULL;
    /* the same weights (same seed) with and without scaling */
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "'%s' -o %s --vocab '%s' --type f32 --preset tiny %s > /dev/null", argv[1], path,
                 tu_data("models/stories260K.gguf"), k ? "" : "--rope-scale 4");
        CHECK(system(cmd) == 0, "fm-mkmodel: %s", cmd);
        CHECK(fm_model_load(path, NULL, k ? &same_unscaled : &scaled) == FM_STATUS_OK, "model %d: %s", k,
              fm_last_error());
    }
    CHECK(fm_model_load(tu_data("models/stories260K.gguf"), NULL, &plain) == FM_STATUS_OK, "stories");
    unlink(path);
    if (scaled == NULL || plain == NULL) return tu_finish("backend ops");

    const fm_backend_iface *ref = fm_backend_find("cpu-ref");
    static fm_backend_iface no_ext, thin;
    no_ext = *ref;
    no_ext.name = "no-rope-ext";
    ref_supports = ref->supports_op;
    no_ext.supports_op = no_rope_ext;
    CHECK(fm_backend_register(&no_ext) == FM_STATUS_OK, "register: %s", fm_last_error());
    thin = *ref;
    thin.name = "thin";
    thin.rope_ext = NULL;
    CHECK(fm_backend_register(&thin) == FM_STATUS_OK, "register thin: %s", fm_last_error());

    fm_status st;
    float *l = run(scaled, "no-rope-ext", &st);
    CHECK(st == FM_STATUS_UNSUPPORTED && l == NULL, "scaled model on no-rope-ext: %s", fm_status_name(st));
    CHECK(strstr(fm_last_error(), "rope_ext") != NULL && strstr(fm_last_error(), "no-rope-ext") != NULL,
          "the message names the op and the backend: '%s'", fm_last_error());
    free(l);
    l = run(plain, "no-rope-ext", &st);
    CHECK(st == FM_STATUS_OK && l != NULL, "unscaled model on no-rope-ext: %s", fm_last_error());
    free(l);

    float *want = run(scaled, "cpu-ref", &st);
    CHECK(st == FM_STATUS_OK, "scaled on cpu-ref: %s", fm_last_error());
    float *got = run(scaled, "thin", &st);
    CHECK(st == FM_STATUS_OK, "scaled on thin (stand-in rope_ext): %s", fm_last_error());
    if (want != NULL && got != NULL) {
        const int nv = (int)fm_model_get_info(scaled, FM_MODEL_N_VOCAB);
        float worst = 0;
        for (int i = 0; i < nv; i++) worst = fmaxf(worst, fabsf(want[i] - got[i]));
        CHECK(worst < 1e-4f, "stand-in logits = cpu-ref's (max |d| %g)", worst);
        printf("scaled model: stand-in rope_ext vs cpu-ref max |d logit| %g\n", worst);
    }
    float *unscaled = run(same_unscaled, "cpu-ref", &st);
    if (want != NULL && unscaled != NULL) {
        float diff = 0;
        for (int i = 0; i < (int)fm_model_get_info(scaled, FM_MODEL_N_VOCAB); i++)
            diff = fmaxf(diff, fabsf(want[i] - unscaled[i]));
        CHECK(diff > 1e-3f, "the scaling changes the logits (max |d| %g): rope_ext really ran", diff);
    }
    free(unscaled);
    free(want);
    free(got);
    fm_model_free(same_unscaled);
    fm_model_free(scaled);
    fm_model_free(plain);
    return tu_finish("backend ops");
}
