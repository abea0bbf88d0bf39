/* Small helpers the example programs share (they use only fm.h). */
#ifndef FM_EXAMPLES_CLI_UTIL_H
#define FM_EXAMPLES_CLI_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fm.h"

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

/* Reads a whole file (NUL-terminated); NULL on error. */
static inline char *cli_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0, r;
    do {
        if (n + 4096 + 1 > cap) {
            cap = 2 * cap + 8192;
            char *b = realloc(buf, cap);
            if (b == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        r = fread(buf + n, 1, 4096, f);
        n += r;
    } while (r > 0);
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Text to ids in a malloc'd array (*ids, *n; free it whatever the status). */
static inline fm_status cli_tokenize(const fm_tokenizer *tok, const char *text, size_t len, uint32_t flags,
                                     fm_token **ids, size_t *n) {
    *ids = NULL;
    fm_status s = fm_tokenizer_encode(tok, text, len, flags, NULL, 0, n);
    if (s != FM_STATUS_OK && s != FM_STATUS_BUFFER_TOO_SMALL) return s;
    if ((*ids = malloc((*n ? *n : 1) * sizeof **ids)) == NULL) return FM_STATUS_NO_MEMORY;
    return s == FM_STATUS_OK ? s : fm_tokenizer_encode(tok, text, len, flags, *ids, *n, n);
}

#endif
