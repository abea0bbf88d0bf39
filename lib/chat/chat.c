/* The public chat-template calls: compiling, binding a conversation to
 * the variables transformers passes (messages, add_generation_prompt,
 * bos_token, eos_token, tools, extra variables), rendering into the
 * caller's buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/chat.h"
#include "../core/alloc.h"
#include "chat/jinja.h"
#include "core/error.h"
#include "core/params.h"
#include "core/utf8.h"
#include "fm.h"

struct fm_chat_template {
    jtemplate *t;
};

enum { DEFAULT_MAX_OUTPUT = 16u << 20, DEFAULT_MAX_STEPS = 1000000, MAX_DEPTH = 32 };

static const char *kind_name(jerrk k) {
    switch (k) {
    case JERR_SYNTAX: return "TemplateSyntaxError";
    case JERR_UNDEFINED: return "UndefinedError";
    case JERR_TYPE: return "TypeError";
    case JERR_RAISED: return "TemplateError";
    case JERR_SECURITY: return "SecurityError";
    case JERR_LIMIT: return "limit";
    case JERR_MEMORY: return "MemoryError";
    case JERR_VALUE: return "ValueError";
    }
    return "error";
}

static fm_status template_error(const jerror *e, const char *what) {
    fm_status st = e->kind == JERR_MEMORY ? FM_STATUS_NO_MEMORY : FM_STATUS_INVALID_ARGUMENT;
    if (e->line > 0)
        return fm_error(st, "%s: line %d, column %d: %s (%s)", what, e->line, e->col, e->msg, kind_name(e->kind));
    return fm_error(st, "%s: %s (%s)", what, e->msg, kind_name(e->kind));
}

fm_status fm_chat_template_new(const char *text, size_t len, fm_chat_template **out) {
    fm_error_clear();
    if (out) *out = NULL;
    if (text == NULL || out == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_chat_template_new: NULL argument");
    size_t bad = fm_utf8_validate((const uint8_t *)text, len);
    if (bad != len) return fm_error(FM_STATUS_INVALID_UTF8, "chat template: invalid UTF-8 at byte %zu", bad);
    fm_chat_template *ct = fm_calloc(1, sizeof *ct);
    if (ct == NULL) return fm_error(FM_STATUS_NO_MEMORY, "chat template: out of memory");
    jerror err;
    if (jinja_compile(text, len, &ct->t, &err)) {
        free(ct);
        return template_error(&err, "chat template");
    }
    *out = ct;
    return FM_STATUS_OK;
}

fm_status fm_chat_template_builtin(const char *name, fm_chat_template **out) {
    fm_error_clear();
    if (out) *out = NULL;
    if (name == NULL || out == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_chat_template_builtin: NULL argument");
    const char *src = fm_chat_builtin_source(name);
    if (src == NULL) return fm_error(FM_STATUS_NOT_FOUND, "no built-in chat template named '%s'", name);
    return fm_chat_template_new(src, strlen(src), out);
}

const char *fm_chat_template_builtin_name(size_t i) { return fm_chat_builtin_name_at(i); }

fm_status fm_chat_template_from_model(const fm_model *model, fm_chat_template **out) {
    fm_error_clear();
    if (out) *out = NULL;
    if (model == NULL || out == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_chat_template_from_model: NULL argument");
    size_t n = 0;
    fm_status st = fm_model_meta(model, "tokenizer.chat_template", NULL, 0, &n);
    if (st == FM_STATUS_NOT_FOUND)
        return fm_error(FM_STATUS_NOT_FOUND, "the model has no tokenizer.chat_template; use a built-in template");
    if (st != FM_STATUS_OK && st != FM_STATUS_BUFFER_TOO_SMALL) return st;
    char *text = fm_malloc(n + 1);
    if (text == NULL) return fm_error(FM_STATUS_NO_MEMORY, "chat template: out of memory");
    st = fm_model_meta(model, "tokenizer.chat_template", text, n + 1, &n);
    if (st == FM_STATUS_OK) st = fm_chat_template_new(text, n, out);
    free(text);
    return st;
}

void fm_chat_template_free(fm_chat_template *t) {
    if (t == NULL) return;
    jinja_free(t->t);
    free(t);
}

static const fm_chat_params default_params = {
    sizeof(fm_chat_params), 0, NULL, NULL, NULL, NULL, 0, 0, 0,
};

fm_status fm_chat_params_init(fm_chat_params *p, size_t size) {
    fm_error_clear();
    return fm_params_init(p, size, &default_params, sizeof default_params, "fm_chat_params_init");
}

/* ---- binding ------------------------------------------------------------ */

typedef struct bind_ctx {
    const fm_chat_params *p;
    const fm_chat_message *msgs;
    size_t n_msgs;
    const char *json;
    size_t json_n;
    const char *bad_what;    /* a JSON field that failed to parse */
    char bad_msg[160];
} bind_ctx;

static jval str_val(const char *s) { return s ? jv_str(s, strlen(s)) : jv_none(); }

static jval parse_json(jrt *rt, bind_ctx *b, const char *text, size_t n, const char *what) {
    jval v;
    char msg[128];
    if (!jv_from_json(rt, text, n, &v, msg, sizeof msg)) {
        b->bad_what = what;
        snprintf(b->bad_msg, sizeof b->bad_msg, "%s", msg);
        jr_fail(rt, JERR_VALUE, "bad JSON in %s: %s", what, msg);
    }
    return v;
}

static jval message_value(jrt *rt, bind_ctx *b, const fm_chat_message *m) {
    jdict *d = jd_new(rt, 4);
    jd_set(rt, d, jv_str("role", 4), str_val(m->role));
    jd_set(rt, d, jv_str("content", 7), str_val(m->content));
    if (m->tool_calls) {
        jval tc = parse_json(rt, b, m->tool_calls, strlen(m->tool_calls), "a message's tool_calls");
        if (tc.t != JV_LIST) jr_fail(rt, JERR_VALUE, "a message's tool_calls must be a JSON array");
        jd_set(rt, d, jv_str("tool_calls", 10), tc);
    }
    if (m->tool_call_id) jd_set(rt, d, jv_str("tool_call_id", 12), str_val(m->tool_call_id));
    if (m->name) jd_set(rt, d, jv_str("name", 4), str_val(m->name));
    if (m->extra) {
        jval x = parse_json(rt, b, m->extra, strlen(m->extra), "a message's extra");
        if (x.t != JV_DICT) jr_fail(rt, JERR_VALUE, "a message's extra must be a JSON object");
        for (uint32_t i = 0; i < x.u.d->n; i++) jd_set(rt, d, x.u.d->k[i], x.u.d->v[i]);
    }
    return jv_dict(d);
}

static void bind(jrt *rt, void *user) {
    bind_ctx *b = user;
    const fm_chat_params *p = b->p;
    jval msgs;
    if (b->json) {
        msgs = parse_json(rt, b, b->json, b->json_n, "messages");
        if (msgs.t != JV_LIST) jr_fail(rt, JERR_VALUE, "messages must be a JSON array");
    } else {
        jlist *l = jl_new(rt, (uint32_t)b->n_msgs);
        for (size_t i = 0; i < b->n_msgs; i++) l->v[l->n++] = message_value(rt, b, &b->msgs[i]);
        msgs = jv_list(l, 0);
    }
    jinja_set_var(rt, "messages", msgs);
    jinja_set_var(rt, "add_generation_prompt", jv_bool(p->add_generation_prompt != 0));
    jinja_set_var(rt, "bos_token", jv_str(p->bos_token ? p->bos_token : "", p->bos_token ? strlen(p->bos_token) : 0));
    jinja_set_var(rt, "eos_token", jv_str(p->eos_token ? p->eos_token : "", p->eos_token ? strlen(p->eos_token) : 0));
    if (p->tools) jinja_set_var(rt, "tools", parse_json(rt, b, p->tools, strlen(p->tools), "tools"));
    if (p->variables) {
        jval v = parse_json(rt, b, p->variables, strlen(p->variables), "variables");
        if (v.t != JV_DICT) jr_fail(rt, JERR_VALUE, "variables must be a JSON object");
        for (uint32_t i = 0; i < v.u.d->n; i++) {
            jval k = v.u.d->k[i];
            char *name = jr_strdup(rt, k.u.s, k.n);
            jinja_set_var(rt, name, v.u.d->v[i]);
        }
    }
}

static fm_status check_text(const char *s, const char *what) {
    if (s == NULL) return FM_STATUS_OK;
    size_t n = strlen(s), bad = fm_utf8_validate((const uint8_t *)s, n);
    if (bad != n) return fm_error(FM_STATUS_INVALID_UTF8, "%s: invalid UTF-8 at byte %zu", what, bad);
    return FM_STATUS_OK;
}

static fm_status render(const fm_chat_template *t, bind_ctx *b, const fm_chat_params *params,
                        char *buf, size_t capacity, size_t *n_bytes) {
    if (t == NULL || n_bytes == NULL || (buf == NULL && capacity))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_chat_render: NULL argument");
    fm_chat_params p = default_params;
    fm_status st = fm_params_read(&p, sizeof p, params, "fm_chat_params");
    if (st) return st;
    if ((st = check_text(p.bos_token, "bos_token")) || (st = check_text(p.eos_token, "eos_token")) ||
        (st = check_text(p.tools, "tools")) || (st = check_text(p.variables, "variables")))
        return st;
    for (size_t i = 0; i < b->n_msgs; i++) {
        const fm_chat_message *m = &b->msgs[i];
        if (m->role == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "message %zu has no role", i);
        if ((st = check_text(m->role, "a message's role")) || (st = check_text(m->content, "a message's content")) ||
            (st = check_text(m->tool_calls, "a message's tool_calls")) ||
            (st = check_text(m->tool_call_id, "a message's tool_call_id")) ||
            (st = check_text(m->name, "a message's name")) || (st = check_text(m->extra, "a message's extra")))
            return st;
    }
    if (b->json) {
        size_t bad = fm_utf8_validate((const uint8_t *)b->json, b->json_n);
        if (bad != b->json_n) return fm_error(FM_STATUS_INVALID_UTF8, "messages: invalid UTF-8 at byte %zu", bad);
    }
    b->p = &p;
    jlimits lim;
    lim.max_output = p.max_output ? (size_t)p.max_output : DEFAULT_MAX_OUTPUT;
    lim.max_steps = p.max_steps ? p.max_steps : DEFAULT_MAX_STEPS;
    /* values are bounded by what the output and loops can build */
    lim.max_memory = lim.max_output * 8 + (64u << 20);
    lim.max_depth = MAX_DEPTH;
    int64_t now = p.now ? p.now : (int64_t)time(NULL);
    jbuf out;
    jerror err;
    if (jinja_render(t->t, &lim, now, bind, b, &out, &err)) {
        if (b->bad_what) return fm_error(FM_STATUS_INVALID_ARGUMENT, "bad JSON in %s: %s", b->bad_what, b->bad_msg);
        if (err.kind == JERR_VALUE && err.line == 0) return fm_error(FM_STATUS_INVALID_ARGUMENT, "%s", err.msg);
        return template_error(&err, "chat template");
    }
    *n_bytes = out.n;
    if (out.n > capacity) {
        free(out.p);
        return FM_STATUS_BUFFER_TOO_SMALL;
    }
    jcopy(buf, out.p, out.n);
    free(out.p);
    return FM_STATUS_OK;
}

fm_status fm_chat_render(const fm_chat_template *t, const fm_chat_message *messages, size_t n_messages,
                         const fm_chat_params *params, char *buf, size_t capacity, size_t *n_bytes) {
    fm_error_clear();
    if (messages == NULL && n_messages)
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_chat_render: messages is NULL");
    bind_ctx b = {0};
    b.msgs = messages;
    b.n_msgs = n_messages;
    return render(t, &b, params, buf, capacity, n_bytes);
}

fm_status fm_chat_render_json(const fm_chat_template *t, const char *messages_json, size_t len,
                              const fm_chat_params *params, char *buf, size_t capacity, size_t *n_bytes) {
    fm_error_clear();
    if (messages_json == NULL) return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_chat_render_json: messages is NULL");
    bind_ctx b = {0};
    b.json = messages_json;
    b.json_n = len;
    return render(t, &b, params, buf, capacity, n_bytes);
}
