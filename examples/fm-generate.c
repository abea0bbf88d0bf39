/* fm-generate: load a model, echo the prompt, stream a continuation.
 * Uses only the public API (fm.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_sampling.h"
#include "cli_util.h"
#include "fm.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: fm-generate -m MODEL [-z TOKENIZER] -p PROMPT [-n N] [-t THREADS] [-c N_CTX]\n"
            "                   [sampling options] [--ignore-eos] [--ids] [--prompt-cache FILE]\n"
            "  -m MODEL       GGUF file or llama2.c checkpoint\n"
            "  -z TOKENIZER   tokenizer file (llama2.c checkpoints: default tokenizer.bin beside MODEL)\n"
            "  -p PROMPT      text to continue (echoed first)\n"
            "  -n N           tokens to generate (default 128)\n"
            "  -t THREADS     compute threads (default: all cores)\n"
            "  -c N_CTX       context size (default: prompt + N)\n"
            CLI_SAMPLING_USAGE
            "  --ignore-eos   keep going after an end-of-generation token (EOS, <|end|>, <|im_end|>, ...)\n"
            "  --ids          print the generated token ids instead of text\n"
            "  --prompt-cache FILE  reuse the saved state of an earlier prompt that this one starts with\n"
            "                 (only the rest is decoded), and save this prompt's state there\n");
}

static int fail(const char *what, fm_status s) {
    fprintf(stderr, "fm-generate: %s: %s (%s)\n", what, fm_last_error(), fm_status_name(s));
    return 1;
}

/* Writes text to stdout through the stop-string matcher (if any); returns
 * 1 once a stop string is complete. */
static int out_text(fm_stop *stop, const char *text, size_t n) {
    if (stop != NULL) {
        const char *o;
        size_t m;
        if (fm_stop_feed(stop, text, n, &o, &m) == FM_STATUS_OK) fwrite(o, 1, m, stdout);
        fflush(stdout);
        return fm_stop_matched(stop) >= 0;
    }
    fwrite(text, 1, n, stdout);
    fflush(stdout);
    return 0;
}

/* Streams one token's text; returns -1 on error, 1 at a stop string. */
static int emit(fm_detokenizer *d, fm_stop *stop, fm_token id) {
    char buf[4096];
    size_t n;
    fm_status s = fm_detokenizer_push(d, id, buf, sizeof buf, &n);
    if (s != FM_STATUS_OK) return fail("detokenize", s), -1;
    return out_text(stop, buf, n);
}

/* Loads the state saved in `path` into sequence 0 and keeps the part of
 * it that the prompt starts with (at least one prompt token is left to
 * decode, for its logits); returns how many prompt tokens are reused. */
static size_t reuse_cache(fm_context *ctx, const char *path, const fm_token *ids, size_t n) {
    fm_status s = fm_context_state_load_file(ctx, 0, path);
    if (s != FM_STATUS_OK) {
        if (s != FM_STATUS_IO) fprintf(stderr, "fm-generate: prompt cache not used: %s\n", fm_last_error());
        fm_context_clear(ctx);
        return 0;
    }
    const size_t common = cli_keep_common_prefix(ctx, ids, n);
    fprintf(stderr, "fm-generate: prompt cache: reused %zu of %zu prompt tokens from %s\n", common, n, path);
    return common;
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *tok_path = NULL, *prompt = NULL, *cache_path = NULL;
    double n_gen = 128, threads = 0, n_ctx = 0;
    int ignore_eos = 0, print_ids = 0;
    cli_sampling cs;
    cli_sampling_init(&cs, "fm-generate");
    const cli_opt opts[] = {
        {"-m", CLI_STR, &model_path}, {"-z", CLI_STR, &tok_path},   {"-p", CLI_STR, &prompt},
        {"--prompt-cache", CLI_STR, &cache_path}, {"-n", CLI_NUM, &n_gen}, {"-t", CLI_NUM, &threads},
        {"-c", CLI_NUM, &n_ctx},      {"--ignore-eos", CLI_FLAG, &ignore_eos}, {"--ids", CLI_FLAG, &print_ids}};
    const int pa = cli_parse_args(argc, argv, "fm-generate", opts, sizeof opts / sizeof *opts, usage,
                                  cli_sampling_extra, &cs);
    if (pa) return pa == 1 ? 0 : 2;
    if (model_path == NULL || prompt == NULL) {
        usage(stderr);
        return 2;
    }
    if (cli_sampling_compile(&cs, "fm-generate")) return 1;
    if (n_gen < 0 || n_gen > 1e7 || threads < 0 || threads > 1024 || n_ctx < 0 || n_ctx > 1e7) {
        fprintf(stderr, "fm-generate: a numeric option is out of range\n");
        return 2;
    }

    double t0 = cli_now_s();
    fm_model_params mp;
    fm_model_params_init(&mp, sizeof mp);
    mp.tokenizer_path = tok_path;
    fm_model *model = NULL;
    fm_context *ctx = NULL;
    fm_sampler *smp = NULL;
    fm_detokenizer *detok = NULL;
    fm_stop *stop = NULL;
    fm_token *ids = NULL;
    int rc = 1;
    fm_status s = fm_model_load(model_path, &mp, &model);
    if (s) {
        fail("load model", s);
        goto done;
    }
    const double t_load = cli_now_s() - t0;
    const fm_tokenizer *tok = fm_model_tokenizer(model);

    size_t n_prompt = 0, plen = strlen(prompt);
    s = fm_tokenizer_encode(tok, prompt, plen, FM_ENCODE_ADD_SPECIAL_AUTO, NULL, 0, &n_prompt);
    if (s == FM_STATUS_BUFFER_TOO_SMALL) {
        ids = malloc((n_prompt ? n_prompt : 1) * sizeof *ids);
        s = ids ? fm_tokenizer_encode(tok, prompt, plen, FM_ENCODE_ADD_SPECIAL_AUTO, ids, n_prompt, &n_prompt)
                : FM_STATUS_NO_MEMORY;
    }
    if (s) {
        fail("tokenize", s);
        goto done;
    }
    if (n_prompt == 0) {
        fprintf(stderr, "fm-generate: the prompt gives no tokens\n");
        goto done;
    }

    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_threads = (int32_t)threads;
    cp.n_ctx = n_ctx > 0 ? (uint32_t)n_ctx : (uint32_t)(n_prompt + (size_t)n_gen);
    if ((s = fm_context_new(model, &cp, &ctx)) || (s = cli_sampling_make(&cs, tok, cp.n_ctx, 0, &smp)) ||
        (s = fm_detokenizer_new(tok, FM_DECODE_STRIP_LEADING_SPACE, &detok)) ||
        (cs.n_stop && (s = fm_stop_new(cs.stop, cs.n_stop, &stop)))) {
        fail("set up", s);
        goto done;
    }

    if (!print_ids)
        for (size_t i = 0; i < n_prompt; i++)
            if (emit(detok, NULL, ids[i]) < 0) goto done;
    /* the penalties look at the prompt too, as in llama.cpp */
    for (size_t i = 0; i < n_prompt; i++) fm_sampler_accept(smp, ids[i], FM_ACCEPT_SKIP_CONSTRAINTS);

    const int32_t n_vocab = fm_tokenizer_n_vocab(tok);
    double t1 = cli_now_s();
    const size_t reused = cache_path ? reuse_cache(ctx, cache_path, ids, n_prompt) : 0;
    if ((s = fm_context_decode(ctx, ids + reused, n_prompt - reused, FM_LOGITS_LAST))) {
        fail("decode prompt", s);
        goto done;
    }
    const double t_prompt = cli_now_s() - t1;
    if (cache_path && reused + 1 < n_prompt) {
        if ((s = fm_context_state_save_file(ctx, 0, cache_path)))
            fprintf(stderr, "fm-generate: prompt cache not saved: %s\n", fm_last_error());
        else
            fprintf(stderr, "fm-generate: prompt cache: saved the state of %zu prompt tokens to %s\n", n_prompt,
                    cache_path);
    }

    rc = 0;
    long n_done = 0;
    double t2 = cli_now_s();
    for (long i = 0; i < (long)n_gen; i++) {
        fm_token next;
        if ((s = fm_sampler_sample(smp, fm_context_logits(ctx, -1), n_vocab, &next))) {
            rc = fail("sample", s);
            break;
        }
        /* under a grammar an end-of-generation token means the output is complete */
        if (fm_tokenizer_is_eog(tok, next) && (!ignore_eos || cs.grammar != NULL)) break;
        n_done++;
        int e = 0;
        if (print_ids) printf(n_done > 1 ? " %d" : "%d", next);
        else if ((e = emit(detok, stop, next)) < 0) {
            rc = 1;
            break;
        }
        if (e > 0) break; /* a stop string */
        if (i + 1 == (long)n_gen) break;
        if ((s = fm_context_decode(ctx, &next, 1, FM_LOGITS_LAST))) {
            rc = fail("decode", s);
            break;
        }
    }
    const double t_gen = cli_now_s() - t2;
    char tail[64];
    size_t n_tail = 0;
    if (!print_ids && fm_detokenizer_flush(detok, tail, sizeof tail, &n_tail) == FM_STATUS_OK &&
        !out_text(stop, tail, n_tail) && stop != NULL) {
        const char *o;
        size_t m;
        if (fm_stop_flush(stop, &o, &m) == FM_STATUS_OK) fwrite(o, 1, m, stdout);
    }
    printf("\n");
    fflush(stdout);
    fprintf(stderr, "\nload: %.1f ms\nprompt: %zu tokens, %.2f tokens/s\ngeneration: %ld tokens, %.2f tokens/s\n",
            t_load * 1e3, n_prompt, n_prompt / (t_prompt > 0 ? t_prompt : 1e-9), n_done,
            n_done / (t_gen > 0 ? t_gen : 1e-9));

done:
    fm_detokenizer_free(detok);
    fm_stop_free(stop);
    fm_sampler_free(smp);
    fm_grammar_free(cs.grammar);
    fm_context_free(ctx);
    fm_model_free(model);
    free(ids);
    return rc;
}
