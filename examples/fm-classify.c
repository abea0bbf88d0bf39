/* fm-classify: which of several labels a model finds the likeliest
 * continuation of a prompt. The prompt is decoded once; each label then
 * costs its own tokens (fm_context_score keeps the prompt cached and
 * evaluates only the label after it). Prints each label's log-probability
 * (natural log, summed over its tokens) and its probability normalized over
 * the labels, best first. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "fm.h"

#define MAX_LABELS 1024

static int fail(const char *what, fm_status s) {
    fprintf(stderr, "fm-classify: %s: %s (%s)\n", what, fm_last_error(), fm_status_name(s));
    return CLI_EXIT_RUNTIME;
}

typedef struct label {
    const char *text;
    fm_token *ids;
    size_t n, order; /* order: its place on the command line (ties) */
    double logprob, prob;
} label;

static int by_logprob(const void *a, const void *b) {
    const label *x = a, *y = b;
    return x->logprob > y->logprob ? -1 : x->logprob < y->logprob ? 1 : (x->order > y->order) - (x->order < y->order);
}

typedef struct label_list {
    label *v;
    size_t n;
} label_list;

/* --label L, repeatable */
static int add_label(void *user, const char *a, const char *v) {
    label_list *l = user;
    (void)a;
    if (l->n == MAX_LABELS || v[0] == '\0') {
        fprintf(stderr, "fm-classify: --label needs a non-empty text (at most %d labels)\n", MAX_LABELS);
        return -1;
    }
    l->v[l->n] = (label){v, NULL, 0, l->n, 0, 0};
    l->n++;
    return 0;
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *prompt = NULL;
    label labels[MAX_LABELS];
    size_t n_labels = 0;
    int json = 0;
    double threads = 0, n_ctx = 0;
    label_list ll = {labels, 0};
    const cli_opt opts[] = {
        {"-m|--model", CLI_STR, &model_path, "FILE", "GGUF model or llama2.c checkpoint (required)", NULL, 0},
        {"-p|--prompt", CLI_STR, &prompt, "TEXT", "the text the labels continue (BOS added as the model says)", NULL, 0},
        {"--label", CLI_FN, &ll, "L",
         "a candidate continuation, as written (with its leading space: \"Review: ...\n"
         "Sentiment:\" --label \" positive\"); repeatable, at least one",
         add_label, 0},
        {"--json", CLI_FLAG, &json, NULL, "one JSON object on stdout instead of lines", NULL, 0},
        {"-t|--threads", CLI_NUM, &threads, "N", "compute threads; 0 = all cores", NULL, 1},
        {"-c|--ctx-size", CLI_NUM, &n_ctx, "N", "context size; 0 = what the prompt and the longest label need", NULL, 1},
    };
    const cli_spec spec = {"fm-classify", "-m MODEL -p PROMPT --label L1 --label L2 ... [options]",
                           "Scores each label as a continuation of the prompt (decoded once). Output lines:\n"
                           "probability over the labels, log-probability, label; best first.",
                           {opts}, {sizeof opts / sizeof *opts},
                           "Exit status: 0 done, 1 usage error, 2 runtime error."};
    const int pa = cli_parse(&spec, argc, argv, NULL, NULL);
    if (pa >= 0) return pa;
    n_labels = ll.n;
    if (threads < 0 || threads > 1024 || n_ctx < 0 || n_ctx > 1e7 || threads != floor(threads) ||
        n_ctx != floor(n_ctx))
        return cli_usage_error(&spec, "-t and -c need whole numbers in range");
    if (model_path == NULL || prompt == NULL || n_labels < 1)
        return cli_usage_error(&spec, "give -m MODEL, -p PROMPT and at least one --label");
    fm_model *m = NULL;
    fm_context *ctx = NULL;
    fm_token *pids = NULL;
    size_t n_prompt = 0, longest = 0, label_tokens = 0;
    int rc = CLI_EXIT_RUNTIME;
    fm_status s = fm_model_load(model_path, NULL, &m);
    if (s) {
        fail("load model", s);
        goto done;
    }
    const fm_tokenizer *tok = fm_model_tokenizer(m);
    if ((s = cli_tokenize(tok, prompt, strlen(prompt), FM_ENCODE_ADD_SPECIAL_AUTO, &pids, &n_prompt))) {
        fail("tokenize the prompt", s);
        goto done;
    }
    if (n_prompt == 0) {
        fprintf(stderr, "fm-classify: the prompt gives no tokens (and the model adds no BOS)\n");
        goto done;
    }
    /* a label continues the prompt's text: no SentencePiece dummy space */
    for (size_t i = 0; i < n_labels; i++) {
        label *l = &labels[i];
        if ((s = cli_tokenize(tok, l->text, strlen(l->text), FM_ENCODE_CONTINUE, &l->ids, &l->n))) {
            fail("tokenize a label", s);
            goto done;
        }
        if (l->n > longest) longest = l->n;
        label_tokens += l->n;
    }
    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_ctx = n_ctx > 0 ? (uint32_t)n_ctx : (uint32_t)(n_prompt + longest + 1);
    cp.n_threads = (int32_t)threads;
    if ((s = fm_context_new(m, &cp, &ctx))) {
        fail("context", s);
        goto done;
    }
    const double t0 = cli_now_s();
    for (size_t i = 0; i < n_labels; i++) {
        /* the first label brings the prompt in; later ones start from it */
        s = i == 0 ? fm_context_score(ctx, pids, n_prompt, labels[i].ids, labels[i].n, NULL, &labels[i].logprob)
                   : fm_context_score(ctx, NULL, 0, labels[i].ids, labels[i].n, NULL, &labels[i].logprob);
        if (s) {
            fail("score", s);
            goto done;
        }
    }
    const double dt = cli_now_s() - t0;
    double mx = labels[0].logprob, z = 0;
    for (size_t i = 1; i < n_labels; i++)
        if (labels[i].logprob > mx) mx = labels[i].logprob;
    for (size_t i = 0; i < n_labels; i++) z += exp(labels[i].logprob - mx);
    for (size_t i = 0; i < n_labels; i++) labels[i].prob = exp(labels[i].logprob - mx) / z;
    /* each label's last token needs no evaluation; each label after the
     * first evaluates the prompt's last token again */
    const size_t evaluated = n_prompt + label_tokens - n_labels + (n_labels - 1);
    fprintf(stderr, "fm-classify: prompt %zu tokens (decoded once), %zu labels of %zu tokens: %zu tokens evaluated, "
            "%.1f ms\n", n_prompt, n_labels, label_tokens, evaluated, dt * 1e3);
    qsort(labels, n_labels, sizeof *labels, by_logprob);
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n_labels; i++)
            json_array_append_new(arr, json_pack("{s:s, s:f, s:f, s:I}", "label", labels[i].text, "logprob",
                                                 labels[i].logprob, "prob", labels[i].prob, "tokens",
                                                 (json_int_t)labels[i].n));
        json_t *doc = json_pack("{s:I, s:I, s:o}", "prompt_tokens", (json_int_t)n_prompt, "tokens_evaluated",
                                (json_int_t)evaluated, "labels", arr);
        char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) : NULL;
        if (text) printf("%s\n", text);
        free(text);
        json_decref(doc);
        if (text == NULL) goto done;
    } else {
        for (size_t i = 0; i < n_labels; i++)
            printf("%.6f\t%.6f\t%s\n", labels[i].prob, labels[i].logprob, labels[i].text);
    }
    rc = 0;
done:
    for (size_t i = 0; i < n_labels; i++) free(labels[i].ids);
    free(pids);
    fm_context_free(ctx);
    fm_model_free(m);
    return rc;
}
