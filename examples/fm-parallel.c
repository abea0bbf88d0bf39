/* fm-parallel: decode a prompt once, share it with N sequences, and
 * generate N continuations together, one batch per step (the weights are
 * read once per step for all of them). Uses only the public API (fm.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_sampling.h"
#include "cli_util.h"
#include "fm.h"

static int fail(const char *what, fm_status s) {
    fprintf(stderr, "fm-parallel: %s: %s (%s)\n", what, fm_last_error(), fm_status_name(s));
    return CLI_EXIT_RUNTIME;
}

/* The text of ids (prompt or continuation) appended to stdout. */
static fm_status print_ids(const fm_tokenizer *tok, const fm_token *ids, size_t n, uint32_t flags) {
    size_t len = 0;
    fm_status s = fm_tokenizer_decode(tok, ids, n, flags, NULL, 0, &len);
    if (s != FM_STATUS_OK && s != FM_STATUS_BUFFER_TOO_SMALL) return s;
    char *buf = malloc(len ? len : 1);
    if (buf == NULL) return FM_STATUS_NO_MEMORY;
    s = fm_tokenizer_decode(tok, ids, n, flags, buf, len, &len);
    if (s == FM_STATUS_OK) fwrite(buf, 1, len, stdout);
    free(buf);
    return s;
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *prompt = NULL;
    double n_par = 4, n_gen = 64, threads = 0;
    int ignore_eos = 0;
    cli_sampling cs;
    cli_sampling_init(&cs, "fm-parallel");
    const cli_opt opts[] = {
        {"-m|--model", CLI_STR, &model_path, "FILE", "GGUF model or llama2.c checkpoint (required)", NULL, 0},
        {"-p|--prompt", CLI_STR, &prompt, "TEXT", "text every sequence continues (decoded once, shared; required)",
         NULL, 0},
        {"-np|--parallel", CLI_NUM, &n_par, "N", "parallel sequences (at most 256)", NULL, 1},
        {"-n|--n-predict", CLI_NUM, &n_gen, "N", "tokens to generate per sequence", NULL, 1},
        {"-t|--threads", CLI_NUM, &threads, "N", "compute threads; 0 = all cores", NULL, 1},
        CLI_SAMPLING_SEED_OPT(&cs),
        {"--ignore-eos", CLI_FLAG, &ignore_eos, NULL, "keep going after an end-of-generation token", NULL, 0},
    };
    cli_opt sampling[CLI_SAMPLING_N_OPTS];
    const cli_spec spec = {"fm-parallel", "-m MODEL -p PROMPT [options]",
                           "Continues one prompt in N sequences at once in one context (sequence i samples with\n"
                           "seed S + i) and prints each sequence's text after a line '--- sequence i'; timings go\n"
                           "to stderr. The sampling options are fm-generate's, without --stop.",
                           {opts, sampling}, {sizeof opts / sizeof *opts, cli_sampling_opts(&cs, sampling)},
                           "Exit status: 0 done, 1 usage error, 2 runtime error."};
    const int pa = cli_parse(&spec, argc, argv, NULL, NULL);
    if (pa >= 0) return pa;
    if (cs.n_stop) return cli_usage_error(&spec, "--stop is not supported here (fm-generate has it)");
    if (model_path == NULL || prompt == NULL) return cli_usage_error(&spec, "give -m MODEL and -p PROMPT");
    if (n_par < 1 || n_par > FM_SEQ_MAX || n_gen < 0 || n_gen > 1e6 || threads < 0 || threads > 1024)
        return cli_usage_error(&spec, "-np (1..%d), -n (0..1e6) or -t (0..1024) is out of range", FM_SEQ_MAX);
    if (cli_sampling_compile(&cs, "fm-parallel")) return CLI_EXIT_RUNTIME;
    const int np = (int)n_par, n = (int)n_gen;

    fm_model *model = NULL;
    fm_context *ctx = NULL;
    fm_batch *batch = NULL;
    fm_sampler **smp = calloc((size_t)np, sizeof *smp);
    fm_token *prompt_ids = NULL, *out = calloc((size_t)np * (size_t)(n ? n : 1), sizeof *out);
    int *n_out = calloc((size_t)np, sizeof *n_out), *row = calloc((size_t)np, sizeof *row);
    fm_seq_id *all = calloc((size_t)np, sizeof *all);
    int rc = CLI_EXIT_RUNTIME;
    if (smp == NULL || out == NULL || n_out == NULL || row == NULL || all == NULL) {
        fprintf(stderr, "fm-parallel: out of memory\n");
        goto done;
    }
    fm_status s = fm_model_load(model_path, NULL, &model);
    if (s) {
        fail("load model", s);
        goto done;
    }
    const fm_tokenizer *tok = fm_model_tokenizer(model);
    size_t n_prompt = 0, plen = strlen(prompt);
    s = fm_tokenizer_encode(tok, prompt, plen, FM_ENCODE_ADD_SPECIAL_AUTO, NULL, 0, &n_prompt);
    if (s == FM_STATUS_BUFFER_TOO_SMALL) {
        prompt_ids = malloc((n_prompt ? n_prompt : 1) * sizeof *prompt_ids);
        s = prompt_ids ? fm_tokenizer_encode(tok, prompt, plen, FM_ENCODE_ADD_SPECIAL_AUTO, prompt_ids, n_prompt,
                                             &n_prompt)
                       : FM_STATUS_NO_MEMORY;
    }
    if (s || n_prompt == 0) {
        if (s) fail("tokenize", s);
        else fprintf(stderr, "fm-parallel: the prompt gives no tokens\n");
        goto done;
    }

    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_threads = (int32_t)threads;
    cp.n_seq_max = (uint32_t)np;
    cp.n_ctx = (uint32_t)(n_prompt + (size_t)np * (size_t)n + 1);
    if ((s = fm_context_new(model, &cp, &ctx)) || (s = fm_batch_new(&batch))) {
        fail("set up", s);
        goto done;
    }
    for (int i = 0; i < np; i++) {
        all[i] = i;
        if ((s = cli_sampling_make(&cs, tok, cp.n_ctx, (uint64_t)i, &smp[i]))) {
            fail("sampler", s);
            goto done;
        }
    }

    /* the prompt once, in every sequence: one cell per token */
    const double t0 = cli_now_s();
    for (size_t i = 0; i < n_prompt; i++)
        if ((s = fm_batch_add(batch, prompt_ids[i], (int32_t)i, all, np, i + 1 == n_prompt))) {
            fail("batch", s);
            goto done;
        }
    if ((s = fm_context_decode_batch(ctx, batch))) {
        fail("decode prompt", s);
        goto done;
    }
    const double t_prompt = cli_now_s() - t0;
    for (int i = 0; i < np; i++) row[i] = (int)n_prompt - 1; /* every sequence samples from the prompt's last row */

    const int32_t n_vocab = fm_tokenizer_n_vocab(tok);
    long total = 0;
    const double t1 = cli_now_s();
    for (int step = 0; step < n; step++) {
        fm_batch_clear(batch);
        for (int i = 0; i < np; i++) {
            if (row[i] < 0) continue; /* finished */
            fm_token next;
            if ((s = fm_sampler_sample(smp[i], fm_context_logits(ctx, row[i]), n_vocab, &next))) {
                fail("sample", s);
                goto done;
            }
            if (fm_tokenizer_is_eog(tok, next) && !ignore_eos) {
                row[i] = -1;
                continue;
            }
            out[(size_t)i * (size_t)n + (size_t)n_out[i]++] = next;
            total++;
            row[i] = fm_batch_n_tokens(batch);
            if (step + 1 == n) continue; /* the last token is kept, not decoded */
            if ((s = fm_batch_add(batch, next, FM_POS_NEXT, &all[i], 1, 1))) {
                fail("batch", s);
                goto done;
            }
        }
        if (fm_batch_n_tokens(batch) == 0) break;
        if ((s = fm_context_decode_batch(ctx, batch))) {
            fail("decode", s);
            goto done;
        }
    }
    const double t_gen = cli_now_s() - t1;
    for (int i = 0; i < np; i++) {
        printf("--- sequence %d\n", i);
        /* prompt and continuation decoded as one text, as fm-generate prints them */
        fm_token *text = malloc((n_prompt + (size_t)n_out[i]) * sizeof *text);
        if (text == NULL) {
            fprintf(stderr, "fm-parallel: out of memory\n");
            goto done;
        }
        memcpy(text, prompt_ids, n_prompt * sizeof *text);
        memcpy(text + n_prompt, out + (size_t)i * (size_t)n, (size_t)n_out[i] * sizeof *text);
        s = print_ids(tok, text, n_prompt + (size_t)n_out[i], FM_DECODE_STRIP_LEADING_SPACE);
        free(text);
        if (s) {
            fail("detokenize", s);
            goto done;
        }
        printf("\n");
    }
    fflush(stdout);
    fprintf(stderr, "\nprompt: %zu tokens once for %d sequences, %.2f tokens/s\n", n_prompt, np,
            t_prompt > 0 ? n_prompt / t_prompt : 0.0);
    fprintf(stderr, "generation: %ld tokens in %d sequences, %.2f tokens/s aggregate\n", total, np,
            t_gen > 0 ? total / t_gen : 0.0);
    rc = 0;
done:
    for (int i = 0; smp != NULL && i < np; i++) fm_sampler_free(smp[i]);
    free(smp), free(prompt_ids), free(out), free(n_out), free(row), free(all);
    fm_batch_free(batch);
    fm_context_free(ctx);
    fm_grammar_free(cs.grammar);
    fm_model_free(model);
    return rc;
}
