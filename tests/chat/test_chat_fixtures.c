/* Conformance: every case of every fixture in reference/chat/ (real
 * models' templates rendered by Python's jinja2 as transformers does)
 * renders byte-identical through fm_chat_render_json, or fails where the
 * reference raised. The clock is the fixtures' fixed date, 2026-07-26. */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"
#include "../common/testutil.h"

static const int64_t FIXTURE_NOW = 1785024000; /* 2026-07-26 00:00:00 UTC */

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* first differing byte, for a readable failure */
static size_t diff_at(const char *a, size_t an, const char *b, size_t bn) {
    size_t i = 0;
    while (i < an && i < bn && a[i] == b[i]) i++;
    return i;
}

static int run_file(const char *path, int *n_cases, int *n_errors) {
    json_error_t je;
    json_t *fx = json_load_file(path, 0, &je);
    CHECK(fx != NULL, "%s: %s", path, je.text);
    if (fx == NULL) return 0;
    const char *tmpl = json_string_value(json_object_get(fx, "template"));
    size_t tmpl_n = json_string_length(json_object_get(fx, "template"));
    const char *bos = json_string_value(json_object_get(fx, "bos_token"));
    const char *eos = json_string_value(json_object_get(fx, "eos_token"));
    fm_chat_template *t = NULL;
    fm_status st = fm_chat_template_new(tmpl, tmpl_n, &t);
    CHECK(st == FM_STATUS_OK, "%s: compile: %s", path, fm_last_error());
    if (st != FM_STATUS_OK) { json_decref(fx); return 0; }
    size_t i;
    json_t *c;
    int ok = 0;
    json_array_foreach(json_object_get(fx, "cases"), i, c) {
        const char *id = json_string_value(json_object_get(c, "id"));
        char *msgs = json_dumps(json_object_get(c, "messages"), JSON_PRESERVE_ORDER | JSON_COMPACT);
        json_t *tools = json_object_get(c, "tools");
        char *tools_s = tools ? json_dumps(tools, JSON_PRESERVE_ORDER | JSON_COMPACT) : NULL;
        fm_chat_params p;
        fm_chat_params_init(&p, sizeof p);
        p.add_generation_prompt = json_is_true(json_object_get(c, "add_generation_prompt"));
        p.bos_token = bos;
        p.eos_token = eos;
        p.tools = tools_s;
        p.now = FIXTURE_NOW;
        size_t n = 0;
        st = fm_chat_render_json(t, msgs, strlen(msgs), &p, NULL, 0, &n);
        json_t *want = json_object_get(c, "expected");
        (*n_cases)++;
        if (want) {
            char *buf = malloc(n + 1);
            if (st == FM_STATUS_BUFFER_TOO_SMALL || st == FM_STATUS_OK)
                st = fm_chat_render_json(t, msgs, strlen(msgs), &p, buf, n, &n);
            const char *w = json_string_value(want);
            size_t wn = json_string_length(want);
            int same = st == FM_STATUS_OK && n == wn && memcmp(buf, w, wn) == 0;
            if (st != FM_STATUS_OK) CHECK(0, "%s %s agp=%d: %s", path, id, p.add_generation_prompt, fm_last_error());
            else if (!same) {
                size_t at = diff_at(buf, n, w, wn);
                CHECK(0, "%s %s agp=%d: differs at byte %zu (got %zu bytes, want %zu)\n  got:  %.80s\n  want: %.80s",
                      path, id, p.add_generation_prompt, at, n, wn, buf + (at > 20 ? at - 20 : 0), w + (at > 20 ? at - 20 : 0));
            } else {
                CHECK(1, "ok");
                ok++;
            }
            free(buf);
        } else {
            (*n_errors)++;
            CHECK(st != FM_STATUS_OK && st != FM_STATUS_BUFFER_TOO_SMALL, "%s %s: the reference raised %s (%s) but it rendered",
                  path, id, json_string_value(json_object_get(c, "error_type")), json_string_value(json_object_get(c, "error")));
            if (st != FM_STATUS_OK && st != FM_STATUS_BUFFER_TOO_SMALL) {
                CHECK(strstr(fm_last_error(), "line ") != NULL, "%s %s: the error names no line: %s", path, id, fm_last_error());
                CHECK(strstr(fm_last_error(), json_string_value(json_object_get(c, "error"))) != NULL,
                      "%s %s: the message differs from the reference's", path, id);
                printf("  %s %s: reference %s \"%s\"; libfm: %s\n", strrchr(path, '/') + 1, id,
                       json_string_value(json_object_get(c, "error_type")), json_string_value(json_object_get(c, "error")),
                       fm_last_error());
                ok++;
            }
        }
        free(msgs);
        free(tools_s);
    }
    fm_chat_template_free(t);
    json_decref(fx);
    return ok;
}

int main(void) {
    const char *dir = tu_data("reference/chat");
    DIR *d = opendir(dir);
    CHECK(d != NULL, "cannot open %s", dir);
    if (d == NULL) return tu_finish("chat fixtures");
    char *names[256];
    int nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && nn < 256) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0) names[nn++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)nn, sizeof *names, cmp_names);
    CHECK(nn >= 17, "expected the 17 fixture files, found %d", nn);
    int cases = 0, errors = 0, ok = 0;
    for (int i = 0; i < nn; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        ok += run_file(path, &cases, &errors);
        free(names[i]);
    }
    printf("chat fixtures: %d files, %d cases (%d expected errors), %d as the reference\n", nn, cases, errors, ok);
    CHECK(cases >= 277, "expected the 277 cases, ran %d", cases);
    return tu_finish("chat fixtures");
}
