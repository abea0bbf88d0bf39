#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

int tu_failures;
int tu_checks;

int tu_finish(const char *name) {
    printf("%s: %d checks, %d failed\n", name, tu_checks, tu_failures);
    return tu_failures == 0 ? 0 : 1;
}

static char slots[8][4096];
static int next_slot;

const char *tu_data(const char *rel) {
    const char *root = getenv("FM_TEST_DATA");
    struct stat st;
    if (root == NULL || stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "FATAL: test data folder '%s' is missing (set -Dtest_data=)\n", root ? root : "(unset)");
        exit(1);
    }
    char *s = slots[next_slot++ % 8];
    snprintf(s, sizeof slots[0], "%s/%s", root, rel);
    return s;
}

char *tu_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *p = realloc(buf, cap * 2 + 1);
            if (p == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = p;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf == NULL) return NULL;
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

int32_t *tu_parse_ids(const char *s, size_t *n) {
    size_t cap = 64, k = 0;
    int32_t *v = malloc(cap * sizeof *v);
    while (v != NULL) {
        char *end;
        long x = strtol(s, &end, 10);
        if (end == s) break;
        if (k == cap) {
            int32_t *p = realloc(v, cap * 2 * sizeof *v);
            if (p == NULL) {
                free(v);
                return NULL;
            }
            v = p;
            cap *= 2;
        }
        v[k++] = (int32_t)x;
        s = end;
    }
    *n = k;
    return v;
}

int32_t *tu_read_ids(const char *path, size_t *n) {
    size_t len;
    char *raw = tu_read_file(path, &len);
    if (raw == NULL) return NULL;
    size_t pl = strlen(path);
    if (pl > 4 && strcmp(path + pl - 4, ".zst") == 0) {
        unsigned long long size = ZSTD_getFrameContentSize(raw, len);
        if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > (1ull << 32)) {
            free(raw);
            return NULL;
        }
        char *text = malloc((size_t)size + 1);
        size_t got = text ? ZSTD_decompress(text, (size_t)size, raw, len) : 0;
        free(raw);
        if (text == NULL || ZSTD_isError(got)) {
            free(text);
            return NULL;
        }
        text[got] = '\0';
        raw = text;
    }
    int32_t *ids = tu_parse_ids(raw, n);
    free(raw);
    return ids;
}

const char *tu_temp_file(const void *data, size_t len) {
    char *s = slots[next_slot++ % 8];
    const char *dir = getenv("TMPDIR");
    snprintf(s, sizeof slots[0], "%s/fmtestXXXXXX", dir ? dir : "/tmp");
    int fd = mkstemp(s);
    if (fd < 0) return NULL;
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w <= 0) break;
        p += w;
        len -= (size_t)w;
    }
    close(fd);
    return s;
}
