/* Thread-local error messages behind fm_last_error(). */
#ifndef FM_CORE_ERROR_H
#define FM_CORE_ERROR_H

#include "fm.h"

#if defined(__GNUC__)
#define FM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define FM_PRINTF(a, b)
#endif

/* Records a message for fm_last_error() and returns `status`, so that error
 * paths read `return fm_error(FM_STATUS_IO, "cannot open %s", path);`. */
fm_status fm_error(fm_status status, const char *fmt, ...) FM_PRINTF(2, 3);

/* Clears the message at the start of a public call. */
void fm_error_clear(void);

#endif
