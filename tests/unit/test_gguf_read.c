/* The GGUF reader on hand-made files: every metadata value type (arrays of
 * every kind included), alignment, and the structural errors. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/testutil.h"
#include "format/model_file.h"

typedef struct buf {
    uint8_t d[8192];
    size_t n;
} buf;

static void put(buf *b, const void *p, size_t n) {
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void u32(buf *b, uint32_t v) { put(b, &v, 4); }
static void u64(buf *b, uint64_t v) { put(b, &v, 8); }
static void str(buf *b, const char *s) {
    u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void key(buf *b, const char *k, uint32_t type) {
    str(b, k);
    u32(b, type);
}

/* A file with every value type; `variant` breaks one thing. */
static buf make(int variant) {
    buf b = {{0}, 0};
    u32(&b, 0x46554747u);
    u32(&b, 3);
    u64(&b, 2);  /* tensors */
    u64(&b, 20); /* keys */
    uint8_t u8 = 200; int8_t i8 = -100; uint16_t u16 = 60000; int16_t i16 = -30000;
    int32_t i32 = -2000000000; float f32 = 1.5f; uint8_t bl = variant == 1 ? 2 : 1;
    int64_t i64 = -5000000000LL; double f64 = 2.25;
    key(&b, "k.u8", 0); put(&b, &u8, 1);
    key(&b, "k.i8", 1); put(&b, &i8, 1);
    key(&b, "k.u16", 2); put(&b, &u16, 2);
    key(&b, "k.i16", 3); put(&b, &i16, 2);
    key(&b, "k.u32", 4); u32(&b, 4000000000u);
    key(&b, "k.i32", 5); put(&b, &i32, 4);
    key(&b, "k.f32", 6); put(&b, &f32, 4);
    key(&b, "k.bool", 7); put(&b, &bl, 1);
    key(&b, "k.str", 8); str(&b, "h\xc3\xa9llo");
    key(&b, "k.u64", 10); u64(&b, 10000000000ull);
    key(&b, "k.i64", 11); put(&b, &i64, 8);
    key(&b, "k.f64", 12); put(&b, &f64, 8);
    key(&b, "a.u8", 9); u32(&b, 0); u64(&b, 3); put(&b, "\x01\x02\x03", 3);
    key(&b, "a.i32", 9); u32(&b, 5); u64(&b, 2); u32(&b, (uint32_t)-7); u32(&b, 9);
    key(&b, "a.f32", 9); u32(&b, 6); u64(&b, 1); put(&b, &f32, 4);
    key(&b, "a.str", 9); u32(&b, 8); u64(&b, 3); str(&b, "x"); str(&b, ""); str(&b, "yz");
    key(&b, "a.nested", 9); u32(&b, 9); u64(&b, 2);
    u32(&b, 5); u64(&b, 1); u32(&b, 1);
    u32(&b, 8); u64(&b, 1); str(&b, "deep");
    key(&b, "a.bool", 9); u32(&b, 7); u64(&b, 2); put(&b, "\x00\x01", 2);
    key(&b, "a.empty", 9); u32(&b, 4); u64(&b, 0);
    key(&b, "general.alignment", 4); u32(&b, variant == 2 ? 48 : 64);
    /* tensors: t0 f32 {4, 2} at 0, t1 f16 {4} at 64 */
    if (variant == 5) { /* 2^40 x 2^22 f32: 2^64 bytes, which wraps to 0 in 64 bits */
        str(&b, "t0"); u32(&b, 2); u64(&b, 1ull << 40); u64(&b, 1ull << 22); u32(&b, 0); u64(&b, 0);
    } else {
        str(&b, "t0"); u32(&b, 2); u64(&b, 4); u64(&b, 2); u32(&b, 0); u64(&b, 0);
    }
    str(&b, variant == 3 ? "t0" : "t1"); u32(&b, 1); u64(&b, 4); u32(&b, 1); u64(&b, variant == 4 ? 32 : 64);
    while (b.n % 64) b.d[b.n++] = 0;
    for (int i = 0; i < 8; i++) {
        float f = (float)i;
        put(&b, &f, 4);
    }
    b.n += 32; /* padding to 64 */
    const uint16_t h[4] = {0x3C00, 0xC000, 0x0001, 0x7BFF}; /* 1, -2, 2^-24, 65504 */
    put(&b, h, 8);
    return b;
}

static fm_model_file *open_buf(const buf *b, fm_status *s) {
    const char *path = tu_temp_file(b->d, b->n);
    fm_model_file *mf = NULL;
    *s = fm_model_file_open(path, &mf);
    unlink(path);
    return mf;
}

int main(void) {
    buf b = make(0);
    fm_status s;
    fm_model_file *mf = open_buf(&b, &s);
    CHECK(s == FM_STATUS_OK, "open: %s", fm_last_error());
    if (s) return tu_finish("test_gguf_read");
    CHECK(mf->version == 3 && mf->n_meta == 20 && mf->n_tensors == 2, "counts");
    int64_t i;
    uint32_t u;
    float f;
    int bo;
    fm_str st;
    CHECK(fm_meta_get_i64(mf, "k.u8", &i) == 0 && i == 200, "u8");
    CHECK(fm_meta_get_i64(mf, "k.i8", &i) == 0 && i == -100, "i8");
    CHECK(fm_meta_get_i64(mf, "k.u16", &i) == 0 && i == 60000, "u16");
    CHECK(fm_meta_get_i64(mf, "k.i16", &i) == 0 && i == -30000, "i16");
    CHECK(fm_meta_get_u32(mf, "k.u32", &u) == 0 && u == 4000000000u, "u32");
    CHECK(fm_meta_get_i64(mf, "k.i32", &i) == 0 && i == -2000000000, "i32");
    CHECK(fm_meta_get_f32(mf, "k.f32", &f) == 0 && f == 1.5f, "f32");
    CHECK(fm_meta_get_bool(mf, "k.bool", &bo) == 0 && bo == 1, "bool");
    CHECK(fm_meta_get_str(mf, "k.str", &st) == 0 && fm_str_eq(st, "h\xc3\xa9llo"), "string");
    CHECK(fm_meta_get_i64(mf, "k.u64", &i) == 0 && i == 10000000000LL, "u64");
    CHECK(fm_meta_get_i64(mf, "k.i64", &i) == 0 && i == -5000000000LL, "i64");
    CHECK(fm_meta_get_f32(mf, "k.f64", &f) == 0 && f == 2.25f, "f64");
    CHECK(fm_meta_get_u32(mf, "k.i32", &u) == FM_STATUS_BAD_FORMAT, "negative into u32 is refused");
    CHECK(fm_meta_get_u32(mf, "k.u64", &u) == FM_STATUS_BAD_FORMAT, "u64 over u32 is refused");
    CHECK(fm_meta_get_str(mf, "k.u8", &st) == FM_STATUS_BAD_FORMAT, "wrong type");
    CHECK(fm_meta_get_u32(mf, "nope", &u) == FM_STATUS_NOT_FOUND, "missing key");
    const fm_meta *m = fm_model_file_meta(mf, "a.u8");
    CHECK(m && m->n == 3 && fm_meta_arr_i64(m, 2) == 3, "u8 array");
    m = fm_model_file_meta(mf, "a.i32");
    CHECK(m && m->n == 2 && fm_meta_arr_i64(m, 0) == -7 && fm_meta_arr_i64(m, 1) == 9, "i32 array");
    m = fm_model_file_meta(mf, "a.f32");
    CHECK(m && fm_meta_arr_f64(m, 0) == 1.5, "f32 array");
    m = fm_model_file_meta(mf, "a.str");
    CHECK(m && m->n == 3 && fm_str_eq(m->strs[0], "x") && m->strs[1].len == 0 && fm_str_eq(m->strs[2], "yz"),
          "string array");
    m = fm_model_file_meta(mf, "a.nested");
    CHECK(m && m->type == FM_META_ARRAY && m->elem_type == FM_META_ARRAY && m->n == 2, "nested array");
    m = fm_model_file_meta(mf, "a.bool");
    CHECK(m && fm_meta_arr_i64(m, 1) == 1, "bool array");
    m = fm_model_file_meta(mf, "a.empty");
    CHECK(m && m->n == 0, "empty array");
    const fm_tensor_info *t0 = fm_model_file_tensor(mf, "t0"), *t1 = fm_model_file_tensor(mf, "t1");
    CHECK(t0 && t1, "tensors");
    if (t0 && t1) {
        CHECK(t0->ne[0] == 4 && t0->ne[1] == 2 && t0->nbytes == 32 && t1->nbytes == 8, "shapes");
        CHECK((size_t)(t0->data - mf->map.data) % 64 == 0 && t1->data - t0->data == 64, "alignment 64");
        float x;
        memcpy(&x, t0->data + 4 * 7, 4);
        CHECK(x == 7.0f, "tensor data");
    }
    fm_model_file_close(mf);

    static const struct {
        int variant;
        const char *msg;
    } bad[] = {{1, "bool value 2"}, {2, "power of two"}, {3, "twice"}, {4, "not aligned"}, {5, "too large"}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        b = make(bad[k].variant);
        mf = open_buf(&b, &s);
        CHECK(s == FM_STATUS_BAD_FORMAT && mf == NULL && strstr(fm_last_error(), bad[k].msg),
              "variant %d: %s (%s)", bad[k].variant, fm_status_name(s), fm_last_error());
        fm_model_file_close(mf);
    }
    /* every truncation of the good file fails cleanly */
    b = make(0);
    const size_t full = b.n;
    for (size_t n = 0; n < full; n++) {
        b.n = n;
        mf = open_buf(&b, &s);
        if (s == FM_STATUS_OK) fm_model_file_close(mf);
        CHECK(s != FM_STATUS_OK, "truncated at %zu of %zu loads", n, full);
    }
    return tu_finish("test_gguf_read");
}
