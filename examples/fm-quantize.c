/* fm-quantize: writes a quantized copy of a GGUF model, as llama-quantize
 * does, through fm_model_quantize(). Uses only the public API (fm.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fm.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: fm-quantize [--pure] [--allow-requantize] [-t N] IN.gguf OUT.gguf TYPE\n"
            "  TYPE  case-insensitive, as llama-quantize spells it: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1,\n"
            "        Q2_K, Q3_K_S, Q3_K_M (Q3_K), Q3_K_L, Q4_K_S, Q4_K_M (Q4_K), Q5_K_S, Q5_K_M (Q5_K),\n"
            "        Q6_K, IQ4_NL, IQ4_XS, F16, BF16, F32\n"
            "  --pure              every matrix in TYPE's base type (no mixture rules)\n"
            "  --allow-requantize  accept input matrices that are already quantized\n"
            "  -t N                threads (default: every core)\n"
            "The mixtures keep some tensors in higher types as llama.cpp's do (docs/formats.md).\n");
}

static int progress(float done, void *user) {
    (void)user;
    fprintf(stderr, "\rfm-quantize: %3.0f%%", 100.0 * done);
    return 0;
}

int main(int argc, char **argv) {
    const char *args[3];
    int n_args = 0;
    fm_quantize_params p;
    fm_quantize_params_init(&p, sizeof p);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--pure")) {
            p.flags |= FM_QUANTIZE_PURE;
        } else if (!strcmp(argv[i], "--allow-requantize")) {
            p.flags |= FM_QUANTIZE_ALLOW_REQUANTIZE;
        } else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
            char *end;
            const long t = strtol(argv[++i], &end, 10);
            if (*end != '\0' || t < 0 || t > 4096) {
                fprintf(stderr, "fm-quantize: -t wants a thread count, got '%s'\n", argv[i]);
                return 1;
            }
            p.n_threads = (int32_t)t;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "fm-quantize: unknown option %s\n", argv[i]);
            usage(stderr);
            return 1;
        } else if (n_args < 3) {
            args[n_args++] = argv[i];
        } else {
            fprintf(stderr, "fm-quantize: too many arguments\n");
            usage(stderr);
            return 1;
        }
    }
    if (n_args != 3) {
        usage(stderr);
        return 1;
    }
    if (fm_ftype_from_name(args[2], &p.ftype) != FM_STATUS_OK) {
        fprintf(stderr, "fm-quantize: unknown type '%s'\n", args[2]);
        usage(stderr);
        return 1;
    }
    p.progress = progress;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const fm_status s = fm_model_quantize(args[0], args[1], &p);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fputc('\n', stderr);
    if (s != FM_STATUS_OK) {
        fprintf(stderr, "fm-quantize: %s (%s)\n", fm_last_error(), fm_status_name(s));
        return 1;
    }
    fprintf(stderr, "fm-quantize: wrote %s (%s) in %.2f s\n", args[1], fm_ftype_name(p.ftype),
            (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    return 0;
}
