/* Prints the byte length of every piece libfm's pre-tokenizer FAMILY cuts
 * FILE into, one per line, for pretok_regex.mjs to compare against the
 * family's regex run by a real regex engine. usage: pretok_dump FAMILY FILE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "tokenizer/pretok.h"

static int print_piece(void *user, size_t off, size_t len) {
    (void)user;
    (void)off;
    printf("%zu\n", len);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: pretok_dump FAMILY FILE\n");
        return 2;
    }
    const fm_pretok *pt = fm_pretok_find(argv[1], strlen(argv[1]));
    if (pt == NULL) {
        fprintf(stderr, "no pre-tokenizer '%s'\n", argv[1]);
        return 2;
    }
    size_t len;
    char *text = tu_read_file(argv[2], &len);
    if (text == NULL) {
        fprintf(stderr, "cannot read %s\n", argv[2]);
        return 1;
    }
    fm_pretok_split(pt, (const uint8_t *)text, len, print_piece, NULL);
    free(text);
    return 0;
}
