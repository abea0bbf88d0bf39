/* What docs/reliability.md promises about threads, checked (and, in CI,
 * built with -Db_sanitize=thread so that ThreadSanitizer watches it):
 * N threads each with its own context over ONE shared model decode and
 * sample (greedy and seeded draws, 2 compute threads per context), N
 * threads encode and decode through shared tokenizers (SentencePiece, BPE,
 * tiktoken), N threads build grammar matchers over one shared grammar and
 * tokenizer (the tokenizer's trie is made lazily by the first), and N
 * threads render one chat template. Every thread's output must equal the
 * single-threaded run's, token for token and byte for byte. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "fm.h"

#define N_THREADS 4
#define N_GEN 24

static fm_model *model;
static fm_tokenizer *toks[3];
static fm_grammar *grammar;
static fm_chat_template *tpl;

typedef struct gen_result {
    fm_token ids[N_GEN];
    fm_status st;
} gen_result;

/* job i: prompt i % 2, greedy for even seeds, a seeded draw for odd */
static void generate(int job, gen_result *r) {
    static const char *const prompts[2] = {"Once upon a time", "The little dog"};
    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_ctx = 64;
    cp.n_threads = 2;
    fm_sampler_params sp;
    fm_sampler_params_init(&sp, sizeof sp);
    sp.seed = (uint64_t)job;
    if (job % 2 == 0) sp.temperature = 0;
    fm_context *c = NULL;
    fm_sampler *s = NULL;
    fm_token ids[32];
    size_t n = 0;
    const char *p = prompts[job % 2];
    memset(r, 0, sizeof *r);
    r->st = fm_tokenizer_encode(fm_model_tokenizer(model), p, strlen(p), FM_ENCODE_ADD_BOS, ids, 32, &n);
    if (!r->st) r->st = fm_context_new(model, &cp, &c);
    if (!r->st) r->st = fm_sampler_new(&sp, &s);
    if (!r->st) r->st = fm_context_decode(c, ids, n, FM_LOGITS_LAST);
    const int32_t nv = (int32_t)fm_model_get_info(model, FM_MODEL_N_VOCAB);
    for (int i = 0; !r->st && i < N_GEN; i++) {
        r->st = fm_sampler_sample(s, fm_context_logits(c, -1), nv, &r->ids[i]);
        if (!r->st) r->st = fm_context_decode(c, &r->ids[i], 1, FM_LOGITS_LAST);
    }
    fm_sampler_free(s);
    fm_context_free(c);
}

typedef struct tok_result {
    fm_token ids[3][512];
    size_t n[3];
    char text[3][2048];
    size_t n_text[3];
    fm_status st;
} tok_result;

static const char k_text[] = "Hello, world! Once upon a time, there was a <s> tokenizer that ran in four "
                             "threads at once.\n\tIt had ünïcödé, 日本語, emoji 😀 and numbers 1234567.";

static void tokenize(tok_result *r) {
    memset(r, 0, sizeof *r);
    for (int v = 0; v < 3 && !r->st; v++) {
        r->st = fm_tokenizer_encode(toks[v], k_text, sizeof k_text - 1, FM_ENCODE_PARSE_SPECIAL, r->ids[v], 512,
                                    &r->n[v]);
        if (!r->st)
            r->st = fm_tokenizer_decode(toks[v], r->ids[v], r->n[v], 0, r->text[v], sizeof r->text[v],
                                        &r->n_text[v]);
    }
}

typedef struct misc_result {
    uint32_t mask[(50257 + 31) / 32];
    char chat[1024];
    size_t n_chat;
    fm_status st;
} misc_result;

/* a matcher over the shared grammar and the shared gpt-2 tokenizer, and a
 * chat render */
static void misc(misc_result *r) {
    memset(r, 0, sizeof *r);
    fm_matcher *m = NULL;
    r->st = fm_matcher_new(grammar, toks[1], &m);
    if (!r->st) r->st = fm_matcher_accept_text(m, "{\"a", 3);
    if (!r->st) r->st = fm_matcher_fill_mask(m, r->mask, sizeof r->mask / sizeof *r->mask);
    fm_matcher_free(m);
    static const char conv[] = "[{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":\"assistant\",\"content\":\"Hello\"}]";
    fm_chat_params cp;
    fm_chat_params_init(&cp, sizeof cp);
    cp.add_generation_prompt = 1;
    if (!r->st) r->st = fm_chat_render_json(tpl, conv, sizeof conv - 1, &cp, r->chat, sizeof r->chat, &r->n_chat);
}

typedef struct job {
    int index;
    gen_result gen;
    tok_result tok;
    misc_result misc;
} job;

static void *worker(void *arg) {
    job *j = arg;
    generate(j->index, &j->gen);
    tokenize(&j->tok);
    misc(&j->misc);
    return NULL;
}

int main(void) {
    CHECK(fm_model_load(tu_data("models/stories260K.gguf"), NULL, &model) == FM_STATUS_OK, "model");
    CHECK(fm_tokenizer_load(tu_data("vocab/ggml-vocab-llama-spm.gguf"), NULL, &toks[0]) == FM_STATUS_OK, "spm");
    CHECK(fm_tokenizer_load(tu_data("vocab/ggml-vocab-gpt-2.gguf"), NULL, &toks[1]) == FM_STATUS_OK, "gpt-2");
    CHECK(fm_tokenizer_load(tu_data("vocab/r50k_base.tiktoken"), NULL, &toks[2]) == FM_STATUS_OK, "r50k");
    static const char schema[] = "{\"type\":\"object\",\"properties\":{\"ab\":{\"type\":\"integer\"},"
                                 "\"ac\":{\"type\":\"string\"}}}";
    CHECK(fm_grammar_from_json_schema(schema, sizeof schema - 1, 0, &grammar) == FM_STATUS_OK, "grammar");
    CHECK(fm_chat_template_builtin("chatml", &tpl) == FM_STATUS_OK, "template");
    if (tu_failures) return tu_finish("concurrency");

    /* the single-threaded answers first (the trie is built here... */
    static job alone[N_THREADS], together[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        alone[i].index = i;
        worker(&alone[i]);
        CHECK(alone[i].gen.st == FM_STATUS_OK && alone[i].tok.st == FM_STATUS_OK && alone[i].misc.st == FM_STATUS_OK,
              "job %d alone: %s", i, fm_last_error());
    }
    /* ...so a fresh tokenizer lets the threads race to build its trie) */
    fm_tokenizer_free(toks[1]);
    CHECK(fm_tokenizer_load(tu_data("vocab/ggml-vocab-gpt-2.gguf"), NULL, &toks[1]) == FM_STATUS_OK, "gpt-2 again");
    pthread_t th[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        together[i].index = i;
        CHECK(pthread_create(&th[i], NULL, worker, &together[i]) == 0, "thread %d", i);
    }
    for (int i = 0; i < N_THREADS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N_THREADS; i++) {
        const job *a = &alone[i], *t = &together[i];
        CHECK(t->gen.st == FM_STATUS_OK && t->tok.st == FM_STATUS_OK && t->misc.st == FM_STATUS_OK,
              "job %d in a thread failed", i);
        CHECK(memcmp(a->gen.ids, t->gen.ids, sizeof a->gen.ids) == 0, "job %d: generated tokens differ", i);
        for (int v = 0; v < 3; v++) {
            CHECK(a->tok.n[v] == t->tok.n[v] && memcmp(a->tok.ids[v], t->tok.ids[v], a->tok.n[v] * sizeof(fm_token)) == 0,
                  "job %d vocab %d: token ids differ", i, v);
            CHECK(a->tok.n_text[v] == t->tok.n_text[v] && memcmp(a->tok.text[v], t->tok.text[v], a->tok.n_text[v]) == 0,
                  "job %d vocab %d: decoded text differs", i, v);
        }
        CHECK(memcmp(a->misc.mask, t->misc.mask, sizeof a->misc.mask) == 0, "job %d: grammar masks differ", i);
        CHECK(a->misc.n_chat == t->misc.n_chat && memcmp(a->misc.chat, t->misc.chat, a->misc.n_chat) == 0,
              "job %d: chat renders differ", i);
    }
    /* the greedy jobs agree with each other too (same prompt, same model) */
    CHECK(memcmp(alone[0].gen.ids, alone[2].gen.ids, sizeof alone[0].gen.ids) == 0, "greedy jobs 0 and 2 differ");
    printf("%d threads: %d tokens generated each, 3 tokenizers, grammar masks, chat renders identical\n", N_THREADS,
           N_GEN);
    fm_chat_template_free(tpl);
    fm_grammar_free(grammar);
    for (int v = 0; v < 3; v++) fm_tokenizer_free(toks[v]);
    fm_model_free(model);
    return tu_finish("concurrency");
}
