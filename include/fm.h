/*
 * fm.h - the public API of libfm, an embeddable library that runs
 * foundation models (language models first) on an ordinary CPU.
 *
 * This header is the contract: a function that is not declared here is not
 * part of the API. Order: version, status and errors, logging, handles,
 * tokenizer, model, context, sampler.
 *
 * Conventions that hold for every call unless its doc block says otherwise:
 *  - Calls that can fail return an fm_status; FM_STATUS_OK (0) is success and
 *    every error is negative. On error, fm_last_error() names what was wrong
 *    and every out-parameter is left unchanged or set to NULL/0.
 *  - Constructors write the new handle to an `out` parameter; the matching
 *    _free() accepts NULL.
 *  - "Borrowed" means the library does not keep the pointer after the call
 *    returns unless the doc block says for how long.
 *  - Thread safety is one of: "any thread" (safe to call concurrently),
 *    "one thread per object" (concurrent calls on different objects are safe,
 *    on the same object they are not), "init only" (call before other threads
 *    use the library).
 *  - Parameter structs start with `struct_size` and are owned by the
 *    caller: fill one with the matching fm_*_params_init(&p, sizeof p),
 *    then change fields. The library reads a struct only up to its
 *    struct_size: one from an older (smaller) header gets defaults for the
 *    missing tail, one from a newer header is rejected if its unknown tail
 *    is not all zero. So every params struct can grow in a minor version.
 *
 * Experimental declarations sit behind FM_EXPERIMENTAL and may change between
 * minor versions; everything else follows docs/abi.md.
 */
#ifndef FM_H
#define FM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(FM_BUILDING_LIBRARY)
#define FM_API __declspec(dllexport)
#elif defined(__GNUC__)
#define FM_API __attribute__((visibility("default")))
#else
#define FM_API
#endif

/* ------------------------------------------------------------------------
 * Version
 * ------------------------------------------------------------------------ */

#define FM_VERSION_MAJOR 1
#define FM_VERSION_MINOR 1
#define FM_VERSION_PATCH 1
#define FM_VERSION_NUMBER \
    (FM_VERSION_MAJOR * 10000 + FM_VERSION_MINOR * 100 + FM_VERSION_PATCH)

/** The library's version as "MAJOR.MINOR.PATCH". Static string, never NULL.
 *  Thread safety: any thread. Since: 0.1 */
FM_API const char *fm_version(void);

/** The library's FM_VERSION_NUMBER, to compare against the header a program
 *  was compiled with. Thread safety: any thread. Since: 0.1 */
FM_API uint32_t fm_version_number(void);

/* ------------------------------------------------------------------------
 * Status codes and errors
 * ------------------------------------------------------------------------
 * Values are append-only: a number once shipped keeps its meaning forever. */

typedef enum fm_status {
    FM_STATUS_OK = 0,
    FM_STATUS_INVALID_ARGUMENT = -1, /* NULL handle, bad parameter value */
    FM_STATUS_IO = -2,               /* open/read/map failed */
    FM_STATUS_BAD_FORMAT = -3,       /* file or data is malformed */
    FM_STATUS_UNSUPPORTED = -4,      /* well-formed but not supported (yet) */
    FM_STATUS_NO_MEMORY = -5,        /* allocation failed */
    FM_STATUS_CONTEXT_FULL = -6,     /* the KV cache has no room left */
    FM_STATUS_BUFFER_TOO_SMALL = -7, /* caller's buffer too small; see *needed */
    FM_STATUS_NOT_FOUND = -8,        /* lookup found nothing */
    FM_STATUS_INVALID_UTF8 = -9,     /* text is not valid UTF-8 */
    FM_STATUS_BACKEND = -10,         /* a backend reported a failure */
    FM_STATUS_INTERNAL = -11,        /* a bug in libfm: please report it */
    FM_STATUS_CANCELLED = -12,       /* a callback asked to stop (0.4) */
    FM_STATUS_ABORTED = -13          /* a decode's abort callback stopped it (0.5) */
} fm_status;

/** A static, never-NULL name for a status ("FM_STATUS_IO"); unknown values give
 *  "FM_STATUS_UNKNOWN". Thread safety: any thread. Since: 0.1 */
FM_API const char *fm_status_name(fm_status status);

/** A human-readable message describing the last error on the calling thread,
 *  naming the file, offset, tensor or key involved where there is one.
 *  The string is owned by the library and stays valid until this thread's
 *  next call into libfm. It is "" if no call on this thread has failed.
 *  Thread safety: any thread (the message is thread-local). Since: 0.1 */
FM_API const char *fm_last_error(void);

/* ------------------------------------------------------------------------
 * Logging
 * ------------------------------------------------------------------------ */

typedef enum fm_log_level {
    FM_LOG_ERROR = 0,
    FM_LOG_WARN = 1,
    FM_LOG_INFO = 2,
    FM_LOG_DEBUG = 3
} fm_log_level;

/** Receives one complete log line (no trailing newline), UTF-8, valid only
 *  during the call. It may be called from any thread that calls into libfm. */
typedef void (*fm_log_fn)(fm_log_level level, const char *message, void *user);

/** Routes libfm's log lines to `fn` (NULL silences them; the default prints
 *  warnings and errors to stderr) for messages at or below `max_level`.
 *  `user` is passed through untouched.
 *  Thread safety: init only. Since: 0.1 */
FM_API void fm_set_log_callback(fm_log_fn fn, void *user, fm_log_level max_level);

/* ------------------------------------------------------------------------
 * Handles
 * ------------------------------------------------------------------------ */

typedef struct fm_tokenizer fm_tokenizer;   /* vocabulary + algorithm     */
typedef struct fm_detokenizer fm_detokenizer; /* streaming token -> text    */
typedef struct fm_model fm_model;           /* read-only weights          */
typedef struct fm_context fm_context;       /* KV cache + scratch, 1 thread */
typedef struct fm_sampler fm_sampler;       /* chain of sampling steps    */

/** A token id. Valid ids are 0 .. n_vocab-1; FM_TOKEN_NONE means "none". */
typedef int32_t fm_token;
#define FM_TOKEN_NONE ((fm_token)-1)

/** Progress of a long call: `done` goes from 0 to 1. A nonzero return
 *  stops the call, which then returns FM_STATUS_CANCELLED. Called on the
 *  thread that made the call. Since: 0.4 */
typedef int (*fm_progress_fn)(float done, void *user);

/* ------------------------------------------------------------------------
 * Tokenizer
 * ------------------------------------------------------------------------ */

typedef struct fm_tokenizer_params {
    uint32_t struct_size; /* sizeof(fm_tokenizer_params) */
    uint32_t flags;       /* reserved, must be 0 */
} fm_tokenizer_params;

/** Fills `p`, a caller-owned struct of `size` bytes (pass sizeof *p), with
 *  the defaults up to `size` and records `size` in struct_size.
 *  Errors: INVALID_ARGUMENT (NULL, size too small to hold struct_size).
 *  Any thread. Since: 0.5 (replaces fm_tokenizer_default_params) */
FM_API fm_status fm_tokenizer_params_init(fm_tokenizer_params *p, size_t size);

/** Loads a tokenizer alone, without weights, from `path`: a GGUF file (a
 *  model or a vocab-only file) or a llama2.c `tokenizer.bin`.
 *  `params` may be NULL for defaults. On success *out receives a new handle
 *  owned by the caller (free with fm_tokenizer_free()).
 *  Errors: INVALID_ARGUMENT, IO, BAD_FORMAT, UNSUPPORTED (unknown tokenizer
 *  model), NO_MEMORY.
 *  Thread safety: any thread. Since: 0.1 */
FM_API fm_status fm_tokenizer_load(const char *path,
                                   const fm_tokenizer_params *params,
                                   fm_tokenizer **out);

/** Frees a tokenizer from fm_tokenizer_load(). NULL is a no-op. Never call it
 *  on the tokenizer borrowed from fm_model_tokenizer().
 *  Thread safety: one thread per object. Since: 0.1 */
FM_API void fm_tokenizer_free(fm_tokenizer *tok);

/** Number of tokens in the vocabulary (0 for NULL). Any thread. Since: 0.1 */
FM_API int32_t fm_tokenizer_n_vocab(const fm_tokenizer *tok);

typedef enum fm_special_token {
    FM_SPECIAL_BOS = 0,
    FM_SPECIAL_EOS = 1,
    FM_SPECIAL_UNK = 2,
    FM_SPECIAL_PAD = 3,
    FM_SPECIAL_SEP = 4,
    FM_SPECIAL_CLS = 5,
    FM_SPECIAL_MASK = 6
} fm_special_token;

/** The id of a special token, or FM_TOKEN_NONE if the vocabulary has none
 *  (or `tok` is NULL or `which` unknown). Thread safety: any thread. Since: 0.1 */
FM_API fm_token fm_tokenizer_special(const fm_tokenizer *tok, fm_special_token which);

/** Nonzero if `id` ends generation: EOS, the end-of-turn and end-of-message
 *  tokens the GGUF metadata names (tokenizer.ggml.eot_token_id,
 *  eom_token_id), the fill-in-the-middle pad/repo/separator tokens, and the
 *  control tokens known to end a turn by their text (<|eot_id|>,
 *  <|im_end|>, <|end|>, <end_of_turn>, <|endoftext|>, <|eom_id|>, <EOT>,
 *  ...), as llama.cpp's end-of-generation set. 0 for NULL or an id out of
 *  range. Thread safety: any thread. Since: 0.6 */
FM_API int fm_tokenizer_is_eog(const fm_tokenizer *tok, fm_token id);

/** Writes up to `capacity` end-of-generation ids (ascending) to `out` and
 *  their number to *n (the BUFFER_TOO_SMALL protocol of
 *  fm_tokenizer_encode). Errors: INVALID_ARGUMENT, BUFFER_TOO_SMALL.
 *  Any thread. Since: 0.6 */
FM_API fm_status fm_tokenizer_eog_tokens(const fm_tokenizer *tok, fm_token *out, size_t capacity,
                                         size_t *n);

/** Flags for fm_tokenizer_encode(). */
#define FM_ENCODE_ADD_BOS 0x1u       /* prepend BOS if the vocab has one   */
#define FM_ENCODE_ADD_EOS 0x2u       /* append EOS if the vocab has one    */
#define FM_ENCODE_PARSE_SPECIAL 0x4u /* "<s>" etc. in the text become their
                                        control tokens instead of plain text */
#define FM_ENCODE_ADD_SPECIAL_AUTO 0x8u /* add BOS/EOS as the vocab's metadata
                                           says (overrides ADD_BOS/ADD_EOS) */
#define FM_ENCODE_CONTINUE 0x10u /* the text continues earlier text (e.g. a
                                    new chat turn after cached tokens): no
                                    SentencePiece dummy-prefix space at its
                                    start (since 0.7) */

/** Converts `len` bytes of UTF-8 `text` to token ids.
 *  `text` is borrowed and need not be NUL-terminated (it may contain NUL).
 *  Writes up to `capacity` ids to `out` (which may be NULL if capacity is 0)
 *  and the total number of ids to *n_tokens. If the ids do not fit, nothing
 *  useful is in `out`, *n_tokens holds the count needed and the call returns
 *  FM_STATUS_BUFFER_TOO_SMALL: call again with a larger buffer.
 *  User-defined tokens of the vocabulary are always split out; control tokens
 *  only with FM_ENCODE_PARSE_SPECIAL.
 *  Errors: INVALID_ARGUMENT, INVALID_UTF8 (SentencePiece vocabularies reject
 *  malformed UTF-8; see docs/tokenizers.md), BUFFER_TOO_SMALL, NO_MEMORY.
 *  Thread safety: any thread. Since: 0.1 */
FM_API fm_status fm_tokenizer_encode(const fm_tokenizer *tok, const char *text,
                                     size_t len, uint32_t flags, fm_token *out,
                                     size_t capacity, size_t *n_tokens);

/** Flags for fm_tokenizer_token_to_piece() and fm_tokenizer_decode(). */
#define FM_DECODE_RENDER_SPECIAL 0x1u /* control tokens render as their text */
#define FM_DECODE_STRIP_LEADING_SPACE 0x2u /* drop the SentencePiece dummy
                                              prefix space of the first piece */

/** Writes the bytes token `id` stands for (a byte token "<0x0A>" gives the
 *  single byte 0x0A; SentencePiece's U+2581 gives a space) to `buf`, which is
 *  not NUL-terminated. A piece may be part of a UTF-8 sequence. Control
 *  tokens give no bytes unless FM_DECODE_RENDER_SPECIAL.
 *  *n_bytes receives the length (needed length when BUFFER_TOO_SMALL).
 *  Errors: INVALID_ARGUMENT (NULL, or id out of range), BUFFER_TOO_SMALL.
 *  Thread safety: any thread. Since: 0.1 */
FM_API fm_status fm_tokenizer_token_to_piece(const fm_tokenizer *tok, fm_token id,
                                             uint32_t flags, char *buf,
                                             size_t capacity, size_t *n_bytes);

/** Concatenates the pieces of `n` ids into `buf` (as token_to_piece, plus
 *  FM_DECODE_STRIP_LEADING_SPACE), not NUL-terminated, with the same
 *  BUFFER_TOO_SMALL protocol as fm_tokenizer_encode().
 *  Errors: INVALID_ARGUMENT, BUFFER_TOO_SMALL. Any thread. Since: 0.1 */
FM_API fm_status fm_tokenizer_decode(const fm_tokenizer *tok, const fm_token *ids,
                                     size_t n, uint32_t flags, char *buf,
                                     size_t capacity, size_t *n_bytes);

/** Finds the token whose text is exactly `text` (`len` bytes, in the
 *  vocabulary's own spelling, e.g. "▁the" for SentencePiece) and writes it to
 *  *id. Errors: INVALID_ARGUMENT, NOT_FOUND. Any thread. Since: 0.1 */
FM_API fm_status fm_tokenizer_find(const fm_tokenizer *tok, const char *text,
                                   size_t len, fm_token *id);

/** The Unicode version of the character tables the tokenizers use for
 *  pre-tokenization and normalization (e.g. "15.0.0"). Static string.
 *  Any thread. Since: 0.1 */
FM_API const char *fm_unicode_version(void);

/** Creates a streaming detokenizer over `tok`, which is borrowed and must
 *  outlive it. `flags` are FM_DECODE_* flags. It turns one token at a time
 *  into text and never emits a partial UTF-8 sequence: bytes of an incomplete
 *  character are held until it completes (or is flushed).
 *  Errors: INVALID_ARGUMENT, NO_MEMORY. Any thread. Since: 0.1 */
FM_API fm_status fm_detokenizer_new(const fm_tokenizer *tok, uint32_t flags,
                                    fm_detokenizer **out);

/** Feeds one token and writes the text that is complete so far to `buf`
 *  (not NUL-terminated; *n_bytes its length). A buffer of 64 bytes plus the
 *  longest token is always enough. On BUFFER_TOO_SMALL the token was not
 *  consumed and *n_bytes holds the size needed.
 *  Errors: INVALID_ARGUMENT, BUFFER_TOO_SMALL.
 *  Thread safety: one thread per object. Since: 0.1 */
FM_API fm_status fm_detokenizer_push(fm_detokenizer *d, fm_token id, char *buf,
                                     size_t capacity, size_t *n_bytes);

/** Writes any held bytes (an incomplete UTF-8 sequence, as U+FFFD per invalid
 *  byte) and resets the stream to its start.
 *  Errors: INVALID_ARGUMENT, BUFFER_TOO_SMALL. One thread per object. Since: 0.1 */
FM_API fm_status fm_detokenizer_flush(fm_detokenizer *d, char *buf,
                                      size_t capacity, size_t *n_bytes);

/** Frees a detokenizer. NULL is a no-op. One thread per object. Since: 0.1 */
FM_API void fm_detokenizer_free(fm_detokenizer *d);

/* ------------------------------------------------------------------------
 * Model
 * ------------------------------------------------------------------------ */

typedef struct fm_model_params {
    uint32_t struct_size;       /* sizeof(fm_model_params) */
    uint32_t flags;             /* reserved, must be 0 */
    /* Tokenizer file for formats that keep it apart (llama2.c checkpoints
     * need `tokenizer.bin`). NULL: use the one inside the model file, or for
     * a llama2.c checkpoint "tokenizer.bin" beside it. Borrowed. */
    const char *tokenizer_path;
    /* 0.5: called as the load goes on, from 0 to 1, on the loading thread;
     * a nonzero return cancels the load (CANCELLED, nothing kept). */
    fm_progress_fn progress;
    void *progress_user;
} fm_model_params;

/** Fills `p` (caller-owned, `size` bytes: pass sizeof *p) with the
 *  defaults, as fm_tokenizer_params_init() does. Errors: INVALID_ARGUMENT.
 *  Any thread. Since: 0.5 (replaces fm_model_default_params) */
FM_API fm_status fm_model_params_init(fm_model_params *p, size_t size);

/** Loads a model (GGUF v2/v3, or a llama2.c `.bin` checkpoint) from `path`,
 *  mapping the file read-only. `params` may be NULL for defaults.
 *  On success *out receives a new model owned by the caller; free it with
 *  fm_model_free() after every context made from it.
 *  Errors: INVALID_ARGUMENT, IO, BAD_FORMAT (the message names the offset,
 *  key or tensor), UNSUPPORTED (architecture or weight type), NO_MEMORY,
 *  CANCELLED (params->progress said stop; everything is freed).
 *  Thread safety: any thread. Since: 0.1 */
FM_API fm_status fm_model_load(const char *path, const fm_model_params *params,
                               fm_model **out);

/** Frees a model. NULL is a no-op. Every context made from it must already be
 *  freed. Thread safety: one thread per object. Since: 0.1 */
FM_API void fm_model_free(fm_model *model);

/** The model's tokenizer, borrowed: valid as long as the model, never freed
 *  by the caller. NULL only for NULL. Any thread. Since: 0.1 */
FM_API const fm_tokenizer *fm_model_tokenizer(const fm_model *model);

typedef enum fm_model_info {
    FM_MODEL_N_VOCAB = 0,
    FM_MODEL_N_EMBD = 1,
    FM_MODEL_N_LAYER = 2,
    FM_MODEL_N_HEAD = 3,
    FM_MODEL_N_HEAD_KV = 4,
    FM_MODEL_N_CTX_TRAIN = 5,
    FM_MODEL_N_FF = 6,
    FM_MODEL_N_PARAMS = 7,   /* number of weights */
    FM_MODEL_SIZE_BYTES = 8, /* bytes of weight data */
    FM_MODEL_IS_ENCODER = 9, /* 1: bidirectional encoder (BERT), no logits; since 0.2 */
    FM_MODEL_POOLING = 10,   /* the fm_pooling the model asks for; since 0.2 */
    FM_MODEL_N_TENSORS = 11, /* tensors in the file; since 0.2 */
    FM_MODEL_N_META = 12     /* metadata keys in the file; since 0.2 */
} fm_model_info;

/** One integer fact about the model (0 for NULL or an unknown key).
 *  Any thread. Since: 0.1 */
FM_API int64_t fm_model_get_info(const fm_model *model, fm_model_info what);

/** The architecture name ("llama"). Owned by the model. Any thread. Since: 0.1 */
FM_API const char *fm_model_arch(const fm_model *model);

/** Copies metadata value `key` as text (numbers in decimal, booleans as
 *  "true"/"false", arrays as "[array of N]") into `buf`, NUL-terminated;
 *  *n_bytes gets the length without the NUL (needed length on
 *  BUFFER_TOO_SMALL). Errors: INVALID_ARGUMENT, NOT_FOUND, BUFFER_TOO_SMALL.
 *  Any thread. Since: 0.1 */
FM_API fm_status fm_model_meta(const fm_model *model, const char *key, char *buf,
                               size_t capacity, size_t *n_bytes);

/** Element `i` of the array metadata `key` as text, as fm_model_meta()
 *  writes a value (strings as they are, numbers in decimal), into `buf`,
 *  NUL-terminated, with its BUFFER_TOO_SMALL protocol; *n_elems (may be
 *  NULL) receives the array's length, also when `i` is past it. Nested
 *  arrays give "[array]".
 *  Errors: INVALID_ARGUMENT (NULL, not an array, `i` out of range),
 *  NOT_FOUND, BUFFER_TOO_SMALL. Any thread. Since: 1.1 */
FM_API fm_status fm_model_meta_array(const fm_model *model, const char *key, uint64_t i, char *buf,
                                     size_t capacity, size_t *n_bytes, uint64_t *n_elems);

/** The name of metadata key number `i` (0 <= i < FM_MODEL_N_META), in file
 *  order, owned by the model; NULL if out of range. Read its value with
 *  fm_model_meta(). Any thread. Since: 0.2 */
FM_API const char *fm_model_meta_key(const fm_model *model, int64_t i);

/** One tensor of the model file, as fm_model_tensor() describes it. The
 *  strings are owned by the model. */
typedef struct fm_tensor_desc {
    uint32_t struct_size; /* set by the caller: sizeof(fm_tensor_desc) */
    int32_t n_dims;
    const char *name;     /* NUL-terminated, e.g. "blk.0.attn_q.weight" */
    const char *type;     /* weight type name: "f32", "q4_K", ... */
    int32_t dtype;        /* GGUF type id (fm_dtype in fm_backend.h) */
    int64_t ne[4];        /* shape, fastest dimension first (GGUF order); 1 past n_dims */
    uint64_t n_bytes;     /* bytes of data */
    uint64_t offset;      /* byte offset of the data in the file */
} fm_tensor_desc;

/** Describes tensor number `i` (0 <= i < FM_MODEL_N_TENSORS), in file order.
 *  Fills only the fields that fit in desc->struct_size.
 *  Errors: INVALID_ARGUMENT (NULL, i out of range, struct_size too small).
 *  Any thread. Since: 0.2 */
FM_API fm_status fm_model_tensor(const fm_model *model, int64_t i, fm_tensor_desc *desc);

/* ------------------------------------------------------------------------
 * Quantization: writing a GGUF file in other weight types
 * ------------------------------------------------------------------------ */

/** Targets of fm_model_quantize(): a weight type for every matrix, or a
 *  named mixture that keeps some tensors in higher types (Q4_K_M keeps
 *  half the attn_v and ffn_down matrices and the output in q6_K). The
 *  numbers are GGUF's `general.file_type` (llama.cpp's llama_ftype); the
 *  per-tensor rules are in docs/formats.md. Since: 0.4 */
typedef enum fm_ftype {
    FM_FTYPE_ALL_F32 = 0,
    FM_FTYPE_F16 = 1,
    FM_FTYPE_Q4_0 = 2,
    FM_FTYPE_Q4_1 = 3,
    FM_FTYPE_Q8_0 = 7,
    FM_FTYPE_Q5_0 = 8,
    FM_FTYPE_Q5_1 = 9,
    FM_FTYPE_Q2_K = 10,
    FM_FTYPE_Q3_K_S = 11,
    FM_FTYPE_Q3_K_M = 12,
    FM_FTYPE_Q3_K_L = 13,
    FM_FTYPE_Q4_K_S = 14,
    FM_FTYPE_Q4_K_M = 15,
    FM_FTYPE_Q5_K_S = 16,
    FM_FTYPE_Q5_K_M = 17,
    FM_FTYPE_Q6_K = 18,
    FM_FTYPE_IQ4_NL = 25,
    FM_FTYPE_IQ4_XS = 30,
    FM_FTYPE_BF16 = 32
} fm_ftype;

/** Flags of fm_quantize_params. */
#define FM_QUANTIZE_PURE 1u             /* every quantized matrix in the target's base type, no mixture */
#define FM_QUANTIZE_ALLOW_REQUANTIZE 2u /* accept already quantized input matrices (they lose quality) */

typedef struct fm_quantize_params {
    uint32_t struct_size; /* set by fm_quantize_params_init() */
    uint32_t flags;       /* FM_QUANTIZE_* */
    int32_t ftype;        /* fm_ftype; default FM_FTYPE_Q4_K_M */
    int32_t n_threads;    /* 0 = every core (default) */
    fm_progress_fn progress; /* NULL: none */
    void *progress_user;
} fm_quantize_params;

/** Fills `p`, a caller-owned struct of `size` bytes (pass sizeof *p), with
 *  the defaults, up to `size`: the pattern every params struct of 0.4 on
 *  follows, so that the struct can grow without breaking old callers.
 *  Errors: INVALID_ARGUMENT (NULL, size too small to hold struct_size).
 *  Any thread. Since: 0.4 */
FM_API fm_status fm_quantize_params_init(fm_quantize_params *p, size_t size);

/** Reads the GGUF model at `in_path` (f32, f16 or bf16 matrices) and writes
 *  a copy at `out_path` whose matrices are quantized to `params->ftype`:
 *  metadata copied, `general.file_type` and `general.quantization_version`
 *  set as llama-quantize sets them; norms, biases and other vectors stay
 *  f32. The quantizers are llama.cpp's reference procedures: the same input
 *  gives the same bytes. A matrix whose rows are not whole blocks of the
 *  type it would get is kept in a type that fits (q4_K -> q5_0, q6_K ->
 *  q8_0, ..., else f16) and a warning names it. The file is written under a
 *  temporary name beside `out_path` and renamed at the end: on any error
 *  nothing is left behind.
 *  Errors: INVALID_ARGUMENT (NULL, unknown ftype, bad params), IO (cannot
 *  read the input or write the output: missing folder, full disk),
 *  BAD_FORMAT (corrupt input), UNSUPPORTED (input matrices already
 *  quantized without FM_QUANTIZE_ALLOW_REQUANTIZE, or of a type libfm
 *  cannot read), NO_MEMORY, CANCELLED (the progress callback said stop).
 *  Thread safety: any thread; the call starts its own n_threads workers.
 *  Since: 0.4 */
FM_API fm_status fm_model_quantize(const char *in_path, const char *out_path, const fm_quantize_params *params);

/** The fm_ftype a name stands for, case-insensitively as llama-quantize
 *  spells them ("Q4_K_M", "q8_0", "IQ4_XS"; "Q4_K", "Q5_K" and "Q3_K" mean
 *  their _M mixture). Errors: INVALID_ARGUMENT (NULL), NOT_FOUND (unknown
 *  name). Any thread. Since: 0.4 */
FM_API fm_status fm_ftype_from_name(const char *name, int32_t *ftype);

/** The canonical name of an fm_ftype ("Q4_K_M"), or NULL for an unknown
 *  value. Static storage. Any thread. Since: 0.4 */
FM_API const char *fm_ftype_name(int32_t ftype);

/* ------------------------------------------------------------------------
 * Context: KV cache and the forward pass
 * ------------------------------------------------------------------------ */

/** Checked by a decode between layers: a nonzero return stops it, and the
 *  decode returns FM_STATUS_ABORTED with the context as before the call.
 *  Called on the decoding thread. Since: 0.5 */
typedef int (*fm_abort_fn)(void *user);

/** KV cache element types for fm_context_params.kv_type (GGUF's numbers). */
#define FM_KV_F32 0 /* floats: exact */
#define FM_KV_F16 1 /* halves: half the memory and the bytes attention reads;
    keys and values are rounded to 11 significant bits as they are stored
    (logits move by ~1e-2, tested) */

/** The most sequences a context can hold (n_seq_max). */
#define FM_SEQ_MAX 256

typedef struct fm_context_params {
    uint32_t struct_size; /* set by fm_context_params_init() */
    uint32_t n_ctx;       /* KV cache cells, shared by all sequences; 0 = the
                             model's training context */
    uint32_t n_batch;     /* most tokens evaluated at once; longer inputs are
                             split internally. Default 512 */
    int32_t n_threads;    /* compute threads; 0 = number of cores; more
                             than 4 x the cores (at least 8, at most 512)
                             are capped there, with a warning */
    const char *backend;  /* backend name, borrowed; NULL = "cpu" */
    /* 0.5 */
    uint32_t flags;       /* FM_CONTEXT_* bits (below); default 0 */
    int32_t kv_type;      /* FM_KV_F32 (default) or FM_KV_F16 */
    uint32_t n_seq_max;   /* sequence ids are 0 .. n_seq_max-1; default 1,
                             at most FM_SEQ_MAX */
    fm_abort_fn abort;    /* NULL: decodes run to the end */
    void *abort_user;
} fm_context_params;

/** Fills `p` (caller-owned, `size` bytes: pass sizeof *p) with the
 *  defaults: n_ctx 0, n_batch 512, n_threads 0, backend NULL, flags 0,
 *  kv_type FM_KV_F32, n_seq_max 1, no abort callback.
 *  Errors: INVALID_ARGUMENT. Any thread.
 *  Since: 0.5 (replaces fm_context_default_params) */
FM_API fm_status fm_context_params_init(fm_context_params *p, size_t size);

/** Creates a context over `model` (borrowed: it must outlive the context) with
 *  an empty KV cache of params->n_ctx cells. `params` may be NULL.
 *  Errors: INVALID_ARGUMENT (a bad field: the message names it), NOT_FOUND
 *  (no backend of that name), UNSUPPORTED (the backend cannot run this
 *  model, or cannot honour a flag or the cache type), NO_MEMORY, BACKEND.
 *  Thread safety: any thread; the model may be shared by many contexts.
 *  Since: 0.1 */
FM_API fm_status fm_context_new(fm_model *model, const fm_context_params *params,
                                fm_context **out);

/** Frees a context. NULL is a no-op. One thread per object. Since: 0.1 */
FM_API void fm_context_free(fm_context *ctx);

/** Which logits fm_context_decode() keeps. */
#define FM_LOGITS_LAST 0u /* only after the last token of the batch */
#define FM_LOGITS_ALL 1u  /* after every token of the batch */

/** Evaluates `n_tokens` ids (borrowed) as sequence 0, at the positions
 *  after its last one (fm_context_n_past()), e.g. a whole prompt in one
 *  call, then keeps logits as `logits_mode` says (FM_LOGITS_LAST or
 *  FM_LOGITS_ALL): fm_context_decode_batch() of those tokens, the
 *  convenience for one sequence. Encoder models (BERT) have no logits:
 *  they answer UNSUPPORTED here; use fm_context_embed().
 *  If the tokens do not fit in the free cells, nothing is evaluated, the
 *  call returns FM_STATUS_CONTEXT_FULL and the context is unchanged and usable.
 *  An id outside the vocabulary gives INVALID_ARGUMENT with the cache
 *  unchanged. Errors: INVALID_ARGUMENT, CONTEXT_FULL, UNSUPPORTED, NO_MEMORY,
 *  BACKEND, ABORTED. Thread safety: one thread per object. Since: 0.1 */
FM_API fm_status fm_context_decode(fm_context *ctx, const fm_token *tokens,
                                   size_t n_tokens, uint32_t logits_mode);

/* ---- Batches of several sequences ---- */

/** A sequence id: 0 .. n_seq_max-1 of the context. */
typedef int32_t fm_seq_id;

/** A list of tokens to evaluate in one forward pass, each with its
 *  position, the sequences it belongs to and whether its logits are kept.
 *  The caller owns it (fm_batch_new / fm_batch_free) and may reuse it
 *  (fm_batch_clear); it grows as tokens are added. Since: 0.5 */
typedef struct fm_batch fm_batch;

/** Position for fm_batch_add(): the one after the sequence's last (its
 *  last in the cache, or its last earlier in the same batch). */
#define FM_POS_NEXT (-1)

/** Creates an empty batch. Errors: INVALID_ARGUMENT, NO_MEMORY.
 *  Any thread. Since: 0.5 */
FM_API fm_status fm_batch_new(fm_batch **out);

/** Frees a batch and everything it holds. NULL is a no-op.
 *  Thread safety: one thread per object. Since: 0.5 */
FM_API void fm_batch_free(fm_batch *batch);

/** Empties a batch for reuse (its memory is kept). NULL is a no-op.
 *  One thread per object. Since: 0.5 */
FM_API void fm_batch_clear(fm_batch *batch);

/** Appends one token at position `pos` (>= 0, or FM_POS_NEXT) of the
 *  `n_seq` sequences in `seq_ids` (borrowed; 1 .. FM_SEQ_MAX distinct ids:
 *  a shared prefix is one token in several sequences, evaluated and
 *  stored once). `logits` nonzero keeps the token's logits. Sequence ids
 *  are checked against the context at decode time.
 *  Errors: INVALID_ARGUMENT (NULL, pos < FM_POS_NEXT, n_seq out of range,
 *  an id outside 0 .. FM_SEQ_MAX-1), NO_MEMORY (the batch is unchanged).
 *  One thread per object. Since: 0.5 */
FM_API fm_status fm_batch_add(fm_batch *batch, fm_token token, int32_t pos, const fm_seq_id *seq_ids,
                              int32_t n_seq, int logits);

/** Tokens in the batch (0 for NULL). Thread safety: one thread per
 *  object. Since: 0.5 */
FM_API int32_t fm_batch_n_tokens(const fm_batch *batch);

/** Evaluates every token of `batch` (borrowed) in one forward pass (split
 *  into n_batch-sized pieces internally): the weights are read once for all
 *  sequences. A token sees the cached tokens of its own sequences at
 *  positions up to its own (and within the model's sliding window), and the
 *  earlier tokens of the batch the same way. Afterwards fm_context_logits(ctx, i)
 *  gives the logits of batch token i where it asked for them.
 *  Rules: within one batch each sequence's positions increase; a position
 *  a sequence already holds cannot be added again (remove it first); a
 *  sequence id must be below the context's n_seq_max.
 *  Determinism: with FM_CONTEXT_BATCH_INVARIANT a sequence's logits are
 *  bit-identical whether it is decoded alone or with others, at any thread
 *  count; otherwise they agree within the tolerance docs/api.md states.
 *  On any error nothing is evaluated or kept: the cache is as before.
 *  Errors: INVALID_ARGUMENT (NULL, empty batch, a token outside the
 *  vocabulary, a bad sequence id or position: the message names the
 *  entry), CONTEXT_FULL (not enough free cells), UNSUPPORTED (an encoder
 *  model; a backend of ABI < 4 given a layout it cannot read), NO_MEMORY,
 *  BACKEND, ABORTED. One thread per object. Since: 0.5 */
FM_API fm_status fm_context_decode_batch(fm_context *ctx, const fm_batch *batch);

/** Logits after token `i` of the last decoded batch (i < 0 counts from the
 *  end: -1 is the last), n_vocab floats owned by the context and valid until
 *  its next decode, clear or free. NULL if that row was not kept (then
 *  fm_last_error() says why). One thread per object. Since: 0.1 */
FM_API const float *fm_context_logits(fm_context *ctx, int32_t i);

/** Sequence 0's next position: one past its last (0 when empty, or for
 *  NULL). A single-sequence caller's "positions in use". One thread per
 *  object. Since: 0.1 */
FM_API uint32_t fm_context_n_past(const fm_context *ctx);

/** KV cache capacity in cells, shared by all sequences (0 for NULL). One
 *  thread per object. Since: 0.1 */
FM_API uint32_t fm_context_n_ctx(const fm_context *ctx);

/** Forgets sequence 0's positions n_keep and later, so decoding continues
 *  at n_keep (n_keep = 0 empties it): fm_context_seq_rm(ctx, 0, n_keep, -1).
 *  Errors: INVALID_ARGUMENT (n_keep > n_past). One thread per object.
 *  Since: 0.1 */
FM_API fm_status fm_context_truncate(fm_context *ctx, uint32_t n_keep);

/* ---- Editing the KV cache. Position ranges are [p0, p1); p1 < 0 means
 * "to the end". Each sequence keeps its cells in a list sorted by
 * position, so an edit finds its range by binary search and works on the
 * cells it touches, plus one memmove of the list's tail (keep, which
 * touches every cell, is one pass); none
 * copies key or value data except a shift of cells other sequences
 * share. ---- */

/** Empties the cache: every sequence, every cell. One thread per object.
 *  Errors: INVALID_ARGUMENT (NULL). Since: 0.5 */
FM_API fm_status fm_context_clear(fm_context *ctx);

/** Removes positions [p0, p1) from sequence `seq` (seq < 0: from every
 *  sequence); a cell no sequence holds any more is freed.
 *  Errors: INVALID_ARGUMENT (NULL, seq >= n_seq_max, p0 < 0).
 *  One thread per object. Since: 0.5 */
FM_API fm_status fm_context_seq_rm(fm_context *ctx, fm_seq_id seq, int32_t p0, int32_t p1);

/** Makes positions [p0, p1) of `src` part of `dst` too: the cells are
 *  shared, nothing is copied (decode a prefix once, then branch).
 *  Errors: INVALID_ARGUMENT (NULL, an id out of range, p0 < 0).
 *  One thread per object. Since: 0.5 */
FM_API fm_status fm_context_seq_cp(fm_context *ctx, fm_seq_id src, fm_seq_id dst, int32_t p0, int32_t p1);

/** Keeps only sequence `seq`: every other sequence is removed.
 *  Errors: INVALID_ARGUMENT. One thread per object. Since: 0.5 */
FM_API fm_status fm_context_seq_keep(fm_context *ctx, fm_seq_id seq);

/** Adds `delta` to the positions [p0, p1) of sequence `seq` ("context
 *  shift": remove old turns with fm_context_seq_rm, then move the rest
 *  down to continue past the window). Cached keys are re-rotated so that
 *  they are what decoding at the new positions would have stored (up to
 *  rounding: tested within 1e-3 of the logits of decoding the shifted
 *  text from scratch). Positions that would fall below 0 are removed.
 *  Cells another sequence shares are split off first (the other keeps
 *  its positions), which needs a free cell each.
 *  Errors: INVALID_ARGUMENT (NULL, bad id, p0 < 0), UNSUPPORTED (the model
 *  has learned absolute positions, which cannot be shifted), CONTEXT_FULL
 *  (no free cells for the splits; nothing changed), NO_MEMORY.
 *  One thread per object. Since: 0.5 */
FM_API fm_status fm_context_seq_shift(fm_context *ctx, fm_seq_id seq, int32_t p0, int32_t p1, int32_t delta);

/** The smallest and largest position of `seq` (both -1 when it holds
 *  none); either pointer may be NULL. Errors: INVALID_ARGUMENT.
 *  One thread per object. Since: 0.5 */
FM_API fm_status fm_context_seq_pos_range(const fm_context *ctx, fm_seq_id seq, int32_t *pos_min, int32_t *pos_max);

/** Changes the number of compute threads (0 = cores; capped as
 *  fm_context_params.n_threads is). Logits never depend
 *  on the thread count: every output row is computed by one thread, the
 *  same way whatever the count. Errors: INVALID_ARGUMENT.
 *  One thread per object. Since: 0.1 */
FM_API fm_status fm_context_set_n_threads(fm_context *ctx, int32_t n_threads);

/** The tokens sequence `seq` holds, in position order, into `out`
 *  (`capacity` ids; *n_tokens gets the count), with the BUFFER_TOO_SMALL
 *  protocol of fm_tokenizer_encode(). A caller compares them with a new
 *  prompt to decode only what differs (the common prefix stays: remove
 *  the rest with fm_context_seq_rm). Errors: INVALID_ARGUMENT,
 *  BUFFER_TOO_SMALL, NO_MEMORY. One thread per object. Since: 0.5 */
FM_API fm_status fm_context_seq_tokens(const fm_context *ctx, fm_seq_id seq, fm_token *out, size_t capacity,
                                       size_t *n_tokens);

/* ---- Saved state: one sequence or the whole context, to memory or a
 * file. The format (docs/formats.md) is versioned and carries a
 * fingerprint of the model (hyper-parameters and tensor directory), the
 * cache settings it depends on, the cells compressed with zstd, and a
 * checksum over everything; a load checks all of it before it changes
 * anything. ---- */

/** fm_context_state_* `seq` value: the whole context (every sequence, the
 *  cells where they were, and the logits of the last batch). */
#define FM_STATE_ALL (-1)

/** Writes the state of sequence `seq` (its cells: positions, keys and
 *  values), or of the whole context for FM_STATE_ALL, to `buf` (not
 *  NUL-terminated) and its length to *n_bytes. When `capacity` is too
 *  small the call returns BUFFER_TOO_SMALL with *n_bytes set to a size
 *  that is always enough (compression makes the exact size known only
 *  after the fact); capacity 0 asks for it.
 *  Errors: INVALID_ARGUMENT (NULL, bad seq), BUFFER_TOO_SMALL, NO_MEMORY.
 *  One thread per object. Since: 0.5 */
FM_API fm_status fm_context_state_save(fm_context *ctx, fm_seq_id seq, void *buf, size_t capacity, size_t *n_bytes);

/** Restores a state written by fm_context_state_save() (`len` bytes,
 *  borrowed). For FM_STATE_ALL the context becomes exactly what it was,
 *  so decoding and sampling continue bit-identically; for a sequence
 *  state, sequence `seq` of this context is replaced by the saved one
 *  (the saved sequence's id does not matter), the others are untouched.
 *  Everything is checked before the cache changes: on any error the
 *  context is as before the call.
 *  Errors: INVALID_ARGUMENT (NULL, bad seq, a whole-context state loaded
 *  as a sequence or the other way round), BAD_FORMAT (not a state,
 *  truncated, corrupted: checksum, sizes), UNSUPPORTED (a newer format
 *  version), a mismatch with this context named in the message:
 *  INVALID_ARGUMENT for another model, another cache type, more
 *  sequences than n_seq_max; CONTEXT_FULL (more cells than fit),
 *  NO_MEMORY. One thread per object. Since: 0.5 */
FM_API fm_status fm_context_state_load(fm_context *ctx, fm_seq_id seq, const void *buf, size_t len);

/** fm_context_state_save() into the file `path`, written atomically: a
 *  temporary file beside it, flushed to disk (fsync), then renamed over
 *  `path`; on any error no file is left behind and `path` is untouched.
 *  Errors: as fm_context_state_save, IO. One thread per object. Since: 0.5 */
FM_API fm_status fm_context_state_save_file(fm_context *ctx, fm_seq_id seq, const char *path);

/** fm_context_state_load() from the file `path`. Errors: as
 *  fm_context_state_load, IO. One thread per object. Since: 0.5 */
FM_API fm_status fm_context_state_load_file(fm_context *ctx, fm_seq_id seq, const char *path);

/** fm_context_params.flags and fm_context_set_flags() bits. */
#define FM_CONTEXT_BATCH_INVARIANT 1u /* a token's logits are bit-identical
    whether its prompt is decoded in one batch, in chunks or one token at a
    time, alone or beside other sequences: batched prompts use the
    single-token kernels (no BLAS GEMM), which costs prompt-processing
    speed (docs/performance.md) */

/** Sets the context's FM_CONTEXT_* flags (0 clears them) on a live
 *  context. Errors: INVALID_ARGUMENT (unknown bits), UNSUPPORTED (the
 *  backend cannot honour a flag). On error the flags are unchanged.
 *  (0.5: the KV cache type moved to fm_context_params.kv_type.)
 *  One thread per object. Since: 0.2 */
FM_API fm_status fm_context_set_flags(fm_context *ctx, uint32_t flags);

/** How fm_context_embed() turns per-token hidden states into a vector.
 *  The numbers are GGUF's `<arch>.pooling_type` values. */
typedef enum fm_pooling {
    FM_POOLING_MODEL = -1, /* what the model asks for (FM_MODEL_POOLING) */
    FM_POOLING_NONE = 0,   /* no pooling: one vector per token */
    FM_POOLING_MEAN = 1,   /* mean over all tokens (special ones included) */
    FM_POOLING_CLS = 2,    /* the first token's vector */
    FM_POOLING_LAST = 3    /* the last token's vector */
} fm_pooling;

/** fm_context_embed() flags. */
#define FM_EMBED_NORMALIZE 1u /* scale every output vector to unit L2 norm */

/** Embeds one sequence: evaluates `n_tokens` ids (borrowed) from position 0
 *  in an emptied context and writes the final hidden states - after the
 *  model's last norm for decoders, the encoder's last layer output for BERT
 *  - pooled as `pooling` says: n_embd floats, or n_tokens * n_embd for
 *  FM_POOLING_NONE, into `out` (`capacity` floats); *n_out gets the count.
 *  Decoder models keep the sequence in the KV cache afterwards (n_past =
 *  n_tokens), so generation may continue from it; encoders leave it empty.
 *  An encoder evaluates the whole sequence at once, so n_tokens must not
 *  exceed n_ctx. Errors: INVALID_ARGUMENT (NULL, no tokens, unknown pooling
 *  or flags, ids outside the vocabulary), CONTEXT_FULL (n_tokens > n_ctx),
 *  BUFFER_TOO_SMALL (*n_out says how many floats are needed), NO_MEMORY,
 *  BACKEND. On error the context is empty and usable.
 *  Thread safety: one thread per object. Since: 0.2 */
FM_API fm_status fm_context_embed(fm_context *ctx, const fm_token *tokens, size_t n_tokens,
                                  int32_t pooling, uint32_t flags, float *out,
                                  size_t capacity, size_t *n_out);

/* ---- Scoring: how likely the model finds a continuation ---- */

/** Most alternatives fm_context_score() reports per token. */
#define FM_SCORE_TOP_K_MAX 100

/** What fm_context_score() reports. Output arrays are caller-owned, may
 *  each be NULL, and have n_cont entries (top_* n_cont * top_k, row i for
 *  continuation token i, best first). */
typedef struct fm_score_params {
    uint32_t struct_size;   /* set by fm_score_params_init() */
    fm_seq_id seq;          /* the sequence that holds the prompt; 0 */
    int32_t top_k;          /* alternatives per token, 0 .. FM_SCORE_TOP_K_MAX; 0 */
    double *logprobs;       /* out: log P(cont[i] | prompt, cont[0..i)) */
    int32_t *ranks;         /* out: tokens with a strictly higher logit than
                               cont[i]: 0 = the greedy choice */
    fm_token *top_tokens;   /* out: the top_k most likely tokens (ties: lower id) */
    double *top_logprobs;   /* out: their log-probabilities */
} fm_score_params;

/** Fills `p` (pass sizeof *p) with the defaults above. Errors:
 *  INVALID_ARGUMENT. Any thread. Since: 0.7 */
FM_API fm_status fm_score_params_init(fm_score_params *p, size_t size);

/** Scores a continuation: appends the `n_prompt` prompt tokens (borrowed;
 *  0 = the prompt is what sequence params->seq already holds) and the
 *  continuation's `n_cont` tokens to the sequence in ONE batched decode,
 *  and gives each continuation token's natural-log probability under the
 *  model (log-softmax over the whole vocabulary, accumulated in double),
 *  their sum in *sum (may be NULL), the greedy rank and optionally the
 *  top-k alternatives, as `params` (NULL = defaults, only *sum) asks.
 *  Afterwards the prompt stays in the cache and the continuation does not,
 *  so the same prompt can be scored against many continuations, each
 *  costing only its own tokens (with n_prompt 0 the prompt's last token is
 *  evaluated again, since its logits are needed and may not have been
 *  kept). Temperature and sampler steps play no part: these are the
 *  model's raw probabilities.
 *  On error the sequence holds what it held before the call.
 *  Errors: INVALID_ARGUMENT (NULL, n_cont 0, nothing to condition the first
 *  token on - an empty sequence and no prompt: pass BOS -, a bad sequence
 *  id or top_k, ids outside the vocabulary), CONTEXT_FULL, UNSUPPORTED
 *  (an encoder model), NO_MEMORY, BACKEND, ABORTED.
 *  Thread safety: one thread per object. Since: 0.7 */
FM_API fm_status fm_context_score(fm_context *ctx, const fm_token *prompt, size_t n_prompt,
                                  const fm_token *cont, size_t n_cont, const fm_score_params *params,
                                  double *sum);

/* ------------------------------------------------------------------------
 * Sampler: a chain of steps that turns logits into one token id
 *
 * A chain holds steps in order. fm_sampler_sample() builds the candidate
 * set (every token with a non-NaN logit), passes it through each step -
 * a step may change logits, drop candidates or pick one - and feeds the
 * picked token back to every step (fm_sampler_accept), so that stateful
 * steps (penalties, DRY, mirostat, grammars) see what was generated.
 *
 * Constraint steps (grammars, fm_sampler_add_custom with
 * FM_STEP_CONSTRAINT) act before all other steps, in the order they were
 * added, wherever they were added. The chain first runs without them and
 * asks each constraint whether it allows the token picked; only if one
 * refuses does it rebuild the candidates, apply the constraints' full masks
 * and run the other steps again. For greedy chains the result is the one
 * the full mask gives; for random draws it is what llama.cpp does: an
 * allowed token drawn without the mask is kept, which favours such tokens
 * slightly over drawing from the masked distribution. A constraint without
 * allows() is always applied in full.
 * ------------------------------------------------------------------------ */

/** One entry of a logit bias list: logit(id) += bias (-INFINITY bans it). */
typedef struct fm_logit_bias {
    fm_token id;
    float bias;
} fm_logit_bias;

typedef struct fm_sampler_params {
    /* Every float must be finite and every field inside the range given
     * here, whether its step is on or not; fm_sampler_new() answers
     * INVALID_ARGUMENT naming the first field that is not. "off" values
     * leave their step out of the chain. */
    uint32_t struct_size; /* sizeof(fm_sampler_params) */
    uint32_t flags;       /* reserved, must be 0 */
    uint64_t seed;        /* RNG seed; the same seed and inputs give the same tokens */
    float temperature;    /* any; <= 0: greedy (argmax, lowest id on ties) */
    int32_t top_k;        /* keep the k most likely; any; <= 0: off */
    float top_p;          /* nucleus: smallest set with mass >= p; >= 0;
                             0 or >= 1: off */
    float min_p;          /* drop tokens below min_p * p(max); [0, 1]; 0: off */
    /* 0.6 */
    float typical_p;         /* locally typical sampling; > 0; >= 1: off */
    float top_n_sigma;       /* keep logits >= max - n * stddev; any; <= 0: off */
    float dynatemp_range;    /* >= 0; > 0: temperature in [t - r, t + r] by entropy */
    float dynatemp_exponent; /* > 0: shape of that mapping (1: linear) */
    float xtc_probability;   /* XTC: chance of removing the top choices; [0, 1]; 0: off */
    float xtc_threshold;     /* XTC: tokens above this probability are "top"; [0, 1] */
    int32_t penalty_last_n;  /* penalties look at this many accepted tokens;
                                [0, 2^24]; 0: off */
    float repeat_penalty;    /* divides positive, multiplies negative logits; > 0; 1: off */
    float frequency_penalty; /* minus count * this; any; 0: off */
    float presence_penalty;  /* minus this if present; any; 0: off */
    float dry_multiplier;    /* DRY strength; >= 0; 0: off */
    float dry_base;          /* DRY: penalty = multiplier * base^(len - allowed); >= 1 */
    int32_t dry_allowed_length; /* DRY: repeats up to this length are free; [1, 2^24] */
    int32_t dry_last_n;      /* DRY looks at this many accepted tokens; [0, 2^24]; 0: off */
    int32_t mirostat;        /* 0 off, 1 mirostat, 2 mirostat v2 (replaces the
                                truncation steps and the draw) */
    float mirostat_tau;      /* target surprise (bits); > 0 */
    float mirostat_eta;      /* learning rate; > 0 */
    const fm_tokenizer *tokenizer; /* borrowed, must outlive the sampler; needed
                                      only by DRY (its sequence breakers) */
    const fm_logit_bias *logit_bias; /* copied by fm_sampler_new; NULL only with
                                        n_logit_bias 0 */
    size_t n_logit_bias;
} fm_sampler_params;

/** Fills `p` (caller-owned, `size` bytes: pass sizeof *p) with the
 *  defaults: seed 0, temperature 0.8, top_k 40, top_p 0.95, min_p 0.05;
 *  typical_p 1, top_n_sigma 0, dynatemp_range 0, dynatemp_exponent 1,
 *  xtc 0 / 0.1, penalty_last_n 64, repeat 1, frequency 0, presence 0,
 *  dry 0 / 1.75 / 2 / 64, mirostat 0 / 5 / 0.1, tokenizer NULL, no logit
 *  bias: nothing
 *  beyond the 0.5 chain is on by default.
 *  Errors: INVALID_ARGUMENT. Any thread.
 *  Since: 0.5 (replaces fm_sampler_default_params) */
FM_API fm_status fm_sampler_params_init(fm_sampler_params *p, size_t size);

/** Creates the standard chain from `params` (NULL for defaults), in this
 *  order, each step only when it is on:
 *  logit bias, penalties, DRY, top-n-sigma, top-k, typical, top-p, min-p, XTC,
 *  temperature (dynamic when dynatemp_range > 0), then a seeded random draw;
 *  with mirostat 1 or 2: logit bias, penalties, DRY, temperature, mirostat;
 *  with temperature <= 0: logit bias, penalties, DRY, greedy. (llama.cpp's default order.)
 *  Owned by the caller.
 *  Errors: INVALID_ARGUMENT (a field outside the range fm_sampler_params
 *  gives - NaN or infinite floats among them -, DRY on without a
 *  tokenizer, unknown flags; the message names the field), NO_MEMORY.
 *  The struct's fields use 0 (or their neutral value) for "off", so
 *  top_p 0 is off here while fm_sampler_add(FM_STEP_TOP_P, 0) is
 *  INVALID_ARGUMENT: an explicitly added step must do something.
 *  Any thread. Since: 0.1 (every field checked since 1.1) */
FM_API fm_status fm_sampler_new(const fm_sampler_params *params, fm_sampler **out);

/** The steps that take one value, for fm_sampler_add(). */
typedef enum fm_sampler_step {
    FM_STEP_TOP_K = 0,       /* value: k (integer >= 1) */
    FM_STEP_TOP_P = 1,       /* value: p in (0, 1] */
    FM_STEP_MIN_P = 2,       /* value: ratio in [0, 1] */
    FM_STEP_TEMPERATURE = 3, /* value: t > 0 */
    FM_STEP_GREEDY = 4,      /* final: argmax; value ignored */
    FM_STEP_DIST = 5,        /* final: random draw with the chain's RNG */
    FM_STEP_TYPICAL_P = 6,   /* value: p in (0, 1] (0.6) */
    FM_STEP_TOP_N_SIGMA = 7  /* value: n > 0 (0.6) */
} fm_sampler_step;

/** Creates an empty chain whose RNG starts from `seed`; add steps with
 *  fm_sampler_add() and the fm_sampler_add_*() calls. A chain with no final
 *  step ends with a random draw. The caller owns it (fm_sampler_free).
 *  Errors: INVALID_ARGUMENT, NO_MEMORY. Any thread. Since: 0.1 */
FM_API fm_status fm_sampler_new_chain(uint64_t seed, fm_sampler **out);

/** Appends a one-value step. Errors: INVALID_ARGUMENT (unknown step or bad
 *  value), NO_MEMORY. One thread per object. Since: 0.1 */
FM_API fm_status fm_sampler_add(fm_sampler *s, fm_sampler_step step, double value);

/** Appends dynamic temperature: with H the entropy of the candidates and
 *  Hmax = log(n), t' = max(t - delta, 0) + 2 delta (H / Hmax)^exponent
 *  (t' = t when delta is 0), then logits /= t'.
 *  Errors: INVALID_ARGUMENT (t <= 0, delta < 0, exponent <= 0, NaN),
 *  NO_MEMORY. One thread per object. Since: 0.6 */
FM_API fm_status fm_sampler_add_temp_ext(fm_sampler *s, double t, double delta, double exponent);

/** Appends XTC ("exclude top choices"): with chance `probability` (the
 *  chain's RNG), if two or more candidates have p >= `threshold`, removes
 *  all of them but the least likely, unless fewer than `min_keep` would
 *  remain. Errors: INVALID_ARGUMENT (probability or threshold outside
 *  [0, 1], min_keep < 1), NO_MEMORY. One thread per object. Since: 0.6 */
FM_API fm_status fm_sampler_add_xtc(fm_sampler *s, double probability, double threshold, int32_t min_keep);

/** Appends repetition penalties over the last `last_n` accepted tokens:
 *  a token seen c > 0 times gets logit / repeat (logit > 0) or
 *  logit * repeat (logit <= 0), then minus c * frequency + presence.
 *  Errors: INVALID_ARGUMENT (last_n < 0, repeat <= 0, NaN), NO_MEMORY.
 *  One thread per object. Since: 0.6 */
FM_API fm_status fm_sampler_add_penalties(fm_sampler *s, int32_t last_n, double repeat,
                                          double frequency, double presence);

/** Appends DRY ("don't repeat yourself") over the last `last_n` accepted
 *  tokens: for each token t, L is the length of the longest suffix of the
 *  history that also occurs earlier followed by t; if L >= allowed_length,
 *  t's logit drops by multiplier * base^(L - allowed_length). A token whose
 *  text (from `tok`, borrowed for the sampler's lifetime) contains one of
 *  the `n_breakers` NUL-terminated `breakers` ends every match and is never
 *  penalised; breakers NULL with n_breakers 0 gives llama.cpp's default
 *  "\n", ":", "\"", "*". Match lengths are counted up to 1024.
 *  Errors: INVALID_ARGUMENT (tok NULL, multiplier < 0, base < 1,
 *  allowed_length < 1, last_n < 0, NaN), NO_MEMORY. One thread per object.
 *  Since: 0.6 */
FM_API fm_status fm_sampler_add_dry(fm_sampler *s, const fm_tokenizer *tok, double multiplier,
                                    double base, int32_t allowed_length, int32_t last_n,
                                    const char *const *breakers, size_t n_breakers);

/** Appends a logit bias list (copied). Ids outside the vocabulary given to
 *  a later sample call are ignored there. Errors: INVALID_ARGUMENT (NULL
 *  with n > 0, a negative id, a NaN or +INFINITY bias), NO_MEMORY.
 *  One thread per object. Since: 0.6 */
FM_API fm_status fm_sampler_add_logit_bias(fm_sampler *s, const fm_logit_bias *bias, size_t n);

/** Appends mirostat (v1, Basu et al. 2020; final: it draws): estimates the
 *  Zipf exponent from the top `m` candidates, keeps the top k that the
 *  target surprise `tau` asks for, draws, and moves its state mu by
 *  eta * (surprise - tau) when the token is accepted. mu starts at 2 tau.
 *  Errors: INVALID_ARGUMENT (tau <= 0, eta <= 0, m < 2), NO_MEMORY.
 *  One thread per object. Since: 0.6 */
FM_API fm_status fm_sampler_add_mirostat(fm_sampler *s, double tau, double eta, int32_t m);

/** Appends mirostat v2 (final): keeps candidates whose surprise -log2 p is
 *  at most mu, draws, updates mu as v1. Errors: INVALID_ARGUMENT (tau <= 0,
 *  eta <= 0), NO_MEMORY. One thread per object. Since: 0.6 */
FM_API fm_status fm_sampler_add_mirostat_v2(fm_sampler *s, double tau, double eta);

/* --- Writing a step of your own ---------------------------------------- */

/** One candidate token. */
typedef struct fm_candidate {
    fm_token id;
    float logit;
    float p; /* probability; valid only where a step says it filled it */
} fm_candidate;

/** The candidate set a step works on. The array belongs to the chain. */
typedef struct fm_candidates {
    fm_candidate *data; /* a step may reorder, change logits, or shrink size */
    int32_t size;       /* >= 1 whenever a step is called */
    int32_t sorted;     /* nonzero: data is in descending logit order (ties:
                           lower id first); a step that may break that order
                           must clear it */
    int32_t selected;   /* a final step sets the index it picked; -1 before */
    int32_t n_vocab;    /* the vocabulary size of this sample call */
} fm_candidates;

/** Flags of fm_sampler_step_iface. */
#define FM_STEP_CONSTRAINT 0x1u /* a constraint: applied first, and allows()
                                   checks a picked token (see above) */

/** A step's functions. The struct is borrowed: it must outlive every chain
 *  the step is in (a static const struct is the usual way). */
typedef struct fm_sampler_step_iface {
    uint32_t struct_size; /* sizeof(fm_sampler_step_iface) */
    uint32_t flags;       /* FM_STEP_CONSTRAINT or 0 */
    const char *name;     /* static; what fm_sampler_step_name() reports */
    /* Required. Changes `c`; may set c->selected (then it is final: the
     * chain stops there). `chain` gives fm_sampler_random(). An error status
     * (set a message with fm_last_error's conventions) fails the sample. */
    fm_status (*apply)(void *state, fm_candidates *c, fm_sampler *chain);
    /* Constraints: nonzero if `token` may come next. NULL: the chain always
     * applies the full step. */
    int (*allows)(void *state, fm_token token);
    /* Optional: `token` was accepted (picked, or fed by fm_sampler_accept). */
    void (*accept)(void *state, fm_token token);
    /* Optional: forget everything accepted (fm_sampler_reset). */
    void (*reset)(void *state);
    /* Optional: a deep copy in *out (fm_sampler_clone). NULL: the chain
     * cannot be cloned. */
    fm_status (*clone)(const void *state, void **out);
    /* Optional: frees `state` when the chain is freed. */
    void (*free)(void *state);
} fm_sampler_step_iface;

/** Appends a step of the caller's: `iface` borrowed (see above), `state`
 *  owned by the chain from now on (its free() runs with the chain's, and
 *  also here when this call fails). Errors: INVALID_ARGUMENT (NULL s or
 *  iface, no apply, struct_size too small), NO_MEMORY.
 *  One thread per object. Since: 0.6 */
FM_API fm_status fm_sampler_add_custom(fm_sampler *s, const fm_sampler_step_iface *iface, void *state);

/** A uniform double in [0, 1) from the chain's RNG, for steps that draw.
 *  One thread per object. Since: 0.6 */
FM_API double fm_sampler_random(fm_sampler *s);

/* --- Using a chain ------------------------------------------------------ */

/** Picks a token from `n_vocab` logits (borrowed, not modified) and accepts
 *  it (every step's accept() sees it).
 *  Errors: INVALID_ARGUMENT (NULL, n_vocab <= 0, every logit NaN), NO_MEMORY,
 *  and what a step returns - e.g. a constraint that allows no token
 *  (INVALID_ARGUMENT, "no token is allowed"); then nothing is accepted.
 *  One thread per object. Since: 0.1 (accepts since 0.6) */
FM_API fm_status fm_sampler_sample(fm_sampler *s, const float *logits,
                                   int32_t n_vocab, fm_token *out);

/** Runs every step that does not pick (all but greedy, dist, mirostat and
 *  custom steps that set `selected`) over `n_vocab` logits and points *out
 *  at the surviving candidates, in the chain's storage, valid until the next
 *  call on `s`. Constraints are applied in full. Accepts nothing. For
 *  showing alternatives and log-probabilities.
 *  Errors: as fm_sampler_sample. One thread per object. Since: 0.6 */
FM_API fm_status fm_sampler_apply(fm_sampler *s, const float *logits, int32_t n_vocab,
                                  const fm_candidates **out);

/** Flags for fm_sampler_accept(). */
#define FM_ACCEPT_SKIP_CONSTRAINTS 0x1u /* history only (e.g. prompt tokens for
                                           penalties): constraints do not see it */

/** Feeds `token` to every step as if it had been picked (or, with
 *  FM_ACCEPT_SKIP_CONSTRAINTS, to every step but the constraints). A
 *  constraint that does not allow the token leaves the chain unchanged and
 *  the call fails. Errors: INVALID_ARGUMENT (NULL, negative token, a token a
 *  constraint refuses). One thread per object. Since: 0.6 */
FM_API fm_status fm_sampler_accept(fm_sampler *s, fm_token token, uint32_t flags);

/** Forgets every accepted token (penalty histories, mirostat's mu, grammar
 *  state) and restarts nothing else: the RNG goes on (fm_sampler_set_seed
 *  restarts it). One thread per object. Since: 0.6 */
FM_API void fm_sampler_reset(fm_sampler *s);

/** A deep copy of `s` - steps, their state, the RNG's position - for
 *  another sequence. Errors: INVALID_ARGUMENT (NULL, or a custom step
 *  without clone()), NO_MEMORY. `s` is only read (one thread per object).
 *  Since: 0.6 */
FM_API fm_status fm_sampler_clone(const fm_sampler *s, fm_sampler **out);

/** Number of steps (0 for NULL), and the name of step `i` ("top-k",
 *  "penalties", ...; NULL when out of range). Any thread that does not
 *  change the chain. Since: 0.6 */
FM_API int32_t fm_sampler_n_steps(const fm_sampler *s);
FM_API const char *fm_sampler_step_name(const fm_sampler *s, int32_t i);

/** Restarts the RNG from `seed`. One thread per object. Since: 0.1 */
FM_API void fm_sampler_set_seed(fm_sampler *s, uint64_t seed);

/** Frees a sampler and every step's state. NULL is a no-op. One thread
 *  per object. Since: 0.1 */
FM_API void fm_sampler_free(fm_sampler *s);

/* ------------------------------------------------------------------------
 * Grammars: constrain the tokens a sampler may pick
 *
 * An fm_grammar is a compiled grammar (GBNF today; JSON Schema and regular
 * expressions compile to the same form), immutable and reference-counted:
 * share it between threads and matchers. An fm_matcher follows one output
 * through it against one tokenizer's vocabulary: which tokens may come
 * next (a bit mask), accept one, can the output end here. The grammar step
 * of a sampler chain is a matcher.
 * ------------------------------------------------------------------------ */

typedef struct fm_grammar fm_grammar;
typedef struct fm_matcher fm_matcher;

/** Compiles GBNF text (llama.cpp's grammar syntax: rules `name ::= ...`,
 *  literals with escapes, character classes with ranges and negation, `.`,
 *  groups, alternatives, `* + ? {m} {m,} {m,n} {,n}`, comments) whose start
 *  rule is `root` (NULL: "root"). `text` is borrowed; *out is owned by the
 *  caller (fm_grammar_free). Errors: INVALID_ARGUMENT with the line and
 *  column of the problem in fm_last_error() (syntax, an undefined or twice
 *  defined rule, a left-recursive rule - GBNF does not allow them - or a
 *  grammar over the size limit of 8 M symbols), NO_MEMORY.
 *  Any thread. Since: 0.6 */
FM_API fm_status fm_grammar_parse_gbnf(const char *text, size_t len, const char *root, fm_grammar **out);

/** Compiles a regular expression (the ECMAScript subset JSON Schema's
 *  `pattern` uses: alternation, groups, quantifiers, classes with ranges
 *  and negation, \d \w \s and their negations, escapes, '.') that the
 *  whole output must match. Backreferences, lookaround and word boundaries
 *  are refused. Errors: INVALID_ARGUMENT naming the offset, NO_MEMORY.
 *  Any thread. Since: 0.6 */
FM_API fm_status fm_grammar_from_regex(const char *re, size_t len, fm_grammar **out);

/** Flags for fm_grammar_from_json_schema(). */
#define FM_JSON_COMPACT 0x1u /* no whitespace between tokens (default: up to
                                20 of JSON's whitespace characters between
                                any two tokens: pretty-printing fits, and a
                                model cannot spend its budget on blanks) */

/** Compiles a JSON Schema (`len` bytes of JSON text) into a grammar of the
 *  JSON texts that validate against it: type (all seven, lists),
 *  properties / required / additionalProperties / patternProperties (one
 *  entry), items / prefixItems / additionalItems / minItems / maxItems,
 *  enum, const, anyOf, oneOf (as anyOf), allOf (merged), $ref into the same
 *  document ($defs, definitions, any pointer; recursion included),
 *  minLength / maxLength, minimum / maximum / exclusive bounds (integers
 *  exactly; numbers with integral bounds), pattern, and format date, time,
 *  date-time, uuid, email, uri, ipv4 (other formats are annotations).
 *  Properties come in the schema's order, the optional ones optional.
 *  Strings are written as Python's json.dumps writes them when a pattern,
 *  format or length applies (raw UTF-8, \" \\ and control escapes), with
 *  every JSON escape otherwise. A keyword it cannot enforce (not,
 *  uniqueItems, if/then/else, dependencies, ...) is an error naming the
 *  keyword and its JSON pointer; annotations and unknown keys are ignored.
 *  Errors: INVALID_ARGUMENT (bad JSON with line and column, a bad schema),
 *  UNSUPPORTED (an unsupported keyword), NO_MEMORY. Any thread. Since: 0.6 */
FM_API fm_status fm_grammar_from_json_schema(const char *schema, size_t len, uint32_t flags, fm_grammar **out);

/** Drops the caller's reference; the grammar goes when no matcher or
 *  sampler holds it either. NULL is a no-op. Any thread. Since: 0.6 */
FM_API void fm_grammar_free(fm_grammar *g);

/** Bytes the compiled grammar holds (not counting matchers; 0 for NULL).
 *  Any thread. Since: 0.6 */
FM_API size_t fm_grammar_bytes(const fm_grammar *g);

/** A matcher at the start of `g` (a reference is taken) for the tokens of
 *  `tok` (borrowed: it must outlive the matcher). The first matcher for a
 *  tokenizer builds its token trie (kept with the tokenizer, shared).
 *  Errors: INVALID_ARGUMENT, NO_MEMORY, UNSUPPORTED (1.1.1: the grammar's
 *  start alone exceeds the parser's limits for ambiguous grammars,
 *  docs/grammars.md). Any thread. Since: 0.6 */
FM_API fm_status fm_matcher_new(const fm_grammar *g, const fm_tokenizer *tok, fm_matcher **out);

/** Sets bit t of `mask` (n_words 32-bit words, at least (n_vocab + 31) / 32)
 *  for every token t that may come next: tokens whose bytes continue a
 *  sentence of the grammar, and the end-of-generation tokens when the
 *  output may end here. Tokens with no bytes (control tokens) that do not
 *  end generation are never allowed. Errors: INVALID_ARGUMENT (NULL, mask
 *  too small), NO_MEMORY, UNSUPPORTED (1.1.1: a grammar ambiguous enough
 *  to pass the parser's limits here, docs/grammars.md; the matcher is
 *  unchanged). One thread per object. Since: 0.6 */
FM_API fm_status fm_matcher_fill_mask(fm_matcher *m, uint32_t *mask, size_t n_words);

/** Nonzero if token `t` may come next (as its bit in the mask; cheaper than
 *  a mask). One thread per object. Since: 0.6 */
FM_API int fm_matcher_allows(fm_matcher *m, fm_token t);

/** Moves past token `t`. An end-of-generation token is accepted only where
 *  the output may end, and then the matcher is finished (nothing more is
 *  allowed). Errors: INVALID_ARGUMENT (NULL, or `t` not allowed: the
 *  matcher is unchanged), NO_MEMORY, UNSUPPORTED (1.1.1: the parser's
 *  limits for ambiguous grammars, docs/grammars.md; unchanged). One thread
 *  per object. Since: 0.6 */
FM_API fm_status fm_matcher_accept(fm_matcher *m, fm_token t);

/** Moves past `len` bytes of text (e.g. a prefix the application writes
 *  itself). Errors: as fm_matcher_accept (unchanged on error).
 *  One thread per object. Since: 0.6 */
FM_API fm_status fm_matcher_accept_text(fm_matcher *m, const char *text, size_t len);

/** Nonzero if the output so far is complete (the grammar may end here).
 *  One thread per object. Since: 0.6 */
FM_API int fm_matcher_can_end(const fm_matcher *m);

/** Back to the start of the grammar. NULL is a no-op. One thread per
 *  object. Since: 0.6 */
FM_API void fm_matcher_reset(fm_matcher *m);

/** A copy at the same point (for another sequence), owned by the caller.
 *  Errors: INVALID_ARGUMENT, NO_MEMORY. Any thread, while no thread
 *  changes `m`. Since: 0.6 */
FM_API fm_status fm_matcher_clone(const fm_matcher *m, fm_matcher **out);

/** Frees a matcher (and its grammar reference). NULL is a no-op. One
 *  thread per object. Since: 0.6 */
FM_API void fm_matcher_free(fm_matcher *m);

/** Appends a grammar constraint to a chain (a reference to `g` is taken;
 *  `tok` must outlive the chain). Like every constraint it acts before the
 *  other steps; the chain checks the token it picked first and computes
 *  the full mask only when the grammar refuses it. After the grammar's
 *  output is complete only end-of-generation tokens are allowed.
 *  Errors: INVALID_ARGUMENT, NO_MEMORY. One thread per object. Since: 0.6 */
FM_API fm_status fm_sampler_add_grammar(fm_sampler *s, const fm_grammar *g, const fm_tokenizer *tok);

/* ------------------------------------------------------------------------
 * Stop strings: cut the generated text at the first of several strings
 * ------------------------------------------------------------------------ */

typedef struct fm_stop fm_stop;

/** Creates a matcher for `n` stop strings (each `strings[i]`, NUL-terminated,
 *  non-empty, copied). Feed it the generated text as it comes (any split,
 *  e.g. one token's bytes at a time): it returns the text that is safe to
 *  show, holding back any tail that could begin a stop string, and once a
 *  stop string is complete it returns the text before it and nothing more.
 *  The stop string itself is never returned. Owned by the caller.
 *  Errors: INVALID_ARGUMENT (NULL, n 0, an empty string), NO_MEMORY.
 *  Any thread. Since: 0.6 */
FM_API fm_status fm_stop_new(const char *const *strings, size_t n, fm_stop **out);

/** Adds `len` bytes of text; *out / *n_out receive the text now safe to
 *  emit (in `s`'s storage, valid until the next call on `s`; may be empty).
 *  After a stop, feeding more gives nothing. Errors: INVALID_ARGUMENT, NO_MEMORY.
 *  One thread per object. Since: 0.6 */
FM_API fm_status fm_stop_feed(fm_stop *s, const char *text, size_t len,
                              const char **out, size_t *n_out);

/** At the end of the text (no stop found): returns what was held back.
 *  Errors: INVALID_ARGUMENT. One thread per object. Since: 0.6 */
FM_API fm_status fm_stop_flush(fm_stop *s, const char **out, size_t *n_out);

/** Index of the stop string that matched, or -1 (none yet, or NULL).
 *  One thread per object. Since: 0.6 */
FM_API int32_t fm_stop_matched(const fm_stop *s);

/** Starts over with the same strings (nothing held, no match). NULL is a
 *  no-op. One thread per object. Since: 0.6 */
FM_API void fm_stop_reset(fm_stop *s);

/** Frees a stop-string matcher. NULL is a no-op. One thread per object.
 *  Since: 0.6 */
FM_API void fm_stop_free(fm_stop *s);

/* ------------------------------------------------------------------------
 * Chat templates: a conversation laid out as the model was trained on it
 * ------------------------------------------------------------------------
 * A chat template is Jinja text (a GGUF's `tokenizer.chat_template`, the one
 * Hugging Face's apply_chat_template runs). libfm renders it with its own
 * sandboxed interpreter of the Jinja subset chat templates use, configured
 * as transformers configures Jinja (trim_blocks, lstrip_blocks, loop
 * controls, an immutable sandbox, tojson as json.dumps), so the prompt is
 * byte for byte the one transformers would build. Templates cannot read
 * files or other templates; output size, loop iterations, call depth and
 * memory are bounded. docs/chat.md lists the features and the known gaps. */

typedef struct fm_chat_template fm_chat_template;

/** Compiles template text (`len` bytes, UTF-8). The template is parsed
 *  once; rendering it many times is cheap. Owned by the caller
 *  (fm_chat_template_free). Errors: INVALID_ARGUMENT (NULL, or a syntax
 *  error: the message gives "line L, column C" and what was wrong, e.g.
 *  an unclosed block or an unknown filter), INVALID_UTF8, NO_MEMORY.
 *  Thread safety: any thread. Since: 0.7 */
FM_API fm_status fm_chat_template_new(const char *text, size_t len, fm_chat_template **out);

/** A built-in template by name, for models whose file has none: "chatml",
 *  "llama2", "llama3", "mistral", "phi3", "gemma", "zephyr", "vicuna"
 *  (fm_chat_template_builtin_name() lists them). Errors: INVALID_ARGUMENT,
 *  NOT_FOUND (no such name), NO_MEMORY. Any thread. Since: 0.7 */
FM_API fm_status fm_chat_template_builtin(const char *name, fm_chat_template **out);

/** The name of built-in template number `i`, or NULL past the last one.
 *  Static string. Any thread. Since: 0.7 */
FM_API const char *fm_chat_template_builtin_name(size_t i);

/** The model's own template (metadata `tokenizer.chat_template`), compiled.
 *  Errors: INVALID_ARGUMENT, NOT_FOUND (the file has none: pick a built-in),
 *  and those of fm_chat_template_new(). Any thread. Since: 0.7 */
FM_API fm_status fm_chat_template_from_model(const fm_model *model, fm_chat_template **out);

/** Frees a template. NULL is a no-op. Not while another thread renders
 *  it. Since: 0.7 */
FM_API void fm_chat_template_free(fm_chat_template *t);

/** One message of a conversation. Strings are UTF-8, NUL-terminated and
 *  borrowed for the duration of the call. */
typedef struct fm_chat_message {
    const char *role;         /* "system", "user", "assistant", "tool", ... */
    const char *content;      /* NULL renders as none (e.g. an assistant turn
                                 that only calls tools) */
    const char *tool_calls;   /* JSON array text (OpenAI's form:
                                 [{"type": "function", "function": {"name": ...,
                                 "arguments": ...}}]) or NULL */
    const char *tool_call_id; /* a tool result's id, or NULL */
    const char *name;         /* a tool result's tool name, or NULL */
    const char *extra;        /* JSON object text whose members join the
                                 message (e.g. {"reasoning_content": "..."}),
                                 or NULL */
} fm_chat_message;

typedef struct fm_chat_params {
    uint32_t struct_size;      /* set by fm_chat_params_init() */
    int32_t add_generation_prompt; /* nonzero: end with the assistant's header */
    const char *bos_token;     /* the template's `bos_token`; NULL = "" */
    const char *eos_token;     /* the template's `eos_token`; NULL = "" */
    const char *tools;         /* JSON array text of tool definitions; NULL =
                                  `tools` is undefined */
    const char *variables;     /* JSON object text of further variables (e.g.
                                  {"enable_thinking": false}); NULL = none */
    int64_t now;               /* strftime_now's clock, seconds since the
                                  epoch, UTC; 0 = the current time */
    uint64_t max_output;       /* bytes the output may reach; 0 = 16 MiB */
    uint64_t max_steps;        /* loop iterations plus macro calls; 0 = 1,000,000 */
} fm_chat_params;

/** Fills `p` (pass sizeof *p) with the defaults: no generation prompt, no
 *  special tokens, no tools or variables, the current time, the default
 *  limits. Errors: INVALID_ARGUMENT. Any thread. Since: 0.7 */
FM_API fm_status fm_chat_params_init(fm_chat_params *p, size_t size);

/** Renders `t` for `n_messages` messages (`messages` may be NULL when n is
 *  0) with `params` (NULL = defaults), writing the text to `buf` (not
 *  NUL-terminated) and its length to *n_bytes. If `capacity` is too small
 *  nothing is written, *n_bytes receives the length needed and the call
 *  returns BUFFER_TOO_SMALL (pass buf NULL, capacity 0 to ask).
 *  Errors: INVALID_ARGUMENT (NULL, a message without a role, bad JSON in a
 *  field: the message names it; or the template failed: "line L, column
 *  C: ..." with Jinja's message, e.g. raise_exception's text, "'x' is
 *  undefined", a TypeError), INVALID_UTF8, BUFFER_TOO_SMALL, NO_MEMORY.
 *  Thread safety: any thread (a template may be rendered by many threads
 *  at once). Since: 0.7 */
FM_API fm_status fm_chat_render(const fm_chat_template *t, const fm_chat_message *messages,
                                size_t n_messages, const fm_chat_params *params,
                                char *buf, size_t capacity, size_t *n_bytes);

/** fm_chat_render() with the conversation as JSON text: an array of
 *  message objects as Hugging Face passes them ({"role": ..., "content":
 *  ..., "tool_calls": [...], ...}; any members, kept in their order).
 *  Errors: INVALID_ARGUMENT (also JSON that is not an array of objects
 *  with a "role"), and the others of fm_chat_render(); thread safety as
 *  fm_chat_render(). Since: 0.7 */
FM_API fm_status fm_chat_render_json(const fm_chat_template *t, const char *messages_json,
                                     size_t len, const fm_chat_params *params,
                                     char *buf, size_t capacity, size_t *n_bytes);

#ifdef __cplusplus
}
#endif

#endif /* FM_H */
