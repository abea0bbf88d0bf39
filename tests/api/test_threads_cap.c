/* A mistyped thread count does not start that many threads: n_threads
 * 1000 (and fm_context_set_n_threads 100000) on this machine start at most
 * 4 x its cores (at least 8) - before, 1000 started 999 workers - and the
 * context still decodes; and none exists before the first context (no
 * OpenBLAS worker threads). Threads are counted in /proc/self/task. */
#include <dirent.h>
#include <stdio.h>
#include <unistd.h>

#include "../common/testutil.h"
#include "fm.h"

static int threads_now(void) {
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    if (d == NULL) return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

int main(void) {
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const int cap = 4 * (int)cores < 8 ? 8 : 4 * (int)cores > 512 ? 512 : 4 * (int)cores;
    fm_model *m;
    CHECK(fm_model_load(tu_data("models/stories260K.gguf"), NULL, &m) == FM_STATUS_OK, "load");
    const int before = threads_now();
    CHECK(before >= 1, "/proc/self/task readable");
    /* libfm is loaded and a model open: nothing but the main thread yet
     * (the threaded OpenBLAS build had started one per core; issue 19) */
    CHECK(before == 1, "%d threads before any context", before);
    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_threads = 1000;
    cp.n_ctx = 64;
    fm_context *c = NULL;
    CHECK(fm_context_new(m, &cp, &c) == FM_STATUS_OK, "context: %s", fm_last_error());
    const int with = threads_now();
    CHECK(with - before <= cap, "n_threads 1000 started %d threads; the cap is %d", with - before, cap);
    CHECK(fm_context_set_n_threads(c, 100000) == FM_STATUS_OK, "set_n_threads");
    CHECK(threads_now() - before <= cap, "set_n_threads 100000 started %d threads", threads_now() - before);
    const fm_token ids[4] = {1, 403, 407, 261};
    CHECK(fm_context_decode(c, ids, 4, FM_LOGITS_LAST) == FM_STATUS_OK && fm_context_logits(c, -1) != NULL,
          "decodes: %s", fm_last_error());
    printf("%ld cores: n_threads 1000 -> %d threads (cap %d)\n", cores, with - before, cap);
    fm_context_free(c);
    fm_model_free(m);
    return tu_finish("thread cap");
}
