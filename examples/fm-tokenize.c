/* fm-tokenize: text to token ids with any vocabulary libfm reads (a model,
 * a vocab-only GGUF, a .tiktoken file, a llama2.c tokenizer.bin).
 * Uses only the public API (fm.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unistd.h>

#include "cli_args.h"
#include "cli_util.h"
#include "fm.h"

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

/* Length of the longest prefix of s[0..n) that ends on a UTF-8 character
 * boundary (an invalid byte counts as a character of its own). */
static size_t complete_utf8(const unsigned char *s, size_t n) {
    size_t i = 0, done = 0;
    while (i < n) {
        const unsigned char c = s[i];
        const size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 1;
        size_t k = 1;
        while (k < len && i + k < n && (s[i + k] & 0xc0) == 0x80) k++;
        if (k < len && i + k == n) break; /* cut short: the next token may complete it */
        i += k;
        done = i;
    }
    return done;
}

int main(int argc, char **argv) {
    const char *model = NULL, *text_arg = NULL, *file = NULL, *color_when = NULL;
    int pieces = 0, bench = 0, bos = 0, special = 0;
    const cli_opt opts[] = {
        {"-m|--model", CLI_STR, &model, "FILE",
         "a model, vocab-only GGUF, .tiktoken file or llama2.c tokenizer.bin (required)", NULL, 0},
        {"-p|--prompt", CLI_STR, &text_arg, "TEXT", "text to tokenize", NULL, 0},
        {"-f|--file", CLI_STR, &file, "FILE", "read the text from FILE ('-': stdin)", NULL, 0},
        {"--pieces", CLI_FLAG, &pieces, NULL, "print 'id<TAB>piece' (piece bytes escaped) instead of ids", NULL, 0},
        {"--bos", CLI_FLAG, &bos, NULL, "add BOS (and EOS) as the vocabulary says (default: none)", NULL, 0},
        {"--special", CLI_FLAG, &special, NULL,
         "parse special-token text (<s>, <|endoftext|>, ...) as those tokens\n(default: plain text)", NULL, 0},
        {"--bench", CLI_FLAG, &bench, NULL, "print throughput (median of 5 runs) instead of ids", NULL, 0},
        {"--color", CLI_OPTVAL, &color_when, "WHEN",
         "show the text with tokens on alternating backgrounds (the tokens that\n"
         "form one character share one); WHEN: auto (a terminal only; the\n"
         "default), always, never",
         NULL, 0},
    };
    const cli_spec spec = {"fm-tokenize", "-m FILE (-p TEXT | -f FILE) [options]",
                           "Text to token ids with any vocabulary libfm reads.", {opts}, {sizeof opts / sizeof *opts},
                           "Exit status: 0 done, 1 usage error, 2 runtime error."};
    const int pa = cli_parse(&spec, argc, argv, NULL, NULL);
    if (pa >= 0) return pa;
    if (model == NULL) return cli_usage_error(&spec, "no vocabulary: give -m FILE");
    if ((text_arg == NULL) == (file == NULL))
        return cli_usage_error(&spec, text_arg ? "give -p or -f, not both" : "no text: give -p TEXT or -f FILE");
    int color = 0;
    if (color_when != NULL) {
        if (!strcmp(color_when, "") || !strcmp(color_when, "auto")) color = isatty(1);
        else if (!strcmp(color_when, "always")) color = 1;
        else if (strcmp(color_when, "never"))
            return cli_usage_error(&spec, "--color=%s: want auto, always or never", color_when);
    }
    const uint32_t flags = (bos ? FM_ENCODE_ADD_SPECIAL_AUTO : 0) | (special ? FM_ENCODE_PARSE_SPECIAL : 0);
    size_t len = 0;
    char *text = NULL;
    if (file != NULL) {
        text = !strcmp(file, "-") ? cli_read_stream(stdin, &len) : cli_read_file(file, &len);
        if (text == NULL) {
            fprintf(stderr, "fm-tokenize: cannot read %s: %s\n", file, strerror(errno));
            return CLI_EXIT_RUNTIME;
        }
    } else {
        len = strlen(text_arg);
        text = malloc(len + 1);
        if (text == NULL) return CLI_EXIT_RUNTIME;
        memcpy(text, text_arg, len + 1);
    }

    /* a model file carries its tokenizer; load only that part */
    double t0 = now_s();
    fm_tokenizer *tok;
    fm_status s = fm_tokenizer_load(model, NULL, &tok);
    if (s != FM_STATUS_OK) {
        fprintf(stderr, "fm-tokenize: %s (%s)\n", fm_last_error(), fm_status_name(s));
        free(text);
        return CLI_EXIT_RUNTIME;
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
        return CLI_EXIT_RUNTIME;
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
        /* --color: bytes wait in `pending` until they end a character, so
         * that no escape code lands inside a UTF-8 sequence (byte-fallback
         * tokens of one character share a colour) */
        char pending[4 * sizeof piece];
        size_t n_pending = 0;
        int shade = 0;
        for (size_t i = 0; i < n; i++) {
            size_t pl = 0;
            if (pieces || color)
                fm_tokenizer_token_to_piece(tok, ids[i], FM_DECODE_RENDER_SPECIAL, piece, sizeof piece, &pl);
            if (pl > sizeof piece) pl = sizeof piece;
            if (color) {
                if (n_pending + pl > sizeof pending) n_pending = 0; /* cannot happen: 4 bytes at most wait */
                memcpy(pending + n_pending, piece, pl);
                n_pending += pl;
                const size_t ready = i + 1 == n ? n_pending : complete_utf8((const unsigned char *)pending, n_pending);
                if (ready == 0) continue;
                printf("\x1b[%dm", shade ? 44 : 42);
                fwrite(pending, 1, ready, stdout);
                fputs("\x1b[0m", stdout);
                memmove(pending, pending + ready, n_pending - ready);
                n_pending -= ready;
                shade = !shade;
            } else if (color_when != NULL) {
                /* --color off a terminal: the plain text, written below */
            } else if (pieces) {
                printf("%d\t", ids[i]);
                print_escaped(piece, pl);
                putchar('\n');
            } else {
                printf("%d\n", ids[i]);
            }
        }
        if (color_when != NULL && !color) /* --color off the terminal: the plain text */
            fwrite(text, 1, len, stdout);
        if (color_when != NULL) printf("\n%zu tokens\n", n);
    }
    free(ids);
    free(text);
    fm_tokenizer_free(tok);
    return 0;
}
