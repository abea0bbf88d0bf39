/* libFuzzer target: the chat-template interpreter over arbitrary template
 * bytes. Whatever compiles is rendered for a fixed conversation with a tool
 * call, a tool result and tool definitions, with small output and step
 * limits so that runaway loops and huge outputs end as errors quickly.
 * Nothing may crash, leak, hang or read outside its buffers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char messages[] =
    "[{\"role\": \"system\", \"content\": \"You are terse.\"},"
    " {\"role\": \"user\", \"content\": \"Weather in Paris? \\u00e9\\u4e16 \\\"q\\\" <b>\"},"
    " {\"role\": \"assistant\", \"content\": null, \"tool_calls\": [{\"id\": \"c1\", \"type\": \"function\","
    "   \"function\": {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": [1, 2.5, true, null]}}}]},"
    " {\"role\": \"tool\", \"tool_call_id\": \"c1\", \"name\": \"get_weather\", \"content\": \"{\\\"t\\\": 22}\"},"
    " {\"role\": \"assistant\", \"content\": \"Sunny, 22 C.\"},"
    " {\"role\": \"user\", \"content\": \"\"}]";

static const char tools[] =
    "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the weather\","
    " \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}},"
    " \"required\": [\"city\"]}}}]";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 16) return 0;
    fm_chat_template *t = NULL;
    if (fm_chat_template_new((const char *)data, size, &t) != FM_STATUS_OK) return 0;
    fm_chat_params p;
    fm_chat_params_init(&p, sizeof p);
    p.add_generation_prompt = (int32_t)(size & 1);
    p.bos_token = "<s>";
    p.eos_token = "</s>";
    p.tools = size & 2 ? tools : NULL;
    p.variables = "{\"enable_thinking\": false, \"n\": 3}";
    p.now = 1700000000;
    p.max_output = 1 << 16;
    p.max_steps = 10000;
    size_t n = 0;
    char *buf = malloc(1 << 16);
    if (buf == NULL) abort();
    fm_status st = fm_chat_render_json(t, messages, sizeof messages - 1, &p, buf, 1 << 16, &n);
    if (st == FM_STATUS_OK && n > (1u << 16)) abort();
    /* the size query must agree with the real render */
    if (st == FM_STATUS_OK) {
        size_t n2 = 0;
        if (fm_chat_render_json(t, messages, sizeof messages - 1, &p, NULL, 0, &n2) != FM_STATUS_BUFFER_TOO_SMALL &&
            n != 0)
            abort();
        if (n != 0 && n2 != n) abort();
    }
    free(buf);
    fm_chat_template_free(t);
    return 0;
}
