/* fm-chat: a conversation with a model through its own chat template.
 *
 * The conversation is a JSON array of messages. Each turn renders it with
 * the template (add_generation_prompt on), tokenizes the text and compares
 * the ids with what the KV cache already holds: only the tokens after the
 * common prefix are decoded, so a turn costs its own tokens, not the whole
 * history. Where a template rewrites earlier turns (or the answer's text
 * tokenizes differently from the ids that were sampled) decoding starts at
 * the first differing token. When the next turn does not fit, the oldest
 * exchanges are dropped and the rest decoded again.
 *
 * Modes: interactive (lines from stdin; /reset, /save FILE, /load FILE,
 * /quit; Ctrl-C stops an answer), --messages FILE (answers every user
 * message of the file that no assistant message follows, one answer per
 * line on stdout), and --render (template only, no model). */
#define _POSIX_C_SOURCE 200809L /* sigaction, isatty */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_sampling.h"
#include "cli_util.h"
#include "fm.h"

static int fail(const char *what, fm_status s) {
    fprintf(stderr, "fm-chat: %s: %s (%s)\n", what, fm_last_error(), fm_status_name(s));
    return CLI_EXIT_RUNTIME;
}

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

/* A template by built-in name or from a file. */
static fm_status load_template(const char *spec, fm_chat_template **out) {
    for (size_t i = 0; fm_chat_template_builtin_name(i); i++)
        if (!strcmp(spec, fm_chat_template_builtin_name(i))) return fm_chat_template_builtin(spec, out);
    size_t len = 0;
    char *text = cli_read_file(spec, &len);
    if (text == NULL) {
        fprintf(stderr, "fm-chat: %s is neither a built-in template nor a readable file\n", spec);
        return FM_STATUS_IO;
    }
    fm_status s = fm_chat_template_new(text, len, out);
    free(text);
    return s;
}

/* Renders into a malloc'd, NUL-terminated string of *n bytes. */
static fm_status render(const fm_chat_template *t, const char *msgs, const fm_chat_params *p, char **out,
                        size_t *n) {
    *out = NULL;
    fm_status s = fm_chat_render_json(t, msgs, strlen(msgs), p, NULL, 0, n);
    if (s != FM_STATUS_OK && s != FM_STATUS_BUFFER_TOO_SMALL) return s;
    if ((*out = malloc(*n + 1)) == NULL) return FM_STATUS_NO_MEMORY;
    if (s == FM_STATUS_BUFFER_TOO_SMALL && (s = fm_chat_render_json(t, msgs, strlen(msgs), p, *out, *n, n))) {
        free(*out);
        *out = NULL;
        return s;
    }
    (*out)[*n] = 0;
    return FM_STATUS_OK;
}

/* --render: the template's text for a conversation, nothing added. */
static int render_only(const char *tspec, const char *msgs_path, const char *tools_path, const char *bos,
                       const char *eos, int add_gen, int64_t now) {
    if (tspec == NULL || msgs_path == NULL) {
        fprintf(stderr, "fm-chat: --render needs --template and --messages\nTry 'fm-chat --help' for the options.\n");
        return CLI_EXIT_USAGE;
    }
    size_t len = 0, tlen = 0;
    char *msgs = cli_read_file(msgs_path, &len), *tools = NULL;
    if (msgs == NULL) return fprintf(stderr, "fm-chat: cannot read %s\n", msgs_path), CLI_EXIT_RUNTIME;
    if (tools_path && (tools = cli_read_file(tools_path, &tlen)) == NULL) {
        free(msgs);
        return fprintf(stderr, "fm-chat: cannot read %s\n", tools_path), CLI_EXIT_RUNTIME;
    }
    fm_chat_template *t = NULL;
    fm_status s = load_template(tspec, &t);
    char *out = NULL;
    size_t n = 0;
    if (s == FM_STATUS_OK) {
        fm_chat_params p;
        fm_chat_params_init(&p, sizeof p);
        p.add_generation_prompt = add_gen;
        p.bos_token = bos;
        p.eos_token = eos;
        p.tools = tools;
        p.now = now;
        s = render(t, msgs, &p, &out, &n);
    }
    int rc = 0;
    if (s != FM_STATUS_OK) {
        if (s != FM_STATUS_IO) fprintf(stderr, "fm-chat: %s\n", fm_last_error());
        rc = CLI_EXIT_RUNTIME;
    } else if (fwrite(out, 1, n, stdout) != n || fflush(stdout) != 0) {
        fprintf(stderr, "fm-chat: cannot write the output\n");
        rc = CLI_EXIT_RUNTIME;
    }
    free(out);
    free(msgs);
    free(tools);
    fm_chat_template_free(t);
    return rc;
}

typedef struct chat {
    fm_model *model;
    const fm_tokenizer *tok;
    fm_context *ctx;
    fm_sampler *smp;
    fm_chat_template *tmpl;
    fm_chat_params cp;
    char bos[256], eos[256];
    json_t *conv;         /* the messages so far */
    int n_predict;
    cli_sampling *cs;
    const char *stops[CLI_MAX_STOP + 2];
    size_t n_stop;
    int turn;
    char *render;         /* the last prompt's text */
    size_t render_n;
    char *cached_text;    /* the text the cache's tokens spell, or NULL */
    size_t cached_n;
} chat;

/* The cache's tokens (sequence 0) into a malloc'd array. */
static fm_status cached_ids(chat *c, fm_token **ids, size_t *n) {
    *n = 0;
    fm_context_seq_tokens(c->ctx, 0, NULL, 0, n);
    if ((*ids = malloc((*n + 1) * sizeof **ids)) == NULL) return FM_STATUS_NO_MEMORY;
    return fm_context_seq_tokens(c->ctx, 0, *ids, *n, n);
}

/* The conversation's prompt as ids. Where the rendered text extends the
 * text the cache holds (the last prompt and the answer as generated), the
 * ids are the cached ones - the tokens the model actually produced - and
 * only the new text is tokenized, as a continuation. Otherwise the whole
 * text is tokenized: special tokens parsed, BOS added unless the template
 * wrote it itself. The rendered text is kept in c->render. */
static fm_status prompt_ids(chat *c, fm_token **ids, size_t *n) {
    char *msgs = json_dumps(c->conv, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (msgs == NULL) return FM_STATUS_NO_MEMORY;
    char *text;
    size_t len;
    fm_status s = render(c->tmpl, msgs, &c->cp, &text, &len);
    free(msgs);
    if (s) return s;
    free(c->render);
    c->render = text;
    c->render_n = len;
    *ids = NULL;
    if (c->cached_text && c->cached_n <= len && !memcmp(text, c->cached_text, c->cached_n)) {
        fm_token *head, *tail;
        size_t nh, nt;
        if ((s = cached_ids(c, &head, &nh))) return s;
        if ((s = cli_tokenize(c->tok, text + c->cached_n, len - c->cached_n, FM_ENCODE_PARSE_SPECIAL | FM_ENCODE_CONTINUE,
                          &tail, &nt))) {
            free(head);
            free(tail);
            return s;
        }
        fm_token *all = realloc(head, (nh + nt + 1) * sizeof *all);
        if (all == NULL) s = FM_STATUS_NO_MEMORY, free(head);
        else memcpy(all + nh, tail, nt * sizeof *tail), *ids = all, *n = nh + nt;
        free(tail);
        return s;
    }
    const fm_token bos = fm_tokenizer_special(c->tok, FM_SPECIAL_BOS);
    const size_t bl = strlen(c->bos);
    uint32_t flags = FM_ENCODE_PARSE_SPECIAL;
    if (bos != FM_TOKEN_NONE && !(bl && len >= bl && !memcmp(text, c->bos, bl))) flags |= FM_ENCODE_ADD_BOS;
    return cli_tokenize(c->tok, text, len, flags, ids, n);
}

/* What the cache now holds as text: nothing known (NULL), or the last
 * prompt followed by `answer`. */
static fm_status set_cached_text(chat *c, const char *answer, size_t n) {
    free(c->cached_text);
    c->cached_text = NULL;
    c->cached_n = 0;
    if (answer == NULL || c->render == NULL) return FM_STATUS_OK;
    if ((c->cached_text = malloc(c->render_n + n + 1)) == NULL) return FM_STATUS_NO_MEMORY;
    memcpy(c->cached_text, c->render, c->render_n);
    memcpy(c->cached_text + c->render_n, answer, n);
    c->cached_n = c->render_n + n;
    c->cached_text[c->cached_n] = 0;
    return FM_STATUS_OK;
}

static const char *role_of(const json_t *conv, size_t i) {
    const char *r = json_string_value(json_object_get(json_array_get(conv, i), "role"));
    return r ? r : "";
}

/* Drops the oldest exchange after any leading system message; 0 if there
 * is nothing left to drop. */
static int drop_oldest(chat *c) {
    size_t first = 0, n = json_array_size(c->conv);
    while (first < n && !strcmp(role_of(c->conv, first), "system")) first++;
    if (n - first < 2) return 0; /* keep at least the message being answered */
    json_array_remove(c->conv, first);
    /* and the replies to it, up to the next user message */
    while (first + 1 < json_array_size(c->conv) && strcmp(role_of(c->conv, first), "user"))
        json_array_remove(c->conv, first);
    return 1;
}

/* The byte offset in the text the cache spells where each cached token
 * starts (off[0..n]), found by detokenizing the ids; 1 if they do not
 * spell c->cached_text exactly. A BOS that fm-chat added itself spells
 * nothing. */
static int token_offsets(chat *c, const fm_token *ids, size_t n, size_t *off) {
    fm_detokenizer *d;
    if (fm_detokenizer_new(c->tok, FM_DECODE_RENDER_SPECIAL | FM_DECODE_STRIP_LEADING_SPACE, &d)) return 1;
    const fm_token bos = fm_tokenizer_special(c->tok, FM_SPECIAL_BOS);
    const size_t bl = strlen(c->bos);
    size_t pos = 0, i = 0;
    off[0] = 0;
    if (n && ids[0] == bos && !(bl && c->cached_n >= bl && !memcmp(c->cached_text, c->bos, bl))) off[++i] = 0;
    char piece[1024];
    size_t pn = 0;
    int bad = 0;
    for (; i < n && !bad; i++) {
        bad = fm_detokenizer_push(d, ids[i], piece, sizeof piece, &pn) != FM_STATUS_OK || pos + pn > c->cached_n ||
              memcmp(c->cached_text + pos, piece, pn) != 0;
        pos += pn;
        off[i + 1] = pos;
    }
    bad |= fm_detokenizer_flush(d, piece, sizeof piece, &pn) != FM_STATUS_OK || pn != 0 || pos != c->cached_n;
    fm_detokenizer_free(d);
    return bad;
}

/* The context shift for a chat. When dropping old exchanges makes the
 * rendered text `r` start with cached[..oa) + cached[ob..) for token
 * boundaries oa < ob of the text the cache spells, the tokens between them
 * leave the cache and the later ones move down (their keys re-rotated), so
 * the rest of the history is not decoded again. Returns how many tokens
 * left; 0 when the texts do not line up (the caller then decodes from the
 * first token that differs). */
static size_t shift_out(chat *c, const char *r, size_t rn) {
    fm_token *ids = NULL;
    size_t n = 0, removed = 0;
    int32_t lo = -1, hi = -1;
    if (c->cached_text == NULL || cached_ids(c, &ids, &n) || n == 0 ||
        fm_context_seq_pos_range(c->ctx, 0, &lo, &hi) || lo != 0 || (size_t)hi != n - 1) {
        free(ids);
        return 0;
    }
    size_t *off = malloc((n + 1) * sizeof *off);
    if (off == NULL || token_offsets(c, ids, n, off)) {
        free(off);
        free(ids);
        return 0;
    }
    const char *ct = c->cached_text;
    const size_t cn = c->cached_n;
    size_t p = 0;
    while (p < rn && p < cn && r[p] == ct[p]) p++;
    size_t a = n + 1, b = 0;
    for (size_t i = n, tries = 0; i-- > 0 && tries < 64 && a > n;) {
        if (off[i] > p) continue;
        tries++;
        for (size_t j = i + 1; j <= n; j++) {
            const size_t tail = cn - off[j];
            if (off[j] > off[i] && off[i] + tail <= rn && !memcmp(r + off[i], ct + off[j], tail)) {
                a = i, b = j;
                break;
            }
        }
    }
    if (a <= n) {
        fm_context_seq_rm(c->ctx, 0, (int32_t)a, (int32_t)b);
        if (b < n && fm_context_seq_shift(c->ctx, 0, (int32_t)b, -1, -(int32_t)(b - a)) != FM_STATUS_OK) {
            fm_context_seq_rm(c->ctx, 0, (int32_t)a, -1); /* e.g. learned positions: decode the rest */
            set_cached_text(c, NULL, 0);
        } else {
            memmove(c->cached_text + off[a], c->cached_text + off[b], cn - off[b] + 1);
            c->cached_n -= off[b] - off[a];
            removed = b - a;
        }
    }
    free(off);
    free(ids);
    return removed;
}

/* Brings the cache to the conversation's prompt, decoding only what it
 * does not already hold. */
static fm_status sync_prompt(chat *c) {
    const size_t n_ctx = fm_context_n_ctx(c->ctx);
    fm_token *ids = NULL;
    size_t n = 0;
    fm_status s;
    int dropped = 0;
    size_t shifted = 0;
    /* room for an answer: what -n asks, up to a quarter of the window */
    const size_t quarter = n_ctx / 4 > 16 ? n_ctx / 4 : 16;
    const size_t room = (size_t)c->n_predict < quarter ? (size_t)c->n_predict : quarter;
    for (;;) {
        if ((s = prompt_ids(c, &ids, &n))) return s;
        if (n + room <= n_ctx) break;
        free(ids);
        ids = NULL;
        if (!drop_oldest(c)) {
            fprintf(stderr, "fm-chat: the conversation does not fit in the context of %zu tokens\n", n_ctx);
            return FM_STATUS_CONTEXT_FULL;
        }
        dropped++;
        /* take the dropped turns out of the cache too, if they line up */
        char *msgs = json_dumps(c->conv, JSON_COMPACT | JSON_ENSURE_ASCII), *r = NULL;
        size_t rn = 0;
        if (msgs == NULL) return FM_STATUS_NO_MEMORY;
        s = render(c->tmpl, msgs, &c->cp, &r, &rn);
        free(msgs);
        if (s) return s;
        shifted += shift_out(c, r, rn);
        free(r);
    }
    if (dropped)
        fprintf(stderr, "fm-chat: the context is full: dropped the %d oldest exchange(s); %s\n", dropped,
                shifted ? "shifted the cache" : "the rest is decoded again");
    if (shifted) fprintf(stderr, "fm-chat: context shift: %zu tokens left the cache\n", shifted);
    const size_t common = cli_keep_common_prefix(c->ctx, ids, n);
    const double t0 = cli_now_s();
    s = fm_context_decode(c->ctx, ids + common, n - common, FM_LOGITS_LAST);
    const double dt = cli_now_s() - t0;
    if (s == FM_STATUS_OK) {
        fm_sampler_reset(c->smp);
        for (size_t i = 0; i < n; i++) fm_sampler_accept(c->smp, ids[i], FM_ACCEPT_SKIP_CONSTRAINTS);
        fprintf(stderr, "fm-chat: turn %d: %zu prompt tokens, %zu reused from the cache, %zu decoded (%.1f ms)\n",
                c->turn, n, common, n - common, dt * 1e3);
    }
    free(ids);
    return s;
}

/* Appends {role, content} to the conversation. */
static int add_message(chat *c, const char *role, const char *content) {
    json_t *m = json_pack("{s:s, s:s}", "role", role, "content", content);
    return m == NULL || json_array_append_new(c->conv, m) != 0;
}

typedef struct answer_text {
    char *p;
    size_t n, cap;
} answer_text;

/* Prints text and keeps it as part of the answer. */
static fm_status put(answer_text *t, const char *s, size_t n) {
    if (t->n + n + 1 > t->cap) {
        char *np = realloc(t->p, t->cap = 2 * t->cap + n + 256);
        if (np == NULL) return FM_STATUS_NO_MEMORY;
        t->p = np;
    }
    memcpy(t->p + t->n, s, n);
    t->n += n;
    t->p[t->n] = 0;
    fwrite(s, 1, n, stdout);
    fflush(stdout);
    return FM_STATUS_OK;
}

/* Streams one answer to stdout and appends it to the conversation. */
static fm_status answer(chat *c) {
    c->turn++;
    fm_status s = sync_prompt(c);
    if (s) return set_cached_text(c, NULL, 0), s;
    fm_detokenizer *d = NULL;
    fm_stop *stop = NULL;
    if ((s = fm_detokenizer_new(c->tok, 0, &d)) || (s = fm_stop_new(c->stops, c->n_stop, &stop))) {
        fm_detokenizer_free(d);
        return s;
    }
    answer_text text = {NULL, 0, 0};
    const int32_t n_vocab = fm_tokenizer_n_vocab(c->tok);
    char piece[4096];
    const char *o;
    size_t pn, on;
    /* `interrupted` is cleared at the prompt, not here: a Ctrl-C that comes
     * while the prompt is decoded stops this answer */
    int n_gen = 0, exact = 1; /* exact: the cache holds the answer's text, token for token */
    const double t0 = cli_now_s();
    while (n_gen < c->n_predict && !interrupted) {
        fm_token next;
        if ((s = fm_sampler_sample(c->smp, fm_context_logits(c->ctx, -1), n_vocab, &next))) break;
        if (fm_tokenizer_is_eog(c->tok, next)) break;
        n_gen++;
        if ((s = fm_detokenizer_push(d, next, piece, sizeof piece, &pn)) ||
            (s = fm_stop_feed(stop, piece, pn, &o, &on)) || (s = put(&text, o, on)))
            break;
        if (fm_stop_matched(stop) >= 0) {
            exact = 0; /* the text stops short of the tokens */
            break;
        }
        if (fm_context_n_past(c->ctx) >= fm_context_n_ctx(c->ctx)) {
            fprintf(stderr, "\nfm-chat: the context is full: the answer is cut here\n");
            exact = 0;
            break;
        }
        if ((s = fm_context_decode(c->ctx, &next, 1, FM_LOGITS_LAST))) break;
    }
    const double dt = cli_now_s() - t0;
    /* what the detokenizer and the stop matcher still hold */
    if (s == FM_STATUS_OK && fm_stop_matched(stop) < 0 &&
        !(s = fm_detokenizer_flush(d, piece, sizeof piece, &pn)) && ((exact &= pn == 0), 1) &&
        !(s = fm_stop_feed(stop, piece, pn, &o, &on)) &&
        !(s = put(&text, o, on)) && fm_stop_matched(stop) < 0 && !(s = fm_stop_flush(stop, &o, &on)))
        s = put(&text, o, on);
    if (s == FM_STATUS_OK && text.p == NULL) s = put(&text, "", 0);
    printf("\n");
    fflush(stdout);
    if (s == FM_STATUS_OK) {
        if (interrupted) fprintf(stderr, "fm-chat: stopped\n");
        fprintf(stderr, "fm-chat: turn %d: %d tokens generated, %.2f tokens/s\n", c->turn, n_gen,
                n_gen / (dt > 0 ? dt : 1e-9));
        if (add_message(c, "assistant", text.p)) s = FM_STATUS_NO_MEMORY;
    }
    if (s == FM_STATUS_OK && exact) s = set_cached_text(c, text.p, text.n);
    else set_cached_text(c, NULL, 0);
    interrupted = 0;
    free(text.p);
    fm_stop_free(stop);
    fm_detokenizer_free(d);
    return s;
}

/* --messages: answers each user message that no assistant message follows. */
static int run_file(chat *c, const char *path) {
    json_error_t je;
    json_t *all = json_load_file(path, 0, &je);
    if (all == NULL || !json_is_array(all)) {
        fprintf(stderr, "fm-chat: %s: %s\n", path, all ? "not a JSON array of messages" : je.text);
        json_decref(all);
        return 1;
    }
    int rc = 0;
    for (size_t i = 0; i < json_array_size(all) && !rc; i++) {
        json_t *m = json_array_get(all, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!json_is_object(m) || role == NULL) {
            fprintf(stderr, "fm-chat: %s: message %zu has no role\n", path, i);
            rc = 1;
            break;
        }
        json_array_append(c->conv, m);
        const json_t *next = json_array_get(all, i + 1);
        const char *nrole = next ? json_string_value(json_object_get(next, "role")) : NULL;
        fm_status s;
        if (!strcmp(role, "user") && !(nrole && !strcmp(nrole, "assistant")) && (s = answer(c)))
            rc = fail("answer", s);
    }
    json_decref(all);
    return rc;
}

/* FILE.messages.json: the conversation beside the saved state. */
static int messages_path(const char *path, char *out, size_t cap) {
    if (strlen(path) + sizeof ".messages.json" > cap) {
        fprintf(stderr, "fm-chat: the file name is too long\n");
        return 1;
    }
    snprintf(out, cap, "%s.messages.json", path);
    return 0;
}

/* /save FILE: the cache as a saved state in FILE, and beside it
 * FILE.messages.json: {"messages": [...], "cached_text": the text the
 * cache's tokens spell, or null}. */
static int save_chat(chat *c, const char *path) {
    char jpath[4096];
    if (messages_path(path, jpath, sizeof jpath)) return 1;
    fm_status s = fm_context_state_save_file(c->ctx, 0, path);
    if (s) return fail("save", s);
    json_t *doc = json_pack("{s:O, s:o}", "messages", c->conv, "cached_text",
                            c->cached_text ? json_stringn(c->cached_text, c->cached_n) : json_null());
    if (doc == NULL || json_dump_file(doc, jpath, JSON_INDENT(1)) != 0) {
        json_decref(doc);
        fprintf(stderr, "fm-chat: cannot write %s\n", jpath);
        return 1;
    }
    json_decref(doc);
    fprintf(stderr, "fm-chat: saved %zu messages to %s (+ %s)\n", json_array_size(c->conv), path, jpath);
    return 0;
}

static int load_chat(chat *c, const char *path) {
    char jpath[4096];
    if (messages_path(path, jpath, sizeof jpath)) return 1;
    json_error_t je;
    json_t *doc = json_load_file(jpath, 0, &je), *conv = json_object_get(doc, "messages");
    json_t *text = json_object_get(doc, "cached_text");
    if (!json_is_array(conv) || !(json_is_string(text) || json_is_null(text))) {
        fprintf(stderr, "fm-chat: %s: %s\n", jpath, doc ? "not a conversation saved by fm-chat" : je.text);
        json_decref(doc);
        return 1;
    }
    fm_status s = fm_context_state_load_file(c->ctx, 0, path);
    if (s) {
        json_decref(doc);
        return fail("load", s);
    }
    json_decref(c->conv);
    c->conv = json_incref(conv);
    free(c->render);
    c->render = NULL;
    set_cached_text(c, NULL, 0);
    if (json_is_string(text) && (c->cached_text = malloc(json_string_length(text) + 1)) != NULL) {
        c->cached_n = json_string_length(text);
        memcpy(c->cached_text, json_string_value(text), c->cached_n + 1);
    }
    json_decref(doc);
    fprintf(stderr, "fm-chat: loaded %zu messages from %s\n", json_array_size(conv), path);
    return 0;
}

static void reset_chat(chat *c, const char *system) {
    json_array_clear(c->conv);
    if (system) add_message(c, "system", system);
    fm_context_clear(c->ctx);
    set_cached_text(c, NULL, 0);
    c->turn = 0;
}

/* Interactive: one line per user message. */
static int run_interactive(chat *c, const char *system) {
    const int tty = isatty(0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: Ctrl-C at the prompt ends fgets */
    char line[65536];
    for (;;) {
        if (tty) {
            fputs("> ", stdout);
            fflush(stdout);
        }
        interrupted = 0;
        if (fgets(line, sizeof line, stdin) == NULL) {
            if (interrupted && errno == EINTR) {
                printf("\n");
                break;
            }
            break;
        }
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n == 0) continue;
        if (!strcmp(line, "/quit") || !strcmp(line, "/exit")) break;
        if (!strcmp(line, "/reset")) {
            reset_chat(c, system);
            fprintf(stderr, "fm-chat: the conversation is reset\n");
            continue;
        }
        if (!strncmp(line, "/save ", 6)) {
            save_chat(c, line + 6);
            continue;
        }
        if (!strncmp(line, "/load ", 6)) {
            load_chat(c, line + 6);
            continue;
        }
        if (add_message(c, "user", line)) return fail("message", FM_STATUS_NO_MEMORY);
        fm_status s = answer(c);
        if (s) {
            fail("answer", s);
            json_array_remove(c->conv, json_array_size(c->conv) - 1); /* the turn is not kept */
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *system = NULL, *tspec = NULL, *msgs_path = NULL, *tools_path = NULL;
    const char *bos_tok = NULL, *eos_tok = NULL;
    int render_mode = 0, add_gen = 0;
    double n_ctx = 0, n_predict = 256, threads = 0, now = 0;
    cli_sampling cs;
    cli_sampling_init(&cs, "fm-chat");
    const cli_opt opts[] = {
        {"-m|--model", CLI_STR, &model_path, "FILE", "GGUF model (its tokenizer.chat_template is used by default)",
         NULL, 0},
        {"--system", CLI_STR, &system, "TEXT", "system message at the start of the conversation", NULL, 0},
        {"--template", CLI_STR, &tspec, "NAME|FILE",
         "a built-in template (chatml, llama2, llama3, mistral, phi3, gemma, zephyr,\n"
         "vicuna) or a file of Jinja text; default: the model's own, else chatml",
         NULL, 0},
        {"-c|--ctx-size", CLI_NUM, &n_ctx, "N", "context size; 0 = the model's training context", NULL, 1},
        {"-n|--n-predict", CLI_NUM, &n_predict, "N", "most tokens per answer", NULL, 1},
        {"-t|--threads", CLI_NUM, &threads, "N", "compute threads; 0 = all cores", NULL, 1},
        CLI_SAMPLING_SEED_OPT(&cs),
        {"--messages", CLI_STR, &msgs_path, "FILE",
         "no prompt: take the conversation from FILE (a JSON array of messages) and\n"
         "answer each user message no assistant message follows, one line each",
         NULL, 0},
        {"--render", CLI_FLAG, &render_mode, NULL,
         "only write the rendered template to stdout, exactly, and exit (needs\n--template and --messages; no model)",
         NULL, 0},
        {"--tools", CLI_STR, &tools_path, "FILE", "--render: a JSON array of tool definitions", NULL, 0},
        {"--bos-token", CLI_STR, &bos_tok, "S", "--render: the template's bos_token", NULL, 0},
        {"--eos-token", CLI_STR, &eos_tok, "S", "--render: the template's eos_token", NULL, 0},
        {"--add-generation-prompt", CLI_FLAG, &add_gen, NULL, "--render: end with the assistant's header", NULL, 0},
        {"--now", CLI_NUM, &now, "EPOCH", "strftime_now's clock, seconds since 1970 UTC; 0 = now", NULL, 1},
    };
    cli_opt sampling[CLI_SAMPLING_N_OPTS];
    const cli_spec spec = {"fm-chat", "-m MODEL [options]   |   fm-chat --render --template T --messages FILE",
                           "A chat through the model's own template; only each new turn is decoded.",
                           {opts, sampling}, {sizeof opts / sizeof *opts, cli_sampling_opts(&cs, sampling)},
                           "Interactive commands: /reset  /save FILE  /load FILE  /quit   (Ctrl-C stops an answer).\n"
                           "Statistics per turn go to stderr: prompt tokens, reused from the cache, decoded.\n"
                           "Exit status: 0 done, 1 usage error, 2 runtime error."};
    const int pa = cli_parse(&spec, argc, argv, NULL, NULL);
    if (pa >= 0) return pa;
    if (now < 0 || now > 253402300799.0) /* the year 9999 */
        return cli_usage_error(&spec, "--now must be seconds since 1970, up to the year 9999");
    if (render_mode) return render_only(tspec, msgs_path, tools_path, bos_tok, eos_tok, add_gen, (int64_t)now);
    if (model_path == NULL) return cli_usage_error(&spec, "no model: give -m FILE (or --render)");
    if (n_ctx < 0 || n_ctx > 1e7 || n_predict < 1 || n_predict > 1e7 || threads < 0 || threads > 1024)
        return cli_usage_error(&spec, "-c, -n or -t is out of range");
    if (cli_sampling_compile(&cs, "fm-chat")) return CLI_EXIT_RUNTIME;
    chat c;
    memset(&c, 0, sizeof c);
    c.n_predict = (int)n_predict;
    c.cs = &cs;
    c.conv = json_array();
    int rc = CLI_EXIT_RUNTIME;
    fm_status s = fm_model_load(model_path, NULL, &c.model);
    if (s) {
        fail("load model", s);
        goto done;
    }
    c.tok = fm_model_tokenizer(c.model);
    if (tspec) s = load_template(tspec, &c.tmpl);
    else if ((s = fm_chat_template_from_model(c.model, &c.tmpl)) == FM_STATUS_NOT_FOUND) {
        fprintf(stderr, "fm-chat: the model has no chat template: using chatml\n");
        s = fm_chat_template_builtin("chatml", &c.tmpl);
    }
    if (s) {
        if (s != FM_STATUS_IO) fail("template", s);
        goto done;
    }
    /* the template's bos_token/eos_token: the vocabulary's pieces */
    const fm_token specials[2] = {fm_tokenizer_special(c.tok, FM_SPECIAL_BOS), fm_tokenizer_special(c.tok, FM_SPECIAL_EOS)};
    char *dst[2] = {c.bos, c.eos};
    for (int k = 0; k < 2; k++) {
        size_t pn = 0;
        if (specials[k] != FM_TOKEN_NONE &&
            fm_tokenizer_token_to_piece(c.tok, specials[k], FM_DECODE_RENDER_SPECIAL, dst[k], 255, &pn) == FM_STATUS_OK)
            dst[k][pn] = 0;
    }
    fm_chat_params_init(&c.cp, sizeof c.cp);
    c.cp.add_generation_prompt = 1;
    c.cp.bos_token = c.bos;
    c.cp.eos_token = c.eos;
    c.cp.now = (int64_t)now;
    /* stop where the model starts the next turn itself: the user's --stop
     * strings, and ChatML's markers, which small models write as text */
    for (size_t k = 0; k < cs.n_stop; k++) c.stops[c.n_stop++] = cs.stop[k];
    c.stops[c.n_stop++] = "<|im_end|>";
    c.stops[c.n_stop++] = "<|im_start|>";

    fm_context_params cp;
    fm_context_params_init(&cp, sizeof cp);
    cp.n_ctx = (uint32_t)n_ctx;
    cp.n_threads = (int32_t)threads;
    if ((s = fm_context_new(c.model, &cp, &c.ctx)) ||
        (s = cli_sampling_make(&cs, c.tok, fm_context_n_ctx(c.ctx), 0, &c.smp))) {
        fail("set up", s);
        goto done;
    }
    if (system) add_message(&c, "system", system);
    rc = (msgs_path ? run_file(&c, msgs_path) : run_interactive(&c, system)) ? CLI_EXIT_RUNTIME : CLI_EXIT_OK;
done:
    json_decref(c.conv);
    free(c.render);
    free(c.cached_text);
    fm_sampler_free(c.smp);
    fm_context_free(c.ctx);
    fm_chat_template_free(c.tmpl);
    fm_grammar_free(cs.grammar);
    fm_model_free(c.model);
    return rc;
}
