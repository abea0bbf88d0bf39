/* fm-eval: multiple-choice accuracy in MMLU's format. Each line of the
 * JSONL file is {"question": ..., "choices": [...], "answer": "B" or 1,
 * optional "subject": ...}. The first K lines (--shots K) are the worked
 * examples every prompt starts with; the others are asked:
 *
 *   The following are multiple choice questions (with answers)[ about S].
 *
 *   <question>
 *   A. <choice>
 *   B. <choice>
 *   ...
 *   Answer: B
 *
 *   (the K examples, then the question asked, ending "Answer:")
 *
 * The model's choice is the letter (" A", " B", ...) with the highest
 * log-probability after "Answer:". The examples' part of the prompt is the
 * same for every question, so it stays in the cache: each question decodes
 * only its own tokens. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "fm.h"

#define MAX_CHOICES 26

static int fail(const char *what, fm_status s) {
    fprintf(stderr, "fm-eval: %s: %s (%s)\n", what, fm_last_error(), fm_status_name(s));
    return CLI_EXIT_RUNTIME;
}

typedef struct item {
    const char *question, *subject;
    const char *choices[MAX_CHOICES];
    int n_choices, answer;
} item;

/* Reads and checks one line; 0 on success. */
static int parse_item(json_t *o, item *it, size_t line) {
    memset(it, 0, sizeof *it);
    json_t *q = json_object_get(o, "question"), *c = json_object_get(o, "choices"), *a = json_object_get(o, "answer");
    if (!json_is_string(q) || !json_is_array(c) || json_array_size(c) < 2 || json_array_size(c) > MAX_CHOICES) {
        fprintf(stderr, "fm-eval: line %zu: needs \"question\" (text) and \"choices\" (2..%d texts)\n", line,
                MAX_CHOICES);
        return 1;
    }
    it->question = json_string_value(q);
    it->subject = json_string_value(json_object_get(o, "subject"));
    it->n_choices = (int)json_array_size(c);
    for (int i = 0; i < it->n_choices; i++)
        if ((it->choices[i] = json_string_value(json_array_get(c, (size_t)i))) == NULL) {
            fprintf(stderr, "fm-eval: line %zu: choice %d is not text\n", line, i);
            return 1;
        }
    const char *al = json_string_value(a);
    if (al != NULL && strlen(al) == 1 && al[0] >= 'A' && al[0] < 'A' + it->n_choices) it->answer = al[0] - 'A';
    else if (json_is_integer(a) && json_integer_value(a) >= 0 && json_integer_value(a) < it->n_choices)
        it->answer = (int)json_integer_value(a);
    else {
        fprintf(stderr, "fm-eval: line %zu: \"answer\" must be a letter A..%c or an index 0..%d\n", line,
                'A' + it->n_choices - 1, it->n_choices - 1);
        return 1;
    }
    return 0;
}

typedef struct text {
    char *p;
    size_t n, cap;
} text;

static int add(text *t, const char *s) {
    const size_t n = strlen(s);
    if (t->n + n + 1 > t->cap) {
        char *np = realloc(t->p, t->cap = 2 * t->cap + n + 256);
        if (np == NULL) return 1;
        t->p = np;
    }
    memcpy(t->p + t->n, s, n + 1);
    t->n += n;
    return 0;
}

/* A question block; with `answer` >= 0 the worked answer and a blank line. */
static int add_block(text *t, const item *it, int answer) {
    int e = add(t, it->question) | add(t, "\n");
    for (int i = 0; i < it->n_choices; i++) {
        const char letter[4] = {(char)('A' + i), '.', ' ', 0};
        e |= add(t, letter) | add(t, it->choices[i]) | add(t, "\n");
    }
    e |= add(t, "Answer:");
    if (answer >= 0) {
        const char tail[5] = {' ', (char)('A' + answer), '\n', '\n', 0};
        e |= add(t, tail);
    }
    return e;
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *file = NULL;
    double shots = 0, threads = 0, n_ctx = 0;
    int verbose = 0;
    const cli_opt opts[] = {
        {"-m|--model", CLI_STR, &model_path, "FILE", "GGUF model or llama2.c checkpoint (required)", NULL, 0},
        {"-f|--file", CLI_STR, &file, "FILE",
         "the questions, one JSON object per line: question, choices (2..26), answer\n"
         "(letter or 0-based index), optional subject (required)",
         NULL, 0},
        {"--shots", CLI_NUM, &shots, "K", "the first K lines are worked examples in every prompt", NULL, 1},
        {"-t|--threads", CLI_NUM, &threads, "N", "compute threads; 0 = all cores", NULL, 1},
        {"-c|--ctx-size", CLI_NUM, &n_ctx, "N", "context size; 0 = the model's training context", NULL, 1},
        {"--verbose", CLI_FLAG, &verbose, NULL, "one line per question: number, model's letter, answer, log-probs",
         NULL, 0},
    };
    const cli_spec spec = {"fm-eval", "-m MODEL -f QUESTIONS.jsonl [options]",
                           "Multiple-choice accuracy: each question's choice letters scored after its prompt.",
                           {opts}, {sizeof opts / sizeof *opts},
                           "Exit status: 0 done, 1 usage error, 2 runtime error (also a bad questions file)."};
    const int pa = cli_parse(&spec, argc, argv, NULL, NULL);
    if (pa >= 0) return pa;
    const double nums[3] = {shots, threads, n_ctx};
    for (int i = 0; i < 3; i++)
        if (nums[i] < 0 || nums[i] > 1e7 || nums[i] != floor(nums[i]))
            return cli_usage_error(&spec, "--shots, -t and -c need whole numbers in range");
    if (model_path == NULL || file == NULL) return cli_usage_error(&spec, "give -m MODEL and -f QUESTIONS.jsonl");
    /* the questions: one JSON object per line (blank lines skipped) */
    size_t flen = 0;
    char *ftext = cli_read_file(file, &flen);
    if (ftext == NULL) {
        fprintf(stderr, "fm-eval: cannot read %s\n", file);
        return CLI_EXIT_RUNTIME;
    }
    json_t *all = json_array();
    int bad = 0;
    size_t line_no = 0;
    for (char *line = ftext, *next; !bad && line < ftext + flen; line = next) {
        char *nl = memchr(line, '\n', (size_t)(ftext + flen - line));
        next = nl ? nl + 1 : ftext + flen;
        line_no++;
        size_t n = (size_t)(next - line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t')) n--;
        if (n == 0) continue;
        json_error_t je;
        json_t *o = json_loadb(line, n, 0, &je);
        if (!json_is_object(o)) {
            fprintf(stderr, "fm-eval: %s line %zu: %s\n", file, line_no, o ? "not a JSON object" : je.text);
            json_decref(o);
            bad = 1;
        } else {
            json_object_set_new(o, "_line", json_integer((json_int_t)line_no));
            json_array_append_new(all, o);
        }
    }
    free(ftext);
    const size_t n_items = json_array_size(all);
    if (bad) {
        json_decref(all);
        return CLI_EXIT_RUNTIME;
    }
    item *items = calloc(n_items ? n_items : 1, sizeof *items);
    for (size_t i = 0; items && i < n_items && !bad; i++) {
        json_t *o = json_array_get(all, i);
        bad = parse_item(o, &items[i], (size_t)json_integer_value(json_object_get(o, "_line")));
    }
    if (items == NULL || bad || n_items <= (size_t)shots) {
        if (items && !bad) fprintf(stderr, "fm-eval: %s has %zu questions: none left after %g shots\n", file, n_items, shots);
        free(items);
        json_decref(all);
        return CLI_EXIT_RUNTIME;
    }
    const size_t k = (size_t)shots;

    fm_model *m = NULL;
    fm_context *ctx = NULL;
    fm_token *ids = NULL, *letters[MAX_CHOICES] = {0};
    size_t n_letters[MAX_CHOICES] = {0};
    text head = {0}, prompt = {0};
    int rc = CLI_EXIT_RUNTIME, correct = 0;
    size_t asked = 0, decoded = 0;
    fm_status s = fm_model_load(model_path, NULL, &m);
    if (s) {
        fail("load model", s);
        goto done;
    }
    const fm_tokenizer *tok = fm_model_tokenizer(m);
    for (int i = 0; i < MAX_CHOICES; i++) {
        const char l[3] = {' ', (char)('A' + i), 0};
        if ((s = cli_tokenize(tok, l, 2, FM_ENCODE_CONTINUE, &letters[i], &n_letters[i]))) {
            fail("tokenize", s);
            goto done;
        }
    }
    /* the header and the worked examples: the same for every question */
    int e = add(&head, "The following are multiple choice questions (with answers)");
    const char *subject = items[k].subject;
    if (subject != NULL) {
        e |= add(&head, " about ");
        for (const char *p = subject; *p; p++) {
            const char ch[2] = {*p == '_' ? ' ' : *p, 0};
            e |= add(&head, ch);
        }
    }
    e |= add(&head, ".\n\n");
    for (size_t i = 0; i < k; i++) e |= add_block(&head, &items[i], items[i].answer);
    if (e) {
        fprintf(stderr, "fm-eval: out of memory\n");
        goto done;
    }
    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_ctx = (uint32_t)n_ctx;
    cp.n_threads = (int32_t)threads;
    if ((s = fm_context_new(m, &cp, &ctx))) {
        fail("context", s);
        goto done;
    }
    const double t0 = cli_now_s();
    for (size_t q = k; q < n_items; q++) {
        const item *it = &items[q];
        prompt.n = 0;
        if (add(&prompt, head.p) || add_block(&prompt, it, -1)) {
            fprintf(stderr, "fm-eval: out of memory\n");
            goto done;
        }
        size_t n = 0;
        free(ids);
        if ((s = cli_tokenize(tok, prompt.p, prompt.n, FM_ENCODE_ADD_SPECIAL_AUTO, &ids, &n))) {
            fail("tokenize", s);
            goto done;
        }
        /* keep what the cache shares with this prompt (the examples) */
        const size_t common = cli_keep_common_prefix(ctx, ids, n);
        double lp[MAX_CHOICES];
        int best = 0;
        for (int c = 0; c < it->n_choices; c++) {
            s = c == 0 ? fm_context_score(ctx, ids + common, n - common, letters[c], n_letters[c], NULL, &lp[c])
                       : fm_context_score(ctx, NULL, 0, letters[c], n_letters[c], NULL, &lp[c]);
            if (s) {
                fprintf(stderr, "fm-eval: question %zu: ", q - k + 1);
                fail("score", s);
                goto done;
            }
            if (lp[c] > lp[best]) best = c;
        }
        decoded += n - common;
        asked++;
        correct += best == it->answer;
        if (verbose) {
            printf("%zu\t%c\t%c", q + 1, 'A' + best, 'A' + it->answer);
            for (int c = 0; c < it->n_choices; c++) printf("%s%.6f", c ? "," : "\t", lp[c]);
            printf("\n");
        }
    }
    const double dt = cli_now_s() - t0;
    fprintf(stderr, "fm-eval: %zu questions, %zu shots, %zu prompt tokens decoded, %.1f s\n", asked, k, decoded, dt);
    printf("accuracy: %d/%zu = %.4f\n", correct, asked, (double)correct / (double)asked);
    rc = 0;
done:
    for (int i = 0; i < MAX_CHOICES; i++) free(letters[i]);
    free(ids);
    free(head.p);
    free(prompt.p);
    free(items);
    json_decref(all);
    fm_context_free(ctx);
    fm_model_free(m);
    return rc;
}
