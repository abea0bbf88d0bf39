#include "error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[512];

fm_status fm_error(fm_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

void fm_error_clear(void) { last_error[0] = '\0'; }

const char *fm_last_error(void) { return last_error; }

const char *fm_status_name(fm_status status) {
    switch (status) {
    case FM_STATUS_OK: return "FM_STATUS_OK";
    case FM_STATUS_INVALID_ARGUMENT: return "FM_STATUS_INVALID_ARGUMENT";
    case FM_STATUS_IO: return "FM_STATUS_IO";
    case FM_STATUS_BAD_FORMAT: return "FM_STATUS_BAD_FORMAT";
    case FM_STATUS_UNSUPPORTED: return "FM_STATUS_UNSUPPORTED";
    case FM_STATUS_NO_MEMORY: return "FM_STATUS_NO_MEMORY";
    case FM_STATUS_CONTEXT_FULL: return "FM_STATUS_CONTEXT_FULL";
    case FM_STATUS_BUFFER_TOO_SMALL: return "FM_STATUS_BUFFER_TOO_SMALL";
    case FM_STATUS_NOT_FOUND: return "FM_STATUS_NOT_FOUND";
    case FM_STATUS_INVALID_UTF8: return "FM_STATUS_INVALID_UTF8";
    case FM_STATUS_BACKEND: return "FM_STATUS_BACKEND";
    case FM_STATUS_INTERNAL: return "FM_STATUS_INTERNAL";
    case FM_STATUS_CANCELLED: return "FM_STATUS_CANCELLED";
    case FM_STATUS_ABORTED: return "FM_STATUS_ABORTED";
    }
    return "FM_STATUS_UNKNOWN";
}
