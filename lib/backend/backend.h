/* A backend bound to one context: its table plus its state. */
#ifndef FM_BACKEND_BACKEND_H
#define FM_BACKEND_BACKEND_H

#include "fm_backend.h"

typedef struct fm_backend_inst {
    fm_backend_iface iface; /* copy, with fields past the caller's struct_size zeroed */
    void *ctx;
} fm_backend_inst;

fm_status fm_backend_inst_init(fm_backend_inst *b, const char *name, const fm_backend_init_params *p);
void fm_backend_inst_release(fm_backend_inst *b);

/* The built-in backends: "cpu" (best kernels for this CPU) and "cpu-ref"
 * (portable reference kernels, the oracle). */
extern const fm_backend_iface fm_cpu_backend, fm_cpu_ref_backend;

#endif
