/* A backend registered without the optional rope_ext op gets the portable
 * kernel as a stand-in, which must never treat that backend's context as a
 * cpu one (it used to: its angle cache was written into the foreign
 * context, a heap overflow for any model with RoPE scaling, seen by ASan).
 * The stand-in's results equal the formula's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "backend/backend.h"
#include "fm.h"
#include "fm_backend.h"

int main(void) {
    /* a backend that is cpu-ref without rope_ext, and a context of 1 byte */
    static fm_backend_iface thin;
    thin = fm_cpu_ref_backend;
    thin.name = "thin";
    thin.rope_ext = NULL;
    thin.ctx_size = 1;
    thin.init = NULL;
    thin.release = NULL;
    CHECK(fm_backend_register(&thin) == FM_STATUS_OK, "register: %s", fm_last_error());
    fm_backend_inst b;
    fm_backend_init_params p = {sizeof p, 1, 64, 64};
    CHECK(fm_backend_inst_init(&b, "thin", &p) == FM_STATUS_OK, "instance: %s", fm_last_error());
    CHECK(b.iface.rope_ext != NULL, "a stand-in rope_ext");
    enum { T = 3, H = 2, D = 8 };
    float x[T * H * D], want[T * H * D];
    for (int i = 0; i < T * H * D; i++) x[i] = want[i] = (float)(i % 7) - 3.0f;
    const int32_t pos[T] = {0, 5, 17};
    const float base = 10000.0f, scale = 0.25f;
    CHECK(b.iface.rope_ext(b.ctx, x, T, H, D, D, pos, base, scale, FM_ROPE_NORMAL) == FM_STATUS_OK, "rope_ext");
    for (int t = 0; t < T; t++)
        for (int i = 0; i < D / 2; i++) {
            const double th = pos[t] * (double)scale * pow(base, -2.0 * i / D);
            for (int h = 0; h < H; h++) {
                float *v = want + (t * H + h) * D;
                const float a = v[2 * i], c = v[2 * i + 1];
                v[2 * i] = (float)(a * cos(th) - c * sin(th));
                v[2 * i + 1] = (float)(a * sin(th) + c * cos(th));
            }
        }
    float worst = 0;
    for (int i = 0; i < T * H * D; i++) worst = fmaxf(worst, fabsf(x[i] - want[i]));
    CHECK(worst < 1e-5f, "stand-in rope_ext equals the formula (max |d| %g)", worst);
    fm_backend_inst_release(&b);
    return tu_finish("backend stand-ins");
}
