/* BLAS from several threads at once. libfm calls sgemm from each of its
 * pool threads (a prompt's float matmuls and attention blocks), and two
 * contexts on two host threads call it at the same time. Debian's serial
 * OpenBLAS (the build libfm links so that no OpenBLAS thread exists) is
 * built without USE_LOCKING: two concurrent sgemm calls can be handed the
 * same internal buffer and each packs its operands into the other's
 * (found as a rare mismatch in test_kernels' 1/2/3-thread check). Every
 * result here must be bit-identical to the one computed on one thread,
 * however the calls overlap. FM_FLOAT_GEMM=blas sends float weights to
 * sgemm on every kernel table. Many short sgemm calls (256-row chunks of a
 * narrow weight) make the overlap likely: before the fix this failed on
 * most runs. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "backend/backend.h"

enum { ROWS = 256 * 32, COLS = 16, T = 32, ITERS = 1500, HOSTS = 2 };

static float *w_data, *x, *expect;
static fm_weight w;

static unsigned rng = 12345;
static float rnd(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

/* one host thread with a one-thread context of its own */
static void *host(void *arg) {
    int *bad = arg;
    fm_backend_init_params p = {sizeof p, 1, 128, 16};
    fm_backend_inst b;
    if (fm_backend_inst_init(&b, "cpu", &p) != FM_STATUS_OK) { *bad = -1; return NULL; }
    float *y = malloc((size_t)T * ROWS * sizeof *y);
    for (int it = 0; it < ITERS && y != NULL; it++) {
        if (b.iface.matmul(b.ctx, &w, x, T, y, ROWS) != FM_STATUS_OK) { *bad = -1; break; }
        *bad += memcmp(y, expect, (size_t)T * ROWS * sizeof *y) != 0;
    }
    free(y);
    fm_backend_inst_release(&b);
    return NULL;
}

int main(void) {
    setenv("FM_FLOAT_GEMM", "blas", 1);
    w_data = malloc((size_t)ROWS * COLS * sizeof *w_data);
    x = malloc((size_t)T * COLS * sizeof *x);
    expect = malloc((size_t)T * ROWS * sizeof *expect);
    float *y = malloc((size_t)T * ROWS * sizeof *y);
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++) w_data[i] = rnd();
    for (size_t i = 0; i < (size_t)T * COLS; i++) x[i] = rnd();
    w = (fm_weight){w_data, FM_DTYPE_F32, 0, ROWS, COLS, COLS * sizeof(float)};

    fm_backend_init_params p = {sizeof p, 1, 128, 16};
    fm_backend_inst one, two;
    CHECK(fm_backend_inst_init(&one, "cpu", &p) == FM_STATUS_OK, "cpu, 1 thread");
    p.n_threads = 2;
    CHECK(fm_backend_inst_init(&two, "cpu", &p) == FM_STATUS_OK, "cpu, 2 threads");
    CHECK(one.iface.matmul(one.ctx, &w, x, T, expect, ROWS) == FM_STATUS_OK, "matmul, 1 thread");

    /* one context, its two pool threads calling sgemm together */
    int differ = 0;
    for (int it = 0; it < ITERS; it++) {
        CHECK(two.iface.matmul(two.ctx, &w, x, T, y, ROWS) == FM_STATUS_OK, "matmul, 2 threads");
        differ += memcmp(y, expect, (size_t)T * ROWS * sizeof *y) != 0;
    }
    CHECK(differ == 0, "2-thread prompt matmul through BLAS: %d of %d results differ from 1 thread", differ, ITERS);
    printf("one context, 2 threads: %d of %d prompt matmuls differ from 1 thread\n", differ, ITERS);

    /* two contexts on two host threads */
    pthread_t th[HOSTS];
    int bad[HOSTS] = {0};
    for (int i = 0; i < HOSTS; i++) CHECK(pthread_create(&th[i], NULL, host, &bad[i]) == 0, "pthread_create");
    for (int i = 0; i < HOSTS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < HOSTS; i++) {
        CHECK(bad[i] == 0, "host thread %d: %d of %d prompt matmuls differ from 1 thread", i, bad[i], ITERS);
        printf("host thread %d (own context): %d of %d prompt matmuls differ\n", i, bad[i], ITERS);
    }

    fm_backend_inst_release(&one);
    fm_backend_inst_release(&two);
    free(w_data), free(x), free(expect), free(y);
    return tu_finish("test_blas_threads");
}
