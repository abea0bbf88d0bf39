#include "dtype.h"

#include "fm_backend.h"

static const fm_dtype_traits traits[] = {
    [FM_DTYPE_F32] = {"f32", 1, 4},       [FM_DTYPE_F16] = {"f16", 1, 2},
    [FM_DTYPE_Q4_0] = {"q4_0", 32, 18},   [FM_DTYPE_Q4_1] = {"q4_1", 32, 20},
    [FM_DTYPE_Q5_0] = {"q5_0", 32, 22},   [FM_DTYPE_Q5_1] = {"q5_1", 32, 24},
    [FM_DTYPE_Q8_0] = {"q8_0", 32, 34},   [FM_DTYPE_Q8_1] = {"q8_1", 32, 36},
    [FM_DTYPE_Q2_K] = {"q2_k", 256, 84},  [FM_DTYPE_Q3_K] = {"q3_k", 256, 110},
    [FM_DTYPE_Q4_K] = {"q4_k", 256, 144}, [FM_DTYPE_Q5_K] = {"q5_k", 256, 176},
    [FM_DTYPE_Q6_K] = {"q6_k", 256, 210}, [FM_DTYPE_Q8_K] = {"q8_k", 256, 292},
    [FM_DTYPE_I8] = {"i8", 1, 1},         [FM_DTYPE_I16] = {"i16", 1, 2},
    [FM_DTYPE_I32] = {"i32", 1, 4},       [FM_DTYPE_I64] = {"i64", 1, 8},
    [FM_DTYPE_F64] = {"f64", 1, 8},       [FM_DTYPE_BF16] = {"bf16", 1, 2},
    /* known to GGUF, so their sizes are checked, but no kernel reads them:
     * a model using one is refused by name (UNSUPPORTED), not as corrupt */
    [16] = {"iq2_xxs", 256, 66},          [17] = {"iq2_xs", 256, 74},
    [18] = {"iq3_xxs", 256, 98},          [19] = {"iq1_s", 256, 50},
    [20] = {"iq4_nl", 32, 18},            [21] = {"iq3_s", 256, 110},
    [22] = {"iq2_s", 256, 82},            [23] = {"iq4_xs", 256, 136},
    [29] = {"iq1_m", 256, 56},            [34] = {"tq1_0", 256, 54},
    [35] = {"tq2_0", 256, 66},
};

const fm_dtype_traits *fm_dtype_get(uint32_t dtype) {
    if (dtype >= sizeof traits / sizeof traits[0] || traits[dtype].name == NULL) return NULL;
    return &traits[dtype];
}

size_t fm_dtype_row_bytes(uint32_t dtype, int64_t n) {
    const fm_dtype_traits *t = fm_dtype_get(dtype);
    if (t == NULL || n < 0 || n % t->block_elems != 0) return 0;
    return (size_t)(n / t->block_elems) * t->block_bytes;
}
