/* fm_grammar_from_regex: a regular expression as a whole grammar. */
#include "../core/error.h"
#include "regex.h"

fm_status fm_grammar_from_regex(const char *re, size_t len, fm_grammar **out) {
    fm_error_clear();
    if (out == NULL || (re == NULL && len > 0))
        return fm_error(FM_STATUS_INVALID_ARGUMENT, "fm_grammar_from_regex: NULL argument");
    *out = NULL;
    fm_nfa nfa;
    fm_status st = fm_regex_to_nfa(re ? re : "", len, 0, "regex", &nfa);
    if (st) return st;
    fm_gbuild *b;
    if ((st = fm_gbuild_new(&b))) {
        fm_nfa_free(&nfa);
        return st;
    }
    uint32_t sym;
    st = fm_nfa_emit(b, &nfa, 0, UINT32_MAX, FM_ENC_UTF8, "regex", &sym);
    if (st == FM_STATUS_NOT_FOUND) st = FM_STATUS_INVALID_ARGUMENT; /* the message stays */
    fm_nfa_free(&nfa);
    const int32_t root = st ? -1 : fm_gbuild_named(b, "root", 4);
    if (!st && root < 0) st = fm_error(FM_STATUS_NO_MEMORY, "out of memory building a grammar");
    if (!st) st = fm_gbuild_prod(b, root, &sym, 1);
    if (st) {
        fm_gbuild_free(b);
        return st;
    }
    return fm_gbuild_finish(b, root, out);
}
