/* SentencePiece BPE: start from one symbol per UTF-8 character, repeatedly
 * merge the adjacent pair whose concatenation is the highest-scoring token
 * (leftmost on ties), then map each symbol to its token or, failing that,
 * to byte tokens. A binary heap keeps it O(n log n). */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/grow.h"
#include "../core/utf8.h"
#include "piece_cache.h"
#include "rank_queue.h"
#include "unicode.h"
#include "vocab.h"

typedef struct symbol {
    int32_t prev, next; /* -1 at the ends */
    uint32_t off, len;  /* bytes of the text; len 0 once merged away */
    int64_t key;        /* token id, or for a character that is no token
                           -1 - its bytes, so pairs can be memoized */
} symbol;

typedef struct bigram {
    float score;
    int32_t left, right;
    uint32_t len; /* len of left+right when queued: stale if it changed */
    fm_token id;
} bigram;

typedef struct heap {
    bigram *v;
    size_t n, cap;
} heap;

/* A memo of pair lookups, negative ones included: the same character and
 * token pairs come up again and again, and the memo stays in cache. It
 * keeps the merged token's score too, which would be another cache miss. */
typedef struct pair_memo {
    int64_t l, r; /* symbol keys; l == INT64_MIN: empty */
    fm_token merged; /* -1: no token */
    float score;
} pair_memo;

/* What two symbols of the table's alphabet (ASCII and "▁", most symbols
 * of most text) merge into: a segment's first pairs without the memo. */
#define SPM_SMALL 129
struct fm_spm_pair {
    fm_token merged; /* -1: no token */
    float score;
};

/* Buffers reused across the segments of one call. */
typedef struct spm_scratch {
    symbol *sym;
    size_t cap;
    heap h;
    pair_memo *memo;
    uint32_t memo_mask;
    fm_rank_queue rq; /* instead of the heap for long segments */
    int use_rq;
} spm_scratch;

/* Segments at least this long queue their pairs in buckets (rank_queue.h). */
#define LONG_SEGMENT 256

static void scratch_init(spm_scratch *sc, size_t text_len) {
    memset(sc, 0, sizeof *sc); /* also an empty rank queue */
    size_t slots = 64;
    while (slots < text_len * 2 && slots < 8192) slots <<= 1;
    sc->memo = fm_malloc(slots * sizeof *sc->memo);
    if (sc->memo == NULL) return; /* no memo: every pair is looked up */
    for (size_t i = 0; i < slots; i++) sc->memo[i].l = INT64_MIN;
    sc->memo_mask = (uint32_t)(slots - 1);
}

static void scratch_free(spm_scratch *sc) {
    free(sc->sym);
    free(sc->h.v);
    free(sc->memo);
    fm_rq_free(&sc->rq);
}

/* The key of a single character at text[off..off+len). */
static int64_t char_key(const fm_tokenizer *tok, const char *text, uint32_t off, uint32_t len) {
    if (len == 1 && (uint8_t)text[off] < 0x80) return tok->spm_ascii[(uint8_t)text[off]];
    fm_token id = fm_vocab_lookup(tok, text + off, len);
    if (id >= 0) return id;
    uint64_t b = 0;
    memcpy(&b, text + off, len);
    return -1 - (int64_t)(b & 0xFFFFFFFF);
}

/* a before b: higher score, then further left */
static int before(const bigram *a, const bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static int heap_push(heap *h, bigram x) {
    if (h->n == h->cap) {
        bigram *v = fm_grow(h->v, &h->cap, h->n + 1, sizeof *v, 64);
        if (v == NULL) return 0;
        h->v = v;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&x, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = x;
    return 1;
}

static bigram heap_pop(heap *h) {
    bigram top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && before(&h->v[c + 1], &h->v[c])) c++;
        if (!before(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0) h->v[i] = last;
    return top;
}

/* Queue keys for long segments: higher score first, as an unsigned order. */
static uint32_t score_key(float score) {
    uint32_t u;
    memcpy(&u, &score, sizeof u);
    u = (u & 0x80000000u) ? ~u : u | 0x80000000u; /* ascending with the float */
    return ~u;                                    /* descending */
}

/* The token the pair (l, r) merges into, or -1, and its score. */
static fm_token pair_id(const fm_tokenizer *tok, const char *text, const symbol *sym, int32_t l, int32_t r,
                        spm_scratch *sc, float *score) {
    if (sc->memo == NULL) {
        const fm_token id = fm_vocab_lookup(tok, text + sym[l].off, sym[l].len + sym[r].len);
        if (id >= 0) *score = tok->spm_scores[id];
        return id;
    }
    uint64_t k = (uint64_t)sym[l].key * 0x9E3779B97F4A7C15ull ^ (uint64_t)sym[r].key * 0xff51afd7ed558ccdull;
    pair_memo *e = &sc->memo[(k ^ (k >> 29)) & sc->memo_mask];
    if (e->l != sym[l].key || e->r != sym[r].key) {
        e->l = sym[l].key;
        e->r = sym[r].key;
        e->merged = fm_vocab_lookup(tok, text + sym[l].off, sym[l].len + sym[r].len);
        e->score = e->merged >= 0 ? tok->spm_scores[e->merged] : 0;
    }
    *score = e->score;
    return e->merged;
}

static int try_pair(const fm_tokenizer *tok, const char *text, const symbol *sym, int32_t l, int32_t r,
                    spm_scratch *sc) {
    if (l < 0 || r < 0) return 1;
    float score;
    const fm_token id = pair_id(tok, text, sym, l, r, sc, &score);
    if (id < 0) return 1;
    if (sc->use_rq) return fm_rq_push(&sc->rq, score_key(score), (uint32_t)l);
    bigram b = {score, l, r, sym[l].len + sym[r].len, id};
    return heap_push(&sc->h, b);
}

static void emit(fm_token id, fm_token *out, size_t cap, size_t *n) {
    if (*n < cap) out[*n] = id;
    (*n)++;
}

static fm_status emit_symbols(const fm_tokenizer *tok, const char *text, const symbol *sym, int32_t n_sym,
                              fm_token *out, size_t cap, size_t *n);

/* Segments of at most this many characters merge by scanning for the best
 * pair, as merge_short in bpe.c does: no queue, no stale entries. */
#define SHORT_SEGMENT 32

static void merge_short(const fm_tokenizer *tok, const char *text, symbol *sym, int32_t n_sym, spm_scratch *sc) {
    int32_t at[SHORT_SEGMENT];   /* the symbols left, in order */
    fm_token id[SHORT_SEGMENT];  /* what at[k] and at[k + 1] merge into, -1: nothing */
    float score[SHORT_SEGMENT];
    int32_t m = n_sym;
    int16_t small[SHORT_SEGMENT]; /* index in tok->spm_pairs, -1: none */
    for (int32_t k = 0; k < m; k++) {
        at[k] = k;
        /* (a one-byte symbol need not be ASCII: at load, a token's text is
         * not validated UTF-8, and a stray byte >= 0x80 is a symbol too) */
        const uint8_t c0 = (uint8_t)text[sym[k].off];
        small[k] = sym[k].len == 1 && c0 < 0x80 ? (int16_t)c0
                   : sym[k].len == 3 && sym[k].key == tok->spm_space && tok->spm_space >= 0 ? 128 : -1;
    }
    for (int32_t k = 0; k + 1 < m; k++) {
        if (small[k] >= 0 && small[k + 1] >= 0) {
            const struct fm_spm_pair *e = &tok->spm_pairs[small[k] * SPM_SMALL + small[k + 1]];
            id[k] = e->merged;
            score[k] = e->score;
        } else {
            id[k] = pair_id(tok, text, sym, k, k + 1, sc, &score[k]);
        }
    }
    for (;;) {
        int32_t best = -1;
        for (int32_t k = 0; k + 1 < m; k++)
            if (id[k] >= 0 && (best < 0 || score[k] > score[best])) best = k; /* strict: leftmost of equals */
        if (best < 0) break;
        symbol *l = &sym[at[best]];
        l->len += sym[at[best + 1]].len;
        l->key = id[best];
        m--;
        memmove(at + best + 1, at + best + 2, (size_t)(m - best - 1) * sizeof *at);
        memmove(id + best + 1, id + best + 2, (size_t)(m - best - 1) * sizeof *id);
        memmove(score + best + 1, score + best + 2, (size_t)(m - best - 1) * sizeof *score);
        if (best > 0) id[best - 1] = pair_id(tok, text, sym, at[best - 1], at[best], sc, &score[best - 1]);
        if (best + 1 < m) id[best] = pair_id(tok, text, sym, at[best], at[best + 1], sc, &score[best]);
    }
    for (int32_t k = 0; k < m; k++) sym[at[k]].next = k + 1 < m ? at[k + 1] : -1;
}

/* The merge loop on one segment (no word boundary inside it can be
 * crossed by a merge, see fm_spm_encode). */
static fm_status spm_merge(const fm_tokenizer *tok, const char *text, size_t len, spm_scratch *sc, fm_token *out,
                           size_t cap, size_t *n) {
    if (len == 0) return FM_STATUS_OK;
    if (len > sc->cap) {
        symbol *v = fm_realloc(sc->sym, len * sizeof *v);
        if (v == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory tokenizing %zu bytes", len);
        sc->sym = v;
        sc->cap = len;
    }
    symbol *sym = sc->sym;
    heap *h = &sc->h;
    h->n = 0;
    const int32_t sp = tok->spm_space; /* "▁" is most characters' neighbour */
    int32_t n_sym = 0;
    for (size_t off = 0; off < len; n_sym++) {
        size_t cl = fm_utf8_lead_len((uint8_t)text[off]);
        if (cl > len - off) cl = len - off;
        int64_t key = (cl == 3 && sp >= 0 && memcmp(text + off, "\xE2\x96\x81", 3) == 0)
                          ? sp
                          : char_key(tok, text, (uint32_t)off, (uint32_t)cl);
        sym[n_sym] = (symbol){n_sym - 1, -1, (uint32_t)off, (uint32_t)cl, key};
        if (n_sym > 0) sym[n_sym - 1].next = n_sym;
        off += cl;
    }
    if (n_sym <= SHORT_SEGMENT) {
        merge_short(tok, text, sym, n_sym, sc);
        return emit_symbols(tok, text, sym, n_sym, out, cap, n);
    }
    sc->use_rq = len >= LONG_SEGMENT;
    if (sc->use_rq) fm_rq_reset(&sc->rq);
    int ok = 1;
    for (int32_t i = 1; i < n_sym && ok; i++) ok = try_pair(tok, text, sym, i - 1, i, sc);
    for (;;) {
        bigram b;
        if (sc->use_rq) {
            uint32_t key, pos;
            if (!ok || !fm_rq_pop(&sc->rq, &key, &pos)) break;
            /* current if the pair now at pos still scores what was queued */
            if (sym[pos].len == 0 || sym[pos].next < 0) continue;
            b.left = (int32_t)pos;
            b.right = sym[pos].next;
            float score;
            b.id = pair_id(tok, text, sym, b.left, b.right, sc, &score);
            if (b.id < 0 || score_key(score) != key) continue;
            b.len = sym[b.left].len + sym[b.right].len;
        } else {
            if (!ok || h->n == 0) break;
            b = heap_pop(h);
        }
        symbol *l = &sym[b.left], *r = &sym[b.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != b.len) continue; /* stale */
        l->len += r->len;
        l->key = b.id;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = b.left;
        ok = try_pair(tok, text, sym, l->prev, b.left, sc) && try_pair(tok, text, sym, b.left, l->next, sc);
    }
    if (!ok) return fm_error(FM_STATUS_NO_MEMORY, "out of memory tokenizing %zu bytes", len);
    return emit_symbols(tok, text, sym, n_sym, out, cap, n);
}

/* Emits the symbols left after merging, in order. */
static fm_status emit_symbols(const fm_tokenizer *tok, const char *text, const symbol *sym, int32_t n_sym,
                              fm_token *out, size_t cap, size_t *n) {
    for (int32_t i = 0; i >= 0 && i < n_sym; i = sym[i].next) {
        /* A merged symbol is always a token; a lone character may not be. */
        if (sym[i].key >= 0) {
            emit((fm_token)sym[i].key, out, cap, n);
            continue;
        }
        for (uint32_t j = 0; j < sym[i].len; j++) {
            fm_token bt = tok->byte_token[(uint8_t)text[sym[i].off + j]];
            if (bt < 0) bt = tok->special[FM_SPECIAL_UNK];
            if (bt >= 0) emit(bt, out, cap, n);
        }
    }
    return FM_STATUS_OK;
}

/* One segment: from the per-call cache, as a whole token when merging would
 * rebuild it anyway, or merged. */
static fm_status spm_segment(const fm_tokenizer *tok, const char *s, size_t len, spm_scratch *sc,
                             fm_piece_cache *cache, fm_token *out, size_t cap, size_t *n) {
    uint32_t n_hit;
    fm_piece_key key = fm_piece_key_of(s, len);
    const fm_token *hit = fm_piece_cache_get(cache, s, len, &key, &n_hit);
    if (hit != NULL) {
        for (uint32_t i = 0; i < n_hit; i++) emit(hit[i], out, cap, n);
        return FM_STATUS_OK;
    }
    if (tok->whole != NULL) {
        fm_token id = fm_vocab_lookup(tok, s, len);
        if (id >= 0 && tok->whole[id]) {
            emit(id, out, cap, n);
            fm_piece_cache_put(cache, s, len, &key, &id, 1); /* next time one probe of the small memo */
            return FM_STATUS_OK;
        }
    }
    if (cache->slots == NULL || len > FM_PIECE_CACHE_KEY) return spm_merge(tok, s, len, sc, out, cap, n);
    fm_token ids[FM_PIECE_CACHE_KEY] = {0}; /* all written before read; gcc cannot see it through emit */
    size_t k = 0;
    fm_status st = spm_merge(tok, s, len, sc, ids, FM_PIECE_CACHE_KEY, &k);
    if (st) return st;
    if (k <= FM_PIECE_CACHE_KEY) fm_piece_cache_put(cache, s, len, &key, ids, k);
    for (size_t i = 0; i < k && i < FM_PIECE_CACHE_KEY; i++) emit(ids[i], out, cap, n);
    return FM_STATUS_OK;
}

/* Character classes for finding where text may be cut: U+2581, letters,
 * digits, punctuation, symbols, marks, other whitespace, the rest. */
enum { CC_SPACE, CC_L, CC_N, CC_P, CC_S, CC_M, CC_WS, CC_OTHER, CC_COUNT };

static inline int char_class(const char *s, size_t i, size_t len, size_t *clen) {
    const uint8_t b = (uint8_t)s[i];
    if (b < 0x80) {
        *clen = 1;
        const uint16_t c = fm_uc_ascii_class[b];
        return (c & FM_UC_L) ? CC_L : (c & FM_UC_N) ? CC_N : (c & FM_UC_P) ? CC_P : (c & FM_UC_S) ? CC_S
               : (c & FM_UC_WS) ? CC_WS : CC_OTHER;
    }
    if (b == 0xE2 && i + 3 <= len && (uint8_t)s[i + 1] == 0x96 && (uint8_t)s[i + 2] == 0x81) {
        *clen = 3;
        return CC_SPACE;
    }
    uint32_t cp;
    *clen = fm_uc_decode((const uint8_t *)s + i, len - i, &cp);
    if (cp == 0x2581) return CC_SPACE;
    uint16_t c = fm_uc_class(cp);
    if (c & FM_UC_L) return CC_L;
    if (c & FM_UC_N) return CC_N;
    if (c & FM_UC_P) return CC_P;
    if (c & FM_UC_S) return CC_S;
    if (c & FM_UC_M) return CC_M;
    if (c & FM_UC_WS) return CC_WS;
    return CC_OTHER;
}

/* No merge can join two characters whose classes never stand side by side
 * inside any token (tok->spm_join says which do), so the text is merged
 * piece by piece between such points: the heap stays small, and repeated
 * pieces come from the per-call cache. */
fm_status fm_spm_encode(const fm_tokenizer *tok, const char *text, size_t len, fm_piece_cache *cache, fm_token *out,
                        size_t cap, size_t *n) {
    spm_scratch sc;
    scratch_init(&sc, len);
    fm_status st = FM_STATUS_OK;
    size_t start = 0, cl;
    int prev = -1;
    for (size_t i = 0; i < len && st == FM_STATUS_OK; i += cl) {
        const uint8_t b = (uint8_t)text[i];
        int c;
        if (b < 0x80) c = tok->spm_ascii_class[b], cl = 1;
        else c = char_class(text, i, len, &cl);
        if (prev >= 0 && !(tok->spm_join[prev] & (1u << c))) {
            st = spm_segment(tok, text + start, i - start, &sc, cache, out, cap, n);
            start = i;
        }
        prev = c;
    }
    if (st == FM_STATUS_OK && start < len) st = spm_segment(tok, text + start, len - start, &sc, cache, out, cap, n);
    scratch_free(&sc);
    return st;
}

fm_status fm_spm_prepare(fm_tokenizer *tok) {
    /* which character classes follow each other inside some token */
    memset(tok->spm_join, 0, sizeof tok->spm_join);
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        const char *t = fm_vocab_text(tok, id);
        const size_t l = tok->tokens[id].len;
        int prev = -1;
        size_t cl;
        for (size_t i = 0; i < l; i += cl) {
            const int c = char_class(t, i, l, &cl);
            if (prev >= 0) tok->spm_join[prev] |= 1u << c;
            prev = c;
        }
    }
    /* which tokens merging would rebuild from their own text */
    tok->whole = fm_calloc((size_t)tok->n_vocab, 1);
    if (tok->whole == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the vocabulary");
    tok->spm_space = fm_vocab_lookup(tok, "\xE2\x96\x81", 3);
    for (int c = 0; c < 128; c++) {
        char ch = (char)c;
        fm_token id = fm_vocab_lookup(tok, &ch, 1);
        tok->spm_ascii[c] = id >= 0 ? id : -1 - c; /* as char_key spells a non-token */
        size_t cl;
        tok->spm_ascii_class[c] = (uint8_t)char_class(&ch, 0, 1, &cl);
    }
    tok->spm_pairs = fm_malloc(SPM_SMALL * SPM_SMALL * sizeof *tok->spm_pairs);
    tok->spm_scores = fm_malloc((size_t)tok->n_vocab * sizeof *tok->spm_scores);
    if (tok->spm_pairs == NULL || tok->spm_scores == NULL)
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the vocabulary");
    for (int32_t id = 0; id < tok->n_vocab; id++) tok->spm_scores[id] = tok->tokens[id].score;
    for (int a = 0; a < SPM_SMALL; a++) {
        for (int c = 0; c < SPM_SMALL; c++) {
            char two[6];
            size_t n = 0;
            if (a == 128) memcpy(two, "\xE2\x96\x81", 3), n = 3;
            else two[n++] = (char)a;
            if (c == 128) memcpy(two + n, "\xE2\x96\x81", 3), n += 3;
            else two[n++] = (char)c;
            const fm_token id = fm_vocab_lookup(tok, two, n);
            tok->spm_pairs[a * SPM_SMALL + c] = (struct fm_spm_pair){id, id >= 0 ? tok->spm_scores[id] : 0};
        }
    }
    spm_scratch sc;
    scratch_init(&sc, 1 << 16);
    fm_status st = FM_STATUS_OK;
    for (int32_t id = 0; id < tok->n_vocab && st == FM_STATUS_OK; id++) {
        const fm_vocab_token *tk = &tok->tokens[id];
        if (tk->type != FM_TT_NORMAL || fm_vocab_lookup(tok, fm_vocab_text(tok, id), tk->len) != id) continue;
        fm_token got[2];
        size_t k = 0;
        st = spm_merge(tok, fm_vocab_text(tok, id), tk->len, &sc, got, 2, &k);
        tok->whole[id] = k == 1 && got[0] == id;
    }
    scratch_free(&sc);
    return st;
}
