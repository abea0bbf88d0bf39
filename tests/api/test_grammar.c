/* Issue 16, acceptance 1 and part of 6: GBNF grammars with strings they
 * must accept and strings they must reject; parse errors with line and
 * column; left recursion refused; pathological shapes that stay fast; the
 * token mask against token-by-token checks; the grammar sampler step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "fm.h"

static fm_tokenizer *g_tok; /* stories260K's */

static fm_grammar *compile(const char *src) {
    fm_grammar *g = NULL;
    fm_status st = fm_grammar_parse_gbnf(src, strlen(src), NULL, &g);
    CHECK(st == FM_STATUS_OK, "grammar compiles: %s\n%s", fm_last_error(), src);
    return g;
}

/* Whether `text` is a complete sentence of g. */
static int matches(const fm_grammar *g, const char *text) {
    fm_matcher *m;
    if (fm_matcher_new(g, g_tok, &m) != FM_STATUS_OK) return -1;
    int ok = fm_matcher_accept_text(m, text, strlen(text)) == FM_STATUS_OK && fm_matcher_can_end(m);
    fm_matcher_free(m);
    return ok;
}

static void expect(const char *src, const char *const *yes, const char *const *no) {
    fm_grammar *g = compile(src);
    if (g == NULL) return;
    for (int i = 0; yes[i]; i++) CHECK(matches(g, yes[i]) == 1, "accepts \"%s\" in\n%s", yes[i], src);
    for (int i = 0; no[i]; i++) CHECK(matches(g, no[i]) == 0, "rejects \"%s\" in\n%s", no[i], src);
    fm_grammar_free(g);
}

static const char *JSON_GBNF =
    "root   ::= object\n"
    "value  ::= object | array | string | number | (\"true\" | \"false\" | \"null\") ws\n"
    "object ::=\n"
    "  \"{\" ws (\n"
    "            string \":\" ws value\n"
    "    (\",\" ws string \":\" ws value)*\n"
    "  )? \"}\" ws\n"
    "array  ::=\n"
    "  \"[\" ws (\n"
    "            value\n"
    "    (\",\" ws value)*\n"
    "  )? \"]\" ws\n"
    "string ::=\n"
    "  \"\\\"\" (\n"
    "    [^\"\\\\\\x7F\\x00-\\x1F] |\n"
    "    \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4}) # escapes\n"
    "  )* \"\\\"\" ws\n"
    "number ::= (\"-\"? ([0-9] | [1-9] [0-9]{0,15})) (\".\" [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws\n"
    "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n";

static void test_languages(void) {
    {
        const char *y[] = {"1+2*3", "(1+2)*3", "((4))", "10/2-3", NULL};
        const char *n[] = {"1+", "(1+2", "1++2", "", "a", NULL};
        expect("root ::= expr\nexpr ::= term ((\"+\" | \"-\") term)*\nterm ::= factor ((\"*\" | \"/\") factor)*\n"
               "factor ::= [0-9]+ | \"(\" expr \")\"\n",
               y, n);
    }
    {
        const char *y[] = {"{}", "{\"a\": 1}", "{\"k\": [1, 2.5, -3e5, true, null, \"x\\n\\u00e9\"]}",
                           "{\"n\": {\"m\": {}}}", "{\"é\": \"日本\"}", NULL};
        const char *n[] = {"{", "{\"a\" 1}", "{\"a\": 01x}", "[1]", "{\"a\": \"\x01\"}", "{\"a\": tru}",
                           "{\"a\": \"\\q\"}", NULL};
        expect(JSON_GBNF, y, n);
    }
    { /* lists and repetition bounds */
        const char *y[] = {"ab", "aab", "aaab", "x", "xy", "xyx", "xyxy", "xyxyx", NULL};
        const char *n[] = {"b", "aaaab", "xx", "xyy", "yx", NULL};
        expect("root ::= \"a\"{1,3} \"b\" | \"x\" (\"yx\"){0,}  \"y\"?\n", y, n);
    }
    {
        const char *y[] = {"aaaa", "aaaaaaa", NULL};
        const char *n[] = {"aaa", "aaaaaaaa", NULL};
        expect("root ::= \"a\"{4,7}\n", y, n);
    }
    {
        const char *y[] = {"", "a", "aa", NULL};
        const char *n[] = {"aaa", NULL};
        expect("root ::= \"a\"{,2}\n", y, n);
    }
    {
        const char *y[] = {"aaaaa", "aaaaaaaaaaaa", NULL};
        const char *n[] = {"aaaa", NULL};
        expect("root ::= \"a\"{5,}\n", y, n);
    }
    { /* nested rules, defined after use */
        const char *y[] = {"(a)", "((a))", "(((a)))", NULL};
        const char *n[] = {"((a)", "a", NULL};
        expect("root ::= paren\nparen ::= \"(\" inner \")\"\ninner ::= paren | \"a\"\n", y, n);
    }
    { /* negation, escapes, Unicode ranges */
        const char *y[] = {"x", "é", "日", "\xF0\x9F\x99\x82", NULL};
        const char *n[] = {"a", "b", "\n", "xy", NULL};
        expect("root ::= [^ab\\n]\n", y, n);
    }
    {
        const char *y[] = {"α", "ω", "ά", NULL};
        const char *n[] = {"a", "Ω", "ϊ", NULL};
        expect("root ::= [α-ω\\u03AC]\n", y, n);
    }
    {
        const char *y[] = {"\xF0\x9F\x98\x80", "\xF0\x9F\x98\x8F", NULL};
        const char *n[] = {"\xF0\x9F\x98\x90", "\xF0\x9F", NULL};
        expect("root ::= [\\U0001F600-\\U0001F60F]\n", y, n);
    }
    { /* any character, comments, alternatives continued on the next line */
        const char *y[] = {"<x>", "<日>", "ok", NULL};
        const char *n[] = {"<>", "<xy>", NULL};
        expect("# a comment\nroot ::= \"<\" . \">\" # trailing\n  | \"ok\"\n", y, n);
    }
}

static void expect_error(const char *src, const char *want) {
    fm_grammar *g = (fm_grammar *)1;
    fm_status st = fm_grammar_parse_gbnf(src, strlen(src), NULL, &g);
    CHECK(st == FM_STATUS_INVALID_ARGUMENT && g == NULL && strstr(fm_last_error(), want),
          "error for\n%s\nwant '%s', got %s: %s", src, want, fm_status_name(st), fm_last_error());
}

static void test_errors(void) {
    expect_error("root ::= \"a\n", "line 1, column 10: unterminated literal");
    expect_error("root ::= \"a\"\nfoo ::= bar\n", "line 2, column 9: rule 'bar' is used but never defined");
    expect_error("root ::= [a-\n", "line 1, column 10: unterminated character class");
    expect_error("root ::= (\"a\"\n", "'(' without ')'");
    expect_error("root ::= \"a\" )\n", "')' without '('");
    expect_error("root ::= \"\\q\"\n", "unknown escape");
    expect_error("root ::= \"a\"{3,2}\n", "max below min");
    expect_error("root ::= \"a\"\nroot ::= \"b\"\n", "line 2, column 1: rule 'root' is defined twice");
    expect_error("start ::= \"a\"\n", "no rule named 'root'");
    expect_error("root ::= root \"a\" | \"a\"\n", "rule 'root' is left-recursive");
    expect_error("root ::= x | \"a\"\nx ::= y? root \"b\"\ny ::= \"c\"\n", "left-recursive");
    expect_error("root ::= \"a\" root\n", "matches no string");
    expect_error("root ::= [z-a]\n", "reversed");
    expect_error("root ::= \"a\"{99999999}\n", "too large");
    expect_error("root ::= \"a\"{5,4097}\n", "above 4096");
    expect_error("root ::= <[123]>\n", "token references");
    expect_error("root ::= \"a\" ::= \"b\"\n", "line 1");
    expect_error("root := \"a\"\n", "expected '::='");
    CHECK(fm_grammar_parse_gbnf(NULL, 3, NULL, NULL) == FM_STATUS_INVALID_ARGUMENT, "NULL arguments");
}

/* A grammar ambiguous enough that the parser's sets grow with every byte
 * (time cubic and memory quadratic in the text: a fuzzed GBNF took 37 s)
 * meets the parser's limits (131,072 steps at one position, 2^23 items in
 * all) as UNSUPPORTED naming them, not as an unbounded stall: at matcher
 * creation when the start alone takes too many (36 rules, each repeating
 * the next 4,000 times), at the byte that would exceed them otherwise; the
 * matcher is left as before that text and stays usable. */
static void test_parser_limits(void) {
    char src[4096];
    size_t len = (size_t)snprintf(src, sizeof src, "root ::= r0\n");
    for (int i = 0; i < 36; i++) len += (size_t)snprintf(src + len, sizeof src - len, "r%d ::= r%d{4000}\n", i, i + 1);
    snprintf(src + len, sizeof src - len, "r36 ::= \"\" | \"(\" r36 \")\" | \"a\"\n");
    fm_grammar *g = compile(src);
    fm_matcher *m = NULL;
    if (g) {
        CHECK(fm_matcher_new(g, g_tok, &m) == FM_STATUS_UNSUPPORTED && m == NULL &&
                  strstr(fm_last_error(), "too ambiguous") != NULL && strstr(fm_last_error(), "131072") != NULL,
              "a start past the limit: %s", fm_last_error());
        fm_grammar_free(g);
    }
    g = compile("root ::= b{2000}\nb ::= c{2000}\nc ::= \"\" | \"(\" c \")\" | \"a\"\n");
    if (g && fm_matcher_new(g, g_tok, &m) == FM_STATUS_OK) {
        char many[64];
        memset(many, 'a', sizeof many);
        size_t ok = 0; /* the longest run of a's it takes */
        while (ok < sizeof many && fm_matcher_accept_text(m, "a", 1) == FM_STATUS_OK) ok++;
        CHECK(ok < sizeof many, "64 a's accepted: the limit was never reached");
        fm_matcher *before = NULL;
        CHECK(fm_matcher_clone(m, &before) == FM_STATUS_OK, "clone");
        CHECK(fm_matcher_accept_text(m, "a", 1) == FM_STATUS_UNSUPPORTED && strstr(fm_last_error(), "too ambiguous"),
              "the byte past the limit: %s", fm_last_error());
        /* unchanged by the refused byte: the same answers as a copy taken before it */
        const char *probes[] = {"", ")", "(", "b"};
        for (size_t i = 0; before != NULL && i < sizeof probes / sizeof probes[0]; i++) {
            const size_t n = strlen(probes[i]);
            fm_matcher *x = NULL, *y = NULL;
            CHECK(fm_matcher_clone(m, &x) == FM_STATUS_OK && fm_matcher_clone(before, &y) == FM_STATUS_OK, "clones");
            const fm_status sx = fm_matcher_accept_text(x, probes[i], n), sy = fm_matcher_accept_text(y, probes[i], n);
            CHECK(sx == sy && fm_matcher_can_end(x) == fm_matcher_can_end(y), "after the limit, '%s': %d vs %d",
                  probes[i], sx, sy);
            fm_matcher_free(x), fm_matcher_free(y);
        }
        fm_matcher_free(before);
        fm_matcher_reset(m);
        CHECK(fm_matcher_accept_text(m, "a", 1) == FM_STATUS_OK, "after reset: %s", fm_last_error());
        printf("parser limits: refused at creation; the other took %zu a's, then UNSUPPORTED\n", ok);
        fm_matcher_free(m);
    } else
        CHECK(0, "the matcher under the limit: %s", fm_last_error());
    fm_grammar_free(g);
}

/* Shapes that are exponential for engines that expand alternatives (or
 * loop on empty repetitions): they compile and match quickly here. */
static void test_pathological(void) {
    char src[65536];
    size_t n = 0;
    n += (size_t)snprintf(src + n, sizeof src - n, "root ::= r0\n");
    for (int i = 0; i < 500; i++) n += (size_t)snprintf(src + n, sizeof src - n, "r%d ::= (r%d)? \"a\"?\n", i, i + 1);
    snprintf(src + n, sizeof src - n, "r500 ::= \"b\"\n");
    fm_grammar *g = compile(src);
    if (g) {
        CHECK(matches(g, "b") == 1 && matches(g, "") == 1 && matches(g, "baaaa") == 1 && matches(g, "ab") == 0,
              "500 nested optional rules");
        fm_grammar_free(g);
    }
    g = compile("root ::= ((((\"a\"?)*)*)*)* \"b\"\n");
    if (g) {
        /* ambiguous in every way: Earley's cubic bound, so a few hundred bytes */
        char s[302];
        memset(s, 'a', 300);
        s[300] = 'b', s[301] = 0;
        CHECK(matches(g, s) == 1, "nested stars of an optional");
        fm_grammar_free(g);
    }
    g = compile("root ::= (\"a\" | \"a\" | \"a\" \"a\" | [a])*\n");
    if (g) {
        char s[3001];
        memset(s, 'a', 3000);
        s[3000] = 0;
        CHECK(matches(g, s) == 1, "ambiguous alternatives over 3000 bytes");
        fm_grammar_free(g);
    }
    g = compile("root ::= \"x\"{0,4000} \"y\"\n");
    if (g) {
        CHECK(matches(g, "xxxxy") == 1, "a large bounded repetition");
        fm_grammar_free(g);
    }
    test_parser_limits();
}

/* The mask equals asking for each token on its own. */
static void check_mask(fm_matcher *m, const fm_tokenizer *tok, const char *what) {
    const int32_t nv = fm_tokenizer_n_vocab(tok);
    const size_t nw = ((size_t)nv + 31) / 32;
    uint32_t *mask = calloc(nw, sizeof *mask);
    CHECK(fm_matcher_fill_mask(m, mask, nw) == FM_STATUS_OK, "fill mask: %s", fm_last_error());
    int bad = 0, allowed = 0;
    char piece[512];
    for (fm_token t = 0; t < nv; t++) {
        const int bit = mask[t >> 5] >> (t & 31) & 1;
        allowed += bit;
        /* the reference: a fresh copy fed the token's bytes */
        int want;
        if (fm_tokenizer_is_eog(tok, t)) {
            want = fm_matcher_can_end(m);
        } else {
            size_t len = 0;
            fm_matcher *c;
            fm_matcher_clone(m, &c);
            want = fm_tokenizer_token_to_piece(tok, t, 0, piece, sizeof piece, &len) == FM_STATUS_OK && len > 0 &&
                   fm_matcher_accept_text(c, piece, len) == FM_STATUS_OK;
            fm_matcher_free(c);
        }
        if (bit != want || fm_matcher_allows(m, t) != want) {
            if (bad++ < 5) fprintf(stderr, "  %s: token %d mask %d allows %d want %d\n", what, t, bit,
                                   fm_matcher_allows(m, t), want);
        }
    }
    CHECK(bad == 0, "%s: mask equals per-token checks (%d differ, %d allowed)", what, bad, allowed);
    CHECK(allowed > 0, "%s: some token is allowed", what);
    CHECK(fm_matcher_fill_mask(m, mask, nw - 1) == FM_STATUS_INVALID_ARGUMENT, "short mask refused");
    free(mask);
}

static void test_masks(void) {
    fm_tokenizer *big;
    CHECK(fm_tokenizer_load(tu_data("vocab/ggml-vocab-llama-spm.gguf"), NULL, &big) == FM_STATUS_OK, "llama vocab");
    fm_grammar *g = compile(JSON_GBNF);
    const char *states[] = {"", "{", "{\"na", "{\"name\": ", "{\"name\": \"Al", "{\"name\": 12", "{\"a\": [1, {}]}",
                            NULL};
    const fm_tokenizer *toks[2] = {g_tok, big};
    for (int k = 0; k < 2; k++)
        for (int i = 0; states[i]; i++) {
            fm_matcher *m;
            CHECK(fm_matcher_new(g, toks[k], &m) == FM_STATUS_OK, "matcher");
            CHECK(fm_matcher_accept_text(m, states[i], strlen(states[i])) == FM_STATUS_OK, "prefix %s", states[i]);
            char what[64];
            snprintf(what, sizeof what, "%s after '%s'", k ? "llama-spm" : "stories260K", states[i]);
            check_mask(m, toks[k], what);
            fm_matcher_free(m);
        }
    /* accept / reset / finish */
    fm_matcher *m;
    fm_matcher_new(g, g_tok, &m);
    CHECK(!fm_matcher_can_end(m), "an empty JSON object text is not complete");
    CHECK(fm_matcher_accept_text(m, "{x", 2) == FM_STATUS_INVALID_ARGUMENT, "refused text");
    CHECK(fm_matcher_accept_text(m, "{}", 2) == FM_STATUS_OK && fm_matcher_can_end(m), "unchanged after a refusal");
    const fm_token eos = fm_tokenizer_special(g_tok, FM_SPECIAL_EOS);
    CHECK(fm_matcher_allows(m, eos) && fm_matcher_accept(m, eos) == FM_STATUS_OK, "EOS where it may end");
    CHECK(!fm_matcher_allows(m, 300), "nothing after EOS");
    fm_matcher_reset(m);
    CHECK(!fm_matcher_allows(m, eos) && fm_matcher_accept(m, eos) == FM_STATUS_INVALID_ARGUMENT,
          "no EOS at the start");
    fm_matcher_free(m);
    fm_grammar_free(g); /* matchers keep their own reference */
    fm_tokenizer_free(big);
}

/* Generation under a grammar: every output is a sentence of it. */
static void test_generation(void) {
    fm_model *model;
    CHECK(fm_model_load(tu_data("models/stories260K.gguf"), NULL, &model) == FM_STATUS_OK, "model");
    const fm_tokenizer *tok = fm_model_tokenizer(model);
    const char *src = "root ::= \" \"? \"The \" [a-z]+ (\" \" [a-z]+){2,5} \".\"\n";
    fm_grammar *g = compile(src);
    for (int seeded = 0; seeded < 2; seeded++) {
        fm_sampler_params sp;
        fm_sampler_params_init(&sp, sizeof sp);
        sp.temperature = seeded ? 1.0f : 0.0f;
        sp.seed = 9;
        char out[2][512];
        for (int run = 0; run < 2; run++) {
            fm_context *ctx;
            fm_sampler *s;
            fm_context_new(model, NULL, &ctx);
            fm_sampler_new(&sp, &s);
            CHECK(fm_sampler_add_grammar(s, g, tok) == FM_STATUS_OK, "add grammar");
            fm_token p[4];
            size_t np;
            fm_tokenizer_encode(tok, "Once", 4, FM_ENCODE_ADD_BOS, p, 4, &np);
            fm_context_decode(ctx, p, np, FM_LOGITS_LAST);
            size_t len = 0;
            int ended = 0;
            for (int i = 0; i < 60 && !ended; i++) {
                fm_token t;
                fm_status st = fm_sampler_sample(s, fm_context_logits(ctx, -1), fm_tokenizer_n_vocab(tok), &t);
                CHECK(st == FM_STATUS_OK, "sample: %s", fm_last_error());
                if (st) break;
                if (fm_tokenizer_is_eog(tok, t)) {
                    ended = 1;
                    break;
                }
                size_t n = 0;
                fm_tokenizer_token_to_piece(tok, t, 0, out[run] + len, sizeof out[run] - len - 1, &n);
                len += n;
                fm_context_decode(ctx, &t, 1, FM_LOGITS_LAST);
            }
            out[run][len] = 0;
            CHECK(ended, "generation reached the end of the grammar (%s)", out[run]);
            CHECK(matches(g, out[run]) == 1, "output '%s' is a sentence of the grammar", out[run]);
            fm_sampler_free(s);
            fm_context_free(ctx);
        }
        CHECK(!strcmp(out[0], out[1]), "%s runs repeat: '%s' vs '%s'", seeded ? "seeded" : "greedy", out[0], out[1]);
    }
    fm_grammar_free(g);
    fm_model_free(model);
}

int main(void) {
    CHECK(fm_tokenizer_load(tu_data("models/stories260K.gguf"), NULL, &g_tok) == FM_STATUS_OK, "tokenizer");
    test_languages();
    test_errors();
    test_pathological();
    test_masks();
    test_generation();
    fm_tokenizer_free(g_tok);
    return tu_finish("test_grammar");
}
