/* The sampling options fm-generate and fm-parallel share, spelled as
 * llama.cpp spells them, and the chain they describe. Public API only. */
#ifndef FM_EXAMPLES_CLI_SAMPLING_H
#define FM_EXAMPLES_CLI_SAMPLING_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
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

/* The options that take more than a number (CLI_FN handlers; dst is the
 * cli_sampling). */
static inline int cli_sampling_fn(void *dst, const char *a, const char *v) {
    cli_sampling *c = dst;
    const char *prog = c->prog;
    if (!strcmp(a, "--logit-bias") || !strcmp(a, "-l")) {
        if (c->n_bias == CLI_MAX_BIAS || !cli_parse_bias(v, &c->bias[c->n_bias])) {
            fprintf(stderr, "%s: --logit-bias '%s': want ID+BIAS or ID-BIAS (at most %d)\n", prog, v, CLI_MAX_BIAS);
            return -1;
        }
        c->n_bias++;
        return 0;
    }
    if (!strcmp(a, "--stop")) {
        if (c->n_stop == CLI_MAX_STOP || v[0] == '\0') {
            fprintf(stderr, "%s: --stop needs a non-empty string (at most %d)\n", prog, CLI_MAX_STOP);
            return -1;
        }
        c->stop[c->n_stop++] = v;
        return 0;
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
        return 0;
    }
    double d;
    if (!cli_parse_num(v, &d) || d != floor(d)) {
        fprintf(stderr, "%s: %s: '%s' is not an integer\n", prog, a, v);
        return -1;
    }
    if (!strcmp(a, "-s") || !strcmp(a, "--seed")) {
        if (d < 0 || d > 1.8e19) {
            fprintf(stderr, "%s: %s must be >= 0\n", prog, a);
            return -1;
        }
        c->seed = d;
    } else if (!strcmp(a, "--repeat-last-n")) {
        c->repeat_last_n_ctx = d < 0;
        c->sp.penalty_last_n = (int32_t)(d < 0 ? 0 : d > 1e7 ? 1e7 : d);
    } else {
        c->dry_last_n_ctx = d < 0;
        c->sp.dry_last_n = (int32_t)(d < 0 ? 0 : d > 1e7 ? 1e7 : d);
    }
    return 0;
}

#define CLI_SAMPLING_N_OPTS 27

/* The sampling options, spelled as llama.cpp's tools spell them, into
 * `out` (CLI_SAMPLING_N_OPTS entries) for a cli_spec. */
static inline size_t cli_sampling_opts(cli_sampling *c, cli_opt *out) {
    fm_sampler_params *p = &c->sp;
    const cli_opt o[CLI_SAMPLING_N_OPTS] = {
        {"--temp", CLI_F32, &p->temperature, "T", "temperature; 0 = greedy", NULL, 1},
        {"--top-k", CLI_I32, &p->top_k, "K", "keep the K most likely tokens; 0 = off", NULL, 1},
        {"--top-p", CLI_F32, &p->top_p, "P", "nucleus: the smallest set of mass P; 1 = off", NULL, 1},
        {"--min-p", CLI_F32, &p->min_p, "P", "drop tokens below P x the top one's probability; 0 = off", NULL, 1},
        {"--typical", CLI_F32, &p->typical_p, "P", "locally typical sampling; 1 = off", NULL, 1},
        {"--top-n-sigma|--top-nsigma", CLI_F32, &p->top_n_sigma, "N", "keep logits within N standard deviations of the top; 0 = off", NULL, 1},
        {"--xtc-probability", CLI_F32, &p->xtc_probability, "P", "XTC: chance of removing the top choices; 0 = off", NULL, 1},
        {"--xtc-threshold", CLI_F32, &p->xtc_threshold, "T", "XTC: tokens above this probability count as top", NULL, 1},
        {"--dynatemp-range", CLI_F32, &p->dynatemp_range, "R", "entropy-scaled temperature in [T-R, T+R]; 0 = off", NULL, 1},
        {"--dynatemp-exp", CLI_F32, &p->dynatemp_exponent, "E", "its exponent", NULL, 1},
        {"--repeat-penalty", CLI_F32, &p->repeat_penalty, "R", "penalize repeated tokens; 1 = off", NULL, 1},
        {"--repeat-last-n", CLI_FN, c, "N", "tokens the penalties look back on; -1 = the context (default: 64)",
         cli_sampling_fn, 0},
        {"--frequency-penalty", CLI_F32, &p->frequency_penalty, "F", "minus F x a token's count; 0 = off", NULL, 1},
        {"--presence-penalty", CLI_F32, &p->presence_penalty, "P", "minus P for a token present; 0 = off", NULL, 1},
        {"--dry-multiplier", CLI_F32, &p->dry_multiplier, "M", "DRY repetition penalty strength; 0 = off", NULL, 1},
        {"--dry-base", CLI_F32, &p->dry_base, "B", "DRY: penalty = M x B^(length - allowed)", NULL, 1},
        {"--dry-allowed-length", CLI_I32, &p->dry_allowed_length, "N", "DRY: repeats up to N tokens are free", NULL, 1},
        {"--dry-penalty-last-n", CLI_FN, c, "N", "tokens DRY looks back on; -1 = the context (default: 64)",
         cli_sampling_fn, 0},
        {"--mirostat", CLI_I32, &p->mirostat, "N", "mirostat 1 or 2 (replaces the truncation steps); 0 = off", NULL, 1},
        {"--mirostat-lr", CLI_F32, &p->mirostat_eta, "ETA", "mirostat learning rate", NULL, 1},
        {"--mirostat-ent", CLI_F32, &p->mirostat_tau, "TAU", "mirostat target entropy (bits)", NULL, 1},
        {"-l|--logit-bias", CLI_FN, c, "ID+BIAS", "add BIAS to token ID's logit, e.g. 15043+1 or 15043-inf\n(repeatable)",
         cli_sampling_fn, 0},
        {"--stop", CLI_FN, c, "S", "stop before the text S (repeatable)", cli_sampling_fn, 0},
        {"--grammar-file", CLI_FN, c, "FILE", "constrain the output to a GBNF grammar", cli_sampling_fn, 0},
        {"--json-schema", CLI_FN, c, "FILE", "constrain the output to a JSON Schema (a file)", cli_sampling_fn, 0},
        {"-j", CLI_FN, c, "SCHEMA", "the same with the schema text itself ('{}': any JSON)", cli_sampling_fn, 0},
        {"--regex", CLI_FN, c, "RE", "constrain the output to a regular expression", cli_sampling_fn, 0},
    };
    memcpy(out, o, sizeof o);
    return CLI_SAMPLING_N_OPTS;
}

/* -s / --seed, which tools list with their own options. */
#define CLI_SAMPLING_SEED_OPT(c) {"-s|--seed", CLI_FN, (c), "S", "RNG seed (default: 0)", cli_sampling_fn, 0}

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
