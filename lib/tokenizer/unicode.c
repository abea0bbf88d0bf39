#include "unicode.h"

#include <pthread.h>
#include <utf8proc.h>

#include "fm.h"

#include "../core/utf8.h"

static uint16_t class_of_category(utf8proc_category_t c) {
    switch (c) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LT: return FM_UC_LU;
    case UTF8PROC_CATEGORY_LL: return FM_UC_LL;
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: return FM_UC_LO;
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: return FM_UC_M;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO: return FM_UC_N;
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS: case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF: case UTF8PROC_CATEGORY_PO: return FM_UC_P;
    case UTF8PROC_CATEGORY_SM: case UTF8PROC_CATEGORY_SC: case UTF8PROC_CATEGORY_SK: case UTF8PROC_CATEGORY_SO:
        return FM_UC_S;
    case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP: return FM_UC_Z;
    case UTF8PROC_CATEGORY_CN: return FM_UC_UNDEF;
    default: return FM_UC_C;
    }
}

static int is_white_space(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

/* ASCII is most text: answer it from a table built at compile time. */
#define A_(c) ((c) >= 'A' && (c) <= 'Z')
#define a_(c) ((c) >= 'a' && (c) <= 'z')
#define D_(c) ((c) >= '0' && (c) <= '9')
#define WS_(c) (((c) >= 9 && (c) <= 13) || (c) == 32)
#define S_(c) ((c) == '$' || (c) == '+' || (c) == '<' || (c) == '=' || (c) == '>' || (c) == '^' || (c) == '`' || \
               (c) == '|' || (c) == '~')
#define CLS(c)                                                                                                \
    (uint16_t)(A_(c) ? FM_UC_LU : a_(c) ? FM_UC_LL : D_(c) ? FM_UC_N : WS_(c) ? FM_UC_WS : (c) < 32 || (c) == 127 \
                                                                                      ? FM_UC_C                 \
                                                                                  : S_(c) ? FM_UC_S : FM_UC_P)
#define R4(b) CLS(b), CLS(b + 1), CLS(b + 2), CLS(b + 3)
#define R16(b) R4(b), R4(b + 4), R4(b + 8), R4(b + 12)
const uint16_t fm_uc_ascii_class[128] = {R16(0), R16(16), R16(32), R16(48), R16(64), R16(80), R16(96), R16(112)};

static uint16_t class_from_utf8proc(uint32_t cp) {
    if (cp < 128) return fm_uc_ascii_class[cp];
    if (is_white_space(cp)) return FM_UC_WS;
    return class_of_category(utf8proc_category((utf8proc_int32_t)cp));
}

/* The first two planes, tabulated once per process (256 KB, under a
 * millisecond): asking utf8proc costs two calls per character, a fifth of
 * the pre-tokenizer's time on Cyrillic or CJK text. */
uint16_t fm_uc_table[FM_UC_TABLE];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_fill(void) {
    for (uint32_t cp = 0; cp < FM_UC_TABLE; cp++) fm_uc_table[cp] = class_from_utf8proc(cp);
}

void fm_uc_init(void) { pthread_once(&table_once, table_fill); }

uint16_t fm_uc_class_slow(uint32_t cp) {
    if (cp >= FM_UC_TABLE) return class_from_utf8proc(cp);
    fm_uc_init();
    return fm_uc_table[cp];
}

uint32_t fm_uc_tolower(uint32_t cp) {
    if (cp < 128) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    return (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
}

uint32_t fm_uc_nfd_first(uint32_t cp) {
    if (cp < 0xC0) return cp;
    utf8proc_int32_t buf[8];
    int last;
    utf8proc_ssize_t n = utf8proc_decompose_char((utf8proc_int32_t)cp, buf, 8, UTF8PROC_DECOMPOSE, &last);
    return n >= 1 ? (uint32_t)buf[0] : cp;
}

const char *fm_unicode_version(void) { return utf8proc_unicode_version(); }

size_t fm_uc_decode(const uint8_t *s, size_t n, uint32_t *cp) {
    uint8_t b = s[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    size_t len = fm_utf8_seq_len(s, n);
    if (len == 0) {
        *cp = 0xFFFD;
        return 1;
    }
    if (len == 2) *cp = ((uint32_t)(b & 0x1F) << 6) | (s[1] & 0x3F);
    else if (len == 3) *cp = ((uint32_t)(b & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    else *cp = ((uint32_t)(b & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) | ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    return len;
}
