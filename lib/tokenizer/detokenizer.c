/* Streaming token-to-text that only ever emits whole UTF-8 characters:
 * the bytes of a character split across tokens (byte tokens, byte-level BPE)
 * wait until it completes. Bytes that can never complete become U+FFFD. */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "../core/utf8.h"
#include "vocab.h"

struct fm_detokenizer {
    const fm_tokenizer *tok;
    uint32_t flags;
    int at_start;    /* no byte emitted yet: the dummy prefix space may go */
    uint8_t held[4]; /* start of an incomplete character */
    size_t n_held;
    char *scratch;   /* held bytes + one piece */
};

fm_status fm_detokenizer_new(const fm_tokenizer *tok, uint32_t flags, fm_detokenizer **out) {
    fm_error_clear();
    if (out == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_detokenizer_new: out is NULL");
    *out = NULL;
    if (tok == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_detokenizer_new: tokenizer is NULL");
    if (flags & ~(FM_DECODE_RENDER_SPECIAL | FM_DECODE_STRIP_LEADING_SPACE))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_detokenizer_new: unknown flags 0x%x", flags);
    fm_detokenizer *d = fm_calloc(1, sizeof *d);
    if (d != NULL) d->scratch = fm_malloc(tok->max_token_len + 8);
    if (d == NULL || d->scratch == NULL) {
        free(d);
        return fm_error(FM_STATUS_NO_MEMORY, "out of memory for a detokenizer");
    }
    d->tok = tok;
    d->flags = flags;
    d->at_start = (flags & FM_DECODE_STRIP_LEADING_SPACE) != 0;
    *out = d;
    return FM_STATUS_OK;
}

void fm_detokenizer_free(fm_detokenizer *d) {
    if (d == NULL) return;
    free(d->scratch);
    free(d);
}

/* Emits the complete characters of s[0..n) to o (U+FFFD for bytes that can
 * never be part of one) and returns how many trailing bytes must wait. */
static size_t emit_complete(const uint8_t *s, size_t n, fm_sink *o) {
    size_t i = 0;
    while (i < n) {
        size_t len = fm_utf8_seq_len(s + i, n - i);
        if (len > 0) {
            fm_sink_write(o, (const char *)s + i, len);
            i += len;
        } else if (fm_utf8_is_partial(s + i, n - i)) {
            return n - i;
        } else {
            fm_sink_write(o, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    return 0;
}

fm_status fm_detokenizer_push(fm_detokenizer *d, fm_token id, char *buf, size_t capacity, size_t *n_bytes) {
    fm_error_clear();
    if (d == NULL || n_bytes == NULL || (buf == NULL && capacity > 0))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_detokenizer_push: NULL argument");
    if (id < 0 || id >= d->tok->n_vocab)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "token id %d is outside the vocabulary (0..%d)", id,
                        d->tok->n_vocab - 1);
    memcpy(d->scratch, d->held, d->n_held);
    fm_sink piece = {d->scratch + d->n_held, d->tok->max_token_len + 4, 0, 0};
    int lead = d->at_start ? fm_tokenizer_piece_lead(d->tok, id, d->flags) : 0;
    if (lead == 2) piece.skip = 1;
    fm_tokenizer_piece(d->tok, id, d->flags, &piece);
    const size_t total = d->n_held + piece.n;
    fm_sink dry = {NULL, 0, 0, 0};
    size_t keep = emit_complete((const uint8_t *)d->scratch, total, &dry);
    *n_bytes = dry.n;
    if (dry.n > capacity)
        return fm_error(FM_STATUS_BUFFER_TOO_SMALL, "%zu bytes of text do not fit in %zu", dry.n, capacity);
    fm_sink o = {buf, capacity, 0, 0};
    emit_complete((const uint8_t *)d->scratch, total, &o);
    memcpy(d->held, d->scratch + total - keep, keep);
    d->n_held = keep;
    if (lead) d->at_start = 0;
    return FM_STATUS_OK;
}

fm_status fm_detokenizer_flush(fm_detokenizer *d, char *buf, size_t capacity, size_t *n_bytes) {
    fm_error_clear();
    if (d == NULL || n_bytes == NULL || (buf == NULL && capacity > 0))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_detokenizer_flush: NULL argument");
    *n_bytes = d->n_held * 3;
    if (*n_bytes > capacity)
        return fm_error(FM_STATUS_BUFFER_TOO_SMALL, "%zu bytes of text do not fit in %zu", *n_bytes, capacity);
    for (size_t i = 0; i < d->n_held; i++) memcpy(buf + 3 * i, "\xEF\xBF\xBD", 3);
    d->n_held = 0;
    d->at_start = (d->flags & FM_DECODE_STRIP_LEADING_SPACE) != 0;
    return FM_STATUS_OK;
}
