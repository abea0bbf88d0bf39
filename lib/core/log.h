/* The logging hook behind fm_set_log_callback(). */
#ifndef FM_CORE_LOG_H
#define FM_CORE_LOG_H

#include "error.h"

void fm_log(fm_log_level level, const char *fmt, ...) FM_PRINTF(2, 3);

#endif
