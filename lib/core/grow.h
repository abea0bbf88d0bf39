/* The one growth policy of the library's dynamic arrays. */
#ifndef FM_CORE_GROW_H
#define FM_CORE_GROW_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "alloc.h"

/* Room for at least `need` elements of `size` bytes in the array v, of
 * which *cap are allocated: the capacity doubles (from `first` when v is
 * still empty) until it suffices, so n pushes cost O(n) copying. Returns
 * the array, moved or not, with *cap updated; NULL on allocation failure
 * or size overflow, in which case v and *cap are untouched and v must
 * still be freed by the caller. */
static inline void *fm_grow(void *v, size_t *cap, size_t need, size_t size, size_t first) {
    if (need <= *cap) return v;
    size_t c = *cap ? *cap : first;
    while (c < need) {
        if (c > SIZE_MAX / 2) return NULL;
        c *= 2;
    }
    if (c > SIZE_MAX / size) return NULL;
    void *p = fm_realloc(v, c * size);
    if (p != NULL) *cap = c;
    return p;
}

#endif
