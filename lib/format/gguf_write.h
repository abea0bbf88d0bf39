/* A streaming GGUF v3 writer: metadata and the tensor directory first, then
 * each tensor's bytes in the order they were declared. Used by fm-mkmodel
 * and the tests that need model files larger than the shared ones. */
#ifndef FM_FORMAT_GGUF_WRITE_H
#define FM_FORMAT_GGUF_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "model_file.h"

typedef struct fm_gguf_writer fm_gguf_writer;

fm_status fm_gguf_writer_open(const char *path, fm_gguf_writer **out);

/* Metadata, before the first tensor's data. */
fm_status fm_gguf_add_u32(fm_gguf_writer *w, const char *key, uint32_t v);
fm_status fm_gguf_add_f32(fm_gguf_writer *w, const char *key, float v);
fm_status fm_gguf_add_str(fm_gguf_writer *w, const char *key, const char *v);
/* A copy of a value read from another file (any type but nested arrays). */
fm_status fm_gguf_add_meta(fm_gguf_writer *w, const fm_meta *m);

/* Declares the next tensor (GGUF shape: ne[0] fastest). */
fm_status fm_gguf_add_tensor(fm_gguf_writer *w, const char *name, uint32_t n_dims, const int64_t *ne, uint32_t dtype);

/* Appends bytes of the tensors' data, in declaration order; the first call
 * writes the header. Each tensor must get exactly its size in bytes (over
 * one call or several). */
fm_status fm_gguf_write_data(fm_gguf_writer *w, const void *data, size_t n);

/* Checks every tensor got its bytes, closes the file and frees w (also on error). */
fm_status fm_gguf_writer_close(fm_gguf_writer *w);

#endif
