/* The sampling options fm-generate and fm-parallel share, spelled as
 * llama.cpp spells them, and the chain they describe. Public API only. */
#ifndef FM_EXAMPLES_CLI_SAMPLING_H
#define FM_EXAMPLES_CLI_SAMPLING_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "fm.h"

#define CLI_MAX_BIAS 256
#define CLI_MAX_STOP 32

typedef struct cli_sampling {
    fm_sampler_params sp;
    double seed;
    int repeat_last_n_ctx, dry_last_n_ctx; /* -1 given: the context size */
    fm_logit_bias bias[CLI_MAX_BIAS];
    size_t n_bias;
    const char *stop[CLI_MAX_STOP];
    size_t n_stop;
    /* at most one constraint: a GBNF file, a JSON Schema (file or inline
     * text) or a regular expression */
    const char *grammar_file, *json_schema, *regex;
    int json_inline;     /* -j: json_schema is the schema text itself */
    fm_grammar *grammar; /* compiled by cli_sampling_compile */
    const char *prog;    /* the program's name, for messages */
} cli_sampling;

static inline void cli_sampling_init(cli_sampling *c, const char *prog) {
    memset(c, 0, sizeof *c);
    c->prog = prog;
    fm_sampler_params_init(&c->sp, sizeof c->sp);
}

#define CLI_SAMPLING_USAGE                                                                                  \
    "  --temp T       temperature; 0 = greedy (default 0.8)\n"                                              \
    "  --top-k K, --top-p P, --min-p M   truncation (defaults 40, 0.95, 0.05)\n"                           \
    "  --typical P, --top-n-sigma N, --xtc-probability P, --xtc-threshold T\n"                              \
    "  --dynatemp-range R, --dynatemp-exp E   entropy-scaled temperature\n"                                 \
    "  --repeat-penalty R, --repeat-last-n N (-1: context), --frequency-penalty F, --presence-penalty P\n" \
    "  --dry-multiplier M, --dry-base B, --dry-allowed-length N, --dry-penalty-last-n N (-1: context)\n"   \
    "  --mirostat N (1, 2; 0 off), --mirostat-lr ETA, --mirostat-ent TAU\n"                                \
    "  --logit-bias ID(+|-)BIAS   e.g. 15043+1 or 15043-inf (repeatable)\n"                                 \
    "  --stop S       stop before the text S (repeatable)\n"                                                 \
    "  --grammar-file F.gbnf, --json-schema F.json (or -j SCHEMA_TEXT, '{}': any JSON), --regex RE\n"      \
    "                 constrain the output (one of them)\n"                                                \
    "  --seed S       RNG seed (default 0)\n"

/* Parses "ID+BIAS" / "ID-BIAS" (BIAS may be "inf"). */
static inline int cli_parse_bias(const char *v, fm_logit_bias *out) {
    char *end;
    long id = strtol(v, &end, 10);
    if (end == v || id < 0 || id > 0x7fffffff || (*end != '+' && *end != '-')) return 0;
    const char sign = *end++;
    double b;
    if (!strcmp(end, "inf")) b = INFINITY;
    else if (!cli_parse_num(end, &b)) return 0;
    out->id = (fm_token)id;
    out->bias = (float)(sign == '-' ? -b : b);
    return sign == '-' || b != INFINITY; /* +inf would force one token forever */
}

/* One option with its value: 1 taken, 0 not a sampling option, -1 bad value
 * (a message is printed). */
static inline int cli_sampling_option(cli_sampling *c, const char *prog, const char *a, const char *v) {
    static const char *const names[] = {"--temp", "--top-k", "--top-p", "--min-p", "--typical", "--top-n-sigma",
                                        "--xtc-probability", "--xtc-threshold", "--dynatemp-range",
                                        "--dynatemp-exp", "--repeat-penalty", "--repeat-last-n",
                                        "--frequency-penalty", "--presence-penalty", "--dry-multiplier",
                                        "--dry-base", "--dry-allowed-length", "--dry-penalty-last-n", "--mirostat",
                                        "--mirostat-lr", "--mirostat-ent", "--seed"};
    if (!strcmp(a, "--logit-bias")) {
        if (c->n_bias == CLI_MAX_BIAS || !cli_parse_bias(v, &c->bias[c->n_bias])) {
            fprintf(stderr, "%s: --logit-bias '%s': want ID+BIAS or ID-BIAS (at most %d)\n", prog, v, CLI_MAX_BIAS);
            return -1;
        }
        c->n_bias++;
        return 1;
    }
    if (!strcmp(a, "--stop")) {
        if (c->n_stop == CLI_MAX_STOP || v[0] == '\0') {
            fprintf(stderr, "%s: --stop needs a non-empty string (at most %d)\n", prog, CLI_MAX_STOP);
            return -1;
        }
        c->stop[c->n_stop++] = v;
        return 1;
    }
    const char **constraint = !strcmp(a, "--grammar-file") ? &c->grammar_file
                              : !strcmp(a, "--json-schema") || !strcmp(a, "-j") ? &c->json_schema
                              : !strcmp(a, "--regex") ? &c->regex : NULL;
    if (constraint != NULL) {
        if (c->grammar_file || c->json_schema || c->regex) {
            fprintf(stderr, "%s: give one of --grammar-file, --json-schema / -j, --regex\n", prog);
            return -1;
        }
        *constraint = v;
        c->json_inline = !strcmp(a, "-j");
        return 1;
    }
    size_t k = 0;
    while (k < sizeof names / sizeof names[0] && strcmp(a, names[k])) k++;
    if (k == sizeof names / sizeof names[0]) return 0;
    double d;
    if (!cli_parse_num(v, &d)) {
        fprintf(stderr, "%s: %s: '%s' is not a number\n", prog, a, v);
        return -1;
    }
    fm_sampler_params *p = &c->sp;
    switch (k) {
    case 0: p->temperature = (float)d; break;
    case 1: p->top_k = (int32_t)d; break;
    case 2: p->top_p = (float)d; break;
    case 3: p->min_p = (float)d; break;
    case 4: p->typical_p = (float)d; break;
    case 5: p->top_n_sigma = (float)d; break;
    case 6: p->xtc_probability = (float)d; break;
    case 7: p->xtc_threshold = (float)d; break;
    case 8: p->dynatemp_range = (float)d; break;
    case 9: p->dynatemp_exponent = (float)d; break;
    case 10: p->repeat_penalty = (float)d; break;
    case 11: c->repeat_last_n_ctx = d < 0; p->penalty_last_n = (int32_t)(d < 0 ? 0 : d); break;
    case 12: p->frequency_penalty = (float)d; break;
    case 13: p->presence_penalty = (float)d; break;
    case 14: p->dry_multiplier = (float)d; break;
    case 15: p->dry_base = (float)d; break;
    case 16: p->dry_allowed_length = (int32_t)d; break;
    case 17: c->dry_last_n_ctx = d < 0; p->dry_last_n = (int32_t)(d < 0 ? 0 : d); break;
    case 18: p->mirostat = (int32_t)d; break;
    case 19: p->mirostat_eta = (float)d; break;
    case 20: p->mirostat_tau = (float)d; break;
    default:
        if (d < 0) {
            fprintf(stderr, "%s: --seed must be >= 0\n", prog);
            return -1;
        }
        c->seed = d;
        break;
    }
    return 1;
}

/* cli_sampling_option() as a cli_parse_args() `extra` hook. */
static inline int cli_sampling_extra(void *user, const char *a, const char *v) {
    cli_sampling *c = user;
    return cli_sampling_option(c, c->prog, a, v);
}

/* Compiles the constraint given, if any; prints the error and returns
 * nonzero when it does not compile. */
static inline int cli_sampling_compile(cli_sampling *c, const char *prog) {
    const char *path = c->grammar_file ? c->grammar_file : c->json_schema && !c->json_inline ? c->json_schema : NULL;
    size_t len = 0;
    char *text = NULL;
    if (path != NULL && (text = cli_read_file(path, &len)) == NULL) {
        fprintf(stderr, "%s: cannot read %s\n", prog, path);
        return 1;
    }
    fm_status s = FM_STATUS_OK;
    if (c->grammar_file) s = fm_grammar_parse_gbnf(text, len, NULL, &c->grammar);
    else if (c->json_schema)
        s = c->json_inline ? fm_grammar_from_json_schema(c->json_schema, strlen(c->json_schema), 0, &c->grammar)
                           : fm_grammar_from_json_schema(text, len, 0, &c->grammar);
    else if (c->regex) s = fm_grammar_from_regex(c->regex, strlen(c->regex), &c->grammar);
    free(text);
    if (s != FM_STATUS_OK) {
        fprintf(stderr, "%s: %s: %s\n", prog, path ? path : c->regex ? c->regex : "-j", fm_last_error());
        return 1;
    }
    return 0;
}

/* The chain for sequence `i` (seed + i) of a context of n_ctx positions. */
static inline fm_status cli_sampling_make(cli_sampling *c, const fm_tokenizer *tok, uint32_t n_ctx, uint64_t i,
                                          fm_sampler **out) {
    fm_sampler_params p = c->sp;
    p.seed = (uint64_t)c->seed + i;
    p.tokenizer = tok;
    if (c->repeat_last_n_ctx) p.penalty_last_n = (int32_t)n_ctx;
    if (c->dry_last_n_ctx) p.dry_last_n = (int32_t)n_ctx;
    p.logit_bias = c->bias;
    p.n_logit_bias = c->n_bias;
    fm_status s = fm_sampler_new(&p, out);
    if (s == FM_STATUS_OK && c->grammar != NULL && (s = fm_sampler_add_grammar(*out, c->grammar, tok)) != FM_STATUS_OK) {
        fm_sampler_free(*out);
        *out = NULL;
    }
    return s;
}

#endif
