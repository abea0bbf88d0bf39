/* Building the token trie: sort the tokens' byte strings, then lay the
 * trie out in depth-first order in one pass over the sorted list. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "token_trie.h"
#include "vocab.h"

void fm_token_trie_free(fm_token_trie *t) {
    if (t == NULL) return;
    if (t->ext_free) t->ext_free(t->ext);
    free(t->nodes);
    free(t->same_next);
    free(t->bytes);
    free(t->len);
    free(t->pool);
    free(t);
}

static const fm_token_trie *sort_base; /* qsort has no user pointer; built under the lock */

static int by_bytes(const void *x, const void *y) {
    const int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    const uint32_t la = sort_base->len[a], lb = sort_base->len[b];
    const int c = memcmp(sort_base->bytes[a], sort_base->bytes[b], la < lb ? la : lb);
    if (c) return c;
    if (la != lb) return la < lb ? -1 : 1;
    return a < b ? -1 : a > b;
}

static fm_token_trie *build(const fm_tokenizer *tok) {
    const int32_t n = fm_tokenizer_n_vocab(tok);
    fm_token_trie *t = fm_calloc(1, sizeof *t);
    if (t == NULL) return NULL;
    t->n_vocab = n;
    t->bytes = fm_calloc((size_t)n, sizeof *t->bytes);
    t->len = fm_calloc((size_t)n, sizeof *t->len);
    t->same_next = fm_malloc((size_t)n * sizeof *t->same_next);
    int32_t *order = fm_malloc((size_t)n * sizeof *order);
    size_t total = 0, cap = (size_t)n * 8 + 64;
    t->pool = fm_malloc(cap);
    if (t->bytes == NULL || t->len == NULL || t->same_next == NULL || order == NULL || t->pool == NULL) goto fail;
    size_t *off = fm_malloc((size_t)n * sizeof *off);
    if (off == NULL) goto fail;
    int32_t m = 0;
    for (int32_t i = 0; i < n; i++) {
        t->same_next[i] = -1;
        size_t len = 0;
        for (;;) {
            fm_status s = fm_tokenizer_token_to_piece(tok, i, 0, (char *)t->pool + total, cap - total, &len);
            if (s == FM_STATUS_OK) break;
            if (s != FM_STATUS_BUFFER_TOO_SMALL) {
                len = 0;
                break;
            }
            size_t c2 = 2 * cap + len;
            uint8_t *p = fm_realloc(t->pool, c2);
            if (p == NULL) {
                free(off);
                goto fail;
            }
            t->pool = p, cap = c2;
        }
        off[i] = total;
        t->len[i] = (uint32_t)len;
        total += len;
        if (len > 0 && len < 4096) order[m++] = i; /* longer ones: never allowed */
    }
    for (int32_t i = 0; i < n; i++) t->bytes[i] = t->len[i] ? t->pool + off[i] : NULL;
    free(off);
    fm_error_clear();
    sort_base = t;
    qsort(order, (size_t)m, sizeof *order, by_bytes);
    /* nodes: at most one per byte of every token, plus the root */
    t->nodes = fm_malloc((total + 1) * sizeof *t->nodes);
    uint32_t *path = fm_malloc((size_t)(1 + (m ? 4096 : 0)) * sizeof *path);
    if (t->nodes == NULL || path == NULL) {
        free(path);
        goto fail;
    }
    t->nodes[0] = (fm_trie_node){0, -1, 0};
    uint32_t nn = 1, depth = 0; /* path[0..depth] are the open nodes; path[0] the root */
    path[0] = 0;
    int32_t prev = -1;
    for (int32_t k = 0; k < m; k++) {
        const int32_t id = order[k];
        const uint8_t *b = t->bytes[id];
        const uint32_t len = t->len[id];
        uint32_t lcp = 0;
        if (prev >= 0) {
            const uint32_t pl = t->len[prev];
            while (lcp < len && lcp < pl && t->bytes[prev][lcp] == b[lcp]) lcp++;
        }
        if (prev >= 0 && lcp == len && len == t->len[prev]) {
            /* the same bytes as the previous token: chain it */
            int32_t head = t->nodes[path[depth]].tok;
            while (t->same_next[head] >= 0) head = t->same_next[head];
            t->same_next[head] = id;
            continue;
        }
        while (depth > lcp) t->nodes[path[depth--]].end = nn;
        for (uint32_t i = lcp; i < len; i++) {
            t->nodes[nn] = (fm_trie_node){0, -1, b[i]};
            path[++depth] = nn++;
        }
        t->nodes[path[depth]].tok = id;
        if (depth > t->max_depth) t->max_depth = depth;
        prev = id;
    }
    while (depth > 0) t->nodes[path[depth--]].end = nn;
    t->nodes[0].end = nn;
    t->n_nodes = nn;
    free(path);
    free(order);
    return t;
fail:
    free(order);
    fm_token_trie_free(t);
    return NULL;
}

static pthread_mutex_t trie_lock = PTHREAD_MUTEX_INITIALIZER;

const fm_token_trie *fm_token_trie_get(const fm_tokenizer *tok) {
    pthread_mutex_lock(&trie_lock);
    fm_tokenizer *t = (fm_tokenizer *)tok; /* the trie is a cache: logically const */
    if (t->trie == NULL) t->trie = build(tok);
    const fm_token_trie *r = t->trie;
    pthread_mutex_unlock(&trie_lock);
    if (r == NULL) fm_error(FM_STATUS_NO_MEMORY, "out of memory building the token trie");
    return r;
}

void *fm_token_trie_ext(const fm_token_trie *t, void *(*make)(void), void (*destroy)(void *)) {
    pthread_mutex_lock(&trie_lock);
    fm_token_trie *w = (fm_token_trie *)t; /* a cache of the trie: logically const */
    if (w->ext == NULL && (w->ext = make()) != NULL) w->ext_free = destroy;
    void *r = w->ext;
    pthread_mutex_unlock(&trie_lock);
    return r;
}
