/* Every heap allocation libfm makes goes through these, so that a test can
 * make the k-th one fail and check that the failure comes back as
 * FM_STATUS_NO_MEMORY with nothing leaked (tests/unit/test_alloc_fail.c;
 * tests/tools/check_alloc.py fails the build's tests if any object file
 * but alloc.c calls the C allocator directly). Memory from these is
 * released with free(). */
#ifndef FM_CORE_ALLOC_H
#define FM_CORE_ALLOC_H

#include <stddef.h>

void *fm_malloc(size_t n);
void *fm_calloc(size_t n, size_t size);
void *fm_realloc(void *p, size_t n);
char *fm_strdup(const char *s);
/* `align` a power of two and a multiple of sizeof(void *); NULL on failure. */
void *fm_aligned_alloc(size_t align, size_t n);

/* Test hook, never used by the library itself. From this call on,
 * allocations are counted; the k-th (k >= 1) fails, and when `persistent`
 * is set every one after it fails too. k = 0 counts without failing.
 * Process-wide and not meant for concurrent use with other tests. */
void fm_alloc_test_arm(long k, int persistent);
/* Stops counting and failing; returns the number of allocations counted
 * since fm_alloc_test_arm (failed ones included). */
long fm_alloc_test_disarm(void);
/* Allocations that were made to fail since the last arm. */
long fm_alloc_test_failures(void);

#endif
