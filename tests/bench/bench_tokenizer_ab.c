/* Two builds of libfm side by side in one process, for changes too small to
 * see across runs on a noisy machine: both load the same vocabulary, then
 * encode the same file in alternation (A then B, B then A), and the speed
 * ratio is the median of the per-pair ratios.
 * usage: bench_tokenizer_ab LIB_A.so LIB_B.so VOCAB FILE [PAIRS]
 * (copy each build's libfm.so aside first: both must stay loadable) */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "fm.h"

typedef fm_status (*load_fn)(const char *, const void *, fm_tokenizer **);
typedef fm_status (*encode_fn)(const fm_tokenizer *, const char *, size_t, uint32_t, fm_token *, size_t, size_t *);


int main(int argc, char **argv) {
    if (argc < 5) return fprintf(stderr, "usage: %s LIB_A.so LIB_B.so VOCAB FILE [PAIRS]\n", argv[0]), 2;
    const int pairs = argc > 5 && atoi(argv[5]) > 0 ? atoi(argv[5]) : 20;
    FILE *f = fopen(argv[4], "rb");
    if (f == NULL) return fprintf(stderr, "cannot open %s\n", argv[4]), 1;
    fseek(f, 0, SEEK_END);
    const long len = ftell(f);
    rewind(f);
    char *text = malloc((size_t)len + 1);
    fm_token *ids = malloc(((size_t)len * 2 + 16) * sizeof *ids);
    if (text == NULL || ids == NULL || fread(text, 1, (size_t)len, f) != (size_t)len) return 1;
    fclose(f);
    encode_fn enc[2];
    fm_tokenizer *tok[2];
    size_t n_ids[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        void *h = dlopen(argv[1 + i], RTLD_NOW | RTLD_LOCAL);
        if (h == NULL) return fprintf(stderr, "%s\n", dlerror()), 1;
        load_fn load;
        *(void **)&load = dlsym(h, "fm_tokenizer_load");
        *(void **)&enc[i] = dlsym(h, "fm_tokenizer_encode");
        if (load == NULL || enc[i] == NULL || load(argv[3], NULL, &tok[i]) != FM_STATUS_OK)
            return fprintf(stderr, "%s: cannot load %s\n", argv[1 + i], argv[3]), 1;
    }
    double *ratio = malloc((size_t)pairs * sizeof *ratio), *ta = malloc((size_t)pairs * sizeof *ta),
           *tb = malloc((size_t)pairs * sizeof *tb);
    for (int p = 0; p < pairs; p++) {
        double t[2];
        for (int k = 0; k < 2; k++) {
            const int i = p % 2 ? 1 - k : k; /* alternate which goes first */
            const double t0 = bench_now();
            enc[i](tok[i], text, (size_t)len, 0, ids, (size_t)len * 2 + 16, &n_ids[i]);
            t[i] = bench_now() - t0;
        }
        ratio[p] = t[0] / t[1], ta[p] = t[0], tb[p] = t[1];
    }
    if (n_ids[0] != n_ids[1]) printf("token counts differ: %zu vs %zu\n", n_ids[0], n_ids[1]);
    qsort(ratio, (size_t)pairs, sizeof *ratio, bench_cmp_double);
    qsort(ta, (size_t)pairs, sizeof *ta, bench_cmp_double);
    qsort(tb, (size_t)pairs, sizeof *tb, bench_cmp_double);
    const char *name = strrchr(argv[4], '/') ? strrchr(argv[4], '/') + 1 : argv[4];
    printf("%-24s A %7.2f MB/s  B %7.2f MB/s  B/A speed %.3f (quartiles %.3f-%.3f, %d pairs)\n", name,
           len / ta[pairs / 2] / 1e6, len / tb[pairs / 2] / 1e6, ratio[pairs / 2], ratio[pairs / 4],
           ratio[3 * pairs / 4], pairs);
    return 0;
}
