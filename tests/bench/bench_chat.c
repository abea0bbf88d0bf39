/* Chat-template rendering speed: a 20-turn conversation (a system message
 * and ten user/assistant exchanges, then the generation prompt) rendered
 * through real models' templates from reference/chat, median of many runs.
 * The goal (issue 17) is <= 50 us per render.
 *   bench_chat [TEST_DATA] [REPEATS]   (default FM_TEST_DATA, 2000) */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "fm.h"

static const char *const fixtures[] = {
    "Qwen-Qwen2.5-7B-Instruct.json",
    "meta-llama-Llama-3.1-8B-Instruct.json",
    "microsoft-Phi-3.5-mini-instruct.json",
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.json",
    "mistralai-Mistral-Nemo-Instruct-2407.json",
};

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : getenv("FM_TEST_DATA");
    int repeats = argc > 2 ? atoi(argv[2]) : 2000;
    if (dir == NULL || repeats < 1) {
        fprintf(stderr, "usage: bench_chat TEST_DATA [REPEATS]\n");
        return 2;
    }
    /* 20 turns of ordinary chat text, ~60-200 bytes each */
    fm_chat_message msgs[21];
    char text[20][256];
    msgs[0] = (fm_chat_message){"system", "You are a helpful assistant. Answer briefly and precisely.", NULL, NULL,
                                NULL, NULL};
    for (int i = 0; i < 20; i++) {
        if (i % 2 == 0)
            snprintf(text[i], sizeof text[i], "Question %d: what is the capital of country number %d, and why "
                     "does it matter for the history of the region?", i / 2 + 1, i * 7 + 3);
        else
            snprintf(text[i], sizeof text[i], "The capital is City-%d. It has been the seat of government since "
                     "the %d0s, when trade routes moved north.", i * 13, 170 + i);
        msgs[i + 1] = (fm_chat_message){i % 2 == 0 ? "user" : "assistant", text[i], NULL, NULL, NULL, NULL};
    }
    double *t = malloc(sizeof *t * (size_t)repeats);
    char *buf = malloc(1 << 20);
    int failed = 0;
    printf("%-44s %10s %10s %10s\n", "template (20 turns)", "bytes", "median_us", "min_us");
    for (size_t f = 0; f < sizeof fixtures / sizeof *fixtures; f++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/reference/chat/%s", dir, fixtures[f]);
        json_error_t je;
        json_t *fx = json_load_file(path, 0, &je);
        if (fx == NULL) {
            fprintf(stderr, "%s: %s\n", path, je.text);
            return 1;
        }
        json_t *jt = json_object_get(fx, "template");
        fm_chat_template *tm;
        if (fm_chat_template_new(json_string_value(jt), json_string_length(jt), &tm) != FM_STATUS_OK) {
            fprintf(stderr, "%s: %s\n", fixtures[f], fm_last_error());
            return 1;
        }
        fm_chat_params p;
        fm_chat_params_init(&p, sizeof p);
        p.add_generation_prompt = 1;
        p.bos_token = json_string_value(json_object_get(fx, "bos_token"));
        p.eos_token = json_string_value(json_object_get(fx, "eos_token"));
        p.now = 1785024000;
        size_t n = 0;
        for (int r = 0; r < repeats; r++) {
            double t0 = bench_now();
            fm_status st = fm_chat_render(tm, msgs, 21, &p, buf, 1 << 20, &n);
            t[r] = bench_now() - t0;
            if (st != FM_STATUS_OK) {
                fprintf(stderr, "%s: %s\n", fixtures[f], fm_last_error());
                failed = 1;
                break;
            }
        }
        qsort(t, (size_t)repeats, sizeof *t, bench_cmp_double);
        printf("%-44s %10zu %10.2f %10.2f\n", fixtures[f], n, t[repeats / 2] * 1e6, t[0] * 1e6);
        fm_chat_template_free(tm);
        json_decref(fx);
    }
    free(buf);
    free(t);
    return failed;
}
