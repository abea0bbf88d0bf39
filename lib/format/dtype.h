/* Block sizes of the weight types, shared by every reader and kernel. */
#ifndef FM_FORMAT_DTYPE_H
#define FM_FORMAT_DTYPE_H

#include <stddef.h>
#include <stdint.h>

typedef struct fm_dtype_traits {
    const char *name;
    uint32_t block_elems; /* elements per block */
    uint32_t block_bytes; /* bytes per block */
} fm_dtype_traits;

/* Traits of `dtype`, or NULL for an unknown type id. */
const fm_dtype_traits *fm_dtype_get(uint32_t dtype);

/* Bytes of a row of `n` elements; 0 if n is not a multiple of the block. */
size_t fm_dtype_row_bytes(uint32_t dtype, int64_t n);

#endif
