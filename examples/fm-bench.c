/* fm-bench: prompt processing (pp) and generation (tg) speed of a model,
 * measured the way llama-bench measures them, so the numbers compare:
 * pp N decodes N prompt tokens in one call into an empty context; tg N
 * decodes N tokens one call each after one start token. Each test runs
 * once to warm up, then REPS times. Uses only the public API (fm.h). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_args.h"
#include "fm.h"
#include "fm_backend.h"

#define MAX_LIST 16

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int parse_list(const char *s, int *out, int *n) {
    *n = 0;
    while (*s && *n < MAX_LIST) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || v < 0 || v > 1000000) return 0;
        out[(*n)++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end != ',' && *end != '\0') return 0;
    }
    return *n > 0;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- the read-bandwidth probe: the ceiling generation speed is held to --- */

typedef struct bw_arg {
    const uint64_t *p;
    size_t n;
    uint64_t sum;
} bw_arg;

/* Reads its part as four streams in step, each prefetched 1 KiB ahead,
 * the way the generation kernels read four weight rows: one stream of
 * 8-byte loads left the probe below what those kernels reach (measured
 * 23.7 GB/s where Q4_K_M generation moved 26.8 GB/s on a Zen 5 VM). */
static void *bw_read(void *arg) {
    bw_arg *a = arg;
    const size_t q = a->n / 4 / 8 * 8;
    const uint64_t *p0 = a->p, *p1 = p0 + q, *p2 = p1 + q, *p3 = p2 + q;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < q; i += 8) {
        __builtin_prefetch(p0 + i + 128);
        __builtin_prefetch(p1 + i + 128);
        __builtin_prefetch(p2 + i + 128);
        __builtin_prefetch(p3 + i + 128);
        for (int k = 0; k < 8; k++) s0 += p0[i + k], s1 += p1[i + k], s2 += p2[i + k], s3 += p3[i + k];
    }
    a->sum = s0 + s1 + s2 + s3;
    return NULL;
}

static int bandwidth(int threads, int reps) {
    const size_t bytes = (size_t)1 << 30, n = bytes / 8;
    uint64_t *buf = malloc(bytes);
    if (buf == NULL) {
        fprintf(stderr, "fm-bench: no memory for the probe\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++) buf[i] = i;
    if (threads <= 0) threads = 1;
    double best = 0, samples[64];
    for (int r = 0; r < reps + 1; r++) {
        pthread_t th[64];
        bw_arg args[64];
        const double t0 = now_ns();
        for (int i = 0; i < threads; i++) {
            args[i] = (bw_arg){buf + n / (size_t)threads * (size_t)i, n / (size_t)threads, 0};
            pthread_create(&th[i], NULL, bw_read, &args[i]);
        }
        uint64_t total = 0;
        for (int i = 0; i < threads; i++) pthread_join(th[i], NULL), total += args[i].sum;
        const double gbs = (double)bytes / (now_ns() - t0);
        if (total == 42) printf(" "); /* keeps the reads */
        if (r > 0) samples[r - 1] = gbs;
        if (r > 0 && gbs > best) best = gbs;
    }
    qsort(samples, (size_t)reps, sizeof *samples, cmp_double);
    printf("read bandwidth, %d thread%s, 1 GiB: median %.1f GB/s, best %.1f GB/s (%d runs)\n", threads,
           threads > 1 ? "s" : "", samples[reps / 2], best, reps);
    free(buf);
    return 0;
}

typedef struct result {
    int n_prompt, n_gen, n_threads, reps;
    double ns[64]; /* per repetition */
} result;

/* One repetition of a test for np parallel sequences: a prompt of each
 * in one batch, or after one start token shared by all, n_gen steps of
 * one token each, in one batch. */
static double run_parallel(fm_context *ctx, fm_batch *b, const fm_token *ids, int n_prompt, int n_gen, int np) {
    fm_context_clear(ctx);
    fm_batch_clear(b);
    double t0 = now_ns();
    for (fm_seq_id s = 0; s < np && n_prompt > 0; s++)
        for (int i = 0; i < n_prompt; i++)
            if (fm_batch_add(b, ids[i], i, &s, 1, i + 1 == n_prompt) != FM_STATUS_OK) return -1;
    if (n_prompt > 0 && fm_context_decode_batch(ctx, b) != FM_STATUS_OK) return -1;
    if (n_gen > 0) {
        fm_seq_id all[256];
        for (int s = 0; s < np; s++) all[s] = s;
        fm_batch_clear(b);
        if (fm_batch_add(b, ids[0], 0, all, np, 1) != FM_STATUS_OK || fm_context_decode_batch(ctx, b) != FM_STATUS_OK)
            return -1; /* start token, untimed */
        t0 = now_ns();
        for (int i = 0; i < n_gen; i++) {
            fm_batch_clear(b);
            for (fm_seq_id s = 0; s < np; s++)
                if (fm_batch_add(b, ids[1 + (i + s) % n_gen], FM_POS_NEXT, &s, 1, 1) != FM_STATUS_OK) return -1;
            if (fm_context_decode_batch(ctx, b) != FM_STATUS_OK) return -1;
        }
    }
    return now_ns() - t0;
}

/* One repetition of a test in a fresh state of ctx; returns nanoseconds or < 0. */
static double run_once(fm_context *ctx, fm_batch *b, const fm_token *ids, int n_prompt, int n_gen, int np) {
    if (np > 1) return run_parallel(ctx, b, ids, n_prompt, n_gen, np);
    fm_context_truncate(ctx, 0);
    double t0 = now_ns();
    if (n_prompt > 0 && fm_context_decode(ctx, ids, (size_t)n_prompt, FM_LOGITS_LAST) != FM_STATUS_OK) return -1;
    if (n_gen > 0) {
        if (fm_context_decode(ctx, ids, 1, FM_LOGITS_LAST) != FM_STATUS_OK) return -1; /* start token, untimed */
        t0 = now_ns();
        for (int i = 0; i < n_gen; i++)
            if (fm_context_decode(ctx, &ids[1 + i], 1, FM_LOGITS_LAST) != FM_STATUS_OK) return -1;
    }
    return now_ns() - t0;
}

/* The weight type holding the most bytes, as llama-bench names models. */
static const char *main_type(const fm_model *m) {
    static char best[16];
    uint64_t bytes[64] = {0};
    const char *names[64] = {0};
    for (int64_t i = 0; i < fm_model_get_info(m, FM_MODEL_N_TENSORS); i++) {
        fm_tensor_desc d;
        memset(&d, 0, sizeof d);
        d.struct_size = sizeof d;
        if (fm_model_tensor(m, i, &d) == FM_STATUS_OK && d.dtype >= 0 && d.dtype < 64) {
            bytes[d.dtype] += d.n_bytes;
            names[d.dtype] = d.type;
        }
    }
    int b = 0;
    for (int t = 1; t < 64; t++)
        if (bytes[t] > bytes[b]) b = t;
    snprintf(best, sizeof best, "%s", names[b] ? names[b] : "?");
    for (char *p = best; *p; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
    return best;
}

typedef struct int_list {
    int *v, *n;
} int_list;

/* -p/-n/-t: N or N,N,... */
static int opt_list(void *dst, const char *name, const char *v) {
    const int_list *l = dst;
    if (parse_list(v, l->v, l->n)) return 0;
    fprintf(stderr, "fm-bench: %s '%s': want N or N,N,... (0..1000000, at most %d)\n", name, v, MAX_LIST);
    return -1;
}

/* -ctk / -ctv f32|f16: one type for both (libfm's cache has no mixed mode) */
static int opt_kv(void *dst, const char *name, const char *v) {
    int *kv_f16 = dst;
    const int f16 = !strcmp(v, "f16");
    if ((f16 || !strcmp(v, "f32")) && (*kv_f16 < 0 || *kv_f16 == f16)) {
        *kv_f16 = f16;
        return 0;
    }
    fprintf(stderr, "fm-bench: %s '%s': want f32 or f16, the same for -ctk and -ctv\n", name, v);
    return -1;
}

/* -o json|md (llama-bench's) */
static int opt_output(void *dst, const char *name, const char *v) {
    int *json = dst;
    if (!strcmp(v, "json") || !strcmp(v, "md")) {
        *json = !strcmp(v, "json");
        return 0;
    }
    fprintf(stderr, "fm-bench: %s '%s': want json or md\n", name, v);
    return -1;
}

int main(int argc, char **argv) {
    const char *path = NULL, *backend = NULL;
    int pp[MAX_LIST] = {512}, n_pp = 1, tg[MAX_LIST] = {128}, n_tg = 1, th[MAX_LIST] = {0}, n_th = 1;
    int json = 0, probe = 0, batch_inv = 0;
    double reps_d = 5, batch_d = 512, np_d = 1;
    int kv_f16_set = -1; /* -ctk/-ctv: -1 unset, else 0 f32, 1 f16 */
    int_list lp = {pp, &n_pp}, lg = {tg, &n_tg}, lt = {th, &n_th};
    const cli_opt opts[] = {
        {"-m|--model", CLI_STR, &path, "FILE", "GGUF model or llama2.c checkpoint (required)", NULL, 0},
        {"-p|--n-prompt", CLI_FN, &lp, "N[,N..]", "prompt tokens per pp test; 0 = none (default: 512)", opt_list, 0},
        {"-n|--n-gen", CLI_FN, &lg, "N[,N..]", "generated tokens per tg test; 0 = none (default: 128)", opt_list, 0},
        {"-t|--threads", CLI_FN, &lt, "T[,T..]", "threads; 0 = all cores; lists run every combination (default: 0)",
         opt_list, 0},
        {"-r|--repetitions", CLI_NUM, &reps_d, "N", "repetitions after one warm-up run (1..64)", NULL, 1},
        {"-b|--batch-size", CLI_NUM, &batch_d, "N", "n_batch for pp", NULL, 1},
        {"-np", CLI_NUM, &np_d, "N",
         "parallel sequences: tg decodes one token of each per step in one batch, pp\n"
         "one prompt of each; speeds are aggregate tokens/s (llama-batched-bench's\nS_TG / S_PP)",
         NULL, 1},
        {"-ctk|--cache-type-k", CLI_FN, &kv_f16_set, "TYPE", "KV cache type, f32 (default) or f16 (keys and values)",
         opt_kv, 0},
        {"-ctv|--cache-type-v", CLI_FN, &kv_f16_set, "TYPE", "accepted with the same value as -ctk", opt_kv, 0},
        {"--backend", CLI_STR, &backend, "NAME",
         "the compute backend: cpu (the default: the fastest kernels this CPU runs),\n"
         "cpu-ref (portable reference kernels), or one an application registered",
         NULL, 0},
        {"--batch-invariant", CLI_FLAG, &batch_inv, NULL, "decode with FM_CONTEXT_BATCH_INVARIANT (what it costs)",
         NULL, 0},
        {"--json", CLI_FLAG, &json, NULL, "one JSON object per test (llama-bench's field names) instead of the table",
         NULL, 0},
        {"-o|--output", CLI_FN, &json, "FORMAT", "json or md (the table; default), as llama-bench", opt_output, 0},
        {"--bandwidth", CLI_FLAG, &probe, NULL,
         "only measure the machine's memory read bandwidth (GB/s, 1 GiB buffer, -t\nthreads) and exit", NULL, 0},
    };
    const cli_spec spec = {"fm-bench", "-m FILE [options]   |   fm-bench --bandwidth [-t T] [-r N]",
                           "Prompt (pp) and generation (tg) speed, as llama-bench measures it. Speeds are tokens/s:\n"
                           "median, mean and standard deviation over the repetitions.",
                           {opts}, {sizeof opts / sizeof *opts}, "Exit status: 0 done, 1 usage error, 2 runtime error."};
    const int pa = cli_parse(&spec, argc, argv, NULL, NULL);
    if (pa >= 0) return pa;
    if (reps_d < 1 || reps_d > 64 || reps_d != floor(reps_d)) return cli_usage_error(&spec, "-r needs 1..64");
    if (batch_d < 1 || batch_d > 1 << 20 || batch_d != floor(batch_d)) return cli_usage_error(&spec, "-b needs 1..2^20");
    if (np_d < 1 || np_d > FM_SEQ_MAX || np_d != floor(np_d)) return cli_usage_error(&spec, "-np needs 1..%d", FM_SEQ_MAX);
    const int reps = (int)reps_d, n_batch = (int)batch_d, np = (int)np_d;
    const uint32_t ctx_flags = batch_inv ? FM_CONTEXT_BATCH_INVARIANT : 0;
    if (probe) return bandwidth(th[0], reps) ? CLI_EXIT_RUNTIME : CLI_EXIT_OK;
    const char *kv_name = kv_f16_set == 1 ? "f16" : "f32";
    if (path == NULL) return cli_usage_error(&spec, "no model: give -m FILE (or --bandwidth)");
    if (backend != NULL && fm_backend_find(backend) == NULL) {
        fprintf(stderr, "fm-bench: no backend named '%s'; registered:", backend);
        for (size_t i = 0; fm_backend_name(i) != NULL; i++) fprintf(stderr, " %s", fm_backend_name(i));
        fprintf(stderr, "\n");
        return CLI_EXIT_USAGE;
    }
    fm_model *m;
    fm_status s = fm_model_load(path, NULL, &m);
    if (s) {
        fprintf(stderr, "fm-bench: %s: %s\n", path, fm_last_error());
        return CLI_EXIT_RUNTIME;
    }
    if (fm_model_get_info(m, FM_MODEL_IS_ENCODER)) { /* before the table's header */
        fprintf(stderr, "fm-bench: %s is an encoder (%s): it has no generation to measure\n", path, fm_model_arch(m));
        fm_model_free(m);
        return CLI_EXIT_RUNTIME;
    }
    { /* a context with these settings, before the table's header */
        fm_context_params cp;
        fm_context_params_init(&cp, sizeof cp);
        cp.n_ctx = 8, cp.n_threads = 1, cp.backend = backend, cp.flags = ctx_flags;
        cp.kv_type = kv_f16_set == 1 ? FM_KV_F16 : FM_KV_F32;
        fm_context *probe_ctx;
        if ((s = fm_context_new(m, &cp, &probe_ctx))) {
            fprintf(stderr, "fm-bench: context: %s (%s)\n", fm_last_error(), fm_status_name(s));
            fm_model_free(m);
            return CLI_EXIT_RUNTIME;
        }
        fm_context_free(probe_ctx);
    }
    const int64_t n_params = fm_model_get_info(m, FM_MODEL_N_PARAMS), size = fm_model_get_info(m, FM_MODEL_SIZE_BYTES);
    const int32_t n_vocab = (int32_t)fm_model_get_info(m, FM_MODEL_N_VOCAB);
    char model_type[64];
    if (n_params >= 1000000000) snprintf(model_type, sizeof model_type, "%s %.1fB %s", fm_model_arch(m), n_params / 1e9, main_type(m));
    else if (n_params >= 1000000) snprintf(model_type, sizeof model_type, "%s %.0fM %s", fm_model_arch(m), n_params / 1e6, main_type(m));
    else snprintf(model_type, sizeof model_type, "%s %.0fK %s", fm_model_arch(m), n_params / 1e3, main_type(m));
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (!json) {
        printf("model: %s (%s, %.2f MiB, %.2f M params)\n", base, model_type, size / 1048576.0, n_params / 1e6);
        printf("| %-28s | %7s | %8s | %12s | %12s | %9s |\n", "model", "threads", "test", "t/s median", "t/s mean",
               "stddev");
        printf("|%s|%s|%s|%s|%s|%s|\n", "------------------------------", "---------", "----------", "--------------",
               "--------------", "-----------");
    }
    int max_tokens = 1;
    for (int i = 0; i < n_pp; i++) max_tokens = pp[i] > max_tokens ? pp[i] : max_tokens;
    for (int i = 0; i < n_tg; i++) max_tokens = tg[i] + 1 > max_tokens ? tg[i] + 1 : max_tokens;
    fm_token *ids = malloc((size_t)max_tokens * sizeof *ids);
    fm_batch *batch = NULL;
    if (ids == NULL || fm_batch_new(&batch) != FM_STATUS_OK) {
        fprintf(stderr, "fm-bench: out of memory\n");
        return CLI_EXIT_RUNTIME;
    }
    unsigned r = 42;
    for (int i = 0; i < max_tokens; i++) ids[i] = (fm_token)((r = r * 1103515245u + 12345u) >> 8) % n_vocab;
    int rc = 0;
    for (int ti = 0; ti < n_th && rc == 0; ti++) {
        for (int kind = 0; kind < 2 && rc == 0; kind++) {
            const int n_tests = kind == 0 ? n_pp : n_tg;
            for (int k = 0; k < n_tests && rc == 0; k++) {
                const int n_prompt = kind == 0 ? pp[k] : 0, n_gen = kind == 1 ? tg[k] : 0;
                if (n_prompt + n_gen == 0) continue;
                fm_context_params cp;
                fm_context_params_init(&cp, sizeof cp);
                cp.n_ctx = (uint32_t)((n_prompt + n_gen) * np + 1);
                cp.n_seq_max = (uint32_t)np;
                cp.n_batch = (uint32_t)n_batch;
                cp.n_threads = th[ti];
                cp.backend = backend;
                cp.flags = ctx_flags;
                cp.kv_type = kv_f16_set == 1 ? FM_KV_F16 : FM_KV_F32;
                fm_context *ctx;
                if ((s = fm_context_new(m, &cp, &ctx))) {
                    fprintf(stderr, "fm-bench: context: %s\n", fm_last_error());
                    rc = CLI_EXIT_RUNTIME;
                    break;
                }
                result res = {n_prompt, n_gen, th[ti], reps, {0}};
                run_once(ctx, batch, ids, n_prompt, n_gen, np); /* warm-up */
                for (int i = 0; i < reps && rc == 0; i++) {
                    res.ns[i] = run_once(ctx, batch, ids, n_prompt, n_gen, np);
                    if (res.ns[i] < 0) {
                        fprintf(stderr, "fm-bench: decode: %s\n", fm_last_error());
                        rc = CLI_EXIT_RUNTIME;
                    }
                }
                fm_context_free(ctx);
                if (rc) break;
                const int n_tok = (n_prompt + n_gen) * np;
                double ts[64], sorted[64], mean = 0, var = 0, mean_ns = 0, var_ns = 0;
                for (int i = 0; i < reps; i++) {
                    ts[i] = sorted[i] = n_tok * 1e9 / res.ns[i];
                    mean += ts[i] / reps;
                    mean_ns += res.ns[i] / reps;
                }
                for (int i = 0; i < reps; i++) {
                    var += (ts[i] - mean) * (ts[i] - mean);
                    var_ns += (res.ns[i] - mean_ns) * (res.ns[i] - mean_ns);
                }
                const double sd = reps > 1 ? sqrt(var / (reps - 1)) : 0, sd_ns = reps > 1 ? sqrt(var_ns / (reps - 1)) : 0;
                qsort(sorted, (size_t)reps, sizeof *sorted, cmp_double);
                const double median = reps % 2 ? sorted[reps / 2] : (sorted[reps / 2 - 1] + sorted[reps / 2]) / 2;
                const int threads = th[ti] > 0 ? th[ti] : 0;
                if (json) {
                    printf("{\"build_commit\": \"libfm %s\", \"model_filename\": \"%s\", \"model_type\": \"%s\", "
                           "\"model_size\": %lld, \"model_n_params\": %lld, \"n_batch\": %d, \"n_threads\": %d, "
                           "\"type_k\": \"%s\", \"type_v\": \"%s\", \"n_prompt\": %d, \"n_gen\": %d, "
                           "\"avg_ns\": %.0f, \"stddev_ns\": %.0f, \"avg_ts\": %.6f, \"stddev_ts\": %.6f, "
                           "\"median_ts\": %.6f, \"n_parallel\": %d, \"samples_ns\": [",
                           fm_version(), path, model_type, (long long)size, (long long)n_params, n_batch, threads,
                           kv_name, kv_name, n_prompt, n_gen, mean_ns, sd_ns, mean, sd, median, np);
                    for (int i = 0; i < reps; i++) printf("%s%.0f", i ? ", " : "", res.ns[i]);
                    printf("], \"samples_ts\": [");
                    for (int i = 0; i < reps; i++) printf("%s%.6f", i ? ", " : "", ts[i]);
                    printf("]}\n");
                } else {
                    char test[16], tcount[16];
                    if (np > 1) snprintf(test, sizeof test, "%s%dx%d", n_prompt ? "pp" : "tg", n_prompt + n_gen, np);
                    else snprintf(test, sizeof test, "%s%d", n_prompt ? "pp" : "tg", n_tok);
                    if (threads) snprintf(tcount, sizeof tcount, "%d", threads);
                    else snprintf(tcount, sizeof tcount, "all");
                    printf("| %-28s | %7s | %8s | %12.2f | %12.2f | %9.2f |\n", model_type, tcount, test, median, mean, sd);
                }
                fflush(stdout);
            }
        }
    }
    free(ids);
    fm_batch_free(batch);
    fm_model_free(m);
    return rc;
}
