/* WordPiece as llama.cpp runs it for BERT vocabularies (the reference for
 * bert-bge): each character is replaced by the first code point of its
 * canonical decomposition and lower-cased; NUL, U+FFFD and control
 * characters are dropped; words end at whitespace, and punctuation, ASCII
 * symbols and CJK ideographs are words of their own. Each word, prefixed
 * with U+2581, is cut greedily into the longest vocabulary pieces; if any
 * part fails the whole word is [UNK]. Unlike Hugging Face's BERT there is
 * no accent stripping of decomposed input and no word-length limit. */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/utf8.h"
#include "unicode.h"
#include "vocab.h"

static int is_chinese(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) ||
           (cp >= 0x2B920 && cp <= 0x2CEAF) || /* sic: as Hugging Face's code has it */
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

static size_t put_utf8(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static void emit(fm_token id, fm_token *out, size_t cap, size_t *n) {
    if (*n < cap) out[*n] = id;
    (*n)++;
}

/* Greedy longest-match of "▁" + word (word at w[3..len), w[0..3) = U+2581).
 * The longest token at i is found by extending s[i..j) while it is still a
 * prefix of some token (wpm_prefix), remembering the last that is a token:
 * the same answer as trying every length from the longest down, in time
 * linear in the match. */
static void encode_word(const fm_tokenizer *tok, const char *w, size_t len, fm_token *out, size_t cap, size_t *n) {
    const size_t start = *n;
    for (size_t i = 0; i < len;) {
        fm_token id = -1;
        size_t j = i, best = i;
        while (j < len && j - i < tok->max_token_len) {
            j += fm_utf8_lead_len((uint8_t)w[j]);
            if (j > len) break;
            const int32_t r = fm_strmap_get(&tok->wpm_prefix, w + i, j - i);
            if (r < 0) break;
            if (tok->wpm_prefix_tok[r] >= 0) id = tok->wpm_prefix_tok[r], best = j;
        }
        j = best;
        if (id < 0) {
            *n = start; /* the whole word becomes [UNK] */
            emit(tok->special[FM_SPECIAL_UNK], out, cap, n);
            return;
        }
        emit(id, out, cap, n);
        i = j;
    }
}

fm_status fm_wpm_encode(const fm_tokenizer *tok, const char *text, size_t len, fm_token *out, size_t cap,
                        size_t *n) {
    /* a word is at most the text, lower-cased characters at most 4 bytes,
     * plus the 3-byte U+2581 */
    char *w = fm_malloc(len * 4 + 8);
    if (w == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory tokenizing %zu bytes", len);
    memcpy(w, "\xE2\x96\x81", 3);
    size_t wl = 3;
    const uint8_t *s = (const uint8_t *)text;
    for (size_t p = 0; p < len;) {
        uint32_t cp;
        p += fm_uc_decode(s + p, len - p, &cp);
        cp = fm_uc_nfd_first(cp);
        const uint16_t cls = fm_uc_class(cp);
        if (cls & FM_UC_WS) {
            if (wl > 3) encode_word(tok, w, wl, out, cap, n);
            wl = 3;
            continue;
        }
        if (cp == 0 || cp == 0xFFFD || (cls & FM_UC_C)) continue;
        const uint32_t lower = fm_uc_tolower(cp);
        if ((cls & FM_UC_P) || (cp < 0x7F && (cls & FM_UC_S)) || is_chinese(cp)) {
            if (wl > 3) encode_word(tok, w, wl, out, cap, n);
            wl = 3 + put_utf8(lower, w + 3);
            encode_word(tok, w, wl, out, cap, n);
            wl = 3;
            continue;
        }
        wl += put_utf8(lower, w + wl);
    }
    if (wl > 3) encode_word(tok, w, wl, out, cap, n);
    free(w);
    return FM_STATUS_OK;
}

fm_status fm_wpm_prepare(fm_tokenizer *tok) {
    /* every prefix (at character boundaries) of every token text */
    size_t total = 0;
    for (int32_t id = 0; id < tok->n_vocab; id++) total += tok->tokens[id].len;
    tok->wpm_prefix_off = fm_calloc(total + 1, sizeof *tok->wpm_prefix_off);
    tok->wpm_prefix_tok = fm_malloc((total + 1) * sizeof *tok->wpm_prefix_tok);
    if (tok->wpm_prefix_off == NULL || tok->wpm_prefix_tok == NULL ||
        !fm_strmap_init(&tok->wpm_prefix, total + 1, tok->text, tok->wpm_prefix_off, sizeof *tok->wpm_prefix_off, 0))
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory for the vocabulary");
    int32_t n = 0;
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        const char *t = fm_vocab_text(tok, id);
        const uint32_t l = tok->tokens[id].len;
        for (uint32_t j = 0; j < l;) {
            j += (uint32_t)fm_utf8_lead_len((uint8_t)t[j]);
            if (j > l) break;
            int32_t r = fm_strmap_get(&tok->wpm_prefix, t, j);
            if (r < 0) {
                r = n++;
                tok->wpm_prefix_off[r] = tok->tokens[id].off;
                tok->wpm_prefix_tok[r] = -1;
                fm_strmap_put(&tok->wpm_prefix, t, j, r);
            }
            if (j == l) tok->wpm_prefix_tok[r] = fm_vocab_lookup(tok, t, l); /* as a lookup would answer */
        }
    }
    return FM_STATUS_OK;
}
