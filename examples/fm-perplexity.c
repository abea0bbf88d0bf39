/* fm-perplexity: a model's perplexity on a text file, by llama.cpp's
 * procedure (llama-perplexity): the whole file tokenized (BOS as the
 * vocabulary says), cut into chunks of n_ctx tokens; each chunk evaluated
 * in an empty cache with its first token replaced by BOS, and only its
 * second half scored (each token from the logits before it). Prints the
 * running perplexity after each chunk, "[1]x,[2]y,...", then
 * "Final estimate: PPL = X +/- Y". Uses only the public API (fm.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "cli_util.h"
#include "fm.h"

static int fail(const char *what, fm_status s) {
    fprintf(stderr, "fm-perplexity: %s: %s (%s)\n", what, fm_last_error(), fm_status_name(s));
    return CLI_EXIT_RUNTIME;
}

/* The file's bytes (NUL-terminated), or NULL with a message. */
static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "fm-perplexity: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, 2 * cap + 1);
            if (nb == NULL) free(buf);
            buf = nb, cap *= 2;
        }
    }
    fclose(f);
    if (buf == NULL) {
        fprintf(stderr, "fm-perplexity: %s: out of memory\n", path);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* -log p(target) under the logits, the log-sum-exp in double. */
static double nll_of(const float *logits, int32_t n_vocab, fm_token target) {
    float mx = logits[0];
    for (int32_t i = 1; i < n_vocab; i++)
        if (logits[i] > mx) mx = logits[i];
    double sum = 0;
    for (int32_t i = 0; i < n_vocab; i++) sum += exp((double)logits[i] - mx);
    return log(sum) - ((double)logits[target] - mx);
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *file = NULL;
    double n_ctx = 512, n_batch = 0, chunks = -1, threads = 0;
    const cli_opt opts[] = {
        {"-m|--model", CLI_STR, &model_path, "FILE", "GGUF model or llama2.c checkpoint (required)", NULL, 0},
        {"-f|--file", CLI_STR, &file, "FILE", "the text to measure (required)", NULL, 0},
        {"-c|--ctx-size", CLI_NUM, &n_ctx, "N", "tokens per chunk", NULL, 1},
        {"-b|--batch-size", CLI_NUM, &n_batch, "N", "tokens evaluated at once; 0 = the chunk", NULL, 1},
        {"--chunks", CLI_NUM, &chunks, "N", "at most N chunks; -1 = all of the file", NULL, 1},
        {"-t|--threads", CLI_NUM, &threads, "N", "compute threads; 0 = all cores", NULL, 1},
    };
    const cli_spec spec = {"fm-perplexity", "-m MODEL -f FILE [options]",
                           "Perplexity over a text in chunks, scored on each chunk's second half, as\n"
                           "llama-perplexity does.",
                           {opts}, {sizeof opts / sizeof *opts}, "Exit status: 0 done, 1 usage error, 2 runtime error."};
    const int pa = cli_parse(&spec, argc, argv, NULL, NULL);
    if (pa >= 0) return pa;
    const double nums[4] = {n_ctx, n_batch, chunks, threads};
    for (int i = 0; i < 4; i++)
        if (nums[i] != floor(nums[i]) || nums[i] < -1 || nums[i] > 1 << 24)
            return cli_usage_error(&spec, "-c, -b, --chunks and -t need whole numbers in range");
    if (model_path == NULL || file == NULL) return cli_usage_error(&spec, "give -m MODEL and -f FILE");
    if (n_ctx < 2) return cli_usage_error(&spec, "-c needs at least 2");
    size_t len = 0;
    char *text = read_file(file, &len);
    if (text == NULL) return CLI_EXIT_RUNTIME;
    fm_model *m;
    fm_status s = fm_model_load(model_path, NULL, &m);
    if (s) return free(text), fail(model_path, s);
    const fm_tokenizer *tok = fm_model_tokenizer(m);
    const int32_t n_vocab = fm_tokenizer_n_vocab(tok);
    const fm_token bos = fm_tokenizer_special(tok, FM_SPECIAL_BOS);
    size_t n_tok = 0;
    fm_token *ids = NULL;
    s = fm_tokenizer_encode(tok, text, len, FM_ENCODE_ADD_SPECIAL_AUTO, NULL, 0, &n_tok);
    if (s == FM_STATUS_BUFFER_TOO_SMALL && (ids = malloc((n_tok ? n_tok : 1) * sizeof *ids)) != NULL)
        s = fm_tokenizer_encode(tok, text, len, FM_ENCODE_ADD_SPECIAL_AUTO, ids, n_tok, &n_tok);
    free(text);
    if (s) {
        free(ids);
        fm_model_free(m);
        return fail("tokenize", s);
    }
    const size_t ctx = (size_t)n_ctx;
    size_t n_chunks = n_tok / ctx;
    if (chunks >= 0 && (size_t)chunks < n_chunks) n_chunks = (size_t)chunks;
    if (n_chunks == 0) {
        fprintf(stderr, "fm-perplexity: %zu tokens, fewer than one chunk of %zu (use a smaller -c)\n", n_tok, ctx);
        free(ids);
        fm_model_free(m);
        return CLI_EXIT_RUNTIME;
    }
    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_ctx = (uint32_t)ctx;
    cp.n_batch = n_batch > 0 ? (uint32_t)n_batch : (uint32_t)ctx;
    cp.n_threads = (int32_t)threads;
    fm_context *c = NULL;
    if ((s = fm_context_new(m, &cp, &c))) {
        free(ids);
        fm_model_free(m);
        return fail("context", s);
    }
    fprintf(stderr, "fm-perplexity: %zu tokens, %zu chunks of %zu, scoring the second half of each\n", n_tok,
            n_chunks, ctx);
    double nll = 0, nll2 = 0, t0 = cli_now_s();
    size_t count = 0;
    const size_t first = ctx / 2;
    fm_token *chunk = malloc(ctx * sizeof *chunk);
    int rc = chunk == NULL ? CLI_EXIT_RUNTIME : CLI_EXIT_OK;
    for (size_t k = 0; k < n_chunks && rc == 0; k++) {
        memcpy(chunk, ids + k * ctx, ctx * sizeof *chunk);
        if (bos >= 0) chunk[0] = bos;
        if ((s = fm_context_clear(c)) || (s = fm_context_decode(c, chunk, ctx, FM_LOGITS_ALL))) {
            rc = fail("decode", s);
            break;
        }
        for (size_t j = first; j + 1 < ctx; j++) {
            const float *lg = fm_context_logits(c, (int32_t)j);
            if (lg == NULL) {
                rc = fail("logits", FM_STATUS_INTERNAL);
                break;
            }
            const double v = nll_of(lg, n_vocab, ids[k * ctx + j + 1]);
            nll += v, nll2 += v * v, count++;
        }
        printf("[%zu]%.4f,", k + 1, exp(nll / (double)count));
        fflush(stdout);
    }
    if (rc == 0) {
        const double mean = nll / (double)count, ppl = exp(mean);
        const double var = nll2 / (double)count - mean * mean;
        printf("\n");
        if (var > 0 && count > 1) printf("Final estimate: PPL = %.4f +/- %.5f\n", ppl, sqrt(var / (double)(count - 1)) * ppl);
        else printf("Final estimate: PPL = %.4f\n", ppl);
        const double dt = cli_now_s() - t0;
        fprintf(stderr, "fm-perplexity: %zu tokens evaluated in %.3f s, %.1f tokens/s\n", n_chunks * ctx, dt,
                (double)(n_chunks * ctx) / dt);
    }
    free(chunk);
    free(ids);
    fm_context_free(c);
    fm_model_free(m);
    return rc;
}
