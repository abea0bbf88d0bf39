/* fm-tokenize: text to token ids with any vocabulary libfm reads (a model,
 * a vocab-only GGUF, a .tiktoken file, a llama2.c tokenizer.bin).
 * Uses only the public API (fm.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fm.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: fm-tokenize -m FILE (-p TEXT | -f PATH) [--pieces] [--bos] [--special] [--bench] [--color]\n"
            "  -m FILE     model, vocab-only GGUF, .tiktoken file or llama2.c tokenizer.bin\n"
            "  -p TEXT     text to tokenize;  -f PATH  read it from a file ('-' = stdin)\n"
            "  --pieces    print 'id<TAB>piece' (piece bytes escaped) instead of ids\n"
            "  --bos       add BOS (and EOS) as the vocabulary says\n"
            "  --special   parse special-token text (<s>, <|endoftext|>...) as the tokens\n"
            "  --bench     print throughput (median of 5 runs) instead of ids\n"
            "  --color     show the text with token boundaries as alternating backgrounds\n"
            "By default no BOS is added and special-token text is plain text.\n");
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (size_t r; buf != NULL && (r = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap) {
            char *p = realloc(buf, cap *= 2);
            if (p == NULL) free(buf);
            buf = p;
        }
    }
    if (f != stdin) fclose(f);
    *len = n;
    return buf;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Writes a piece with control bytes and backslashes escaped. */
static void print_escaped(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\') fputs("\\\\", stdout);
        else if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c == '\r') fputs("\\r", stdout);
        else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c);
        else putchar(c);
    }
}

int main(int argc, char **argv) {
    const char *model = NULL, *text_arg = NULL, *file = NULL;
    int pieces = 0, bench = 0, color = 0;
    uint32_t flags = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--pieces")) {
            pieces = 1;
        } else if (!strcmp(a, "--bos")) {
            flags |= FM_ENCODE_ADD_SPECIAL_AUTO;
        } else if (!strcmp(a, "--special")) {
            flags |= FM_ENCODE_PARSE_SPECIAL;
        } else if (!strcmp(a, "--bench")) {
            bench = 1;
        } else if (!strcmp(a, "--color")) {
            color = 1;
        } else if (i + 1 < argc && !strcmp(a, "-m")) {
            model = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "-p")) {
            text_arg = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "-f")) {
            file = argv[++i];
        } else {
            fprintf(stderr, "fm-tokenize: bad argument %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (model == NULL || (text_arg == NULL) == (file == NULL)) {
        usage(stderr);
        return 2;
    }
    size_t len = 0;
    char *text = NULL;
    if (file != NULL) {
        text = read_all(file, &len);
        if (text == NULL) {
            fprintf(stderr, "fm-tokenize: cannot read %s: %s\n", file, strerror(errno));
            return 1;
        }
    } else {
        len = strlen(text_arg);
        text = malloc(len + 1);
        if (text == NULL) return 1;
        memcpy(text, text_arg, len + 1);
    }

    /* a model file carries its tokenizer; load only that part */
    double t0 = now_s();
    fm_tokenizer *tok;
    fm_status s = fm_tokenizer_load(model, NULL, &tok);
    if (s != FM_STATUS_OK) {
        fprintf(stderr, "fm-tokenize: %s (%s)\n", fm_last_error(), fm_status_name(s));
        free(text);
        return 1;
    }
    const double t_load = now_s() - t0;

    size_t n = 0;
    s = fm_tokenizer_encode(tok, text, len, flags, NULL, 0, &n);
    fm_token *ids = malloc((n ? n : 1) * sizeof *ids);
    if (ids == NULL || (s != FM_STATUS_OK && s != FM_STATUS_BUFFER_TOO_SMALL) ||
        fm_tokenizer_encode(tok, text, len, flags, ids, n, &n) != FM_STATUS_OK) {
        fprintf(stderr, "fm-tokenize: %s\n", fm_last_error());
        free(ids);
        free(text);
        fm_tokenizer_free(tok);
        return 1;
    }
    if (bench) {
        double t[5];
        for (int r = 0; r < 5; r++) {
            double a = now_s();
            fm_tokenizer_encode(tok, text, len, flags, ids, n, &n);
            t[r] = now_s() - a;
        }
        qsort(t, 5, sizeof t[0], cmp_double);
        printf("%zu bytes, %zu tokens, %.2f MB/s (median of 5), load %.1f ms\n", len, n, len / t[2] / 1e6,
               t_load * 1e3);
    } else {
        char piece[4096];
        for (size_t i = 0; i < n; i++) {
            size_t pl = 0;
            if (pieces || color)
                fm_tokenizer_token_to_piece(tok, ids[i], FM_DECODE_RENDER_SPECIAL, piece, sizeof piece, &pl);
            if (color) {
                printf("\x1b[%dm", i % 2 ? 44 : 42);
                fwrite(piece, 1, pl < sizeof piece ? pl : sizeof piece, stdout);
                fputs("\x1b[0m", stdout);
            } else if (pieces) {
                printf("%d\t", ids[i]);
                print_escaped(piece, pl < sizeof piece ? pl : sizeof piece);
                putchar('\n');
            } else {
                printf("%d\n", ids[i]);
            }
        }
        if (color) printf("\n%zu tokens\n", n);
    }
    free(ids);
    free(text);
    fm_tokenizer_free(tok);
    return 0;
}
