/* Internal declarations of the chat layer (lib/chat). */
#ifndef FM_CHAT_CHAT_H
#define FM_CHAT_CHAT_H

#include <stddef.h>

/* The Jinja source of a built-in template, or NULL (chat_builtin.c). */
const char *fm_chat_builtin_source(const char *name);
/* Built-in number i's name, NULL past the end. */
const char *fm_chat_builtin_name_at(size_t i);

#endif
