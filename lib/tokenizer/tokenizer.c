/* The public tokenizer calls: loading, special-token splitting, encoding and
 * token-to-text. The algorithms live in their own files (spm.c, ...). */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/grow.h"
#include "../core/params.h"
#include "../core/utf8.h"
#include "piece_cache.h"
#include "pretok.h"
#include "vocab.h"

fm_status fm_tokenizer_params_init(fm_tokenizer_params *p, size_t size) {
    const fm_tokenizer_params d = {sizeof d, 0};
    return fm_params_init(p, size, &d, sizeof d, "fm_tokenizer_params_init");
}

/* A .tiktoken file is text: "base64 rank" lines. tokenizer.bin starts with
 * a binary int32. */
static int looks_like_tiktoken(const fm_mapped_file *m, const char *path) {
    size_t pl = strlen(path);
    if (pl >= 9 && strcmp(path + pl - 9, ".tiktoken") == 0) return 1;
    size_t i = 0;
    while (i < m->size && i < 1100 && m->data[i] != ' ') {
        uint8_t c = m->data[i++];
        if (!(isalnum(c) || c == '+' || c == '/' || c == '=')) return 0;
    }
    return i > 0 && i < m->size && i % 4 == 0 && i + 1 < m->size && isdigit(m->data[i + 1]);
}

fm_status fm_tokenizer_load(const char *path, const fm_tokenizer_params *params, fm_tokenizer **out) {
    fm_error_clear();
    if (out == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_tokenizer_load: out is NULL");
    *out = NULL;
    if (path == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_tokenizer_load: path is NULL");
    fm_tokenizer_params p;
    fm_tokenizer_params_init(&p, sizeof p);
    fm_status s = fm_params_read(&p, sizeof p, params, "fm_tokenizer_params");
    if (s) return s;
    if (p.flags != 0) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_tokenizer_params.flags must be 0");
    fm_mapped_file probe;
    s = fm_mapped_file_open(&probe, path);
    if (s) return s;
    int gguf = fm_gguf_has_magic(&probe);
    int tiktoken = !gguf && looks_like_tiktoken(&probe, path);
    fm_mapped_file_close(&probe);
    if (tiktoken) return fm_tokenizer_from_tiktoken(path, out);
    if (!gguf) return fm_tokenizer_from_llama2c(path, 0, out);
    fm_model_file *mf;
    if ((s = fm_model_file_open(path, &mf))) return s;
    s = fm_tokenizer_from_model_file(mf, path, out);
    fm_model_file_close(mf);
    return s;
}

int32_t fm_tokenizer_n_vocab(const fm_tokenizer *tok) { return tok ? tok->n_vocab : 0; }

fm_token fm_tokenizer_special(const fm_tokenizer *tok, fm_special_token which) {
    if (tok == NULL || (unsigned)which >= sizeof tok->special / sizeof tok->special[0]) return FM_TOKEN_NONE;
    return tok->special[which];
}

int fm_tokenizer_is_eog(const fm_tokenizer *tok, fm_token id) {
    if (tok == NULL) return 0;
    int32_t lo = 0, hi = tok->n_eog;
    while (lo < hi) {
        int32_t mid = (lo + hi) / 2;
        if (tok->eog[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < tok->n_eog && tok->eog[lo] == id;
}

fm_status fm_tokenizer_eog_tokens(const fm_tokenizer *tok, fm_token *out, size_t capacity, size_t *n) {
    fm_error_clear();
    if (tok == NULL || n == NULL || (out == NULL && capacity > 0))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_tokenizer_eog_tokens: NULL argument");
    *n = (size_t)tok->n_eog;
    if (capacity < *n) return fm_error(FM_STATUS_BUFFER_TOO_SMALL, "%d end-of-generation ids", (int)tok->n_eog);
    if (*n) memcpy(out, tok->eog, *n * sizeof *out);
    return FM_STATUS_OK;
}

fm_status fm_tokenizer_find(const fm_tokenizer *tok, const char *text, size_t len, fm_token *id) {
    fm_error_clear();
    if (tok == NULL || (text == NULL && len > 0) || id == NULL)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_tokenizer_find: NULL argument");
    fm_token t = fm_vocab_lookup(tok, text ? text : "", len);
    if (t < 0) return fm_error(FM_STATUS_NOT_FOUND, "no token has the text '%.*s'", (int)(len > 64 ? 64 : len), text);
    *id = t;
    return FM_STATUS_OK;
}

/* A piece of the input: raw text to run the algorithm on, or a token cut out
 * by fm_tokenizer.splitters. */
typedef struct fragment {
    size_t off, len;
    fm_token token; /* -1 for raw text */
} fragment;

typedef struct fragments {
    fragment *v;
    size_t n, cap;
} fragments;

static int frag_push(fragments *f, fragment x) {
    if (f->n == f->cap) {
        fragment *v = fm_grow(f->v, &f->cap, f->n + 1, sizeof *v, 16);
        if (v == NULL) return 0;
        f->v = v;
    }
    f->v[f->n++] = x;
    return 1;
}

static const char *find_bytes(const char *hay, size_t n, const char *needle, size_t m) {
    if (m == 0 || m > n) return NULL;
    const char *end = hay + n - m + 1;
    for (const char *p = hay; p < end; p++) {
        p = memchr(p, needle[0], (size_t)(end - p));
        if (p == NULL) return NULL;
        if (memcmp(p, needle, m) == 0) return p;
    }
    return NULL;
}

/* The maximal runs (two bytes or more) of one byte in the whole text, found
 * once per call: vocabularies like GPT-NeoX's have a user-defined token for
 * every run of 2..24 spaces, and looking for each of those with memchr would
 * stop at every space of the text, once per token. */
typedef struct byte_runs {
    int byte; /* -1: not built */
    size_t n;
    size_t (*v)[2]; /* start, length */
} byte_runs;

static int build_runs(byte_runs *r, uint8_t c, const char *text, size_t len) {
    size_t cap = 0;
    r->byte = c;
    r->n = 0;
    for (const char *p = text, *end = text + len; p < end;) {
        p = memchr(p, c, (size_t)(end - p));
        if (p == NULL) break;
        const char *q = p + 1;
        while (q < end && *q == (char)c) q++;
        if (q - p >= 2) {
            if (r->n == cap) {
                size_t(*v)[2] = fm_grow(r->v, &cap, r->n + 1, sizeof *v, 64);
                if (v == NULL) return 0;
                r->v = v;
            }
            r->v[r->n][0] = (size_t)(p - text);
            r->v[r->n][1] = (size_t)(q - p);
            r->n++;
        }
        p = q;
    }
    return 1;
}

/* The first place in text[off, off+len) where m >= 2 bytes of the run byte
 * follow each other, or SIZE_MAX. One needle's searches come in increasing
 * off, so *cur (0 for the needle's first search) walks the runs once
 * instead of a binary search per fragment. */
static size_t find_in_runs(const byte_runs *r, size_t *cur, size_t off, size_t len, size_t m) {
    size_t lo = *cur;
    while (lo < r->n && r->v[lo][0] + r->v[lo][1] <= off) lo++; /* first run that ends after off */
    *cur = lo;
    for (size_t i = lo; i < r->n && r->v[i][0] < off + len; i++) {
        size_t a = r->v[i][0] > off ? r->v[i][0] : off;
        size_t e = r->v[i][0] + r->v[i][1] < off + len ? r->v[i][0] + r->v[i][1] : off + len;
        if (e - a >= m) return a;
    }
    return SIZE_MAX;
}

/* a needle of m >= 2 copies of one byte */
static int is_run_needle(const char *needle, size_t m) {
    if (m < 2) return 0;
    for (size_t k = 1; k < m; k++)
        if (needle[k] != needle[0]) return 0;
    return 1;
}

static int splitter_active(const fm_tokenizer *tok, fm_token id, int parse_special) {
    return parse_special || tok->tokens[id].type == FM_TT_USER_DEFINED;
}

/* Marks in `present` (one bit per splitter index) the active splitters that
 * occur anywhere in the text: one scan through the table of the tokens'
 * first two bytes. Returns how many do. */
static size_t find_present(const fm_tokenizer *tok, const uint8_t *s, size_t len, int parse_special,
                           uint64_t *present) {
    size_t n = 0, n_active = 0;
    for (int32_t i = 0; i < tok->n_splitters; i++) n_active += splitter_active(tok, tok->splitters[i], parse_special);
    /* buckets whose tokens are all found need no more looks */
    uint64_t *done = fm_calloc(65536 / 64, sizeof *done);
    if (done == NULL) { /* without the shortcut: say every token may occur */
        for (int32_t i = 0; i < tok->n_splitters; i++) present[i / 64] |= 1ull << (i % 64);
        return (size_t)tok->n_splitters;
    }
    for (size_t p = 0; p < len && n < n_active; p++) {
        if (!tok->sp_first[s[p]]) continue;
        for (int two = 0; two < 2; two++) {
            if (two && p + 1 >= len) break;
            const uint32_t b = two ? (uint32_t)s[p] << 8 | s[p + 1] : s[p];
            if (!(tok->sp_present[b / 64] >> (b % 64) & 1) || (done[b / 64] >> (b % 64) & 1)) continue;
            int missing = 0;
            for (uint32_t k = tok->sp_start[b]; k < tok->sp_start[b + 1]; k++) {
                const int32_t prio = tok->sp_items[k];
                const fm_token id = tok->splitters[prio];
                const uint32_t tl = tok->tokens[id].len;
                if ((present[prio / 64] >> (prio % 64) & 1) || (tl == 1) == two || !splitter_active(tok, id, parse_special))
                    continue;
                if (tl > len - p || memcmp(s + p, fm_vocab_text(tok, id), tl) != 0) {
                    missing = 1;
                    continue;
                }
                present[prio / 64] |= 1ull << (prio % 64);
                n++;
            }
            if (!missing) done[b / 64] |= 1ull << (b % 64);
        }
    }
    free(done);
    return n;
}

/* Cuts the text at the splitter tokens with llama.cpp's semantics: user-
 * defined tokens always, control and unknown ones only when parse_special;
 * the longest token first takes its leftmost non-overlapping occurrences in
 * every piece of text left, then the next one, and so on; whitespace next
 * to a token with lstrip/rstrip is dropped. Only tokens that occur at all
 * (find_present) cost a pass. */
static int partition(const fm_tokenizer *tok, const char *text, size_t len, fragments *f, int parse_special) {
    f->n = 0;
    if (len == 0) return 1;
    if (!frag_push(f, (fragment){0, len, -1})) return 0;
    if (tok->n_splitters == 0) return 1;
    if (!parse_special) { /* most vocabularies have no user-defined tokens */
        int any = 0;
        for (int32_t i = 0; i < tok->n_splitters && !any; i++) any = tok->tokens[tok->splitters[i]].type == FM_TT_USER_DEFINED;
        if (!any) return 1;
    }
    uint64_t *present = fm_calloc(((size_t)tok->n_splitters + 63) / 64, sizeof *present);
    if (present == NULL) return 0;
    if (find_present(tok, (const uint8_t *)text, len, parse_special, present) == 0) {
        free(present);
        return 1; /* the common case: plain text */
    }
    fragments g = {0};
    byte_runs runs[4] = {{-1, 0, NULL}, {-1, 0, NULL}, {-1, 0, NULL}, {-1, 0, NULL}};
    for (int32_t si = 0; si < tok->n_splitters; si++) {
        if (!(present[si / 64] >> (si % 64) & 1)) continue;
        const fm_token id = tok->splitters[si];
        const fm_vocab_token *tk = &tok->tokens[id];
        const char *needle = fm_vocab_text(tok, id);
        const byte_runs *rn = NULL;
        if (is_run_needle(needle, tk->len)) {
            for (int j = 0; j < 4 && rn == NULL; j++) {
                if (runs[j].byte == (uint8_t)needle[0]) rn = &runs[j];
                else if (runs[j].byte < 0) {
                    if (!build_runs(&runs[j], (uint8_t)needle[0], text, len)) goto oom;
                    rn = &runs[j];
                }
            }
        }
        g.n = 0;
        size_t cur = 0; /* find_in_runs' place in rn */
        for (size_t i = 0; i < f->n; i++) {
            fragment raw = f->v[i];
            if (raw.token >= 0) {
                if (!frag_push(&g, raw)) goto oom;
                continue;
            }
            for (;;) {
                const char *base = text + raw.off;
                const char *hit;
                if (rn != NULL) {
                    size_t at = find_in_runs(rn, &cur, raw.off, raw.len, tk->len);
                    hit = at == SIZE_MAX ? NULL : text + at;
                } else {
                    hit = find_bytes(base, raw.len, needle, tk->len);
                }
                if (hit == NULL) {
                    if (raw.len > 0 && !frag_push(&g, raw)) goto oom;
                    break;
                }
                size_t left = (size_t)(hit - base);
                size_t right_off = raw.off + left + tk->len;
                size_t right_len = raw.len - left - tk->len;
                if (tk->lstrip)
                    while (left > 0 && isspace((unsigned char)base[left - 1])) left--;
                if (tk->rstrip)
                    while (right_len > 0 && isspace((unsigned char)text[right_off])) right_off++, right_len--;
                if (left > 0 && !frag_push(&g, (fragment){raw.off, left, -1})) goto oom;
                if (!frag_push(&g, (fragment){0, 0, id})) goto oom;
                raw = (fragment){right_off, right_len, -1};
            }
        }
        fragments t = *f;
        *f = g;
        g = t;
    }
    for (int j = 0; j < 4; j++) free(runs[j].v);
    free(g.v);
    free(present);
    return 1;
oom:
    for (int j = 0; j < 4; j++) free(runs[j].v);
    free(g.v);
    free(present);
    return 0;
}


/* Runs SentencePiece on one raw fragment, with spaces escaped to U+2581 and
 * the dummy prefix space where SentencePiece puts one. */
static fm_status encode_spm_fragment(const fm_tokenizer *tok, const char *s, size_t len, int prefix,
                                     fm_piece_cache *cache, fm_token *out, size_t cap, size_t *n) {
    size_t spaces = prefix ? 1 : 0;
    for (size_t i = 0; i < len; i++) spaces += s[i] == ' ';
    char *buf = fm_malloc(len + 2 * spaces + 1);
    if (buf == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory tokenizing %zu bytes", len);
    size_t bl = 0;
    if (prefix) memcpy(buf, "\xE2\x96\x81", 3), bl = 3;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ') memcpy(buf + bl, "\xE2\x96\x81", 3), bl += 3;
        else buf[bl++] = s[i];
    }
    fm_status st = fm_spm_encode(tok, buf, bl, cache, out, cap, n);
    free(buf);
    return st;
}

static void push_token(fm_token id, fm_token *out, size_t cap, size_t *n) {
    if (*n < cap) out[*n] = id;
    (*n)++;
}

/* On text in other scripts, pieces are taken from the pre-tokenizer in
 * batches, so that the memo slots of a whole batch are requested before
 * the first is read: such text has many distinct pieces, its memo
 * outgrows L2, and the misses then overlap instead of queueing one behind
 * the other. English and code have fewer, hot pieces that stay in cache,
 * and there a batch only costs (-5 % on 5 MB of English). */
#define PIECE_BATCH 16
#define BATCH_MEMO_SLOTS 32768 /* 512 KB; a smaller memo mostly hits in L2 */

typedef struct piece_ref {
    size_t off, len;
    fm_piece_key key;
} piece_ref;

typedef struct bpe_ctx {
    const fm_tokenizer *tok;
    const uint8_t *base;
    fm_bpe_scratch **scratch;
    size_t text_len;
    fm_piece_cache *cache;
    fm_token *out;
    size_t cap, *n;
    fm_status status;
    unsigned n_batch;
    piece_ref batch[PIECE_BATCH];
} bpe_ctx;

/* Inlined into both ways of taking pieces: for most pieces this is a memo
 * probe, and a call would be a good part of it. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline int bpe_piece(bpe_ctx *c, size_t off, size_t len, fm_piece_key *key) {
    const char *p = (const char *)c->base + off;
    if (len == 1) { /* a byte is its token (or nothing): no memo needed */
        const fm_token id = c->tok->byte_token[(uint8_t)*p];
        if (id >= 0) push_token(id, c->out, c->cap, c->n);
        return 1;
    }
    uint32_t n_hit;
    const fm_token *hit = fm_piece_cache_get(c->cache, p, len, key, &n_hit);
    if (hit != NULL) {
        for (uint32_t i = 0; i < n_hit; i++) push_token(hit[i], c->out, c->cap, c->n);
        return 1;
    }
    if (c->cache->slots == NULL || len > FM_PIECE_CACHE_KEY) {
        c->status = fm_bpe_encode(c->tok, c->base + off, len, key->head, key->hash, c->scratch, c->text_len, c->out,
                                  c->cap, c->n);
        return c->status == FM_STATUS_OK;
    }
    /* a short piece encodes to at most one id per byte */
    fm_token ids[FM_PIECE_CACHE_KEY];
    size_t k = 0;
    c->status = fm_bpe_encode(c->tok, c->base + off, len, key->head, key->hash, c->scratch, c->text_len, ids,
                              FM_PIECE_CACHE_KEY, &k);
    if (c->status != FM_STATUS_OK) return 0;
    fm_piece_cache_put(c->cache, p, len, key, ids, k);
    for (size_t i = 0; i < k; i++) push_token(ids[i], c->out, c->cap, c->n);
    return 1;
}

static int bpe_flush(bpe_ctx *c) {
    const unsigned nb = c->n_batch;
    c->n_batch = 0;
    for (unsigned i = 0; i < nb; i++)
        if (!bpe_piece(c, c->batch[i].off, c->batch[i].len, &c->batch[i].key)) return 0;
    return 1;
}

static int bpe_collect(void *user, size_t off, size_t len) {
    bpe_ctx *c = user;
    piece_ref *r = &c->batch[c->n_batch++];
    r->off = off;
    r->len = len;
    if (len > 1) {
        r->key = fm_piece_key_of((const char *)c->base + off, len);
#if defined(__GNUC__)
        if (c->cache->slots != NULL) __builtin_prefetch(&c->cache->slots[(uint32_t)r->key.hash & c->cache->mask]);
#endif
    }
    return c->n_batch < PIECE_BATCH || bpe_flush(c);
}

static int bpe_direct(void *user, size_t off, size_t len) {
    bpe_ctx *c = user;
    fm_piece_key key = {0, 0, NULL}; /* a single byte needs none */
    if (len > 1) key = fm_piece_key_of((const char *)c->base + off, len);
    return bpe_piece(c, off, len, &key);
}

/* Byte-level BPE: pre-tokenize, then BPE each piece. */
static fm_status encode_bpe_fragment(const fm_tokenizer *tok, const char *s, size_t len, fm_bpe_scratch **scratch,
                                     size_t text_len, fm_piece_cache *cache, fm_token *out, size_t cap, size_t *n) {
    bpe_ctx c = {tok, (const uint8_t *)s, scratch, text_len, cache, out, cap, n, FM_STATUS_OK, 0, {{0}}};
    if (cache->slots == NULL || !cache->many_pieces || cache->mask < BATCH_MEMO_SLOTS - 1) {
        fm_pretok_split(tok->pretok, (const uint8_t *)s, len, bpe_direct, &c);
        return c.status;
    }
    if (fm_pretok_split(tok->pretok, (const uint8_t *)s, len, bpe_collect, &c)) bpe_flush(&c);
    return c.status;
}

fm_status fm_tokenizer_encode(const fm_tokenizer *tok, const char *text, size_t len, uint32_t flags,
                              fm_token *out, size_t capacity, size_t *n_tokens) {
    fm_error_clear();
    if (tok == NULL || n_tokens == NULL || (text == NULL && len > 0) || (out == NULL && capacity > 0))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_tokenizer_encode: NULL argument");
    if (flags & ~(FM_ENCODE_ADD_BOS | FM_ENCODE_ADD_EOS | FM_ENCODE_PARSE_SPECIAL | FM_ENCODE_ADD_SPECIAL_AUTO |
                  FM_ENCODE_CONTINUE))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_tokenizer_encode: unknown flags 0x%x", flags);
    if (text == NULL) text = "";
    if (tok->kind == FM_TOKENIZER_SPM) {
        /* byte-level BPE encodes any bytes and WordPiece drops malformed
         * ones; SentencePiece works on characters and refuses */
        size_t bad = fm_utf8_validate((const uint8_t *)text, len);
        if (bad != len)
            return fm_error(FM_STATUS_INVALID_UTF8, "text is not valid UTF-8 at byte %zu (0x%02X)", bad,
                            (uint8_t)text[bad]);
    }
    int add_bos = (flags & FM_ENCODE_ADD_BOS) != 0, add_eos = (flags & FM_ENCODE_ADD_EOS) != 0;
    if (flags & FM_ENCODE_ADD_SPECIAL_AUTO) add_bos = tok->add_bos, add_eos = tok->add_eos;

    fragments f = {0};
    if (!partition(tok, text, len, &f, (flags & FM_ENCODE_PARSE_SPECIAL) != 0)) goto oom;

    size_t n = 0;
    fm_status s = FM_STATUS_OK;
    fm_bpe_scratch *scratch = NULL;
    fm_piece_cache cache;
    fm_piece_cache_init(&cache, text, len);
    if (add_bos && tok->special[FM_SPECIAL_BOS] >= 0) push_token(tok->special[FM_SPECIAL_BOS], out, capacity, &n);
    /* the start counts as following a token, unless it continues text */
    int after_token = (flags & FM_ENCODE_CONTINUE) == 0;
    for (size_t i = 0; i < f.n && s == FM_STATUS_OK; i++) {
        if (f.v[i].token >= 0) {
            push_token(f.v[i].token, out, capacity, &n);
            after_token = 1;
            continue;
        }
        const char *frag = text + f.v[i].off;
        const size_t flen = f.v[i].len;
        if (tok->kind == FM_TOKENIZER_SPM)
            s = encode_spm_fragment(tok, frag, flen, tok->add_space_prefix && after_token, &cache, out, capacity, &n);
        else if (tok->kind == FM_TOKENIZER_WPM)
            s = fm_wpm_encode(tok, frag, flen, out, capacity, &n);
        else
            s = encode_bpe_fragment(tok, frag, flen, &scratch, len, &cache, out, capacity, &n);
        after_token = 0;
    }
    free(f.v);
    fm_bpe_scratch_free(scratch);
    fm_piece_cache_free(&cache);
    if (s) return s;
    /* BERT ends with [SEP] */
    const fm_token eos = tok->kind == FM_TOKENIZER_WPM ? tok->special[FM_SPECIAL_SEP] : tok->special[FM_SPECIAL_EOS];
    if (add_eos && eos >= 0) push_token(eos, out, capacity, &n);
    *n_tokens = n;
    if (n > capacity)
        return fm_error(FM_STATUS_BUFFER_TOO_SMALL, "%zu tokens do not fit in a buffer of %zu", n, capacity);
    return FM_STATUS_OK;
oom:
    free(f.v);
    return fm_error(FM_STATUS_NO_MEMORY, "out of memory tokenizing %zu bytes", len);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Appends the piece of `id` (unescaped) to `o`. */
void fm_tokenizer_piece(const fm_tokenizer *tok, fm_token id, uint32_t flags, fm_sink *o) {
    const fm_vocab_token *tk = &tok->tokens[id];
    const char *s = fm_vocab_text(tok, id);
    if (tok->kind == FM_TOKENIZER_BPE) {
        /* raw bytes for normal tokens; specials as written */
        if (tk->type == FM_TT_NORMAL) fm_sink_write(o, tok->bytes + tk->boff, tk->blen);
        else if (tk->type == FM_TT_USER_DEFINED || ((flags & FM_DECODE_RENDER_SPECIAL) && (tk->type == FM_TT_CONTROL || tk->type == FM_TT_UNKNOWN)))
            fm_sink_write(o, s, tk->len);
        return;
    }
    switch (tk->type) {
    case FM_TT_BYTE:
        if (tk->len == 6 && hexval(s[3]) >= 0 && hexval(s[4]) >= 0) fm_sink_put(o, (char)(hexval(s[3]) * 16 + hexval(s[4])));
        return;
    case FM_TT_CONTROL:
    case FM_TT_UNKNOWN:
        if (flags & FM_DECODE_RENDER_SPECIAL) fm_sink_write(o, s, tk->len);
        return;
    case FM_TT_USER_DEFINED:
        fm_sink_write(o, s, tk->len);
        return;
    case FM_TT_NORMAL:
        break;
    default: /* unused and undefined tokens have no text, as in llama.cpp */
        return;
    }
    /* SentencePiece and WordPiece: U+2581 stands for a space */
    for (uint32_t i = 0; i < tk->len;) {
        if (i + 3 <= tk->len && memcmp(s + i, "\xE2\x96\x81", 3) == 0) {
            fm_sink_put(o, ' ');
            i += 3;
        } else {
            fm_sink_put(o, s[i++]);
        }
    }
}

int fm_tokenizer_piece_lead(const fm_tokenizer *tok, fm_token id, uint32_t flags) {
    char c;
    fm_sink o = {&c, 1, 0, 0};
    fm_tokenizer_piece(tok, id, flags, &o);
    if (o.n == 0) return 0;
    return tok->strip_space && c == ' ' ? 2 : 1;
}

fm_status fm_tokenizer_token_to_piece(const fm_tokenizer *tok, fm_token id, uint32_t flags, char *buf,
                                      size_t capacity, size_t *n_bytes) {
    fm_error_clear();
    if (tok == NULL || n_bytes == NULL || (buf == NULL && capacity > 0))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_tokenizer_token_to_piece: NULL argument");
    if (id < 0 || id >= tok->n_vocab)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "token id %d is outside the vocabulary (0..%d)", id,
                        tok->n_vocab - 1);
    fm_sink o = {buf, capacity, 0, 0};
    fm_tokenizer_piece(tok, id, flags, &o);
    size_t n = o.n;
    *n_bytes = n;
    if (n > capacity) return fm_error(FM_STATUS_BUFFER_TOO_SMALL, "piece of %zu bytes does not fit in %zu", n, capacity);
    return FM_STATUS_OK;
}

fm_status fm_tokenizer_decode(const fm_tokenizer *tok, const fm_token *ids, size_t n, uint32_t flags, char *buf,
                              size_t capacity, size_t *n_bytes) {
    fm_error_clear();
    if (tok == NULL || n_bytes == NULL || (ids == NULL && n > 0) || (buf == NULL && capacity > 0))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_tokenizer_decode: NULL argument");
    fm_sink o = {buf, capacity, 0, 0};
    int at_start = (flags & FM_DECODE_STRIP_LEADING_SPACE) != 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= tok->n_vocab)
            return fm_error(FM_STATUS_INVALID_ARGUMENT, "token id %d at index %zu is outside the vocabulary", ids[i], i);
        if (at_start) {
            int lead = fm_tokenizer_piece_lead(tok, ids[i], flags);
            if (lead == 2) o.skip = 1;
            if (lead) at_start = 0;
        }
        fm_tokenizer_piece(tok, ids[i], flags, &o);
    }
    size_t total = o.n;
    *n_bytes = total;
    if (total > capacity)
        return fm_error(FM_STATUS_BUFFER_TOO_SMALL, "text of %zu bytes does not fit in %zu", total, capacity);
    return FM_STATUS_OK;
}
