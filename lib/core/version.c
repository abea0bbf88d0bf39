#include "fm.h"

#define STR2(x) #x
#define STR(x) STR2(x)

const char *fm_version(void) { return STR(FM_VERSION_MAJOR) "." STR(FM_VERSION_MINOR) "." STR(FM_VERSION_PATCH); }

uint32_t fm_version_number(void) { return FM_VERSION_NUMBER; }
