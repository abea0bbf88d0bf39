/* Byte-level BPE vocabularies: from GGUF (tokenizer.ggml.model "gpt2": tokens
 * spelled with GPT-2's byte-to-character map, plus a merges list) and from
 * tiktoken's .tiktoken files (base64 bytes and rank per line). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/mapped_file.h"
#include "../core/utf8.h"
#include "pretok.h"
#include "unicode.h"
#include "vocab.h"

/* GPT-2 spells byte b as character b where b is printable Latin-1
 * ('!'..'~', '¡'..'¬', '®'..'ÿ') and as U+0100 + n for the n-th other byte. */
static int printable(int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255); }

static uint32_t byte_to_cp(int b) {
    if (printable(b)) return (uint32_t)b;
    int n = 0;
    for (int i = 0; i < b; i++) n += !printable(i);
    return 256u + (uint32_t)n;
}

/* Inverse of byte_to_cp, -1 for a character that stands for no byte. */
static int cp_to_byte(uint32_t cp) {
    if (cp < 256) return printable((int)cp) ? (int)cp : -1;
    if (cp >= 256 + 68) return -1;
    int n = (int)(cp - 256);
    for (int b = 0; b < 256; b++)
        if (!printable(b) && n-- == 0) return b;
    return -1;
}

static int is_special_type(uint8_t t) { return t == FM_TT_CONTROL || t == FM_TT_USER_DEFINED || t == FM_TT_UNKNOWN; }

static fm_status alloc_bytes(fm_tokenizer *t, size_t size) {
    t->bytes = fm_malloc(size ? size : 1);
    return t->bytes ? FM_STATUS_OK : fm_error(FM_STATUS_NO_MEMORY, "out of memory for the vocabulary");
}

/* Fills boff/blen: the raw bytes of normal tokens decoded from GPT-2
 * spelling, special tokens as written. */
static fm_status decode_gpt2_spelling(fm_tokenizer *t) {
    size_t total = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) total += t->tokens[i].len;
    fm_status s = alloc_bytes(t, total);
    if (s) return s;
    size_t used = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        fm_vocab_token *tk = &t->tokens[i];
        const uint8_t *src = (const uint8_t *)fm_vocab_text(t, i);
        tk->boff = (uint32_t)used;
        if (is_special_type(tk->type)) {
            memcpy(t->bytes + used, src, tk->len);
            tk->blen = tk->len;
            used += tk->len;
            continue;
        }
        size_t n = 0;
        int ok = 1;
        for (uint32_t p = 0; p < tk->len && ok;) {
            uint32_t cp;
            p += (uint32_t)fm_uc_decode(src + p, tk->len - p, &cp);
            int b = cp_to_byte(cp);
            if (b < 0) ok = 0;
            else t->bytes[used + n++] = (char)b;
        }
        tk->blen = ok ? (uint32_t)n : 0; /* a token no byte string spells is never produced */
        used += n;
    }
    return FM_STATUS_OK;
}

/* tokenizer.ggml.merges: "left right" per entry, rank = index; the first
 * entry of a pair wins. */
static fm_status read_merges(fm_tokenizer *t, const fm_model_file *mf, const char *path) {
    const fm_meta *m = fm_model_file_meta(mf, "tokenizer.ggml.merges");
    if (m == NULL || m->type != FM_META_ARRAY || m->elem_type != FM_META_STRING)
        return fm_error(FM_STATUS_BAD_FORMAT, "'%s': tokenizer.ggml.merges is missing or not a string array", path);
    if (m->n > FM_MAX_RANKS)
        return fm_error(FM_STATUS_BAD_FORMAT, "'%s': %llu merges, more than the %d supported", path,
                        (unsigned long long)m->n, FM_MAX_RANKS);
    uint32_t size = 16;
    while (size < m->n * 2) size <<= 1;
    t->merges = fm_alloc_table(size * sizeof *t->merges);
    t->merge_by_rank = fm_malloc((m->n ? m->n : 1) * sizeof *t->merge_by_rank);
    t->n_ranks = (int32_t)m->n;
    uint32_t words = 64;
    while ((uint64_t)words * 64 < m->n * 8) words <<= 1; /* about 8 bits per merge */
    t->merge_filter = fm_calloc(words, sizeof *t->merge_filter);
    t->merge_fmask = words - 1;
    char *buf = fm_malloc(t->max_token_len * 2 + 8);
    if (t->merges == NULL || t->merge_by_rank == NULL || t->merge_filter == NULL || buf == NULL) {
        free(buf);
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory for %llu merges", (unsigned long long)m->n);
    }
    for (uint32_t i = 0; i < size; i++) t->merges[i].key = UINT64_MAX;
    t->merges_mask = size - 1;
    for (uint64_t i = 0; i < m->n; i++) {
        fm_str e = m->strs[i];
        t->merge_by_rank[i] = (fm_merge){UINT64_MAX, (int32_t)i, -1};
        const char *sp = e.len > 1 ? memchr(e.ptr + 1, ' ', e.len - 1) : NULL;
        if (sp == NULL) continue;
        size_t ll = (size_t)(sp - e.ptr), rl = e.len - ll - 1;
        fm_token l = fm_vocab_lookup(t, e.ptr, ll), r = fm_vocab_lookup(t, sp + 1, rl);
        if (l < 0 || r < 0 || ll + rl > t->max_token_len) continue;
        memcpy(buf, e.ptr, ll);
        memcpy(buf + ll, sp + 1, rl);
        fm_token merged = fm_vocab_lookup(t, buf, ll + rl);
        if (merged < 0) continue; /* a merge into no token can never be output */
        const uint64_t key = (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
        const uint64_t hash = fm_merge_hash(key);
        uint32_t h = (uint32_t)hash & t->merges_mask;
        while (t->merges[h].key != UINT64_MAX && t->merges[h].key != key) h = (h + 1) & t->merges_mask;
        if (t->merges[h].key == key) continue;
        t->merges[h] = (fm_merge){key, (int32_t)i, merged};
        t->merge_filter[(hash >> 32) & t->merge_fmask] |= fm_merge_filter_bits(hash);
        t->merge_by_rank[i] = t->merges[h];
    }
    free(buf);
    return FM_STATUS_OK;
}

/* Index raw bytes of the tokens BPE may produce (not special ones). */
static fm_status index_bytes(fm_tokenizer *t) {
    uint32_t *saved = fm_malloc((size_t)t->n_vocab * sizeof *saved);
    if (saved == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the vocabulary");
    for (int32_t i = 0; i < t->n_vocab; i++) {
        saved[i] = t->tokens[i].blen;
        if (is_special_type(t->tokens[i].type)) t->tokens[i].blen = 0;
    }
    fm_status s = fm_vocab_index_bytes(t);
    for (int32_t i = 0; i < t->n_vocab; i++) t->tokens[i].blen = saved[i];
    free(saved);
    return s;
}

fm_status fm_tokenizer_bpe_from_model_file(const fm_model_file *mf, const char *path, fm_tokenizer **out) {
    *out = NULL;
    fm_str pre = {"default", 7};
    fm_status s = fm_meta_get_str(mf, "tokenizer.ggml.pre", &pre);
    if (s != FM_STATUS_OK && s != FM_STATUS_NOT_FOUND) return s;
    const fm_pretok *pt = fm_pretok_find(pre.ptr, pre.len);
    if (pt == NULL)
        return fm_error(FM_STATUS_UNSUPPORTED, "'%s': pre-tokenizer '%.*s' is not supported", path, (int)pre.len,
                        pre.ptr);
    fm_tokenizer *t;
    if ((s = fm_vocab_read_gguf_tokens(mf, path, FM_TOKENIZER_BPE, &t))) return s;
    t->pretok = pt;
    static const fm_token bpe_defaults[7] = {11, 11, FM_TOKEN_NONE, FM_TOKEN_NONE, FM_TOKEN_NONE, FM_TOKEN_NONE,
                                             FM_TOKEN_NONE};
    t->add_bos = 0;
    t->add_eos = 0;
    fm_vocab_read_gguf_specials(t, mf, bpe_defaults);
    t->add_space_prefix = 0;
    t->strip_space = 0;
    if ((s = decode_gpt2_spelling(t)) || (s = index_bytes(t)) || (s = read_merges(t, mf, path))) goto fail;
    for (int b = 0; b < 256; b++) {
        char spelled[4];
        uint32_t cp = byte_to_cp(b);
        size_t n = cp < 0x80 ? 1 : 2;
        if (n == 1) spelled[0] = (char)cp;
        else spelled[0] = (char)(0xC0 | (cp >> 6)), spelled[1] = (char)(0x80 | (cp & 0x3F));
        t->byte_token[b] = fm_vocab_lookup(t, spelled, n);
    }
    /* llama-3 style vocabularies take a piece that is a token as is
     * (llama.cpp's ignore_merges); the others only where BPE agrees. */
    if ((s = fm_bpe_index_byte_pairs(t)) || (!pt->whole_pieces && (s = fm_bpe_mark_whole(t))) ||
        (s = fm_vocab_mark_eog(t, mf)))
        goto fail;
    *out = t;
    return FM_STATUS_OK;
fail:
    fm_tokenizer_free(t);
    return s;
}

/* ---- tiktoken ------------------------------------------------------------ */

typedef struct tiktoken_spec {
    const char *name;
    int32_t n_ranks; /* lines in the file */
    const char *pre;
    struct {
        const char *text;
        fm_token id;
    } specials[5];
} tiktoken_spec;

static const tiktoken_spec encodings[] = {
    {"r50k_base", 50256, "r50k_base", {{"<|endoftext|>", 50256}}},
    {"p50k_base", 50280, "p50k_base", {{"<|endoftext|>", 50256}}},
    {"cl100k_base", 100256, "cl100k_base",
     {{"<|endoftext|>", 100257}, {"<|fim_prefix|>", 100258}, {"<|fim_middle|>", 100259}, {"<|fim_suffix|>", 100260},
      {"<|endofprompt|>", 100276}}},
    {"o200k_base", 199998, "o200k_base", {{"<|endoftext|>", 199999}, {"<|endofprompt|>", 200018}}},
};

/* base64 digit values; 64 marks '=', 0xFF anything else */
static const uint8_t b64[256] = {
    ['A'] = 0,  ['B'] = 1,  ['C'] = 2,  ['D'] = 3,  ['E'] = 4,  ['F'] = 5,  ['G'] = 6,  ['H'] = 7,
    ['I'] = 8,  ['J'] = 9,  ['K'] = 10, ['L'] = 11, ['M'] = 12, ['N'] = 13, ['O'] = 14, ['P'] = 15,
    ['Q'] = 16, ['R'] = 17, ['S'] = 18, ['T'] = 19, ['U'] = 20, ['V'] = 21, ['W'] = 22, ['X'] = 23,
    ['Y'] = 24, ['Z'] = 25, ['a'] = 26, ['b'] = 27, ['c'] = 28, ['d'] = 29, ['e'] = 30, ['f'] = 31,
    ['g'] = 32, ['h'] = 33, ['i'] = 34, ['j'] = 35, ['k'] = 36, ['l'] = 37, ['m'] = 38, ['n'] = 39,
    ['o'] = 40, ['p'] = 41, ['q'] = 42, ['r'] = 43, ['s'] = 44, ['t'] = 45, ['u'] = 46, ['v'] = 47,
    ['w'] = 48, ['x'] = 49, ['y'] = 50, ['z'] = 51, ['0'] = 52, ['1'] = 53, ['2'] = 54, ['3'] = 55,
    ['4'] = 56, ['5'] = 57, ['6'] = 58, ['7'] = 59, ['8'] = 60, ['9'] = 61, ['+'] = 62, ['/'] = 63,
    ['='] = 64,
};

/* 0 is a valid digit ('A'), so the table also needs to know which bytes are digits */
static int b64val(uint8_t c) {
    if (c == 'A') return 0;
    return b64[c] == 0 ? -1 : b64[c] == 64 ? -2 : b64[c];
}

/* Decodes padded base64 s[0..n) into out; returns the length or -1. */
static long b64decode(const uint8_t *s, size_t n, uint8_t *out) {
    if (n == 0 || n % 4 != 0) return -1;
    long o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            v[k] = b64val(s[i + k]);
            if (v[k] == -2 && i + 4 == n && k >= 2) v[k] = 0; /* padding */
        }
        if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0) return -1;
        uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[o++] = (uint8_t)(x >> 16);
        if (s[i + 2] != '=') out[o++] = (uint8_t)(x >> 8);
        if (s[i + 3] != '=') out[o++] = (uint8_t)x;
    }
    return o;
}

static const tiktoken_spec *spec_for(const char *path, long n_lines) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t i = 0; i < sizeof encodings / sizeof encodings[0]; i++)
        if (strncmp(base, encodings[i].name, strlen(encodings[i].name)) == 0) return &encodings[i];
    for (size_t i = 0; i < sizeof encodings / sizeof encodings[0]; i++)
        if (encodings[i].n_ranks == n_lines) return &encodings[i];
    return NULL;
}

fm_status fm_tokenizer_from_tiktoken(const char *path, fm_tokenizer **out) {
    *out = NULL;
    fm_mapped_file map;
    fm_status s = fm_mapped_file_open(&map, path);
    if (s) return s;
    const uint8_t *p = map.data, *end = map.data + map.size;
    long n_lines = 0;
    int32_t max_rank = -1;
    /* first pass: check every line and find the largest rank */
    for (const uint8_t *q = p; q < end; n_lines++) {
        const uint8_t *nl = memchr(q, '\n', (size_t)(end - q));
        const uint8_t *le = nl ? nl : end;
        const uint8_t *sp = memchr(q, ' ', (size_t)(le - q));
        long rank = 0;
        const uint8_t *r = sp ? sp + 1 : le;
        if (sp == NULL || sp == q || (size_t)(sp - q) % 4 != 0 || r == le) goto bad_line;
        for (; r < le; r++) {
            if (*r < '0' || *r > '9' || rank > 100000000) goto bad_line;
            rank = rank * 10 + (*r - '0');
        }
        if (rank > max_rank) max_rank = (int32_t)rank;
        q = nl ? nl + 1 : end;
        continue;
    bad_line:
        fm_mapped_file_close(&map);
        return fm_error(FM_STATUS_BAD_FORMAT, "'%s' line %ld is not 'base64 rank'", path, n_lines + 1);
    }
    const tiktoken_spec *spec = spec_for(path, n_lines);
    if (spec == NULL) {
        fm_mapped_file_close(&map);
        return fm_error(FM_STATUS_UNSUPPORTED,
                        "'%s': unknown tiktoken encoding (name the file r50k_base, p50k_base, cl100k_base or o200k_base)",
                        path);
    }
    /* Ranks are 0 .. lines-1 in real files: a rank far past the line count
     * would make the vocabulary (and its memory) as large as the number
     * claims, not as the file is, so the table is bounded by the lines. */
    if (max_rank >= n_lines + 1024) {
        fm_mapped_file_close(&map);
        return fm_error(FM_STATUS_BAD_FORMAT, "'%s': rank %ld with only %ld lines (ranks must be 0 .. lines-1)", path,
                        (long)max_rank, n_lines);
    }
    int32_t n_vocab = max_rank + 1;
    for (int i = 0; i < 5 && spec->specials[i].text; i++)
        if (spec->specials[i].id + 1 > n_vocab) n_vocab = spec->specials[i].id + 1;

    fm_vocab_builder b;
    s = fm_vocab_begin(&b, n_vocab);
    uint8_t *tmp = fm_malloc(map.size > 64 ? 64 + 1024 : 1088);
    int8_t *seen = fm_calloc((size_t)n_vocab, 1);
    if (s == FM_STATUS_OK && (tmp == NULL || seen == NULL)) s = fm_error(FM_STATUS_NO_MEMORY, "out of memory");
    long line = 0;
    for (const uint8_t *q = p; s == FM_STATUS_OK && q < end; line++) {
        const uint8_t *nl = memchr(q, '\n', (size_t)(end - q));
        const uint8_t *le = nl ? nl : end;
        const uint8_t *sp = memchr(q, ' ', (size_t)(le - q));
        long rank = 0;
        for (const uint8_t *r = sp + 1; r < le; r++) rank = rank * 10 + (*r - '0');
        long n = (size_t)(sp - q) <= 1024 ? b64decode(q, (size_t)(sp - q), tmp) : -1;
        if (n <= 0) s = fm_error(FM_STATUS_BAD_FORMAT, "'%s' line %ld has bad base64", path, line + 1);
        else if (seen[rank]) s = fm_error(FM_STATUS_BAD_FORMAT, "'%s' line %ld repeats rank %ld", path, line + 1, rank);
        else s = fm_vocab_set(&b, (int32_t)rank, (const char *)tmp, (size_t)n, 0.0f, FM_TT_NORMAL);
        if (s == FM_STATUS_OK) seen[rank] = 1;
        q = nl ? nl + 1 : end;
    }
    for (int i = 0; s == FM_STATUS_OK && i < 5 && spec->specials[i].text; i++) {
        fm_token id = spec->specials[i].id;
        if (seen[id]) s = fm_error(FM_STATUS_BAD_FORMAT, "'%s': rank %d is a special token's id", path, id);
        else s = fm_vocab_set(&b, id, spec->specials[i].text, strlen(spec->specials[i].text), 0.0f, FM_TT_CONTROL);
        if (s == FM_STATUS_OK) seen[id] = 1;
    }
    for (int32_t id = 0; s == FM_STATUS_OK && id < n_vocab; id++)
        if (!seen[id]) s = fm_vocab_set(&b, id, "", 0, 0.0f, FM_TT_UNUSED); /* ids no text maps to */
    free(tmp);
    free(seen);
    fm_mapped_file_close(&map);
    if (s == FM_STATUS_OK) s = fm_vocab_finish(&b);
    fm_tokenizer *t = b.tok;
    if (s == FM_STATUS_OK) {
        t->kind = FM_TOKENIZER_BPE;
        t->pretok = fm_pretok_find(spec->pre, strlen(spec->pre));
        /* raw bytes are the spelling: share the text and its index. The
         * index also holds the special tokens' texts, which BPE never
         * meets: the pre-tokenizer cuts "<|...|>" into several pieces. */
        for (int32_t i = 0; i < n_vocab; i++) t->tokens[i].boff = t->tokens[i].off, t->tokens[i].blen = t->tokens[i].len;
        t->bytes = t->text;
        t->by_bytes = t->by_text;
        t->by_bytes_shared = 1;
    }
    if (s != FM_STATUS_OK) {
        fm_tokenizer_free(t);
        return s;
    }
    for (int bb = 0; bb < 256; bb++) {
        char c = (char)bb;
        t->byte_token[bb] = fm_vocab_lookup_bytes(t, &c, 1);
    }
    t->special[FM_SPECIAL_EOS] = spec->specials[0].id;
    t->special[FM_SPECIAL_BOS] = spec->specials[0].id;
    if ((s = fm_bpe_index_byte_pairs(t)) != FM_STATUS_OK || (s = fm_vocab_mark_eog(t, NULL)) != FM_STATUS_OK) {
        fm_tokenizer_free(t);
        return s;
    }
    *out = t;
    return FM_STATUS_OK;
}
