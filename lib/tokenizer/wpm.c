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

#include "../core/error.h"
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

/* Greedy longest-match of "▁" + word (word at w[3..len), w[0..3) = U+2581). */
static void encode_word(const fm_tokenizer *tok, const char *w, size_t len, fm_token *out, size_t cap, size_t *n) {
    const size_t start = *n;
    for (size_t i = 0; i < len;) {
        size_t j = len - i < tok->max_token_len ? len : i + tok->max_token_len;
        fm_token id = -1;
        for (; j > i; j--)
            if ((id = fm_vocab_lookup(tok, w + i, j - i)) >= 0) break;
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
    char *w = malloc(len * 4 + 8);
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
