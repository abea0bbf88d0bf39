/* Issue 16, acceptance 5: stop strings split across 1, 2 and 3 pieces,
 * overlapping prefixes, at the very start; the stop string is never
 * emitted and nothing emitted is ever taken back. */
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "fm.h"

/* Feeds `pieces` (NULL-terminated) and returns the emitted text (static
 * buffer) and the matched index. */
static const char *run(const char *const *stops, size_t n_stops, const char *const *pieces, int *matched) {
    static char outbuf[1024];
    size_t used = 0;
    fm_stop *s;
    CHECK(fm_stop_new(stops, n_stops, &s) == FM_STATUS_OK, "new");
    for (int i = 0; pieces[i]; i++) {
        const char *o;
        size_t n;
        CHECK(fm_stop_feed(s, pieces[i], strlen(pieces[i]), &o, &n) == FM_STATUS_OK, "feed");
        memcpy(outbuf + used, o, n);
        used += n;
    }
    const char *o;
    size_t n;
    CHECK(fm_stop_flush(s, &o, &n) == FM_STATUS_OK, "flush");
    memcpy(outbuf + used, o, n);
    used += n;
    outbuf[used] = 0;
    *matched = fm_stop_matched(s);
    fm_stop_free(s);
    return outbuf;
}

#define EXPECT(stops, pieces, want, want_m)                                                                  \
    do {                                                                                                      \
        int m_;                                                                                               \
        const char *got_ = run(stops, sizeof stops / sizeof stops[0], pieces, &m_);                           \
        CHECK(!strcmp(got_, want) && m_ == (want_m), "got \"%s\" (match %d), want \"%s\" (%d)", got_, m_, want, \
              want_m);                                                                                        \
    } while (0)

int main(void) {
    const char *const one[] = {"STOP"};
    const char *const p1[] = {"hello STOP world", NULL};
    EXPECT(one, p1, "hello ", 0);
    const char *const p2[] = {"hello ST", "OP world", NULL};
    EXPECT(one, p2, "hello ", 0);
    const char *const p3[] = {"hello S", "T", "OP", "world", NULL};
    EXPECT(one, p3, "hello ", 0);
    const char *const start[] = {"STOP", "after", NULL};
    EXPECT(one, start, "", 0);
    const char *const near[] = {"a ST", "OR", "Y", NULL};
    EXPECT(one, near, "a STORY", -1); /* a held-back prefix that did not become a stop is emitted */
    const char *const endheld[] = {"abc STO", NULL};
    EXPECT(one, endheld, "abc STO", -1); /* flush gives the held tail back */

    /* overlapping: "abab" inside "abababx" - the earliest occurrence */
    const char *const ab[] = {"abab"};
    const char *const pab[] = {"xab", "a", "bab", NULL};
    EXPECT(ab, pab, "x", 0);
    /* a false start whose suffix begins the real one: "aab" in "a" "a" "b" */
    const char *const aab[] = {"aab"};
    const char *const paab[] = {"a", "a", "a", "b", "c", NULL};
    EXPECT(aab, paab, "a", 0);
    /* several strings: the earliest wins; at the same place the longest */
    const char *const many[] = {"\n\n", "User:", "\n"};
    const char *const pm[] = {"Answer.\n\nUser:", NULL};
    EXPECT(many, pm, "Answer.", 0);
    /* streamed, "\n" is complete before a second one could come */
    const char *const pms[] = {"Answer.", "\n", "\nUser:", NULL};
    EXPECT(many, pms, "Answer.", 2);
    const char *const pm2[] = {"Hi Us", "er: x\n", NULL};
    EXPECT(many, pm2, "Hi ", 1);

    /* emitted text never contains a prefix that later completes */
    fm_stop *s;
    const char *const st[] = {"</s>"};
    CHECK(fm_stop_new(st, 1, &s) == FM_STATUS_OK, "new");
    const char *o;
    size_t n;
    fm_stop_feed(s, "x<", 2, &o, &n);
    CHECK(n == 1 && o[0] == 'x', "holds back '<' (%zu)", n);
    fm_stop_feed(s, "/", 1, &o, &n);
    CHECK(n == 0, "still held");
    fm_stop_feed(s, "s>", 2, &o, &n);
    CHECK(n == 0 && fm_stop_matched(s) == 0, "matched, nothing emitted");
    fm_stop_feed(s, "more", 4, &o, &n);
    CHECK(n == 0, "nothing after a stop");
    fm_stop_reset(s);
    fm_stop_feed(s, "ok", 2, &o, &n);
    CHECK(n == 2 && fm_stop_matched(s) == -1, "reset starts over");
    fm_stop_free(s);

    /* bad input */
    const char *const empty[] = {""};
    CHECK(fm_stop_new(empty, 1, &s) == FM_STATUS_INVALID_ARGUMENT, "empty stop string refused");
    CHECK(fm_stop_new(one, 0, &s) == FM_STATUS_INVALID_ARGUMENT, "no strings refused");
    CHECK(fm_stop_feed(NULL, "a", 1, &o, &n) == FM_STATUS_INVALID_ARGUMENT, "NULL matcher");
    CHECK(fm_stop_matched(NULL) == -1, "NULL matched");
    fm_stop_free(NULL);
    return tu_finish("test_stop");
}
