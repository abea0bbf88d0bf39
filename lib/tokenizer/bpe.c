/* Byte-level BPE of one pre-tokenized piece. Start from one symbol per byte,
 * then repeatedly merge the adjacent pair of lowest rank (leftmost among
 * equals) until no pair merges: what tiktoken and llama.cpp both do, here
 * with a binary heap and lazy deletion, so a piece of n bytes costs
 * O(n log n) instead of tiktoken's O(n^2).
 *
 * Ranks: a GGUF vocabulary lists its merges (rank = position in the list);
 * a tiktoken vocabulary merges a pair iff the concatenated bytes are a token,
 * whose rank is its id. Most pieces are whole tokens: when the vocabulary
 * guarantees BPE would rebuild that token (tiktoken always; GGUF per token,
 * see fm_bpe_mark_whole) the piece is looked up and done. */
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/grow.h"
#include "rank_queue.h"
#include "vocab.h"

typedef struct sym {
    int32_t prev, next;
    uint32_t off, len; /* len 0: merged into its left neighbour */
    fm_token id;       /* -1: a byte the vocabulary has no token for */
} sym;

/* A queued pair: rank << 32 | its length in bytes << 16 | left, in 8
 * bytes so that a heap of many pairs stays in cache (the heap serves
 * pieces shorter than LONG_PIECE). Whether it is still current is checked
 * when it comes out, on the length (see still_current). */
typedef uint64_t bigram;

static inline bigram make_bigram(int32_t rank, uint32_t len, uint32_t left) {
    return (uint64_t)(uint32_t)rank << 32 | (uint64_t)len << 16 | left;
}

/* A memo of pair lookups (negative ones too): the same pairs come up again
 * and again, and the memo stays in cache where the vocabulary does not. */
typedef struct pair_memo {
    uint64_t key; /* left id << 32 | right id; UINT64_MAX: empty */
    int32_t rank; /* -1: the pair does not merge */
    fm_token merged;
} pair_memo;

/* Sized for the text, so that a short one does not pay for initializing
 * the whole memo; past 128 KB a larger memo saves fewer misses than its
 * own cache misses cost (measured on multilingual text; pairs of bytes
 * come from their table and leave the memo to the longer ones). */
#define PAIR_MEMO_MIN 256
#define PAIR_MEMO_MAX 8192

struct fm_bpe_scratch {
    sym *syms;
    size_t syms_cap;
    bigram *heap;
    size_t heap_n, heap_cap;
    pair_memo *memo;
    uint32_t memo_mask;
    fm_rank_queue rq; /* instead of the heap for long pieces */
    int use_rq;
};

/* Pieces at least this long queue their pairs in buckets (rank_queue.h),
 * and so do repetitive ones from REPETITIVE_PIECE bytes on: a run of
 * whitespace has a handful of distinct pair ranks, which buckets take in
 * O(1) where a heap pays O(log n) (+29 % on adv-whitespace, o200k). Other
 * pieces of that length, runs of distinct symbols, have as many ranks as
 * pairs, and the heap is faster for them (-5 % on unicode-blocks). */
#define LONG_PIECE 256
#define REPETITIVE_PIECE 64
_Static_assert(LONG_PIECE <= 65536, "a heap entry keeps positions and lengths in 16 bits");

/* Whether s[0..len) is made of at most four distinct bytes; gives up at
 * the fifth, a few bytes into most pieces. */
static int few_distinct_bytes(const uint8_t *s, size_t len) {
    uint8_t seen[4];
    int n = 0;
    for (size_t i = 0; i < len; i++) {
        int k = 0;
        while (k < n && seen[k] != s[i]) k++;
        if (k < n) continue;
        if (n == 4) return 0;
        seen[n++] = s[i];
    }
    return 1;
}

void fm_bpe_scratch_free(fm_bpe_scratch *sc) {
    if (sc == NULL) return;
    free(sc->syms);
    free(sc->heap);
    free(sc->memo);
    fm_rq_free(&sc->rq);
    free(sc);
}

static fm_bpe_scratch *scratch_new(size_t text_len) {
    fm_bpe_scratch *sc = fm_calloc(1, sizeof *sc);
    if (sc == NULL) return NULL;
    size_t slots = PAIR_MEMO_MIN;
    while (slots < PAIR_MEMO_MAX && slots * 8 < text_len) slots *= 2;
    sc->memo = fm_malloc(slots * sizeof *sc->memo);
    if (sc->memo == NULL) {
        free(sc);
        return NULL;
    }
    for (size_t i = 0; i < slots; i++) sc->memo[i].key = UINT64_MAX;
    sc->memo_mask = (uint32_t)(slots - 1);
    return sc;
}

/* An 8-ary min-heap: the eight children of a node fill one cache line. */
#define ARITY 8

static int heap_push(fm_bpe_scratch *sc, bigram x) {
    if (sc->heap_n == sc->heap_cap) {
        bigram *v = fm_grow(sc->heap, &sc->heap_cap, sc->heap_n + 1, sizeof *v, 64);
        if (v == NULL) return 0;
        sc->heap = v;
    }
    size_t i = sc->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / ARITY;
        if (sc->heap[p] <= x) break;
        sc->heap[i] = sc->heap[p];
        i = p;
    }
    sc->heap[i] = x;
    return 1;
}

static bigram heap_pop(fm_bpe_scratch *sc) {
    bigram *h = sc->heap;
    bigram top = h[0], last = h[--sc->heap_n];
    size_t i = 0, n = sc->heap_n;
    for (;;) {
        size_t c = ARITY * i + 1;
        if (c >= n) break;
        size_t best = c, end = c + ARITY < n ? c + ARITY : n;
        for (size_t k = c + 1; k < end; k++)
            if (h[k] < h[best]) best = k;
        if (h[best] >= last) break;
        h[i] = h[best];
        i = best;
    }
    if (n > 0) h[i] = last;
    return top;
}

/* Whether the tokens l and r, together the bytes s[off..off+len), merge,
 * and into what at which rank. */
static int pair_lookup(const fm_tokenizer *tok, const uint8_t *s, fm_token l, fm_token r, size_t off, size_t len,
                       int32_t *rank, fm_token *merged) {
    if (tok->merges != NULL) {
        const uint64_t key = (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
        const uint64_t hash = fm_merge_hash(key), bits = fm_merge_filter_bits(hash);
        if ((tok->merge_filter[(hash >> 32) & tok->merge_fmask] & bits) != bits) return 0;
        for (uint32_t h = (uint32_t)hash & tok->merges_mask;; h = (h + 1) & tok->merges_mask) {
            const fm_merge *m = &tok->merges[h];
            if (m->key == UINT64_MAX) return 0;
            if (m->key == key) {
                *rank = m->rank;
                *merged = m->merged;
                return 1;
            }
        }
    }
    fm_token id = fm_vocab_lookup_bytes(tok, (const char *)s + off, len);
    if (id < 0) return 0;
    *rank = id;
    *merged = id;
    return 1;
}

/* Whether the pair of ids (l, r) whose bytes are s[off..off+len) merges,
 * and into what at which rank, through the per-call memo. */
static inline int pair_merge_ids(const fm_tokenizer *tok, const uint8_t *s, const fm_bpe_scratch *sc, fm_token l,
                                 fm_token r, uint32_t off, uint32_t llen, uint32_t rlen, int32_t *rank,
                                 fm_token *merged) {
    if (l < 0 || r < 0) return 0;
    const uint64_t key = (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
    pair_memo *e = &sc->memo[(uint32_t)fm_merge_hash(key) & sc->memo_mask];
    if (e->key != key) {
        e->key = key;
        if (!pair_lookup(tok, s, l, r, off, (size_t)llen + rlen, &e->rank, &e->merged)) e->rank = -1;
    }
    *rank = e->rank;
    *merged = e->merged;
    return e->rank >= 0;
}

static inline int pair_merge(const fm_tokenizer *tok, const uint8_t *s, const fm_bpe_scratch *sc, const sym *l,
                             const sym *r, int32_t *rank, fm_token *merged) {
    return pair_merge_ids(tok, s, sc, l->id, r->id, l->off, l->len, r->len, rank, merged);
}

/* Queues the pair starting at symbol l if it merges. */
static int update_pair(const fm_tokenizer *tok, const uint8_t *s, fm_bpe_scratch *sc, int32_t l) {
    if (l < 0) return 1;
    sym *y = sc->syms;
    if (y[l].next < 0) return 1;
    int32_t rank;
    fm_token merged;
    if (!pair_merge(tok, s, sc, &y[l], &y[y[l].next], &rank, &merged)) return 1;
    if (sc->use_rq) return fm_rq_push(&sc->rq, (uint32_t)rank, (uint32_t)l);
    return heap_push(sc, make_bigram(rank, y[l].len + y[y[l].next].len, (uint32_t)l));
}

/* Whether the queued pair (rank, l) is still the pair at l, and into what
 * it merges. A symbol only grows, by taking in its right neighbour, so the
 * pair is current iff it still covers `len` bytes, the length it was
 * queued with. len is 0 only for a merge list's pairs in the rank queue,
 * which keeps no length: there the list names the two ids. */
static int still_current(const fm_tokenizer *tok, const sym *y, int32_t l, int32_t rank, uint32_t len,
                         fm_token *merged) {
    if (y[l].len == 0 || y[l].next < 0) return 0;
    const sym *r = &y[y[l].next];
    if (len != 0) { /* no look in the vocabulary's tables, which miss the cache */
        if (y[l].len + r->len != len) return 0;
        *merged = tok->merges != NULL ? tok->merge_by_rank[rank].merged : rank;
        return 1;
    }
    const fm_merge *m = &tok->merge_by_rank[rank];
    if (m->key != ((uint64_t)(uint32_t)y[l].id << 32 | (uint32_t)r->id)) return 0;
    *merged = m->merged;
    return 1;
}

static inline void emit(fm_token id, fm_token *out, size_t cap, size_t *n) {
    if (*n < cap) out[*n] = id;
    (*n)++;
}

/* Pieces this short merge by scanning for the lowest rank, as tiktoken
 * does: for a few dozen parts a linear scan beats any queue (40 bytes,
 * thirteen characters of an Indic script: +4 % on multilingual text over
 * 24; 64 gains nothing more). */
#define SHORT_PIECE 40
_Static_assert(SHORT_PIECE % 4 == 0, "merge_short pads its keys to a multiple of 4 within SHORT_PIECE");

/* A pair's place in the scan: rank << 6 | position, so that the smallest
 * key is the lowest rank and, among equal ranks, the leftmost pair - one
 * minimum, no tie-break. Ranks are below FM_MAX_RANKS (2^24), positions
 * below 64: keys stay below NO_PAIR, which marks "no pair here". */
#define KEY_SHIFT 6
#define NO_PAIR INT32_MAX

/* The smallest of keys k[0..m), m <= SHORT_PIECE, k padded with NO_PAIR
 * to a multiple of 4. Four lanes at a time where SSE2 is there (every
 * x86-64): the scan runs once per merge, a quarter of the instructions on
 * multilingual text (+1.4 % o200k, +3.7 % cl100k, side by side). */
#if defined(__SSE2__)
static inline __m128i min4(__m128i a, __m128i b) {
    const __m128i lt = _mm_cmplt_epi32(a, b);
    return _mm_or_si128(_mm_and_si128(lt, a), _mm_andnot_si128(lt, b));
}
static inline int32_t min_key(const int32_t *k, int m) {
    __m128i v = _mm_loadu_si128((const __m128i *)k);
    for (int i = 4; i < m; i += 4) v = min4(v, _mm_loadu_si128((const __m128i *)(k + i)));
    v = min4(v, _mm_shuffle_epi32(v, 0x4E));
    v = min4(v, _mm_shuffle_epi32(v, 0xB1));
    return _mm_cvtsi128_si32(v);
}
#else
static inline int32_t min_key(const int32_t *k, int m) {
    int32_t best = k[0];
    for (int i = 1; i < m; i++)
        if (k[i] < best) best = k[i];
    return best;
}
#endif

static fm_status merge_short(const fm_tokenizer *tok, const uint8_t *s, size_t len, fm_bpe_scratch *sc,
                             fm_token *out, size_t cap, size_t *n) {
    /* Symbol i starts at byte i (a merged-away one is skipped by the
     * links); key[i] is the key of the pair it starts, NO_PAIR if none.
     * Nothing moves on a merge: the scan for the lowest key just passes
     * over dead positions. */
    fm_token id[SHORT_PIECE], merged[SHORT_PIECE];
    int32_t key[SHORT_PIECE];
    uint8_t sl[SHORT_PIECE];
    int8_t nx[SHORT_PIECE], pv[SHORT_PIECE];
    const int m = (int)len;
    for (int i = 0; i < m; i++) {
        id[i] = tok->byte_token[s[i]];
        sl[i] = 1;
        nx[i] = (int8_t)(i + 1 < m ? i + 1 : -1);
        pv[i] = (int8_t)(i - 1);
    }
    for (int i = m - 1; i < ((m + 3) & ~3); i++) key[i] = NO_PAIR;
    for (int i = 0; i + 1 < m; i++) { /* pairs of bytes: from the table */
        const int32_t r = tok->byte_pair_rank[s[i] << 8 | s[i + 1]];
        key[i] = r >= 0 ? r << KEY_SHIFT | i : NO_PAIR;
        if (r >= 0) merged[i] = tok->merges != NULL ? tok->merge_by_rank[r].merged : r;
    }
    for (;;) {
        const int32_t k = min_key(key, m);
        if (k == NO_PAIR) break;
        const int best = k & ((1 << KEY_SHIFT) - 1);
        const int r = nx[best];
        id[best] = merged[best];
        sl[best] = (uint8_t)(sl[best] + sl[r]);
        key[r] = NO_PAIR;
        nx[best] = nx[r];
        if (nx[r] >= 0) pv[nx[r]] = (int8_t)best;
        const int l = pv[best], q = nx[best];
        int32_t rank;
        if (l >= 0)
            key[l] = pair_merge_ids(tok, s, sc, id[l], id[best], (uint32_t)l, sl[l], sl[best], &rank, &merged[l])
                         ? rank << KEY_SHIFT | l
                         : NO_PAIR;
        key[best] = q >= 0 && pair_merge_ids(tok, s, sc, id[best], id[q], (uint32_t)best, sl[best], sl[q], &rank,
                                             &merged[best])
                        ? rank << KEY_SHIFT | best
                        : NO_PAIR;
    }
    for (int i = 0; i >= 0; i = nx[i])
        if (id[i] >= 0) emit(id[i], out, cap, n);
    return FM_STATUS_OK;
}

/* The merge loop proper, without the whole-token shortcut. */
static fm_status merge_piece(const fm_tokenizer *tok, const uint8_t *s, size_t len, fm_bpe_scratch *sc,
                             fm_token *out, size_t cap, size_t *n) {
    if (len <= SHORT_PIECE) return merge_short(tok, s, len, sc, out, cap, n);
    if (len > sc->syms_cap) {
        sym *v = fm_realloc(sc->syms, len * sizeof *v);
        if (v == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory tokenizing a piece of %zu bytes", len);
        sc->syms = v;
        sc->syms_cap = len;
    }
    sym *y = sc->syms;
    for (size_t i = 0; i < len; i++)
        y[i] = (sym){(int32_t)i - 1, i + 1 < len ? (int32_t)i + 1 : -1, (uint32_t)i, 1, tok->byte_token[s[i]]};
    sc->heap_n = 0;
    sc->use_rq = len >= LONG_PIECE || (len >= REPETITIVE_PIECE && few_distinct_bytes(s, len));
    if (sc->use_rq) fm_rq_reset(&sc->rq);
    int ok = 1;
    for (size_t i = 0; i + 1 < len && ok; i++) { /* pairs of bytes: from the table */
        const int32_t r = tok->byte_pair_rank[s[i] << 8 | s[i + 1]];
        if (r < 0) continue;
        ok = sc->use_rq ? fm_rq_push(&sc->rq, (uint32_t)r, (uint32_t)i)
                        : heap_push(sc, make_bigram(r, 2, (uint32_t)i));
    }
    int32_t last_rank = -1;
    uint32_t last_len = 0;
    for (;;) {
        uint32_t rank, pos, pair_len = 0;
        if (sc->use_rq) {
            if (!ok || !fm_rq_pop(&sc->rq, &rank, &pos)) break;
            if (tok->merges == NULL) { /* a tiktoken pair covers its token: pops come by rank, one look each */
                if ((int32_t)rank != last_rank) last_rank = (int32_t)rank, last_len = tok->tokens[rank].blen;
                pair_len = last_len;
            }
        } else {
            if (!ok || sc->heap_n == 0) break;
            const bigram b = heap_pop(sc);
            rank = (uint32_t)(b >> 32);
            pair_len = (uint32_t)(b >> 16) & 0xFFFF;
            pos = (uint32_t)b & 0xFFFF;
        }
        const int32_t li = (int32_t)pos;
        fm_token merged;
        if (!still_current(tok, y, li, (int32_t)rank, pair_len, &merged)) continue; /* stale */
        sym *l = &y[li];
        sym *r = &y[l->next];
        l->len += r->len;
        l->id = merged;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) y[r->next].prev = li;
        ok = update_pair(tok, s, sc, l->prev) && update_pair(tok, s, sc, li);
    }
    if (!ok) return fm_error(FM_STATUS_NO_MEMORY, "out of memory tokenizing a piece of %zu bytes", len);
    /* bytes without a token are dropped, as llama.cpp does */
    for (int32_t i = 0; i >= 0; i = y[i].next)
        if (y[i].id >= 0) emit(y[i].id, out, cap, n);
    return FM_STATUS_OK;
}

fm_status fm_bpe_encode(const fm_tokenizer *tok, const uint8_t *s, size_t len, uint64_t head, uint64_t hash,
                        fm_bpe_scratch **scratch, size_t text_len, fm_token *out, size_t cap, size_t *n) {
    if (len == 0) return FM_STATUS_OK;
    if (len == 1) {
        if (tok->byte_token[s[0]] >= 0) emit(tok->byte_token[s[0]], out, cap, n);
        return FM_STATUS_OK;
    }
    fm_token id = fm_strmap_get_hashed(&tok->by_bytes, (const char *)s, len, head, hash);
    if (id >= 0 && (tok->whole == NULL || tok->whole[id])) {
        emit(id, out, cap, n);
        return FM_STATUS_OK;
    }
    if (*scratch == NULL && (*scratch = scratch_new(text_len)) == NULL)
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory tokenizing");
    return merge_piece(tok, s, len, *scratch, out, cap, n);
}

fm_status fm_bpe_index_byte_pairs(fm_tokenizer *tok) {
    tok->byte_pair_rank = fm_malloc(65536 * sizeof *tok->byte_pair_rank);
    if (tok->byte_pair_rank == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the vocabulary");
    for (int a = 0; a < 256; a++) {
        for (int b = 0; b < 256; b++) {
            const uint8_t s[2] = {(uint8_t)a, (uint8_t)b};
            const fm_token l = tok->byte_token[a], r = tok->byte_token[b];
            int32_t rank = -1;
            fm_token merged;
            if (l < 0 || r < 0 || !pair_lookup(tok, s, l, r, 0, 2, &rank, &merged)) rank = -1;
            tok->byte_pair_rank[a << 8 | b] = rank;
        }
    }
    return FM_STATUS_OK;
}

fm_status fm_bpe_mark_whole(fm_tokenizer *tok) {
    tok->whole = fm_calloc((size_t)tok->n_vocab, 1);
    fm_bpe_scratch *sc = scratch_new((size_t)tok->n_vocab * 8);
    if (tok->whole == NULL || sc == NULL) {
        fm_bpe_scratch_free(sc); /* its memo too, not just the struct */
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the vocabulary");
    }
    fm_status s = FM_STATUS_OK;
    for (int32_t id = 0; id < tok->n_vocab && s == FM_STATUS_OK; id++) {
        const fm_vocab_token *t = &tok->tokens[id];
        if (t->blen == 0 || fm_vocab_lookup_bytes(tok, tok->bytes + t->boff, t->blen) != id) continue;
        fm_token got[2];
        size_t n = 0;
        s = merge_piece(tok, (const uint8_t *)tok->bytes + t->boff, t->blen, sc, got, 2, &n);
        tok->whole[id] = n == 1 && got[0] == id;
    }
    fm_bpe_scratch_free(sc);
    return s;
}
