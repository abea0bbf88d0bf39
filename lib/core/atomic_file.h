/* Writing a whole file so that readers see the old file or the new one,
 * never a part: a temporary file beside it, fsync, rename, fsync of the
 * folder. */
#ifndef FM_CORE_ATOMIC_FILE_H
#define FM_CORE_ATOMIC_FILE_H

#include <stddef.h>

#include "fm.h"

/* Writes the n pieces (data[i], len[i]) one after the other as `path`.
 * Errors: IO (the message names the path and the system's reason); on
 * error the temporary file is removed and `path` is untouched. */
fm_status fm_write_file_atomic(const char *path, const void *const *data, const size_t *len, int n);

#endif
