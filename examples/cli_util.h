/* Small helpers the example programs share (they use only fm.h). */
#ifndef FM_EXAMPLES_CLI_UTIL_H
#define FM_EXAMPLES_CLI_UTIL_H

#include <errno.h>
#include <stdlib.h>
#include <time.h>

/* Monotonic seconds. */
static inline double cli_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A whole string as a number: 1 on success. */
static inline int cli_parse_num(const char *s, double *out) {
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return errno == 0 && end != s && *end == '\0';
}

#endif
