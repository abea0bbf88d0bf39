/* libFuzzer target: the model-file readers (GGUF and llama2.c) over
 * arbitrary bytes. A file that opens is walked the way the loaders walk
 * it: every key through the typed getters, every array element, every
 * tensor's bytes touched at both ends. */
#include <stddef.h>
#include <stdint.h>

#include "format/model_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fm_model_file *mf;
    if (fm_model_file_open_memory(data, size, "fuzz-input", &mf) != FM_STATUS_OK) return 0;
    volatile uint64_t sink = 0;
    for (size_t i = 0; i < mf->n_meta; i++) {
        const fm_meta *m = &mf->meta[i];
        char key[64];
        size_t n = m->key.len < sizeof key - 1 ? m->key.len : sizeof key - 1;
        for (size_t k = 0; k < n; k++) key[k] = m->key.ptr[k];
        key[n] = '\0';
        uint32_t u;
        int64_t v;
        float f;
        int b;
        fm_str s;
        sink += fm_meta_get_u32(mf, key, &u) + fm_meta_get_i64(mf, key, &v) + fm_meta_get_f32(mf, key, &f) +
                fm_meta_get_bool(mf, key, &b) + fm_meta_get_str(mf, key, &s);
        if (m->type == FM_META_ARRAY && m->elem_type != FM_META_STRING && m->elem_type != FM_META_ARRAY)
            for (uint64_t e = 0; e < m->n; e++)
                sink += (uint64_t)fm_meta_arr_i64(m, e) + (fm_meta_arr_f64(m, e) > 0);
        if (m->type == FM_META_ARRAY && m->elem_type == FM_META_STRING)
            for (uint64_t e = 0; e < m->n; e++) sink += m->strs[e].len ? (uint8_t)m->strs[e].ptr[0] : 0;
    }
    for (size_t i = 0; i < mf->n_tensors; i++) {
        const fm_tensor_info *t = &mf->tensors[i];
        sink += t->data[0] + t->data[t->nbytes - 1]; /* in bounds, or ASan says so */
    }
    (void)sink;
    fm_model_file_close(mf);
    return 0;
}
