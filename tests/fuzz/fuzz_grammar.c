/* libFuzzer target: the three grammar front ends over arbitrary bytes,
 * chosen by FUZZ_FRONT at build time (fuzz_gbnf, fuzz_json_schema,
 * fuzz_regex). What compiles is then run: a matcher over stories260K's
 * vocabulary computes a mask, walks a few allowed tokens and the input's
 * own bytes, and is cloned and reset - nothing may crash, leak or hang. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fm_tokenizer *tok;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (tok == NULL) {
        const char *dir = getenv("FM_TEST_DATA");
        char path[4096];
        snprintf(path, sizeof path, "%s/models/stories260K.gguf", dir ? dir : "../shared");
        if (fm_tokenizer_load(path, NULL, &tok) != FM_STATUS_OK) abort();
    }
    if (size > 1 << 14) return 0;
    fm_grammar *g = NULL;
#if FUZZ_FRONT == 1
    fm_grammar_parse_gbnf((const char *)data, size, NULL, &g);
#elif FUZZ_FRONT == 2
    fm_grammar_from_json_schema((const char *)data, size, size & 1 ? FM_JSON_COMPACT : 0, &g);
#else
    fm_grammar_from_regex((const char *)data, size, &g);
#endif
    if (g == NULL) return 0;
    fm_matcher *m;
    if (fm_matcher_new(g, tok, &m) == FM_STATUS_OK) {
        uint32_t mask[16];
        for (int step = 0; step < 8; step++) {
            if (fm_matcher_fill_mask(m, mask, 16) != FM_STATUS_OK) break;
            int t = -1;
            for (int k = 0; k < 512 && t < 0; k++)
                if (mask[k >> 5] >> (k & 31) & 1) t = k;
            if (t < 0 || fm_matcher_allows(m, t) == 0) break;
            if (fm_matcher_accept(m, t) != FM_STATUS_OK) break;
        }
        fm_matcher *c;
        if (fm_matcher_clone(m, &c) == FM_STATUS_OK) {
            fm_matcher_accept_text(c, (const char *)data, size < 64 ? size : 64);
            (void)fm_matcher_can_end(c);
            fm_matcher_free(c);
        }
        fm_matcher_reset(m);
        fm_matcher_accept_text(m, (const char *)data, size);
        fm_matcher_free(m);
    }
    fm_grammar_free(g);
    return 0;
}
