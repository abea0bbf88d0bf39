/* Stop strings over a text stream: the text is held back only as long as
 * its tail could still grow into a stop string, so what is emitted is
 * never taken back and the stop string itself never appears. */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "fm.h"

struct fm_stop {
    char **str;
    size_t *len;
    size_t n, max_len;
    char *pend; /* held back text (< max_len bytes between calls) */
    size_t n_pend, cap;
    size_t n_given; /* bytes at the front already returned */
    int32_t matched;
};

void fm_stop_free(fm_stop *s) {
    if (s == NULL) return;
    for (size_t i = 0; i < s->n; i++) free(s->str[i]);
    free(s->str);
    free(s->len);
    free(s->pend);
    free(s);
}

fm_status fm_stop_new(const char *const *strings, size_t n, fm_stop **out) {
    fm_error_clear();
    if (out == NULL || strings == NULL || n == 0 || n > 4096)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_stop_new: NULL argument or no strings");
    *out = NULL;
    for (size_t i = 0; i < n; i++)
        if (strings[i] == NULL || strings[i][0] == '\0')
            return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_stop_new: stop string %zu is NULL or empty", i);
    fm_stop *s = fm_calloc(1, sizeof *s);
    if (s == NULL || (s->str = fm_calloc(n, sizeof *s->str)) == NULL || (s->len = fm_calloc(n, sizeof *s->len)) == NULL) {
        fm_stop_free(s);
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory for stop strings");
    }
    s->n = n;
    for (size_t i = 0; i < n; i++) {
        s->len[i] = strlen(strings[i]);
        if ((s->str[i] = fm_malloc(s->len[i] + 1)) == NULL) {
            fm_stop_free(s);
            return fm_error(FM_STATUS_NO_MEMORY, "out of memory for stop strings");
        }
        memcpy(s->str[i], strings[i], s->len[i] + 1);
        if (s->len[i] > s->max_len) s->max_len = s->len[i];
    }
    s->matched = -1;
    *out = s;
    return FM_STATUS_OK;
}

void fm_stop_reset(fm_stop *s) {
    if (s == NULL) return;
    s->n_pend = s->n_given = 0;
    s->matched = -1;
}

int32_t fm_stop_matched(const fm_stop *s) { return s ? s->matched : -1; }

/* Whether some stop string starts with p[0..n). */
static int is_prefix(const fm_stop *s, const char *p, size_t n) {
    for (size_t i = 0; i < s->n; i++)
        if (s->len[i] > n && memcmp(s->str[i], p, n) == 0) return 1;
    return 0;
}

/* Drops the text returned by the last call from the front of the buffer. */
static void compact(fm_stop *s) {
    if (s->n_given == 0) return;
    memmove(s->pend, s->pend + s->n_given, s->n_pend - s->n_given);
    s->n_pend -= s->n_given;
    s->n_given = 0;
}

fm_status fm_stop_feed(fm_stop *s, const char *text, size_t len, const char **out, size_t *n_out) {
    fm_error_clear();
    if (s == NULL || out == NULL || n_out == NULL || (text == NULL && len > 0))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_stop_feed: NULL argument");
    *out = "";
    *n_out = 0;
    if (s->matched >= 0) return FM_STATUS_OK;
    compact(s);
    if (s->n_pend + len > s->cap) {
        size_t cap = 2 * (s->n_pend + len) + 16;
        char *p = fm_realloc(s->pend, cap);
        if (p == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory in fm_stop_feed");
        s->pend = p;
        s->cap = cap;
    }
    if (len) memcpy(s->pend + s->n_pend, text, len);
    const size_t n = s->n_pend + len;
    s->n_pend = n;
    if (n == 0) return FM_STATUS_OK;
    *out = s->pend;
    /* the earliest complete stop string; of several starting there, the
     * longest, so that all of it is cut */
    size_t first = n, which = 0;
    for (size_t i = 0; i < s->n; i++) {
        const size_t m = s->len[i];
        for (size_t at = 0; at + m <= n && at <= first; at++)
            if (memcmp(s->pend + at, s->str[i], m) == 0) {
                if (at < first || m > s->len[which]) first = at, which = i;
                break;
            }
    }
    if (first < n) {
        s->matched = (int32_t)which;
        *n_out = first;
        s->n_given = s->n_pend = first;
        return FM_STATUS_OK;
    }
    /* hold back the longest tail that some stop string starts with */
    size_t keep = 0;
    for (size_t k = n < s->max_len - 1 ? n : s->max_len - 1; k > 0; k--)
        if (is_prefix(s, s->pend + n - k, k)) {
            keep = k;
            break;
        }
    *n_out = s->n_given = n - keep;
    return FM_STATUS_OK;
}

fm_status fm_stop_flush(fm_stop *s, const char **out, size_t *n_out) {
    fm_error_clear();
    if (s == NULL || out == NULL || n_out == NULL)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_stop_flush: NULL argument");
    *out = "";
    *n_out = 0;
    if (s->matched >= 0) return FM_STATUS_OK;
    compact(s);
    if (s->n_pend) *out = s->pend;
    *n_out = s->n_given = s->n_pend;
    return FM_STATUS_OK;
}
