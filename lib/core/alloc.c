/* The library's one door to the C allocator (see alloc.h). The unarmed
 * cost is one relaxed atomic load per allocation. */
#include "alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_int armed;
static atomic_long counted, fail_at, failed;
static atomic_int fail_persistent;

static int should_fail(void) {
    if (!atomic_load_explicit(&armed, memory_order_relaxed)) return 0;
    long n = atomic_fetch_add(&counted, 1) + 1;
    long k = atomic_load(&fail_at);
    if (k <= 0) return 0;
    if (n == k || (n > k && atomic_load(&fail_persistent))) {
        atomic_fetch_add(&failed, 1);
        return 1;
    }
    return 0;
}

void *fm_malloc(size_t n) { return should_fail() ? NULL : malloc(n); }

void *fm_calloc(size_t n, size_t size) { return should_fail() ? NULL : calloc(n, size); }

void *fm_realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n); }

char *fm_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = fm_malloc(n);
    if (d != NULL) memcpy(d, s, n);
    return d;
}

void *fm_aligned_alloc(size_t align, size_t n) {
    void *p = NULL;
    if (should_fail() || posix_memalign(&p, align, n) != 0) return NULL;
    return p;
}

void fm_alloc_test_arm(long k, int persistent) {
    atomic_store(&counted, 0);
    atomic_store(&failed, 0);
    atomic_store(&fail_at, k);
    atomic_store(&fail_persistent, persistent);
    atomic_store(&armed, 1);
}

long fm_alloc_test_disarm(void) {
    atomic_store(&armed, 0);
    return atomic_load(&counted);
}

long fm_alloc_test_failures(void) { return atomic_load(&failed); }
