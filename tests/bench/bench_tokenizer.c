/* Tokenizer throughput: MB/s per vocabulary over the corpus, single thread,
 * median of REPS runs per file, "text" (natural files) and "all" columns,
 * plus load time; -v adds a line per file, -t times the natural files only
 * (one load: a quicker look).
 * usage: bench_tokenizer [-v] [-t] [-r REPS] [VOCAB_FILE ...]
 * (default: every vocabulary in $FM_TEST_DATA/vocab). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "bench_util.h"
#include "fm.h"

static const char *const corpus[] = {
    "adv-repeat-a", "adv-repeats", "adv-special-tokens", "adv-utf8-edge", "adv-whitespace", "code-c", "code-crlf",
    "en-markdown", "en-prose", "multilingual", "unicode-blocks", "unicode-mix", "unicode-versions",
};
#define N_CORPUS (sizeof corpus / sizeof corpus[0])

static const char *const default_vocabs[] = {
    "ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf", "ggml-vocab-baichuan.gguf", "ggml-vocab-gpt-2.gguf",
    "ggml-vocab-falcon.gguf", "ggml-vocab-mpt.gguf", "ggml-vocab-starcoder.gguf", "ggml-vocab-refact.gguf",
    "ggml-vocab-deepseek-coder.gguf", "ggml-vocab-deepseek-llm.gguf", "ggml-vocab-gpt-neox.gguf",
    "ggml-vocab-bert-bge.gguf", "r50k_base.tiktoken", "p50k_base.tiktoken", "cl100k_base.tiktoken",
    "o200k_base.tiktoken",
};


static int is_natural(const char *name) { return strncmp(name, "adv-", 4) != 0 && strcmp(name, "unicode-versions") != 0; }

int main(int argc, char **argv) {
    int reps = 5;
    int first = 1, verbose = 0, text_only = 0;
    for (;;) {
        if (argc > first && strcmp(argv[first], "-v") == 0) verbose = 1, first++;
        else if (argc > first && strcmp(argv[first], "-t") == 0) text_only = 1, first++;
        else if (argc > first + 1 && strcmp(argv[first], "-r") == 0) reps = atoi(argv[first + 1]), first += 2;
        else break;
    }
    if (reps < 1) reps = 1;
    static char *texts[N_CORPUS];
    static size_t lens[N_CORPUS];
    size_t cap = 0;
    for (size_t f = 0; f < N_CORPUS; f++) {
        char rel[256];
        snprintf(rel, sizeof rel, "corpus/%s.txt", corpus[f]);
        texts[f] = tu_read_file(tu_data(rel), &lens[f]);
        if (texts[f] == NULL) return fprintf(stderr, "cannot read %s\n", rel), 1;
        if (lens[f] * 2 + 16 > cap) cap = lens[f] * 2 + 16;
    }
    fm_token *ids = malloc(cap * sizeof *ids);
    const int n_vocabs = argc > first ? argc - first : (int)(sizeof default_vocabs / sizeof default_vocabs[0]);
    printf("%-32s %9s %9s %9s %9s\n", "vocabulary", "load ms", "text MB/s", "all MB/s", "worst adv");
    for (int v = 0; v < n_vocabs; v++) {
        const char *name = argc > first ? argv[first + v] : default_vocabs[v];
        char rel[256];
        snprintf(rel, sizeof rel, "vocab/%s", name);
        double loads[16];
        fm_tokenizer *tok = NULL;
        const int load_reps = text_only ? 1 : reps;
        for (int r = 0; r < load_reps && r < 16; r++) {
            fm_tokenizer_free(tok);
            double t0 = bench_now();
            if (fm_tokenizer_load(strchr(name, '/') ? name : tu_data(rel), NULL, &tok) != FM_STATUS_OK) {
                fprintf(stderr, "%s: %s\n", name, fm_last_error());
                return 1;
            }
            loads[r] = bench_now() - t0;
        }
        qsort(loads, (size_t)(load_reps < 16 ? load_reps : 16), sizeof loads[0], bench_cmp_double);
        double t_text = 0, t_all = 0, b_text = 0, b_all = 0, worst_adv = 1e30;
        /* repetitions outermost: each file's runs are spread over the whole
         * measurement of this vocabulary, so a change in the machine's speed
         * midway shifts every file alike and their ratios hold */
        double *ts = malloc(N_CORPUS * (size_t)reps * sizeof *ts);
        for (int r = 0; r < reps; r++) {
            for (size_t f = 0; f < N_CORPUS; f++) {
                if (text_only && !is_natural(corpus[f])) continue;
                size_t n;
                double t0 = bench_now();
                fm_status s = fm_tokenizer_encode(tok, texts[f], lens[f], 0, ids, cap, &n);
                ts[f * (size_t)reps + (size_t)r] = bench_now() - t0;
                if (s != FM_STATUS_OK) fprintf(stderr, "%s %s: %s\n", name, corpus[f], fm_last_error());
            }
        }
        for (size_t f = 0; f < N_CORPUS; f++) {
            if (text_only && !is_natural(corpus[f])) continue;
            double *t = ts + f * (size_t)reps;
            qsort(t, (size_t)reps, sizeof *t, bench_cmp_double);
            const double med = t[reps / 2];
            if (verbose) printf("  %-30s %9.2f MB/s\n", corpus[f], lens[f] / med / 1e6);
            t_all += med;
            b_all += (double)lens[f];
            if (is_natural(corpus[f])) t_text += med, b_text += (double)lens[f];
            if (strncmp(corpus[f], "adv-", 4) == 0 && lens[f] / med / 1e6 < worst_adv) worst_adv = lens[f] / med / 1e6;
        }
        free(ts);
        if (text_only)
            printf("%-32s %9.1f %9.2f %9s %9s\n", name, loads[0] * 1e3, b_text / t_text / 1e6, "-", "-");
        else
            printf("%-32s %9.1f %9.2f %9.2f %9.2f\n", name, loads[load_reps < 16 ? load_reps / 2 : 8] * 1e3,
                   b_text / t_text / 1e6, b_all / t_all / 1e6, worst_adv);
        fflush(stdout);
        fm_tokenizer_free(tok);
    }
    free(ids);
    for (size_t f = 0; f < N_CORPUS; f++) free(texts[f]);
    return 0;
}
