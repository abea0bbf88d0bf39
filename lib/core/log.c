#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static void log_to_stderr(fm_log_level level, const char *message, void *user) {
    static const char *const names[] = {"error", "warning", "info", "debug"};
    (void)user;
    fprintf(stderr, "libfm %s: %s\n", names[level], message);
}

/* Set once at init time (fm_set_log_callback is "init only"), read after. */
static fm_log_fn log_fn = log_to_stderr;
static void *log_user;
static fm_log_level log_max = FM_LOG_WARN;

void fm_set_log_callback(fm_log_fn fn, void *user, fm_log_level max_level) {
    log_fn = fn;
    log_user = user;
    log_max = max_level;
}

void fm_log(fm_log_level level, const char *fmt, ...) {
    if (log_fn == NULL || level > log_max) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log_fn(level, line, log_user);
}
