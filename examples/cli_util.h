/* Small helpers the example programs share (they use only fm.h). */
#ifndef FM_EXAMPLES_CLI_UTIL_H
#define FM_EXAMPLES_CLI_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_args.h"
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

/* Reads a whole stream (NUL-terminated, the NUL not counted); NULL on error. */
static inline char *cli_read_stream(FILE *f, size_t *len) {
    char *buf = NULL;
    size_t n = 0, cap = 0, r;
    do {
        if (n + 4096 + 1 > cap) {
            cap = 2 * cap + 8192;
            char *b = realloc(buf, cap);
            if (b == NULL) {
                free(buf);
                return NULL;
            }
            buf = b;
        }
        r = fread(buf + n, 1, 4096, f);
        n += r;
    } while (r > 0);
    if (ferror(f)) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Reads a whole file (NUL-terminated); NULL on error (errno says why). */
static inline char *cli_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    char *buf = cli_read_stream(f, len);
    fclose(f);
    return buf;
}

/* Keeps the longest prefix of `ids` (n >= 1) that sequence 0 already holds
 * and removes the rest of the sequence, so that decoding ids[kept..n)
 * brings it to `ids`; at least the last id is left to decode, for its
 * logits. Returns the number kept (0 if the cache cannot be read). */
static inline size_t cli_keep_common_prefix(fm_context *ctx, const fm_token *ids, size_t n) {
    size_t nc = 0, common = 0;
    fm_context_seq_tokens(ctx, 0, NULL, 0, &nc);
    fm_token *cached = malloc((nc ? nc : 1) * sizeof *cached);
    if (cached != NULL && fm_context_seq_tokens(ctx, 0, cached, nc, &nc) == FM_STATUS_OK)
        while (common < nc && common < n && cached[common] == ids[common]) common++;
    free(cached);
    if (common == n) common = n - 1;
    fm_context_seq_rm(ctx, 0, (int32_t)common, -1);
    return common;
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
