/* Acceptance 1 of the core runtime: stories260K (llama2.c .bin + tok512.bin,
 * and GGUF) continues "Once upon a time" greedily exactly as llama2.c's
 * run.c prints it, and gives llama.cpp's 256 greedy ids. */
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "fm.h"

typedef struct run {
    fm_token ids[600];
    size_t n_ids;
    char text[8192];
    size_t n_text;
} run;

static void append(run *r, const char *s, size_t n) {
    if (r->n_text + n < sizeof r->text) memcpy(r->text + r->n_text, s, n), r->n_text += n;
}

/* Greedy continuation of `prompt` for n tokens, text as run.c prints it. */
static int generate(const char *model_path, const char *tok_path, int n, uint32_t n_ctx, run *r) {
    memset(r, 0, sizeof *r);
    fm_model_params mp;
    fm_model_params_init(&mp, sizeof mp);
    mp.tokenizer_path = tok_path;
    fm_model *m;
    fm_status s = fm_model_load(model_path, &mp, &m);
    CHECK(s == FM_STATUS_OK, "load %s: %s", model_path, fm_last_error());
    if (s) return 0;
    const fm_tokenizer *tok = fm_model_tokenizer(m);
    fm_token prompt[16];
    size_t n_prompt;
    s = fm_tokenizer_encode(tok, "Once upon a time", 16, FM_ENCODE_ADD_SPECIAL_AUTO, prompt, 16, &n_prompt);
    CHECK(s == FM_STATUS_OK && n_prompt == 5, "encode: %s", fm_last_error());
    static const fm_token want_prompt[] = {1, 403, 407, 261, 378};
    CHECK(memcmp(prompt, want_prompt, sizeof want_prompt) == 0, "prompt ids differ from llama.cpp's");

    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_ctx = n_ctx;
    cp.n_threads = 1;
    fm_context *ctx;
    fm_sampler *smp;
    fm_detokenizer *d;
    fm_sampler_params sp;
    fm_sampler_params_init(&sp, sizeof sp);
    sp.temperature = 0;
    CHECK(fm_context_new(m, &cp, &ctx) == FM_STATUS_OK, "context: %s", fm_last_error());
    CHECK(fm_sampler_new(&sp, &smp) == FM_STATUS_OK, "sampler");
    CHECK(fm_detokenizer_new(tok, FM_DECODE_STRIP_LEADING_SPACE, &d) == FM_STATUS_OK, "detokenizer");
    char piece[256];
    size_t np;
    for (size_t i = 0; i < n_prompt; i++) {
        CHECK(fm_detokenizer_push(d, prompt[i], piece, sizeof piece, &np) == FM_STATUS_OK, "push");
        append(r, piece, np);
    }
    CHECK(fm_context_decode(ctx, prompt, n_prompt, FM_LOGITS_LAST) == FM_STATUS_OK, "decode: %s", fm_last_error());
    for (int i = 0; i < n; i++) {
        fm_token next;
        CHECK(fm_sampler_sample(smp, fm_context_logits(ctx, -1), 512, &next) == FM_STATUS_OK, "sample");
        r->ids[r->n_ids++] = next;
        CHECK(fm_detokenizer_push(d, next, piece, sizeof piece, &np) == FM_STATUS_OK, "push");
        append(r, piece, np);
        if (i + 1 < n)
            CHECK(fm_context_decode(ctx, &next, 1, FM_LOGITS_LAST) == FM_STATUS_OK, "decode %d: %s", i,
                  fm_last_error());
    }
    append(r, "\n", 1);
    fm_detokenizer_free(d);
    fm_sampler_free(smp);
    fm_context_free(ctx);
    fm_model_free(m);
    return 1;
}

int main(void) {
    size_t ref_len;
    char *ref = tu_read_file(tu_data("reference/stories260K-llama2c/once-upon-a-time.greedy256.txt"), &ref_len);
    CHECK(ref != NULL && strncmp(ref, "Once upon a time, there was a little girl named Lily.", 53) == 0,
          "reference text");
    size_t n_long;
    char *long_txt = tu_read_file(tu_data("reference/stories260K/long_greedy.txt"), NULL);
    CHECK(long_txt != NULL, "long_greedy.txt");
    int32_t *long_ids = tu_parse_ids(strchr(long_txt, '\n') + 1, &n_long);
    CHECK(n_long == 256, "long_greedy.txt has %zu ids", n_long);

    static run r;
    /* run.c evaluates 256 positions: BOS + 4 prompt tokens, then 251 fed
     * tokens, and prints the token sampled at the last one too: 252. */
    const char *bin = tu_data("models/stories260K.bin"), *tok = tu_data("models/tok512.bin");
    const char *gguf = tu_data("models/stories260K.gguf");
    if (generate(bin, tok, 252, 256, &r)) {
        CHECK(r.n_text == ref_len && memcmp(r.text, ref, ref_len) == 0, "llama2.c text differs (.bin)");
        CHECK(memcmp(r.ids, long_ids, 252 * sizeof(int32_t)) == 0, "ids (.bin) differ from llama.cpp's");
    }
    if (generate(gguf, NULL, 252, 256, &r))
        CHECK(r.n_text == ref_len && memcmp(r.text, ref, ref_len) == 0, "llama2.c text differs (.gguf)");
    if (generate(gguf, NULL, 256, 512, &r)) {
        size_t first = 0;
        while (first < 256 && r.ids[first] == long_ids[first]) first++;
        CHECK(first == 256, "greedy ids differ from llama.cpp's at step %zu", first);
    }
    free(ref);
    free(long_txt);
    free(long_ids);
    return tu_finish("test_greedy_stories");
}
