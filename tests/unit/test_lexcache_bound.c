/* The per-tokenizer store of lexeme caches stays bounded in entries, not
 * only in bytes: a small vocabulary's caches are small, so 64 MB held tens
 * of thousands of them, every lookup and every new cache scanned them all,
 * and each new grammar over a long-lived tokenizer got slower (4.5x over
 * 4,000 grammars; a fuzzed regex took 37 s: issue 19's 1-hour fuzz run).
 * Here 2,500 distinct regexes, each compiled, masked and walked over one
 * stories260K tokenizer, fill the store past its 4,096-entry bound; the
 * store must hold at most that many, and a grammar seen early must still
 * give the same masks after the churn (evicted caches are rebuilt). The
 * time per grammar is the benchmark's business (bench_grammar_churn). */
#include <stdlib.h>
#include <string.h>

#include "../common/grammar_churn.h"
#include "../common/testutil.h"
#include "fm.h"
#include "grammar/lexeme_cache.h"
#include "tokenizer/token_trie.h"

enum { N = 2500, STORE_MAX = 4096, WORDS = 16 };

int main(void) {
    fm_tokenizer *tok = NULL;
    CHECK(fm_tokenizer_load(tu_data("models/stories260K.gguf"), NULL, &tok) == FM_STATUS_OK, "load: %s", fm_last_error());
    if (tok == NULL) return tu_finish("test_lexcache_bound");
    const fm_token_trie *tr = fm_token_trie_get(tok);
    CHECK(tr != NULL, "token trie");
    uint32_t mask[WORDS], first[CHURN_STEPS * WORDS] = {0}, again[CHURN_STEPS * WORDS] = {0};
    CHECK(churn_walk(tok, 0, mask, WORDS, first), "grammar 0");
    size_t most = 0;
    int failed = 0;
    for (int i = 1; i < N; i++) {
        failed += !churn_walk(tok, i, mask, WORDS, NULL);
        const size_t n = fm_lexcache_stored(tr);
        if (n > most) most = n;
    }
    CHECK(failed == 0, "%d of %d grammars failed", failed, N - 1);
    CHECK(most <= STORE_MAX, "the store held %zu caches (bound %d)", most, STORE_MAX);
    CHECK(most >= STORE_MAX / 2, "the store held only %zu caches: the churn did not reach the bound", most);
    CHECK(churn_walk(tok, 0, mask, WORDS, again) && memcmp(first, again, sizeof first) == 0, "grammar 0's masks changed after the churn");
    printf("%d grammars: the store held at most %zu caches (bound %d); grammar 0's masks unchanged\n", N, most,
           STORE_MAX);
    fm_tokenizer_free(tok);
    return tu_finish("test_lexcache_bound");
}
