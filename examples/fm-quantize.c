/* fm-quantize: writes a quantized copy of a GGUF model, as llama-quantize
 * does, through fm_model_quantize(). Uses only the public API (fm.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_args.h"
#include "fm.h"

static int progress(float done, void *user) {
    (void)user;
    fprintf(stderr, "\rfm-quantize: %3.0f%%", 100.0 * done);
    return 0;
}

typedef struct positional {
    const char **v;
    int *n;
} positional;

/* IN, OUT, TYPE */
static int take_arg(void *user, const char *a) {
    positional *p = user;
    if (*p->n == 3) {
        fprintf(stderr, "fm-quantize: too many arguments ('%s')\nTry 'fm-quantize --help' for the options.\n", a);
        return -1;
    }
    p->v[(*p->n)++] = a;
    return 0;
}

int main(int argc, char **argv) {
    const char *args[3];
    int n_args = 0;
    fm_quantize_params p;
    fm_quantize_params_init(&p, sizeof p);
    int pure = 0, requant = 0;
    double threads = 0;
    const cli_opt opts[] = {
        {"--pure", CLI_FLAG, &pure, NULL, "every matrix in TYPE's base type (no mixture rules)", NULL, 0},
        {"--allow-requantize", CLI_FLAG, &requant, NULL, "accept input matrices that are already quantized", NULL, 0},
        {"-t|--threads", CLI_NUM, &threads, "N", "threads; 0 = every core", NULL, 1},
    };
    const cli_spec spec = {"fm-quantize", "[options] IN.gguf OUT.gguf TYPE",
                           "Writes a quantized copy of a GGUF model. TYPE, case-insensitive, as llama-quantize\n"
                           "spells it: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K_S, Q3_K_M (Q3_K), Q3_K_L, Q4_K_S,\n"
                           "Q4_K_M (Q4_K), Q5_K_S, Q5_K_M (Q5_K), Q6_K, IQ4_NL, IQ4_XS, F16, BF16, F32. The\n"
                           "mixtures keep some tensors in higher types as llama.cpp's do (docs/formats.md).",
                           {opts}, {sizeof opts / sizeof *opts}, "Exit status: 0 done, 1 usage error, 2 runtime error."};
    positional pos = {args, &n_args};
    const int pa = cli_parse(&spec, argc, argv, take_arg, &pos);
    if (pa >= 0) return pa;
    if (n_args != 3) return cli_usage_error(&spec, "want IN.gguf OUT.gguf TYPE (%d given)", n_args);
    if (threads < 0 || threads > 4096 || threads != floor(threads))
        return cli_usage_error(&spec, "-t needs a whole number 0..4096");
    if (pure) p.flags |= FM_QUANTIZE_PURE;
    if (requant) p.flags |= FM_QUANTIZE_ALLOW_REQUANTIZE;
    p.n_threads = (int32_t)threads;
    if (fm_ftype_from_name(args[2], &p.ftype) != FM_STATUS_OK)
        return cli_usage_error(&spec, "unknown type '%s'", args[2]);
    p.progress = progress;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const fm_status s = fm_model_quantize(args[0], args[1], &p);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fputc('\n', stderr);
    if (s != FM_STATUS_OK) {
        fprintf(stderr, "fm-quantize: %s (%s)\n", fm_last_error(), fm_status_name(s));
        return CLI_EXIT_RUNTIME;
    }
    fprintf(stderr, "fm-quantize: wrote %s (%s) in %.2f s\n", args[1], fm_ftype_name(p.ftype),
            (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    return 0;
}
