/* Issue 16: regular expressions as constraints (the ECMAScript subset of
 * JSON Schema's `pattern`): strings each must match and must not, errors. */
#include <string.h>

#include "../common/testutil.h"
#include "fm.h"

static fm_tokenizer *g_tok;

static int matches(const fm_grammar *g, const char *text) {
    fm_matcher *m;
    if (fm_matcher_new(g, g_tok, &m) != FM_STATUS_OK) return -1;
    int ok = fm_matcher_accept_text(m, text, strlen(text)) == FM_STATUS_OK && fm_matcher_can_end(m);
    fm_matcher_free(m);
    return ok;
}

static void expect(const char *re, const char *const *yes, const char *const *no) {
    fm_grammar *g = NULL;
    fm_status st = fm_grammar_from_regex(re, strlen(re), &g);
    CHECK(st == FM_STATUS_OK, "/%s/ compiles: %s", re, fm_last_error());
    if (g == NULL) return;
    for (int i = 0; yes[i]; i++) CHECK(matches(g, yes[i]) == 1, "/%s/ matches \"%s\"", re, yes[i]);
    for (int i = 0; no[i]; i++) CHECK(matches(g, no[i]) == 0, "/%s/ does not match \"%s\"", re, no[i]);
    fm_grammar_free(g);
}

#define T(re, ...)                                                 \
    do {                                                           \
        const char *y_[] = {__VA_ARGS__};                          \
        expect(re, y_, no_);                                       \
    } while (0)

static void expect_error(const char *re, const char *want) {
    fm_grammar *g = (fm_grammar *)1;
    fm_status st = fm_grammar_from_regex(re, strlen(re), &g);
    CHECK(st == FM_STATUS_INVALID_ARGUMENT && g == NULL && strstr(fm_last_error(), want), "/%s/: want '%s', got %s",
          re, want, fm_last_error());
}

int main(void) {
    CHECK(fm_tokenizer_load(tu_data("models/stories260K.gguf"), NULL, &g_tok) == FM_STATUS_OK, "tokenizer");
    {
        const char *no_[] = {"", "12", "1234", "a12", "12-", NULL};
        T("[0-9]{3}(-[0-9]+)?", "123", "123-4", "000-1234", NULL);
    }
    {
        const char *no_[] = {"", "abc", "cat dog", NULL};
        T("cat|dog|bird", "cat", "dog", "bird", NULL);
    }
    {
        const char *no_[] = {"a", "ab", "Ab1", "_", NULL};
        T("\\w\\d\\s\\W", "a1 !", "_9\t-", "Z0\n.", NULL);
    }
    {
        const char *no_[] = {"", "\n", "ab", NULL};
        T(".", "a", "é", "日", NULL);
    }
    {
        const char *no_[] = {"a", "aaaaa", "b", NULL};
        T("a{2,4}", "aa", "aaa", "aaaa", NULL);
    }
    {
        const char *no_[] = {"aa", "aaaa", NULL};
        T("a{3}|a{5,}", "aaa", "aaaaa", "aaaaaaaaa", NULL);
    }
    {
        const char *no_[] = {"ab", "a-b", "abc", NULL};
        T("[^b-d]+", "a", "xyz", "é-e", NULL);
    }
    {
        const char *no_[] = {"x", "ab", NULL};
        T("(?:a|b)(?<n>c)*?", "a", "bc", "acccc", NULL);
    }
    {
        const char *no_[] = {"A", "[", NULL};
        T("[\\]\\-\\\\a]|\\x41\\u0042|\\u{1F600}|\\.", "]", "-", "\\", "a", "AB", "\xF0\x9F\x98\x80", ".", NULL);
    }
    {
        const char *no_[] = {"aba", "", "xx", NULL};
        T("^(ab)+$|^x$", "ab", "abab", "x", NULL);
    }
    {
        const char *no_[] = {"2024-1-01", "2024-13", NULL};
        T("\\d{4}-(0[1-9]|1[0-2])-\\d\\d", "2024-01-31", "1999-12-00", NULL);
    }
    {
        const char *no_[] = {"", "a", NULL};
        T("[]|b{0}c", "c", NULL); /* an empty class matches nothing */
    }
    expect_error("(a", "'(' without ')'");
    expect_error("a)", "')' without '('");
    expect_error("[a-", "unterminated");
    expect_error("*a", "nothing to repeat");
    expect_error("a**", "nothing to repeat");
    expect_error("(a)\\1", "backreferences");
    expect_error("(?=a)", "lookaround");
    expect_error("a\\bb", "word boundaries");
    expect_error("a^b", "'^'");
    expect_error("a$b", "'$'");
    expect_error("[z-a]", "out of order");
    expect_error("a{5,2}", "out of order");
    expect_error("\\q", "unknown escape");
    expect_error("a{1000000}", "too large");
    expect_error("[]", "no string");
    {
        char big[64];
        strcpy(big, "(a|b|c|d)*(a|b){12}");
        fm_grammar *g = NULL;
        CHECK(fm_grammar_from_regex(big, strlen(big), &g) == FM_STATUS_OK, "a DFA that blows up 2^12: %s",
              fm_last_error());
        CHECK(g && matches(g, "dddabababababab") == 1 && matches(g, "abc") == 0, "its language");
        fm_grammar_free(g);
    }
    fm_tokenizer_free(g_tok);
    return tu_finish("test_regex");
}
