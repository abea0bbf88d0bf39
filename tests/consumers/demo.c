/* A program outside libfm's tree, as a user writes one: only <fm.h> and the
 * installed library. Prints the prompt and its greedy continuation, as
 * `fm-generate -p PROMPT -n N --temp 0` writes them to stdout.
 *   demo MODEL PROMPT N */
#include <fm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what) {
    fprintf(stderr, "demo: %s: %s\n", what, fm_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 4) return fprintf(stderr, "usage: demo MODEL PROMPT N\n"), 2;
    fm_model *m;
    if (fm_model_load(argv[1], NULL, &m)) return fail("load");
    const fm_tokenizer *tok = fm_model_tokenizer(m);
    fm_token ids[512];
    size_t n = 0;
    if (fm_tokenizer_encode(tok, argv[2], strlen(argv[2]), FM_ENCODE_ADD_SPECIAL_AUTO, ids, 256, &n)) return fail("encode");
    const int n_gen = atoi(argv[3]);
    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_ctx = (uint32_t)(n + (size_t)n_gen + 1);
    fm_context *ctx;
    fm_sampler *s;
    if (fm_context_new(m, &cp, &ctx) || fm_sampler_new_chain(0, &s) || fm_sampler_add(s, FM_STEP_GREEDY, 0))
        return fail("set up");
    if (fm_context_decode(ctx, ids, n, FM_LOGITS_LAST)) return fail("decode");
    for (int i = 0; i < n_gen && n < 512; i++) {
        if (fm_sampler_sample(s, fm_context_logits(ctx, -1), fm_tokenizer_n_vocab(tok), &ids[n])) return fail("sample");
        if (fm_tokenizer_is_eog(tok, ids[n])) break;
        if (fm_context_decode(ctx, &ids[n++], 1, FM_LOGITS_LAST)) return fail("decode");
    }
    char text[8192];
    size_t len = 0;
    if (fm_tokenizer_decode(tok, ids, n, FM_DECODE_STRIP_LEADING_SPACE, text, sizeof text, &len)) return fail("decode text");
    printf("%.*s\n", (int)len, text);
    fm_sampler_free(s);
    fm_context_free(ctx);
    fm_model_free(m);
    return 0;
}
