#include "params.h"

#include <stdint.h>
#include <string.h>

#include "error.h"

fm_status fm_params_read(void *dst, size_t size, const void *src, const char *what) {
    if (src == NULL) return FM_STATUS_OK;
    uint32_t src_size;
    memcpy(&src_size, src, sizeof src_size);
    if (src_size < sizeof(uint32_t))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "%s.struct_size is %u; fill the struct with its _params_init() call", what,
                        src_size);
    for (size_t i = size; i < src_size; i++)
        if (((const uint8_t *)src)[i] != 0)
            return fm_error(FM_STATUS_INVALID_ARGUMENT,
                            "%s from a newer libfm sets fields this version does not know (byte %zu)", what, i);
    memcpy(dst, src, src_size < size ? src_size : size);
    uint32_t ours = (uint32_t)size;
    memcpy(dst, &ours, sizeof ours);
    return FM_STATUS_OK;
}

fm_status fm_params_init(void *p, size_t size, const void *defaults, size_t dsize, const char *fn) {
    if (p == NULL || size < sizeof(uint32_t) || size > UINT32_MAX)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "%s: NULL or size %zu out of range", fn, size);
    memset(p, 0, size);
    memcpy(p, defaults, size < dsize ? size : dsize);
    const uint32_t s32 = (uint32_t)size;
    memcpy(p, &s32, sizeof s32);
    return FM_STATUS_OK;
}
