/* Issue 16, acceptance 2: the shared MaskBench schemas as a regression
 * test. Every schema listed in tests/grammar/jsonschema_passing.txt must
 * still pass (compile; every valid instance accepted through its end; every
 * invalid one refused or incomplete), no invalid instance of any schema may
 * be accepted, and new passes are reported (add them to the list:
 * FM_WRITE_PASSING=path writes the current list). Then schema errors that
 * must name their keyword and JSON pointer. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "fm.h"

static fm_tokenizer *g_tok;

static int accepts(fm_matcher *m, const char *text, size_t len) {
    fm_matcher_reset(m);
    return fm_matcher_accept_text(m, text, len) == FM_STATUS_OK && fm_matcher_can_end(m);
}

static const char *const FILES[] = {"BFCL_javascript", "BFCL_sql", "Github_easy", "Github_trivial", "Glaiveai2K",
                                    "Handwritten", "Synthesized"};

static void test_regression(const char *list_path) {
    size_t list_len = 0;
    char *list = tu_read_file(list_path, &list_len);
    CHECK(list != NULL, "the passing list %s", list_path);
    if (list == NULL) return;
    const char *write = getenv("FM_WRITE_PASSING");
    FILE *out = write ? fopen(write, "w") : NULL;
    long listed = 0, listed_pass = 0, passing = 0, invalid_accepted = 0, schemas = 0, new_pass = 0;
    for (const char *p = list; *p; p++) listed += *p == '\n';
    for (size_t fi = 0; fi < sizeof FILES / sizeof FILES[0]; fi++) {
        char rel[128];
        snprintf(rel, sizeof rel, "jsonschema/%s.jsonl", FILES[fi]);
        FILE *f = fopen(tu_data(rel), "rb");
        CHECK(f != NULL, "open %s", rel);
        if (f == NULL) continue;
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, f)) > 0) {
            json_error_t je;
            json_t *rec = json_loadb(line, (size_t)n, 0, &je);
            if (rec == NULL) continue;
            schemas++;
            const char *id = json_string_value(json_object_get(rec, "id"));
            char *schema = json_dumps(json_object_get(rec, "schema"), JSON_COMPACT | JSON_ENCODE_ANY);
            fm_grammar *g = NULL;
            fm_matcher *m = NULL;
            int pass = fm_grammar_from_json_schema(schema, strlen(schema), 0, &g) == FM_STATUS_OK &&
                       fm_matcher_new(g, g_tok, &m) == FM_STATUS_OK;
            json_t *tests = json_object_get(rec, "tests");
            size_t i;
            json_t *t;
            json_array_foreach(tests, i, t) {
                if (m == NULL) break;
                json_t *inst = json_object_get(t, "instance");
                const int ok = accepts(m, json_string_value(inst), json_string_length(inst));
                if (json_is_true(json_object_get(t, "valid"))) pass &= ok;
                else if (ok) {
                    pass = 0;
                    invalid_accepted++;
                    fprintf(stderr, "  %s: invalid instance %zu accepted\n", id, i);
                }
            }
            /* "id\n" in the list */
            char key[300];
            snprintf(key, sizeof key, "\n%s\n", id);
            const int is_listed = strstr(list, key) != NULL || (strncmp(list, key + 1, strlen(key + 1)) == 0);
            if (pass) {
                passing++;
                if (out) fprintf(out, "%s\n", id);
                if (!is_listed) new_pass++;
            }
            if (is_listed) {
                listed_pass += pass;
                CHECK(pass, "%s is in the passing list but fails now", id);
            }
            fm_matcher_free(m);
            fm_grammar_free(g);
            free(schema);
            json_decref(rec);
        }
        free(line);
        fclose(f);
    }
    if (out) fclose(out);
    CHECK(invalid_accepted == 0, "no invalid instance accepted (%ld were)", invalid_accepted);
    CHECK(listed > 3000 && listed_pass == listed, "every listed schema passes (%ld of %ld)", listed_pass, listed);
    fprintf(stderr, "json schema regression: %ld schemas with tests, %ld pass (%.1f %%), %ld listed, %ld new passes%s\n",
            schemas, passing, 100.0 * (double)passing / (double)schemas, listed, new_pass,
            new_pass ? " (add them: FM_WRITE_PASSING)" : "");
    free(list);
}

static void expect_error(const char *schema, fm_status want, const char *msg) {
    fm_grammar *g = (fm_grammar *)1;
    fm_status st = fm_grammar_from_json_schema(schema, strlen(schema), 0, &g);
    CHECK(st == want && g == NULL && strstr(fm_last_error(), msg), "%s: want %s '%s', got %s: %s", schema,
          fm_status_name(want), msg, fm_status_name(st), fm_last_error());
}

static void test_errors(void) {
    expect_error("{\"type\": \"object\", \"properties\": {\"a\": {\"not\": {}}}}", FM_STATUS_UNSUPPORTED,
                 "at '/properties/a/not': 'not' is not supported");
    expect_error("{\"items\": {\"type\": \"array\", \"uniqueItems\": true}}", FM_STATUS_UNSUPPORTED,
                 "at '/items': uniqueItems is not supported");
    expect_error("{\"$defs\": {\"x\": {\"if\": {}}}, \"$ref\": \"#/$defs/x\"}", FM_STATUS_UNSUPPORTED,
                 "at '/$defs/x/if'");
    expect_error("{\"$ref\": \"#/nowhere\"}", FM_STATUS_UNSUPPORTED, "$ref '#/nowhere'");
    expect_error("{\"type\": \"string\", \"format\": \"regex\"}", FM_STATUS_UNSUPPORTED, "format 'regex'");
    expect_error("{\"type\": \"string\", \"pattern\": \"(a\"}", FM_STATUS_INVALID_ARGUMENT, "without ')'");
    expect_error("{\"type\": \"integer\", \"minimum\": 5, \"maximum\": 2}", FM_STATUS_INVALID_ARGUMENT,
                 "between minimum and maximum");
    expect_error("{\"type\": 7}", FM_STATUS_INVALID_ARGUMENT, "type must be");
    expect_error("{\"a\": ", FM_STATUS_INVALID_ARGUMENT, "line 1, column");
    expect_error("{\"oneOf\": [{\"type\": \"string\"}, {\"minLength\": 2}]}", FM_STATUS_UNSUPPORTED, "oneOf");
}

/* A few exact languages, by instance. */
static void expect_lang(const char *schema, const char *const *yes, const char *const *no) {
    fm_grammar *g = NULL;
    fm_matcher *m = NULL;
    CHECK(fm_grammar_from_json_schema(schema, strlen(schema), 0, &g) == FM_STATUS_OK && fm_matcher_new(g, g_tok, &m) == 0,
          "%s: %s", schema, fm_last_error());
    if (m == NULL) return;
    for (int i = 0; yes[i]; i++) CHECK(accepts(m, yes[i], strlen(yes[i])), "%s accepts %s", schema, yes[i]);
    for (int i = 0; no[i]; i++) CHECK(!accepts(m, no[i], strlen(no[i])), "%s refuses %s", schema, no[i]);
    fm_matcher_free(m);
    fm_grammar_free(g);
}

static void test_languages(void) {
    {
        const char *y[] = {"-17", "-10", "0", "9", "99", "100", "3", NULL};
        const char *n[] = {"-18", "101", "1000", "01", "-0", "3.5", NULL};
        expect_lang("{\"type\": \"integer\", \"minimum\": -17, \"maximum\": 100}", y, n);
    }
    {
        const char *y[] = {"0.5", "1", "9.999", "0.0001", NULL};
        const char *n[] = {"0", "0.0", "10", "10.0", "-1", NULL};
        expect_lang("{\"type\": \"number\", \"exclusiveMinimum\": 0, \"exclusiveMaximum\": 10}", y, n);
    }
    {
        const char *y[] = {"\"2024-02-29\"", "\"2023-12-31\"", "\"2000-02-29\"", NULL};
        const char *n[] = {"\"2023-02-29\"", "\"2024-04-31\"", "\"1900-02-29\"", "\"2024-13-01\"", NULL};
        expect_lang("{\"type\": \"string\", \"format\": \"date\"}", y, n);
    }
    {
        const char *y[] = {"{\"a\": 1}", "{\"b\": 2}", NULL};
        const char *n[] = {"{\"a\": 1, \"b\": 2}", "{}", NULL};
        expect_lang("{\"type\": \"object\", \"properties\": {\"a\": {}, \"b\": {}}, "
                    "\"oneOf\": [{\"required\": [\"a\"]}, {\"required\": [\"b\"]}]}",
                    y, n);
    }
    {
        const char *y[] = {"{\"id\": \"ab\", \"x\": [1, 2]}", "{\"id\": \"ab\"}", "{\"id\":\"ab\",\"extra\":null}", NULL};
        const char *n[] = {"{\"x\": [1]}", "{\"id\": \"abc\"}", "{\"id\": \"ab\", \"x\": [1, 2, 3]}",
                           "{\"id\": \"ab\", \"id\": \"ab\"}", NULL};
        expect_lang("{\"type\": \"object\", \"properties\": {\"id\": {\"type\": \"string\", \"maxLength\": 2}, "
                    "\"x\": {\"type\": \"array\", \"maxItems\": 2}}, \"required\": [\"id\"]}",
                    y, n);
    }
    {
        const char *y[] = {"{\"next\": {\"next\": null}}", "null", NULL};
        const char *n[] = {"{\"next\": 1}", NULL};
        expect_lang("{\"$defs\": {\"n\": {\"anyOf\": [{\"type\": \"null\"}, {\"type\": \"object\", "
                    "\"properties\": {\"next\": {\"$ref\": \"#/$defs/n\"}}, \"required\": [\"next\"], "
                    "\"additionalProperties\": false}]}}, \"$ref\": \"#/$defs/n\"}",
                    y, n);
    }
    {
        const char *y[] = {"\"x\\\"y\"", "\"a\\\\b\"", "\"tab\\there\"", NULL};
        const char *n[] = {"\"x\"y\"", "\"ab\"", NULL};
        expect_lang("{\"type\": \"string\", \"pattern\": \"[\\\\\\\\\\\"\\t]\"}", y, n);
    }
}


/* The mask (with its lexeme cache) equals asking token by token, on a
 * large vocabulary, at states inside and between JSON strings. */
static void test_masks(void) {
    fm_tokenizer *big;
    CHECK(fm_tokenizer_load(tu_data("vocab/cl100k_base.tiktoken"), NULL, &big) == FM_STATUS_OK, "cl100k");
    const char *schema = "{\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\"}, \"code\": {\"type\": "
                         "\"string\", \"pattern\": \"^[A-Z]{2}[0-9]+$\"}, \"n\": {\"type\": \"integer\", \"minimum\": 3}},"
                         " \"required\": [\"name\", \"code\"]}";
    fm_grammar *g = NULL;
    CHECK(fm_grammar_from_json_schema(schema, strlen(schema), 0, &g) == FM_STATUS_OK, "schema: %s", fm_last_error());
    const char *states[] = {"", "{\"na", "{\"name\": \"", "{\"name\": \"Al", "{\"name\": \"Al\\", "{\"name\": \"A\", ",
                            "{\"name\": \"A\", \"code\": \"Q", "{\"name\": \"A\", \"code\": \"QQ1", NULL};
    const int32_t nv = fm_tokenizer_n_vocab(big);
    const size_t nw = ((size_t)nv + 31) / 32;
    uint32_t *mask = malloc(nw * sizeof *mask);
    char piece[512];
    fm_matcher *m = NULL;
    CHECK(fm_matcher_new(g, big, &m) == FM_STATUS_OK, "matcher");
    for (int round = 0; round < 2 && m; round++) /* the second round uses the cache */
        for (int i = 0; states[i]; i++) {
            fm_matcher_reset(m);
            CHECK(fm_matcher_accept_text(m, states[i], strlen(states[i])) == FM_STATUS_OK, "prefix %s", states[i]);
            CHECK(fm_matcher_fill_mask(m, mask, nw) == FM_STATUS_OK, "mask");
            int bad = 0, allowed = 0;
            for (fm_token t = 0; t < nv; t++) {
                const int bit = mask[t >> 5] >> (t & 31) & 1;
                size_t len = 0;
                int want = 0;
                if (fm_tokenizer_is_eog(big, t)) want = fm_matcher_can_end(m);
                else if (fm_tokenizer_token_to_piece(big, t, 0, piece, sizeof piece, &len) == FM_STATUS_OK && len) {
                    fm_matcher *c;
                    fm_matcher_clone(m, &c);
                    want = fm_matcher_accept_text(c, piece, len) == FM_STATUS_OK;
                    fm_matcher_free(c);
                }
                allowed += bit;
                if (bit != want && bad++ < 3) fprintf(stderr, "  after '%s': token %d mask %d want %d\n", states[i], t, bit, want);
            }
            CHECK(bad == 0 && allowed > 0, "round %d after '%s': mask equals per-token checks (%d differ, %d allowed)",
                  round, states[i], bad, allowed);
        }
    fm_matcher_free(m);
    fm_grammar_free(g);
    free(mask);
    fm_tokenizer_free(big);
}

/* Lexeme caches are shared by every grammar on a tokenizer, and a new one
 * is often built from another grammar's: real schemas, one after another on
 * one tokenizer, each mask compared with asking token by token
 * (fm_matcher_allows pushes the token's bytes and uses no cache) at every
 * position of a valid instance, up to MAX_POS positions a schema. */
#define SHARED_SCHEMAS 10
#define MAX_POS 12
/* Tokens where the mask and fm_matcher_allows disagree (the first few
 * printed, labelled with `where`). */
static int mask_differs(fm_matcher *m, const fm_tokenizer *tok, uint32_t *mask, size_t nw, const char *where) {
    if (fm_matcher_fill_mask(m, mask, nw) != FM_STATUS_OK) return -1;
    int bad = 0;
    for (fm_token t = 0; t < fm_tokenizer_n_vocab(tok); t++) {
        const int bit = mask[t >> 5] >> (t & 31) & 1;
        const int want = fm_matcher_allows(m, t);
        if (bit != want && bad++ < 3) fprintf(stderr, "  %s: token %d mask %d want %d\n", where, t, bit, want);
    }
    return bad;
}

/* After text[0..len) (which must be accepted), the mask equals the
 * per-token checks: 1 when checked. */
static int mask_after(fm_matcher *m, const fm_tokenizer *tok, uint32_t *mask, size_t nw, const char *text, size_t len,
                      const char *where) {
    fm_matcher_reset(m);
    const int open = fm_matcher_accept_text(m, text, len) == FM_STATUS_OK;
    CHECK(open, "%s: the prefix is accepted", where);
    if (!open) return 0;
    CHECK(mask_differs(m, tok, mask, nw, where) == 0, "%s: mask equals per-token checks", where);
    return 1;
}

/* The schema compiled, with a matcher over stories260K's vocabulary (m)
 * and one over `big` (mb); 0 (checked, reported) when any step fails. */
static int compile_both(const char *schema, const fm_tokenizer *big, fm_grammar **g, fm_matcher **m, fm_matcher **mb) {
    const int ok = fm_grammar_from_json_schema(schema, strlen(schema), 0, g) == FM_STATUS_OK &&
                   fm_matcher_new(*g, g_tok, m) == FM_STATUS_OK && fm_matcher_new(*g, big, mb) == FM_STATUS_OK;
    CHECK(ok, "%s: %s", schema, fm_last_error());
    if (!ok) fm_matcher_free(*m), fm_grammar_free(*g);
    return ok;
}

/* A JSON string of n characters, as text: plain, two- and four-byte UTF-8
 * and escapes in turn (each one character). */
static size_t string_of(char *out, size_t n) {
    static const char *const ch[] = {"x", "\xc3\xa9", "\\n", "y", "\\u001f", "\xf0\x9f\x98\x80", "\\\""};
    size_t len = 0;
    out[len++] = '"';
    for (size_t i = 0; i < n; i++) {
        const char *c = ch[i % 7];
        memcpy(out + len, c, strlen(c));
        len += strlen(c);
    }
    out[len++] = '"';
    out[len] = 0;
    return len;
}

/* Strings with length bounds alone (a counted DFA, automaton.c): exact
 * at every length around the bounds and every 32 characters, and
 * masks equal per-token checks there. */
static void test_long_strings(void) {
    fm_tokenizer *big;
    CHECK(fm_tokenizer_load(tu_data("vocab/cl100k_base.tiktoken"), NULL, &big) == FM_STATUS_OK, "cl100k");
    static const struct {
        const char *schema;
        uint32_t min, max; /* max 0: none */
    } cases[] = {
        {"{\"type\": \"string\", \"minLength\": 70, \"maxLength\": 100}", 70, 100},
        {"{\"type\": \"string\", \"minLength\": 150}", 150, 0},
        {"{\"type\": \"string\", \"maxLength\": 300}", 0, 300},
    };
    const size_t nw = ((size_t)fm_tokenizer_n_vocab(big) + 31) / 32;
    uint32_t *mask = malloc(nw * sizeof *mask);
    char *text = malloc(8 * 400 + 8), where[96];
    int masks = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fm_grammar *g = NULL;
        fm_matcher *m = NULL, *mb = NULL;
        if (!compile_both(cases[k].schema, big, &g, &m, &mb)) continue;
        const uint32_t top = cases[k].max ? cases[k].max + 2 : cases[k].min + 40;
        for (uint32_t n = 0; n <= top; n++) {
            const size_t len = string_of(text, n);
            const int want = n >= cases[k].min && (cases[k].max == 0 || n <= cases[k].max);
            CHECK(accepts(m, text, len) == want, "%s: %u characters %s", cases[k].schema, n, want ? "accepted" : "refused");
            /* masks every 32 characters and at the bounds */
            const uint32_t r = n % 32;
            if (r != 0 && r != 1 && r != 31 && n != cases[k].min && n != cases[k].max && n + 1 != cases[k].max) continue;
            if (cases[k].max && n > cases[k].max) continue;
            snprintf(where, sizeof where, "%s after %u characters", cases[k].schema, n);
            masks += mask_after(mb, big, mask, nw, text, len - 1, where);
        }
        fm_matcher_free(mb);
        fm_matcher_free(m);
        fm_grammar_free(g);
    }
    fprintf(stderr, "long strings: %d masks equal per-token checks\n", masks);
    free(text);
    free(mask);
    fm_tokenizer_free(big);
}

/* Patterns whose length bounds would need a table per count: the DFA
 * counts for itself (dfa_count.c). Lengths exact on both sides of the
 * bounds, counts that only some lengths reach (ab|cdef gives even ones),
 * and masks equal per-token checks near the bounds. */
static void test_counted_patterns(void) {
    fm_tokenizer *big;
    CHECK(fm_tokenizer_load(tu_data("vocab/cl100k_base.tiktoken"), NULL, &big) == FM_STATUS_OK, "cl100k");
    const size_t nw = ((size_t)fm_tokenizer_n_vocab(big) + 31) / 32;
    uint32_t *mask = malloc(nw * sizeof *mask);
    char *text = malloc(8200), where[160];
    static const struct {
        const char *schema;
        const char *unit;   /* repeated to make the strings tried */
        uint32_t n_lo, n_hi; /* repetitions tried */
        uint32_t ok_lo, ok_hi; /* those accepted (ok_hi 0: no upper bound) */
    } cases[] = {
        {"{\"type\": \"string\", \"pattern\": \"^(ab|cdef)+$\", \"minLength\": 2000, \"maxLength\": 3000}", "ab", 995, 1505,
         1000, 1500},
        {"{\"type\": \"string\", \"pattern\": \"^(ab|cdef)+$\", \"minLength\": 2501}", "ab", 1245, 1300, 1251, 0},
        {"{\"type\": \"string\", \"pattern\": \"^[a-z\\\\u00e9]+@x$\", \"minLength\": 1500, \"maxLength\": 2600}",
         "\xc3\xa9", 1490, 2605, 1498, 2598},
    };
    int masks = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fm_grammar *g = NULL;
        fm_matcher *m = NULL, *mb = NULL;
        if (!compile_both(cases[k].schema, big, &g, &m, &mb)) continue;
        const size_t ul = strlen(cases[k].unit);
        const int email = k == 2;
        for (uint32_t r = cases[k].n_lo; r <= cases[k].n_hi; r++) {
            size_t len = 0;
            text[len++] = '"';
            for (uint32_t i = 0; i < r; i++) memcpy(text + len, cases[k].unit, ul), len += ul;
            if (email) memcpy(text + len, "@x", 2), len += 2;
            text[len++] = '"';
            const int want = r >= cases[k].ok_lo && (cases[k].ok_hi == 0 || r <= cases[k].ok_hi);
            CHECK(accepts(m, text, len) == want, "%s: %u repetitions %s", cases[k].schema, r, want ? "accepted" : "refused");
            if (r != cases[k].n_lo && r + 1 != cases[k].ok_lo && r != cases[k].ok_lo && r != cases[k].ok_hi) continue;
            snprintf(where, sizeof where, "%s after %u repetitions", cases[k].schema, r);
            masks += mask_after(mb, big, mask, nw, text, len - (email ? 3 : 1), where);
        }
        fm_matcher_free(mb);
        fm_matcher_free(m);
        fm_grammar_free(g);
    }
    { /* a prefix that no ending brings within the bounds is refused where it goes wrong */
        fm_grammar *g = NULL;
        fm_matcher *m = NULL;
        if (fm_grammar_from_json_schema(cases[0].schema, strlen(cases[0].schema), 0, &g) == FM_STATUS_OK &&
            fm_matcher_new(g, g_tok, &m) == FM_STATUS_OK) {
            size_t len = 0;
            text[len++] = '"';
            for (int i = 0; i < 1499; i++) memcpy(text + len, "ab", 2), len += 2;
            CHECK(fm_matcher_accept_text(m, text, len) == FM_STATUS_OK, "2998 characters open");
            CHECK(fm_matcher_accept_text(m, "c", 1) != FM_STATUS_OK, "a 'cdef' past 3000 characters refused at its 'c'");
            CHECK(fm_matcher_accept_text(m, "ab", 2) == FM_STATUS_OK && fm_matcher_can_end(m) == 0, "then 'ab' still fits");
        }
        fm_matcher_free(m);
        fm_grammar_free(g);
    }
    /* no length within the bounds: an error naming the place, not an empty language */
    expect_error("{\"type\": \"string\", \"pattern\": \"^(ab|cdef)+$\", \"minLength\": 3001, \"maxLength\": 3001}",
                 FM_STATUS_INVALID_ARGUMENT, "no string satisfies");
    CHECK(masks >= 10, "counted patterns: %d masks checked", masks);
    fprintf(stderr, "counted patterns: %d masks equal per-token checks\n", masks);
    free(text);
    free(mask);
    fm_tokenizer_free(big);
}

static void test_masks_shared(const char *file) {
    fm_tokenizer *big;
    CHECK(fm_tokenizer_load(tu_data("vocab/cl100k_base.tiktoken"), NULL, &big) == FM_STATUS_OK, "cl100k");
    char rel[128];
    snprintf(rel, sizeof rel, "jsonschema/%s.jsonl", file);
    FILE *f = fopen(tu_data(rel), "rb");
    CHECK(f != NULL, "open %s", rel);
    const int32_t nv = fm_tokenizer_n_vocab(big);
    const size_t nw = ((size_t)nv + 31) / 32;
    uint32_t *mask = malloc(nw * sizeof *mask);
    fm_token ids[4096];
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int done = 0, positions = 0;
    while (f && done < SHARED_SCHEMAS && (n = getline(&line, &cap, f)) > 0) {
        json_t *rec = json_loadb(line, (size_t)n, 0, NULL);
        if (rec == NULL) continue;
        char *schema = json_dumps(json_object_get(rec, "schema"), JSON_COMPACT | JSON_ENCODE_ANY);
        json_t *t0 = json_array_get(json_object_get(rec, "tests"), 0);
        json_t *inst = json_object_get(t0, "instance");
        fm_grammar *g = NULL;
        fm_matcher *m = NULL;
        size_t n_ids = 0;
        if (json_is_true(json_object_get(t0, "valid")) &&
            fm_grammar_from_json_schema(schema, strlen(schema), 0, &g) == FM_STATUS_OK &&
            fm_matcher_new(g, big, &m) == FM_STATUS_OK &&
            fm_tokenizer_encode(big, json_string_value(inst), json_string_length(inst), 0, ids, 4096, &n_ids) ==
                FM_STATUS_OK) {
            done++;
            /* positions spread over the instance: its keys, strings and values */
            const size_t step = n_ids / MAX_POS + 1;
            for (size_t i = 0; i < n_ids && m; i++) {
                if (i % step == 0) {
                    char where[160];
                    snprintf(where, sizeof where, "%s at token %zu", json_string_value(json_object_get(rec, "id")), i);
                    CHECK(mask_differs(m, big, mask, nw, where) == 0, "%s: mask equals per-token checks", where);
                    positions++;
                }
                CHECK(fm_matcher_accept(m, ids[i]) == FM_STATUS_OK, "instance token %zu accepted", i);
            }
        }
        fm_matcher_free(m);
        fm_grammar_free(g);
        free(schema);
        json_decref(rec);
    }
    CHECK(done == SHARED_SCHEMAS && positions > SHARED_SCHEMAS * 4, "%s: %d schemas, %d positions checked", file,
          done, positions);
    fprintf(stderr, "shared lexeme caches, %s: %d schemas, %d masks equal per-token checks\n", file, done, positions);
    free(line);
    if (f) fclose(f);
    free(mask);
    fm_tokenizer_free(big);
}

int main(int argc, char **argv) {
    CHECK(argc == 2, "usage: test_json_schema PASSING_LIST");
    CHECK(fm_tokenizer_load(tu_data("models/stories260K.gguf"), NULL, &g_tok) == FM_STATUS_OK, "tokenizer");
    test_errors();
    test_languages();
    test_masks();
    test_masks_shared("Glaiveai2K");
    test_masks_shared("Github_easy");
    test_long_strings();
    test_counted_patterns();
    if (argc == 2) test_regression(argv[1]);
    fm_tokenizer_free(g_tok);
    return tu_finish("test_json_schema");
}
