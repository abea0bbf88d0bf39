/* Small helpers shared by the test programs: checks that count failures,
 * locating ../shared test data, reading files and zstd-compressed id lists. */
#ifndef FM_TESTUTIL_H
#define FM_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

extern int tu_failures;
extern int tu_checks;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        tu_checks++;                                                            \
        if (!(cond)) {                                                          \
            tu_failures++;                                                      \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                       \
            fprintf(stderr, "\n");                                              \
        }                                                                       \
    } while (0)

/* Prints a summary and returns the process exit code. */
int tu_finish(const char *name);

/* $FM_TEST_DATA/<rel>; aborts the test (exit 1, not a skip) if
 * FM_TEST_DATA is unset or the folder is missing. Static buffer per call
 * slot: keep at most 8 results alive. */
const char *tu_data(const char *rel);

/* Whole file, NUL-terminated (the NUL is not counted in *len); NULL on error. */
char *tu_read_file(const char *path, size_t *len);

/* Reads "one id per line" text, zstd-compressed if the name ends in .zst.
 * Returns a malloc'd array and sets *n; NULL on error. */
int32_t *tu_read_ids(const char *path, size_t *n);

/* Parses whitespace-separated integers from s. */
int32_t *tu_parse_ids(const char *s, size_t *n);

/* Writes `len` bytes to a new temporary file and returns its path (static
 * buffer slot, as tu_data). */
const char *tu_temp_file(const void *data, size_t len);

#endif
