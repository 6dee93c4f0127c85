/* ondo.h: the C API of ondo, an offline LLM inference runtime for small devices.

  Conventions (after leveldb's c.h):
  - Plain C (C99 and later, or C++). Every type is a plain C type or an opaque handle.
  - Objects come in create/free pairs: ondo_model_load / ondo_model_free,
    ondo_session_create / ondo_session_free. The free functions accept NULL.
  - Fallible functions return an ondo_status; ONDO_OK (0) is success. Results are written
    through out-parameters, which are left untouched (or set to NULL for handles) on error.
  - On error, ondo_last_error() returns a one-line message describing the last failure on the
    calling thread. It stays valid until the next ondo_* call on that thread.
  - Nothing in the library prints, exits, aborts on bad input, or lets a C++ exception out;
    an allocation failure is reported as ONDO_OUT_OF_MEMORY.
  - Strings are UTF-8. Input strings are NUL-terminated unless a length is passed with them.
  - Threads: a model is read-only once loaded and may be shared by sessions on any thread.
    A session must be used by one thread at a time. A model must outlive its sessions.
  - Struct parameters are initialised with their *_default() function, then changed field by
    field, so that code keeps compiling when fields are added.
*/
#ifndef ONDO_H_
#define ONDO_H_

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  if defined(ONDO_BUILDING_LIBRARY)
#    define ONDO_EXPORT __declspec(dllexport)
#  else
#    define ONDO_EXPORT
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define ONDO_EXPORT __attribute__((visibility("default")))
#else
#  define ONDO_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Status ------------------------------------------------------------------------- */

/* Mirrors ondo::StatusCode. */
typedef enum ondo_status {
  ONDO_OK = 0,
  ONDO_INVALID_ARGUMENT = 1, /* unusable argument: NULL handle, bad UTF-8, bad parameter */
  ONDO_NOT_FOUND = 2,        /* a file or a key is missing */
  ONDO_CORRUPT = 3,          /* a file is malformed, truncated or inconsistent */
  ONDO_UNSUPPORTED = 4,      /* well-formed but not handled (type, architecture, template) */
  ONDO_OUT_OF_MEMORY = 5,    /* an allocation or a memory budget cannot be satisfied */
  ONDO_IO_ERROR = 6,         /* the operating system refused (open, mmap, read) */
  ONDO_OUT_OF_RANGE = 7,     /* e.g. the prompt does not fit in the context */
  ONDO_INTERNAL = 8          /* a bug in ondo */
} ondo_status;

/* "ok", "invalid argument", ...; never NULL. */
ONDO_EXPORT const char* ondo_status_string(ondo_status status);

/* Message of the last failed call on this thread ("" if none). Never NULL. */
ONDO_EXPORT const char* ondo_last_error(void);

/* The library version, "MAJOR.MINOR.PATCH". */
ONDO_EXPORT const char* ondo_version(void);

/* ---- Model -------------------------------------------------------------------------- */

typedef struct ondo_model ondo_model;

/* Maps a GGUF file (weights are used in place, not copied) and builds its tokenizer. */
ONDO_EXPORT ondo_status ondo_model_load(const char* path, ondo_model** out);
ONDO_EXPORT void ondo_model_free(ondo_model* model);

/* Vocabulary size; 0 for NULL. */
ONDO_EXPORT int32_t ondo_model_n_vocab(const ondo_model* model);

/* Tokenizes `text_len` bytes of UTF-8 `text` into ids[0 .. *n_ids).
   add_special: add BOS/EOS as the vocabulary says (GGUF add_bos/add_eos).
   parse_special: control and user-defined token text in `text` (e.g. "<|im_end|>") becomes
   its id. *n_ids always receives the number of ids the text needs; when it exceeds
   `capacity`, nothing is written to `ids` and ONDO_OUT_OF_RANGE is returned, so calling with
   capacity 0 (ids may be NULL) asks for the size. */
ONDO_EXPORT ondo_status ondo_tokenize(const ondo_model* model, const char* text, size_t text_len,
                                      int add_special, int parse_special, int32_t* ids,
                                      size_t capacity, size_t* n_ids);

/* ---- Session ------------------------------------------------------------------------ */

typedef struct ondo_session ondo_session;

/* Element type of the KV cache. */
typedef enum ondo_kv_type {
  ONDO_KV_F16 = 0,  /* 16-bit floats (default) */
  ONDO_KV_Q8_0 = 1, /* llama.cpp's q8_0: 32 int8 and one f16 scale per 34 bytes, about half
                       the f16 cache; the model's head_dim must be a multiple of 32
                       (ONDO_INVALID_ARGUMENT otherwise) */
  ONDO_KV_MAX_ENUM_ = 0x7fffffff /* not a value: keeps the enum int-sized */
} ondo_kv_type;

typedef struct ondo_session_params {
  int32_t n_ctx;         /* context (KV cache) in tokens; 0 = min(training context, 4096) */
  int32_t n_threads;     /* worker threads; 0 = the usable cores (big cores only on big.LITTLE) */
  uint64_t budget_bytes; /* memory the session may use: resident weights + KV cache + scratch.
                            0 (default) = the cgroup memory limit if one is set, else physical
                            RAM, minus a margin of 64 MiB + 5%; UINT64_MAX = no limit in effect.
                            When the weights do not fit, the first layers that do stay resident
                            and the others are streamed from the file every token into two
                            buffers of one layer (counted in the plan). Creation fails with
                            ONDO_OUT_OF_MEMORY, before allocating, when even that exceeds it;
                            ondo_last_error() names every figure. The rest of the calling
                            process's memory is not counted. */
  ondo_kv_type kv_type;  /* KV cache element type; default ONDO_KV_F16 */
} ondo_session_params;

ONDO_EXPORT ondo_session_params ondo_session_params_default(void);

/* Allocates the KV cache and every buffer generation needs. `params` may be NULL (defaults). */
ONDO_EXPORT ondo_status ondo_session_create(const ondo_model* model,
                                            const ondo_session_params* params,
                                            ondo_session** out);
ONDO_EXPORT void ondo_session_free(ondo_session* session);

/* The context size in tokens; 0 for NULL. */
ONDO_EXPORT int32_t ondo_session_n_ctx(const ondo_session* session);

/* ---- Generation --------------------------------------------------------------------- */

/* Script guard: tokens that would add characters outside the allowed scripts are never
   sampled (whitespace is always allowed). */
typedef enum ondo_script {
  ONDO_SCRIPT_AUTO = 0,    /* ONDO_SCRIPT_KO when a chat template is applied, else none */
  ONDO_SCRIPT_NONE = 1,    /* no restriction */
  ONDO_SCRIPT_KO = 2,      /* Hangul, Latin, digits, common punctuation */
  ONDO_SCRIPT_KO_HANJA = 3, /* the same and CJK ideographs */
  ONDO_SCRIPT_MAX_ENUM_ = 0x7fffffff /* not a value: keeps the enum int-sized in C and C++ */
} ondo_script;

/* What generation does when the context (KV cache) is full. */
typedef enum ondo_ctx_full {
  ONDO_CTX_FULL_STOP = 0,  /* end with ONDO_FINISH_CONTEXT; a prompt longer than the context
                              is ONDO_OUT_OF_RANGE */
  ONDO_CTX_FULL_SLIDE = 1, /* keep the first `keep` tokens, drop half of the rest (their keys
                              re-rotated to the new positions, nothing allocated) and go on;
                              a longer prompt is processed in pieces the same way */
  ONDO_CTX_FULL_MAX_ENUM_ = 0x7fffffff /* not a value: keeps the enum int-sized */
} ondo_ctx_full;

typedef struct ondo_generate_params {
  int32_t max_tokens;    /* default 256; < 0: until end-of-generation or a full context
                            (with ONDO_CTX_FULL_SLIDE: until end-of-generation) */
  float temperature;     /* default 0.8; <= 0: greedy */
  int32_t top_k;         /* default 40; <= 0: off */
  float top_p;           /* default 0.95; 1: off */
  float min_p;           /* default 0.05; 0: off */
  float repeat_penalty;  /* default 1.0 (off) */
  uint64_t seed;         /* default 0; the same seed gives the same tokens */
  int chat;              /* 1: apply the model's chat template; ONDO_UNSUPPORTED if it has none */
  int raw;               /* 1: no chat template. chat = raw = 0 (default): the template when
                            the model has one, else the prompt as it is */
  const char* system;    /* system message for the chat template, or NULL */
  ondo_script script;    /* script guard; default ONDO_SCRIPT_AUTO */
  int loop_stop;         /* 1: end with ONDO_FINISH_LOOP when the output repeats itself; 0: off;
                            -1 (default): on when a chat template is applied, off otherwise */
  int post;              /* Korean post-processor on the generated text (punctuation, repeated
                            sentences/eojeols, character floods, particle allomorphs such as
                            사과을 -> 사과를): 1 on, 0 off, -1 (default) on when a chat template
                            is applied, off otherwise (raw prompts are unchanged). When on, the
                            callback receives the processed text sentence by sentence (so many
                            calls carry 0 bytes) and the rest in the final token_id -1 call. */
  ondo_ctx_full ctx_full; /* when the context is full; default ONDO_CTX_FULL_STOP */
  int32_t keep;          /* ONDO_CTX_FULL_SLIDE: tokens at the start of the context (the
                            prompt's first ones, BOS included) that are never dropped;
                            0 <= keep < n_ctx; default 0 */
  int spacing;           /* with the post-processor on: restore Korean word spacing first
                            (밥먹었어 -> 밥 먹었어, 학 교에 -> 학교에): 1 on, 0 off, -1 (default)
                            auto, on only when the held-out measurement met its targets, which
                            it does not yet (so off; tokenizer/korean/post/README.md) */
} ondo_generate_params;

ONDO_EXPORT ondo_generate_params ondo_generate_params_default(void);

/* Receives the text each generated token completes (`len` bytes, possibly 0 while a UTF-8
   character is incomplete, or while the post-processor holds back an unfinished sentence;
   not NUL-terminated; valid only during the call) and the token id. A final call with
   token_id -1 may deliver left-over text at the end. Return 0 to stop. */
typedef int (*ondo_token_callback)(const char* text, size_t len, int32_t token_id,
                                   void* user_data);

typedef enum ondo_finish_reason {
  ONDO_FINISH_STOP = 0,      /* an end-of-generation token was produced */
  ONDO_FINISH_LENGTH = 1,    /* max_tokens reached */
  ONDO_FINISH_CONTEXT = 2,   /* the context is full */
  ONDO_FINISH_CANCELLED = 3, /* the callback returned 0 */
  ONDO_FINISH_LOOP = 4       /* the output started repeating itself */
} ondo_finish_reason;

/* Figures of the last successful ondo_generate on a session. */
typedef struct ondo_generate_stats {
  ondo_finish_reason finish_reason;
  int32_t n_prompt_tokens;
  int32_t n_generated_tokens; /* including a final end-of-generation token */
  double prompt_tok_s;        /* prefill speed */
  double decode_tok_s;        /* decode speed (tokens after the first) */
} ondo_generate_stats;

/* Generates a reply to `prompt` (UTF-8, NUL-terminated). Each call starts from an empty
   context. `params` may be NULL (defaults); `cb` may be NULL. The prompt is tokenized as
   llama.cpp does: BOS when the vocabulary says add_bos, special tokens in the text parsed.
   ONDO_OUT_OF_RANGE when the prompt does not fit in the context. */
ONDO_EXPORT ondo_status ondo_generate(ondo_session* session, const char* prompt,
                                      const ondo_generate_params* params, ondo_token_callback cb,
                                      void* user_data);

/* Copies the figures of the last successful ondo_generate into *out. */
ONDO_EXPORT ondo_status ondo_session_last_stats(const ondo_session* session,
                                                ondo_generate_stats* out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ONDO_H_ */
