/* Reading a caller's params struct whatever header version it came from. */
#ifndef FM_CORE_PARAMS_H
#define FM_CORE_PARAMS_H

#include <stddef.h>

#include "fm.h"

/* `dst` (our struct, `size` bytes, first field uint32_t struct_size) holds
 * the defaults. Copies the part of `src` the caller's struct_size covers:
 * an older, smaller struct keeps our defaults for the missing tail; a newer,
 * larger one is accepted only if its unknown tail is all zero. src NULL
 * keeps the defaults. `what` names the struct in messages. */
fm_status fm_params_read(void *dst, size_t size, const void *src, const char *what);

/* The fm_*_params_init() pattern: fills the caller's struct `p` of `size`
 * bytes with `defaults` (our struct, `dsize` bytes) up to `size`, zeroes
 * any tail beyond ours and records `size` in struct_size. `fn` names the
 * call in messages. */
fm_status fm_params_init(void *p, size_t size, const void *defaults, size_t dsize, const char *fn);

#endif
