/* Command-line options from one table per tool: the table parses argv and
 * prints --help, so the help lists every option the tool accepts, with its
 * default, and cannot drift from the parser (tests/cli/test_cli_help.py
 * tries every option the help lists).
 *
 * Exit statuses of every tool (docs/cli.md): 0 success (and --help),
 * 1 a usage error (unknown option, missing or bad value, missing input),
 * 2 a runtime error (a file that does not load, a failed decode, ...). */
#ifndef FM_EXAMPLES_CLI_ARGS_H
#define FM_EXAMPLES_CLI_ARGS_H

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CLI_EXIT_OK = 0, CLI_EXIT_USAGE = 1, CLI_EXIT_RUNTIME = 2 };

/* dst: CLI_FLAG int *, CLI_STR const char **, CLI_NUM double *, CLI_F32
 * float *, CLI_I32 int32_t *, CLI_FN anything (fn parses the value),
 * CLI_OPTVAL const char ** (a flag with an optional "=VALUE": "" without). */
enum { CLI_FLAG, CLI_STR, CLI_NUM, CLI_F32, CLI_I32, CLI_FN, CLI_OPTVAL };

typedef struct cli_opt {
    const char *names; /* "-s|--seed": the first short, then long ones */
    int kind;
    void *dst;
    const char *meta;  /* the value's name in the help ("N", "FILE"); NULL for flags */
    const char *help;  /* one line; "\n" starts an indented continuation */
    /* CLI_FN: 0 if the value was taken, else prints why and returns -1 */
    int (*fn)(void *dst, const char *name, const char *value);
    int show_default;  /* CLI_NUM/F32/I32/STR: append "(default: ...)" */
} cli_opt;

typedef struct cli_spec {
    const char *prog;
    const char *synopsis; /* after "usage: prog " */
    const char *about;    /* a paragraph after the usage line, or NULL */
    const cli_opt *opts[3];
    size_t n_opts[3];
    const char *footer; /* printed after the options, or NULL */
} cli_spec;

static inline int cli_parse_number(const char *s, double *out) {
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return errno == 0 && end != s && *end == '\0' && !isnan(*out);
}

/* The names of `o` as the help shows them: "-s, --seed". */
static inline void cli_opt_names(const cli_opt *o, char *buf, size_t cap) {
    size_t n = 0;
    for (const char *p = o->names; *p && n + 3 < cap; p++) {
        if (*p == '|') buf[n++] = ',', buf[n++] = ' ';
        else buf[n++] = *p;
    }
    buf[n] = '\0';
}

static inline int cli_opt_matches(const cli_opt *o, const char *arg, size_t len) {
    for (const char *p = o->names; *p;) {
        const char *e = strchr(p, '|');
        const size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == len && memcmp(p, arg, n) == 0) return 1;
        p += n + (e != NULL);
    }
    return 0;
}

static inline void cli_help(const cli_spec *s, FILE *f) {
    fprintf(f, "usage: %s %s\n", s->prog, s->synopsis);
    if (s->about) fprintf(f, "\n%s\n", s->about);
    fprintf(f, "\noptions:\n");
    for (int t = 0; t < 3; t++)
        for (size_t i = 0; i < s->n_opts[t]; i++) {
            const cli_opt *o = &s->opts[t][i];
            char left[96];
            cli_opt_names(o, left, sizeof left);
            if (o->meta)
                snprintf(left + strlen(left), sizeof left - strlen(left), o->kind == CLI_OPTVAL ? "[=%s]" : " %s",
                         o->meta);
            fprintf(f, "  %-24s ", left);
            if (strlen(left) >= 24) fprintf(f, "\n  %-24s ", "");
            for (const char *p = o->help; *p; p++) {
                if (*p == '\n') fprintf(f, "\n  %-24s ", "");
                else fputc(*p, f);
            }
            if (o->show_default) {
                if (o->kind == CLI_NUM) fprintf(f, " (default: %g)", *(const double *)o->dst);
                else if (o->kind == CLI_F32) fprintf(f, " (default: %g)", (double)*(const float *)o->dst);
                else if (o->kind == CLI_I32) fprintf(f, " (default: %d)", (int)*(const int32_t *)o->dst);
                else if (o->kind == CLI_STR && *(const char *const *)o->dst)
                    fprintf(f, " (default: %s)", *(const char *const *)o->dst);
            }
            fputc('\n', f);
        }
    fprintf(f, "  %-24s print this help and exit\n", "-h, --help");
    if (s->footer) fprintf(f, "\n%s\n", s->footer);
}

/* A usage error: the message, a pointer to --help; returns CLI_EXIT_USAGE. */
static inline int cli_usage_error(const cli_spec *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", s->prog);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help' for the options.\n", s->prog);
    return CLI_EXIT_USAGE;
}

/* Parses argv[1..]: options as "-x VALUE", "--name VALUE" or
 * "--name=VALUE". Returns -1 to go on, or the status to exit with: 0
 * after --help, CLI_EXIT_USAGE after a message. Arguments that are not
 * options are usage errors unless `positional` (may be NULL) takes them
 * (it gets each in order and returns 0, or -1 after printing why). */
static inline int cli_parse(const cli_spec *s, int argc, char **argv, int (*positional)(void *, const char *),
                            void *user) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cli_help(s, stdout);
            return CLI_EXIT_OK;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (positional != NULL && positional(user, a) == 0) continue;
            if (positional != NULL) return CLI_EXIT_USAGE;
            return cli_usage_error(s, "unexpected argument '%s'", a);
        }
        const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
        const size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const cli_opt *o = NULL;
        for (int t = 0; t < 3 && o == NULL; t++)
            for (size_t k = 0; k < s->n_opts[t] && o == NULL; k++)
                if (cli_opt_matches(&s->opts[t][k], a, len)) o = &s->opts[t][k];
        if (o == NULL) return cli_usage_error(s, "unknown option %.*s", (int)len, a);
        if (o->kind == CLI_OPTVAL) {
            *(const char **)o->dst = eq ? eq + 1 : "";
            continue;
        }
        if (o->kind == CLI_FLAG) {
            if (eq) return cli_usage_error(s, "%.*s takes no value", (int)len, a);
            *(int *)o->dst = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
        if (v == NULL) return cli_usage_error(s, "%s needs a value (%s)", a, o->meta ? o->meta : "");
        double d;
        switch (o->kind) {
        case CLI_STR: *(const char **)o->dst = v; break;
        case CLI_FN: { /* the name as given, without "=VALUE" */
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)len, a);
            if (o->fn(o->dst, name, v) != 0) return CLI_EXIT_USAGE;
            break;
        }
        default:
            if (!cli_parse_number(v, &d)) return cli_usage_error(s, "%.*s: '%s' is not a number", (int)len, a, v);
            if (o->kind == CLI_NUM) *(double *)o->dst = d;
            else if (o->kind == CLI_F32) *(float *)o->dst = (float)d;
            else if (d < INT32_MIN || d > INT32_MAX || d != floor(d))
                return cli_usage_error(s, "%.*s: '%s' is not an integer", (int)len, a, v);
            else *(int32_t *)o->dst = (int32_t)d;
        }
    }
    return -1;
}

#endif
