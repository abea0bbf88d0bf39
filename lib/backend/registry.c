/* The table of registered backends: the only global mutable state in libfm,
 * written at init time (fm_backend_register) and read afterwards. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "backend.h"
#include "cpu/cpu.h"

#define MAX_BACKENDS 32

/* The size of version 1 of the table: everything up to and including `add`. */
#define IFACE_V1_SIZE (offsetof(fm_backend_iface, add) + sizeof(((fm_backend_iface *)0)->add))

static const fm_backend_iface *registry[MAX_BACKENDS] = {&fm_cpu_backend, &fm_cpu_ref_backend};
static int n_registered = 2;

fm_status fm_backend_register(const fm_backend_iface *iface) {
    fm_error_clear();
    if (iface == NULL || iface->name == NULL || iface->name[0] == '\0')
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_backend_register: backend or its name is NULL");
    if (iface->struct_size < IFACE_V1_SIZE)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "backend '%s': struct_size %u is smaller than version 1 (%zu)",
                        iface->name, iface->struct_size, (size_t)IFACE_V1_SIZE);
    if (iface->abi_version < 1 || iface->abi_version > FM_BACKEND_ABI_VERSION)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "backend '%s': abi_version %u is not supported (1..%d)",
                        iface->name, iface->abi_version, FM_BACKEND_ABI_VERSION);
    if (!iface->matmul || !iface->get_rows || !iface->rmsnorm || !iface->rope || !iface->attention ||
        !iface->swiglu || !iface->add)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "backend '%s' lacks a required op", iface->name);
    for (int i = 0; i < n_registered; i++) {
        if (strcmp(registry[i]->name, iface->name) == 0) {
            registry[i] = iface;
            return FM_STATUS_OK;
        }
    }
    if (n_registered == MAX_BACKENDS)
        return fm_error(FM_STATUS_NO_MEMORY, "cannot register '%s': %d backends already", iface->name, MAX_BACKENDS);
    registry[n_registered++] = iface;
    return FM_STATUS_OK;
}

const char *fm_backend_name(size_t i) { return i < (size_t)n_registered ? registry[i]->name : NULL; }

const fm_backend_iface *fm_backend_find(const char *name) {
    if (name == NULL) return NULL;
    for (int i = 0; i < n_registered; i++)
        if (strcmp(registry[i]->name, name) == 0) return registry[i];
    return NULL;
}

static fm_status rope_ext_standin(void *ctx, float *x, int32_t n_tok, int32_t n_head, int32_t head_dim, int32_t n_rot,
                                  const int32_t *pos, float freq_base, float freq_scale, int32_t mode) {
    (void)ctx;
    return fm_cpu_rope_ext(NULL, x, n_tok, n_head, head_dim, n_rot, pos, freq_base, freq_scale, mode);
}

fm_status fm_backend_inst_init(fm_backend_inst *b, const char *name, const fm_backend_init_params *p) {
    memset(b, 0, sizeof *b);
    const fm_backend_iface *src = fm_backend_find(name);
    if (src == NULL) return fm_error(FM_STATUS_NOT_FOUND, "no backend named '%s' is registered", name);
    size_t n = src->struct_size < sizeof b->iface ? src->struct_size : sizeof b->iface;
    memcpy(&b->iface, src, n);
    /* Ops added after version 1 are optional: portable kernels stand in.
     * They must not touch the backend's context, which is not a cpu one:
     * layernorm, gelu and add_rows never read it, and rope_ext gets a
     * wrapper that passes none (its angle cache lives in the cpu context). */
    if (b->iface.layernorm == NULL) b->iface.layernorm = fm_cpu_layernorm;
    if (b->iface.gelu == NULL) b->iface.gelu = fm_cpu_gelu;
    if (b->iface.add_rows == NULL) b->iface.add_rows = fm_cpu_add_rows;
    if (b->iface.rope_ext == NULL) b->iface.rope_ext = rope_ext_standin;
    b->ctx = fm_calloc(1, b->iface.ctx_size ? b->iface.ctx_size : 1);
    if (b->ctx == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for backend '%s'", name);
    if (b->iface.init != NULL) {
        fm_status s = b->iface.init(b->ctx, p);
        if (s != FM_STATUS_OK) {
            free(b->ctx);
            b->ctx = NULL;
            if (fm_last_error()[0] == '\0') fm_error(s, "backend '%s' failed to start", name);
            return s;
        }
    }
    return FM_STATUS_OK;
}

void fm_backend_inst_release(fm_backend_inst *b) {
    if (b->ctx == NULL) return;
    if (b->iface.release != NULL) b->iface.release(b->ctx);
    free(b->ctx);
    b->ctx = NULL;
}
