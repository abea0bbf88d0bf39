/* fm-generate: load a model, echo the prompt, stream a continuation.
 * Uses only the public API (fm.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_args.h"
#include "cli_sampling.h"
#include "cli_util.h"
#include "fm.h"

static int fail(const char *what, fm_status s) {
    fprintf(stderr, "fm-generate: %s: %s (%s)\n", what, fm_last_error(), fm_status_name(s));
    return CLI_EXIT_RUNTIME;
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
    const char *model_path = NULL, *tok_path = NULL, *prompt = NULL, *prompt_file = NULL, *cache_path = NULL;
    double n_gen = 128, threads = 0, n_ctx = 0;
    int ignore_eos = 0, print_ids = 0, special = 0, no_display = 0;
    cli_sampling cs;
    cli_sampling_init(&cs, "fm-generate");
    const cli_opt opts[] = {
        {"-m|--model", CLI_STR, &model_path, "FILE", "GGUF model or llama2.c checkpoint (required)", NULL, 0},
        {"-z|--tokenizer", CLI_STR, &tok_path, "FILE",
         "tokenizer file (llama2.c checkpoints: default tokenizer.bin beside the model)", NULL, 0},
        {"-p|--prompt", CLI_STR, &prompt, "TEXT", "text to continue (echoed first)", NULL, 0},
        {"-f|--file", CLI_STR, &prompt_file, "FILE", "read the prompt from FILE ('-': stdin)", NULL, 0},
        {"-n|--n-predict", CLI_NUM, &n_gen, "N", "tokens to generate", NULL, 1},
        {"-c|--ctx-size", CLI_NUM, &n_ctx, "N", "context size; 0 = prompt + N (generation stops when it is full)",
         NULL, 1},
        {"-t|--threads", CLI_NUM, &threads, "N", "compute threads; 0 = all cores", NULL, 1},
        CLI_SAMPLING_SEED_OPT(&cs),
        {"-sp|--special", CLI_FLAG, &special, NULL,
         "parse special-token text in the prompt (<|user|>, <s>, ...) as those tokens,\n"
         "and print special tokens in the output", NULL, 0},
        {"--ignore-eos", CLI_FLAG, &ignore_eos, NULL,
         "keep going after an end-of-generation token (EOS, <|end|>, <|im_end|>, ...)", NULL, 0},
        {"--no-display-prompt", CLI_FLAG, &no_display, NULL, "do not echo the prompt", NULL, 0},
        {"--ids", CLI_FLAG, &print_ids, NULL, "print the generated token ids instead of text", NULL, 0},
        {"--prompt-cache", CLI_STR, &cache_path, "FILE",
         "reuse the saved state of an earlier prompt this one starts with (only the\n"
         "rest is decoded), and save this prompt's state there",
         NULL, 0},
    };
    cli_opt sampling[CLI_SAMPLING_N_OPTS];
    const cli_spec spec = {"fm-generate", "-m MODEL (-p PROMPT | -f FILE) [options]",
                           "Loads a model, echoes the prompt and streams a continuation; timings go to stderr.",
                           {opts, sampling}, {sizeof opts / sizeof *opts, cli_sampling_opts(&cs, sampling)},
                           "Exit status: 0 done (also when the context is full), 1 usage error, 2 runtime error."};
    const int pa = cli_parse(&spec, argc, argv, NULL, NULL);
    if (pa >= 0) return pa;
    if (model_path == NULL) return cli_usage_error(&spec, "no model: give -m FILE");
    if ((prompt == NULL) == (prompt_file == NULL))
        return cli_usage_error(&spec, prompt ? "give -p or -f, not both" : "no prompt: give -p TEXT or -f FILE");
    if (n_gen < 0 || n_gen > 1e7 || threads < 0 || threads > 1024 || n_ctx < 0 || n_ctx > 1e7)
        return cli_usage_error(&spec, "-n, -t or -c is out of range (0..1e7, threads 0..1024)");
    char *prompt_buf = NULL;
    size_t plen = 0;
    if (prompt_file != NULL) {
        prompt_buf = !strcmp(prompt_file, "-") ? cli_read_stream(stdin, &plen) : cli_read_file(prompt_file, &plen);
        if (prompt_buf == NULL) {
            fprintf(stderr, "fm-generate: cannot read %s: %s\n", prompt_file, strerror(errno));
            return CLI_EXIT_RUNTIME;
        }
        prompt = prompt_buf;
    } else {
        plen = strlen(prompt);
    }
    if (cli_sampling_compile(&cs, "fm-generate")) {
        free(prompt_buf);
        return CLI_EXIT_RUNTIME;
    }
    const uint32_t enc_flags = FM_ENCODE_ADD_SPECIAL_AUTO | (special ? FM_ENCODE_PARSE_SPECIAL : 0);

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
    int rc = CLI_EXIT_RUNTIME;
    fm_status s = fm_model_load(model_path, &mp, &model);
    if (s) {
        fail("load model", s);
        goto done;
    }
    if (fm_model_get_info(model, FM_MODEL_IS_ENCODER)) { /* before anything is printed */
        fprintf(stderr, "fm-generate: %s is an encoder (%s): it embeds text, it does not generate it (fm-embed)\n",
                model_path, fm_model_arch(model));
        goto done;
    }
    const double t_load = cli_now_s() - t0;
    const fm_tokenizer *tok = fm_model_tokenizer(model);

    size_t n_prompt = 0;
    s = cli_tokenize(tok, prompt, plen, enc_flags, &ids, &n_prompt);
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
        (s = fm_detokenizer_new(tok, FM_DECODE_STRIP_LEADING_SPACE | (special ? FM_DECODE_RENDER_SPECIAL : 0), &detok)) ||
        (cs.n_stop && (s = fm_stop_new(cs.stop, cs.n_stop, &stop)))) {
        fail("set up", s);
        goto done;
    }

    if (n_prompt > fm_context_n_ctx(ctx)) {
        fprintf(stderr, "fm-generate: the prompt's %zu tokens do not fit a context of %u (-c)\n", n_prompt,
                fm_context_n_ctx(ctx));
        goto done;
    }
    if (!print_ids && !no_display)
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

    rc = CLI_EXIT_OK;
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
            rc = CLI_EXIT_RUNTIME;
            break;
        }
        if (e > 0) break; /* a stop string */
        if (i + 1 == (long)n_gen) break;
        if (fm_context_n_past(ctx) >= fm_context_n_ctx(ctx)) { /* a clean end, as llama.cpp's */
            fprintf(stderr, "\nfm-generate: the context is full (%u tokens, -c): stopped after %ld tokens\n",
                    fm_context_n_ctx(ctx), n_done);
            break;
        }
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
    free(prompt_buf);
    return rc;
}
