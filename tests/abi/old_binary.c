/* A program built against the 1.0 headers as released (tests/abi/v1.0,
 * frozen copies: never edit them) and run against the library as it is
 * now. What a 1.0 binary does must keep working in every 1.x: params
 * structs of the 1.0 size, the calls and their results. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h" /* the 1.0 copy: this file is compiled with tests/abi/v1.0 first */
#include "../common/testutil.h"

#if FM_VERSION_MAJOR != 1 || FM_VERSION_MINOR != 0
#error "tests/abi/v1.0 must hold the 1.0 headers"
#endif

int main(void) {
    CHECK(fm_version_number() / 10000 == 1, "a 1.x library: %s", fm_version());
    CHECK(fm_version_number() >= FM_VERSION_NUMBER, "not older than the headers");
    fm_model_params mp;
    CHECK(fm_model_params_init(&mp, sizeof mp) == FM_STATUS_OK && mp.struct_size == sizeof mp, "model params");
    fm_model *m = NULL;
    CHECK(fm_model_load(tu_data("models/stories260K.gguf"), &mp, &m) == FM_STATUS_OK, "load: %s", fm_last_error());
    if (m == NULL) return tu_finish("old binary");
    const fm_tokenizer *tok = fm_model_tokenizer(m);
    fm_token ids[300];
    size_t n = 0;
    CHECK(fm_tokenizer_encode(tok, "Once upon a time", 16, FM_ENCODE_ADD_SPECIAL_AUTO, ids, 300, &n) == FM_STATUS_OK &&
              n == 5 && ids[1] == 403,
          "encode");
    fm_context_params cp;
    CHECK(fm_context_params_init(&cp, sizeof cp) == FM_STATUS_OK && cp.struct_size == sizeof cp, "context params");
    cp.n_ctx = 512;
    cp.n_threads = 1;
    fm_context *c = NULL;
    fm_sampler_params sp;
    CHECK(fm_sampler_params_init(&sp, sizeof sp) == FM_STATUS_OK, "sampler params");
    sp.temperature = 0;
    fm_sampler *s = NULL;
    CHECK(fm_context_new(m, &cp, &c) == FM_STATUS_OK && fm_sampler_new(&sp, &s) == FM_STATUS_OK, "set up: %s",
          fm_last_error());
    /* greedy: the reference's 256 tokens after "Once upon a time" */
    size_t n_ref = 0;
    char *ref_txt = tu_read_file(tu_data("reference/stories260K/long_greedy.txt"), NULL);
    int32_t *ref = ref_txt ? tu_parse_ids(strchr(ref_txt, '\n') + 1, &n_ref) : NULL;
    CHECK(ref != NULL && n_ref == 256, "reference");
    fm_status st = fm_context_decode(c, ids, n, FM_LOGITS_LAST);
    int same = 0;
    for (size_t i = 0; st == FM_STATUS_OK && ref && i < 64; i++) {
        fm_token t;
        st = fm_sampler_sample(s, fm_context_logits(c, -1), fm_tokenizer_n_vocab(tok), &t);
        same += t == ref[i];
        if (st == FM_STATUS_OK) st = fm_context_decode(c, &t, 1, FM_LOGITS_LAST);
    }
    CHECK(st == FM_STATUS_OK && same == 64, "64 greedy tokens as the reference (%d)", same);
    /* saved state round trip */
    size_t need = 0;
    CHECK(fm_context_state_save(c, 0, NULL, 0, &need) == FM_STATUS_BUFFER_TOO_SMALL && need > 0, "state size");
    void *blob = malloc(need);
    size_t got = 0;
    CHECK(blob && fm_context_state_save(c, 0, blob, need, &got) == FM_STATUS_OK, "save");
    fm_context_clear(c);
    CHECK(fm_context_state_load(c, 0, blob, got) == FM_STATUS_OK && fm_context_n_past(c) == 5 + 64, "load state");
    free(blob);
    /* scoring with the 1.0 score params */
    fm_score_params scp;
    double lp[3], sum = 0;
    CHECK(fm_score_params_init(&scp, sizeof scp) == FM_STATUS_OK, "score params");
    scp.logprobs = lp;
    fm_context_clear(c);
    CHECK(fm_context_score(c, ids, 2, ids + 2, 3, &scp, &sum) == FM_STATUS_OK && sum < 0 && lp[0] + lp[1] + lp[2] == sum,
          "score: %s", fm_last_error());
    /* a chat template with the 1.0 chat params */
    fm_chat_template *t = NULL;
    fm_chat_params chp;
    CHECK(fm_chat_params_init(&chp, sizeof chp) == FM_STATUS_OK, "chat params");
    chp.add_generation_prompt = 1;
    fm_chat_message msg = {"user", "Hi", NULL, NULL, NULL, NULL};
    char out[256];
    size_t on = 0;
    CHECK(fm_chat_template_builtin("chatml", &t) == FM_STATUS_OK &&
              fm_chat_render(t, &msg, 1, &chp, out, sizeof out, &on) == FM_STATUS_OK &&
              on == strlen("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n") &&
              memcmp(out, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", on) == 0,
          "chat render");
    /* errors keep their numbers */
    CHECK(fm_model_load("/nonexistent.gguf", NULL, &(fm_model *){NULL}) == FM_STATUS_IO && FM_STATUS_IO == -2, "IO");
    CHECK(FM_STATUS_CONTEXT_FULL == -6 && FM_STATUS_ABORTED == -13, "status values");
    fm_chat_template_free(t);
    free(ref);
    free(ref_txt);
    fm_sampler_free(s);
    fm_context_free(c);
    fm_model_free(m);
    return tu_finish("old binary");
}
