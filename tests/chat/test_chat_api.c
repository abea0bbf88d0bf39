/* The chat-template API: bad templates and bad input give errors that
 * name the line and column and never crash or hang; limits hold; the
 * buffer protocol; the struct and JSON forms of a conversation agree;
 * built-in templates; the fixed clock of strftime_now. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "fm.h"

static fm_chat_params params(void) {
    fm_chat_params p;
    fm_chat_params_init(&p, sizeof p);
    p.now = 1785024000; /* 2026-07-26 */
    return p;
}

/* renders `src` with one user message; returns the status, text in out */
static fm_status render_src(const char *src, const fm_chat_params *p, char *out, size_t cap, size_t *n) {
    fm_chat_template *t;
    fm_status st = fm_chat_template_new(src, strlen(src), &t);
    if (st) return st;
    fm_chat_message m = {"user", "Hi", NULL, NULL, NULL, NULL};
    st = fm_chat_render(t, &m, 1, p, out, cap, n);
    fm_chat_template_free(t);
    return st;
}

static void expect_text(const char *src, const char *want) {
    char out[4096];
    size_t n = 0;
    fm_chat_params p = params();
    fm_status st = render_src(src, &p, out, sizeof out, &n);
    CHECK(st == FM_STATUS_OK && n == strlen(want) && memcmp(out, want, n) == 0, "%s: got [%.*s] (%s), want [%s]", src,
          st == FM_STATUS_OK ? (int)n : 0, out, st ? fm_last_error() : "", want);
}

/* fails with INVALID_ARGUMENT, the message holding each of `parts` */
static void expect_error(const char *src, const char *where, const char *what) {
    char out[256];
    size_t n = 0;
    fm_chat_params p = params();
    p.max_output = 1 << 20;
    p.max_steps = 100000;
    fm_status st = render_src(src, &p, out, sizeof out, &n);
    const char *e = fm_last_error();
    CHECK(st == FM_STATUS_INVALID_ARGUMENT, "%.60s: status %s, want INVALID_ARGUMENT", src, fm_status_name(st));
    CHECK(strstr(e, where) != NULL, "%.60s: [%s] does not say [%s]", src, e, where);
    CHECK(strstr(e, what) != NULL, "%.60s: [%s] does not say [%s]", src, e, what);
}

static char *repeat(const char *a, int n, const char *mid, const char *b) {
    size_t la = strlen(a), lb = strlen(b), lm = strlen(mid);
    char *s = malloc(la * n + lb * n + lm + 1), *o = s;
    for (int i = 0; i < n; i++) { memcpy(o, a, la); o += la; }
    memcpy(o, mid, lm); o += lm;
    for (int i = 0; i < n; i++) { memcpy(o, b, lb); o += lb; }
    *o = 0;
    return s;
}

int main(void) {
    /* syntax errors, with where they are */
    expect_error("Hello\n{% if messages %}\nno end", "line 2, column 4", "endif");
    expect_error("{% for m in messages %}{{ m }}", "line 1, column 4", "endfor");
    expect_error("a\n  {{ messages | nosuch }}", "line 2, column 17", "no filter named 'nosuch'");
    expect_error("{{ 1 is nosuchtest }}", "line 1, column 9", "no test named");
    expect_error("{{ 'open }}", "line 1, column 4", "unterminated string");
    expect_error("{# never closed", "line 1, column 1", "unclosed comment");
    expect_error("{{ messages[0 }}", "line 1", "expected");
    expect_error("{% endfor %}", "line 1, column 4", "unexpected {% endfor %}");
    expect_error("{% frobnicate %}", "line 1, column 4", "unknown tag");
    expect_error("{% include 'x.j2' %}", "line 1, column 4", "cannot read other templates");
    expect_error("{{ messages ) }}", "line 1, column 13", "unexpected ')'");
    /* a literal longer than the lexer's buffer is refused, never cut */
    expect_error("{% set x =0000000000000000000000000000000000000000000000000000000000000000.000 %}",
                 "line 1, column 11", "number literal too long");
    expect_error("{{ 1234567890123456789012 }}", "line 1, column 4", "integer literal too large");
    expect_text("{{ 000000000000000000000000000000000000000001.5e0 }}", "1.5");
    char *parens = repeat("(", 5000, "1", ")");
    char *deep = malloc(strlen(parens) + 7);
    sprintf(deep, "{{ %s }}", parens);
    expect_error(deep, "line 1", "nest deeper");
    free(deep);
    free(parens);
    char *blocks = repeat("{% if 1 %}", 3000, "x", "{% endif %}");
    expect_error(blocks, "line 1", "nest deeper");
    free(blocks);
    /* runtime errors: Jinja's messages, with where they happened */
    expect_error("{{ raise_exception('Roles must alternate') }}", "line 1, column 4", "Roles must alternate");
    expect_error("\n{{ nope.attr }}", "line 2, column 4", "'nope' is undefined");
    expect_error("{{ 'a' + none }}", "line 1", "can only concatenate str (not \"NoneType\") to str");
    expect_error("{{ [1] | map('upper') | tojson }}", "line 1", "Object of type generator is not JSON serializable");
    expect_error("{% set l = [] %}{{ l.append(1) }}", "line 1", "unsafe");
    expect_error("{% for x in 5 %}{% endfor %}", "line 1", "'int' object is not iterable");
    expect_error("{{ 1 / 0 }}", "line 1", "division by zero");
    /* limits: runaway loops, recursion, huge output */
    expect_error("{% for i in range(100000000) %}{% endfor %}", "line 1", "limit");
    expect_error("{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}", "line 1", "loop iterations");
    expect_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "line 1", "nest deeper than");
    expect_error("{{ 'x' * 100000000 }}", "line 1", "bytes");
    expect_error("{% for i in range(20000) %}{{ 'y' * 100 }}{% endfor %}", "line 1", "output would pass");
    expect_error("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
                 "line 1", "bytes");

    /* features the fixtures do not cover */
    expect_text("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d') }}|{{ strftime_now('%B %d, %Y') }}",
                "26 Jul 2026|2026-07-26|July 26, 2026");
    expect_text("{% for x in [3, 1, 2] | sort %}{{ loop.index }}:{{ x }}{{ ',' if not loop.last }}{% endfor %}", "1:1,2:2,3:3");
    expect_text("{% for x in [] %}a{% else %}empty{% endfor %}", "empty");
    expect_text("{% for x in range(10) %}{% if x == 3 %}{% break %}{% endif %}{% if x is odd %}{% continue %}{% endif %}{{ x }}{% endfor %}", "02");
    expect_text("{% set x %}  in  {% endset %}[{{ x }}][{{ x | trim }}]", "[  in  ][in]");
    expect_text("{% filter upper %}abc{% endfilter %}", "ABC");
    expect_text("{{ {'b': 1, 'a': [1, 2.5, none, true]} | tojson }}", "{\"b\": 1, \"a\": [1, 2.5, null, true]}");
    expect_text("{{ {'b': 1, 'a': 2} | tojson(indent=2, sort_keys=true) }}", "{\n  \"a\": 2,\n  \"b\": 1\n}");
    expect_text("{{ 'héllo wörld'.title() }} {{ 'hello-world x' | title }} {{ '  a b  '.split() }}",
                "Héllo Wörld Hello-World X ['a', 'b']");
    expect_text("{{ 'a,b,,c'.split(',') | length }} {{ 'abc'[::-1] }} {{ [1, 2, 3][-2:] }} {{ 'äöü'[1] }}", "4 cba [2, 3] ö");
    expect_text("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 0.1 + 0.2 }} {{ 1e20 }}",
                "3 -4 2 3.5 1024 0.30000000000000004 1e+20");
    expect_text("{{ x | default('d') }} {{ '' | default('e', true) }} {{ none is none }} {{ undefined_thing is defined }}",
                "d e True False");
    expect_text("{% macro g(a, b='B') %}{{ a }}{{ b }}{% endmacro %}{{ g('A') }} {{ g('A', b='C') }}", "AB AC");
    expect_text("{% set ns = namespace(n=0) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}", "6");
    expect_text("{{ ['x', 'y'] | join('-') }} {{ [{'a': 1}, {'a': 2}] | map(attribute='a') | list }} "
                "{{ [{'r': 'u'}, {'r': 's'}] | selectattr('r', 'equalto', 'u') | list | length }}", "x-y [1, 2] 1");
    expect_text("{{ 'a' if false }}|{{ 'a' if false else 'b' }}|{{ 1 < 2 < 3 }}|{{ 'b' in 'abc' }}|{{ 3 not in [1] }}",
                "|b|True|True|True");
    expect_text("  {%- if true %} x {% endif -%}  \n  {% if true %}\ny\n  {% endif %}\nz", " x y\nz");
    expect_text("{% raw %}{{ not parsed }}{% endraw %}", "{{ not parsed }}");
    expect_text("{{ \"it's\" }} {{ ['it\\'s'] }} {{ '\\u00e9\\n' | tojson }}", "it's [\"it's\"] \"é\\n\"");

    /* the buffer protocol and a usable handle after errors */
    fm_chat_template *t;
    CHECK(fm_chat_template_builtin("chatml", &t) == FM_STATUS_OK, "chatml: %s", fm_last_error());
    fm_chat_message conv[3] = {
        {"system", "Be brief.", NULL, NULL, NULL, NULL},
        {"user", "Hi", NULL, NULL, NULL, NULL},
        {"assistant", "Hello!", NULL, NULL, NULL, NULL},
    };
    fm_chat_params p = params();
    p.add_generation_prompt = 1;
    const char *want = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                       "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>assistant\n";
    size_t n = 0;
    char small[8], big[512];
    CHECK(fm_chat_render(t, conv, 3, &p, NULL, 0, &n) == FM_STATUS_BUFFER_TOO_SMALL && n == strlen(want), "size query: %zu", n);
    CHECK(fm_chat_render(t, conv, 3, &p, small, sizeof small, &n) == FM_STATUS_BUFFER_TOO_SMALL && n == strlen(want), "small");
    CHECK(fm_chat_render(t, conv, 3, &p, big, strlen(want), &n) == FM_STATUS_OK && n == strlen(want) &&
          memcmp(big, want, n) == 0, "exact fit: [%.*s]", (int)n, big);
    fm_chat_message bad = {"user", "\xff\xfe", NULL, NULL, NULL, NULL};
    CHECK(fm_chat_render(t, &bad, 1, &p, big, sizeof big, &n) == FM_STATUS_INVALID_UTF8, "invalid UTF-8 content");
    fm_chat_message norole = {NULL, "x", NULL, NULL, NULL, NULL};
    CHECK(fm_chat_render(t, &norole, 1, &p, big, sizeof big, &n) == FM_STATUS_INVALID_ARGUMENT, "no role");
    fm_chat_message badcalls = {"assistant", NULL, "[{\"function\": ", NULL, NULL, NULL};
    CHECK(fm_chat_render(t, &badcalls, 1, &p, big, sizeof big, &n) == FM_STATUS_INVALID_ARGUMENT &&
          strstr(fm_last_error(), "tool_calls") != NULL, "bad tool_calls JSON: %s", fm_last_error());
    CHECK(fm_chat_render_json(t, "[{\"role\": ", 10, &p, big, sizeof big, &n) == FM_STATUS_INVALID_ARGUMENT &&
          strstr(fm_last_error(), "messages") != NULL, "bad messages JSON: %s", fm_last_error());
    CHECK(fm_chat_render_json(t, "{}", 2, &p, big, sizeof big, &n) == FM_STATUS_INVALID_ARGUMENT, "messages not an array");
    CHECK(fm_chat_render(NULL, conv, 1, &p, big, sizeof big, &n) == FM_STATUS_INVALID_ARGUMENT, "NULL template");
    CHECK(fm_chat_render(t, conv, 3, &p, big, sizeof big, &n) == FM_STATUS_OK && n == strlen(want), "usable after errors");
    /* the same conversation as JSON */
    const char *json = "[{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hi\"},"
                       " {\"role\": \"assistant\", \"content\": \"Hello!\"}]";
    CHECK(fm_chat_render_json(t, json, strlen(json), &p, big, sizeof big, &n) == FM_STATUS_OK && n == strlen(want) &&
          memcmp(big, want, n) == 0, "JSON form");
    fm_chat_template_free(t);

    /* tool calls and extra fields through the struct form */
    const char *qsrc = "{% for m in messages %}{{ m.role }}:{{ m.content }}{% for c in m.tool_calls %}"
                       "[{{ c.function.name }}({{ c.function.arguments | tojson }})]{% endfor %}"
                       "{% if m.tool_call_id %}#{{ m.tool_call_id }}{% endif %}{{ m.reasoning_content }};{% endfor %}"
                       "{{ tools | length }}{{ enable_thinking }}";
    CHECK(fm_chat_template_new(qsrc, strlen(qsrc), &t) == FM_STATUS_OK, "tool template: %s", fm_last_error());
    fm_chat_message tc[2] = {
        {"assistant", NULL, "[{\"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": {\"x\": 1}}}]", NULL,
         NULL, "{\"reasoning_content\": \"hm\"}"},
        {"tool", "42", NULL, "call_1", "f", NULL},
    };
    p.tools = "[{\"type\": \"function\"}]";
    p.variables = "{\"enable_thinking\": false}";
    CHECK(fm_chat_render(t, tc, 2, &p, big, sizeof big, &n) == FM_STATUS_OK, "tool calls: %s", fm_last_error());
    const char *want_tc = "assistant:None[f({\"x\": 1})]hm;tool:42#call_1;1False";
    CHECK(n == strlen(want_tc) && memcmp(big, want_tc, n) == 0, "tool calls: [%.*s]", (int)n, big);
    p.variables = "[1]";
    CHECK(fm_chat_render(t, tc, 2, &p, big, sizeof big, &n) == FM_STATUS_INVALID_ARGUMENT, "variables not an object");
    fm_chat_template_free(t);

    /* built-ins: all compile and render; unknown names are NOT_FOUND */
    size_t nb = 0;
    for (; fm_chat_template_builtin_name(nb); nb++) {
        const char *name = fm_chat_template_builtin_name(nb);
        CHECK(fm_chat_template_builtin(name, &t) == FM_STATUS_OK, "%s: %s", name, fm_last_error());
        fm_chat_params q = params();
        q.bos_token = "<s>";
        q.eos_token = "</s>";
        q.add_generation_prompt = 1;
        fm_status st = fm_chat_render(t, conv + 1, 2, &q, big, sizeof big, &n);
        big[st == FM_STATUS_OK && n < sizeof big ? n : 0] = 0;
        CHECK(st == FM_STATUS_OK && n > 0 && strstr(big, "Hello!") != NULL, "%s renders: %s", name, fm_last_error());
        fm_chat_template_free(t);
    }
    CHECK(nb >= 8, "%zu built-ins", nb);
    CHECK(fm_chat_template_builtin("nosuch", &t) == FM_STATUS_NOT_FOUND && t == NULL, "unknown built-in");
    CHECK(fm_chat_template_new("\xc3", 1, &t) == FM_STATUS_INVALID_UTF8, "invalid UTF-8 template");

    /* a model without a template */
    fm_model *m;
    CHECK(fm_model_load(tu_data("models/stories260K.gguf"), NULL, &m) == FM_STATUS_OK, "load: %s", fm_last_error());
    CHECK(fm_chat_template_from_model(m, &t) == FM_STATUS_NOT_FOUND, "stories260K has no template");
    fm_model_free(m);
    return tu_finish("chat api");
}
