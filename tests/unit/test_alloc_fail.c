/* Every allocation libfm makes can fail, and each failure comes back as
 * FM_STATUS_NO_MEMORY with a message - never a crash, a hang, another
 * status, or a leak (LeakSanitizer in the ASan build checks the last at
 * exit). Each scenario below runs once counting its allocations (N), then
 * once per k with the k-th allocation failing (one-shot: the code after it
 * may still allocate, so its cleanup paths run for real) and, for a sample
 * of k, with every allocation from the k-th on failing (persistent).
 *
 * A full sweep (every k of every scenario) takes minutes under ASan; by
 * default each scenario tries at most `--max K` values of k (default 200):
 * the first and last 10 and a fixed-seed sample of the rest. `--full`
 * sweeps all (the benchmark-style run reported in docs/reliability.md). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "core/alloc.h"
#include "fm.h"

static fm_model *g_stories; /* loaded outside the armed windows */
static fm_tokenizer *g_gpt2;

static const char k_text[] = "Once upon a time, <s> there was a little girl named Lily. "
                             "She loved to play\toutside 1234 ünïcödé 日本語 😀!\n\n  end</s>";

/* ---- scenarios: each frees everything it made, whatever happens ---- */

/* the message of a scenario's first failing call, kept before later calls
 * (the *_params_init ones, say) clear fm_last_error() */
static char g_msg[512];
static fm_status keep(fm_status st) {
    if (st != FM_STATUS_OK && g_msg[0] == '\0') snprintf(g_msg, sizeof g_msg, "%s", fm_last_error());
    return st;
}
/* runs `call` only while everything before it succeeded */
#define TRY(call)                                                               \
    do {                                                                        \
        if (st == FM_STATUS_OK) st = keep(call);                                \
    } while (0)

static fm_status load_model(const char *rel) {
    fm_model *m = NULL;
    fm_model_params mp;
    fm_model_params_init(&mp, sizeof mp);
    if (strstr(rel, ".bin") != NULL) mp.tokenizer_path = tu_data("models/tok512.bin");
    fm_status st = keep(fm_model_load(tu_data(rel), &mp, &m));
    fm_model_free(m);
    return st;
}
static fm_status s_load_stories_gguf(void) { return load_model("models/stories260K.gguf"); }
static fm_status s_load_stories_bin(void) { return load_model("models/stories260K.bin"); }
static fm_status s_load_gpt2(void) { return load_model("models/gpt2-gpt2v4k.f32.gguf"); }
static fm_status s_load_qwen2(void) { return load_model("models/qwen2-gpt2v4k.f32.gguf"); }
static fm_status s_load_phi3(void) { return load_model("models/phi3-spm4k.f32.gguf"); }
static fm_status s_load_bert(void) { return load_model("models/bert-wpm4k.f32.gguf"); }
static fm_status s_load_q4k(void) { return load_model("models/llama-k256.q4_k.gguf"); }

/* load a tokenizer, encode with every flag, decode, stream-detokenize */
static fm_status tokenize(const char *rel) {
    fm_tokenizer *t = NULL;
    fm_detokenizer *d = NULL;
    fm_token ids[256];
    size_t n = 0, nb;
    char buf[1024];
    fm_status st = keep(fm_tokenizer_load(tu_data(rel), NULL, &t));
    if (st != FM_STATUS_OK) goto out;
    st = keep(fm_tokenizer_encode(t, k_text, sizeof k_text - 1,
                             FM_ENCODE_PARSE_SPECIAL | FM_ENCODE_ADD_SPECIAL_AUTO, ids, 256, &n));
    if (st != FM_STATUS_OK) goto out;
    st = keep(fm_tokenizer_encode(t, k_text, sizeof k_text - 1, FM_ENCODE_CONTINUE, ids, 256, &n));
    if (st != FM_STATUS_OK) goto out;
    st = keep(fm_tokenizer_decode(t, ids, n, FM_DECODE_RENDER_SPECIAL, buf, sizeof buf, &nb));
    if (st != FM_STATUS_OK) goto out;
    st = keep(fm_detokenizer_new(t, 0, &d));
    for (size_t i = 0; st == FM_STATUS_OK && i < n; i++) st = keep(fm_detokenizer_push(d, ids[i], buf, sizeof buf, &nb));
    TRY(fm_detokenizer_flush(d, buf, sizeof buf, &nb));
out:
    fm_detokenizer_free(d);
    fm_tokenizer_free(t);
    return st;
}
static fm_status s_tok_spm(void) { return tokenize("vocab/ggml-vocab-llama-spm.gguf"); }
static fm_status s_tok_gpt2(void) { return tokenize("vocab/ggml-vocab-gpt-2.gguf"); }
static fm_status s_tok_deepseek(void) { return tokenize("vocab/ggml-vocab-deepseek-llm.gguf"); }
static fm_status s_tok_bert(void) { return tokenize("vocab/ggml-vocab-bert-bge.gguf"); }
static fm_status s_tok_bin(void) { return tokenize("models/tok512.bin"); }
static fm_status s_tok_tiktoken(void) { return tokenize("vocab/r50k_base.tiktoken"); }

/* context, prompt, sampling, a few generated tokens, state round trip,
 * scoring; n_threads 2 so the thread pool is made too */
static fm_status s_generate(void) {
    fm_context *c = NULL, *c2 = NULL;
    fm_sampler *s = NULL;
    fm_sampler_params sp;
    fm_context_params cp;
    fm_score_params scp;
    void *state = NULL;
    fm_token ids[64], tok;
    size_t n = 0, ns = 0;
    double lp[4], sum;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_ctx = 64;
    cp.n_threads = 2;
    fm_status st = keep(fm_tokenizer_encode(fm_model_tokenizer(g_stories), "Once upon a time", 16,
                                       FM_ENCODE_ADD_BOS, ids, 64, &n));
    TRY(fm_context_new(g_stories, &cp, &c));
    TRY(fm_context_decode(c, ids, n, FM_LOGITS_LAST));
    fm_sampler_params_init(&sp, sizeof sp);
    sp.seed = 7;
    sp.repeat_penalty = 1.1f;
    TRY(fm_sampler_new(&sp, &s));
    for (int i = 0; st == FM_STATUS_OK && i < 4; i++) {
        st = keep(fm_sampler_sample(s, fm_context_logits(c, -1), fm_model_get_info(g_stories, FM_MODEL_N_VOCAB), &tok));
        TRY(fm_context_decode(c, &tok, 1, FM_LOGITS_LAST));
    }
    if (st == FM_STATUS_OK) { /* capacity 0 asks for the size */
        fm_status q = fm_context_state_save(c, FM_STATE_ALL, NULL, 0, &ns);
        if (q == FM_STATUS_BUFFER_TOO_SMALL) {
            state = malloc(ns);
            TRY(fm_context_state_save(c, FM_STATE_ALL, state, ns, &ns));
        } else {
            st = keep(q == FM_STATUS_OK ? FM_STATUS_INTERNAL : q);
        }
    }
    TRY(fm_context_new(g_stories, &cp, &c2));
    TRY(fm_context_state_load(c2, FM_STATE_ALL, state, ns));
    fm_score_params_init(&scp, sizeof scp);
    scp.logprobs = lp;
    scp.top_k = 3;
    fm_token top[12];
    double top_lp[12];
    scp.top_tokens = top;
    scp.top_logprobs = top_lp;
    TRY(fm_context_score(c2, ids, n, ids + 1, 4, &scp, &sum));
    free(state);
    fm_sampler_free(s);
    fm_context_free(c2);
    fm_context_free(c);
    return st;
}

/* the same with the rarer sampler steps (DRY needs a tokenizer) */
static fm_status s_sampler_steps(void) {
    static float logits[512];
    fm_sampler *s = NULL;
    fm_sampler_params sp;
    fm_token tok;
    for (int i = 0; i < 512; i++) logits[i] = (float)((i * 37) % 101) / 10.0f;
    fm_sampler_params_init(&sp, sizeof sp);
    sp.tokenizer = fm_model_tokenizer(g_stories);
    sp.dry_multiplier = 0.8f;
    sp.typical_p = 0.9f;
    sp.xtc_probability = 0.5f;
    sp.top_n_sigma = 2.0f;
    sp.presence_penalty = 0.5f;
    fm_logit_bias bias[2] = {{5, -1.0f}, {9, 2.0f}};
    sp.logit_bias = bias;
    sp.n_logit_bias = 2;
    fm_status st = keep(fm_sampler_new(&sp, &s));
    for (int i = 0; st == FM_STATUS_OK && i < 20; i++) st = keep(fm_sampler_sample(s, logits, 512, &tok));
    fm_sampler_free(s);
    sp.mirostat = 2;
    s = NULL;
    TRY(fm_sampler_new(&sp, &s));
    for (int i = 0; st == FM_STATUS_OK && i < 5; i++) st = keep(fm_sampler_sample(s, logits, 512, &tok));
    fm_sampler_free(s);
    return st;
}

/* grammars from all three front ends, a matcher over a byte-level BPE
 * vocabulary, and a constrained sampler */
static fm_status s_grammar(void) {
    static const char gbnf[] = "root ::= \"{\" ws pair (\",\" ws pair)* \"}\"\n"
                               "pair ::= [a-z]+ \":\" ws ([0-9]+ | \"true\")\nws ::= [ \\t]*\n";
    static const char schema[] = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\","
                                 "\"maxLength\":8},\"age\":{\"type\":\"integer\",\"minimum\":0},"
                                 "\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"a\",\"b\"]}}},"
                                 "\"required\":[\"name\"]}";
    static float logits[50257];
    fm_grammar *g1 = NULL, *g2 = NULL, *g3 = NULL;
    fm_matcher *m = NULL;
    fm_sampler *s = NULL;
    fm_token tok;
    int32_t nv = fm_tokenizer_n_vocab(g_gpt2);
    for (int32_t i = 0; i < nv; i++) logits[i] = (float)(i % 13);
    fm_status st = keep(fm_grammar_parse_gbnf(gbnf, sizeof gbnf - 1, "root", &g1));
    TRY(fm_grammar_from_json_schema(schema, sizeof schema - 1, 0, &g2));
    TRY(fm_grammar_from_regex("[a-c]{2,4}(x|yz)*", 17, &g3));
    TRY(fm_matcher_new(g1, g_gpt2, &m));
    TRY(fm_matcher_accept_text(m, "{ab: 1", 6));
    TRY(fm_sampler_new_chain(3, &s));
    TRY(fm_sampler_add_grammar(s, g2, g_gpt2));
    TRY(fm_sampler_add(s, FM_STEP_GREEDY, 0));
    for (int i = 0; st == FM_STATUS_OK && i < 6; i++) st = keep(fm_sampler_sample(s, logits, nv, &tok));
    fm_sampler_free(s);
    fm_matcher_free(m);
    fm_grammar_free(g3);
    fm_grammar_free(g2);
    fm_grammar_free(g1);
    return st;
}

/* compile and render a template with loops, macros, filters and tools */
static fm_status s_chat(void) {
    static const char tpl[] =
        "{%- macro show(m) -%}<|{{ m.role }}|>{{ m.content | trim }}{%- endmacro -%}"
        "{%- set ns = namespace(n=0) -%}"
        "{%- for m in messages -%}{%- set ns.n = ns.n + 1 -%}{{ show(m) }}"
        "{%- if m.tool_calls is defined %}{{ m.tool_calls | tojson }}{% endif %}\n{%- endfor -%}"
        "{%- if tools %}{% for t in tools %}{{ t.name | upper }}{{ t | tojson(indent=2) }}{% endfor %}{% endif -%}"
        "{{ ns.n }}{{ ' x '.join(['a', 'b']) }}{{ messages | length }}"
        "{%- if add_generation_prompt %}<|assistant|>{% endif %}";
    static const char conv[] = "[{\"role\":\"system\",\"content\":\"  Be brief. \"},"
                               "{\"role\":\"user\",\"content\":\"Hi ünï\"},"
                               "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"type\":\"function\","
                               "\"function\":{\"name\":\"f\",\"arguments\":{\"x\":1}}}]}]";
    fm_chat_template *t = NULL;
    fm_chat_params cp;
    char out[4096];
    size_t n;
    fm_chat_params_init(&cp, sizeof cp);
    cp.add_generation_prompt = 1;
    cp.tools = "[{\"name\":\"get\",\"parameters\":{\"type\":\"object\"}}]";
    fm_status st = keep(fm_chat_template_new(tpl, sizeof tpl - 1, &t));
    TRY(fm_chat_render_json(t, conv, sizeof conv - 1, &cp, out, sizeof out, &n));
    fm_chat_template_free(t);
    t = NULL;
    TRY(fm_chat_template_builtin("llama3", &t));
    fm_chat_template_free(t);
    return st;
}

typedef struct scenario {
    const char *name;
    fm_status (*run)(void);
} scenario;

static const scenario k_scenarios[] = {
    {"load stories260K.gguf", s_load_stories_gguf},
    {"load stories260K.bin", s_load_stories_bin},
    {"load gpt2", s_load_gpt2},
    {"load qwen2", s_load_qwen2},
    {"load phi3", s_load_phi3},
    {"load bert", s_load_bert},
    {"load llama q4_k", s_load_q4k},
    {"tokenize llama-spm", s_tok_spm},
    {"tokenize gpt-2", s_tok_gpt2},
    {"tokenize deepseek-llm", s_tok_deepseek},
    {"tokenize bert-bge", s_tok_bert},
    {"tokenize tok512.bin", s_tok_bin},
    {"tokenize r50k_base.tiktoken", s_tok_tiktoken},
    {"decode, sample, state, score", s_generate},
    {"sampler steps", s_sampler_steps},
    {"grammars", s_grammar},
    {"chat template", s_chat},
};

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static long total_runs, total_nomem, total_absorbed;

/* one armed run; checks the outcome */
static void run_armed(const scenario *sc, long k, int persistent) {
    g_msg[0] = '\0';
    fm_alloc_test_arm(k, persistent);
    fm_status st = sc->run();
    fm_alloc_test_disarm();
    long failed = fm_alloc_test_failures();
    total_runs++;
    if (st == FM_STATUS_OK) {
        total_absorbed += failed > 0;
        return;
    }
    CHECK(st == FM_STATUS_NO_MEMORY, "%s: allocation %ld failing%s gave %s (%s), not NO_MEMORY", sc->name, k,
          persistent ? " (and all after)" : "", fm_status_name(st), g_msg);
    CHECK(g_msg[0] != '\0', "%s: allocation %ld: NO_MEMORY without a message", sc->name, k);
    total_nomem++;
}

int main(int argc, char **argv) {
    long max_k = 200;
    int full = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--full") == 0) full = 1;
        else if (strcmp(argv[i], "--max") == 0 && i + 1 < argc) max_k = atol(argv[++i]);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
    }
    CHECK(fm_model_load(tu_data("models/stories260K.gguf"), NULL, &g_stories) == FM_STATUS_OK, "stories");
    CHECK(fm_tokenizer_load(tu_data("vocab/ggml-vocab-gpt-2.gguf"), NULL, &g_gpt2) == FM_STATUS_OK, "gpt-2");
    if (g_stories == NULL || g_gpt2 == NULL) return tu_finish("allocation failures");

    for (size_t i = 0; i < sizeof k_scenarios / sizeof *k_scenarios; i++) {
        const scenario *sc = &k_scenarios[i];
        if (only != NULL && strstr(sc->name, only) == NULL) continue;
        sc->run(); /* warm the caches later runs reuse (a vocabulary's token trie) */
        g_msg[0] = '\0';
        fm_alloc_test_arm(0, 0);
        fm_status st = sc->run();
        long n = fm_alloc_test_disarm();
        CHECK(st == FM_STATUS_OK, "%s: %s (%s)", sc->name, fm_status_name(st), g_msg);
        CHECK(n > 0, "%s: no allocation counted", sc->name);
        long runs0 = total_runs, nomem0 = total_nomem, abs0 = total_absorbed;
        if (full || n <= max_k) {
            for (long k = 1; k <= n; k++) run_armed(sc, k, 0);
            for (long k = 1; k <= n; k += full ? 1 : 7) run_armed(sc, k, 1);
        } else {
            for (long k = 1; k <= 10; k++) run_armed(sc, k, 0);
            for (long k = n - 9; k <= n; k++) run_armed(sc, k, 1);
            for (long j = 0; j < max_k - 20; j++) {
                long k = 11 + (long)(next_rand() % (uint64_t)(n - 20));
                run_armed(sc, k, (int)(j & 1));
            }
        }
        printf("%-30s %6ld allocations: %5ld runs, %5ld NO_MEMORY, %4ld absorbed\n", sc->name, n,
               total_runs - runs0, total_nomem - nomem0, total_absorbed - abs0);
    }
    printf("total: %ld runs, %ld NO_MEMORY, %ld absorbed\n", total_runs, total_nomem, total_absorbed);
    fm_tokenizer_free(g_gpt2);
    fm_model_free(g_stories);
    return tu_finish("allocation failures");
}
