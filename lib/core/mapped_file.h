/* Read-only whole-file mappings, so weights are paged in on demand and
 * shared between processes. */
#ifndef FM_CORE_MAPPED_FILE_H
#define FM_CORE_MAPPED_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "fm.h"

typedef struct fm_mapped_file {
    const uint8_t *data;
    size_t size;
} fm_mapped_file;

/* Maps `path`; an empty file gives size 0 and a non-NULL data pointer. */
fm_status fm_mapped_file_open(fm_mapped_file *mf, const char *path);
void fm_mapped_file_close(fm_mapped_file *mf);

#endif
